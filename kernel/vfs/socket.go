package vfs

import "golang.org/x/sys/unix"

// SocketNode is a socket inode: the name bind(2) gives an AF_UNIX socket
// in a file system. It refers to the socket bound to it (an opaque value
// of the socket family) until that socket is closed; the name outlives
// it, as on Linux, until unlinked.
type SocketNode interface {
	Node
	// Socket returns the bound socket, nil once it was closed (or for a
	// node mknod made).
	Socket() any
	// Unbind forgets sock if it is the one bound (its last close).
	Unbind(sock any)
}

// SocketMaker is implemented by directories that can hold socket inodes
// (memfs). File systems without it (hostfs: a host socket file is never
// made) refuse bind with EPERM.
type SocketMaker interface {
	MakeSocket(name string, mode, uid, gid uint32, sock any) (SocketNode, error)
}

// BindSocketAt makes a socket inode at path for sock (nil: an unbound
// node, mknod S_IFSOCK), with mode (the umask applied) and owned by the
// caller's fs ids. An existing name (even a dangling symlink) gives
// EEXIST, which bind reports as EADDRINUSE; the other checks are those of
// creating a file.
func (v *VFS) BindSocketAt(at Loc, path string, mode uint32, sock any) (SocketNode, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.newEntry(at, path)
	if err != nil {
		return nil, err
	}
	mk, ok := res.parent().dir.(SocketMaker)
	if !ok {
		return nil, unix.EPERM
	}
	n, err := mk.MakeSocket(res.name, unix.S_IFSOCK|mode&0o7777, res.cred.FSUID, res.cred.FSGID, sock)
	return n, toErrno(err)
}

// SocketAt resolves path (following symlinks) to the socket bound there,
// as connect(2) and sendto(2) do on AF_UNIX: the caller needs write
// permission on the node (EACCES); a node that is not a socket inode, or
// whose socket was closed, gives ECONNREFUSED.
func (v *VFS) SocketAt(at Loc, path string) (any, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: true, cred: v.credOf(at)})
	if err != nil {
		return nil, err
	}
	if err := checkNode(res.cred, res.node, mayWrite); err != nil {
		return nil, err
	}
	sn, ok := res.node.(SocketNode)
	if !ok {
		return nil, unix.ECONNREFUSED
	}
	s := sn.Socket()
	if s == nil {
		return nil, unix.ECONNREFUSED
	}
	return s, nil
}

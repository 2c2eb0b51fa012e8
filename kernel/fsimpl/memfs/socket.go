package memfs

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Socket is a socket inode: the name a bound AF_UNIX socket has in the
// file system. It refers to the socket (the family's endpoint) until that
// is closed; opening it gives ENXIO (the VFS: it has no Open).
type Socket struct {
	inode
	sock any // guarded by inode.mu
}

// MakeSocket makes a socket inode for sock (vfs.SocketMaker); mode
// carries S_IFSOCK and the permission bits.
func (d *Dir) MakeSocket(name string, mode, uid, gid uint32, sock any) (vfs.SocketNode, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	s := &Socket{sock: sock}
	if err := d.fs.initInode(&s.inode, unix.S_IFSOCK, mode, 0, uid, gid); err != nil {
		return nil, err
	}
	if err := d.addNew(name, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Stat returns the socket inode's metadata (size 0).
func (s *Socket) Stat() (vfs.Stat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statLocked(), nil
}

// Socket returns the bound socket, nil once it was closed.
func (s *Socket) Socket() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sock
}

// Unbind forgets sock if it is the one bound.
func (s *Socket) Unbind(sock any) {
	s.mu.Lock()
	if s.sock == sock {
		s.sock = nil
	}
	s.mu.Unlock()
}

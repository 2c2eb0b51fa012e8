package vfs

import "golang.org/x/sys/unix"

// MknodAt makes a FIFO at path (mknodat with S_IFIFO; the caller refuses
// device nodes, which need a privilege the guest never has). mode carries
// S_IFIFO and the permission bits, the umask already applied. A file
// system that cannot hold FIFOs (hostfs: a host FIFO is not served) gives
// EPERM, as Linux for one without mknod.
func (v *VFS) MknodAt(at Loc, path string, mode uint32) error {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.newEntry(at, path)
	if err != nil {
		return err
	}
	mk, ok := res.parent().dir.(Mknoder)
	if !ok {
		return unix.EPERM
	}
	if err := mk.Mknod(res.name, unix.S_IFIFO|mode&0o7777); err != nil {
		return toErrno(err)
	}
	v.notifyCreated(res.parent(), res.name, false)
	return nil
}

// newEntry resolves the parent directory of a non-directory path is to
// create (a FIFO, a symlink) and checks that it may be made there: EEXIST
// when the name exists (also "/", "." and ".."), ENOENT for a trailing
// slash (it would name a directory that is not there), and mayCreate's
// checks. The caller holds ns for reading.
func (v *VFS) newEntry(at Loc, path string) (*walkResult, error) {
	res, err := v.mutateWalk(at, path, false)
	if err != nil {
		return nil, err
	}
	if res.node != nil {
		return nil, unix.EEXIST
	}
	if res.slash {
		return nil, unix.ENOENT
	}
	if err := v.mayCreate(res.cred, res.parent()); err != nil {
		return nil, err
	}
	return res, nil
}

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
	res, err := v.mutateWalk(at, path, false)
	if err != nil {
		return err
	}
	if res.node != nil {
		return unix.EEXIST // also "/", "." and ".."
	}
	if res.slash {
		return unix.ENOENT // "fifo/" names a directory that is not there
	}
	if err := v.mayCreate(res.parent()); err != nil {
		return err
	}
	mk, ok := res.parent().dir.(Mknoder)
	if !ok {
		return unix.EPERM
	}
	return toErrno(mk.Mknod(res.name, unix.S_IFIFO|mode&0o7777))
}

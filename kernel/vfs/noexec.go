package vfs

// NoExecer is implemented by file systems mounted noexec (a bind or tmpfs
// mount an OCI spec asks that of): nothing on them may be executed
// (execve: EACCES) or mapped executable (mmap PROT_EXEC: EPERM; mprotect
// adding it: EACCES), as Linux's MNT_NOEXEC.
type NoExecer interface {
	NoExec() bool
}

// NoExec reports whether d is on a noexec mount.
func (d *Dentry) NoExec() bool {
	ne, ok := d.mnt.fs.(NoExecer)
	return ok && ne.NoExec()
}

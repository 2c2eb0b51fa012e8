package vfs

import "golang.org/x/sys/unix"

// Access mode bits as used by access(2) and the permission checks.
const (
	mayExec  = unix.X_OK
	mayWrite = unix.W_OK
	mayRead  = unix.R_OK
)

// Cred is the identity permission checks are made against.
type Cred struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
}

// GuestCred is the identity of every guest process.
var GuestCred = Cred{UID: GuestUID, GID: GuestGID}

func (c *Cred) inGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// permitted applies the classic owner/group/other rule: exactly one class
// of bits is consulted, so an owner without a bit is refused even if
// "other" has it. There is no superuser override because the guest never
// runs as root.
func (c *Cred) permitted(st *Stat, want uint32) bool {
	var bits uint32
	switch {
	case st.Uid == c.UID:
		bits = st.Mode >> 6
	case c.inGroup(st.Gid):
		bits = st.Mode >> 3
	default:
		bits = st.Mode
	}
	return bits&want&7 == want&7
}

// check returns EACCES unless cred may access st with want (mayRead etc.).
func (c *Cred) check(st *Stat, want uint32) error {
	if c.permitted(st, want) {
		return nil
	}
	return unix.EACCES
}

// checkNode stats n and checks want.
func (c *Cred) checkNode(n Node, want uint32) error {
	st, err := n.Stat()
	if err != nil {
		return toErrno(err)
	}
	return c.check(&st, want)
}

// owns reports whether cred owns the file (needed for chmod, explicit
// utimes and deletion in sticky directories).
func (c *Cred) owns(st *Stat) bool { return st.Uid == c.UID }

// checkSticky enforces the sticky-directory rule (e.g. /tmp): in a
// directory with S_ISVTX only the owner of the entry or of the directory
// may remove or rename it.
func (c *Cred) checkSticky(dir, victim *Stat) error {
	if dir.Mode&unix.S_ISVTX == 0 || c.owns(dir) || c.owns(victim) {
		return nil
	}
	return unix.EPERM
}

// roExempt reports whether a node may be written even on a read-only
// mount: as in Linux, device nodes, FIFOs and sockets are not data of the
// file system, so EROFS only applies to regular files, dirs and symlinks.
func roExempt(st *Stat) bool {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
		return false
	}
	return true
}

package vfs

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
)

// Access mode bits as used by access(2) and the permission checks.
const (
	mayExec  = unix.X_OK
	mayWrite = unix.W_OK
	mayRead  = unix.R_OK
)

// Cred is the identity permission checks are made against: a process's
// credentials (kernel/cred), of which the checks use the fs uid and gid,
// the supplementary groups and the effective capabilities, as Linux's.
type Cred = cred.Creds

// GuestCred is the identity of the default guest user (GuestUID:GuestGID,
// no supplementary groups, no capabilities): what walks without a caller's
// credentials check with unless SetCred says otherwise.
var GuestCred = cred.New(GuestUID, GuestGID, nil)

// SetCred sets the credentials of walks whose Loc carries none (the
// path-only methods, and the sandbox resolving a program for the guest).
// Call it before the VFS is shared.
func (v *VFS) SetCred(c *Cred) { v.cred = c }

// credOf is the identity a walk from at is made for.
func (v *VFS) credOf(at Loc) *Cred {
	if at.Cred != nil {
		return at.Cred
	}
	return v.cred
}

// permitted is Linux's generic_permission: exactly one class of bits is
// consulted (owner by fs uid, group by fs gid or a supplementary group,
// other), so an owner without a bit is refused even if "other" has it;
// then the capabilities override: CAP_DAC_READ_SEARCH reads any file and
// searches or reads any directory, CAP_DAC_OVERRIDE does anything to a
// directory and anything but execute a file no one may execute.
//
// A host file (Stat.Host) is checked as the host would check a stranger:
// a host id never matches a guest one and no capability applies (see
// Stat.Host).
func permitted(c *Cred, st *Stat, want uint32) bool {
	want &= 7
	var bits uint32
	switch {
	case isOwner(c, st):
		bits = st.Mode >> 6
	case st.HostIDs&HostGID == 0 && c.InGroup(st.Gid):
		bits = st.Mode >> 3
	default:
		bits = st.Mode
	}
	if bits&want == want {
		return true
	}
	if st.Host {
		return false
	}
	if st.IsDir() {
		if want&mayWrite == 0 && c.Capable(cred.CapDacReadSearch) {
			return true
		}
		return c.Capable(cred.CapDacOverride)
	}
	if want == mayRead && c.Capable(cred.CapDacReadSearch) {
		return true
	}
	return (want&mayExec == 0 || st.Mode&0o111 != 0) && c.Capable(cred.CapDacOverride)
}

// check returns EACCES unless c may access st with want (mayRead etc.).
func check(c *Cred, st *Stat, want uint32) error {
	if permitted(c, st, want) {
		return nil
	}
	return unix.EACCES
}

// checkNode stats n and checks want.
func checkNode(c *Cred, n Node, want uint32) error {
	st, err := n.Stat()
	if err != nil {
		return toErrno(err)
	}
	return check(c, &st, want)
}

// owns is Linux's inode_owner_or_capable: the fs uid owns the file, or
// CAP_FOWNER stands in (chmod, explicit utimes, sticky directories, hard
// links to others' files).
func owns(c *Cred, st *Stat) bool { return isOwner(c, st) || !st.Host && c.Capable(cred.CapFowner) }

// isOwner reports whether c's fs uid owns the file (a host uid is no
// guest's).
func isOwner(c *Cred, st *Stat) bool { return st.Uid == c.FSUID && st.HostIDs&HostUID == 0 }

// inGroupOrCapable is Linux's in_group_or_capable: whether set-group-ID
// may stay on a file of group gid that c changes.
func inGroupOrCapable(c *Cred, st *Stat) bool {
	return st.HostIDs&HostGID == 0 && c.InGroup(st.Gid) || !st.Host && c.Capable(cred.CapFsetid)
}

// checkSticky enforces the sticky-directory rule (e.g. /tmp): in a
// directory with S_ISVTX only the owner of the entry or of the directory
// (or CAP_FOWNER) may remove or rename it.
func checkSticky(c *Cred, dir, victim *Stat) error {
	if dir.Mode&unix.S_ISVTX == 0 || isOwner(c, dir) || owns(c, victim) {
		return nil
	}
	return unix.EPERM
}

// OwnedCreator is implemented by directories whose new entries belong to
// their creator: the VFS passes the caller's fs uid and gid (a
// set-group-ID directory's group still wins, as on Linux). Directories
// without it (hostfs: host files keep the host user) use Create, Mkdir
// and Symlink.
type OwnedCreator interface {
	CreateOwned(name string, mode, uid, gid uint32) (Node, error)
	MkdirOwned(name string, mode, uid, gid uint32) error
	SymlinkOwned(target, name string, uid, gid uint32) error
}

// Chowner is implemented by nodes whose owner can change (chown); an id
// of cred.NoID is left as it is.
type Chowner interface {
	Chown(uid, gid uint32) error
}

func createIn(c *Cred, dir DirNode, name string, mode uint32) (Node, error) {
	if oc, ok := dir.(OwnedCreator); ok {
		return oc.CreateOwned(name, mode, c.FSUID, c.FSGID)
	}
	return dir.Create(name, mode)
}

func mkdirIn(c *Cred, dir DirNode, name string, mode uint32) error {
	if oc, ok := dir.(OwnedCreator); ok {
		return oc.MkdirOwned(name, mode, c.FSUID, c.FSGID)
	}
	return dir.Mkdir(name, mode)
}

func symlinkIn(c *Cred, dir DirNode, target, name string) error {
	if oc, ok := dir.(OwnedCreator); ok {
		return oc.SymlinkOwned(target, name, c.FSUID, c.FSGID)
	}
	return dir.Symlink(target, name)
}

// mayChown is Linux's chown_ok and chgrp_ok: the owner may "change" the
// owner to itself and the group to one it is in; CAP_CHOWN may do
// anything. uid or gid cred.NoID is no change.
func mayChown(c *Cred, st *Stat, uid, gid uint32) bool {
	if !st.Host && c.Capable(cred.CapChown) {
		return true
	}
	if uid != cred.NoID && (!isOwner(c, st) || uid != st.Uid) {
		return false
	}
	return gid == cred.NoID || isOwner(c, st) && (gid == st.Gid || c.InGroup(gid))
}

// chownMode is the mode a chown leaves a file with: as Linux, a
// non-directory loses set-user-ID, and set-group-ID when it is
// group-executable or the caller could not have set it.
func chownMode(c *Cred, st *Stat) uint32 {
	mode := st.Mode & 0o7777
	if st.IsDir() {
		return mode
	}
	mode &^= unix.S_ISUID
	if mode&unix.S_ISGID != 0 && (mode&0o010 != 0 || !inGroupOrCapable(c, st)) {
		mode &^= unix.S_ISGID
	}
	return mode
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

// ChownAt changes the owner and group of path as chown(2) does (an id of
// cred.NoID is left as it is): EROFS on a read-only mount, EPERM unless
// the caller may (mayChown); a non-directory loses set-user-ID and
// perhaps set-group-ID (chownMode). A node that cannot change owners
// (hostfs: a host file keeps its host owner) accepts only a change to
// the ids it has (EPERM otherwise).
func (v *VFS) ChownAt(at Loc, path string, uid, gid uint32, follow bool) error {
	return v.onNode(at, path, follow, chownEvent(uid, gid), func(c *Cred, n Node, m *mount) error { return chown(c, n, m, uid, gid) })
}

// ChownDentry is ChownAt for the node d names, for c (fchown).
func (v *VFS) ChownDentry(c *Cred, d *Dentry, uid, gid uint32) error {
	return v.dentryAttr(d, chownEvent(uid, gid), chown(c, d.Node(), d.mnt, uid, gid))
}

// chownEvent is the event of a chown: IN_ATTRIB when it names an id.
func chownEvent(uid, gid uint32) uint32 {
	if uid == cred.NoID && gid == cred.NoID {
		return 0
	}
	return unix.IN_ATTRIB
}

func chown(c *Cred, n Node, m *mount, uid, gid uint32) error {
	sa, st, err := setAttrTarget(n, m)
	if err != nil {
		return err
	}
	if !mayChown(c, &st, uid, gid) {
		return unix.EPERM
	}
	if uid == st.Uid {
		uid = cred.NoID
	}
	if gid == st.Gid {
		gid = cred.NoID
	}
	if uid != cred.NoID || gid != cred.NoID {
		ch, ok := n.(Chowner)
		if !ok {
			return unix.EPERM
		}
		if err := ch.Chown(uid, gid); err != nil {
			return toErrno(err)
		}
	}
	if mode := chownMode(c, &st); mode != st.Mode&0o7777 {
		return toErrno(sa.Chmod(mode))
	}
	return nil
}

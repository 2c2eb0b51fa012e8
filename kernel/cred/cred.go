// Package cred is the kernel's credential model: a process's real,
// effective, saved and file-system user and group ids, its supplementary
// groups and its capability sets, with Linux's rules for changing them
// (setuid(2) and its family, setgroups(2), execve(2)) and for checking
// them (capabilities; the file permission checks are in kernel/vfs).
//
// A Creds value is immutable once it is shared, as Linux's struct cred:
// every change makes a new one, which the process then publishes as a
// whole. Readers (every path walk) therefore load one pointer and never
// lock or allocate.
//
// The ids are the guest's own: nothing here is ever a host id, and no
// capability here is ever a host capability. A guest "root" (euid 0, full
// capabilities) is root only to this kernel's checks. The id space is
// that of Linux's initial user namespace: every 32-bit value but
// (uid_t)-1 is a valid id.
package cred

import (
	"slices"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NoID is (uid_t)-1: "leave unchanged" in the set*id calls, and never a
// valid id (Linux's INVALID_UID).
const NoID = ^uint32(0)

// NGroupsMax is Linux's NGROUPS_MAX: setgroups with more is EINVAL.
const NGroupsMax = 65536

// Cap is a capability number, as in <linux/capability.h>.
type Cap uint

// The capabilities the kernel checks, with Linux's numbers.
const (
	CapChown          Cap = 0
	CapDacOverride    Cap = 1
	CapDacReadSearch  Cap = 2
	CapFowner         Cap = 3
	CapFsetid         Cap = 4
	CapKill           Cap = 5
	CapSetgid         Cap = 6
	CapSetuid         Cap = 7
	CapSetpcap        Cap = 8
	CapLinuxImmutable Cap = 9
	CapSysAdmin       Cap = 21
	CapMknod          Cap = 27
	CapMacOverride    Cap = 32
	// CapLastCap is CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE) of Linux 5.9+.
	CapLastCap Cap = 40
)

// CapSet is a set of capabilities, bit n for capability n.
type CapSet uint64

// AllCaps is every capability up to CapLastCap: a root process's sets,
// and the bounding set of every guest process (no call lowers it).
const AllCaps CapSet = 1<<(CapLastCap+1) - 1

// Has reports whether c is in s.
func (s CapSet) Has(c Cap) bool { return c <= CapLastCap && s&(1<<c) != 0 }

// fsCaps is Linux's CAP_FS_SET: the capabilities that follow the fsuid
// (dropped when it leaves 0, raised from the permitted set when it
// returns).
const fsCaps CapSet = 1<<CapChown | 1<<CapDacOverride | 1<<CapDacReadSearch | 1<<CapFowner |
	1<<CapFsetid | 1<<CapLinuxImmutable | 1<<CapMknod | 1<<CapMacOverride

// Creds is one set of credentials. Never modify a Creds that may be
// shared: the methods that change something return a new one.
type Creds struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	// Permitted and Effective are the capability sets the kernel's checks
	// use; Bounding, Inheritable and Ambient shape what an execve gives
	// (see Exec). New makes the bounding set AllCaps and the other two
	// empty; WithCaps sets all five (an OCI spec's process.capabilities).
	Permitted, Effective, Bounding, Inheritable, Ambient CapSet

	// groups are the supplementary groups; nil when there are none.
	groups *groupList
	// access is what access(2) checks with (real ids, see ForAccess);
	// made with the Creds so that the call allocates nothing.
	access *Creds
}

// groupList is one list of supplementary groups, shared by every Creds
// made from the one setgroups made it for, and counted by the processes
// holding them (Hold), so that the kernel charges its memory once.
type groupList struct {
	ids     []uint32 // sorted as Linux's setgroups sorts them (getgroups returns this order)
	holders atomic.Int64
}

func newGroupList(ids []uint32) *groupList {
	if len(ids) == 0 {
		return nil
	}
	g := &groupList{ids: slices.Clone(ids)}
	slices.Sort(g.ids)
	return g
}

// GroupListCost is the memory a list of n supplementary groups costs.
func GroupListCost(n int) uint64 { return 64 + 4*uint64(n) }

// Hold records that one more process holds c and returns the bytes to
// charge for it: its groups' cost for their first holder, else 0.
func (c *Creds) Hold() uint64 {
	if c.groups == nil || c.groups.holders.Add(1) != 1 {
		return 0
	}
	return GroupListCost(len(c.groups.ids))
}

// Release undoes one Hold and returns the bytes to give back.
func (c *Creds) Release() uint64 {
	if c.groups == nil || c.groups.holders.Add(-1) != 0 {
		return 0
	}
	return GroupListCost(len(c.groups.ids))
}

// New returns the credentials of a process started as uid:gid with the
// given supplementary groups: every uid is uid, every gid gid; uid 0 holds
// every capability, as a root process does, and any other uid none.
func New(uid, gid uint32, groups []uint32) *Creds {
	c := &Creds{UID: uid, EUID: uid, SUID: uid, FSUID: uid, GID: gid, EGID: gid, SGID: gid, FSGID: gid,
		Bounding: AllCaps}
	c.groups = newGroupList(groups)
	if uid == 0 {
		c.Permitted, c.Effective = AllCaps, AllCaps
	}
	return c.seal()
}

// seal finishes a new Creds: it computes the access(2) view.
func (c *Creds) seal() *Creds {
	// Linux's access_override_creds: the real ids, and (without
	// SECURE_NO_SETUID_FIXUP) the effective set is the permitted set for a
	// real root and empty for anyone else.
	eff := CapSet(0)
	if c.UID == 0 {
		eff = c.Permitted
	}
	if c.FSUID == c.UID && c.FSGID == c.GID && c.Effective == eff {
		c.access = c
		return c
	}
	a := *c
	a.FSUID, a.FSGID, a.Effective = c.UID, c.GID, eff
	a.access = &a
	c.access = &a
	return c
}

// clone returns a copy of c to change; seal it before publishing.
func (c *Creds) clone() *Creds {
	n := *c
	n.access = nil
	return &n
}

// Groups returns the supplementary groups, sorted. The slice is shared:
// do not modify it.
func (c *Creds) Groups() []uint32 {
	if c.groups == nil {
		return nil
	}
	return c.groups.ids
}

// ForAccess returns the credentials access(2) and faccessat(2) without
// AT_EACCESS check with: the real uid and gid as fs ids, and capabilities
// only for a real root.
func (c *Creds) ForAccess() *Creds { return c.access }

// Capable reports whether the effective set holds cap.
func (c *Creds) Capable(cp Cap) bool { return c.Effective.Has(cp) }

// InGroup reports whether gid is the fs gid or a supplementary group
// (Linux's in_group_p).
func (c *Creds) InGroup(gid uint32) bool {
	if c.FSGID == gid {
		return true
	}
	return c.inSupplementary(gid)
}

func (c *Creds) inSupplementary(gid uint32) bool {
	if c.groups == nil {
		return false
	}
	_, ok := slices.BinarySearch(c.groups.ids, gid)
	return ok
}

// InEGroup is InGroup with the effective gid (Linux's in_egroup_p).
func (c *Creds) InEGroup(gid uint32) bool {
	if c.EGID == gid {
		return true
	}
	return c.inSupplementary(gid)
}

// fixSetuid adjusts the capability sets after a change of the uids, as
// Linux's cap_emulate_setxuid (setuid, setreuid, setresuid): leaving root
// in all of real, effective and saved uid drops every capability, an
// effective uid leaving 0 empties the effective set and one coming to 0
// restores it from the permitted set.
func (n *Creds) fixSetuid(old *Creds) {
	oldRoot := old.UID == 0 || old.EUID == 0 || old.SUID == 0
	newRoot := n.UID == 0 || n.EUID == 0 || n.SUID == 0
	if oldRoot && !newRoot {
		// No SECURE_KEEP_CAPS: PR_SET_KEEPCAPS is not served.
		n.Permitted, n.Effective, n.Ambient = 0, 0, 0
	}
	if old.EUID == 0 && n.EUID != 0 {
		n.Effective = 0
	}
	if old.EUID != 0 && n.EUID == 0 {
		n.Effective = n.Permitted
	}
}

// fixSetfsuid adjusts the effective set after setfsuid, as Linux: the
// file-system capabilities follow the fsuid in and out of 0.
func (n *Creds) fixSetfsuid(old *Creds) {
	if old.FSUID == 0 && n.FSUID != 0 {
		n.Effective &^= fsCaps
	}
	if old.FSUID != 0 && n.FSUID == 0 {
		n.Effective |= n.Permitted & fsCaps
	}
}

// SetUID is setuid(2): with CAP_SETUID every uid becomes uid; without it
// uid must be the real or saved uid, and becomes the effective (and fs)
// uid. EINVAL for NoID, EPERM when not allowed.
func (c *Creds) SetUID(uid uint32) (*Creds, error) {
	if uid == NoID {
		return nil, unix.EINVAL
	}
	n := c.clone()
	switch {
	case c.Capable(CapSetuid):
		n.UID, n.SUID = uid, uid
	case uid != c.UID && uid != c.SUID:
		return nil, unix.EPERM
	}
	n.EUID, n.FSUID = uid, uid
	n.fixSetuid(c)
	return n.seal(), nil
}

// SetREUID is setreuid(2). NoID leaves an id unchanged. Without
// CAP_SETUID the real uid may only be set to the real or effective uid,
// and the effective uid to the real, effective or saved uid. The saved
// uid becomes the new effective uid when the real uid is set, or the
// effective uid is set to anything but the old real uid.
func (c *Creds) SetREUID(ruid, euid uint32) (*Creds, error) {
	n := c.clone()
	priv := c.Capable(CapSetuid)
	if ruid != NoID {
		if ruid != c.UID && ruid != c.EUID && !priv {
			return nil, unix.EPERM
		}
		n.UID = ruid
	}
	if euid != NoID {
		if euid != c.UID && euid != c.EUID && euid != c.SUID && !priv {
			return nil, unix.EPERM
		}
		n.EUID = euid
	}
	if ruid != NoID || (euid != NoID && euid != c.UID) {
		n.SUID = n.EUID
	}
	n.FSUID = n.EUID
	n.fixSetuid(c)
	return n.seal(), nil
}

// SetRESUID is setresuid(2). NoID leaves an id unchanged. Without
// CAP_SETUID each new id must be one of the current real, effective and
// saved uids (EPERM). A call that changes nothing (the fs uid included)
// returns c itself.
func (c *Creds) SetRESUID(ruid, euid, suid uint32) (*Creds, error) {
	if (ruid == NoID || ruid == c.UID) && (euid == NoID || euid == c.EUID && euid == c.FSUID) &&
		(suid == NoID || suid == c.SUID) {
		return c, nil
	}
	isNew := func(id uint32) bool { return id != NoID && id != c.UID && id != c.EUID && id != c.SUID }
	if (isNew(ruid) || isNew(euid) || isNew(suid)) && !c.Capable(CapSetuid) {
		return nil, unix.EPERM
	}
	n := c.clone()
	if ruid != NoID {
		n.UID = ruid
	}
	if euid != NoID {
		n.EUID = euid
	}
	if suid != NoID {
		n.SUID = suid
	}
	n.FSUID = n.EUID
	n.fixSetuid(c)
	return n.seal(), nil
}

// SetFSUID is setfsuid(2): it returns the old fs uid and the new
// credentials (c itself when nothing changes). The fs uid may become the
// real, effective, saved or current fs uid, or anything with CAP_SETUID;
// anything else (NoID included) is silently ignored, as on Linux.
func (c *Creds) SetFSUID(uid uint32) (old uint32, n *Creds) {
	if uid == NoID || uid == c.FSUID ||
		uid != c.UID && uid != c.EUID && uid != c.SUID && !c.Capable(CapSetuid) {
		return c.FSUID, c
	}
	n = c.clone()
	n.FSUID = uid
	n.fixSetfsuid(c)
	return c.FSUID, n.seal()
}

// SetGID is setgid(2), as SetUID for the gids with CAP_SETGID.
func (c *Creds) SetGID(gid uint32) (*Creds, error) {
	if gid == NoID {
		return nil, unix.EINVAL
	}
	n := c.clone()
	switch {
	case c.Capable(CapSetgid):
		n.GID, n.SGID = gid, gid
	case gid != c.GID && gid != c.SGID:
		return nil, unix.EPERM
	}
	n.EGID, n.FSGID = gid, gid
	return n.seal(), nil
}

// SetREGID is setregid(2), as SetREUID for the gids with CAP_SETGID.
func (c *Creds) SetREGID(rgid, egid uint32) (*Creds, error) {
	n := c.clone()
	priv := c.Capable(CapSetgid)
	if rgid != NoID {
		if rgid != c.GID && rgid != c.EGID && !priv {
			return nil, unix.EPERM
		}
		n.GID = rgid
	}
	if egid != NoID {
		if egid != c.GID && egid != c.EGID && egid != c.SGID && !priv {
			return nil, unix.EPERM
		}
		n.EGID = egid
	}
	if rgid != NoID || (egid != NoID && egid != c.GID) {
		n.SGID = n.EGID
	}
	n.FSGID = n.EGID
	return n.seal(), nil
}

// SetRESGID is setresgid(2), as SetRESUID for the gids with CAP_SETGID.
func (c *Creds) SetRESGID(rgid, egid, sgid uint32) (*Creds, error) {
	if (rgid == NoID || rgid == c.GID) && (egid == NoID || egid == c.EGID && egid == c.FSGID) &&
		(sgid == NoID || sgid == c.SGID) {
		return c, nil
	}
	isNew := func(id uint32) bool { return id != NoID && id != c.GID && id != c.EGID && id != c.SGID }
	if (isNew(rgid) || isNew(egid) || isNew(sgid)) && !c.Capable(CapSetgid) {
		return nil, unix.EPERM
	}
	n := c.clone()
	if rgid != NoID {
		n.GID = rgid
	}
	if egid != NoID {
		n.EGID = egid
	}
	if sgid != NoID {
		n.SGID = sgid
	}
	n.FSGID = n.EGID
	return n.seal(), nil
}

// SetFSGID is setfsgid(2), as SetFSUID for the gids with CAP_SETGID (the
// capability sets never follow the fs gid).
func (c *Creds) SetFSGID(gid uint32) (old uint32, n *Creds) {
	if gid == NoID || gid == c.FSGID ||
		gid != c.GID && gid != c.EGID && gid != c.SGID && !c.Capable(CapSetgid) {
		return c.FSGID, c
	}
	n = c.clone()
	n.FSGID = gid
	return c.FSGID, n.seal()
}

// CheckSetGroups is what setgroups(2) checks before it reads the list:
// CAP_SETGID (EPERM), then the size (EINVAL over NGroupsMax; the size is
// the guest's int, so a negative one is too).
func (c *Creds) CheckSetGroups(size int64) error {
	if !c.Capable(CapSetgid) {
		return unix.EPERM
	}
	if size < 0 || size > NGroupsMax {
		return unix.EINVAL
	}
	return nil
}

// SetGroups is setgroups(2) once CheckSetGroups passed and the list was
// read: NoID in it is EINVAL; the groups are kept sorted, duplicates and
// all, as Linux keeps them.
func (c *Creds) SetGroups(groups []uint32) (*Creds, error) {
	if err := c.CheckSetGroups(int64(len(groups))); err != nil {
		return nil, err
	}
	if slices.Contains(groups, NoID) {
		return nil, unix.EINVAL
	}
	n := c.clone()
	n.groups = newGroupList(groups)
	return n.seal(), nil
}

// Exec returns the credentials after an execve of a file whose set-user-ID
// and set-group-ID bits are not honoured (the kernel never honours them),
// and whether the exec is "secure" (AT_SECURE). As Linux's
// cap_bprm_creds_from_file (as of the host's 6.18, which TestCredentials
// compares with):
//
//   - a real or effective root gets every capability permitted, and an
//     effective root every one effective; anyone else gets none;
//   - the ids stay (no set-id file changes them), so the exec is never
//     downgraded for an id change; one that would raise the permitted set
//     is, because the guest runs with no_new_privs (PR_GET_NO_NEW_PRIVS
//     says 1): the effective ids become the real ones and the permitted
//     set keeps only what it had;
//   - the saved and fs ids become the effective ones;
//   - AT_SECURE is set when an effective id differs from the real one, or
//     a process that is not a real root gains capabilities.
func (c *Creds) Exec() (n *Creds, secure bool) {
	n = c.clone()
	n.Permitted, n.Effective = 0, 0
	effective := false
	if n.EUID == 0 || n.UID == 0 {
		// A root's file is as if it had every capability: what the
		// bounding and inheritable sets let through.
		n.Permitted = c.Bounding | c.Inheritable
	}
	if n.EUID == 0 {
		effective = true
	}
	isSetid := n.EUID != c.UID || n.EGID != c.GID
	if n.Permitted&^c.Permitted != 0 {
		n.EUID, n.EGID = n.UID, n.GID
		n.Permitted &= c.Permitted
	}
	n.SUID, n.FSUID = n.EUID, n.EUID
	n.SGID, n.FSGID = n.EGID, n.EGID
	if isSetid {
		n.Ambient = 0
	}
	// The ambient set survives the exec of a file without capabilities
	// (every file: the kernel serves no file capabilities).
	n.Permitted |= n.Ambient
	if effective {
		n.Effective = n.Permitted
	} else {
		n.Effective = n.Ambient
	}
	secure = isSetid || n.UID != 0 && (effective || n.Permitted&^n.Ambient != 0)
	return n.seal(), secure
}

// WithCaps returns c with the five capability sets replaced, as a runtime
// sets them before it starts a container's process (runc's capset and
// prctl calls): the effective set is kept within the permitted one and the
// ambient set within the permitted and inheritable ones (Linux refuses to
// raise an ambient capability outside them), and every set within the
// known capabilities.
func (c *Creds) WithCaps(bounding, effective, permitted, inheritable, ambient CapSet) *Creds {
	n := c.clone()
	n.Bounding = bounding & AllCaps
	n.Permitted = permitted & AllCaps
	n.Effective = effective & n.Permitted
	n.Inheritable = inheritable & AllCaps
	n.Ambient = ambient & n.Permitted & n.Inheritable
	return n.seal()
}

// MayKill reports whether a process with credentials c may send a signal
// to one with credentials target, as Linux's kill_ok_by_cred: the
// sender's real or effective uid is the target's real or saved uid, or the
// sender has CAP_KILL.
func (c *Creds) MayKill(target *Creds) bool {
	return c.EUID == target.SUID || c.EUID == target.UID || c.UID == target.SUID || c.UID == target.UID ||
		c.Capable(CapKill)
}

// Capset is capset(2) on the caller's own sets, as Linux's cap_capset: the
// permitted set may only shrink, the effective set stay within it, and the
// inheritable set gain only what the permitted set has (or anything with
// CAP_SETPCAP), never past the bounding set; the ambient set keeps what is
// still both permitted and inheritable. EPERM otherwise.
func (c *Creds) Capset(effective, permitted, inheritable CapSet) (*Creds, error) {
	if permitted&^c.Permitted != 0 || effective&^permitted != 0 {
		return nil, unix.EPERM
	}
	if !c.Capable(CapSetpcap) && inheritable&^(c.Inheritable|c.Permitted) != 0 {
		return nil, unix.EPERM
	}
	if inheritable&^(c.Inheritable|c.Bounding) != 0 {
		return nil, unix.EPERM
	}
	n := c.clone()
	n.Effective, n.Permitted, n.Inheritable = effective, permitted, inheritable
	n.Ambient &= permitted & inheritable
	return n.seal(), nil
}

// DropBounding is prctl(PR_CAPBSET_DROP): with CAP_SETPCAP, cap leaves the
// bounding set; EPERM without it.
func (c *Creds) DropBounding(cp Cap) (*Creds, error) {
	if !c.Capable(CapSetpcap) {
		return nil, unix.EPERM
	}
	if !c.Bounding.Has(cp) {
		return c, nil
	}
	n := c.clone()
	n.Bounding &^= 1 << cp
	return n.seal(), nil
}

// SetAmbient is prctl(PR_CAP_AMBIENT_RAISE) (raise) or
// PR_CAP_AMBIENT_LOWER of cp. Raising needs cp permitted and inheritable
// (EPERM otherwise).
func (c *Creds) SetAmbient(cp Cap, raise bool) (*Creds, error) {
	n := c.clone()
	switch {
	case raise:
		if !c.Permitted.Has(cp) || !c.Inheritable.Has(cp) {
			return nil, unix.EPERM
		}
		n.Ambient |= 1 << cp
	default:
		n.Ambient &^= 1 << cp
	}
	return n.seal(), nil
}

// ClearAmbient is prctl(PR_CAP_AMBIENT_CLEAR_ALL).
func (c *Creds) ClearAmbient() *Creds {
	if c.Ambient == 0 {
		return c
	}
	n := c.clone()
	n.Ambient = 0
	return n.seal()
}

package vfs

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
)

// The permission rule is Linux's generic_permission: one class of bits by
// fs uid, then fs gid and supplementary groups, then other; root's
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH as path_resolution(7) and
// capabilities(7) describe them.
func TestPermitted(t *testing.T) {
	user := cred.New(1000, 1000, []uint32{50})
	root := cred.New(0, 0, nil)
	_, rootFS1000 := root.SetFSUID(1000) // the file-system capabilities are gone
	seteuid, err := root.SetRESUID(cred.NoID, 1000, cred.NoID)
	if err != nil {
		t.Fatal(err)
	}
	file := func(mode, uid, gid uint32) *Stat { return &Stat{Mode: unix.S_IFREG | mode, Uid: uid, Gid: gid} }
	dir := func(mode, uid, gid uint32) *Stat { return &Stat{Mode: unix.S_IFDIR | mode, Uid: uid, Gid: gid} }
	host := func(st *Stat, ids HostIDs) *Stat { st.Host, st.HostIDs = true, ids; return st }
	for _, tc := range []struct {
		name string
		c    *Cred
		st   *Stat
		want uint32
		ok   bool
	}{
		{"owner bits", user, file(0o600, 1000, 1), mayRead | mayWrite, true},
		{"owner without the bit, other with it", user, file(0o066, 1000, 1), mayRead, false},
		{"group by fs gid", user, file(0o040, 2, 1000), mayRead, true},
		{"group by a supplementary group", user, file(0o040, 2, 50), mayRead, true},
		{"group without the bit, other with it", user, file(0o004, 2, 50), mayRead, false},
		{"other", user, file(0o004, 2, 2), mayRead, true},
		{"other without", user, file(0o770, 2, 2), mayRead, false},
		{"root reads anything", root, file(0, 2, 2), mayRead, true},
		{"root writes anything", root, file(0, 2, 2), mayWrite, true},
		{"root may not execute what no one may", root, file(0o600, 2, 2), mayExec, false},
		{"root executes with any x bit", root, file(0o001, 2, 2), mayExec, true},
		{"root searches any directory", root, dir(0, 2, 2), mayExec | mayRead, true},
		{"root writes any directory", root, dir(0o555, 2, 2), mayWrite | mayExec, true},
		{"root with fs uid 1000 has no override", rootFS1000, file(0, 2, 2), mayRead, false},
		{"root with fs uid 1000 owns its files", rootFS1000, file(0o600, 1000, 2), mayRead, true},
		{"effective uid 1000 has no capabilities", seteuid, file(0o600, 2, 2), mayRead, false},
		{"access view of a real root keeps them", seteuid.ForAccess(), file(0o600, 2, 2), mayRead, true},
		// Host files: no capability, and host ids match no guest id.
		{"root may not read a host file by capability", root, host(file(0o600, 2, 2), HostUID|HostGID), mayRead, false},
		{"root is not the host's root", root, host(file(0o600, 0, 0), HostUID|HostGID), mayRead, false},
		{"nor in the host's group 0", root, host(file(0o060, 5, 0), HostUID|HostGID), mayRead, false},
		{"other bits of a host file", root, host(file(0o604, 0, 0), HostUID|HostGID), mayRead, true},
		{"root may not write a host directory by capability", root, host(dir(0o755, 2, 2), HostUID|HostGID), mayWrite, false},
		{"a mapped owner is the guest's", root, host(file(0o600, 0, 7), HostGID), mayRead, true},
		{"a mapped group is the guest's", user, host(file(0o060, 7, 1000), HostUID), mayRead, true},
	} {
		if got := permitted(tc.c, tc.st, tc.want); got != tc.ok {
			t.Errorf("%s: permitted = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

// chown's rules are chown(2)'s: only CAP_CHOWN changes the owner; the
// owner may change the group to one it is in.
func TestMayChown(t *testing.T) {
	user := cred.New(1000, 1000, []uint32{50})
	root := cred.New(0, 0, nil)
	own := &Stat{Mode: unix.S_IFREG | 0o644, Uid: 1000, Gid: 1000}
	other := &Stat{Mode: unix.S_IFREG | 0o644, Uid: 2, Gid: 1000}
	no := cred.NoID
	for _, tc := range []struct {
		name     string
		c        *Cred
		st       *Stat
		uid, gid uint32
		ok       bool
	}{
		{"nothing", user, other, no, no, true},
		{"owner to itself", user, own, 1000, 1000, true},
		{"owner gives the file away", user, own, 2, no, false},
		{"owner to a supplementary group", user, own, no, 50, true},
		{"owner to a group it is not in", user, own, no, 0, false},
		{"non-owner to the file's own group", user, other, no, 1000, false},
		{"another's file to self", user, other, 1000, 1000, false},
		{"root anything", root, other, 5, 6, true},
	} {
		if got := mayChown(tc.c, tc.st, tc.uid, tc.gid); got != tc.ok {
			t.Errorf("%s: mayChown = %v, want %v", tc.name, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		c          *Cred
		mode, want uint32
	}{
		{root, 0o6755, 0o0755}, // group-executable: both bits go, even for root
		{root, 0o2745, 0o2745}, // not group-executable: CAP_FSETID keeps set-group-ID
		{user, 0o2745, 0o2745}, // in the file's group (1000)
		{cred.New(7, 7, nil), 0o2745, 0o0745},
	} {
		st := &Stat{Mode: unix.S_IFREG | tc.mode, Uid: 7, Gid: 1000}
		if got := chownMode(tc.c, st); got != tc.want {
			t.Errorf("chown of a %04o file by uid %d leaves %04o, want %04o", tc.mode, tc.c.UID, got, tc.want)
		}
	}
	hostFile := &Stat{Mode: unix.S_IFREG | 0o644, Uid: 0, Gid: 0, Host: true, HostIDs: HostUID | HostGID}
	if mayChown(root, hostFile, 5, cred.NoID) || mayChown(root, hostFile, cred.NoID, 0) {
		t.Error("CAP_CHOWN changes a host file's owner")
	}
	if got := chownMode(user, &Stat{Mode: unix.S_IFDIR | 0o6755}); got != 0o6755 {
		t.Errorf("chown of a directory changed its mode to %04o", got)
	}
}

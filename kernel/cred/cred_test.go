package cred

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// ids is a compact view of a Creds for the tables: real, effective, saved
// and fs ids.
type ids struct{ r, e, s, fs uint32 }

func uids(c *Creds) ids { return ids{c.UID, c.EUID, c.SUID, c.FSUID} }
func gids(c *Creds) ids { return ids{c.GID, c.EGID, c.SGID, c.FSGID} }

const none = NoID

// mixed is an unprivileged process with three different uids and gids, as
// root makes one with setresuid(1000, 2000, 3000) (and the same for the
// gids, first): every capability is gone.
func mixed(t *testing.T) *Creds {
	t.Helper()
	c, err := New(0, 0, nil).SetRESGID(1000, 2000, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = c.SetRESUID(1000, 2000, 3000); err != nil {
		t.Fatal(err)
	}
	if c.Permitted != 0 || c.Effective != 0 {
		t.Fatalf("setresuid to three non-zero uids kept capabilities %x/%x", c.Permitted, c.Effective)
	}
	return c
}

// The uid calls, with the results setuid(2), setreuid(2) and setresuid(2)
// document for an unprivileged process and for one with CAP_SETUID.
func TestSetUIDRules(t *testing.T) {
	type call struct {
		name string
		fn   func(c *Creds) (*Creds, error)
	}
	setuid := func(u uint32) call {
		return call{"setuid", func(c *Creds) (*Creds, error) { return c.SetUID(u) }}
	}
	setreuid := func(r, e uint32) call {
		return call{"setreuid", func(c *Creds) (*Creds, error) { return c.SetREUID(r, e) }}
	}
	setresuid := func(r, e, s uint32) call {
		return call{"setresuid", func(c *Creds) (*Creds, error) { return c.SetRESUID(r, e, s) }}
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *Creds
		call  call
		want  ids
		err   error
	}{
		// Unprivileged (1000/2000/3000): only the process's own ids.
		{"setuid to the saved uid sets euid and fsuid", mixed, setuid(3000), ids{1000, 3000, 3000, 3000}, nil},
		{"setuid to the real uid", mixed, setuid(1000), ids{1000, 1000, 3000, 1000}, nil},
		{"setuid to the effective uid only is EPERM", mixed, setuid(2000), ids{}, unix.EPERM},
		{"setuid to another uid is EPERM", mixed, setuid(0), ids{}, unix.EPERM},
		{"setuid(-1) is EINVAL", mixed, setuid(none), ids{}, unix.EINVAL},
		{"setreuid real to the effective uid copies euid to saved", mixed, setreuid(2000, none), ids{2000, 2000, 2000, 2000}, nil},
		{"setreuid real to the saved uid is EPERM", mixed, setreuid(3000, none), ids{}, unix.EPERM},
		{"setreuid effective to the saved uid", mixed, setreuid(none, 3000), ids{1000, 3000, 3000, 3000}, nil},
		{"setreuid effective to the real uid keeps saved", mixed, setreuid(none, 1000), ids{1000, 1000, 3000, 1000}, nil},
		{"setreuid swap", mixed, setreuid(2000, 1000), ids{2000, 1000, 1000, 1000}, nil},
		{"setreuid(-1, -1) changes nothing", mixed, setreuid(none, none), ids{1000, 2000, 3000, 2000}, nil},
		{"setreuid effective to another uid is EPERM", mixed, setreuid(none, 4000), ids{}, unix.EPERM},
		{"setresuid permutes", mixed, setresuid(3000, 1000, 2000), ids{3000, 1000, 2000, 1000}, nil},
		{"setresuid partial", mixed, setresuid(none, 3000, none), ids{1000, 3000, 3000, 3000}, nil},
		{"setresuid to another uid is EPERM", mixed, setresuid(none, none, 4000), ids{}, unix.EPERM},
		// Root (CAP_SETUID): anything.
		{"root setuid sets all four", rootCreds, setuid(1000), ids{1000, 1000, 1000, 1000}, nil},
		{"root setreuid", rootCreds, setreuid(7, 8), ids{7, 8, 8, 8}, nil},
		{"root setreuid effective only, to the real uid", rootCreds, setreuid(none, 0), ids{0, 0, 0, 0}, nil},
		{"root setresuid", rootCreds, setresuid(1, 2, 3), ids{1, 2, 3, 2}, nil},
		{"root setuid(-1) is still EINVAL", rootCreds, setuid(none), ids{}, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := tc.start(t)
			before := *start
			got, err := tc.call.fn(start)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("%s: error %v, want %v", tc.call.name, err, tc.err)
			}
			if start.UID != before.UID || start.EUID != before.EUID || start.SUID != before.SUID ||
				start.FSUID != before.FSUID || start.Effective != before.Effective {
				t.Fatalf("%s modified the credentials it was called on", tc.call.name)
			}
			if err == nil && uids(got) != tc.want {
				t.Errorf("%s: uids %v, want %v", tc.call.name, uids(got), tc.want)
			}
		})
	}
}

func rootCreds(*testing.T) *Creds { return New(0, 0, nil) }

// The gid calls follow the same rules with CAP_SETGID, and never touch
// the capability sets.
func TestSetGIDRules(t *testing.T) {
	c := mixed(t)
	for _, tc := range []struct {
		name string
		fn   func() (*Creds, error)
		want ids
		err  error
	}{
		{"setgid to saved", func() (*Creds, error) { return c.SetGID(3000) }, ids{1000, 3000, 3000, 3000}, nil},
		{"setgid to effective only", func() (*Creds, error) { return c.SetGID(2000) }, ids{}, unix.EPERM},
		{"setgid(-1)", func() (*Creds, error) { return c.SetGID(none) }, ids{}, unix.EINVAL},
		{"setregid real to effective", func() (*Creds, error) { return c.SetREGID(2000, none) }, ids{2000, 2000, 2000, 2000}, nil},
		{"setregid real to saved", func() (*Creds, error) { return c.SetREGID(3000, none) }, ids{}, unix.EPERM},
		{"setregid effective to real", func() (*Creds, error) { return c.SetREGID(none, 1000) }, ids{1000, 1000, 3000, 1000}, nil},
		{"setresgid permutes", func() (*Creds, error) { return c.SetRESGID(2000, 3000, 1000) }, ids{2000, 3000, 1000, 3000}, nil},
		{"setresgid another", func() (*Creds, error) { return c.SetRESGID(4000, none, none) }, ids{}, unix.EPERM},
		{"root setgid", func() (*Creds, error) { return New(0, 0, nil).SetGID(5) }, ids{5, 5, 5, 5}, nil},
		{"root setregid", func() (*Creds, error) { return New(0, 0, nil).SetREGID(5, 6) }, ids{5, 6, 6, 6}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.fn()
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && gids(got) != tc.want {
				t.Errorf("gids %v, want %v", gids(got), tc.want)
			}
		})
	}
	// A root that sets its gids keeps every capability.
	r, _ := New(0, 0, nil).SetGID(5)
	if r.Effective != AllCaps || r.Permitted != AllCaps {
		t.Errorf("setgid changed root's capabilities: %x/%x", r.Permitted, r.Effective)
	}
}

// setfsuid returns the old fs uid always and changes it only to one of
// the process's ids (or anything with CAP_SETUID); the file-system
// capabilities follow it in and out of 0.
func TestSetFSUID(t *testing.T) {
	c := mixed(t)
	for _, tc := range []struct {
		uid, old, fs uint32
	}{
		{3000, 2000, 3000},
		{1000, 2000, 1000},
		{2000, 2000, 2000},
		{4000, 2000, 2000},
		{none, 2000, 2000},
	} {
		old, n := c.SetFSUID(tc.uid)
		if old != tc.old || n.FSUID != tc.fs {
			t.Errorf("setfsuid(%d) = %d, fsuid %d; want %d, %d", tc.uid, old, n.FSUID, tc.old, tc.fs)
		}
	}
	r := New(0, 0, nil)
	old, n := r.SetFSUID(1234)
	if old != 0 || n.FSUID != 1234 || n.EUID != 0 {
		t.Fatalf("root setfsuid(1234) = %d, ids %v", old, uids(n))
	}
	for _, cp := range []Cap{CapChown, CapDacOverride, CapDacReadSearch, CapFowner, CapFsetid, CapMknod} {
		if n.Capable(cp) {
			t.Errorf("fsuid 1234 kept file-system capability %d", cp)
		}
	}
	if !n.Capable(CapSetuid) || !n.Capable(CapKill) {
		t.Error("setfsuid dropped a capability that is not a file-system one")
	}
	if old, back := n.SetFSUID(0); old != 1234 || back.Effective != AllCaps {
		t.Errorf("setfsuid(0) back = %d, effective %x", old, back.Effective)
	}
	if old, g := c.SetFSGID(3000); old != 2000 || g.FSGID != 3000 {
		t.Errorf("setfsgid(3000) = %d, fsgid %d", old, g.FSGID)
	}
	if old, g := c.SetFSGID(0); old != 2000 || g.FSGID != 2000 {
		t.Errorf("setfsgid(0) unprivileged = %d, fsgid %d", old, g.FSGID)
	}
}

// The capability sets follow the uids as capabilities(7) says under
// "Effect of user ID changes on capabilities".
func TestCapabilitiesFollowUIDs(t *testing.T) {
	r := New(0, 0, nil)
	e, err := r.SetRESUID(none, 1000, none) // seteuid(1000)
	if err != nil {
		t.Fatal(err)
	}
	if e.Effective != 0 || e.Permitted != AllCaps {
		t.Fatalf("seteuid(1000): permitted %x effective %x, want all/none", e.Permitted, e.Effective)
	}
	back, err := e.SetRESUID(none, 0, none)
	if err != nil {
		t.Fatalf("seteuid(0) back: %v", err)
	}
	if back.Effective != AllCaps {
		t.Errorf("seteuid(0) back: effective %x, want all", back.Effective)
	}
	// Back to root through setuid, as an unprivileged call (0 is the real
	// uid) that still raises the effective set.
	if s, err := e.SetUID(0); err != nil {
		t.Errorf("setuid(0) with real uid 0: %v", err)
	} else if s.Effective != AllCaps || uids(s) != (ids{0, 0, 0, 0}) {
		t.Errorf("setuid(0) with real uid 0: ids %v, effective %x", uids(s), s.Effective)
	}
	// Keeping one root id keeps the permitted set.
	saved, _ := r.SetRESUID(1000, 1000, 0)
	if saved.Permitted != AllCaps || saved.Effective != 0 {
		t.Errorf("saved uid 0: permitted %x effective %x", saved.Permitted, saved.Effective)
	}
	gone, _ := r.SetUID(1000)
	if gone.Permitted != 0 || gone.Effective != 0 {
		t.Errorf("setuid(1000) as root kept %x/%x", gone.Permitted, gone.Effective)
	}
	if _, err := gone.SetUID(0); err != unix.EPERM {
		t.Errorf("setuid(0) after giving root up: %v, want EPERM", err)
	}
}

// setgroups: CAP_SETGID first (EPERM), then the size (EINVAL past
// NGROUPS_MAX, or negative), then each id (EINVAL for -1); the list is
// kept sorted with its duplicates. getgroups' rules are the shim's.
func TestSetGroups(t *testing.T) {
	u := New(1000, 1000, nil)
	for _, size := range []int64{0, 3, NGroupsMax + 1, -1} {
		if err := u.CheckSetGroups(size); err != unix.EPERM {
			t.Errorf("unprivileged setgroups(%d): %v, want EPERM", size, err)
		}
	}
	r := New(0, 0, nil)
	for _, tc := range []struct {
		size int64
		err  error
	}{{0, nil}, {NGroupsMax, nil}, {NGroupsMax + 1, unix.EINVAL}, {-1, unix.EINVAL}} {
		if err := r.CheckSetGroups(tc.size); err != tc.err {
			t.Errorf("root setgroups(%d): %v, want %v", tc.size, err, tc.err)
		}
	}
	if _, err := r.SetGroups([]uint32{1, none}); err != unix.EINVAL {
		t.Errorf("setgroups with -1: %v, want EINVAL", err)
	}
	in := []uint32{30, 10, 20, 10}
	g, err := r.SetGroups(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{10, 10, 20, 30}; !slices.Equal(g.Groups(), want) {
		t.Errorf("groups %v, want %v", g.Groups(), want)
	}
	if !slices.Equal(in, []uint32{30, 10, 20, 10}) {
		t.Error("SetGroups sorted its caller's slice")
	}
	if !g.InGroup(20) || g.InGroup(15) || !g.InGroup(0) {
		t.Error("InGroup does not see the supplementary groups or the fs gid")
	}
	if r.Groups() != nil {
		t.Error("setgroups changed the credentials it was called on")
	}
}

// Holding counts processes per list of groups: only the first charges and
// only the last gives back.
func TestHoldCharges(t *testing.T) {
	c, _ := New(0, 0, nil).SetGroups([]uint32{1, 2, 3})
	d, _ := c.SetUID(5) // shares the list
	if n := c.Hold(); n != GroupListCost(3) {
		t.Fatalf("first hold charges %d, want %d", n, GroupListCost(3))
	}
	if n := d.Hold(); n != 0 {
		t.Errorf("second holder of the same list charges %d", n)
	}
	if n := c.Release(); n != 0 {
		t.Errorf("release with a holder left gives back %d", n)
	}
	if n := d.Release(); n != GroupListCost(3) {
		t.Errorf("last release gives back %d", n)
	}
	if n := New(1, 1, nil).Hold(); n != 0 {
		t.Errorf("no groups charges %d", n)
	}
}

// execve without set-id files: root keeps or regains its capabilities,
// the saved and fs ids become the effective ones, the ids stay otherwise
// (Linux 6.18; TestCredentials compares with it), and AT_SECURE says when
// the effective ids are not the real ones.
// three are runc's default capabilities: AUDIT_WRITE, KILL,
// NET_BIND_SERVICE.
const three CapSet = 1<<29 | 1<<CapKill | 1<<10

func TestExec(t *testing.T) {
	r := New(0, 0, nil)
	for _, tc := range []struct {
		name       string
		start      func() (*Creds, error)
		uids, gids ids
		perm, eff  CapSet
		wantSecure bool
	}{
		{"root", func() (*Creds, error) { return r, nil }, ids{0, 0, 0, 0}, ids{0, 0, 0, 0}, AllCaps, AllCaps, false},
		{"unprivileged", func() (*Creds, error) { return New(1000, 1000, nil), nil }, ids{1000, 1000, 1000, 1000},
			ids{1000, 1000, 1000, 1000}, 0, 0, false},
		{"saved root is lost", func() (*Creds, error) { return r.SetRESUID(1000, 1000, 0) }, ids{1000, 1000, 1000, 1000},
			ids{0, 0, 0, 0}, 0, 0, false},
		{"real root, effective 1000", func() (*Creds, error) { return r.SetRESUID(none, 1000, none) },
			ids{0, 1000, 1000, 1000}, ids{0, 0, 0, 0}, AllCaps, 0, true},
		{"effective root, real 1000", func() (*Creds, error) { return r.SetRESUID(1000, 0, 0) },
			ids{1000, 0, 0, 0}, ids{0, 0, 0, 0}, AllCaps, AllCaps, true},
		{"effective gid other than the real one", func() (*Creds, error) { return r.SetRESGID(none, 5, none) },
			ids{0, 0, 0, 0}, ids{0, 5, 5, 5}, AllCaps, AllCaps, true},
		// An OCI spec's sets (runc's defaults): root's exec gets the
		// bounding set, whatever it held before.
		{"root with a bounding set", func() (*Creds, error) {
			return r.WithCaps(three, three, three, 0, three), nil
		}, ids{0, 0, 0, 0}, ids{0, 0, 0, 0}, three, three, false},
		{"root with a bounding set and less permitted", func() (*Creds, error) {
			return r.WithCaps(three, 1<<CapKill, 1<<CapKill, 0, 0), nil
		}, ids{0, 0, 0, 0}, ids{0, 0, 0, 0}, 1 << CapKill, 1 << CapKill, false},
		// An unprivileged user keeps its ambient set across exec (permitted
		// and effective), the rest is lost.
		{"ambient", func() (*Creds, error) {
			return New(1000, 1000, nil).WithCaps(AllCaps, three, three, three, 1<<CapKill), nil
		}, ids{1000, 1000, 1000, 1000}, ids{1000, 1000, 1000, 1000}, 1 << CapKill, 1 << CapKill, false},
		// Capabilities a process did not have are not gained (no_new_privs).
		{"gaining capabilities", func() (*Creds, error) {
			c := New(0, 0, nil).clone()
			c.EUID, c.Permitted, c.Effective = 5, 0, 0
			return c.seal(), nil
		}, ids{0, 0, 0, 0}, ids{0, 0, 0, 0}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.start()
			if err != nil {
				t.Fatal(err)
			}
			n, secure := c.Exec()
			if uids(n) != tc.uids || gids(n) != tc.gids {
				t.Errorf("ids after exec %v %v, want %v %v", uids(n), gids(n), tc.uids, tc.gids)
			}
			if n.Permitted != tc.perm || n.Effective != tc.eff {
				t.Errorf("capabilities after exec %x/%x, want %x/%x", n.Permitted, n.Effective, tc.perm, tc.eff)
			}
			if secure != tc.wantSecure {
				t.Errorf("AT_SECURE %v, want %v", secure, tc.wantSecure)
			}
		})
	}
}

// access(2) checks with the real ids, with capabilities only for a real
// root.
func TestForAccess(t *testing.T) {
	r := New(0, 0, nil)
	if r.ForAccess() != r {
		t.Error("root's access view is not itself")
	}
	e, _ := r.SetRESUID(none, 1234, none)
	a := e.ForAccess()
	if a.FSUID != 0 || a.Effective != AllCaps {
		t.Errorf("real root, euid 1234: access checks as %d with %x", a.FSUID, a.Effective)
	}
	u, _ := r.SetRESUID(1000, 0, 0)
	if a := u.ForAccess(); a.FSUID != 1000 || a.Effective != 0 {
		t.Errorf("real 1000, euid 0: access checks as %d with %x", a.FSUID, a.Effective)
	}
}

// kill permission: kill(2) "the real or effective user ID of the sending
// process must equal the real or saved set-user-ID of the target".
func TestMayKill(t *testing.T) {
	m := mixed(t) // 1000/2000/3000
	for _, tc := range []struct {
		sender *Creds
		ok     bool
	}{
		{New(1000, 1, nil), true},
		{New(3000, 1, nil), true},
		{New(2000, 1, nil), false}, // the target's effective uid does not count
		{New(4000, 1, nil), false},
		{New(0, 0, nil), true}, // CAP_KILL
	} {
		if got := tc.sender.MayKill(m); got != tc.ok {
			t.Errorf("uid %d may kill 1000/2000/3000: %v, want %v", tc.sender.UID, got, tc.ok)
		}
	}
	if !m.MayKill(New(2000, 0, nil)) {
		t.Error("effective uid 2000 may not kill real uid 2000")
	}
}

func TestWithCaps(t *testing.T) {
	c := New(1000, 1000, nil).WithCaps(three, AllCaps, three, 1<<CapKill, three)
	// Effective within permitted, ambient within permitted and inheritable.
	if c.Bounding != three || c.Permitted != three || c.Effective != three || c.Inheritable != 1<<CapKill ||
		c.Ambient != 1<<CapKill {
		t.Errorf("sets %+v", c)
	}
	if !c.Capable(CapKill) || c.Capable(CapChown) {
		t.Error("Capable does not follow the effective set")
	}
}

func TestCapset(t *testing.T) {
	r := New(0, 0, nil).WithCaps(three, three, three, 0, 0)
	for _, tc := range []struct {
		name           string
		from           *Creds
		eff, perm, inh CapSet
		err            error
	}{
		{"drop effective", r, 1 << CapKill, three, 0, nil},
		{"drop permitted", r, 1 << CapKill, 1 << CapKill, 0, nil},
		{"raise permitted", r, three, three | 1<<CapChown, 0, unix.EPERM},
		{"effective outside permitted", r, three, 1 << CapKill, 0, unix.EPERM},
		{"inheritable from permitted", r, three, three, 1 << CapKill, nil},
		{"inheritable beyond permitted without SETPCAP", r, three, three, 1 << CapChown, unix.EPERM},
		{"inheritable beyond permitted with SETPCAP", New(0, 0, nil).WithCaps(AllCaps, 1<<CapSetpcap, 1<<CapSetpcap, 0, 0),
			1 << CapSetpcap, 1 << CapSetpcap, 1 << CapChown, nil},
		{"inheritable beyond bounding with SETPCAP", New(0, 0, nil).WithCaps(1<<CapSetpcap, AllCaps, AllCaps, 0, 0),
			AllCaps, AllCaps, 1 << CapChown, unix.EPERM},
		{"nothing for nobody", New(1000, 1000, nil), 0, 1 << CapKill, 0, unix.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.from.Capset(tc.eff, tc.perm, tc.inh)
			if err != tc.err {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && (n.Effective != tc.eff || n.Permitted != tc.perm || n.Inheritable != tc.inh) {
				t.Errorf("sets %+v", n)
			}
		})
	}
	// Ambient follows what stays permitted and inheritable.
	a := New(1000, 1000, nil).WithCaps(AllCaps, three, three, three, three)
	n, err := a.Capset(1<<CapKill, 1<<CapKill, three)
	if err != nil || n.Ambient != 1<<CapKill {
		t.Errorf("ambient %x, %v", n.Ambient, err)
	}
	if _, err := a.SetAmbient(CapChown, true); err != unix.EPERM {
		t.Errorf("raising an ambient capability not permitted: %v", err)
	}
	if _, err := a.DropBounding(CapKill); err != unix.EPERM {
		t.Errorf("bounding drop without CAP_SETPCAP: %v", err)
	}
	// Leaving root drops ambient with the rest.
	rr := New(0, 0, nil).WithCaps(AllCaps, AllCaps, AllCaps, three, three)
	u, err := rr.SetUID(1000)
	if err != nil || u.Permitted|u.Effective|u.Ambient != 0 {
		t.Errorf("after setuid(1000): %+v %v", u, err)
	}
}

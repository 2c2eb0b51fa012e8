package memfs

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestXattrs(t *testing.T) {
	fs := New(16 << 10)
	n, err := fs.Root().Create("f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f := n.(*File)
	base := fs.Used()
	steps := []struct {
		name  string
		op    func() error
		want  unix.Errno
		names int
	}{
		{"get unset", func() error { _, err := f.GetXattr("user.a"); return err }, unix.ENODATA, 0},
		{"replace unset", func() error { return f.SetXattr("user.a", []byte("1"), unix.XATTR_REPLACE) }, unix.ENODATA, 0},
		{"set", func() error { return f.SetXattr("user.a", []byte("1"), 0) }, 0, 1},
		{"create existing", func() error { return f.SetXattr("user.a", []byte("2"), unix.XATTR_CREATE) }, unix.EEXIST, 1},
		{"replace", func() error { return f.SetXattr("user.a", []byte("22"), unix.XATTR_REPLACE) }, 0, 1},
		{"past the size limit", func() error { return f.SetXattr("user.big", make([]byte, 20000), 0) }, unix.ENOSPC, 1},
		{"second", func() error { return f.SetXattr("user.b", nil, 0) }, 0, 2},
		{"remove", func() error { return f.RemoveXattr("user.a") }, 0, 1},
		{"remove again", func() error { return f.RemoveXattr("user.a") }, unix.ENODATA, 1},
	}
	for _, s := range steps {
		wantErrno(t, s.name, s.op(), s.want)
		names, _ := f.ListXattr()
		if len(names) != s.names {
			t.Fatalf("%s: %d names %q, want %d", s.name, len(names), names, s.names)
		}
	}
	if got, want := fs.Used()-base, xattrCharge("user.b", nil); got != want {
		t.Errorf("charged %d for the attribute left, want %d", got, want)
	}
	wantErrno(t, "remove last", f.RemoveXattr("user.b"), 0)
	if fs.Used() != base {
		t.Errorf("used %d after removing every attribute, want %d", fs.Used(), base)
	}
}

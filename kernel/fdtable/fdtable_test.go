package fdtable

import (
	"testing"

	"golang.org/x/sys/unix"
)

type fakeFile struct{ refs int }

func (f *fakeFile) IncRef()       { f.refs++ }
func (f *fakeFile) DecRef() error { f.refs--; return nil }

func TestTable(t *testing.T) {
	tab := New[*fakeFile](4)
	a, b := &fakeFile{refs: 1}, &fakeFile{refs: 1}
	steps := []struct {
		name string
		do   func() (int, error)
		want int
		err  error
	}{
		{"lowest free", func() (int, error) { return tab.Install(a, 0, false) }, 0, nil},
		{"min respected", func() (int, error) { return tab.Install(b, 2, true) }, 2, nil},
		{"get missing", func() (int, error) { _, err := tab.Get(1); return 0, err }, 0, unix.EBADF},
		{"fill 1", func() (int, error) { a.IncRef(); return tab.Install(a, 0, false) }, 1, nil},
		{"fill 3", func() (int, error) { a.IncRef(); return tab.Install(a, 0, false) }, 3, nil},
		{"full", func() (int, error) { return tab.Install(a, 0, false) }, -1, unix.EMFILE},
		{"min beyond limit", func() (int, error) { return tab.Install(a, 4, false) }, -1, unix.EINVAL},
		{"close", func() (int, error) { return 0, tab.Close(3) }, 0, nil},
		{"close twice", func() (int, error) { return 0, tab.Close(3) }, 0, unix.EBADF},
		{"dup2 beyond limit", func() (int, error) { return 0, tab.InstallAt(9, a, false) }, 0, unix.EBADF},
	}
	for _, s := range steps {
		got, err := s.do()
		if err != s.err || (err == nil && got != s.want) {
			t.Fatalf("%s: got %d, %v; want %d, %v", s.name, got, err, s.want, s.err)
		}
	}
	if ce, _ := tab.CloseOnExec(2); !ce {
		t.Errorf("fd 2 lost its close-on-exec flag")
	}
	if a.refs != 2 {
		t.Errorf("a.refs = %d, want 2 (fds 0 and 1)", a.refs)
	}
	b.IncRef()
	if err := tab.InstallAt(0, b, false); err != nil {
		t.Fatal(err)
	}
	if a.refs != 1 || b.refs != 2 {
		t.Errorf("after dup2 over fd 0: a.refs=%d b.refs=%d, want 1 and 2", a.refs, b.refs)
	}
	tab.CloseAll()
	if a.refs != 0 || b.refs != 0 || len(tab.FDs()) != 0 {
		t.Errorf("CloseAll left refs a=%d b=%d fds=%v", a.refs, b.refs, tab.FDs())
	}
}

func TestShareReleaseUnshare(t *testing.T) {
	a := New[*fakeFile](16)
	f := &fakeFile{}
	f.IncRef()
	if _, err := a.Install(f, 0, false); err != nil {
		t.Fatal(err)
	}
	b := a.Share()
	if b != a || !a.Shared() {
		t.Fatalf("Share: same table %v, shared %v", b == a, a.Shared())
	}
	c := b.Unshare()
	if c == a || a.Shared() {
		t.Fatalf("Unshare of a shared table: copy %v, still shared %v", c != a, a.Shared())
	}
	if got := f.refs; got != 2 {
		t.Fatalf("refs after the copy = %d, want 2", got)
	}
	if a.Unshare() != a {
		t.Fatal("Unshare of an unshared table made a copy")
	}
	c.Release()
	if got := f.refs; got != 1 {
		t.Fatalf("refs after releasing the copy = %d, want 1", got)
	}
	d := a.Share()
	d.Release() // a sharer leaves: nothing closes
	if got := f.refs; got != 1 {
		t.Fatalf("refs after a sharer's release = %d, want 1", got)
	}
	a.Release()
	if got := f.refs; got != 0 {
		t.Fatalf("refs after the last release = %d, want 0", got)
	}
}

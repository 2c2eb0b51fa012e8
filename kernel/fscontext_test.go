package kernel_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// TestForkFSContext: fork gives the child a copy of the root and working
// directory, CLONE_FS shares them (a chdir in one is seen by the other),
// and a working directory is the directory itself: renamed, getcwd follows;
// removed, getcwd is ENOENT while /proc/<pid>/cwd says "(deleted)".
func TestForkFSContext(t *testing.T) {
	p := newProc(t)
	for _, d := range []string{"/a", "/b"} {
		if err := p.Mkdirat(unix.AT_FDCWD, d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Chdir("/a"); err != nil {
		t.Fatal(err)
	}
	fork := func(share bool) *kernel.Process {
		t.Helper()
		c, err := p.Leader().Fork(kernel.ForkOptions{MM: newMM(), ShareFS: share, ExitSignal: unix.SIGCHLD})
		if err != nil {
			t.Fatal(err)
		}
		return c.Proc
	}
	cwd := func(q *kernel.Process) string {
		t.Helper()
		s, err := q.Cwd()
		if err != nil {
			return err.Error()
		}
		return s
	}
	copied, shared := fork(false), fork(true)
	if err := copied.Chdir("/b"); err != nil {
		t.Fatal(err)
	}
	if got := cwd(p); got != "/a" {
		t.Errorf("parent's cwd after the forked child's chdir = %q, want /a", got)
	}
	if err := shared.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	if got := cwd(p); got != "/" {
		t.Errorf("parent's cwd after the CLONE_FS child's chdir = %q, want /", got)
	}
	if err := p.Renameat2(unix.AT_FDCWD, "b", unix.AT_FDCWD, "c", 0); err != nil {
		t.Fatal(err)
	}
	if got := cwd(copied); got != "/c" {
		t.Errorf("cwd of the child after its directory was renamed = %q, want /c", got)
	}
	if err := p.Unlinkat(unix.AT_FDCWD, "/c", unix.AT_REMOVEDIR); err != nil {
		t.Fatal(err)
	}
	if got := cwd(copied); got != unix.ENOENT.Error() {
		t.Errorf("getcwd of a removed directory = %q, want ENOENT", got)
	}
	if got, err := copied.CwdLink(); got != "/c (deleted)" || err != nil {
		t.Errorf("cwd link of a removed directory = %q, %v", got, err)
	}
	if got := copied.Getcwd(); got != "/c" {
		t.Errorf("Getcwd of a removed directory = %q, want its last path", got)
	}
}

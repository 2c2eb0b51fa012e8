package vfs_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// charged is a charge function for SetCharge that counts what is held and
// can be told to refuse.
type charged struct {
	held   atomic.Int64
	refuse atomic.Bool
}

func (c *charged) charge(n int64) error {
	if n > 0 && c.refuse.Load() {
		return unix.ENOMEM
	}
	c.held.Add(n)
	return nil
}

func newCharged(t *testing.T) (*vfs.VFS, *charged) {
	t.Helper()
	v := vfs.New(memfs.New(0))
	c := &charged{}
	v.SetCharge(c.charge)
	return v, c
}

func openDir(t *testing.T, v *vfs.VFS, at vfs.Loc, path string) *vfs.File {
	t.Helper()
	f, err := v.OpenAt(at, path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "open "+path, err)
	return f
}

// TestDentryFollowsRename: an open directory names the directory, not its
// path: after renames of it and of its parent its path is the new one,
// walks from it create in the new place, ".." is its new parent, and a
// removed name shows " (deleted)".
func TestDentryFollowsRename(t *testing.T) {
	v, _ := newCharged(t)
	must(t, "mkdir", v.Mkdir("/a", 0o755))
	must(t, "mkdir", v.Mkdir("/a/b", 0o755))
	must(t, "mkdir", v.Mkdir("/r", 0o755))
	f := openDir(t, v, vfs.Loc{}, "/a/b")
	defer f.DecRef()
	at := vfs.Loc{Dir: f.Dentry()}

	for _, step := range []struct {
		from, to, wantPath, wantParent string
	}{
		{"/a", "/c", "/c/b", "/c"},           // the parent renamed
		{"/c/b", "/c/d", "/c/d", "/c"},       // itself renamed
		{"/c/d", "/r/e", "/r/e", "/r"},       // moved to another parent
		{"/c", "/r/e/c", "/r/e", "/r"},       // a sibling moved below it
		{"/r", "/top", "/top/e", "/top"},     // the new parent renamed
		{"/top/e/c", "/c", "/top/e", "/top"}, // and back out
	} {
		must(t, "rename "+step.from, v.Rename(step.from, step.to))
		if got := f.Path(); got != step.wantPath {
			t.Errorf("after rename %s %s: Path = %q, want %q", step.from, step.to, got, step.wantPath)
		}
		name := "x" + step.to[1:2]
		nf, err := v.OpenAt(at, name, unix.O_CREAT|unix.O_WRONLY, 0o644)
		must(t, "create "+name, err)
		must(t, "close", nf.DecRef())
		if _, err := v.Stat(step.wantPath+"/"+name, false); err != nil {
			t.Errorf("after rename %s %s: %s not in %s: %v", step.from, step.to, name, step.wantPath, err)
		}
		up := openDir(t, v, at, "..")
		if got := up.Path(); got != step.wantParent {
			t.Errorf("after rename %s %s: .. is %q, want %q", step.from, step.to, got, step.wantParent)
		}
		must(t, "close", up.DecRef())
	}

	for _, n := range []string{"xc", "xt", "xr"} {
		must(t, "unlink", v.Unlink("/top/e/"+n))
	}
	must(t, "rmdir", v.Rmdir("/top/e"))
	if got := f.Path(); got != "/top/e (deleted)" {
		t.Errorf("after rmdir: Path = %q", got)
	}
	if !f.Dentry().Deleted() {
		t.Error("Deleted() = false after rmdir")
	}
	_, err := v.OpenAt(at, "new", unix.O_CREAT|unix.O_WRONLY, 0o644)
	wantErrno(t, "create in a removed directory", err, unix.ENOENT)
}

// TestDentriesAreDropped: dentries live only while held; once every file
// is closed, everything they were charged is given back, whatever renames
// and unlinks happened meanwhile.
func TestDentriesAreDropped(t *testing.T) {
	v, c := newCharged(t)
	must(t, "mkdir", v.Mkdir("/a", 0o755))
	must(t, "mkdir", v.Mkdir("/a/b", 0o755))
	base := c.held.Load()
	var files []*vfs.File
	for i := range 50 {
		f, err := v.Open(fmt.Sprintf("/a/b/f%d", i), unix.O_CREAT|unix.O_RDWR, 0o644)
		must(t, "create", err)
		files = append(files, f)
	}
	if c.held.Load() <= base {
		t.Fatalf("open files charged nothing (%d)", c.held.Load()-base)
	}
	must(t, "rename", v.Rename("/a", "/z"))
	must(t, "unlink", v.Unlink("/z/b/f3"))
	must(t, "rename over", v.Rename("/z/b/f4", "/z/b/f5"))
	for _, f := range files {
		must(t, "close", f.DecRef())
	}
	if got := c.held.Load() - base; got != 0 {
		t.Errorf("%d bytes still charged after every file was closed", got)
	}
	// Stats and failed lookups hold nothing either.
	for i := range 50 {
		_, _ = v.Stat(fmt.Sprintf("/z/b/f%d", i), true)
		_, _ = v.Stat(fmt.Sprintf("/z/missing%d/x", i), true)
	}
	if got := c.held.Load() - base; got != 0 {
		t.Errorf("%d bytes charged by stats", got)
	}
}

// TestDentryChargeRefused: when the budget refuses a dentry the open fails
// with ENOMEM and leaves nothing charged behind.
func TestDentryChargeRefused(t *testing.T) {
	v, c := newCharged(t)
	must(t, "mkdir", v.Mkdir("/a", 0o755))
	must(t, "mkdir", v.Mkdir("/a/b", 0o755))
	must(t, "create", closeErr(v.Open("/a/b/f", unix.O_CREAT|unix.O_RDWR, 0o644)))
	base := c.held.Load()
	c.refuse.Store(true)
	_, err := v.Open("/a/b/f", unix.O_RDONLY, 0)
	wantErrno(t, "open without budget", err, unix.ENOMEM)
	_, err = v.Chdir(vfs.Loc{}, "/a/b")
	wantErrno(t, "chdir without budget", err, unix.ENOMEM)
	if got := c.held.Load(); got != base {
		t.Errorf("charged %d after refused opens, want %d", got, base)
	}
	c.refuse.Store(false)
	must(t, "open with budget", closeErr(v.Open("/a/b/f", unix.O_RDONLY, 0)))
	if got := c.held.Load(); got != base {
		t.Errorf("charged %d after a close, want %d", got, base)
	}
}

func closeErr(f *vfs.File, err error) error {
	if err != nil {
		return err
	}
	return f.DecRef()
}

// TestMountFollowsRename: a mount is attached to its mount point's dentry,
// so renaming a directory above it carries it along (as on Linux), while
// the mount point itself cannot be renamed or removed.
func TestMountFollowsRename(t *testing.T) {
	v := vfs.New(memfs.New(0))
	must(t, "mkdir", v.Mkdir("/a", 0o755))
	must(t, "mkdir", v.Mkdir("/a/m", 0o755))
	must(t, "mount", v.Mount("/a/m", memfs.New(0)))
	must(t, "create", closeErr(v.Open("/a/m/inside", unix.O_CREAT|unix.O_RDWR, 0o644)))
	wantErrno(t, "rename the mount point", v.Rename("/a/m", "/a/n"), unix.EBUSY)
	wantErrno(t, "rmdir the mount point", v.Rmdir("/a/m"), unix.EBUSY)
	must(t, "rename the parent", v.Rename("/a", "/b"))
	if _, err := v.Stat("/b/m/inside", false); err != nil {
		t.Errorf("mounted file not under the renamed parent: %v", err)
	}
	var paths []string
	for _, m := range v.Mounts() {
		paths = append(paths, m.Path)
	}
	if fmt.Sprint(paths) != "[/ /b/m]" {
		t.Errorf("Mounts() = %v, want [/ /b/m]", paths)
	}
	wantErrno(t, "rename across the mount", v.Rename("/b/m/inside", "/b/inside"), unix.EXDEV)
}

// TestDentryCostCoversHeap: what a dentry is charged is at least what it
// takes on the heap (as memfs's charges are), so held dentries are as
// bounded as any other kernel object.
func TestDentryCostCoversHeap(t *testing.T) {
	const n = 2000
	v := vfs.New(memfs.New(0))
	for i := range n {
		must(t, "mkdir", v.Mkdir(fmt.Sprintf("/%08d", i), 0o755))
	}
	held := make([]*vfs.Dentry, 0, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		d, err := v.Chdir(vfs.Loc{}, fmt.Sprintf("/%08d", i))
		must(t, "chdir", err)
		held = append(held, d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per dentry, %d charged", per, vfs.DentryCost+8)
	if per > vfs.DentryCost+8 {
		t.Errorf("a dentry takes %d bytes of heap but is charged %d", per, vfs.DentryCost+8)
	}
	for _, d := range held {
		d.DecRef()
	}
}

// TestDentriesConcurrent: opens, closes, chdirs, renames and unlinks from
// several goroutines leave a consistent tree: every file ends up closed
// with nothing charged, and each held directory's path names it (run with
// -race).
func TestDentriesConcurrent(t *testing.T) {
	v, c := newCharged(t)
	for _, d := range []string{"/x", "/x/d", "/y"} {
		must(t, "mkdir", v.Mkdir(d, 0o755))
	}
	base := c.held.Load()
	done := make(chan struct{})
	errs := make(chan error, 4)
	go func() { // renames /x/d <-> /y/d
		defer close(done)
		defer func() { errs <- nil }()
		for i := range 300 {
			from, to := "/x/d", "/y/d"
			if i%2 == 1 {
				from, to = to, from
			}
			if err := v.Rename(from, to); err != nil {
				errs <- fmt.Errorf("rename %s: %w", from, err)
				return
			}
		}
	}()
	for w := range 3 {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				f, err := v.Open("/x/d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
				if err != nil {
					f, err = v.Open("/y/d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
				}
				if err != nil {
					continue // moved between the two tries
				}
				name := fmt.Sprintf("f%d-%d", w, i)
				nf, err := v.OpenAt(vfs.Loc{Dir: f.Dentry()}, name, unix.O_CREAT|unix.O_RDWR, 0o644)
				if err == nil {
					if p := nf.Path(); p != "/x/d/"+name && p != "/y/d/"+name {
						errs <- fmt.Errorf("created file's path is %q", p)
						return
					}
					if err := v.UnlinkAt(vfs.Loc{Dir: f.Dentry()}, name); err != nil {
						errs <- fmt.Errorf("unlink %s: %w", name, err)
						return
					}
					_ = nf.DecRef()
				}
				_ = f.DecRef()
			}
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := c.held.Load() - base; got != 0 {
		t.Errorf("%d bytes still charged", got)
	}
	f := openDir(t, v, vfs.Loc{}, "/x/d")
	defer f.DecRef()
	if got := f.Path(); got != "/x/d" {
		t.Errorf("Path = %q, want /x/d", got)
	}
}

// TestDentriesBeforeSetCharge: dentries made before SetCharge (the
// sandbox's own mounts and setup) give nothing back when dropped later.
func TestDentriesBeforeSetCharge(t *testing.T) {
	v := vfs.New(memfs.New(0))
	must(t, "mkdir", v.Mkdir("/a", 0o755))
	f := openDir(t, v, vfs.Loc{}, "/a")
	c := &charged{}
	v.SetCharge(c.charge)
	must(t, "close", f.DecRef())
	if got := c.held.Load(); got != 0 {
		t.Errorf("dropping an uncharged dentry changed the charge by %d", got)
	}
}

package memfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// wantErrno fails unless err carries exactly want (0 meaning success).
func wantErrno(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	var got unix.Errno
	if err != nil && !errors.As(err, &got) {
		t.Fatalf("%s: error %v is not an errno", what, err)
	}
	if got != want {
		t.Fatalf("%s: got errno %v (%d), want %v (%d)", what, got, got, want, want)
	}
}

func mustStat(t *testing.T, n vfs.Node) vfs.Stat {
	t.Helper()
	st, err := n.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func lookup(t *testing.T, d vfs.DirNode, name string) vfs.Node {
	t.Helper()
	n, err := d.Lookup(name)
	if err != nil {
		t.Fatalf("lookup %q: %v", name, err)
	}
	return n
}

func subdir(t *testing.T, d vfs.DirNode, name string) vfs.DirNode {
	t.Helper()
	return lookup(t, d, name).(vfs.DirNode)
}

func TestDirOps(t *testing.T) {
	fs := New(0)
	root := fs.Root()
	if _, err := root.Create("file", 0o644); err != nil {
		t.Fatal(err)
	}
	if err := root.Mkdir("dir", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := root.Mkdir("full", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := subdir(t, root, "full").Create("x", 0o644); err != nil {
		t.Fatal(err)
	}
	if err := root.Symlink("file", "link"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"lookup missing", func() error { _, err := root.Lookup("nope"); return err }, unix.ENOENT},
		{"lookup dotdot", func() error { _, err := root.Lookup(".."); return err }, unix.EINVAL},
		{"lookup slash", func() error { _, err := root.Lookup("dir/x"); return err }, unix.EINVAL},
		{"create existing", func() error { _, err := root.Create("file", 0o644); return err }, unix.EEXIST},
		{"create over dir", func() error { _, err := root.Create("dir", 0o644); return err }, unix.EEXIST},
		{"create long name", func() error { _, err := root.Create(string(bytes.Repeat([]byte("a"), 256)), 0o644); return err }, unix.ENAMETOOLONG},
		{"mkdir existing", func() error { return root.Mkdir("link", 0o755) }, unix.EEXIST},
		{"symlink existing", func() error { return root.Symlink("x", "dir") }, unix.EEXIST},
		{"symlink empty target", func() error { return root.Symlink("", "new") }, unix.ENOENT},
		{"unlink dir", func() error { return root.Unlink("dir") }, unix.EISDIR},
		{"unlink missing", func() error { return root.Unlink("nope") }, unix.ENOENT},
		{"rmdir file", func() error { return root.Rmdir("file") }, unix.ENOTDIR},
		{"rmdir symlink", func() error { return root.Rmdir("link") }, unix.ENOTDIR},
		{"rmdir non-empty", func() error { return root.Rmdir("full") }, unix.ENOTEMPTY},
		{"rmdir missing", func() error { return root.Rmdir("nope") }, unix.ENOENT},
		{"unlink symlink", func() error { return root.Unlink("link") }, 0},
		{"unlink file", func() error { return root.Unlink("file") }, 0},
		{"rmdir empty", func() error { return root.Rmdir("dir") }, 0},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	var names []string
	ents, _ := root.ReadDir()
	for _, e := range ents {
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[full]" {
		t.Fatalf("ReadDir = %v", names)
	}
}

func TestRemovedDirRejectsEntries(t *testing.T) {
	fs := New(0)
	root := fs.Root()
	root.Mkdir("d", 0o755)
	d := subdir(t, root, "d")
	if err := root.Rmdir("d"); err != nil {
		t.Fatal(err)
	}
	_, err := d.Create("x", 0o644)
	wantErrno(t, "create in removed dir", err, unix.ENOENT)
	wantErrno(t, "mkdir in removed dir", d.Mkdir("x", 0o755), unix.ENOENT)
	if st := mustStat(t, d); st.Nlink != 0 {
		t.Fatalf("removed dir nlink = %d", st.Nlink)
	}
}

func TestRename(t *testing.T) {
	type setup func(t *testing.T, root vfs.DirNode)
	mkfile := func(name string) setup {
		return func(t *testing.T, root vfs.DirNode) {
			if _, err := root.Create(name, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mkdir := func(name string) setup {
		return func(t *testing.T, root vfs.DirNode) {
			if err := root.Mkdir(name, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name     string
		setup    []setup
		old, new string
		want     unix.Errno
	}{
		{"file to new name", []setup{mkfile("a")}, "a", "b", 0},
		{"file over file", []setup{mkfile("a"), mkfile("b")}, "a", "b", 0},
		{"file onto itself", []setup{mkfile("a")}, "a", "a", 0},
		{"dir over empty dir", []setup{mkdir("a"), mkdir("b")}, "a", "b", 0},
		{"dir over file", []setup{mkdir("a"), mkfile("b")}, "a", "b", unix.ENOTDIR},
		{"file over dir", []setup{mkfile("a"), mkdir("b")}, "a", "b", unix.EISDIR},
		{"missing source", nil, "a", "b", unix.ENOENT},
		{"bad name", []setup{mkfile("a")}, "a", "..", unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := New(0).Root()
			for _, s := range tc.setup {
				s(t, root)
			}
			var before vfs.Node
			if n, err := root.Lookup(tc.old); err == nil {
				before = n
			}
			wantErrno(t, "rename", root.Rename(tc.old, root, tc.new), tc.want)
			if tc.want == 0 {
				if got := lookup(t, root, tc.new); got != before {
					t.Fatalf("%q is not the renamed node", tc.new)
				}
				if tc.old != tc.new {
					_, err := root.Lookup(tc.old)
					wantErrno(t, "old name after rename", err, unix.ENOENT)
				}
			}
		})
	}

	t.Run("over non-empty dir", func(t *testing.T) {
		root := New(0).Root()
		root.Mkdir("a", 0o755)
		root.Mkdir("b", 0o755)
		subdir(t, root, "b").Create("x", 0o644)
		wantErrno(t, "rename", root.Rename("a", root, "b"), unix.ENOTEMPTY)
	})
	t.Run("into own subtree", func(t *testing.T) {
		root := New(0).Root()
		root.Mkdir("a", 0o755)
		a := subdir(t, root, "a")
		a.Mkdir("b", 0o755)
		b := subdir(t, a, "b")
		wantErrno(t, "rename a -> a/b/c", root.Rename("a", b, "c"), unix.EINVAL)
		wantErrno(t, "rename a -> a/c", root.Rename("a", a, "c"), unix.EINVAL)
	})
	t.Run("across file systems", func(t *testing.T) {
		r1, r2 := New(0).Root(), New(0).Root()
		r1.Create("a", 0o644)
		wantErrno(t, "rename", r1.Rename("a", r2, "a"), unix.EXDEV)
	})
	t.Run("dir between parents updates nlink", func(t *testing.T) {
		root := New(0).Root()
		root.Mkdir("p1", 0o755)
		root.Mkdir("p2", 0o755)
		p1, p2 := subdir(t, root, "p1"), subdir(t, root, "p2")
		p1.Mkdir("d", 0o755)
		if n := mustStat(t, p1).Nlink; n != 3 {
			t.Fatalf("p1 nlink = %d, want 3", n)
		}
		if err := p1.Rename("d", p2, "d"); err != nil {
			t.Fatal(err)
		}
		if a, b := mustStat(t, p1).Nlink, mustStat(t, p2).Nlink; a != 2 || b != 3 {
			t.Fatalf("nlink p1=%d p2=%d, want 2 3", a, b)
		}
		if n := mustStat(t, root).Nlink; n != 4 {
			t.Fatalf("root nlink = %d, want 4", n)
		}
	})
	t.Run("replaced file is unlinked", func(t *testing.T) {
		root := New(0).Root()
		root.Create("a", 0o644)
		victim, _ := root.Create("b", 0o644)
		if err := root.Rename("a", root, "b"); err != nil {
			t.Fatal(err)
		}
		if n := mustStat(t, victim).Nlink; n != 0 {
			t.Fatalf("replaced nlink = %d", n)
		}
	})
}

func write(t *testing.T, n vfs.Node, off int64, data string) {
	t.Helper()
	ops, err := n.(vfs.OpenableNode).Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	if _, err := ops.WriteAt([]byte(data), off); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, n vfs.Node) []byte {
	t.Helper()
	ops, err := n.(vfs.OpenableNode).Open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	var out []byte
	buf := make([]byte, 1000)
	for off := int64(0); ; {
		k, err := ops.ReadAt(buf, off)
		out = append(out, buf[:k]...)
		off += int64(k)
		if err == io.EOF || k == 0 {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileData(t *testing.T) {
	root := New(0).Root()
	f, _ := root.Create("f", 0o644)
	write(t, f, 0, "hello")
	write(t, f, 4100, "page2") // crosses into the second page, leaves a hole
	got := readAll(t, f)
	if len(got) != 4105 || string(got[:5]) != "hello" || string(got[4100:]) != "page2" {
		t.Fatalf("bad content: len %d", len(got))
	}
	if !bytes.Equal(got[5:4100], make([]byte, 4095)) {
		t.Fatal("hole is not zero")
	}

	ops, _ := f.(vfs.OpenableNode).Open(unix.O_RDWR)
	defer ops.Close()
	// Shrink into the middle of a page, grow again: the old bytes must
	// not reappear.
	if err := ops.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if err := ops.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f); string(got) != "hel\x00\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("after truncate: %q", got)
	}

	// Sparse: a huge size costs no pages.
	if err := ops.Truncate(1 << 39); err != nil {
		t.Fatal(err)
	}
	st := mustStat(t, f)
	if st.Size != 1<<39 || st.Blocks != 8 {
		t.Fatalf("sparse file: size %d blocks %d", st.Size, st.Blocks)
	}
	if _, err := ops.WriteAt([]byte("end"), 1<<39-3); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	n, err := ops.ReadAt(buf, 1<<39-5)
	if n != 5 || string(buf[:5]) != "\x00\x00end" || err != nil {
		t.Fatalf("read at end: %d %q %v", n, buf[:n], err)
	}
	if _, err := ops.ReadAt(buf, 1<<39); err != io.EOF {
		t.Fatalf("read past end: %v", err)
	}

	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"truncate beyond max", func() error { return ops.Truncate(MaxFileSize + 1) }, unix.EFBIG},
		{"truncate to max", func() error { return ops.Truncate(MaxFileSize) }, 0},
		{"write at max", func() error { _, err := ops.WriteAt([]byte("x"), MaxFileSize); return err }, unix.EFBIG},
		{"negative truncate", func() error { return ops.Truncate(-1) }, unix.EINVAL},
		{"negative write", func() error { _, err := ops.WriteAt([]byte("x"), -1); return err }, unix.EINVAL},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	// A write straddling the limit is shortened.
	n, err = ops.WriteAt([]byte("abcd"), MaxFileSize-2)
	if n != 2 || err != nil {
		t.Fatalf("straddling write: %d %v", n, err)
	}
}

func TestHandleAccessMode(t *testing.T) {
	root := New(0).Root()
	f, _ := root.Create("f", 0o644)
	on := f.(vfs.OpenableNode)
	ro, _ := on.Open(unix.O_RDONLY)
	wo, _ := on.Open(unix.O_WRONLY)
	_, err := ro.WriteAt([]byte("x"), 0)
	wantErrno(t, "write on O_RDONLY", err, unix.EBADF)
	_, err = wo.ReadAt(make([]byte, 1), 0)
	wantErrno(t, "read on O_WRONLY", err, unix.EBADF)
	wantErrno(t, "truncate on O_RDONLY", ro.Truncate(0), unix.EINVAL)
	wantErrno(t, "close", ro.Close(), 0)
	wantErrno(t, "double close", ro.Close(), unix.EBADF)
	_, err = ro.ReadAt(make([]byte, 1), 0)
	wantErrno(t, "read after close", err, unix.EBADF)
	wo.Close()
}

func TestSizeLimit(t *testing.T) {
	// Room for the root, one file with a one-letter name and two pages.
	const limit = 2*InodeCost + DirentCost + 1 + 2*PageCost
	fs := New(limit)
	root := fs.Root()
	f, _ := root.Create("f", 0o644)
	ops, _ := f.(vfs.OpenableNode).Open(unix.O_RDWR)
	n, err := ops.WriteAt(make([]byte, 5000), 0)
	if n != 5000 || err != nil {
		t.Fatal(n, err)
	}
	// One page left: a write needing two more is shortened to the end of
	// the page it can get, then the fs is full.
	n, err = ops.WriteAt(make([]byte, 8192), 5000)
	if n != 2*pageSize-5000 || err != nil {
		t.Fatalf("short write: %d %v", n, err)
	}
	_, err = ops.WriteAt([]byte("x"), 2*pageSize)
	wantErrno(t, "write when full", err, unix.ENOSPC)
	// Overwriting held pages and growing with a hole need no new space.
	if _, err := ops.WriteAt([]byte("abc"), 10); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "truncate to 1 TiB when full", ops.Truncate(MaxFileSize), 0)
	_, err = root.Create("g", 0o644)
	wantErrno(t, "new file when full", err, unix.ENOSPC)
	wantErrno(t, "symlink when full", root.Symlink("t", "l"), unix.ENOSPC)
	wantErrno(t, "mkdir when full", root.Mkdir("d", 0o755), unix.ENOSPC)
	if fs.Used() != limit || fs.Inodes() != 2 {
		t.Fatalf("used %d inodes %d, want %d and 2", fs.Used(), fs.Inodes(), limit)
	}

	// Unlinking an open file keeps its data and inode until the last close.
	if err := root.Unlink("f"); err != nil {
		t.Fatal(err)
	}
	if want := int64(limit - DirentCost - 1); fs.Used() != want {
		t.Fatalf("used after unlink = %d, want %d (still open)", fs.Used(), want)
	}
	buf := make([]byte, 3)
	if n, _ := ops.ReadAt(buf, 10); n != 3 || string(buf) != "abc" {
		t.Fatalf("unlinked file content %q", buf[:n])
	}
	ops.Close()
	if fs.Used() != InodeCost || fs.Inodes() != 1 {
		t.Fatalf("used after close = %d, inodes %d; want only the root's %d, 1", fs.Used(), fs.Inodes(), InodeCost)
	}
	g, err := root.Create("g", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	gops, _ := g.(vfs.OpenableNode).Open(unix.O_RDWR)
	if n, err := gops.WriteAt(make([]byte, 2*pageSize), 0); n != 2*pageSize || err != nil {
		t.Fatal(n, err)
	}
	gops.Close()
}

// TestSparseFileCharge: a file is charged by the pages it holds, not its
// size: a 1 GiB file with one written page costs one page, and shrinking
// it frees what lies beyond the new end.
func TestSparseFileCharge(t *testing.T) {
	fs := New(1 << 20)
	root := fs.Root()
	f := mustCreate(t, root, "f")
	base := fs.Used()
	ops, _ := f.(vfs.OpenableNode).Open(unix.O_RDWR)
	defer ops.Close()
	for _, step := range []struct {
		name      string
		op        func() error
		wantPages int64
	}{
		{"truncate to 1 GiB", func() error { return ops.Truncate(1 << 30) }, 0},
		{"write a page at 512 MiB", func() error { _, err := ops.WriteAt(make([]byte, pageSize), 512<<20); return err }, 1},
		{"write 2 bytes across pages", func() error { _, err := ops.WriteAt([]byte("ab"), 2*pageSize-1); return err }, 3},
		{"truncate to 1 TiB", func() error { return ops.Truncate(MaxFileSize) }, 3},
		{"truncate to 2 pages", func() error { return ops.Truncate(2 * pageSize) }, 1},
		{"truncate to 0", func() error { return ops.Truncate(0) }, 0},
	} {
		if err := step.op(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got, want := fs.Used()-base, step.wantPages*PageCost; got != want {
			t.Errorf("%s: charged %d bytes, want %d (%d pages)", step.name, got, want, step.wantPages)
		}
		if st := mustStat(t, f); st.Blocks != step.wantPages*pageSize/512 {
			t.Errorf("%s: %d blocks, want %d", step.name, st.Blocks, step.wantPages*pageSize/512)
		}
	}
}

// TestMetadataCharge: inodes, directory entries with their names and
// symlink targets are charged, and given back when they go.
func TestMetadataCharge(t *testing.T) {
	long := strings.Repeat("x", 4000)
	for _, tc := range []struct {
		name string
		make func(d vfs.DirNode) error
		undo func(d vfs.DirNode) error
		want int64
	}{
		{"file", func(d vfs.DirNode) error { _, err := d.Create("name", 0o644); return err },
			func(d vfs.DirNode) error { return d.Unlink("name") }, InodeCost + DirentCost + 4},
		{"dir", func(d vfs.DirNode) error { return d.Mkdir("name", 0o755) },
			func(d vfs.DirNode) error { return d.Rmdir("name") }, InodeCost + DirentCost + 4},
		{"symlink", func(d vfs.DirNode) error { return d.Symlink(long, "name") },
			func(d vfs.DirNode) error { return d.Unlink("name") }, InodeCost + DirentCost + 4 + 4000},
		{"rename to a longer name", func(d vfs.DirNode) error { return d.Rename("f", d, "longer") },
			func(d vfs.DirNode) error { return d.Rename("longer", d, "f") }, 5},
		{"hard link", func(d vfs.DirNode) error { return d.(vfs.Linker).Link(lookup(t, d, "f"), "hl") },
			func(d vfs.DirNode) error { return d.Unlink("hl") }, DirentCost + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := New(0)
			root := fs.Root()
			mustCreate(t, root, "f")
			before, inodes := fs.Used(), fs.Inodes()
			if err := tc.make(root); err != nil {
				t.Fatal(err)
			}
			if got := fs.Used() - before; got != tc.want {
				t.Errorf("charged %d, want %d", got, tc.want)
			}
			if err := tc.undo(root); err != nil {
				t.Fatal(err)
			}
			if fs.Used() != before || fs.Inodes() != inodes {
				t.Errorf("after undo: used %d inodes %d, want %d and %d", fs.Used(), fs.Inodes(), before, inodes)
			}
		})
	}
}

// TestInodeLimit: a limited file system holds at most one inode per page
// of its size, counting the root, and a failed creation leaves nothing
// charged; SetInodeLimit overrides the default.
func TestInodeLimit(t *testing.T) {
	fs := New(16 * pageSize)
	root := fs.Root()
	n := 0
	var err error
	for ; n < 100; n++ {
		if _, err = root.Create(fmt.Sprint(n), 0o644); err != nil {
			break
		}
	}
	wantErrno(t, "create past the inode cap", err, unix.ENOSPC)
	if n != 15 {
		t.Errorf("created %d files, want 15 (16 inodes with the root)", n)
	}
	used := fs.Used()
	wantErrno(t, "mkdir past the inode cap", root.Mkdir("d", 0o755), unix.ENOSPC)
	wantErrno(t, "symlink past the inode cap", root.Symlink("t", "l"), unix.ENOSPC)
	if fs.Used() != used || fs.Inodes() != 16 {
		t.Errorf("failed creations changed the charge: used %d -> %d, inodes %d", used, fs.Used(), fs.Inodes())
	}
	wantErrno(t, "hard link past the inode cap", root.(vfs.Linker).Link(lookup(t, root, "0"), "hl"), 0)
	if err := root.Unlink("1"); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "create after unlink", root.Mkdir("d", 0o755), 0)

	big := New(16 * pageSize)
	big.SetInodeLimit(3)
	mustCreate(t, big.Root(), "a")
	mustCreate(t, big.Root(), "b")
	_, err = big.Root().Create("c", 0o644)
	wantErrno(t, "create past SetInodeLimit(3)", err, unix.ENOSPC)
}

// TestSharing: a file system made with Sharing draws from the other's
// limits.
func TestSharing(t *testing.T) {
	a := New(8 * pageSize)
	b := Sharing(a)
	if a.Inodes() != 2 {
		t.Fatalf("two roots: %d inodes", a.Inodes())
	}
	n := 0
	for ; n < 10; n++ {
		if _, err := b.Root().Create(fmt.Sprint(n), 0o644); err != nil {
			wantErrno(t, "create in b", err, unix.ENOSPC)
			break
		}
	}
	if n != 6 {
		t.Errorf("b took %d files, want 6 (8 inodes less both roots)", n)
	}
	_, err := a.Root().Create("x", 0o644)
	wantErrno(t, "create in a when b used the inodes", err, unix.ENOSPC)
}

// TestChargesCoverHeap: what memfs charges for empty files, directories,
// symlinks and data pages is at least what they take on the heap, so the
// size limit bounds litebox's memory and not only a count.
func TestChargesCoverHeap(t *testing.T) {
	const n = 2000
	target := strings.Repeat("t", 100)
	for _, tc := range []struct {
		name   string
		make   func(d vfs.DirNode, i int) error
		charge int64
	}{
		{"files", func(d vfs.DirNode, i int) error { _, err := d.Create(fmt.Sprintf("%08d", i), 0o644); return err },
			InodeCost + DirentCost + 8},
		{"dirs", func(d vfs.DirNode, i int) error { return d.Mkdir(fmt.Sprintf("%08d", i), 0o755) },
			InodeCost + DirentCost + 8},
		{"symlinks", func(d vfs.DirNode, i int) error { return d.Symlink(target, fmt.Sprintf("%08d", i)) },
			InodeCost + DirentCost + 8 + 100},
		{"pages", func(d vfs.DirNode, i int) error {
			f := lookup(t, d, "data").(*File)
			f.mu.Lock()
			defer f.mu.Unlock()
			_, err := f.writeLocked([]byte("x"), int64(i)*7*pageSize)
			return err
		}, PageCost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := New(0)
			root := fs.Root()
			mustCreate(t, root, "data")
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := range n {
				// The guest's names arrive as fresh strings, as here.
				if err := tc.make(root, i); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perObject := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
			t.Logf("%s: %d bytes of heap each, %d charged", tc.name, perObject, tc.charge)
			if perObject > tc.charge {
				t.Errorf("%s take %d bytes of heap each but are charged %d", tc.name, perObject, tc.charge)
			}
			runtime.KeepAlive(root)
		})
	}
}

func TestHardLink(t *testing.T) {
	fs := New(0)
	root := fs.Root()
	f, _ := root.Create("a", 0o644)
	l := root.(vfs.Linker)
	if err := l.Link(f, "b"); err != nil {
		t.Fatal(err)
	}
	if n := mustStat(t, f).Nlink; n != 2 {
		t.Fatalf("nlink = %d", n)
	}
	write(t, lookup(t, root, "b"), 0, "shared")
	if string(readAll(t, f)) != "shared" {
		t.Fatal("links do not share data")
	}
	wantErrno(t, "rename onto own link", root.Rename("a", root, "b"), 0)
	if _, err := root.Lookup("a"); err != nil {
		t.Fatal("rename between links of one file must do nothing")
	}
	root.Unlink("a")
	if n := mustStat(t, f).Nlink; n != 1 {
		t.Fatalf("nlink after unlink = %d", n)
	}
	root.Mkdir("d", 0o755)
	wantErrno(t, "link dir", l.Link(lookup(t, root, "d"), "d2"), unix.EPERM)
	wantErrno(t, "link across fs", l.Link(mustCreate(t, New(0).Root(), "x"), "x"), unix.EXDEV)
	wantErrno(t, "link existing name", l.Link(f, "d"), unix.EEXIST)
}

func mustCreate(t *testing.T, d vfs.DirNode, name string) vfs.Node {
	t.Helper()
	n, err := d.Create(name, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func after(a, b unix.Timespec) bool { return tsBefore(b, a) }

func TestTimestamps(t *testing.T) {
	root := New(0).Root()
	old := unix.Timespec{Sec: 1000}
	f := mustCreate(t, root, "f")
	sa := f.(vfs.SetAttrer)
	rootSA := root.(vfs.SetAttrer)
	reset := func() {
		sa.Utimes(old, old)
		rootSA.Utimes(old, old)
	}

	reset()
	write(t, f, 0, "x")
	st := mustStat(t, f)
	if !after(st.Mtime, old) || !after(st.Ctime, old) || st.Atime != old {
		t.Fatalf("write: atime %v mtime %v ctime %v", st.Atime, st.Mtime, st.Ctime)
	}

	reset()
	readAll(t, f) // relatime: atime older than mtime is refreshed
	if st := mustStat(t, f); !after(st.Atime, old) || st.Mtime != old {
		t.Fatalf("read: atime %v mtime %v", st.Atime, st.Mtime)
	}

	reset()
	sa.Chmod(0o600)
	st = mustStat(t, f)
	if st.Mode != unix.S_IFREG|0o600 || st.Mtime != old || !after(st.Ctime, old) {
		t.Fatalf("chmod: mode %o mtime %v ctime %v", st.Mode, st.Mtime, st.Ctime)
	}

	sa.Utimes(unix.Timespec{Sec: 5, Nsec: unix.UTIME_OMIT}, unix.Timespec{Sec: 42, Nsec: 7})
	st = mustStat(t, f)
	if st.Mtime != (unix.Timespec{Sec: 42, Nsec: 7}) || st.Atime != old {
		t.Fatalf("utimes omit: atime %v mtime %v", st.Atime, st.Mtime)
	}
	sa.Utimes(unix.Timespec{Nsec: unix.UTIME_NOW}, unix.Timespec{Nsec: unix.UTIME_OMIT})
	if st := mustStat(t, f); !after(st.Atime, old) || st.Mtime != (unix.Timespec{Sec: 42, Nsec: 7}) {
		t.Fatalf("utimes now: atime %v mtime %v", st.Atime, st.Mtime)
	}

	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"create", func() error { _, err := root.Create("g", 0o644); return err }},
		{"mkdir", func() error { return root.Mkdir("d", 0o755) }},
		{"symlink", func() error { return root.Symlink("t", "s") }},
		{"unlink", func() error { return root.Unlink("g") }},
		{"rename", func() error { return root.Rename("s", root, "s2") }},
		{"rmdir", func() error { return root.Rmdir("d") }},
	} {
		reset()
		if err := op.do(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if st := mustStat(t, root); !after(st.Mtime, old) || !after(st.Ctime, old) {
			t.Fatalf("%s did not update the parent's mtime/ctime", op.name)
		}
	}
}

func TestOwnershipAndModes(t *testing.T) {
	root := New(0).Root()
	f := mustCreate(t, root, "f")
	st := mustStat(t, f)
	if st.Uid != vfs.GuestUID || st.Gid != vfs.GuestGID || st.Mode != unix.S_IFREG|0o644 || st.Nlink != 1 {
		t.Fatalf("new file stat %+v", st)
	}
	root.(vfs.SetAttrer).Chmod(0o2775)
	root.Mkdir("sg", 0o755)
	if st := mustStat(t, lookup(t, root, "sg")); st.Mode&unix.S_ISGID == 0 {
		t.Fatal("subdirectory of a setgid dir must inherit S_ISGID")
	}
	f.(vfs.SetAttrer).Chmod(0o4755)
	write(t, f, 0, "x")
	if st := mustStat(t, f); st.Mode&unix.S_ISUID != 0 {
		t.Fatal("write must clear S_ISUID")
	}
	if a, b := mustStat(t, f).Ino, mustStat(t, lookup(t, root, "f")).Ino; a != b || a == 0 {
		t.Fatal("inode number not stable")
	}
	if mustStat(t, root).Dev == mustStat(t, New(0).Root()).Dev {
		t.Fatal("two instances share a Dev")
	}
}

// TestConcurrency is meant for -race: many goroutines create, write, read,
// rename and list at once.
func TestConcurrency(t *testing.T) {
	fs := New(0)
	root := fs.Root()
	root.Mkdir("a", 0o755)
	root.Mkdir("b", 0o755)
	shared := mustCreate(t, root, "shared")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops, _ := shared.(vfs.OpenableNode).Open(unix.O_RDWR)
			defer ops.Close()
			a := ops.(vfs.Appender)
			for i := range 50 {
				name := fmt.Sprintf("f%d-%d", g, i)
				n, err := root.Create(name, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				write(t, n, 0, name)
				a.Append([]byte("0123456789"))
				root.ReadDir()
				src, dst := lookup(t, root, "a").(vfs.DirNode), lookup(t, root, "b").(vfs.DirNode)
				root.Rename(name, src, name)
				src.Rename(name, dst, name)
				dst.Unlink(name)
			}
		}()
	}
	wg.Wait()
	if st := mustStat(t, shared); st.Size != 8*50*10 {
		t.Fatalf("appends lost: size %d", st.Size)
	}
	// Left: the root, a, b and shared (with its entry), and its one page.
	if want := int64(4*InodeCost + 3*DirentCost + 1 + 1 + len("shared") + PageCost); fs.Used() != want || fs.Inodes() != 4 {
		t.Fatalf("used = %d, inodes %d; want %d, 4", fs.Used(), fs.Inodes(), want)
	}
}

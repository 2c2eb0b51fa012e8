package vfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func openT(t *testing.T, v *vfs.VFS, path string, flags int) *vfs.File {
	t.Helper()
	f, err := v.Open(path, flags, 0o644)
	must(t, "open "+path, err)
	return f
}

func TestFileOffsets(t *testing.T) {
	v, _ := newTree(t)
	f := openT(t, v, "/f", unix.O_RDWR|unix.O_CREAT)
	defer f.DecRef()
	if n, err := f.Write([]byte("0123456789")); n != 10 || err != nil {
		t.Fatal(n, err)
	}
	buf := make([]byte, 4)
	if n, err := f.Read(buf); n != 0 || err != nil {
		t.Fatalf("read at EOF: %d %v", n, err)
	}

	type step struct {
		off    int64
		whence int
		want   int64
		err    unix.Errno
	}
	for _, s := range []step{
		{0, unix.SEEK_SET, 0, 0},
		{3, unix.SEEK_CUR, 3, 0},
		{-2, unix.SEEK_END, 8, 0},
		{-9, unix.SEEK_CUR, 0, unix.EINVAL},
		{-11, unix.SEEK_END, 0, unix.EINVAL},
		{5, 42, 0, unix.EINVAL},
		{100, unix.SEEK_SET, 100, 0}, // past the end is fine
		{2, unix.SEEK_DATA, 2, 0},
		{2, unix.SEEK_HOLE, 10, 0},
		{10, unix.SEEK_DATA, 0, unix.ENXIO},
		{1<<62 + 1<<62 - 1, unix.SEEK_SET, 1<<62 + 1<<62 - 1, 0},
		{10, unix.SEEK_CUR, 0, unix.EINVAL}, // overflow
		{4, unix.SEEK_SET, 4, 0},
	} {
		got, err := f.Seek(s.off, s.whence)
		wantErrno(t, fmt.Sprintf("Seek(%d, %d)", s.off, s.whence), err, s.err)
		if s.err == 0 && got != s.want {
			t.Fatalf("Seek(%d, %d) = %d, want %d", s.off, s.whence, got, s.want)
		}
	}
	if n, _ := f.Read(buf); string(buf[:n]) != "4567" {
		t.Fatalf("read after seek: %q", buf[:n])
	}
	// pread/pwrite leave the offset alone.
	if n, _ := f.Pread(buf, 0); string(buf[:n]) != "0123" {
		t.Fatalf("pread: %q", buf[:n])
	}
	if _, err := f.Pwrite([]byte("AB"), 0); err != nil {
		t.Fatal(err)
	}
	if pos, _ := f.Seek(0, unix.SEEK_CUR); pos != 8 {
		t.Fatalf("offset moved to %d", pos)
	}
	if n, _ := f.Pread(buf, 20); n != 0 {
		t.Fatalf("pread past EOF: %d", n)
	}
	_, err := f.Pread(buf, -1)
	wantErrno(t, "pread negative", err, unix.EINVAL)
	_, err = f.Pwrite(buf, -1)
	wantErrno(t, "pwrite negative", err, unix.EINVAL)
	// Writing past the end leaves a zero-filled gap.
	f.Seek(12, unix.SEEK_SET)
	f.Write([]byte("Z"))
	if got := readFile(t, v, "/f"); got != "AB23456789\x00\x00Z" {
		t.Fatalf("content %q", got)
	}
	must(t, "ftruncate", f.Truncate(1))
	wantErrno(t, "ftruncate negative", f.Truncate(-1), unix.EINVAL)
	must(t, "fsync", f.Sync())
	if st, _ := f.Stat(); st.Size != 1 {
		t.Fatalf("size after ftruncate %d", st.Size)
	}
}

func TestFileAppend(t *testing.T) {
	v, _ := newTree(t)
	writeFile(t, v, "/log", "start\n")
	a := openT(t, v, "/log", unix.O_WRONLY|unix.O_APPEND)
	b := openT(t, v, "/log", unix.O_RDWR|unix.O_APPEND)
	defer a.DecRef()
	defer b.DecRef()
	a.Write([]byte("a1\n"))
	b.Write([]byte("b1\n"))
	a.Write([]byte("a2\n"))
	b.Pwrite([]byte("b2\n"), 0) // Linux: pwrite on O_APPEND appends
	if got := readFile(t, v, "/log"); got != "start\na1\nb1\na2\nb2\n" {
		t.Fatalf("appended content %q", got)
	}
	if pos, _ := a.Seek(0, unix.SEEK_CUR); pos != 15 {
		t.Errorf("offset after append = %d, want 15", pos)
	}

	// fcntl(F_SETFL) toggles O_APPEND but never the access mode.
	b.SetFlags(unix.O_WRONLY | unix.O_NONBLOCK)
	if got := b.Flags(); got != unix.O_RDWR|unix.O_NONBLOCK {
		t.Errorf("flags after SetFlags = %#x", got)
	}
	b.Seek(0, unix.SEEK_SET)
	b.Write([]byte("X"))
	if got := readFile(t, v, "/log"); !strings.HasPrefix(got, "Xtart") {
		t.Errorf("write without O_APPEND: %q", got)
	}

	// Concurrent appenders never overwrite each other.
	var wg sync.WaitGroup
	for range 4 {
		f := openT(t, v, "/log", unix.O_WRONLY|unix.O_APPEND)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.DecRef()
			for range 100 {
				f.Write([]byte("0123456789"))
			}
		}()
	}
	wg.Wait()
	if st, _ := v.Stat("/log", true); st.Size != 18+4000 {
		t.Errorf("size after concurrent appends %d", st.Size)
	}
}

func TestFileFlags(t *testing.T) {
	v, _ := newTree(t)
	f := openT(t, v, "/new", unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_APPEND)
	defer f.DecRef()
	if got := f.Flags(); got != unix.O_RDWR|unix.O_APPEND {
		t.Errorf("Flags() = %#x, want O_RDWR|O_APPEND", got)
	}
	if f.Path() != "/new" {
		t.Errorf("Path() = %q", f.Path())
	}
	g := openT(t, v, "/abs/../file", unix.O_RDONLY)
	defer g.DecRef()
	if g.Path() != "/a/file" {
		t.Errorf("Path() = %q, want canonical /a/file", g.Path())
	}
}

func TestFileAccessModes(t *testing.T) {
	v, _ := newTree(t)
	ro := openT(t, v, "/a/file", unix.O_RDONLY)
	wo := openT(t, v, "/a/file", unix.O_WRONLY)
	dir := openT(t, v, "/a", unix.O_RDONLY)
	path := openT(t, v, "/a/file", unix.O_PATH|unix.O_RDWR)
	for _, f := range []*vfs.File{ro, wo, dir, path} {
		defer f.DecRef()
	}
	buf := make([]byte, 4)
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"write O_RDONLY", func() error { _, err := ro.Write(buf); return err }, unix.EBADF},
		{"pwrite O_RDONLY", func() error { _, err := ro.Pwrite(buf, 0); return err }, unix.EBADF},
		{"ftruncate O_RDONLY", func() error { return ro.Truncate(0) }, unix.EINVAL},
		{"read O_WRONLY", func() error { _, err := wo.Read(buf); return err }, unix.EBADF},
		{"pread O_WRONLY", func() error { _, err := wo.Pread(buf, 0); return err }, unix.EBADF},
		{"getdents on file", func() error { _, err := ro.Getdents(0); return err }, unix.ENOTDIR},
		{"ioctl on file", func() error { _, err := ro.Ioctl(unix.TCGETS, nil); return err }, unix.ENOTTY},
		{"read dir", func() error { _, err := dir.Read(buf); return err }, unix.EISDIR},
		{"pread dir", func() error { _, err := dir.Pread(buf, 0); return err }, unix.EISDIR},
		{"ftruncate dir", func() error { return dir.Truncate(0) }, unix.EINVAL},
		{"seek end dir", func() error { _, err := dir.Seek(0, unix.SEEK_END); return err }, unix.EINVAL},
		{"fsync dir", func() error { return dir.Sync() }, 0},
		{"O_PATH read", func() error { _, err := path.Read(buf); return err }, unix.EBADF},
		{"O_PATH write", func() error { _, err := path.Write(buf); return err }, unix.EBADF},
		{"O_PATH seek", func() error { _, err := path.Seek(0, unix.SEEK_SET); return err }, unix.EBADF},
		{"O_PATH truncate", func() error { return path.Truncate(0) }, unix.EBADF},
		{"O_PATH fsync", func() error { return path.Sync() }, unix.EBADF},
		{"O_PATH ioctl", func() error { _, err := path.Ioctl(0, nil); return err }, unix.EBADF},
		{"O_PATH stat", func() error { _, err := path.Stat(); return err }, 0},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	if path.Flags() != unix.O_PATH {
		t.Errorf("O_PATH flags %#x", path.Flags())
	}
}

func TestGetdents(t *testing.T) {
	v, _ := newTree(t)
	for _, n := range []string{"x", "y", "z"} {
		writeFile(t, v, "/a/b/c/"+n, "")
	}
	f := openT(t, v, "/a/b/c", unix.O_RDONLY|unix.O_DIRECTORY)
	defer f.DecRef()
	self, _ := v.Stat("/a/b/c", true)
	parent, _ := v.Stat("/a/b", true)
	xst, _ := v.Stat("/a/b/c/x", true)

	first, err := f.Getdents(2)
	must(t, "getdents", err)
	if names(first) != ". .." || first[0].Ino != self.Ino || first[1].Ino != parent.Ino ||
		first[0].Type != unix.DT_DIR {
		t.Fatalf("first batch %+v", first)
	}
	rest, _ := f.Getdents(0)
	if names(rest) != "x y z" || rest[0].Ino != xst.Ino || rest[0].Type != unix.DT_REG {
		t.Fatalf("rest %+v", rest)
	}
	end, err := f.Getdents(10)
	if err != nil || end == nil || len(end) != 0 {
		t.Fatalf("at end: %v %v", end, err)
	}
	// The cursor is the entry index: seek back to it like seekdir.
	if pos, _ := f.Seek(0, unix.SEEK_CUR); pos != 5 {
		t.Fatalf("cursor %d", pos)
	}
	f.Seek(3, unix.SEEK_SET)
	if ents, _ := f.Getdents(0); names(ents) != "y z" {
		t.Fatalf("after seekdir: %s", names(ents))
	}
	// rewinddir refreshes the snapshot.
	writeFile(t, v, "/a/b/c/w", "")
	f.Seek(0, unix.SEEK_SET)
	if ents, _ := f.Getdents(0); names(ents) != ". .. w x y z" {
		t.Fatalf("after rewind: %s", names(ents))
	}
	// GetdentsFunc stops without consuming the refused entry.
	f.Seek(0, unix.SEEK_SET)
	var got []string
	var offs []int64
	must(t, "GetdentsFunc", f.GetdentsFunc(func(e vfs.DirEntry, next int64) bool {
		if len(got) == 3 {
			return false
		}
		got = append(got, e.Name)
		offs = append(offs, next)
		return true
	}))
	if fmt.Sprint(got, offs) != "[. .. w] [1 2 3]" {
		t.Fatalf("GetdentsFunc: %v %v", got, offs)
	}
	if ents, _ := f.Getdents(1); names(ents) != "x" {
		t.Fatalf("entry after refusal: %s", names(ents))
	}

	// At "/", ".." is "/" itself.
	r := openT(t, v, "/", unix.O_RDONLY)
	defer r.DecRef()
	ents, _ := r.Getdents(2)
	if ents[0].Ino != ents[1].Ino {
		t.Fatalf("root . and .. differ: %+v", ents)
	}
}

func TestRefcount(t *testing.T) {
	v, fs := newTree(t)
	f := openT(t, v, "/big", unix.O_RDWR|unix.O_CREAT)
	f.Write(bytes.Repeat([]byte("x"), 1000))
	must(t, "unlink", v.Unlink("/big"))
	// Still open: fstat works and the data is still charged.
	st, err := f.Stat()
	must(t, "fstat unlinked", err)
	if st.Size != 1000 || st.Nlink != 0 {
		t.Fatalf("fstat after unlink: size %d nlink %d", st.Size, st.Nlink)
	}
	used := fs.Used()
	f.IncRef() // dup
	must(t, "first DecRef", f.DecRef())
	if fs.Used() != used {
		t.Fatal("file closed while a reference remained")
	}
	if n, _ := f.Pread(make([]byte, 3), 0); n != 3 {
		t.Fatal("dup'ed file unusable")
	}
	must(t, "last DecRef", f.DecRef())
	// Its data page and inode are given back.
	if want := used - memfs.PageCost - memfs.InodeCost; fs.Used() != want {
		t.Fatalf("last DecRef did not close: used %d, want %d", fs.Used(), want)
	}
	wantErrno(t, "extra DecRef", f.DecRef(), unix.EBADF)
}

// TestWatchRelease: watchers run once, at the last DecRef, unless
// cancelled; a released file accepts no more watchers.
func TestWatchRelease(t *testing.T) {
	v, _ := newTree(t)
	f := openT(t, v, "/w", unix.O_RDWR|unix.O_CREAT)
	var fired []string
	_, ok := f.WatchRelease(func() { fired = append(fired, "kept") })
	cancel, ok2 := f.WatchRelease(func() { fired = append(fired, "cancelled") })
	if !ok || !ok2 {
		t.Fatal("WatchRelease refused on an open file")
	}
	cancel()
	cancel() // twice is harmless
	f.IncRef()
	must(t, "first DecRef", f.DecRef())
	if len(fired) != 0 {
		t.Fatalf("watchers ran with a reference left: %v", fired)
	}
	must(t, "last DecRef", f.DecRef())
	if len(fired) != 1 || fired[0] != "kept" {
		t.Fatalf("watchers ran: %v, want [kept]", fired)
	}
	if _, ok := f.WatchRelease(func() {}); ok {
		t.Fatal("WatchRelease accepted a released file")
	}
}

type fakeTTY struct{ req uint }

func (t *fakeTTY) Ioctl(req uint, arg []byte) (int, error) {
	t.req = req
	if req != unix.TCGETS {
		return 0, unix.EINVAL
	}
	return 0, nil
}

func TestStreamFile(t *testing.T) {
	in := strings.NewReader("input")
	var out bytes.Buffer
	tty := &fakeTTY{}
	f := vfs.NewStreamFile("/dev/pts/0", in, &out, tty)
	defer f.DecRef()
	buf := make([]byte, 16)
	if n, err := f.Read(buf); string(buf[:n]) != "input" || err != nil {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if n, err := f.Read(buf); n != 0 || err != nil {
		t.Fatalf("read at EOF: %d %v", n, err)
	}
	if n, err := f.Write([]byte("output")); n != 6 || err != nil || out.String() != "output" {
		t.Fatalf("write %d %v %q", n, err, out.String())
	}
	st, err := f.Stat()
	must(t, "stat", err)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(136, 0) {
		t.Errorf("stat mode %o rdev %x", st.Mode, st.Rdev)
	}
	if f.Path() != "/dev/pts/0" || f.Flags() != unix.O_RDWR {
		t.Errorf("path %q flags %#x", f.Path(), f.Flags())
	}
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"pread", func() error { _, err := f.Pread(buf, 0); return err }, unix.ESPIPE},
		{"pwrite", func() error { _, err := f.Pwrite(buf, 0); return err }, unix.ESPIPE},
		{"seek", func() error { _, err := f.Seek(0, unix.SEEK_SET); return err }, unix.ESPIPE},
		{"ftruncate", func() error { return f.Truncate(0) }, unix.EINVAL},
		{"ioctl TCGETS", func() error { _, err := f.Ioctl(unix.TCGETS, nil); return err }, 0},
		{"ioctl other", func() error { _, err := f.Ioctl(unix.TIOCSTI, nil); return err }, unix.EINVAL},
		{"getdents", func() error { _, err := f.Getdents(0); return err }, unix.ENOTDIR},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}

	// No reader: end of file; no writer: EBADF and read-only flags; no
	// tty: ENOTTY and no pts rdev.
	g := vfs.NewStreamFile("stdin", nil, nil, nil)
	if n, err := g.Read(buf); n != 0 || err != nil {
		t.Errorf("nil reader: %d %v", n, err)
	}
	_, err = g.Write(buf)
	wantErrno(t, "nil writer", err, unix.EBADF)
	_, err = g.Ioctl(unix.TCGETS, nil)
	wantErrno(t, "no tty", err, unix.ENOTTY)
	if g.Flags() != unix.O_RDONLY {
		t.Errorf("flags %#x", g.Flags())
	}
	if st, _ := g.Stat(); st.Rdev != 0 || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("non-tty stat %+v", st)
	}

	// Host writer errors surface as errnos.
	h := vfs.NewStreamFile("stdout", nil, errWriter{}, nil)
	_, err = h.Write([]byte("x"))
	wantErrno(t, "broken pipe", err, unix.EPIPE)
	h2 := vfs.NewStreamFile("stdout", nil, errWriter{errors.New("boom")}, nil)
	_, err = h2.Write([]byte("x"))
	wantErrno(t, "opaque error", err, unix.EIO)
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	return 0, fmt.Errorf("write: %w", unix.EPIPE)
}

func TestErrnoOf(t *testing.T) {
	tests := []struct {
		err  error
		want unix.Errno
	}{
		{nil, 0},
		{unix.ENOENT, unix.ENOENT},
		{fmt.Errorf("wrapped: %w", unix.EACCES), unix.EACCES},
		{errors.New("opaque"), unix.EIO},
	}
	for _, tc := range tests {
		if got := vfs.ErrnoOf(tc.err); got != tc.want {
			t.Errorf("ErrnoOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestConcurrentVFS is meant for -race.
func TestConcurrentVFS(t *testing.T) {
	v, _ := newTree(t)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := fmt.Sprintf("/tmp/g%d", g)
			if err := v.Mkdir(dir, 0o755); err != nil {
				t.Error(err)
				return
			}
			for i := range 30 {
				p := fmt.Sprintf("%s/f%d", dir, i)
				f, err := v.Open(p, unix.O_CREAT|unix.O_RDWR, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				f.Write([]byte(p))
				f.Getdents(0)
				f.DecRef()
				v.Stat("/abs/c", true)
				v.Rename(p, p+".moved")
				d, _ := v.Open("/tmp", unix.O_RDONLY, 0)
				d.Getdents(0)
				d.DecRef()
				v.Unlink(p + ".moved")
			}
		}()
	}
	wg.Wait()
}

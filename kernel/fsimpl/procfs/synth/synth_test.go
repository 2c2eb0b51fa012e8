package synth_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/procfs/synth"
	"github.com/litebox-go/litebox/kernel/vfs"
)

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

// procTree is a miniature /proc: one directory per live "process", a
// counter file and a self link, all computed on demand.
type procTree struct {
	mu      sync.Mutex
	pids    map[int]*synth.Dir
	self    int
	counter int
}

func (p *procTree) add(pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := synth.NewStaticDir(map[string]vfs.Node{
		"comm": synth.NewFile(0o444, func() ([]byte, error) { return []byte(fmt.Sprintf("proc%d\n", pid)), nil }),
	})
	d.SetOwner(vfs.GuestUID, vfs.GuestGID)
	p.pids[pid] = d
}

func (p *procTree) fs() *synth.FS {
	counter := synth.NewFile(0o444, func() ([]byte, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.counter++
		return []byte(strings.Repeat("x", p.counter)), nil
	})
	broken := synth.NewFile(0o444, func() ([]byte, error) { return nil, errors.New("backend gone") })
	denied := synth.NewFile(0o400, func() ([]byte, error) { return []byte("secret"), nil })
	gone := synth.NewFile(0o444, func() ([]byte, error) { return nil, fmt.Errorf("pid 7: %w", unix.ESRCH) })
	self := synth.NewSymlink(func() (string, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return strconv.Itoa(p.self), nil
	})
	return synth.NewFS("proc", synth.NewDir(func() map[string]vfs.Node {
		p.mu.Lock()
		defer p.mu.Unlock()
		m := map[string]vfs.Node{"counter": counter, "self": self, "broken": broken, "denied": denied, "gone": gone}
		for pid, d := range p.pids {
			m[strconv.Itoa(pid)] = d
		}
		return m
	}))
}

func newProc(t *testing.T) (*vfs.VFS, *procTree) {
	t.Helper()
	p := &procTree{pids: map[int]*synth.Dir{}, self: 1}
	p.add(1)
	v := vfs.New(memfs.New(0))
	if err := v.Mkdir("/proc", 0o555); err != nil {
		t.Fatal(err)
	}
	if err := v.Mount("/proc", p.fs()); err != nil {
		t.Fatal(err)
	}
	return v, p
}

func read(t *testing.T, f *vfs.File) string {
	t.Helper()
	buf := make([]byte, 100)
	var sb strings.Builder
	for {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return sb.String()
		}
		sb.Write(buf[:n])
	}
}

func list(t *testing.T, v *vfs.VFS, path string) string {
	t.Helper()
	f, err := v.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	ents, _ := f.Getdents(0)
	var s []string
	for _, e := range ents {
		s = append(s, e.Name)
	}
	return strings.Join(s, " ")
}

func TestDynamicDir(t *testing.T) {
	v, p := newProc(t)
	if got := list(t, v, "/proc"); got != ". .. 1 broken counter denied gone self" {
		t.Fatalf("listing %q", got)
	}
	_, err := v.Stat("/proc/2/comm", true)
	wantErrno(t, "missing pid", err, unix.ENOENT)
	p.add(2)
	p.mu.Lock()
	p.self = 2
	p.mu.Unlock()
	if got := list(t, v, "/proc"); got != ". .. 1 2 broken counter denied gone self" {
		t.Fatalf("listing after add %q", got)
	}
	f, err := v.Open("/proc/self/comm", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	if got := read(t, f); got != "proc2\n" {
		t.Fatalf("self/comm = %q", got)
	}
	if target, _ := v.Readlink("/proc/self"); target != "2" {
		t.Fatalf("self -> %q", target)
	}
	st, _ := v.Stat("/proc/2", true)
	if st.Uid != vfs.GuestUID || st.Mode != unix.S_IFDIR|0o555 {
		t.Errorf("pid dir stat %+v", st)
	}
	a, _ := v.Stat("/proc/1/comm", true)
	b, _ := v.Stat("/proc/1/comm", true)
	root, _ := v.Stat("/", true)
	if a.Ino != b.Ino || a.Ino == 0 || a.Dev == 0 || a.Dev == root.Dev {
		t.Errorf("ino/dev: %+v %+v", a, b)
	}
}

func TestSnapshotAtOpen(t *testing.T) {
	v, _ := newProc(t)
	f1, _ := v.Open("/proc/counter", unix.O_RDONLY, 0)
	defer f1.DecRef()
	f2, _ := v.Open("/proc/counter", unix.O_RDONLY, 0)
	defer f2.DecRef()
	// Each open took its own snapshot; reading does not re-evaluate.
	if a, b := read(t, f1), read(t, f2); a != "x" || b != "xx" {
		t.Fatalf("snapshots %q %q", a, b)
	}
	f1.Seek(0, unix.SEEK_SET)
	if got := read(t, f1); got != "x" {
		t.Fatalf("re-read %q", got)
	}
	buf := make([]byte, 1)
	if n, _ := f2.Pread(buf, 1); n != 1 || buf[0] != 'x' {
		t.Fatalf("pread %d %q", n, buf)
	}
}

func TestErrors(t *testing.T) {
	v, _ := newProc(t)
	open := func(path string, flags int) func() error {
		return func() error {
			f, err := v.Open(path, flags, 0o644)
			if err == nil {
				f.DecRef()
			}
			return err
		}
	}
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"open for write", open("/proc/1/comm", unix.O_WRONLY), unix.EROFS},
		{"create", open("/proc/new", unix.O_CREAT|unix.O_WRONLY), unix.EROFS},
		{"mkdir", func() error { return v.Mkdir("/proc/x", 0o755) }, unix.EROFS},
		{"unlink", func() error { return v.Unlink("/proc/counter") }, unix.EROFS},
		{"opaque content error", open("/proc/broken", unix.O_RDONLY), unix.EIO},
		{"wrapped errno content error", open("/proc/gone", unix.O_RDONLY), unix.ESRCH},
		{"permission bits", open("/proc/denied", unix.O_RDONLY), unix.EACCES},
		{"node write", func() error {
			n, _ := v.Open("/proc/1/comm", unix.O_PATH, 0)
			defer n.DecRef()
			_, err := n.Node().(vfs.OpenableNode).Open(unix.O_RDWR)
			return err
		}, unix.EROFS},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
}

func TestStaticTree(t *testing.T) {
	file := synth.NewFile(0o644, func() ([]byte, error) { return []byte("abc"), nil })
	link := synth.NewSymlink(func() (string, error) { return "f", nil })
	fs := synth.NewFS("test", synth.NewStaticDir(map[string]vfs.Node{"f": file, "l": link, "nil": nil}))
	v := vfs.New(fs)
	st, err := v.Stat("/l", true)
	if err != nil || st.Size != 0 || st.Mode != unix.S_IFREG|0o644 {
		t.Fatalf("stat via link %+v %v", st, err)
	}
	f, err := v.Open("/l", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	if st, _ := f.Stat(); st.Size != 3 {
		t.Fatalf("fstat of snapshot: size %d", st.Size)
	}
	if st, _ := v.Stat("/l", false); st.Size != 1 || st.Mode != unix.S_IFLNK|0o777 {
		t.Fatalf("lstat %+v", st)
	}
	if got := list(t, v, "/"); got != ". .. f l" {
		t.Fatalf("listing %q", got)
	}
	_, err = v.Stat("/nil", false)
	wantErrno(t, "nil entry", err, unix.ENOENT)
	if !fs.ReadOnly() || fs.Name() != "test" {
		t.Fatal("FS metadata")
	}
}

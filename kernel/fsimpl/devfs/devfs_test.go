package devfs_test

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/devfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
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

// newVFS mounts a devfs on /dev of an otherwise empty memfs root.
func newVFS(t *testing.T) (*vfs.VFS, *devfs.FS) {
	t.Helper()
	v := vfs.New(memfs.New(0))
	if err := v.Mkdir("/dev", 0o755); err != nil {
		t.Fatal(err)
	}
	d := devfs.New()
	if err := v.Mount("/dev", d); err != nil {
		t.Fatal(err)
	}
	return v, d
}

func TestDeviceNodes(t *testing.T) {
	v, _ := newVFS(t)
	tests := []struct {
		name         string
		major, minor uint32
		read         []byte // expected content of an 8-byte read; nil: not checked
		readN        int
		writeErr     unix.Errno
	}{
		{"null", 1, 3, []byte{}, 0, 0},
		{"zero", 1, 5, make([]byte, 8), 8, 0},
		{"full", 1, 7, make([]byte, 8), 8, unix.ENOSPC},
		{"random", 1, 8, nil, 8, 0},
		{"urandom", 1, 9, nil, 8, 0},
	}
	for _, tc := range tests {
		path := "/dev/" + tc.name
		st, err := v.Stat(path, true)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode != unix.S_IFCHR|0o666 || st.Rdev != unix.Mkdev(tc.major, tc.minor) || st.Uid != 0 {
			t.Errorf("%s: mode %o rdev %d:%d uid %d", path, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Uid)
		}
		// Writable although devfs is read-only: devices are exempt from
		// EROFS, and O_TRUNC is ignored on them.
		f, err := v.Open(path, unix.O_RDWR|unix.O_TRUNC, 0)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		buf := bytes.Repeat([]byte{0xff}, 8)
		n, err := f.Read(buf)
		if err != nil || n != tc.readN || tc.read != nil && !bytes.Equal(buf[:n], tc.read) {
			t.Errorf("%s: read %d %x %v", path, n, buf[:n], err)
		}
		n, err = f.Write([]byte("data"))
		wantErrno(t, path+" write", err, tc.writeErr)
		if tc.writeErr == 0 && n != 4 {
			t.Errorf("%s: wrote %d", path, n)
		}
		if _, err := f.Seek(0, unix.SEEK_SET); err != nil {
			t.Errorf("%s: lseek: %v", path, err)
		}
		wantErrno(t, path+" ftruncate", f.Truncate(0), unix.EINVAL)
		f.DecRef()
	}

	// Two urandom reads differ (probability of a false failure: 2^-256).
	f, _ := v.Open("/dev/urandom", unix.O_RDONLY, 0)
	defer f.DecRef()
	a, b := make([]byte, 32), make([]byte, 32)
	f.Read(a)
	f.Read(b)
	if bytes.Equal(a, b) {
		t.Error("urandom returned the same bytes twice")
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	v, d := newVFS(t)
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"create", func() error { _, err := v.Open("/dev/new", unix.O_CREAT|unix.O_WRONLY, 0o644); return err }, unix.EROFS},
		{"mkdir", func() error { return v.Mkdir("/dev/shm", 0o755) }, unix.EROFS},
		{"unlink", func() error { return v.Unlink("/dev/null") }, unix.EROFS},
		{"rename", func() error { return v.Rename("/dev/null", "/dev/nil") }, unix.EROFS},
		{"symlink", func() error { return v.Symlink("null", "/dev/x") }, unix.EROFS},
		{"chmod", func() error { return v.Chmod("/dev/null", 0o600, true) }, unix.EROFS},
		{"access W_OK", func() error { return v.Access("/dev/null", unix.W_OK, true) }, 0},
		{"node create", func() error { _, err := d.Root().Create("x", 0o644); return err }, unix.EROFS},
		{"add existing", func() error { return d.Add("null", d.Root()) }, unix.EEXIST},
		{"add bad name", func() error { return d.Add("a/b", d.Root()) }, unix.EINVAL},
		{"add nil", func() error { return d.Add("x", nil) }, unix.EINVAL},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	// A read-only devfs lets the sandbox mount e.g. /dev/shm on a skeleton.
	if err := v.Mount("/dev/shm", memfs.New(0)); err != nil {
		t.Fatal(err)
	}
	if err := v.Mkdir("/dev/shm/x", 0o700); err != nil {
		t.Fatal(err)
	}
}

func TestListingAndLinks(t *testing.T) {
	v, d := newVFS(t)
	tty := vfs.NewStreamFile("tty", nil, nil, nil).Node()
	if err := d.Add("tty", tty); err != nil {
		t.Fatal(err)
	}
	f, _ := v.Open("/dev", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	defer f.DecRef()
	ents, _ := f.Getdents(0)
	var names []string
	types := map[string]uint8{}
	for _, e := range ents {
		names = append(names, e.Name)
		types[e.Name] = e.Type
	}
	want := ". .. fd full null random stderr stdin stdout tty urandom zero"
	if got := join(names); got != want {
		t.Errorf("listing %q, want %q", got, want)
	}
	if types["null"] != unix.DT_CHR || types["stdin"] != unix.DT_LNK {
		t.Errorf("types %v", types)
	}
	for link, target := range map[string]string{
		"/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
		"/dev/stderr": "/proc/self/fd/2", "/dev/fd": "/proc/self/fd",
	} {
		got, err := v.Readlink(link)
		if err != nil || got != target {
			t.Errorf("readlink %s = %q, %v", link, got, err)
		}
	}
	a, _ := v.Stat("/dev/null", true)
	b, _ := v.Stat("/dev/zero", true)
	root, _ := v.Stat("/", true)
	if a.Ino == b.Ino || a.Dev != b.Dev || a.Dev == root.Dev {
		t.Errorf("inode/dev numbering: %+v %+v", a, b)
	}
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

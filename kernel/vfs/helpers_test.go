package vfs_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// wantErrno fails unless err carries exactly want (0 meaning success). It
// also checks the contract that every error is (or wraps) a unix.Errno.
func wantErrno(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	var got unix.Errno
	if err != nil && !errors.As(err, &got) {
		t.Fatalf("%s: error %v (%T) is not an errno", what, err, err)
	}
	if got != want {
		t.Fatalf("%s: got errno %v (%d), want %v (%d)", what, got, got, want, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// roFS presents a file system as read-only, to exercise the VFS's own
// EROFS checks independently of any file system implementation.
type roFS struct{ vfs.FileSystem }

func (roFS) ReadOnly() bool { return true }

// writeFile creates (or truncates) path with content.
func writeFile(t *testing.T, v *vfs.VFS, path, content string) {
	t.Helper()
	f, err := v.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	must(t, "create "+path, err)
	defer f.DecRef()
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// readFile returns the whole content of path.
func readFile(t *testing.T, v *vfs.VFS, path string) string {
	t.Helper()
	f, err := v.Open(path, unix.O_RDONLY, 0)
	must(t, "open "+path, err)
	defer f.DecRef()
	return readAll(t, f)
}

func readAll(t *testing.T, f *vfs.File) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := f.Read(buf)
		if err != nil && err != io.EOF {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return sb.String()
		}
		sb.Write(buf[:n])
	}
}

// newTree returns a VFS over a fresh memfs holding:
//
//	/a/file ("hello")   /a/b/c/   /tmp/
//	/abs -> /a/b        /rel -> a/b        /a/up -> ..
//	/a/filelink -> file /dangling -> /nope
//	/loop1 <-> /loop2   /self -> self
func newTree(t *testing.T) (*vfs.VFS, *memfs.FS) {
	t.Helper()
	fs := memfs.New(0)
	v := vfs.New(fs)
	for _, d := range []string{"/a", "/a/b", "/a/b/c", "/tmp"} {
		must(t, "mkdir "+d, v.Mkdir(d, 0o755))
	}
	writeFile(t, v, "/a/file", "hello")
	for link, target := range map[string]string{
		"/abs": "/a/b", "/rel": "a/b", "/a/up": "..", "/a/filelink": "file",
		"/dangling": "/nope", "/loop1": "/loop2", "/loop2": "/loop1", "/self": "self",
	} {
		must(t, "symlink "+link, v.Symlink(target, link))
	}
	return v, fs
}

func names(ents []vfs.DirEntry) string {
	var s []string
	for _, e := range ents {
		s = append(s, e.Name)
	}
	return strings.Join(s, " ")
}

// listDir returns all getdents names of path.
func listDir(t *testing.T, v *vfs.VFS, path string) string {
	t.Helper()
	f, err := v.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "open dir "+path, err)
	defer f.DecRef()
	ents, err := f.Getdents(0)
	must(t, "getdents", err)
	return names(ents)
}

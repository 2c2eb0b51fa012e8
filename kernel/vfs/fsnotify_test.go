package vfs_test

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// recorder is a Watcher that writes down what it gets.
type recorder struct {
	name    string
	log     *[]string
	oneshot bool
}

func (r *recorder) Notify(e vfs.Event) bool {
	s := fmt.Sprintf("%s %#x", r.name, e.Mask)
	if e.Name != "" {
		s += " " + e.Name
	}
	if e.Cookie != 0 {
		s += " cookie"
	}
	*r.log = append(*r.log, s)
	return r.oneshot
}

func (r *recorder) Ignored() { *r.log = append(*r.log, r.name+" ignored") }

func watch(t *testing.T, v *vfs.VFS, path, name string, log *[]string, oneshot bool) *recorder {
	t.Helper()
	st, err := v.Stat(path, true)
	must(t, "stat "+path, err)
	r := &recorder{name: name, log: log, oneshot: oneshot}
	v.AddWatch(vfs.KeyOf(&st), r)
	return r
}

func TestFsnotifyEvents(t *testing.T) {
	const (
		create, del, modify, attrib = unix.IN_CREATE, unix.IN_DELETE, unix.IN_MODIFY, unix.IN_ATTRIB
		open, closeW, from, to      = unix.IN_OPEN, unix.IN_CLOSE_WRITE, unix.IN_MOVED_FROM, unix.IN_MOVED_TO
	)
	tests := []struct {
		name string
		op   func(t *testing.T, v *vfs.VFS)
		want []string
	}{
		{"create and write", func(t *testing.T, v *vfs.VFS) {
			f, err := v.Open("/tmp/f", unix.O_CREAT|unix.O_WRONLY, 0o644)
			must(t, "open", err)
			_, err = f.Write([]byte("x"))
			must(t, "write", err)
			must(t, "close", f.DecRef())
		}, []string{
			fmt.Sprintf("dir %#x f", create), fmt.Sprintf("dir %#x f", open),
			fmt.Sprintf("dir %#x f", modify), fmt.Sprintf("dir %#x f", closeW),
		}},
		{"mkdir", func(t *testing.T, v *vfs.VFS) { must(t, "mkdir", v.Mkdir("/tmp/d", 0o755)) },
			[]string{fmt.Sprintf("dir %#x d", create|unix.IN_ISDIR)}},
		{"chmod", func(t *testing.T, v *vfs.VFS) { must(t, "chmod", v.Chmod("/tmp", 0o700, true)) },
			[]string{fmt.Sprintf("dir %#x", attrib|unix.IN_ISDIR)}},
		{"rename", func(t *testing.T, v *vfs.VFS) {
			writeFile(t, v, "/tmp/a", "")
			must(t, "rename", v.Rename("/tmp/a", "/tmp/b"))
		}, []string{
			fmt.Sprintf("dir %#x a", create), fmt.Sprintf("dir %#x a", open),
			fmt.Sprintf("dir %#x a", closeW), // an empty write reports nothing
			fmt.Sprintf("dir %#x a cookie", from), fmt.Sprintf("dir %#x b cookie", to),
		}},
		{"unlink", func(t *testing.T, v *vfs.VFS) { must(t, "unlink", v.Unlink("/a/file")) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newTree(t)
			var log []string
			watch(t, v, "/tmp", "dir", &log, false)
			tc.op(t, v)
			// writeFile's own events (create, open, write, close) come
			// first where the case uses it; nothing but the watched
			// directory's events may appear.
			if strings.Join(log, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestFsnotifyDeleteSelf: the watch of a removed inode gets IN_DELETE_SELF
// and leaves (IGNORED) at once, or when the last holder closes it.
func TestFsnotifyDeleteSelf(t *testing.T) {
	v, _ := newTree(t)
	var log []string
	watch(t, v, "/a/file", "file", &log, false)
	f, err := v.Open("/a/file", unix.O_RDONLY, 0)
	must(t, "open", err)
	must(t, "unlink", v.Unlink("/a/file"))
	got := strings.Join(log, ";")
	if want := fmt.Sprintf("file %#x;file %#x", unix.IN_OPEN, unix.IN_ATTRIB); got != want {
		t.Fatalf("after unlink: %q, want %q", got, want)
	}
	must(t, "close", f.DecRef())
	got = strings.Join(log, ";")
	want := fmt.Sprintf("file %#x;file %#x;file %#x;file %#x;file ignored",
		unix.IN_OPEN, unix.IN_ATTRIB, unix.IN_CLOSE_NOWRITE, unix.IN_DELETE_SELF)
	if got != want {
		t.Fatalf("after close: %q, want %q", got, want)
	}
	// Gone from the registry: nothing more arrives.
	writeFile(t, v, "/a/file", "again")
	if got2 := strings.Join(log, ";"); got2 != want {
		t.Errorf("a new file of the same name reached the old watch: %q", got2)
	}
}

// TestFsnotifyOneshot: a watch that reports done leaves after one event.
func TestFsnotifyOneshot(t *testing.T) {
	v, _ := newTree(t)
	var log []string
	watch(t, v, "/tmp", "dir", &log, true)
	must(t, "mkdir", v.Mkdir("/tmp/x", 0o755))
	must(t, "mkdir", v.Mkdir("/tmp/y", 0o755))
	want := fmt.Sprintf("dir %#x x;dir ignored", unix.IN_CREATE|unix.IN_ISDIR)
	if got := strings.Join(log, ";"); got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

package vfs_test

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func TestOpen(t *testing.T) {
	v, _ := newTree(t)
	tests := []struct {
		path  string
		flags int
		want  unix.Errno
	}{
		{"/a/file", unix.O_RDONLY, 0},
		{"/a/file", unix.O_RDWR, 0},
		{"/a/filelink", unix.O_RDONLY, 0},
		{"/a/b", unix.O_RDONLY, 0},
		{"/a/b", unix.O_RDONLY | unix.O_DIRECTORY, 0},
		{"/abs", unix.O_RDONLY | unix.O_DIRECTORY, 0},
		{"/a/b", unix.O_WRONLY, unix.EISDIR},
		{"/a/b", unix.O_RDWR, unix.EISDIR},
		{"/a/b", unix.O_RDONLY | unix.O_CREAT, unix.EISDIR},
		{"/a/.", unix.O_RDONLY | unix.O_CREAT, unix.EISDIR},
		{"/a/file", unix.O_RDONLY | unix.O_DIRECTORY, unix.ENOTDIR},
		{"/a/file/", unix.O_RDONLY, unix.ENOTDIR},
		{"/abs", unix.O_RDONLY | unix.O_NOFOLLOW, unix.ELOOP},
		{"/a/filelink", unix.O_WRONLY | unix.O_CREAT | unix.O_NOFOLLOW, unix.ELOOP},
		{"/abs", unix.O_PATH | unix.O_NOFOLLOW, 0},
		{"/a/filelink", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, unix.EEXIST},
		{"/dangling", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, unix.EEXIST},
		{"/a/file", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, unix.EEXIST},
		{"/new", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, 0},
		{"/new", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, unix.EEXIST},
		{"/new", unix.O_CREAT | unix.O_WRONLY, 0},
		{"/newdir/", unix.O_CREAT | unix.O_WRONLY, unix.EISDIR},
		{"/a/file/", unix.O_CREAT | unix.O_WRONLY, unix.EISDIR},
		{"/a/b/", unix.O_CREAT | unix.O_RDONLY, unix.EISDIR},
		{"/abs/", unix.O_CREAT | unix.O_RDONLY, unix.EISDIR},
		{"/x", unix.O_CREAT | unix.O_DIRECTORY, unix.EINVAL},
		{"/x", unix.O_RDWR | unix.O_TMPFILE, unix.EOPNOTSUPP},
		{"/a/file", unix.O_ACCMODE, unix.EINVAL},
		{"/nope", unix.O_RDONLY, unix.ENOENT},
		{"/nope/x", unix.O_CREAT | unix.O_WRONLY, unix.ENOENT},
		{"/a/file/x", unix.O_CREAT | unix.O_WRONLY, unix.ENOTDIR},
		{"/loop1", unix.O_RDONLY, unix.ELOOP},
	}
	for _, tc := range tests {
		f, err := v.Open(tc.path, tc.flags, 0o644)
		wantErrno(t, fmt.Sprintf("Open(%q, %#x)", tc.path, tc.flags), err, tc.want)
		if err == nil {
			wantErrno(t, "DecRef", f.DecRef(), 0)
		}
	}
}

func TestOpenTrunc(t *testing.T) {
	v, _ := newTree(t)
	writeFile(t, v, "/t", "content")
	f, err := v.Open("/t", unix.O_RDONLY|unix.O_TRUNC, 0)
	must(t, "open O_RDONLY|O_TRUNC", err)
	if st, _ := f.Stat(); st.Size != 0 {
		t.Errorf("O_RDONLY|O_TRUNC left size %d", st.Size)
	}
	_, err = f.Write([]byte("x"))
	wantErrno(t, "write on O_RDONLY|O_TRUNC", err, unix.EBADF)
	f.DecRef()

	writeFile(t, v, "/t", "content")
	f, err = v.Open("/t", unix.O_WRONLY|unix.O_TRUNC, 0)
	must(t, "open O_WRONLY|O_TRUNC", err)
	f.Write([]byte("ab"))
	f.DecRef()
	if got := readFile(t, v, "/t"); got != "ab" {
		t.Errorf("after O_TRUNC: %q", got)
	}
}

func TestPermissions(t *testing.T) {
	v, _ := newTree(t)
	writeFile(t, v, "/none", "x")
	writeFile(t, v, "/ro", "x")
	writeFile(t, v, "/exe", "x")
	must(t, "mkdir", v.Mkdir("/rx", 0o755))
	writeFile(t, v, "/rx/victim", "x")
	must(t, "mkdir", v.Mkdir("/nox", 0o755))
	writeFile(t, v, "/nox/inner", "x")
	must(t, "chmod", v.Chmod("/none", 0, true))
	must(t, "chmod", v.Chmod("/ro", 0o444, true))
	must(t, "chmod", v.Chmod("/exe", 0o755, true))
	must(t, "chmod", v.Chmod("/rx", 0o555, true))
	must(t, "chmod", v.Chmod("/nox", 0o666, true))

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
		{"read 0000", open("/none", unix.O_RDONLY), unix.EACCES},
		{"write 0000", open("/none", unix.O_WRONLY), unix.EACCES},
		{"O_PATH 0000", open("/none", unix.O_PATH), 0},
		{"read 0444", open("/ro", unix.O_RDONLY), 0},
		{"write 0444", open("/ro", unix.O_WRONLY), unix.EACCES},
		{"rdwr 0444", open("/ro", unix.O_RDWR), unix.EACCES},
		{"trunc 0444", open("/ro", unix.O_RDONLY|unix.O_TRUNC), unix.EACCES},
		{"truncate 0444", func() error { return v.Truncate("/ro", 0) }, unix.EACCES},
		{"create in 0555", open("/rx/new", unix.O_CREAT|unix.O_WRONLY), unix.EACCES},
		{"mkdir in 0555", func() error { return v.Mkdir("/rx/d", 0o755) }, unix.EACCES},
		{"symlink in 0555", func() error { return v.Symlink("t", "/rx/l") }, unix.EACCES},
		{"unlink in 0555", func() error { return v.Unlink("/rx/victim") }, unix.EACCES},
		{"rename out of 0555", func() error { return v.Rename("/rx/victim", "/victim") }, unix.EACCES},
		{"rename into 0555", func() error { return v.Rename("/exe", "/rx/exe") }, unix.EACCES},
		{"open existing in 0555", open("/rx/victim", unix.O_RDWR), 0},
		{"stat through 0666 dir", func() error { _, err := v.Stat("/nox/inner", false); return err }, unix.EACCES},
		{"open through 0666 dir", open("/nox/inner", unix.O_RDONLY), unix.EACCES},
		{"list 0666 dir", open("/nox", unix.O_RDONLY|unix.O_DIRECTORY), 0},
		{"access F_OK 0000", func() error { return v.Access("/none", unix.F_OK, true) }, 0},
		{"access R_OK 0000", func() error { return v.Access("/none", unix.R_OK, true) }, unix.EACCES},
		{"access W_OK 0444", func() error { return v.Access("/ro", unix.W_OK, true) }, unix.EACCES},
		{"access R_OK 0444", func() error { return v.Access("/ro", unix.R_OK, true) }, 0},
		{"access X_OK 0644", func() error { return v.Access("/a/file", unix.X_OK, true) }, unix.EACCES},
		{"access X_OK 0755", func() error { return v.Access("/exe", unix.R_OK|unix.X_OK, true) }, 0},
		{"access bad mode", func() error { return v.Access("/exe", 8, true) }, unix.EINVAL},
		{"access missing", func() error { return v.Access("/nope", unix.F_OK, true) }, unix.ENOENT},
		{"chmod own file", func() error { return v.Chmod("/none", 0o600, true) }, 0},
		{"utimes own file", func() error {
			return v.Utimes("/ro", unix.Timespec{Sec: 1}, unix.Timespec{Sec: 2}, true)
		}, 0},
		{"utimes bad nsec", func() error {
			return v.Utimes("/ro", unix.Timespec{Nsec: 1e9}, unix.Timespec{}, true)
		}, unix.EINVAL},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}

	// A file created with mode 0 is still opened read-write by the call
	// that creates it, as on Linux; reopening is then refused.
	f, err := v.Open("/rx2", unix.O_CREAT|unix.O_RDWR, 0)
	must(t, "create mode 0", err)
	if _, err := f.Write([]byte("ok")); err != nil {
		t.Errorf("write to freshly created 0000 file: %v", err)
	}
	f.DecRef()
	_, err = v.Open("/rx2", unix.O_RDONLY, 0)
	wantErrno(t, "reopen 0000", err, unix.EACCES)

	st, _ := v.Stat("/ro", false)
	if st.Atime != (unix.Timespec{Sec: 1}) || st.Mtime != (unix.Timespec{Sec: 2}) {
		t.Errorf("utimes: %v %v", st.Atime, st.Mtime)
	}
}

func TestReadOnlyFS(t *testing.T) {
	// Populate a memfs, then serve it read-only.
	fs := memfs.New(0)
	w := vfs.New(fs)
	must(t, "mkdir", w.Mkdir("/d", 0o755))
	must(t, "mkdir", w.Mkdir("/empty", 0o755))
	writeFile(t, w, "/d/f", "data")
	must(t, "symlink", w.Symlink("/d/f", "/l"))
	v := vfs.New(roFS{fs})

	open := func(path string, flags int) func() error {
		return func() error {
			f, err := v.Open(path, flags, 0o644)
			if err == nil {
				f.DecRef()
			}
			return err
		}
	}
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"open O_WRONLY", open("/d/f", unix.O_WRONLY), unix.EROFS},
		{"open O_RDWR", open("/d/f", unix.O_RDWR), unix.EROFS},
		{"open O_TRUNC", open("/d/f", unix.O_RDONLY|unix.O_TRUNC), unix.EROFS},
		{"open O_CREAT new", open("/d/new", unix.O_RDONLY|unix.O_CREAT), unix.EROFS},
		{"open O_CREAT|O_EXCL existing", open("/d/f", unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL), unix.EEXIST},
		{"open O_CREAT existing read-only", open("/d/f", unix.O_RDONLY|unix.O_CREAT), 0},
		{"open O_RDONLY", open("/l", unix.O_RDONLY), 0},
		{"mkdir", func() error { return v.Mkdir("/d/x", 0o755) }, unix.EROFS},
		{"mkdir existing", func() error { return v.Mkdir("/d", 0o755) }, unix.EEXIST},
		{"symlink", func() error { return v.Symlink("t", "/d/x") }, unix.EROFS},
		{"unlink", func() error { return v.Unlink("/d/f") }, unix.EROFS},
		{"unlink missing", func() error { return v.Unlink("/d/nope") }, unix.EROFS},
		{"rmdir", func() error { return v.Rmdir("/empty") }, unix.EROFS},
		{"rename", func() error { return v.Rename("/d/f", "/d/g") }, unix.EROFS},
		{"link", func() error { return v.Link("/d/f", "/d/g", false) }, unix.EROFS},
		{"chmod", func() error { return v.Chmod("/d/f", 0o600, true) }, unix.EROFS},
		{"utimes", func() error { return v.Utimes("/d/f", now, now, true) }, unix.EROFS},
		{"truncate", func() error { return v.Truncate("/d/f", 0) }, unix.EROFS},
		{"access W_OK", func() error { return v.Access("/d/f", unix.W_OK, true) }, unix.EROFS},
		{"access R_OK", func() error { return v.Access("/d/f", unix.R_OK, true) }, 0},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	if got := readFile(t, w, "/d/f"); got != "data" {
		t.Errorf("content changed to %q", got)
	}
	if got := listDir(t, w, "/d"); got != ". .. f" {
		t.Errorf("directory changed: %s", got)
	}
}

func TestTruncatePath(t *testing.T) {
	v, _ := newTree(t)
	tests := []struct {
		path string
		size int64
		want unix.Errno
	}{
		{"/a/file", 2, 0},
		{"/a/filelink", 3, 0},
		{"/a/file", -1, unix.EINVAL},
		{"/a/b", 0, unix.EISDIR},
		{"/nope", 0, unix.ENOENT},
		{"/a/file", memfs.MaxFileSize + 1, unix.EFBIG},
	}
	for _, tc := range tests {
		wantErrno(t, fmt.Sprintf("Truncate(%s, %d)", tc.path, tc.size), v.Truncate(tc.path, tc.size), tc.want)
	}
	if got := readFile(t, v, "/a/file"); got != "he\x00" {
		t.Errorf("content %q", got)
	}
}

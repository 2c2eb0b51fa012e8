package vfs_test

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

func TestWalk(t *testing.T) {
	v, _ := newTree(t)
	// A chain of exactly MaxSymlinks links resolves; one more is ELOOP.
	for i := 1; i <= vfs.MaxSymlinks+1; i++ {
		must(t, "chain", v.Symlink(fmt.Sprintf("/chain%d", i-1), fmt.Sprintf("/chain%d", i)))
	}
	must(t, "chain0", v.Symlink("/a", "/chain0"))

	tests := []struct {
		path string
		want string // canonical path
		err  unix.Errno
	}{
		{path: "/", want: "/"},
		{path: "/a/./b/../b/c", want: "/a/b/c"},
		{path: "/../../a", want: "/a"},
		{path: "//a///b//", want: "/a/b"},
		{path: "/a/b/c/../../..", want: "/"},
		{path: "/a/.", want: "/a"},
		{path: "/abs/c", want: "/a/b/c"},
		{path: "/abs/", want: "/a/b"},
		{path: "/rel/c", want: "/a/b/c"},
		{path: "/a/up/a/b", want: "/a/b"},
		{path: "/abs/../file", want: "/a/file"}, // ".." applies to the target
		{path: "/a/filelink", want: "/a/file"},
		{path: fmt.Sprintf("/chain%d", vfs.MaxSymlinks-1), want: "/a"},
		{path: fmt.Sprintf("/chain%d/b", vfs.MaxSymlinks), err: unix.ELOOP},
		{path: fmt.Sprintf("/chain%d", vfs.MaxSymlinks+1), err: unix.ELOOP},
		{path: "/loop1", err: unix.ELOOP},
		{path: "/self/x", err: unix.ELOOP},
		{path: "/dangling", err: unix.ENOENT},
		{path: "/nope", err: unix.ENOENT},
		{path: "/nope/x", err: unix.ENOENT},
		{path: "/a/file/", err: unix.ENOTDIR},
		{path: "/a/file/x", err: unix.ENOTDIR},
		{path: "/a/file/..", err: unix.ENOTDIR},
		{path: "/a/filelink/", err: unix.ENOTDIR},
		{path: "", err: unix.ENOENT},
		{path: "a/b", err: unix.EINVAL},
		{path: "/" + strings.Repeat("x", 256), err: unix.ENAMETOOLONG},
		{path: "/" + strings.Repeat("x", 255), err: unix.ENOENT},
		{path: "/" + strings.Repeat("./", 2047), want: "/"}, // 4095 bytes
		{path: "/" + strings.Repeat("./", 2047) + "a", err: unix.ENAMETOOLONG},
	}
	for _, tc := range tests {
		got, err := v.Realpath(tc.path)
		wantErrno(t, fmt.Sprintf("Realpath(%.40q)", tc.path), err, tc.err)
		if tc.err == 0 && got != tc.want {
			t.Errorf("Realpath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestSymlinkTargetTooLong(t *testing.T) {
	v, _ := newTree(t)
	wantErrno(t, "symlink with long target", v.Symlink(strings.Repeat("a", 4096), "/long"), unix.ENAMETOOLONG)
	wantErrno(t, "symlink with empty target", v.Symlink("", "/empty"), unix.ENOENT)
	// A target whose component is too long fails when followed.
	must(t, "symlink", v.Symlink(strings.Repeat("b", 256), "/longcomp"))
	_, err := v.Stat("/longcomp", true)
	wantErrno(t, "follow long component", err, unix.ENAMETOOLONG)
}

func TestStatFollow(t *testing.T) {
	v, _ := newTree(t)
	tests := []struct {
		path   string
		follow bool
		mode   uint32
	}{
		{"/abs", false, unix.S_IFLNK},
		{"/abs", true, unix.S_IFDIR},
		{"/abs/", false, unix.S_IFDIR}, // a trailing slash always follows
		{"/a/filelink", false, unix.S_IFLNK},
		{"/a/filelink", true, unix.S_IFREG},
		{"/dangling", false, unix.S_IFLNK},
	}
	for _, tc := range tests {
		st, err := v.Stat(tc.path, tc.follow)
		must(t, tc.path, err)
		if st.Mode&unix.S_IFMT != tc.mode {
			t.Errorf("Stat(%q, %v) type %o, want %o", tc.path, tc.follow, st.Mode&unix.S_IFMT, tc.mode)
		}
	}
	st, _ := v.Stat("/abs", false)
	if st.Size != int64(len("/a/b")) {
		t.Errorf("symlink size %d", st.Size)
	}
	a, _ := v.Stat("/a/file", true)
	b, _ := v.Stat("/a/filelink", true)
	if a.Ino != b.Ino || a.Dev != b.Dev || a.Size != 5 {
		t.Errorf("link target stat differs: %+v %+v", a, b)
	}
}

func TestReadlink(t *testing.T) {
	v, _ := newTree(t)
	tests := []struct {
		path, want string
		err        unix.Errno
	}{
		{path: "/abs", want: "/a/b"},
		{path: "/a/up", want: ".."},
		{path: "/dangling", want: "/nope"},
		{path: "/abs/c/../../filelink", want: "file"},
		{path: "/a/b", err: unix.EINVAL},
		{path: "/nope", err: unix.ENOENT},
		{path: "/abs/", err: unix.EINVAL}, // the slash resolves to the directory
	}
	for _, tc := range tests {
		got, err := v.Readlink(tc.path)
		wantErrno(t, "Readlink "+tc.path, err, tc.err)
		if got != tc.want {
			t.Errorf("Readlink(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	v, _ := newTree(t)
	must(t, "mkdir", v.Mkdir("/noexec", 0o644))
	tests := []struct {
		path, want string
		err        unix.Errno
	}{
		{path: "/abs/..", want: "/a"},
		{path: "/rel/c/", want: "/a/b/c"},
		{path: "/a/file", err: unix.ENOTDIR},
		{path: "/a/filelink", err: unix.ENOTDIR},
		{path: "/noexec", err: unix.EACCES},
		{path: "/nope", err: unix.ENOENT},
	}
	for _, tc := range tests {
		got, err := v.Canonical(tc.path)
		wantErrno(t, "Canonical "+tc.path, err, tc.err)
		if got != tc.want {
			t.Errorf("Canonical(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestMutations(t *testing.T) {
	v, _ := newTree(t)
	must(t, "mkdir full", v.Mkdir("/full", 0o755))
	writeFile(t, v, "/full/x", "")
	must(t, "mkdir empty", v.Mkdir("/empty", 0o755))
	writeFile(t, v, "/f2", "two")

	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"mkdir existing", func() error { return v.Mkdir("/a", 0o755) }, unix.EEXIST},
		{"mkdir over symlink", func() error { return v.Mkdir("/dangling", 0o755) }, unix.EEXIST},
		{"mkdir root", func() error { return v.Mkdir("/", 0o755) }, unix.EEXIST},
		{"mkdir dot", func() error { return v.Mkdir("/a/.", 0o755) }, unix.EEXIST},
		{"mkdir missing parent", func() error { return v.Mkdir("/nope/x", 0o755) }, unix.ENOENT},
		{"mkdir under file", func() error { return v.Mkdir("/a/file/x", 0o755) }, unix.ENOTDIR},
		{"mkdir trailing slash", func() error { return v.Mkdir("/newdir/", 0o755) }, 0},
		{"mkdir through symlink parent", func() error { return v.Mkdir("/abs/new", 0o755) }, 0},
		{"symlink existing", func() error { return v.Symlink("x", "/a/file") }, unix.EEXIST},
		{"symlink trailing slash", func() error { return v.Symlink("x", "/newlink/") }, unix.ENOENT},
		{"unlink dir", func() error { return v.Unlink("/a") }, unix.EISDIR},
		{"unlink dot", func() error { return v.Unlink("/a/.") }, unix.EISDIR},
		{"unlink missing", func() error { return v.Unlink("/nope") }, unix.ENOENT},
		{"unlink file slash", func() error { return v.Unlink("/a/file/") }, unix.ENOTDIR},
		{"unlink symlink to dir with slash", func() error { return v.Unlink("/abs/") }, unix.ENOTDIR},
		{"unlink symlink", func() error { return v.Unlink("/dangling") }, 0},
		{"rmdir non-empty", func() error { return v.Rmdir("/full") }, unix.ENOTEMPTY},
		{"rmdir file", func() error { return v.Rmdir("/a/file") }, unix.ENOTDIR},
		{"rmdir symlink to dir", func() error { return v.Rmdir("/abs") }, unix.ENOTDIR},
		{"rmdir dot", func() error { return v.Rmdir("/empty/.") }, unix.EINVAL},
		{"rmdir dotdot", func() error { return v.Rmdir("/a/b/..") }, unix.ENOTEMPTY},
		{"rmdir root", func() error { return v.Rmdir("/") }, unix.EBUSY},
		{"rmdir missing", func() error { return v.Rmdir("/nope") }, unix.ENOENT},
		{"rmdir empty", func() error { return v.Rmdir("/empty/") }, 0},
		{"rename missing", func() error { return v.Rename("/nope", "/x") }, unix.ENOENT},
		{"rename dir into itself", func() error { return v.Rename("/a", "/a/b/c/a") }, unix.EINVAL},
		{"rename dir onto own ancestor", func() error { return v.Rename("/a/b", "/a") }, unix.ENOTEMPTY},
		{"rename dir over file", func() error { return v.Rename("/a/b", "/f2") }, unix.ENOTDIR},
		{"rename file over dir", func() error { return v.Rename("/f2", "/full") }, unix.EISDIR},
		{"rename dir over non-empty dir", func() error { return v.Rename("/a/b", "/full") }, unix.ENOTEMPTY},
		{"rename file with slash", func() error { return v.Rename("/f2", "/f3/") }, unix.ENOTDIR},
		{"rename dot", func() error { return v.Rename("/a/.", "/x") }, unix.EBUSY},
		{"rename root", func() error { return v.Rename("/", "/x") }, unix.EBUSY},
		{"rename onto itself", func() error { return v.Rename("/a/filelink", "/a/filelink") }, 0},
		{"rename file over file", func() error { return v.Rename("/f2", "/a/file") }, 0},
		{"rename symlink, not target", func() error { return v.Rename("/abs", "/abs2") }, 0},
		{"link dir", func() error { return v.Link("/a/b", "/blink", false) }, unix.EPERM},
		{"link existing", func() error { return v.Link("/a/file", "/abs2", false) }, unix.EEXIST},
		{"link missing", func() error { return v.Link("/nope", "/x", false) }, unix.ENOENT},
		{"link", func() error { return v.Link("/a/file", "/hard", false) }, 0},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	if got := readFile(t, v, "/a/file"); got != "two" {
		t.Errorf("/a/file = %q after rename over it", got)
	}
	if got := readFile(t, v, "/hard"); got != "two" {
		t.Errorf("hard link content %q", got)
	}
	if st, _ := v.Stat("/hard", false); st.Nlink != 2 {
		t.Errorf("hard link nlink %d", st.Nlink)
	}
	if got, _ := v.Realpath("/abs2/c"); got != "/a/b/c" {
		t.Errorf("renamed symlink resolves to %q", got)
	}
	if _, err := v.Stat("/a/b/new", false); err != nil {
		t.Errorf("mkdir through symlinked parent: %v", err)
	}
}

func TestCreateThroughDanglingSymlink(t *testing.T) {
	v, _ := newTree(t)
	f, err := v.Open("/dangling", unix.O_WRONLY|unix.O_CREAT, 0o600)
	must(t, "open", err)
	if f.Path() != "/nope" {
		t.Errorf("created %q, want /nope", f.Path())
	}
	f.DecRef()
	if _, err := v.Stat("/nope", false); err != nil {
		t.Fatal("target was not created")
	}
}

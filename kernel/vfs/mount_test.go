package vfs_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/procfs/synth"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func TestMountCrossing(t *testing.T) {
	v, rootFS := newTree(t)
	tmp := memfs.New(0)
	must(t, "mount", v.Mount("/tmp", tmp))
	must(t, "mkdir", v.Mkdir("/tmp/sub", 0o755))
	writeFile(t, v, "/tmp/sub/f", "in tmp")
	must(t, "symlink", v.Symlink("/a/file", "/tmp/abs"))
	must(t, "symlink", v.Symlink("../a/file", "/tmp/rel"))
	must(t, "symlink", v.Symlink("../../a", "/tmp/sub/rel2"))

	// The data went to the mounted file system, not the one below.
	if _, err := tmp.Root().Lookup("sub"); err != nil {
		t.Fatal("mkdir did not reach the mounted fs")
	}
	under, _ := rootFS.Root().Lookup("tmp")
	if ents, _ := under.(vfs.DirNode).ReadDir(); len(ents) != 0 {
		t.Fatalf("mount point in the parent fs was written: %v", ents)
	}

	paths := []struct{ path, want string }{
		{"/tmp/..", "/"},
		{"/tmp/sub/../..", "/"},
		{"/tmp/../a/b", "/a/b"},
		{"/tmp/sub/rel2/b", "/a/b"},
		{"/tmp/abs", "/a/file"},
		{"/tmp/rel", "/a/file"},
	}
	for _, p := range paths {
		got, err := v.Realpath(p.path)
		must(t, p.path, err)
		if got != p.want {
			t.Errorf("Realpath(%q) = %q, want %q", p.path, got, p.want)
		}
	}
	if got := readFile(t, v, "/tmp/rel"); got != "hello" {
		t.Errorf("relative link out of a mount read %q", got)
	}

	rootSt, _ := v.Stat("/", true)
	tmpSt, _ := v.Stat("/tmp", true)
	subSt, _ := v.Stat("/tmp/sub", true)
	if rootSt.Dev == tmpSt.Dev || tmpSt.Dev != subSt.Dev {
		t.Errorf("devs: root %d tmp %d sub %d", rootSt.Dev, tmpSt.Dev, subSt.Dev)
	}

	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"rename across mounts", func() error { return v.Rename("/a/file", "/tmp/file") }, unix.EXDEV},
		{"rename back across", func() error { return v.Rename("/tmp/sub/f", "/a/f") }, unix.EXDEV},
		{"link across mounts", func() error { return v.Link("/a/file", "/tmp/hard", false) }, unix.EXDEV},
		{"rmdir mount point", func() error { return v.Rmdir("/tmp") }, unix.EBUSY},
		{"rename mount point", func() error { return v.Rename("/tmp", "/tmp2") }, unix.EBUSY},
		{"rename over mount point", func() error { return v.Rename("/a/b/c", "/tmp") }, unix.EBUSY},
		{"rename within mount", func() error { return v.Rename("/tmp/sub/f", "/tmp/g") }, 0},
		{"mount twice", func() error { return v.Mount("/tmp", memfs.New(0)) }, unix.EBUSY},
		{"mount root", func() error { return v.Mount("/", memfs.New(0)) }, unix.EBUSY},
		{"mount on file", func() error { return v.Mount("/a/file", memfs.New(0)) }, unix.ENOTDIR},
		{"mount missing in writable parent", func() error { return v.Mount("/nope", memfs.New(0)) }, unix.ENOENT},
		{"mount relative", func() error { return v.Mount("tmp", memfs.New(0)) }, unix.EINVAL},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}

	// ".." in getdents at a mount root names the mount point's parent.
	f, err := v.Open("/tmp", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "open", err)
	ents, _ := f.Getdents(2)
	f.DecRef()
	if ents[0].Ino != tmpSt.Ino || ents[1].Ino != rootSt.Ino {
		t.Errorf(". and .. inos %d %d, want %d %d", ents[0].Ino, ents[1].Ino, tmpSt.Ino, rootSt.Ino)
	}
}

func TestMountThroughSymlink(t *testing.T) {
	v, _ := newTree(t)
	fs := memfs.New(0)
	must(t, "mount", v.Mount("/abs", fs)) // resolves to /a/b
	st, _ := v.Stat("/a/b", true)
	want, _ := fs.Root().Stat()
	if st.Dev != want.Dev || st.Ino != want.Ino {
		t.Errorf("mount via symlink did not land on /a/b")
	}
	var paths []string
	for _, m := range v.Mounts() {
		paths = append(paths, m.Path)
	}
	if got := joinStrings(paths); got != "/ /a/b" {
		t.Errorf("Mounts() = %s", got)
	}
}

func joinStrings(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestMountSkeleton(t *testing.T) {
	// A read-only root without /proc, /dev or /x/y/z.
	etc := synth.NewFile(0o444, func() ([]byte, error) { return []byte("hi\n"), nil })
	root := synth.NewStaticDir(map[string]vfs.Node{
		"etc":  synth.NewStaticDir(map[string]vfs.Node{"motd": etc}),
		"file": etc,
	})
	v := vfs.New(synth.NewFS("rootfs", root))
	proc := memfs.New(0)
	must(t, "mount /proc", v.Mount("/proc", proc))
	must(t, "mount /x/y/z", v.Mount("/x/y/z", memfs.New(0)))
	must(t, "mount /etc", v.Mount("/etc/sub", memfs.New(0)))
	wantErrno(t, "mount under a file", v.Mount("/file/x", memfs.New(0)), unix.ENOTDIR)

	if got := listDir(t, v, "/"); got != ". .. etc file proc x" {
		t.Errorf("root listing: %s", got)
	}
	if got := listDir(t, v, "/x"); got != ". .. y" {
		t.Errorf("/x listing: %s", got)
	}
	if got := listDir(t, v, "/etc"); got != ". .. motd sub" {
		t.Errorf("/etc listing: %s", got)
	}
	st, err := v.Stat("/x/y", true)
	must(t, "stat skeleton", err)
	if !st.IsDir() || st.Mode&0o777 != 0o755 {
		t.Errorf("skeleton mode %o", st.Mode)
	}
	if got, _ := v.Realpath("/x/y/z/../../y/z/.."); got != "/x/y" {
		t.Errorf("Realpath through skeleton = %q", got)
	}
	wantErrno(t, "mkdir in skeleton", v.Mkdir("/x/new", 0o755), unix.EROFS)
	wantErrno(t, "rmdir skeleton", v.Rmdir("/x"), unix.EROFS)
	must(t, "write in mounted fs", v.Mkdir("/x/y/z/ok", 0o755))
	must(t, "write in /proc", v.Mkdir("/proc/1", 0o755))
	if _, err := proc.Root().Lookup("1"); err != nil {
		t.Error("/proc mkdir did not reach the mounted fs")
	}
}

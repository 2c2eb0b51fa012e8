package procfs

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/procfs/synth"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestMounts: one fstab line per mount, in the order they were made (as
// Linux lists them, not by path), with read-only mounts marked, paths
// escaped as Linux does, the implicit mount-point directories (skeletons)
// left out, a label's type and source shown, and a mount covered by a
// later one on a directory above it still listed, with its own parent.
func TestMounts(t *testing.T) {
	v := vfs.New(memfs.New(0))
	for _, dir := range []string{"/tmp", "/a b", "/s", "/s/inner"} {
		if err := v.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct {
		path string
		fs   vfs.FileSystem
	}{{"/tmp", memfs.New(0)}, {"/a b", synth.NewFS("proc", synth.NewStaticDir(nil))}} {
		if err := v.Mount(m.path, m.fs); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Mkdir("/tmp/x\\y", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := v.Mount("/tmp/x\\y", memfs.New(0)); err != nil {
		t.Fatal(err)
	}
	// Under a read-only mount a missing mount point becomes a skeleton
	// directory, which is no mount of its own.
	if err := v.Mount("/a b/sub/deeper", memfs.New(0)); err != nil {
		t.Fatal(err)
	}
	// /s/inner is on the root mount; /s, mounted later, covers it.
	inner := memfs.New(0)
	if err := v.Mount("/s/inner", inner); err != nil {
		t.Fatal(err)
	}
	innerSt, err := inner.Root().Stat()
	if err != nil {
		t.Fatal(err)
	}
	innerDev := innerSt.Dev
	if err := v.Mount("/s", memfs.New(0)); err != nil {
		t.Fatal(err)
	}
	if err := v.SetLabel("/tmp/x\\y/", "", "shm"); err != nil {
		t.Fatal(err)
	}
	if err := v.SetLabel("/nowhere", "tmpfs", ""); err != unix.ENOENT {
		t.Errorf("SetLabel of no mount: %v, want ENOENT", err)
	}
	want := "tmpfs / tmpfs rw,relatime 0 0\n" +
		"tmpfs /tmp tmpfs rw,relatime 0 0\n" +
		"proc /a\\040b proc ro,relatime 0 0\n" +
		"shm /tmp/x\\134y tmpfs rw,relatime 0 0\n" +
		"tmpfs /a\\040b/sub/deeper tmpfs rw,relatime 0 0\n" +
		"tmpfs /s/inner tmpfs rw,relatime 0 0\n" +
		"tmpfs /s tmpfs rw,relatime 0 0\n"
	if got := string(mounts(v)); got != want {
		t.Errorf("mounts:\n%s\nwant:\n%s", got, want)
	}

	// mountinfo: the same mounts, each with its id, its parent's (the
	// nearest mount above: the skeleton is none), its root's st_dev.
	devOf := func(path string) string {
		st, err := v.Stat(path, true)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	}
	sInner := fmt.Sprintf("%d:%d", unix.Major(innerDev), unix.Minor(innerDev))
	wantInfo := "21 20 " + devOf("/") + " / / rw,relatime - tmpfs tmpfs rw\n" +
		"22 21 " + devOf("/tmp") + " / /tmp rw,relatime - tmpfs tmpfs rw\n" +
		"23 21 " + devOf("/a b") + " / /a\\040b ro,relatime - proc proc ro\n" +
		"24 22 " + devOf("/tmp/x\\y") + " / /tmp/x\\134y rw,relatime - tmpfs shm rw\n" +
		"25 23 " + devOf("/a b/sub/deeper") + " / /a\\040b/sub/deeper rw,relatime - tmpfs tmpfs rw\n" +
		"26 21 " + sInner + " / /s/inner rw,relatime - tmpfs tmpfs rw\n" +
		"27 21 " + devOf("/s") + " / /s rw,relatime - tmpfs tmpfs rw\n"
	if got := string(mountinfo(v)); got != wantInfo {
		t.Errorf("mountinfo:\n%s\nwant:\n%s", got, wantInfo)
	}
}

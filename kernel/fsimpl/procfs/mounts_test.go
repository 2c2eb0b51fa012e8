package procfs

import (
	"testing"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/procfs/synth"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestMounts: one fstab line per mount, parents first, with read-only
// mounts marked, paths escaped as Linux does, and the implicit mount-point
// directories (skeletons) left out.
func TestMounts(t *testing.T) {
	v := vfs.New(memfs.New(0))
	for _, dir := range []string{"/tmp", "/a b"} {
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
	want := "tmpfs / tmpfs rw,relatime 0 0\n" +
		"proc /a\\040b proc ro,relatime 0 0\n" +
		"tmpfs /a\\040b/sub/deeper tmpfs rw,relatime 0 0\n" +
		"tmpfs /tmp tmpfs rw,relatime 0 0\n" +
		"tmpfs /tmp/x\\134y tmpfs rw,relatime 0 0\n"
	if got := string(mounts(v)); got != want {
		t.Errorf("mounts:\n%s\nwant:\n%s", got, want)
	}
}

package overlay

import (
	"archive/tar"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// benchLayers is a tar layer of 20 directories of 50 files, and one on
// top with a few changes, as an image's.
func benchLayers(b *testing.B) []vfs.FileSystem {
	var hdrs []tar.Header
	for d := range 20 {
		for f := range 50 {
			hdrs = append(hdrs, reg(fmt.Sprintf("usr/lib/python3/d%02d/m%02d.py", d, f), "x"))
		}
	}
	bottom := tarLayer(b, hdrs...)
	top := tarLayer(b, reg("usr/lib/python3/d00/new.py", "y"), reg("usr/lib/python3/d01/.wh.m00.py", ""))
	return []vfs.FileSystem{top, bottom}
}

// BenchmarkStat: stat of an image file and of a missing one (a Python
// import's probes), through the overlay and, for comparison, the bottom
// tar layer alone.
func BenchmarkStat(b *testing.B) {
	layers := benchLayers(b)
	o, err := New(memfs.New(0), layers, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    *vfs.VFS
	}{{"overlay", vfs.New(o)}, {"tarfs", vfs.New(layers[1])}} {
		for _, p := range []string{"/usr/lib/python3/d07/m33.py", "/usr/lib/python3/d07/missing.py"} {
			b.Run(c.name+p[len("/usr/lib/python3/d07"):], func(b *testing.B) {
				for range b.N {
					c.v.Stat(p, true)
				}
			})
		}
	}
}

// BenchmarkReadDir lists a merged directory of 50 entries.
func BenchmarkReadDir(b *testing.B) {
	layers := benchLayers(b)
	o, _ := New(memfs.New(0), layers, Options{})
	v := vfs.New(o)
	for range b.N {
		f, err := v.Open("/usr/lib/python3/d00", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			b.Fatal(err)
		}
		f.Getdents(1 << 16)
		f.DecRef()
	}
}

package overlay

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestNodeCostCoversHeap measures the heap one live node of a lower file
// holds (its base, weak handle, cleanup and cache slot).
func TestNodeCostCoversHeap(t *testing.T) {
	const n = 4000
	low := memfs.New(0)
	for i := range n {
		if _, err := low.Root().Create(fmt.Sprintf("f%05d", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o, err := New(memfs.New(0), []vfs.FileSystem{low}, Options{})
	must(t, "New", err)
	root := o.Root()
	held := make([]vfs.Node, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		nd, err := root.Lookup(fmt.Sprintf("f%05d", i))
		must(t, "lookup", err)
		held = append(held, nd)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("one live overlay node: %d bytes of heap", per)
	if per > nodeCost {
		t.Errorf("a node costs %d bytes, more than the %d its dentry pays for", per, nodeCost)
	}
	runtime.KeepAlive(held)
}

// TestDentryOverOverlayCost measures a held dentry of an overlay together
// with its node, against what the VFS charges for a dentry.
func TestDentryOverOverlayCost(t *testing.T) {
	const n = 8000
	low := memfs.New(0)
	for i := range n {
		must(t, "mkdir", low.Root().Mkdir(fmt.Sprintf("%08d", i), 0o755))
	}
	o, err := New(memfs.New(0), []vfs.FileSystem{low}, Options{})
	must(t, "New", err)
	v := vfs.New(o)
	held := make([]*vfs.Dentry, 0, n)
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		d, err := v.Chdir(vfs.Loc{}, fmt.Sprintf("/%08d", i))
		must(t, "chdir", err)
		held = append(held, d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	charged := int64(vfs.DentryCost + 8 + nodeCost)
	t.Logf("%d bytes of heap per dentry with its overlay node, %d charged", per, charged)
	if per > charged {
		t.Errorf("a dentry of the overlay takes %d bytes of heap but is charged %d", per, charged)
	}
	for _, d := range held {
		d.DecRef()
	}
}

package hostfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/platform"
)

// heapMemory is a platform.Memory in the Go heap.
type heapMemory struct{ b []byte }

func (m *heapMemory) Bytes() []byte { return m.b }
func (m *heapMemory) Free(off, length uint64) {
	clear(m.b[off : off+length])
}

func heapAlloc(n uint64) (platform.Memory, error) { return &heapMemory{make([]byte, n)}, nil }

// openHost opens name in fs with flags as a guest open would.
func openHost(t *testing.T, fs *FS, name string, flags int) *fileOps {
	t.Helper()
	n, err := fs.Root().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := n.(*File).Open(flags)
	if err != nil {
		t.Fatal(err)
	}
	return ops.(*fileOps)
}

// TestPageCache checks the write-back cache of a mapped host file: one
// cache per inode, charged to the budget, coherent with read(2), write(2)
// and ftruncate through other open files, written back by SyncPages and
// by the last close, and everything returned at the end.
func TestPageCache(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "f")
	if err := os.WriteFile(host, bytes.Repeat([]byte("a"), 6000), 0o644); err != nil {
		t.Fatal(err)
	}
	budget := mm.NewBudget(1 << 20)
	fds := &FDBudget{Max: 16}
	fs, err := New(dir, Options{FDs: fds, Memory: budget})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	rw := openHost(t, fs, "f", unix.O_RDWR)
	ro := openHost(t, fs, "f", unix.O_RDONLY)
	sf, err := rw.SharedPages()
	if err != nil || sf == nil {
		t.Fatalf("SharedPages: %v, %v", sf, err)
	}
	if again, _ := ro.SharedPages(); again != sf {
		t.Fatal("a second open file of the inode got another cache")
	}
	runs, err := sf.SharePages(0, 4*PageSize, true, heapAlloc)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Len != 2*PageSize {
		t.Fatalf("runs %+v: want the file's two pages in one run", runs)
	}
	if got := budget.Used(); got != 2*cachePageCost {
		t.Fatalf("budget used %d, want %d", got, 2*cachePageCost)
	}
	page := runs[0].Mem.Bytes()[runs[0].Off : runs[0].Off+runs[0].Len]
	if page[5999] != 'a' || page[6000] != 0 {
		t.Fatal("the cache does not hold the file's bytes, zero past its end")
	}

	copy(page, "stored")
	buf := make([]byte, 8)
	if n, _ := ro.ReadAt(buf, 0); n != 8 || string(buf) != "storedaa" {
		t.Errorf("read(2) through another open file = %q, want the mapped bytes", buf[:n])
	}
	if b, _ := os.ReadFile(host); bytes.HasPrefix(b, []byte("stored")) {
		t.Error("the host file changed before write-back")
	}
	other := openHost(t, fs, "f", unix.O_RDWR)
	if _, err := other.WriteAt([]byte("written"), 4096); err != nil {
		t.Fatal(err)
	}
	if string(page[4096:4103]) != "written" {
		t.Error("write(2) through an open file that never mapped is not in the cache")
	}
	if err := sf.(mm.PageSyncer).SyncPages(0, PageSize); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(host); !bytes.HasPrefix(b, []byte("storedaa")) || len(b) != 6000 {
		t.Errorf("after SyncPages the host file is %q... (%d bytes)", b[:8], len(b))
	}

	// Truncation zeroes the cached bytes past the end: write-back must
	// not bring them back.
	if err := other.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if page[100] != 0 || page[4096] != 0 || page[99] != 'a' {
		t.Error("truncation left cached bytes past the new end")
	}
	copy(page[50:], "last")
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if fs.cacheOf(rw.key) == nil {
		t.Fatal("the cache went while an open file that mapped it is open")
	}
	if err := rw.Close(); err != nil { // the last: final write-back
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(host); len(b) != 100 || string(b[50:54]) != "last" {
		t.Errorf("after the last close the host file is %d bytes, %q at 50", len(b), b[50:min(54, len(b))])
	}
	if fs.cacheOf(rw.key) != nil || budget.Used() != 0 || fds.Used() != 0 {
		t.Errorf("left behind: cache %v, budget %d, host fds %d", fs.cacheOf(rw.key) != nil, budget.Used(), fds.Used())
	}
}

// TestPageCacheLimits: the budget bounds the cache (ENOMEM), and a
// read-only mount has none (its shared mappings are private copies).
func TestPageCacheLimits(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 5*PageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := New(dir, Options{Memory: mm.NewBudget(3 * cachePageCost)})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	o := openHost(t, fs, "f", unix.O_RDWR)
	defer o.Close()
	sf, err := o.SharedPages()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sf.SharePages(0, 5*PageSize, true, heapAlloc); err != unix.ENOMEM {
		t.Errorf("caching 5 pages under a 3-page budget: %v, want ENOMEM", err)
	}
	if _, err := sf.SharePages(0, 3*PageSize, true, heapAlloc); err != nil {
		t.Errorf("caching 3 pages: %v", err)
	}

	rofs, err := New(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rofs.Close()
	r := openHost(t, rofs, "f", unix.O_RDONLY)
	defer r.Close()
	if sf, err := r.SharedPages(); sf != nil || err != nil {
		t.Errorf("read-only mount: SharedPages = %v, %v, want none", sf, err)
	}
}

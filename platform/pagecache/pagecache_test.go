package pagecache

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// file is a ReaderAt that counts the bytes read from it.
type file struct {
	data []byte
	read int
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, fmt.Errorf("read past the end at %d", off)
	}
	n := copy(p, f.data[off:])
	f.read += n
	return n, nil
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13) + seed
	}
	return b
}

func key(ino uint64, size int64) Key { return Key{Dev: 1, Ino: ino, FileSize: size, Size: size} }

func newCache(t *testing.T, span, budget uint64) *Cache {
	t.Helper()
	c, err := New(span, budget)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestFillIsLazyAndExact(t *testing.T) {
	c := newCache(t, 1<<20, 1<<20)
	f := &file{data: pattern(3*pageSize+100, 1)}
	e, err := c.Get(key(1, int64(len(f.data))))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Release()
	if e.Len() != 4*pageSize {
		t.Fatalf("entry length %d, want 4 pages", e.Len())
	}
	// Page 1 only, then pages 0-2: page 1 is not read twice.
	if err := e.Fill(pageSize+10, 5, f); err != nil {
		t.Fatal(err)
	}
	if f.read != pageSize {
		t.Fatalf("filling one page read %d bytes", f.read)
	}
	if err := e.Fill(0, 3*pageSize, f); err != nil {
		t.Fatal(err)
	}
	if f.read != 3*pageSize {
		t.Fatalf("filling pages 0-2 read %d bytes in all, want %d", f.read, 3*pageSize)
	}
	// The last page holds the file's 100 bytes, then zeros.
	if err := e.Fill(3*pageSize, pageSize, f); err != nil {
		t.Fatal(err)
	}
	mem, _ := e.bytes()
	if !bytes.Equal(mem[:len(f.data)], f.data) || !bytes.Equal(mem[len(f.data):], make([]byte, int(e.Len())-len(f.data))) {
		t.Fatal("entry bytes differ from the file followed by zeros")
	}
	if s := c.Stats(); s.Filled != 4*pageSize || s.Misses != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGetSharesAndSizeLimits(t *testing.T) {
	c := newCache(t, 1<<20, 1<<20)
	a, err := c.Get(key(1, 10000))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Get(key(1, 10000))
	seg := key(1, 10000)
	seg.Size = 5000 // a segment ending earlier is its own entry
	s, _ := c.Get(seg)
	if a != b || a == s {
		t.Fatalf("same key gave %p and %p; segment %p", a, b, s)
	}
	if st := c.Stats(); st.Hits != 1 || st.Misses != 2 {
		t.Fatalf("stats %+v", st)
	}
	for _, bad := range []Key{key(2, 0), {Ino: 3, FileSize: 10, Size: 11}, {Ino: 4, FileSize: 10, Size: -1}} {
		if _, err := c.Get(bad); !errors.Is(err, unix.EINVAL) {
			t.Errorf("Get(%+v) = %v, want EINVAL", bad, err)
		}
	}
}

func TestEvictionSparesHeldEntries(t *testing.T) {
	// Room for four one-page entries; a budget of two filled pages.
	c := newCache(t, 4*pageSize, 2*pageSize)
	f := &file{data: pattern(pageSize, 2)}
	var held []*Entry
	for i := range uint64(4) {
		e, err := c.Get(key(10+i, pageSize))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Fill(0, pageSize, f); err != nil {
			t.Fatal(err)
		}
		held = append(held, e)
	}
	if _, err := c.Get(key(99, pageSize)); !errors.Is(err, ErrFull) {
		t.Fatalf("a fifth entry with every entry held: %v, want ErrFull", err)
	}
	// Releasing trims to the budget, oldest first: 10 and 11 go.
	for _, e := range held {
		e.Release()
	}
	if st := c.Stats(); st.Entries != 2 || st.Filled != 2*pageSize || st.Evicted != 2 {
		t.Fatalf("after release: %+v", st)
	}
	e, _ := c.Get(key(13, pageSize))
	if e != held[3] {
		t.Fatal("the most recent entry was evicted")
	}
	mem, _ := e.bytes()
	if !bytes.Equal(mem, f.data) {
		t.Fatal("a kept entry lost its bytes")
	}
	e.Release()
	// A new entry reuses an evicted one's room, which reads as zeros.
	n, err := c.Get(key(50, 2*pageSize))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Release()
	mem, _ = n.bytes()
	if !bytes.Equal(mem, make([]byte, 2*pageSize)) {
		t.Fatal("reused room holds another file's bytes")
	}
}

func TestDiscardAndDigest(t *testing.T) {
	c := newCache(t, 1<<20, 1<<20)
	f := &file{data: pattern(5000, 3)}
	k := key(1, 5000)
	e, _ := c.Get(k)
	h := sha256.New()
	if err := e.WriteContent(h, f); err != nil || !bytes.Equal(h.Sum(nil), sumOf(f.data)) {
		t.Fatalf("WriteContent hashed to %x, %v; want the file's %x", h.Sum(nil), err, sumOf(f.data))
	}
	// The entry is filled whole: its bytes are the file's.
	if mem, _ := e.bytes(); !bytes.Equal(mem[:5000], f.data) {
		t.Fatal("WriteContent left the entry unfilled")
	}
	e.Discard()
	again, _ := c.Get(k)
	defer again.Release()
	if again == e {
		t.Fatal("a discarded entry was found again")
	}
	e.Release()
	if st := c.Stats(); st.Entries != 1 || st.Filled != 0 {
		t.Fatalf("stats after the discarded entry's release: %+v (its pages should be gone)", st)
	}
}

// TestStubDescriptorIsReadOnly checks what a stub can do with its
// descriptor of the cache: map it privately, nothing that changes it.
func TestStubDescriptorIsReadOnly(t *testing.T) {
	c := newCache(t, 1<<20, 1<<20)
	fd := c.ReadOnlyFD()
	if _, err := unix.Write(fd, []byte("x")); err != unix.EBADF {
		t.Errorf("write: %v, want EBADF", err)
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, pageSize); err != unix.EBADF {
		t.Errorf("punch hole: %v, want EBADF", err)
	}
	if err := unix.Ftruncate(fd, 0); err == nil {
		t.Error("ftruncate succeeded")
	}
	if _, err := unix.Mmap(fd, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != unix.EACCES {
		t.Errorf("shared writable mapping: %v, want EACCES", err)
	}
	p, err := unix.Mmap(fd, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("private mapping: %v", err)
	}
	p[0] = 'x' // a private copy
	unix.Munmap(p)
	e, _ := c.Get(key(1, pageSize))
	defer e.Release()
	mem, _ := e.bytes()
	if mem[0] != 0 {
		t.Fatal("a private store reached the cache")
	}
	// The memfd's seals: it cannot grow or shrink, even from litebox.
	if err := unix.Ftruncate(c.fd, int64(c.span)*2); err != unix.EPERM {
		t.Errorf("growing the memfd: %v, want EPERM", err)
	}
}

func sumOf(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// TestRecentFilesAreNotCached checks that a host file changed within
// StableAfter gets no entry: a second write in the same clock tick would
// leave its key unchanged.
func TestRecentFilesAreNotCached(t *testing.T) {
	c := newCache(t, 1<<20, 1<<20)
	k := key(1, 100)
	k.Ctime = time.Now().UnixNano()
	if e, err := c.Get(k); !errors.Is(err, ErrUnstable) {
		t.Fatalf("Get of a file changed just now = %v, %v; want ErrUnstable", e, err)
	}
	k.Src = "sha256:0123/usr/bin/x" // an image layer's: never written
	e, err := c.Get(k)
	if err != nil {
		t.Fatalf("Get of a layer's file = %v", err)
	}
	e.Release()
}

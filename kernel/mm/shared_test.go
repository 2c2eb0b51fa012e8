package mm_test

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform"
)

// fakeMem is a memory file of the fake platform; freed counts the bytes
// given back with Free.
type fakeMem struct {
	b     []byte
	freed uint64
}

func (m *fakeMem) Bytes() []byte { return m.b }

func (m *fakeMem) Free(off, length uint64) {
	clear(m.b[off : off+length])
	m.freed += length
}

// mems records every memory file the fakes made, to check Free.
var mems []*fakeMem

func (f *fakeMapper) NewMemory(length uint64) (platform.Memory, error) {
	m := &fakeMem{b: make([]byte, length)}
	mems = append(mems, m)
	return m, nil
}

// MapMemory maps the memory's pages themselves: stores through one
// mapping are seen through every other and by whoever holds the memory.
func (f *fakeMapper) MapMemory(addr, length uint64, prot int, mem platform.Memory, off uint64) error {
	if err := f.check(addr, length); err != nil {
		return err
	}
	b := mem.Bytes()
	if off%P != 0 || off > uint64(len(b)) || length > uint64(len(b))-off {
		return errBadRange
	}
	for i := uint64(0); i < length; i += P {
		f.pages[addr+i] = &fakePage{prot: prot, shared: (*[P]byte)(b[off+i : off+i+P])}
	}
	return nil
}

// sharedFile is a memfs file of size bytes filled with pattern(size, 1),
// and a read-write handle on it.
func sharedFile(t *testing.T, fs *memfs.FS, name string, size int) (*memfs.File, vfs.FileOps) {
	t.Helper()
	n, err := fs.Root().Create(name, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.(*memfs.File).Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if size > 0 {
		if _, err := h.WriteAt(pattern(size, 1), 0); err != nil {
			t.Fatal(err)
		}
	}
	return n.(*memfs.File), h
}

func mapShared(t *testing.T, m *mm.MM, f *memfs.File, addr, length, off uint64, prot int) uint64 {
	t.Helper()
	return mustMmap(t, m, mm.MapRequest{Addr: addr, Length: length, Prot: prot, Fixed: addr != 0,
		Shared: true, File: f0{}, Pages: f, Offset: off})
}

// f0 is a Backing that must not be read: a shared file mapping maps the
// file's pages instead of copying them.
type f0 struct{}

func (f0) ReadAt([]byte, int64) (int, error) { panic("shared file mapping read through its Backing") }

func readFile(t *testing.T, h vfs.FileOps, off int64, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	got, err := h.ReadAt(b, off)
	if got != n {
		t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, got, err)
	}
	return b
}

// TestSharedFileMapping: two address spaces mapping one memfs file at
// different addresses and offsets see each other's stores and the file's
// writes, and read(2) sees the stores: one set of pages.
func TestSharedFileMapping(t *testing.T) {
	fs := memfs.New(0)
	f, h := sharedFile(t, fs, "f", 3*P)
	m1, f1 := newMM()
	m2, f2 := newMM()
	a1 := mapShared(t, m1, f, A, 3*P, 0, rw)
	a2 := mapShared(t, m2, f, 0, 2*P, P, rw) // the file's pages 1 and 2
	wantBytes(t, "initial contents", f1.peek(t, a1, 3*P), pattern(3*P, 1))
	wantBytes(t, "offset mapping", f2.peek(t, a2, 2*P), pattern(3*P, 1)[P:])

	if _, err := m1.Mapper().CopyOut(a1+P+10, []byte("store")); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "other mapping", f2.peek(t, a2+10, 5), []byte("store"))
	wantBytes(t, "read(2)", readFile(t, h, P+10, 5), []byte("store"))

	if _, err := h.WriteAt([]byte("write"), 2*P+7); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "write(2) in mapping 1", f1.peek(t, a1+2*P+7, 5), []byte("write"))
	wantBytes(t, "write(2) in mapping 2", f2.peek(t, a2+P+7, 5), []byte("write"))

	// Unmapped and mapped again: the stores are the file's.
	if err := m1.Munmap(a1, 3*P); err != nil {
		t.Fatal(err)
	}
	a1 = mapShared(t, m1, f, 0, P, P, ro)
	wantBytes(t, "mapped again", f1.peek(t, a1+10, 5), []byte("store"))
	if st, _ := f.Stat(); st.Size != 3*P {
		t.Errorf("size = %d, want %d", st.Size, 3*P)
	}
}

// TestSharedFileHoles: holes in the mapped range become charged zero
// pages of the file; pages past the end of the file are not the file's.
func TestSharedFileHoles(t *testing.T) {
	fs := memfs.New(0)
	f, h := sharedFile(t, fs, "f", 0)
	if err := h.Truncate(P + P/2); err != nil { // a hole, a page and a half
		t.Fatal(err)
	}
	before := fs.Used()
	m, fm := newMM()
	a := mapShared(t, m, f, 0, 3*P, 0, rw)
	if got, want := fs.Used()-before, int64(2*memfs.PageCost); got != want {
		t.Errorf("mapping the hole charged %d, want %d", got, want)
	}
	wantBytes(t, "hole", fm.peek(t, a, 3*P), zeros(3*P))
	// Past the end of the file (the tail of page 1 and page 2).
	fm.poke(t, a+P+P/2, []byte("tail"))
	fm.poke(t, a+2*P, []byte("beyond"))
	if st, _ := f.Stat(); st.Size != P+P/2 {
		t.Fatalf("a store changed the size to %d", st.Size)
	}
	// Growing the file shows zeros there, not the stores.
	if err := h.Truncate(3 * P); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "grown file", readFile(t, h, P, 2*P), zeros(2*P))
	m2, fm2 := newMM()
	a2 := mapShared(t, m2, f, 0, 3*P, 0, rw)
	wantBytes(t, "grown tail in a new mapping", fm2.peek(t, a2+P+P/2, 4), zeros(4))
	wantBytes(t, "tail page in the old mapping", fm.peek(t, a+P+P/2, 4), zeros(4))
}

// TestSharedFileTruncate: a page truncated away and grown back is the
// same page, so a mapping made before sees the file again.
func TestSharedFileTruncate(t *testing.T) {
	fs := memfs.New(0)
	f, h := sharedFile(t, fs, "f", 2*P)
	m, fm := newMM()
	a := mapShared(t, m, f, 0, 2*P, 0, rw)
	if err := h.Truncate(P); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "truncated page", fm.peek(t, a+P, P), zeros(P))
	if _, err := h.WriteAt([]byte("again"), P+3); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "written back in", fm.peek(t, a+P+3, 5), []byte("again"))
	fm.poke(t, a+P+100, []byte("lost")) // past the end: cleared when the file grows
	if err := h.Truncate(2 * P); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "grown by truncate", fm.peek(t, a+P, 200), append(append(zeros(3), "again"...), zeros(192)...))
	fm.poke(t, a+P+100, []byte("store"))
	wantBytes(t, "stored after growth", readFile(t, h, P+100, 5), []byte("store"))

	// Truncated to nothing, stored into, grown by ftruncate alone: the
	// file reads zeros, and the old mapping is the file's again.
	if err := h.Truncate(0); err != nil {
		t.Fatal(err)
	}
	fm.poke(t, a+10, []byte("stale"))
	if err := h.Truncate(P); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "grown over a kept page", readFile(t, h, 0, P), zeros(P))
	wantBytes(t, "kept page in the mapping", fm.peek(t, a+10, 5), zeros(5))
	fm.poke(t, a+20, []byte("fresh"))
	wantBytes(t, "store into the revived page", readFile(t, h, 20, 5), []byte("fresh"))
}

// TestSharedFileRelease: the memory files of a file are given back when
// its last link and handle are gone, and so is every page's charge.
func TestSharedFileRelease(t *testing.T) {
	mems = nil
	fs := memfs.New(0)
	empty := fs.Used()
	n, err := fs.Root().Create("f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f := n.(*memfs.File)
	h, err := f.Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(pattern(4*P, 1), 0); err != nil {
		t.Fatal(err)
	}
	m, _ := newMM()
	a := mapShared(t, m, f, 0, 2*P, 2*P, rw)
	if err := h.Truncate(P); err != nil { // page 2 and 3 kept for the mapping
		t.Fatal(err)
	}
	if err := m.Munmap(a, 2*P); err != nil {
		t.Fatal(err)
	}
	if err := fs.Root().Unlink("f"); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fs.Used(); got != empty {
		t.Errorf("used %d after release, want %d", got, empty)
	}
	if len(mems) != 1 || mems[0].freed != 2*P {
		t.Errorf("memory files %v: want one, freed in full (%d bytes)", mems, 2*P)
	}
}

// TestSharedFileLimit: a mapping whose holes do not fit in the file
// system fails (ENOMEM) and charges nothing.
func TestSharedFileLimit(t *testing.T) {
	fs := memfs.New(16 * P)
	f, h := sharedFile(t, fs, "f", 0)
	if err := h.Truncate(64 * P); err != nil {
		t.Fatal(err)
	}
	before := fs.Used()
	m, _ := newMM()
	_, err := m.Mmap(mm.MapRequest{Length: 64 * P, Prot: rw, Shared: true, File: f0{}, Pages: f})
	wantErrno(t, err, unix.ENOMEM)
	if fs.Used() != before || m.Mapped() != 0 {
		t.Errorf("failed mapping left used %d (was %d), mapped %d", fs.Used(), before, m.Mapped())
	}
}

// TestSharedFileMprotect: PROT_WRITE cannot be added to a shared mapping
// of a file not open for writing.
func TestSharedFileMprotect(t *testing.T) {
	f, _ := sharedFile(t, memfs.New(0), "f", P)
	m, _ := newMM()
	a := mustMmap(t, m, mm.MapRequest{Length: P, Prot: ro, Shared: true, File: f0{}, Pages: f, NoWrite: true})
	wantErrno(t, m.Mprotect(a, P, rw), unix.EACCES)
	wantErrno(t, m.Mprotect(a, P, nop), 0)
	wantErrno(t, m.Mprotect(a, P, ro), 0)
}

// TestSharedFileMremap: a shared file mapping moved and grown by mremap
// still maps the file's pages, the new ones included.
func TestSharedFileMremap(t *testing.T) {
	f, h := sharedFile(t, memfs.New(0), "f", 4*P)
	m, fm := newMM()
	a := mapShared(t, m, f, A, 2*P, 0, rw)
	mustMmap(t, m, mm.MapRequest{Addr: A + 2*P, Length: P, Prot: rw, Fixed: true}) // forces a move
	b, err := m.Mremap(a, 2*P, 4*P, true, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b == a {
		t.Fatal("mremap grew in place over a neighbour")
	}
	wantBytes(t, "moved mapping", fm.peek(t, b, 4*P), pattern(4*P, 1))
	fm.poke(t, b+3*P, []byte("grown"))
	wantBytes(t, "store in the grown part", readFile(t, h, 3*P, 5), []byte("grown"))
	// Shrunk, then grown in place again.
	if _, err := m.Mremap(b, 4*P, 2*P, false, false, 0); err != nil {
		t.Fatal(err)
	}
	c, err := m.Mremap(b, 2*P, 3*P, false, false, 0)
	if err != nil || c != b {
		t.Fatalf("mremap in place = %#x, %v", c, err)
	}
	wantBytes(t, "grown in place", fm.peek(t, b+2*P, P), pattern(4*P, 1)[2*P:3*P])
	if _, err := h.WriteAt([]byte("later"), 2*P+1); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "write seen in the grown part", fm.peek(t, b+2*P+1, 5), []byte("later"))
}

// TestSharedKey: shared futex keys name the memory, not the address.
func TestSharedKey(t *testing.T) {
	f, _ := sharedFile(t, memfs.New(0), "f", 4*P)
	m1, _ := newMM()
	m2, _ := newMM()
	a1 := mapShared(t, m1, f, 0, 4*P, 0, rw)
	a2 := mapShared(t, m2, f, 0, 2*P, 2*P, rw)
	o1, off1, ok1 := m1.SharedKey(a1 + 2*P + 8)
	o2, off2, ok2 := m2.SharedKey(a2 + 8)
	if !ok1 || !ok2 || o1 != o2 || off1 != off2 || off1 != 2*P+8 {
		t.Errorf("keys (%v %#x %v) and (%v %#x %v) differ", o1, off1, ok1, o2, off2, ok2)
	}
	private := mustMmap(t, m1, mm.MapRequest{Length: P, Prot: rw})
	if _, _, ok := m1.SharedKey(private); ok {
		t.Error("private memory has a shared key")
	}
	if _, _, ok := m1.SharedKey(0x1000); ok {
		t.Error("unmapped memory has a shared key")
	}
	anon := mustMmap(t, m1, mm.MapRequest{Length: 2 * P, Prot: rw, Shared: true})
	oa, offa, oka := m1.SharedKey(anon + P + 4)
	if err := m1.Mprotect(anon+P, P, ro); err != nil { // splits the VMA
		t.Fatal(err)
	}
	ob, offb, okb := m1.SharedKey(anon + P + 4)
	if !oka || !okb || oa != ob || offa != offb || offa != P+4 || oa == o1 {
		t.Errorf("anonymous keys (%v %#x) and after a split (%v %#x)", oa, offa, ob, offb)
	}
	forked := m1.Fork(newFakeMapper())
	oc, offc, okc := forked.SharedKey(anon + P + 4)
	if !okc || oc != oa || offc != offa {
		t.Errorf("fork's key (%v %#x), want (%v %#x)", oc, offc, oa, offa)
	}
}

func TestMsync(t *testing.T) {
	m, _ := newMM()
	a := mustMmap(t, m, mm.MapRequest{Length: 2 * P, Prot: rw})
	tests := []struct {
		name      string
		addr, len uint64
		flags     int
		want      unix.Errno
	}{
		{"sync", a, 2 * P, unix.MS_SYNC, 0},
		{"async, partial page", a, P + 1, unix.MS_ASYNC, 0},
		{"invalidate", a, P, unix.MS_INVALIDATE, 0},
		{"no flags", a, P, 0, 0},
		{"empty", a, 0, unix.MS_SYNC, 0},
		{"both", a, P, unix.MS_SYNC | unix.MS_ASYNC, unix.EINVAL},
		{"unknown flag", a, P, 8, unix.EINVAL},
		{"unaligned", a + 1, P, unix.MS_SYNC, unix.EINVAL},
		{"hole after", a, 3 * P, unix.MS_SYNC, unix.ENOMEM},
		{"unmapped", 0x20000000, P, unix.MS_SYNC, unix.ENOMEM},
		{"wraps", a, neg(P), unix.MS_SYNC, unix.ENOMEM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErrno(t, m.Msync(tc.addr, tc.len, tc.flags), tc.want) })
	}
}

// TestSharedFileReadOnlyHoles: a mapping without PROT_WRITE leaves a
// sparse file's holes alone (no pages, no charge), while its data pages
// are the file's; mprotect making it writable fills the holes it covers.
func TestSharedFileReadOnlyHoles(t *testing.T) {
	const hole = 16 << 20
	fs := memfs.New(8 * P)
	f, h := sharedFile(t, fs, "f", 0)
	if _, err := h.WriteAt([]byte("end"), hole); err != nil { // a 16 MiB hole, then a page
		t.Fatal(err)
	}
	before := fs.Used()
	m, fm := newMM()
	a := mustMmap(t, m, mm.MapRequest{Length: hole + P, Prot: ro, Shared: true, File: f0{}, Pages: f})
	if fs.Used() != before {
		t.Errorf("a read-only mapping charged %d bytes", fs.Used()-before)
	}
	wantBytes(t, "hole", fm.peek(t, a+P, 8), zeros(8))
	if _, err := h.WriteAt([]byte("END"), hole); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "data page", fm.peek(t, a+hole, 3), []byte("END"))

	wantErrno(t, m.Mprotect(a, 2*P, rw), 0)
	if got, want := fs.Used()-before, int64(2*memfs.PageCost); got != want {
		t.Errorf("made writable: charged %d, want %d", got, want)
	}
	if _, err := m.Mapper().CopyOut(a+P+1, []byte("w")); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "store after mprotect", readFile(t, h, P+1, 1), []byte("w"))
	// The whole mapping, or a new writable one, cannot fit the holes.
	wantErrno(t, m.Mprotect(a, hole+P, rw), unix.ENOMEM)
	_, err := m.Mmap(mm.MapRequest{Length: hole + P, Prot: rw, Shared: true, File: f0{}, Pages: f})
	wantErrno(t, err, unix.ENOMEM)
}

// TestSharedFilePastEOF: pages of a shared mapping past the end of the
// file are PROT_NONE; a fault there is SIGBUS while the file is short and
// maps the file's new pages once it has grown. Faults elsewhere are not
// FileFault's.
func TestSharedFilePastEOF(t *testing.T) {
	fs := memfs.New(0)
	f, h := sharedFile(t, fs, "f", P)
	m, fm := newMM()
	a := mapShared(t, m, f, 0, 3*P, 0, rw)
	if pg := fm.pages[a+P]; pg == nil || pg.prot != nop {
		t.Fatalf("page past the end: %+v, want mapped PROT_NONE", pg)
	}
	for _, tc := range []struct {
		addr            uint64
		handled, sigbus bool
	}{
		{a + 10, false, false},     // in the file: a real SIGSEGV
		{a + P + 5, false, true},   // past the end
		{a + 3*P, false, false},    // outside the mapping
		{a + 2*P + 1, false, true}, // past the end
	} {
		if h, b := m.FileFault(tc.addr); h != tc.handled || b != tc.sigbus {
			t.Errorf("FileFault(%#x) = %v, %v, want %v, %v", tc.addr, h, b, tc.handled, tc.sigbus)
		}
	}
	if _, err := h.WriteAt([]byte("grown"), P+5); err != nil {
		t.Fatal(err)
	}
	if hd, b := m.FileFault(a + P + 5); !hd || b {
		t.Fatalf("after the file grew: FileFault = %v, %v, want handled", hd, b)
	}
	wantBytes(t, "grown page in the mapping", fm.peek(t, a+P+5, 5), []byte("grown"))
	if pg := fm.pages[a+P]; pg.prot != rw {
		t.Errorf("grown page has protection %s, want rw", permString(pg.prot))
	}
	if hd, b := m.FileFault(a + 2*P); hd || !b {
		t.Errorf("still past the end: FileFault = %v, %v, want SIGBUS", hd, b)
	}
	// mprotect keeps the pages past the end PROT_NONE.
	wantErrno(t, m.Mprotect(a, 3*P, ro), 0)
	if fm.pages[a+2*P].prot != nop || fm.pages[a].prot != ro {
		t.Error("mprotect made the page past the end accessible, or not the file's")
	}
	// Unmapped: no longer FileFault's.
	wantErrno(t, m.Munmap(a, 3*P), 0)
	if hd, b := m.FileFault(a + 2*P); hd || b {
		t.Errorf("after munmap: FileFault = %v, %v", hd, b)
	}
}

// syncFile is a SharedFile whose pages are a copy (hostfs's cache): it
// records the ranges SyncPages is asked to write back.
type syncFile struct {
	mem   platform.Memory
	size  uint64
	syncs []mm.Range // file offsets
}

func (s *syncFile) SharePages(off, length uint64, _ bool, alloc func(uint64) (platform.Memory, error)) ([]mm.MemRun, error) {
	if s.mem == nil {
		m, err := alloc(s.size)
		if err != nil {
			return nil, err
		}
		s.mem = m
	}
	if off >= s.size {
		return nil, nil
	}
	return []mm.MemRun{{Mem: s.mem, Off: off, Len: min(length, s.size-off)}}, nil
}

func (s *syncFile) Object() any { return s }

func (s *syncFile) SyncPages(off, length uint64) error {
	s.syncs = append(s.syncs, mm.Range{Start: off, End: off + length})
	return nil
}

// TestSharedFileWriteBack: msync (MS_SYNC or MS_ASYNC, not MS_INVALIDATE
// alone), munmap and Release ask a copied file to write back exactly the
// file range concerned; a shared file mapping costs the budget nothing.
func TestSharedFileWriteBack(t *testing.T) {
	sf := &syncFile{size: 4 * P}
	m, _ := newMM()
	b := mm.NewBudget(1 << 20)
	m.SetBudget(b)
	a := mustMmap(t, m, mm.MapRequest{Addr: A, Length: 4 * P, Prot: rw, Fixed: true, Shared: true, File: f0{}, Pages: sf, Offset: P})
	if b.Used() != 0 {
		t.Errorf("a shared file mapping charged %d bytes", b.Used())
	}
	want := func(what string, rs ...mm.Range) {
		t.Helper()
		if fmt.Sprint(sf.syncs) != fmt.Sprint(rs) {
			t.Errorf("%s: write-back of %v, want %v", what, sf.syncs, rs)
		}
		sf.syncs = nil
	}
	wantErrno(t, m.Msync(a+P, P, unix.MS_INVALIDATE), 0)
	want("MS_INVALIDATE")
	wantErrno(t, m.Msync(a+P, P, unix.MS_SYNC), 0)
	want("MS_SYNC", mm.Range{Start: 2 * P, End: 3 * P})
	wantErrno(t, m.Msync(a, 4*P, unix.MS_ASYNC), 0)
	want("MS_ASYNC", mm.Range{Start: P, End: 5 * P})
	wantErrno(t, m.Munmap(a+3*P, P), 0)
	want("munmap", mm.Range{Start: 4 * P, End: 5 * P})
	m.Release()
	want("release", mm.Range{Start: P, End: 4 * P})
}

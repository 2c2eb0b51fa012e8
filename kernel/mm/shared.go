package mm

import (
	"fmt"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// SharedFile is a file whose pages a MAP_SHARED mapping maps themselves
// (not a copy): memfs files, whose pages move into memory files the
// platform maps into every stub that maps them (memfs/shared.go).
type SharedFile interface {
	// SharePages returns the memory holding the file's pages for the file
	// range [off, off+length) (page aligned), in order, making and
	// charging what is missing with alloc. With holes false, a hole is a
	// run without Mem instead (for a mapping without PROT_WRITE: a sparse
	// file mapped read-only costs nothing). The runs may stop
	// short: what follows is past the end of the file.
	SharePages(off, length uint64, holes bool, alloc func(length uint64) (platform.Memory, error)) ([]MemRun, error)
	// Object names the file's pages for shared futex keys.
	Object() any
}

// PageSyncer is a SharedFile whose pages are a copy of a file kept
// elsewhere (hostfs's page cache of a host file): stores into a mapping
// reach the file when SyncPages writes the file range [off, off+length)
// back. mm calls it at msync and munmap (and for every mapping when the
// address space is released).
type PageSyncer interface {
	SyncPages(off, length uint64) error
}

// syncVMA writes back [start, end) of v if its pages are a copy.
func syncVMA(v VMA, start, end uint64) error {
	ps, ok := v.Pages.(PageSyncer)
	if !ok || start >= end {
		return nil
	}
	return ps.SyncPages(v.Offset+(start-v.Start), end-start)
}

// MemRun is a range of a memory file: Len bytes from Off of Mem, or a
// hole of Len bytes when Mem is nil.
type MemRun struct {
	Mem      platform.Memory
	Off, Len uint64
}

// MemoryMapper is the part of a platform address space that maps memory
// files (platform.AddressSpace has it; test fakes may not).
type MemoryMapper interface {
	NewMemory(length uint64) (platform.Memory, error)
	MapMemory(addr, length uint64, prot int, mem platform.Memory, off uint64) error
}

// anonObject names one MAP_SHARED anonymous mapping (and its forks'
// copies) for shared futex keys.
type anonObject struct{ _ byte }

// mapFilePages maps the file pages of [start, end) of the shared file
// mapping v. Pages past the end of the file are mapped PROT_NONE and
// recorded in m.eofHoles: a guest access there faults, and FileFault maps
// the file's pages if it has grown since, or the guest gets SIGBUS, as
// Linux gives past the end of a file. The holes of a memfs mapping
// without PROT_WRITE are private zero pages (until mprotect adds it, see
// protectFilePages): a later write(2) there is not seen by it (Linux
// would show it), the price of not making a sparse file's holes real
// pages when it is only read.
func (m *MM) mapFilePages(v VMA, start, end uint64) error {
	mapper, ok := m.as.(MemoryMapper)
	if !ok {
		return unix.ENODEV
	}
	runs, err := v.Pages.SharePages(v.Offset+(start-v.Start), end-start, v.Prot&unix.PROT_WRITE != 0, mapper.NewMemory)
	if err != nil {
		return err
	}
	at := start
	for _, r := range runs {
		if r.Len > end-at {
			return fmt.Errorf("mm: shared file returned %#x bytes past %#x", r.Len, end)
		}
		if r.Mem == nil {
			if err := m.as.Map(at, r.Len, v.Prot); err != nil {
				return fmt.Errorf("mm: map hole %#x-%#x: %w", at, at+r.Len, err)
			}
		} else if err := mapper.MapMemory(at, r.Len, v.Prot, r.Mem, r.Off); err != nil {
			return fmt.Errorf("mm: map shared file %#x-%#x: %w", at, at+r.Len, err)
		}
		at += r.Len
	}
	m.clearHoles(start, end)
	if at < end {
		if err := m.as.Map(at, end-at, unix.PROT_NONE); err != nil {
			return fmt.Errorf("mm: map past the end of file %#x-%#x: %w", at, end, err)
		}
		m.eofHoles = append(m.eofHoles, Range{at, end})
	}
	return nil
}

// clearHoles forgets the past-the-end holes in [start, end) (remapped or
// unmapped).
func (m *MM) clearHoles(start, end uint64) {
	if len(m.eofHoles) == 0 {
		return
	}
	kept := m.eofHoles[:0]
	var extra []Range
	for _, h := range m.eofHoles {
		if h.End <= start || h.Start >= end {
			kept = append(kept, h)
			continue
		}
		if h.Start < start {
			kept = append(kept, Range{h.Start, start})
		}
		if h.End > end {
			extra = append(extra, Range{end, h.End})
		}
	}
	m.eofHoles = append(kept, extra...)
}

// FileFault handles a guest fault at addr. In a shared file mapping's
// pages past the end of the file it maps what the file holds now
// (handled: the guest retries the access), or reports sigbus when addr is
// still past the end (Linux's SIGBUS with BUS_ADRERR). Anywhere else it
// returns false, false: the fault is the guest's SIGSEGV.
func (m *MM) FileFault(addr uint64) (handled, sigbus bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inHole := func() bool {
		for _, h := range m.eofHoles {
			if h.Start <= addr && addr < h.End {
				return true
			}
		}
		return false
	}
	if !inHole() {
		return false, false
	}
	i := sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].End > addr })
	if i == len(m.vmas) || m.vmas[i].Start > addr || m.vmas[i].Pages == nil {
		return false, false
	}
	v := m.vmas[i]
	page := pageDown(addr)
	if err := m.mapFilePages(v, page, v.End); err != nil {
		return false, true
	}
	if inHole() {
		return false, true
	}
	return true, false
}

// protectFilePages gives the shared file mapping v the protection prot,
// mapping the file's pages afresh: a mapping that becomes writable gets
// real pages for its holes, and pages past the end of the file stay
// PROT_NONE whatever prot is.
func (m *MM) protectFilePages(v VMA, prot int) error {
	v.Prot = prot
	return m.mapFilePages(v, v.Start, v.End)
}

// SharedKey names the shared memory at addr, for a futex that other
// processes may wait on: the object behind a MAP_SHARED mapping and the
// offset in it. ok is false for private memory (the caller keys by
// address space and address).
func (m *MM) SharedKey(addr uint64) (obj any, off uint64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].End > addr })
	if i == len(m.vmas) || m.vmas[i].Start > addr || m.vmas[i].Obj == nil {
		return nil, 0, false
	}
	v := m.vmas[i]
	return v.Obj, v.Offset + (addr - v.Start), true
}

// Msync implements msync(2). The pages of a memfs file's mapping are the
// file's own, so nothing is left to write back; a host file's (hostfs)
// are written back, with MS_SYNC and MS_ASYNC alike (done at once: Linux
// only starts the I/O for MS_ASYNC, but read(2) sees the pages either
// way); MS_INVALIDATE alone changes nothing, as on Linux.
func (m *MM) Msync(addr, length uint64, flags int) error {
	if flags&^(unix.MS_ASYNC|unix.MS_SYNC|unix.MS_INVALIDATE) != 0 ||
		flags&(unix.MS_ASYNC|unix.MS_SYNC) == unix.MS_ASYNC|unix.MS_SYNC || addr%PageSize != 0 {
		return unix.EINVAL
	}
	end, ok := pageEnd(addr, length)
	if !ok {
		return unix.ENOMEM
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.covered(addr, end) {
		return unix.ENOMEM
	}
	if flags&(unix.MS_SYNC|unix.MS_ASYNC) == 0 {
		return nil
	}
	for _, v := range m.vmas {
		if err := syncVMA(v, max(v.Start, addr), min(v.End, end)); err != nil {
			return unix.EIO
		}
	}
	return nil
}

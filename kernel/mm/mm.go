// Package mm keeps the kernel's own record of a guest address space (its
// VMAs, brk and mmap area) and mirrors every change into the platform. The
// record here is the single source of truth: the platform only holds pages.
package mm

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/pagecache"
)

// Page geometry and guest address-space bounds (x86-64, 4-level paging).
const (
	PageSize = 4096
	MinAddr  = 0x10000
	MaxAddr  = 0x7ffffffff000
)

// Mapper is what mm needs from a platform address space.
type Mapper interface {
	Map(addr, length uint64, prot int) error
	MapShared(addr, length uint64, prot int) error
	Unmap(addr, length uint64) error
	Protect(addr, length uint64, prot int) error
	Remap(oldAddr, oldLen, newAddr, newLen uint64) error
	Discard(addr, length uint64) error
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyOut(addr uint64, src []byte) (int, error)
}

// Backing is the content source of a private file mapping.
type Backing interface {
	ReadAt(p []byte, off int64) (int, error)
}

// FileInfo names a file mapping in /proc/self/maps.
type FileInfo struct {
	Path     string
	Dev, Ino uint64
}

// VMA is one mapped range with uniform attributes.
type VMA struct {
	Start, End uint64
	Prot       int
	Shared     bool
	File       Backing // nil for anonymous memory
	Hold       FileRef // the open file File reads, kept open while mapped (files.go)
	Info       FileInfo
	Offset     uint64 // file offset of Start
	Name       string // "[heap]", "[stack]" or "" for anonymous memory
	// Pages is the file of a MAP_SHARED file mapping, whose own pages are
	// mapped (shared.go); File then only names it.
	Pages SharedFile
	// Obj names the memory of a shared mapping (Pages' object, or one of
	// its own for anonymous memory) for futex keys, at Offset.
	Obj any
	// NoWrite forbids adding PROT_WRITE (a shared mapping of a file not
	// open for writing: Linux's missing VM_MAYWRITE).
	NoWrite bool
	// NoExec forbids adding PROT_EXEC (a file of a noexec mount: Linux's
	// missing VM_MAYEXEC).
	NoExec bool
	// Cache is the page-cache entry a private file mapping maps its
	// pages from (cache.go); nil for a private copy.
	Cache *pagecache.Entry
}

func (v VMA) len() uint64 { return v.End - v.Start }

// commits reports whether v is charged to the sandbox's --memory budget,
// following Linux's commit accounting (mm/mmap.c accountable_mapping) as
// under vm.overcommit_memory=2, where MAP_NORESERVE is not special:
//   - private anonymous memory only while writable: a PROT_NONE or
//     read-only reservation can only ever show zero pages, which cost the
//     host nothing (mprotect to PROT_WRITE charges it, and back releases,
//     as Linux does for an anonymous VMA never written);
//   - shared anonymous memory always (shmem charges at creation);
//   - private file mappings from the page cache as Linux does, only
//     while writable: until written their pages are the cache's, charged
//     once to the process-wide cache (pagecache), and a store makes a
//     private copy;
//   - other private file mappings always, unlike Linux: their pages are
//     copies of the file filled in at mmap;
//   - shared file mappings never, as on Linux: their pages are the file's,
//     charged by the file system (memfs to --tmpfs-size, hostfs's cache to
//     --memory), and their pages past the end of the file are PROT_NONE
//     (shared.go), so they hold no memory of their own.
func (v VMA) commits() bool {
	switch {
	case v.Pages != nil:
		return false
	case v.Cache != nil:
		return v.Prot&unix.PROT_WRITE != 0
	case v.Shared, v.File != nil:
		return true
	default:
		return v.Prot&unix.PROT_WRITE != 0
	}
}

// commit is the bytes of v charged to the budget.
func (v VMA) commit() uint64 {
	if v.commits() {
		return v.len()
	}
	return 0
}

// MaxMapCount bounds the VMAs of one address space, as Linux's
// vm.max_map_count (default 65530): each costs kernel memory, and a guest
// could otherwise split its address space into billions of them. Beyond
// it mmap, mprotect and munmap fail with ENOMEM, as on Linux.
const MaxMapCount = 65530

// maxMapCount is MaxMapCount, lowered by tests.
var maxMapCount = MaxMapCount

// MM is one guest address space as the kernel sees it.
type MM struct {
	mu       sync.Mutex
	as       Mapper
	vmas     []VMA // sorted by Start, never overlapping
	reserved []Range
	mmapTop  uint64
	brkStart uint64
	brk      uint64
	limit    uint64 // bytes of mapped memory allowed; 0 = unlimited
	budget   *Budget
	mapped   uint64 // bytes of address space in VMAs (VmSize, RLIMIT_AS)
	// committed is the part of mapped charged to the budget: the VMAs
	// that may hold memory of their own (see VMA.commits).
	committed uint64
	peak      uint64 // the most mapped at once (getrusage's maxrss)
	users     int    // processes sharing this address space
	held      refSet[FileRef]
	cached    refSet[*pagecache.Entry] // page-cache entries VMAs map (cache.go)
	// eofHoles are the ranges of shared file mappings past the end of
	// their file, mapped PROT_NONE (shared.go, FileFault).
	eofHoles []Range
	// exec decides which mappings may become executable (exec.go).
	exec ExecCheck
}

// Range is a half-open address range.
type Range struct{ Start, End uint64 }

// New returns an empty address space record backed by as. reserved ranges
// (the platform's own code) are never handed out; mmapTop is where top-down
// allocation starts.
func New(as Mapper, reserved []Range, mmapTop uint64) *MM {
	return &MM{as: as, reserved: reserved, mmapTop: mmapTop, users: 1}
}

// SetLimit caps the bytes of guest memory this address space may map.
func (m *MM) SetLimit(bytes uint64) { m.mu.Lock(); m.limit = bytes; m.mu.Unlock() }

// Mapper returns the platform address space, for checked copies.
func (m *MM) Mapper() Mapper { return m.as }

func pageUp(x uint64) uint64   { return (x + PageSize - 1) &^ (PageSize - 1) }
func pageDown(x uint64) uint64 { return x &^ (PageSize - 1) }

// pageEnd returns addr plus length rounded up to a page, and false if that
// wraps around: a huge length must not pass for an empty range.
func pageEnd(addr, length uint64) (uint64, bool) {
	l := pageUp(length)
	return addr + l, l >= length && addr+l >= addr
}

// MapRequest describes an mmap call after the shim has decoded it.
type MapRequest struct {
	Addr, Length uint64
	Prot         int
	Fixed        bool // MAP_FIXED: replace whatever is there
	NoReplace    bool // MAP_FIXED_NOREPLACE: EEXIST if anything is there
	Shared       bool
	File         Backing
	Hold         FileRef // the open file File reads from, if any (see FileRef)
	Info         FileInfo
	Offset       uint64
	Name         string
	Pages        SharedFile // MAP_SHARED of a file whose pages are mapped (VMA.Pages)
	NoWrite      bool       // see VMA.NoWrite
	NoExec       bool       // see VMA.NoExec
}

// Mmap maps memory and returns its address.
func (m *MM) Mmap(r MapRequest) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.dropUnmapped()
	if r.Length == 0 || r.Offset%PageSize != 0 {
		return 0, unix.EINVAL
	}
	length := pageUp(r.Length)
	if length < r.Length || length > MaxAddr {
		return 0, unix.ENOMEM
	}
	if r.Offset+length < r.Offset {
		return 0, unix.EOVERFLOW
	}
	var addr uint64
	switch {
	case r.Fixed || r.NoReplace:
		if r.Addr%PageSize != 0 {
			return 0, unix.EINVAL
		}
		if r.Addr < MinAddr || r.Addr+length > MaxAddr || r.Addr+length < r.Addr {
			return 0, unix.ENOMEM
		}
		if m.overlapsReserved(r.Addr, r.Addr+length) {
			return 0, unix.ENOMEM
		}
		if r.NoReplace && m.overlapsVMA(r.Addr, r.Addr+length) {
			return 0, unix.EEXIST
		}
		addr = r.Addr
	default:
		hint := pageDown(r.Addr)
		if hint >= MinAddr && hint+length <= MaxAddr && hint+length > hint && m.free(hint, hint+length) {
			addr = hint
		} else {
			var ok bool
			if addr, ok = m.findFree(length); !ok {
				return 0, unix.ENOMEM
			}
		}
	}
	v := VMA{Start: addr, End: addr + length, Prot: r.Prot, Shared: r.Shared,
		File: r.File, Hold: r.Hold, Info: r.Info, Offset: r.Offset, Name: r.Name, NoWrite: r.NoWrite,
		NoExec: r.NoExec}
	switch {
	case r.Shared && r.Pages != nil:
		v.Pages, v.Obj = r.Pages, r.Pages.Object()
	case r.Shared && r.File == nil:
		v.Obj, v.Offset = &anonObject{}, 0
	case !r.Shared && r.File != nil:
		// An executable one too: the exec check hashes the entry's own
		// bytes (checkCached).
		v.Cache = m.cacheFor(r.File, r.Offset, length)
	}
	if err := m.charge(v); err != nil {
		return 0, err
	}
	if err := m.roomForVMAs(addr, addr+length); err != nil {
		return 0, err
	}
	if r.File == nil {
		v.Hold = nil
		r.Hold = nil
	}
	if err := m.hold(r.Hold); err != nil {
		return 0, err
	}
	fillFrom, done, err := m.checkMmap(v)
	if err != nil {
		return 0, err
	}
	defer done()
	if err := m.unmapLocked(addr, addr+length); err != nil {
		return 0, err
	}
	if err := m.populate(fillFrom, v.Start, v.End); err != nil {
		_ = m.as.Unmap(v.Start, v.len())
		return 0, err
	}
	m.insert(v)
	return addr, nil
}

// charge checks that the new VMA v, replacing whatever it overlaps, fits
// the budget (its commit) and RLIMIT_AS (its size).
func (m *MM) charge(v VMA) error {
	added := v.len() - m.overlap(v.Start, v.End)
	if c, old := v.commit(), m.committedIn(v.Start, v.End); c > old && !m.budget.fits(c-old) {
		return unix.ENOMEM
	}
	if m.limit == 0 {
		return nil
	}
	if m.mapped+added > m.limit {
		return unix.ENOMEM
	}
	return nil
}

// committedIn returns the committed bytes of [start, end).
func (m *MM) committedIn(start, end uint64) uint64 {
	var n uint64
	for _, v := range m.vmas {
		if s, e := max(v.Start, start), min(v.End, end); s < e && v.commits() {
			n += e - s
		}
	}
	return n
}

// roomForVMAs checks that a mapping of [start, end) leaves the VMA count
// within MaxMapCount: it may split two VMAs and adds one. Adjacent
// anonymous VMAs are merged first, as Linux would have kept them one.
func (m *MM) roomForVMAs(start, end uint64) error {
	if len(m.vmas)+3 <= maxMapCount {
		return nil
	}
	m.merge()
	n := len(m.vmas) + 1
	for _, v := range m.vmas {
		if (v.Start < start && start < v.End) || (v.Start < end && end < v.End) {
			n++
		}
	}
	if n > maxMapCount {
		return unix.ENOMEM
	}
	return nil
}

// account adds (sign 1) or removes (sign -1) v's bytes from this space's
// counts and its commit from the budget.
func (m *MM) account(v VMA, sign int64) {
	m.mapped = uint64(int64(m.mapped) + sign*int64(v.len()))
	m.peak = max(m.peak, m.mapped)
	c := sign * int64(v.commit())
	m.committed = uint64(int64(m.committed) + c)
	m.budget.add(c)
}

// Budget is a memory limit shared by every address space of a sandbox
// (--memory): the bytes mapped across all guest processes, plus what the
// kernel holds on their behalf (pipe buffers, kernel objects, queued
// data; see Charge), as a memory cgroup counts kernel memory.
type Budget struct {
	mu     sync.Mutex
	limit  uint64 // 0: unlimited
	used   uint64
	peak   uint64
	kernel uint64 // the part of used charged by Charge
	// OnExceeded, if set, is called when a mapping is refused.
	OnExceeded func(want uint64)
	// MaxFiles caps the distinct open files the sandbox's file mappings
	// keep open (ENFILE beyond); 0 means DefaultMaxFiles.
	MaxFiles int
	files    map[FileRef]int // address spaces holding each file
}

// NewBudget returns a budget of limit bytes (0: unlimited).
func NewBudget(limit uint64) *Budget { return &Budget{limit: limit} }

func (b *Budget) fits(n uint64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	ok := b.limit == 0 || b.used+n <= b.limit
	cb := b.OnExceeded
	b.mu.Unlock()
	if !ok && cb != nil {
		cb(n)
	}
	return ok
}

func (b *Budget) add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used = uint64(int64(b.used) + n)
	b.peak = max(b.peak, b.used)
	b.mu.Unlock()
}

// Charge takes n bytes of the budget for kernel memory held for the guest;
// ENOMEM (and OnExceeded) when they do not fit. A nil budget takes
// anything. Uncharge gives them back.
func (b *Budget) Charge(n uint64) error {
	if b == nil || n == 0 {
		return nil
	}
	b.mu.Lock()
	ok := b.limit == 0 || b.used+n <= b.limit
	if ok {
		b.used += n
		b.kernel += n
		b.peak = max(b.peak, b.used)
	}
	cb := b.OnExceeded
	b.mu.Unlock()
	if !ok {
		if cb != nil {
			cb(n)
		}
		return unix.ENOMEM
	}
	return nil
}

// Force takes n bytes like Charge even past the limit (for what must
// exist, like a sandbox's first thread).
func (b *Budget) Force(n uint64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used += n
	b.kernel += n
	b.peak = max(b.peak, b.used)
	b.mu.Unlock()
}

// Uncharge returns n bytes taken by Charge.
func (b *Budget) Uncharge(n uint64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	n = min(n, b.kernel)
	b.used -= n
	b.kernel -= n
	b.mu.Unlock()
}

// Limit returns the budget's size in bytes (0: unlimited).
func (b *Budget) Limit() uint64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Kernel returns the bytes currently taken by Charge.
func (b *Budget) Kernel() uint64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.kernel
}

// Peak returns the most bytes ever mapped at once across the sandbox.
func (b *Budget) Peak() uint64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Used returns the bytes mapped across the sandbox.
func (b *Budget) Used() uint64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// SetBudget makes this address space draw from b.
func (m *MM) SetBudget(b *Budget) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.budget = b
	b.add(int64(m.committed))
}

// overlap returns the bytes of [start, end) that are mapped.
func (m *MM) overlap(start, end uint64) uint64 {
	var n uint64
	for _, v := range m.vmas {
		if s, e := max(v.Start, start), min(v.End, end); s < e {
			n += e - s
		}
	}
	return n
}

// populate creates host pages for [start, end) of v and, for file
// mappings, fills them with the file's bytes. The pages are made writable
// while filling and get v's protection afterwards.
func (m *MM) populate(v VMA, start, end uint64) error {
	if v.Pages != nil {
		return m.mapFilePages(v, start, end)
	}
	if v.Cache != nil {
		return m.populateCached(v, start, end)
	}
	prot := v.Prot
	if v.File != nil {
		prot |= unix.PROT_WRITE
	}
	if v.Shared && v.File == nil {
		// Shared anonymous memory must stay shared with forks.
		if err := m.as.MapShared(start, end-start, prot); err != nil {
			return fmt.Errorf("mm: map shared %#x-%#x: %w", start, end, err)
		}
		return nil
	}
	if err := m.as.Map(start, end-start, prot); err != nil {
		return fmt.Errorf("mm: map %#x-%#x: %w", start, end, err)
	}
	if v.File == nil {
		return nil
	}
	if err := m.fill(v, start, end); err != nil {
		return err
	}
	if prot != v.Prot {
		return m.as.Protect(start, end-start, v.Prot)
	}
	return nil
}

// fill copies file bytes into [start, end), which must be writable. Bytes
// past the end of the file stay zero, as on Linux for the partial last page.
func (m *MM) fill(v VMA, start, end uint64) error {
	buf := make([]byte, min(end-start, 1<<20))
	for at := start; at < end; {
		chunk := buf[:min(uint64(len(buf)), end-at)]
		n, err := v.File.ReadAt(chunk, int64(v.Offset+(at-v.Start)))
		if n > 0 {
			if _, cerr := m.as.CopyOut(at, chunk[:n]); cerr != nil {
				return fmt.Errorf("mm: filling %#x: %w", at, cerr)
			}
		}
		if n < len(chunk) {
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			return nil // end of file: the rest is zero
		}
		at += uint64(n)
	}
	return nil
}

func (m *MM) overlapsReserved(start, end uint64) bool {
	for _, r := range m.reserved {
		if start < r.End && end > r.Start {
			return true
		}
	}
	return false
}

func (m *MM) overlapsVMA(start, end uint64) bool {
	for _, v := range m.vmas {
		if start < v.End && end > v.Start {
			return true
		}
	}
	return false
}

func (m *MM) free(start, end uint64) bool {
	return !m.overlapsReserved(start, end) && !m.overlapsVMA(start, end)
}

// findFree picks the highest free range of length bytes below mmapTop.
func (m *MM) findFree(length uint64) (uint64, bool) {
	occupied := make([]Range, 0, len(m.vmas)+len(m.reserved))
	for _, v := range m.vmas {
		occupied = append(occupied, Range{v.Start, v.End})
	}
	occupied = append(occupied, m.reserved...)
	sort.Slice(occupied, func(i, j int) bool { return occupied[i].Start < occupied[j].Start })
	// Reserved ranges may overlap or nest; merge them so that the gap
	// below a range really is free.
	merged := occupied[:0]
	for _, r := range occupied {
		if n := len(merged); n > 0 && r.Start <= merged[n-1].End {
			merged[n-1].End = max(merged[n-1].End, r.End)
			continue
		}
		merged = append(merged, r)
	}
	occupied = merged
	gapEnd := m.mmapTop
	for i := len(occupied) - 1; i >= -1; i-- {
		gapStart := uint64(MinAddr)
		if i >= 0 {
			if occupied[i].Start >= gapEnd {
				continue
			}
			gapStart = max(occupied[i].End, MinAddr)
		}
		if gapEnd > gapStart && gapEnd-gapStart >= length {
			return gapEnd - length, true
		}
		if i >= 0 {
			gapEnd = occupied[i].Start
		}
	}
	return 0, false
}

// insert adds v, which must not overlap anything.
func (m *MM) insert(v VMA) {
	i := sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].Start >= v.Start })
	m.vmas = append(m.vmas, VMA{})
	copy(m.vmas[i+1:], m.vmas[i:])
	m.vmas[i] = v
	m.account(v, 1)
}

// split cuts VMAs at addr so that addr is a VMA boundary; ENOMEM if that
// would pass MaxMapCount.
func (m *MM) split(addr uint64) error { return m.splitAt(addr, false) }

// forceSplit splits even past MaxMapCount, for a change the host has made
// already.
func (m *MM) forceSplit(addr uint64) { _ = m.splitAt(addr, true) }

func (m *MM) splitAt(addr uint64, force bool) error {
	for i, v := range m.vmas {
		if v.Start < addr && addr < v.End {
			if len(m.vmas) >= maxMapCount && !force {
				return unix.ENOMEM
			}
			lo, hi := v, v
			lo.End = addr
			hi.Start = addr
			if hi.File != nil || hi.Obj != nil {
				hi.Offset += addr - v.Start
			}
			m.vmas[i] = lo
			m.vmas = append(m.vmas, VMA{})
			copy(m.vmas[i+2:], m.vmas[i+1:])
			m.vmas[i+1] = hi
			return nil
		}
	}
	return nil
}

// Munmap removes [addr, addr+length); unmapped parts are ignored as on Linux.
func (m *MM) Munmap(addr, length uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.dropUnmapped()
	if addr%PageSize != 0 || length == 0 {
		return unix.EINVAL
	}
	end, ok := pageEnd(addr, length)
	if !ok || end > MaxAddr {
		return unix.EINVAL
	}
	return m.unmapLocked(addr, end)
}

func (m *MM) unmapLocked(start, end uint64) error {
	if err := m.split(start); err != nil {
		return err
	}
	if err := m.split(end); err != nil {
		return err
	}
	kept := m.vmas[:0]
	var firstErr error
	for _, v := range m.vmas {
		if v.Start >= start && v.End <= end {
			// munmap writes a host file's pages back (Linux keeps them
			// dirty in the page cache; here the cache may go with the
			// last mapping). An error cannot be reported by munmap.
			_ = syncVMA(v, v.Start, v.End)
			if err := m.as.Unmap(v.Start, v.len()); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("mm: unmap %#x-%#x: %w", v.Start, v.End, err)
			}
			m.account(v, -1)
			continue
		}
		kept = append(kept, v)
	}
	m.vmas = kept
	m.clearHoles(start, end)
	return firstErr
}

// Mprotect changes the protection of [addr, addr+length), which must be
// fully mapped (ENOMEM otherwise, as on Linux).
func (m *MM) Mprotect(addr, length uint64, prot int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC) != 0 {
		return unix.EINVAL
	}
	if length == 0 {
		return nil
	}
	end, ok := pageEnd(addr, length)
	if !ok {
		return unix.ENOMEM
	}
	if !m.covered(addr, end) {
		return unix.ENOMEM
	}
	if prot&unix.PROT_WRITE != 0 {
		for _, v := range m.vmas {
			if v.NoWrite && v.Start < end && v.End > addr {
				return unix.EACCES
			}
		}
	}
	if prot&unix.PROT_EXEC != 0 {
		for _, v := range m.vmas {
			if v.NoExec && v.Start < end && v.End > addr {
				return unix.EACCES
			}
		}
		if err := m.checkProtect(addr, end, prot); err != nil {
			return err
		}
	}
	// Charge what becomes committed before changing anything: ENOMEM
	// leaves the range as it was (Linux's mprotect_fixup charges the
	// same way, with security_vm_enough_memory).
	var grow, shrink uint64
	for _, v := range m.vmas {
		s, e := max(v.Start, addr), min(v.End, end)
		if s >= e {
			continue
		}
		nv := v
		nv.Prot = prot
		switch was, will := v.commits(), nv.commits(); {
		case will && !was:
			grow += e - s
		case was && !will:
			shrink += e - s
		}
	}
	if grow > shrink && !m.budget.fits(grow-shrink) {
		return unix.ENOMEM
	}
	if err := m.split(addr); err != nil {
		return err
	}
	if err := m.split(end); err != nil {
		return err
	}
	for i := range m.vmas {
		v := &m.vmas[i]
		if v.Start >= addr && v.End <= end {
			old := *v
			if v.Pages != nil {
				if err := m.protectFilePages(*v, prot); err != nil {
					return err
				}
			} else if err := m.as.Protect(v.Start, v.len(), prot); err != nil {
				return fmt.Errorf("mm: protect: %w", err)
			}
			v.Prot = prot
			m.account(old, -1)
			m.account(*v, 1)
		}
	}
	return nil
}

// covered reports whether [start, end) is entirely mapped.
func (m *MM) covered(start, end uint64) bool {
	if start >= end {
		return true // as on Linux, an empty range is never a hole
	}
	at := start
	for _, v := range m.vmas {
		if v.End <= at {
			continue
		}
		if v.Start > at {
			return false
		}
		at = v.End
		if at >= end {
			return true
		}
	}
	return at >= end
}

// Madvise implements the advice values that change contents
// (MADV_DONTNEED, MADV_FREE); the rest are hints and accepted.
func (m *MM) Madvise(addr, length uint64, advice int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	end, ok := pageEnd(addr, length)
	if !ok {
		return unix.EINVAL
	}
	switch advice {
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE, unix.MADV_DONTFORK, unix.MADV_DOFORK,
		unix.MADV_DONTDUMP, unix.MADV_DODUMP, unix.MADV_COLD, unix.MADV_PAGEOUT:
		if !m.covered(addr, end) {
			return unix.ENOMEM
		}
		return nil
	case unix.MADV_DONTNEED, unix.MADV_FREE:
	default:
		return unix.EINVAL
	}
	if !m.covered(addr, end) {
		return unix.ENOMEM
	}
	for _, v := range m.vmas {
		s, e := max(v.Start, addr), min(v.End, end)
		if s >= e {
			continue
		}
		if err := m.as.Discard(s, e-s); err != nil {
			return err
		}
		if v.File != nil && v.Pages == nil && v.Cache == nil {
			// A private file page that is dropped reads back the file
			// (a cached one does by itself: the host drops the copy and
			// the page is the cache's again).
			if v.Prot&unix.PROT_WRITE == 0 {
				if err := m.as.Protect(s, e-s, v.Prot|unix.PROT_WRITE); err != nil {
					return err
				}
			}
			vv := v
			src, done, err := m.execSource(v, "madvise")
			if err != nil {
				return err
			}
			vv.File = src
			err = m.fill(vv, s, e)
			done()
			if err != nil {
				return err
			}
			if v.Prot&unix.PROT_WRITE == 0 {
				if err := m.as.Protect(s, e-s, v.Prot); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Mremap resizes or moves a mapping.
func (m *MM) Mremap(old, oldLen, newLen uint64, mayMove, fixed bool, newAddr uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.dropUnmapped()
	if old%PageSize != 0 || (fixed && !mayMove) {
		return 0, unix.EINVAL
	}
	// Check newLen after rounding: a length that rounds up to zero is as
	// nonsensical as zero itself.
	oldLen, newLen = pageUp(oldLen), pageUp(newLen)
	if newLen == 0 {
		return 0, unix.EINVAL
	}
	if oldLen == 0 {
		return 0, unix.EINVAL // duplicating shared mappings is not supported
	}
	if len(m.vmas)+4 > maxMapCount {
		// A move may split the source and the destination and adds one.
		if m.merge(); len(m.vmas)+4 > maxMapCount {
			return 0, unix.ENOMEM
		}
	}
	idx := -1
	for i, v := range m.vmas {
		if v.Start <= old && old+oldLen <= v.End && old+oldLen > old {
			idx = i
			break
		}
	}
	if idx < 0 {
		return 0, unix.EFAULT
	}
	v := m.vmas[idx]
	if fixed {
		if newAddr%PageSize != 0 || newAddr < MinAddr || newAddr > MaxAddr || newLen > MaxAddr-newAddr ||
			(newAddr < old+oldLen && newAddr+newLen > old) || m.overlapsReserved(newAddr, newAddr+newLen) {
			return 0, unix.EINVAL
		}
	}
	if !fixed && newLen <= oldLen {
		if newLen < oldLen {
			if err := m.unmapLocked(old+newLen, old+oldLen); err != nil {
				return 0, err
			}
		}
		return old, nil
	}
	{
		var replaced uint64
		if fixed {
			replaced = m.committedIn(newAddr, newAddr+newLen)
		}
		if grow := int64(newLen) - int64(oldLen) - int64(replaced); v.commits() && grow > 0 && !m.budget.fits(uint64(grow)) {
			return 0, unix.ENOMEM
		}
	}
	if m.limit != 0 {
		// The old range is released and, for MREMAP_FIXED, whatever is
		// at the destination; newLen is added. (A neighbour that forces a
		// move stays mapped, so charge() over the grown range would
		// undercount.)
		var replaced uint64
		if fixed {
			replaced = m.overlap(newAddr, newAddr+newLen)
		}
		if newLen > m.limit-min(m.limit, m.mapped-oldLen-replaced) {
			return 0, unix.ENOMEM
		}
	}
	if !fixed && newLen <= MaxAddr-old && m.free(old+oldLen, old+newLen) {
		// Grow in place. The free check implies old+oldLen == v.End, so
		// v is extended, as Linux does: the mapping stays one VMA and a
		// later mremap of all of it finds it whole.
		grow := v
		grow.Start, grow.End = old+oldLen, old+newLen
		grow.Offset = v.Offset + (old + oldLen - v.Start)
		src, done, err := m.execSource(grow, "mremap")
		if err != nil {
			return 0, err
		}
		fill := grow
		fill.File = src
		err = m.populate(fill, grow.Start, grow.End)
		done()
		if err != nil {
			return 0, err
		}
		m.vmas[idx].End = grow.End
		m.account(grow, 1)
		return old, nil
	}
	if !mayMove {
		return 0, unix.ENOMEM
	}
	dst := newAddr
	if fixed {
		if err := m.unmapLocked(dst, dst+newLen); err != nil {
			return 0, err
		}
	} else {
		var ok bool
		if dst, ok = m.findFree(newLen); !ok {
			return 0, unix.ENOMEM
		}
	}
	sharedAnon := v.Shared && v.File == nil
	moveLen := newLen
	if sharedAnon && newLen > oldLen {
		// The host would grow a shared mapping with the memfd's next
		// pages, which belong to someone else: move the old part only
		// and give the tail fresh shared pages.
		moveLen = oldLen
	}
	if v.Pages != nil {
		// A shared file mapping is the file's pages (in several host
		// mappings, perhaps): map them afresh at dst.
		moved := v
		moved.Start, moved.End = dst, dst+newLen
		moved.Offset = v.Offset + (old - v.Start)
		if err := m.populate(moved, dst, dst+newLen); err != nil {
			_ = m.as.Unmap(dst, newLen)
			return 0, err
		}
		if err := m.as.Unmap(old, oldLen); err != nil {
			return 0, fmt.Errorf("mm: remap: %w", err)
		}
		m.clearHoles(old, old+oldLen)
	} else if v.Cache != nil {
		if err := m.remapCached(v, old, oldLen, dst, newLen); err != nil {
			return 0, fmt.Errorf("mm: remap: %w", err)
		}
	} else if err := m.as.Remap(old, oldLen, dst, moveLen); err != nil {
		return 0, fmt.Errorf("mm: remap: %w", err)
	}
	if moveLen < newLen && sharedAnon {
		if err := m.as.MapShared(dst+oldLen, newLen-oldLen, v.Prot); err != nil {
			return 0, fmt.Errorf("mm: remap: %w", err)
		}
	}
	// Move the record: the old range is gone on the host already. The
	// VMA containing it was checked above; a split that passes
	// MaxMapCount still happens here (the host has moved the pages), one
	// VMA over at most.
	m.forceSplit(old)
	m.forceSplit(old + oldLen)
	moved := VMA{}
	kept := m.vmas[:0]
	for _, x := range m.vmas {
		if x.Start == old {
			moved = x
			m.account(x, -1)
			continue
		}
		kept = append(kept, x)
	}
	m.vmas = kept
	moved.Start, moved.End = dst, dst+newLen
	m.insert(moved)
	if newLen > oldLen && moved.File != nil && moved.Pages == nil && moved.Cache == nil {
		// The host grew the moved mapping with zero pages; a private file
		// mapping shows the file's bytes there.
		tail := moved
		tail.Start = dst + oldLen
		tail.Offset = moved.Offset + oldLen
		src, done, err := m.execSource(tail, "mremap")
		if err != nil {
			return 0, err
		}
		tail.File = src
		if moved.Prot&unix.PROT_WRITE == 0 {
			_ = m.as.Protect(tail.Start, newLen-oldLen, moved.Prot|unix.PROT_WRITE)
		}
		err = m.fill(tail, tail.Start, tail.End)
		done()
		if err != nil {
			return 0, err
		}
		if moved.Prot&unix.PROT_WRITE == 0 {
			_ = m.as.Protect(tail.Start, newLen-oldLen, moved.Prot)
		}
	}
	return dst, nil
}

// SetBrkStart places the program break after the loaded executable.
func (m *MM) SetBrkStart(addr uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.brkStart = pageUp(addr)
	m.brk = m.brkStart
}

// Brk moves the program break; like Linux it returns the (possibly
// unchanged) break rather than an error.
func (m *MM) Brk(newBrk uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.dropUnmapped()
	if newBrk < m.brkStart || newBrk > MaxAddr {
		return m.brk
	}
	oldEnd, newEnd := pageUp(m.brk), pageUp(newBrk)
	switch {
	case newEnd > oldEnd:
		v := VMA{Start: oldEnd, End: newEnd, Prot: unix.PROT_READ | unix.PROT_WRITE, Name: "[heap]"}
		if !m.free(oldEnd, newEnd) || m.charge(v) != nil || m.roomForVMAs(oldEnd, newEnd) != nil {
			return m.brk
		}
		if err := m.populate(v, oldEnd, newEnd); err != nil {
			return m.brk
		}
		m.insert(v)
		m.merge()
	case newEnd < oldEnd:
		if err := m.unmapLocked(newEnd, oldEnd); err != nil {
			return m.brk
		}
	}
	m.brk = newBrk
	return m.brk
}

// merge joins adjacent anonymous VMAs with identical attributes, so the heap
// stays one line in /proc/self/maps.
func (m *MM) merge() {
	out := m.vmas[:0]
	for _, v := range m.vmas {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.End == v.Start && p.File == nil && v.File == nil && p.Prot == v.Prot &&
				p.Shared == v.Shared && p.Name == v.Name && p.Obj == nil && v.Obj == nil {
				p.End = v.End
				continue
			}
		}
		out = append(out, v)
	}
	m.vmas = out
}

// VMAs returns a copy of the current mappings.
func (m *MM) VMAs() []VMA {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]VMA(nil), m.vmas...)
}

// Mapped returns the bytes currently mapped.
func (m *MM) Mapped() uint64 { m.mu.Lock(); defer m.mu.Unlock(); return m.mapped }

// Peak returns the most bytes mapped at once since the address space was
// made (a fork's copy starts from what it copied).
func (m *MM) Peak() uint64 { m.mu.Lock(); defer m.mu.Unlock(); return max(m.peak, m.mapped) }

// Maps renders the mappings in the format of /proc/self/maps.
func (m *MM) Maps() string {
	var b strings.Builder
	for _, v := range m.VMAs() {
		perm := []byte("---p")
		if v.Prot&unix.PROT_READ != 0 {
			perm[0] = 'r'
		}
		if v.Prot&unix.PROT_WRITE != 0 {
			perm[1] = 'w'
		}
		if v.Prot&unix.PROT_EXEC != 0 {
			perm[2] = 'x'
		}
		if v.Shared {
			perm[3] = 's'
		}
		name := v.Name
		var off, ino uint64
		dev := "00:00"
		if v.File != nil {
			name, off, ino = v.Info.Path, v.Offset, v.Info.Ino
			dev = fmt.Sprintf("%02x:%02x", unix.Major(v.Info.Dev), unix.Minor(v.Info.Dev))
		}
		// Like Linux's show_map_vma: the header always ends with a space,
		// and a name starts in column 73.
		line := fmt.Sprintf("%08x-%08x %s %08x %s %d ", v.Start, v.End, perm, off, dev, ino)
		if name != "" {
			line = fmt.Sprintf("%-73s%s", line, name)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// Get counts one more process using this address space (CLONE_VM).
func (m *MM) Get() { m.mu.Lock(); m.users++; m.mu.Unlock() }

// Put drops one user and reports whether it was the last, when the caller
// releases the platform address space.
func (m *MM) Put() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users--
	return m.users <= 0
}

// Fork returns a copy of the record for the copy-on-write copy as of the
// address space, which the platform has already made.
func (m *MM) Fork(as Mapper) *MM {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &MM{as: as, vmas: append([]VMA(nil), m.vmas...), reserved: m.reserved, mmapTop: m.mmapTop,
		brkStart: m.brkStart, brk: m.brk, limit: m.limit, mapped: m.mapped, committed: m.committed,
		users: 1, budget: m.budget, eofHoles: append([]Range(nil), m.eofHoles...), exec: m.exec}
	// The copy's commit counts in full against the sandbox's budget, as
	// Linux's dup_mmap charges every accountable VMA again (the host
	// shares pages until written, the limit does not).
	m.budget.add(int64(c.committed))
	// The copy maps the same files: it holds them too (never past the
	// cap, which counts distinct files).
	m.cached.copyTo(&c.cached, func(e *pagecache.Entry) bool { e.Hold(); return true })
	m.held.copyTo(&c.held, func(r FileRef) bool {
		if c.budget.holdFile(r) != nil {
			return false
		}
		r.IncRef()
		return true
	})
	return c
}

// CanFork reports whether the sandbox's memory budget has room for a copy
// of this address space (ENOMEM otherwise, as fork gives).
func (m *MM) CanFork() error {
	m.mu.Lock()
	n := m.committed
	m.mu.Unlock()
	if !m.budget.fits(n) {
		return unix.ENOMEM
	}
	return nil
}

// Release returns this address space's memory to the budget; called once
// the platform address space is gone.
func (m *MM) Release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.vmas {
		_ = syncVMA(v, v.Start, v.End) // exit writes a host file's pages back
	}
	m.budget.add(-int64(m.committed))
	m.mapped, m.committed = 0, 0
	m.vmas, m.eofHoles = nil, nil
	m.dropAll()
}

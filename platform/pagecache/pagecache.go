// Package pagecache is litebox's page cache for private file mappings:
// the bytes of a file version that guests map, read once into one sparse
// memfd and mapped MAP_PRIVATE into every stub that maps them, so the host
// kernel shares the pages across processes and sandboxes of one litebox
// process and gives copy-on-write on private stores.
//
// Why one memfd and not one per file: a stub cannot receive a descriptor
// after it starts (its filter allows no recvmsg, and it should not), so
// every stub inherits one read-only descriptor of the cache at exec, as it
// inherits the pool. Read-only matters: a stub (and a guest that took one
// over) can map those pages MAP_PRIVATE only, never write them, punch
// them or resize the file; the memfd is also sealed against growing and
// shrinking. litebox alone writes the pages, through its own mapping, and
// only while filling an entry: an entry's bytes never change once filled.
//
// An entry is one version of a file's bytes: a Key names the host file
// (device, inode, size, mtime, ctime) or an image layer's file, and how
// many of its bytes a mapping shows (the loader's segments end where their
// file bytes end; the rest of the last page is zero). Entries are filled
// lazily, page ranges at a time, as mappings ask for them, and evicted,
// least recently used first, once no address space maps them and the
// filled bytes pass the cache's budget.
package pagecache

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const pageSize = 4096

// Key names one version of a file's bytes.
type Key struct {
	// Src names where the file comes from beyond its device and inode
	// ("" for a host file; an image layer's digest and path for tarfs).
	Src          string
	Dev, Ino     uint64
	FileSize     int64
	Mtime, Ctime int64 // nanoseconds
	// Size is how many bytes a mapping shows: FileSize, or less for a
	// segment that ends earlier (bytes past Size read as zero).
	Size int64
}

// StableAfter is how long after a host file's last change (its ctime) its
// bytes are taken as fixed for its key. File times advance in clock ticks
// (a few milliseconds, coarser on some file systems), so two writes inside
// one tick leave the same ctime: bytes read within a tick of the change
// could be of a version that a later write in that tick replaced without
// changing the key. A second is far beyond any tick.
const StableAfter = time.Second

// Stable reports whether bytes of the version k read from time now on are
// its bytes for good: an image layer's file always (its layer is
// content-addressed and never written), a host file once its ctime is
// StableAfter in the past. The cache holds stable versions only, and
// verified execution remembers digests of stable versions only, so an
// entry and a remembered digest of one key are of the same bytes.
func Stable(k Key, now time.Time) bool {
	if k.Src != "" {
		return true
	}
	return now.UnixNano()-k.Ctime > int64(StableAfter)
}

// Defaults for New.
const (
	// DefaultSpan is the memfd's size: the offsets entries are carved
	// from (sparse; only filled pages cost memory).
	DefaultSpan = 64 << 30
	// DefaultBudget is how many filled bytes the cache keeps before it
	// evicts entries no address space maps.
	DefaultBudget = 2 << 30
)

// Cache is a set of entries in one memfd.
type Cache struct {
	fd, roFD int
	mem      []byte // litebox's MAP_SHARED mapping of the whole memfd
	span     uint64
	budget   uint64

	mu      sync.Mutex
	entries map[Key]*Entry
	free    []extent // unused ranges of the memfd, sorted by offset
	filled  uint64   // bytes of filled pages over all entries
	clock   uint64   // advances on every lookup, for LRU
	stats   Stats
}

type extent struct{ off, len uint64 }

// Stats are the cache's counters.
type Stats struct {
	Entries         int
	Filled          uint64 // bytes of filled pages held
	Hits, Misses    uint64 // lookups that found / created an entry
	Evicted         uint64 // entries evicted
	FilledBytesEver uint64 // bytes ever read into the cache
}

// New creates a cache whose memfd spans span bytes and keeps up to budget
// filled bytes of entries no one maps.
func New(span, budget uint64) (*Cache, error) {
	span = span &^ (pageSize - 1)
	if span == 0 {
		return nil, errors.New("pagecache: empty span")
	}
	fd, err := unix.MemfdCreate("litebox-pagecache", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("pagecache: memfd: %w", err)
	}
	c := &Cache{fd: fd, roFD: -1, span: span, budget: budget, entries: map[Key]*Entry{},
		free: []extent{{0, span}}}
	fail := func(what string, err error) (*Cache, error) {
		c.Close()
		return nil, fmt.Errorf("pagecache: %s: %w", what, err)
	}
	if err := unix.Ftruncate(fd, int64(span)); err != nil {
		return fail("sizing", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		return fail("sealing", err)
	}
	if c.mem, err = unix.Mmap(fd, 0, int(span), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE); err != nil {
		return fail("mapping", err)
	}
	// The stubs' descriptor: a new open file description of the same
	// memfd, read-only, so no mapping through it can ever be writable
	// and shared, and write, fallocate and ftruncate fail on it.
	if c.roFD, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return fail("read-only descriptor", err)
	}
	return c, nil
}

var defaultCache struct {
	once sync.Once
	c    *Cache
	err  error
}

// Default is the cache every sandbox of this litebox process shares,
// created on first use.
func Default() (*Cache, error) {
	defaultCache.once.Do(func() { defaultCache.c, defaultCache.err = New(DefaultSpan, DefaultBudget) })
	return defaultCache.c, defaultCache.err
}

// ReadOnlyFD is the descriptor a stub inherits: read-only, so the stub can
// only map the cache MAP_PRIVATE.
func (c *Cache) ReadOnlyFD() int { return c.roFD }

// Span is the size of the memfd: every offset mapped lies below it.
func (c *Cache) Span() uint64 { return c.span }

// Close releases litebox's descriptors and mapping. Stubs keep their own
// descriptor and mappings; litebox no longer fills or hands out entries.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem != nil {
		_ = unix.Munmap(c.mem)
		c.mem = nil
	}
	for _, fd := range []*int{&c.fd, &c.roFD} {
		if *fd >= 0 {
			_ = unix.Close(*fd)
			*fd = -1
		}
	}
	c.entries = map[Key]*Entry{}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries, s.Filled = len(c.entries), c.filled
	return s
}

// ErrFull is returned by Get when no room can be made for an entry (every
// entry is mapped, or the file is larger than the cache): the caller maps
// a private copy instead.
var ErrFull = errors.New("pagecache: full")

// ErrUnstable is returned by Get for a file changed too recently for its
// key to name its bytes (Stable).
var ErrUnstable = errors.New("pagecache: file changed too recently")

// Get returns the entry for key, creating it (empty) if needed, with one
// reference taken for the caller (Release gives it back).
//
// A version that is not Stable yet is refused (ErrUnstable): the caller
// maps a private copy.
func (c *Cache) Get(key Key) (*Entry, error) {
	if key.Size <= 0 || key.Size > key.FileSize {
		return nil, fmt.Errorf("pagecache: entry size %d of a %d-byte file: %w", key.Size, key.FileSize, unix.EINVAL)
	}
	if !Stable(key, time.Now()) {
		return nil, ErrUnstable
	}
	length := (uint64(key.Size) + pageSize - 1) &^ (pageSize - 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		return nil, ErrFull
	}
	c.clock++
	if e, ok := c.entries[key]; ok {
		e.refs++
		e.used = c.clock
		c.stats.Hits++
		return e, nil
	}
	off, ok := c.alloc(length)
	for !ok && c.evictOne() {
		off, ok = c.alloc(length)
	}
	if !ok {
		return nil, ErrFull
	}
	e := &Entry{c: c, key: key, off: off, len: length, refs: 1, used: c.clock,
		filled: make([]uint64, (length/pageSize+63)/64)}
	c.entries[key] = e
	c.stats.Misses++
	return e, nil
}

// alloc carves length bytes from the free extents (first fit).
func (c *Cache) alloc(length uint64) (uint64, bool) {
	for i, x := range c.free {
		if x.len < length {
			continue
		}
		off := x.off
		if x.len == length {
			c.free = append(c.free[:i], c.free[i+1:]...)
		} else {
			c.free[i] = extent{x.off + length, x.len - length}
		}
		return off, true
	}
	return 0, false
}

// release returns [off, off+length) to the free extents, merging
// neighbours.
func (c *Cache) release(off, length uint64) {
	i := 0
	for i < len(c.free) && c.free[i].off < off {
		i++
	}
	c.free = append(c.free, extent{})
	copy(c.free[i+1:], c.free[i:])
	c.free[i] = extent{off, length}
	if i+1 < len(c.free) && c.free[i].off+c.free[i].len == c.free[i+1].off {
		c.free[i].len += c.free[i+1].len
		c.free = append(c.free[:i+1], c.free[i+2:]...)
	}
	if i > 0 && c.free[i-1].off+c.free[i-1].len == c.free[i].off {
		c.free[i-1].len += c.free[i].len
		c.free = append(c.free[:i], c.free[i+1:]...)
	}
}

// evictOne drops the least recently used entry no one holds; false if
// there is none.
func (c *Cache) evictOne() bool {
	var victim *Entry
	for _, e := range c.entries {
		if e.refs == 0 && (victim == nil || e.used < victim.used) {
			victim = e
		}
	}
	if victim == nil {
		return false
	}
	c.drop(victim)
	c.stats.Evicted++
	return true
}

// drop removes e from the cache and frees its pages. Only an entry no one
// holds is dropped: a stub that maps it would otherwise read holes.
func (c *Cache) drop(e *Entry) {
	if e.freed {
		return
	}
	e.freed = true
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	if c.mem != nil {
		// MADV_REMOVE punches the pages out of the memfd.
		_ = unix.Madvise(c.mem[e.off:e.off+e.len], unix.MADV_REMOVE)
	}
	c.filled -= e.filledBytes
	c.release(e.off, e.len)
	e.dead = true
}

// trim evicts unheld entries while the filled bytes exceed the budget.
func (c *Cache) trim() {
	for c.filled > c.budget && c.evictOne() {
	}
}

// Entry is one file version's bytes in the cache.
type Entry struct {
	c        *Cache
	key      Key
	off, len uint64 // range of the memfd

	// Guarded by c.mu.
	refs        int
	used        uint64
	dead        bool // discarded: never handed out again
	freed       bool // its pages and room are gone
	filledBytes uint64

	fillMu sync.Mutex // serializes fills; guards filled
	filled []uint64   // bitmap of filled pages

}

// Key is the entry's key.
func (e *Entry) Key() Key { return e.key }

// Offset is where the entry's pages start in the memfd.
func (e *Entry) Offset() uint64 { return e.off }

// Len is the entry's length: its Size rounded up to a page.
func (e *Entry) Len() uint64 { return e.len }

// Hold takes one more reference (an address space that maps the entry).
func (e *Entry) Hold() {
	e.c.mu.Lock()
	e.refs++
	e.c.mu.Unlock()
}

// Release gives back a reference. An entry no one holds stays cached
// until the budget needs its room.
func (e *Entry) Release() {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.refs--; e.refs < 0 {
		panic("pagecache: entry released more often than held")
	}
	if e.refs == 0 {
		if e.dead {
			c.drop(e)
		}
		c.trim()
	}
}

// Discard drops the entry from the cache once no one holds it (its file
// changed while it was filled); later lookups create a new one.
func (e *Entry) Discard() {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
		c.stats.Misses++ // not a hit for anyone
	}
	e.dead = true
	// Its pages go when the last holder lets go of it: they are in
	// mappings already.
	if e.refs == 0 {
		c.drop(e)
	}
}

// Fill makes sure the pages covering [off, off+length) of the entry hold
// the file's bytes, reading the missing ones with read (the file's ReadAt,
// at file offsets; bytes past Size are never read and stay zero).
func (e *Entry) Fill(off, length uint64, read io.ReaderAt) error {
	if off >= e.len {
		return nil
	}
	end := min(off+length, e.len)
	first, last := off/pageSize, (end+pageSize-1)/pageSize
	e.fillMu.Lock()
	defer e.fillMu.Unlock()
	mem, err := e.bytes()
	if err != nil {
		return err
	}
	for p := first; p < last; {
		if e.isFilled(p) {
			p++
			continue
		}
		q := p
		for q < last && !e.isFilled(q) {
			q++
		}
		lo, hi := p*pageSize, min(q*pageSize, uint64(e.key.Size))
		if err := readFull(read, mem[lo:hi], int64(lo)); err != nil {
			return fmt.Errorf("pagecache: filling %d bytes at %d: %w", hi-lo, lo, err)
		}
		for i := p; i < q; i++ {
			e.filled[i/64] |= 1 << (i % 64)
		}
		e.c.mu.Lock()
		n := (q - p) * pageSize
		e.filledBytes += n
		e.c.filled += n
		e.c.stats.FilledBytesEver += n
		e.c.mu.Unlock()
		p = q
	}
	return nil
}

func (e *Entry) isFilled(p uint64) bool { return e.filled[p/64]&(1<<(p%64)) != 0 }

// bytes is litebox's mapping of the entry's pages.
func (e *Entry) bytes() ([]byte, error) {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	if e.c.mem == nil {
		return nil, unix.EBADF
	}
	return e.c.mem[e.off : e.off+e.len : e.off+e.len], nil
}

// readFull reads len(p) bytes at off. A file shorter than its key said
// (truncated meanwhile) leaves zeros; the caller rechecks the key after a
// fill and discards the entry if the file changed.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := r.ReadAt(p, off)
		p, off = p[n:], off+int64(n)
		if err == io.EOF || (n == 0 && err == nil) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteContent fills the whole entry (from read, as Fill) and writes its
// Size bytes to w: verified execution hashes exactly the bytes every
// mapping of the entry shows, which never change once filled, so a file
// that changes while it is hashed cannot make the hash differ from what
// runs.
func (e *Entry) WriteContent(w io.Writer, read io.ReaderAt) error {
	if err := e.Fill(0, e.len, read); err != nil {
		return err
	}
	mem, err := e.bytes()
	if err != nil {
		return err
	}
	_, err = w.Write(mem[:e.key.Size])
	return err
}

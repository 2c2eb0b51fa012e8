package hostfs

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/platform"
)

// Shared mappings of host files (issue 11, docs/SECURITY.md "Shared
// memory"). The host file is never mapped into a stub. A MAP_SHARED
// mapping of a file on a read-write mount maps a page cache instead: the
// file's pages copied into memory files (platform.Memory, litebox's shared
// pool), one cache per host inode for the whole mount, so every mapping of
// the file, in any guest process and through any open file, maps the same
// bytes. The cache is the single source of truth for the pages it holds
// while it exists: read(2) through any open file of the inode sees the
// cached bytes (the host's pread gives the size and the bytes of pages not
// cached), write(2) and ftruncate go to the host file at once and into
// the cached pages too. Stores through mappings reach the host file by
// write-back: pwrite of the cached pages, clipped to the host file's
// current size (write-back never grows a file, so RLIMIT_FSIZE has
// nothing to check), at msync, munmap, fsync/fdatasync, and when the
// last open file that mapped the inode closes (the last mapping is gone:
// mappings hold their open file), which a process's or the sandbox's exit
// does too. Pages are not tracked dirty: write-back writes every cached
// page of the range, so a change a host process makes to those pages
// meanwhile is overwritten.

// cachePageCost is what one cached page costs the sandbox's --memory
// budget: its bytes and its map entry.
const cachePageCost = PageSize + 64

// PageSize is the cache's page (the guest's).
const PageSize = mm.PageSize

type inodeKey struct{ dev, ino uint64 }

// pageCache is the mapped pages of one host inode.
type pageCache struct {
	fs  *FS
	key inodeKey
	// refs counts the open files that mapped the inode (fileOps.cache);
	// it and the fs.caches entry are guarded by fs.cacheMu.
	refs int

	mu sync.Mutex
	// fd is a duplicate of a mapping open file's host descriptor, for
	// filling and write-back; writable once any O_RDWR open file mapped
	// the inode (only those may map it writable).
	fd       int
	writable bool
	pages    map[int64]cacheLoc
	mems     map[platform.Memory]bool
	charged  uint64
}

type cacheLoc struct {
	mem platform.Memory
	off uint64
}

func (l cacheLoc) bytes() []byte { return l.mem.Bytes()[l.off : l.off+PageSize] }

// SharedPages returns the page cache of the open file's inode for a
// MAP_SHARED mapping, making it if needed; nil on a read-only mount,
// where shared mappings stay private copies (nothing can change the
// file). The open file counts as a user of the cache until it closes.
func (o *fileOps) SharedPages() (mm.SharedFile, error) {
	if o.fs.opts.ReadOnly {
		return nil, nil
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.fd < 0 {
		return nil, unix.EBADF
	}
	fs := o.fs
	fs.cacheMu.Lock()
	defer fs.cacheMu.Unlock()
	c := fs.caches[o.key]
	if c == nil {
		c = &pageCache{fs: fs, key: o.key, fd: -1}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 || !c.writable && o.writable {
		if err := fs.opts.FDs.take(); err != nil {
			return nil, err
		}
		nfd, err := unix.FcntlInt(uintptr(o.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			fs.opts.FDs.give()
			return nil, err
		}
		if c.fd >= 0 {
			unix.Close(c.fd)
			fs.opts.FDs.give()
		}
		c.fd, c.writable = nfd, o.writable
	}
	if fs.caches == nil {
		fs.caches = map[inodeKey]*pageCache{}
	}
	fs.caches[o.key] = c
	if o.cache == nil {
		o.cache = c
		c.refs++
	}
	return c, nil
}

// cacheOf returns the inode's page cache, if it is mapped.
func (fs *FS) cacheOf(key inodeKey) *pageCache {
	if fs.opts.ReadOnly {
		return nil
	}
	fs.cacheMu.Lock()
	defer fs.cacheMu.Unlock()
	return fs.caches[key]
}

// detach drops an open file's use of its cache; the last one writes the
// pages back and frees them. fs.cacheMu stays held meanwhile, so a new
// mapping of the inode waits and then reads the written file.
func (fs *FS) detach(c *pageCache) {
	fs.cacheMu.Lock()
	defer fs.cacheMu.Unlock()
	if c.refs--; c.refs > 0 {
		return
	}
	delete(fs.caches, c.key)
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.writeBackLocked(0, -1) // as close(2) after munmap, nobody to tell
	for mem := range c.mems {
		mem.Free(0, uint64(len(mem.Bytes())))
	}
	c.pages, c.mems = nil, nil
	fs.opts.Memory.Uncharge(c.charged)
	c.charged = 0
	if c.fd >= 0 {
		unix.Close(c.fd)
		fs.opts.FDs.give()
		c.fd = -1
	}
}

// sizeLocked returns the host file's size.
func (c *pageCache) sizeLocked() (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(c.fd, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// SharePages implements mm.SharedFile: the cache's pages for the file
// range [off, off+length), filled from the host file where missing (one
// allocation from alloc, charged to --memory). The runs stop at the end
// of the file rounded up to a page. A hostfs file has no holes to leave:
// holes is ignored.
func (c *pageCache) SharePages(off, length uint64, _ bool, alloc func(length uint64) (platform.Memory, error)) ([]mm.MemRun, error) {
	if off%PageSize != 0 || length%PageSize != 0 {
		return nil, unix.EINVAL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil, unix.EBADF
	}
	size, err := c.sizeLocked()
	if err != nil {
		return nil, err
	}
	lastPage := uint64(size+PageSize-1) / PageSize
	first := off / PageSize
	if first >= lastPage {
		return nil, nil
	}
	end := min(lastPage, first+length/PageSize)
	var missing uint64
	for idx := first; idx < end; idx++ {
		if _, ok := c.pages[int64(idx)]; !ok {
			missing++
		}
	}
	if missing > 0 {
		cost := missing * cachePageCost
		if err := c.fs.opts.Memory.Charge(cost); err != nil {
			return nil, err
		}
		mem, err := alloc(missing * PageSize)
		if err != nil {
			c.fs.opts.Memory.Uncharge(cost)
			return nil, err
		}
		c.charged += cost
		if c.pages == nil {
			c.pages, c.mems = map[int64]cacheLoc{}, map[platform.Memory]bool{}
		}
		c.mems[mem] = true
		var at uint64
		var ferr error
		for idx := first; idx < end; idx++ {
			if _, ok := c.pages[int64(idx)]; ok {
				continue
			}
			loc := cacheLoc{mem, at}
			at += PageSize
			c.pages[int64(idx)] = loc
			if ferr == nil {
				ferr = preadFull(c.fd, loc.bytes(), int64(idx*PageSize))
			}
		}
		if ferr != nil {
			return nil, ferr
		}
	}
	var runs []mm.MemRun
	for idx := first; idx < end; idx++ {
		loc := c.pages[int64(idx)]
		if n := len(runs); n > 0 && runs[n-1].Mem == loc.mem && runs[n-1].Off+runs[n-1].Len == loc.off {
			runs[n-1].Len += PageSize
			continue
		}
		runs = append(runs, mm.MemRun{Mem: loc.mem, Off: loc.off, Len: PageSize})
	}
	return runs, nil
}

// preadFull fills p from the host file at off; bytes past its end stay
// as they are (zero in a fresh page).
func preadFull(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pread(fd, p, off)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return nil
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// Object implements mm.SharedFile: the cache names the inode's pages for
// shared futexes.
func (c *pageCache) Object() any { return c }

// SyncPages implements mm.PageSyncer: it writes the cached pages of the
// file range [off, off+length) back to the host file.
func (c *pageCache) SyncPages(off, length uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := int64(-1) // to the end of the file
	if off <= 1<<62 && length <= 1<<62 {
		last = int64(off/PageSize + (length+PageSize-1)/PageSize)
	}
	return c.writeBackLocked(int64(off/PageSize), last)
}

// writeBackLocked pwrites the cached pages with index in [first, last)
// (last -1: to the end) that lie within the host file, in file order;
// c.mu must be held. Only a writable descriptor has anything to write:
// without one no mapping could store into the pages.
func (c *pageCache) writeBackLocked(first, last int64) error {
	if c.fd < 0 || !c.writable || len(c.pages) == 0 {
		return nil
	}
	size, err := c.sizeLocked()
	if err != nil {
		return err
	}
	idxs := make([]int64, 0, len(c.pages))
	for idx := range c.pages {
		if idx >= first && (last < 0 || idx < last) && idx*PageSize < size {
			idxs = append(idxs, idx)
		}
	}
	sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
	var firstErr error
	for _, idx := range idxs {
		p := c.pages[idx].bytes()[:min(PageSize, size-idx*PageSize)]
		for off := idx * PageSize; len(p) > 0; {
			n, err := unix.Pwrite(c.fd, p, off)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				if firstErr == nil {
					firstErr = unix.EIO
				}
				break
			}
			p, off = p[n:], off+int64(n)
		}
	}
	return firstErr
}

// overlay copies the cached bytes of [off, off+len(p)) over p, which
// read(2) filled from the host file: the mapped pages are the file's
// contents.
func (c *pageCache) overlay(p []byte, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eachPage(len(p), off, func(pg []byte, at int) { copy(p[at:], pg) })
}

// update copies what write(2) wrote to the host file into the cached
// pages.
func (c *pageCache) update(p []byte, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eachPage(len(p), off, func(pg []byte, at int) { copy(pg, p[at:]) })
}

// eachPage calls fn for every cached page overlapping [off, off+n), with
// the page's bytes from off (or its start) and the matching index into a
// buffer at off; c.mu must be held.
func (c *pageCache) eachPage(n int, off int64, fn func(pg []byte, at int)) {
	if len(c.pages) == 0 || n == 0 || off < 0 {
		return
	}
	end := off + int64(n)
	for idx := off / PageSize; idx*PageSize < end; idx++ {
		loc, ok := c.pages[idx]
		if !ok {
			continue
		}
		start := max(off, idx*PageSize)
		stop := min(end, (idx+1)*PageSize)
		pg := loc.bytes()[start-idx*PageSize : stop-idx*PageSize]
		fn(pg, int(start-off))
	}
}

// truncated zeroes the cached bytes at and past size after the host file
// was truncated: a mapping shows zeros there if the file grows again, and
// write-back cannot bring the old bytes back.
func (c *pageCache) truncated(size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for idx, loc := range c.pages {
		switch start := idx * PageSize; {
		case start >= size:
			clear(loc.bytes())
		case start+PageSize > size:
			clear(loc.bytes()[size-start:])
		}
	}
}

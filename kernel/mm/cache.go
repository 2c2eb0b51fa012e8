package mm

import (
	"errors"

	"github.com/litebox-go/litebox/platform/pagecache"
)

// CacheMapper is a Mapper that maps page-cache entries (both platforms'
// stubs inherit the process's cache read-only).
type CacheMapper interface {
	PageCache() *pagecache.Cache
	// MapCache maps [off, off+length) of the cache's memfd MAP_PRIVATE at
	// exactly [addr, addr+length).
	MapCache(addr, length uint64, prot int, off uint64) error
}

// Cacheable is a Backing whose bytes the page cache may hold.
type Cacheable interface {
	Backing
	// CacheKey names the version of the bytes a mapping of the file
	// shows; false if the file system cannot name one (a file that may
	// change under a mapping without its key changing).
	CacheKey() (pagecache.Key, bool)
}

// cacheFor returns the page-cache entry a new private mapping of [off,
// off+length) of f maps from, filled for that range, or nil if the
// mapping is to be a private copy (no cache, a file that is not
// cacheable, a full cache, or a file that changed while it was read: the
// copy reads it again). The MM holds the entry it returns.
func (m *MM) cacheFor(f Backing, off, length uint64) *pagecache.Entry {
	cb, ok := f.(Cacheable)
	if !ok {
		return nil
	}
	cm, ok := m.as.(CacheMapper)
	if !ok || cm.PageCache() == nil {
		return nil
	}
	key, ok := cb.CacheKey()
	if !ok || key.Size <= 0 {
		return nil
	}
	e, err := cm.PageCache().Get(key)
	if err != nil {
		return nil
	}
	m.holdEntry(e)
	if err := e.Fill(off, length, cb); err != nil {
		return nil
	}
	if now, ok := cb.CacheKey(); !ok || now != key {
		// Changed while it was read: the entry may mix two versions.
		e.Discard()
		return nil
	}
	return e
}

// holdEntry records that this address space maps e, keeping the one
// reference Get took (or dropping it when the address space holds e
// already).
func (m *MM) holdEntry(e *pagecache.Entry) {
	if !m.cached.add(e) {
		e.Release()
	}
}

// cacheEnd is the address in v where the cache entry's pages end (v.Start
// if v starts past them): the file's bytes stop there and every later
// page of v is zero.
func cacheEnd(v VMA) uint64 {
	if v.Offset >= v.Cache.Len() {
		return v.Start
	}
	return min(v.End, v.Start+(v.Cache.Len()-v.Offset))
}

// populateCached maps [start, end) of the cached VMA v: the entry's pages
// (filled first) where the file has bytes, fresh zero pages past them.
func (m *MM) populateCached(v VMA, start, end uint64) error {
	cm, ok := m.as.(CacheMapper)
	if !ok {
		return errors.New("mm: cached mapping on a platform without a page cache")
	}
	if ce := min(end, cacheEnd(v)); start < ce {
		fileOff := v.Offset + (start - v.Start)
		if err := v.Cache.Fill(fileOff, ce-start, v.File); err != nil {
			return err
		}
		if err := cm.MapCache(start, ce-start, v.Prot, v.Cache.Offset()+fileOff); err != nil {
			return err
		}
		start = ce
	}
	if start < end {
		return m.as.Map(start, end-start, v.Prot)
	}
	return nil
}

// remapCached moves the first min(oldLen, newLen) bytes of the cached VMA
// v at old to dst, part by part: the entry's pages and the zero pages past
// them are two host mappings, which one mremap cannot move together, and a
// host mremap that grew the entry's part would show the memfd's next
// pages, another file's. The grown tail is populated afresh and the rest
// of a shrunk range unmapped.
func (m *MM) remapCached(v VMA, old, oldLen, dst, newLen uint64) error {
	moveLen := min(oldLen, newLen)
	b := min(max(cacheEnd(v), old), old+moveLen)
	for _, part := range [][2]uint64{{old, b}, {b, old + moveLen}} {
		if part[0] < part[1] {
			if err := m.as.Remap(part[0], part[1]-part[0], dst+(part[0]-old), part[1]-part[0]); err != nil {
				return err
			}
		}
	}
	if moveLen < oldLen {
		if err := m.as.Unmap(old+moveLen, oldLen-moveLen); err != nil {
			return err
		}
	}
	if newLen > oldLen {
		moved := v
		moved.Start, moved.End = dst, dst+newLen
		moved.Offset = v.Offset + (old - v.Start)
		return m.populateCached(moved, dst+oldLen, dst+newLen)
	}
	return nil
}

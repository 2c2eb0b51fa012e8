// Package hostops is what both platforms do to a stub's memory on the
// kernel's behalf: each operation checks its ranges against the guest's
// part of the address space (the last line of defence for the stub's own
// memory), then runs one host syscall in the stub through the platform's
// own way of doing so (ptrace injection or a systrap hostcall).
package hostops

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/internal/pool"
	"github.com/litebox-go/litebox/platform/pagecache"
)

// Ops implements the memory operations of platform.AddressSpace.
type Ops struct {
	// Call runs syscall nr with args in the stub.
	Call func(nr uintptr, args ...uint64) (uint64, error)
	// Reserved are the stub's own ranges, never the guest's.
	Reserved []platform.Range
	// Pool supplies pages for shared mappings.
	Pool *pool.Pool
	// Cache is the page cache the stub inherited read-only at CacheFD;
	// nil if it has none.
	Cache *pagecache.Cache
}

// CacheFD is the descriptor number of the page cache in every stub.
const CacheFD = 7

// CheckRange refuses unaligned, empty, wrapping or out-of-bounds ranges
// and any range touching a reserved one.
func (o Ops) CheckRange(addr, length uint64) error {
	end := addr + length
	if addr%platform.PageSize != 0 || length == 0 || end < addr || addr < platform.MinAddr || end > platform.MaxAddr {
		return unix.EINVAL
	}
	for _, r := range o.Reserved {
		if addr < r.End && end > r.Start {
			return unix.EINVAL
		}
	}
	return nil
}

// Map implements platform.AddressSpace.
func (o Ops) Map(addr, length uint64, prot int) error {
	if err := o.CheckRange(addr, length); err != nil {
		return err
	}
	_, err := o.Call(unix.SYS_MMAP, addr, length, uint64(prot),
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE, ^uint64(0), 0)
	return err
}

// MapShared maps fresh pool pages a second time at addr: memory that stays
// shared with the forks of the address space.
func (o Ops) MapShared(addr, length uint64, prot int) error {
	if err := o.CheckRange(addr, length); err != nil {
		return err
	}
	off, err := o.Pool.Alloc(length)
	if err != nil {
		return err
	}
	if _, err := o.Call(unix.SYS_MREMAP, pool.Base+off, 0, length, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, addr); err != nil {
		return err
	}
	// The copy keeps the pool's PROT_NONE until given the guest's.
	_, err = o.Call(unix.SYS_MPROTECT, addr, length, uint64(prot))
	return err
}

// NewMemory implements platform.AddressSpace: a region of the pool, which
// every stub of the platform has mapped.
func (o Ops) NewMemory(length uint64) (platform.Memory, error) {
	if length == 0 || length%platform.PageSize != 0 {
		return nil, unix.EINVAL
	}
	r, err := o.Pool.NewRegion(length)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// MapMemory implements platform.AddressSpace: like MapShared, a second
// mapping of the region's pool pages, at addr.
func (o Ops) MapMemory(addr, length uint64, prot int, mem platform.Memory, off uint64) error {
	if err := o.CheckRange(addr, length); err != nil {
		return err
	}
	r, ok := mem.(*pool.Region)
	if !ok || !r.Of(o.Pool) || off%platform.PageSize != 0 || off > r.Len() || length > r.Len()-off {
		return unix.EINVAL
	}
	if _, err := o.Call(unix.SYS_MREMAP, pool.Base+r.Offset()+off, 0, length, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, addr); err != nil {
		return err
	}
	_, err := o.Call(unix.SYS_MPROTECT, addr, length, uint64(prot))
	return err
}

// PageCache is the cache MapCache maps from (nil: none).
func (o Ops) PageCache() *pagecache.Cache { return o.Cache }

// MapCache maps [off, off+length) of the page cache's memfd at exactly
// [addr, addr+length), MAP_PRIVATE: the cache's pages until the guest
// writes one, then its own copy. The stub's descriptor is read-only, so
// the host refuses anything but a private mapping anyway.
func (o Ops) MapCache(addr, length uint64, prot int, off uint64) error {
	if err := o.CheckRange(addr, length); err != nil {
		return err
	}
	if o.Cache == nil || off%platform.PageSize != 0 || off > o.Cache.Span() || length > o.Cache.Span()-off {
		return unix.EINVAL
	}
	_, err := o.Call(unix.SYS_MMAP, addr, length, uint64(prot), unix.MAP_PRIVATE|unix.MAP_FIXED, CacheFD, off)
	return err
}

// Unmap implements platform.AddressSpace.
func (o Ops) Unmap(addr, length uint64) error {
	if err := o.CheckRange(addr, length); err != nil {
		return err
	}
	_, err := o.Call(unix.SYS_MUNMAP, addr, length)
	return err
}

// Protect implements platform.AddressSpace.
func (o Ops) Protect(addr, length uint64, prot int) error {
	if err := o.CheckRange(addr, length); err != nil {
		return err
	}
	_, err := o.Call(unix.SYS_MPROTECT, addr, length, uint64(prot))
	return err
}

// Remap implements platform.AddressSpace.
func (o Ops) Remap(oldAddr, oldLen, newAddr, newLen uint64) error {
	if err := o.CheckRange(oldAddr, oldLen); err != nil {
		return err
	}
	if err := o.CheckRange(newAddr, newLen); err != nil {
		return err
	}
	_, err := o.Call(unix.SYS_MREMAP, oldAddr, oldLen, newLen, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, newAddr)
	return err
}

// Discard implements platform.AddressSpace.
func (o Ops) Discard(addr, length uint64) error {
	if err := o.CheckRange(addr, length); err != nil {
		return err
	}
	_, err := o.Call(unix.SYS_MADVISE, addr, length, unix.MADV_DONTNEED)
	return err
}

// ReservedRanges returns the reserved ranges (platform.AddressSpace's Reserved).
func (o Ops) ReservedRanges() []platform.Range { return o.Reserved }

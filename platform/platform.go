// Package platform defines the South interface: the only layer that touches the
// host to run guest code. An implementation creates guest address spaces and
// threads and switches into them until the guest traps.
//
// The kernel never imports an implementation; the kernel and the sandbox
// use these interfaces, so another South (systrap, KVM) can replace ptrace.
package platform

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/pagecache"
)

// Regs is the x86-64 general-purpose register file of a guest thread.
type Regs = unix.PtraceRegs

// Platform creates guest address spaces.
type Platform interface {
	// Name is the short name used on the command line ("ptrace").
	Name() string
	// NewAddressSpace returns a fresh, empty guest address space.
	NewAddressSpace() (AddressSpace, error)
	// Close ends every address space of the platform and what it needed
	// to make them (the holder stub).
	Close()
}

// AddressSpace is one guest address space. Every range is page aligned and
// lies inside [MinAddr, MaxAddr) minus the platform's reserved ranges; the
// implementation re-checks this because a mistake here would let the guest
// overwrite the stub's own code.
type AddressSpace interface {
	// Map creates private anonymous memory at exactly [addr, addr+length),
	// replacing whatever was there.
	Map(addr, length uint64, prot int) error
	// MapShared creates anonymous memory at [addr, addr+length) that stays
	// shared with the copies Fork makes (MAP_SHARED|MAP_ANONYMOUS).
	MapShared(addr, length uint64, prot int) error
	// NewMemory returns length bytes (page aligned) of zeroed shared
	// memory owned by the kernel: a "memory file" that litebox reads and
	// writes through Memory.Bytes and that any address space of the same
	// platform can map with MapMemory (MAP_SHARED file mappings).
	NewMemory(length uint64) (Memory, error)
	// MapMemory maps [off, off+length) of mem at exactly [addr,
	// addr+length), replacing whatever was there. The pages are the
	// memory's own: stores are seen by litebox, by every other mapping of
	// them and by the copies Fork makes.
	MapMemory(addr, length uint64, prot int, mem Memory, off uint64) error
	// PageCache is the page cache whose memfd the address space maps file
	// pages from with MapCache; nil if it has none.
	PageCache() *pagecache.Cache
	// MapCache maps [off, off+length) of the page cache's memfd at exactly
	// [addr, addr+length), MAP_PRIVATE: the cache's pages until the guest
	// writes one, then a private copy.
	MapCache(addr, length uint64, prot int, off uint64) error
	// Unmap removes [addr, addr+length).
	Unmap(addr, length uint64) error
	// Protect changes the protection of [addr, addr+length).
	Protect(addr, length uint64, prot int) error
	// Remap moves and/or resizes the mapping at oldAddr to newAddr, keeping
	// its contents (mremap with MREMAP_FIXED semantics).
	Remap(oldAddr, oldLen, newAddr, newLen uint64) error
	// Discard drops the contents of private anonymous memory in the range
	// (madvise MADV_DONTNEED): the next read sees zeroes.
	Discard(addr, length uint64) error
	// CopyIn reads guest memory at addr into dst. It honours the guest's
	// view: an unmapped or unreadable page ends the copy with EFAULT and
	// the count copied so far.
	CopyIn(addr uint64, dst []byte) (int, error)
	// CopyOut writes src into guest memory at addr; unmapped or read-only
	// pages end the copy with EFAULT.
	CopyOut(addr uint64, src []byte) (int, error)
	// CPUTime is the CPU time the guest has used in this address space.
	CPUTime() (time.Duration, error)
	// Reserved lists ranges the guest may never map over (the stub's code).
	Reserved() []Range
	// NewThread returns a thread that runs in this address space: the first
	// call returns the initial thread, later calls create new ones (a copy
	// of nothing: the caller sets all registers before the first Switch).
	// Later calls must come from a goroutine driving a thread of this
	// address space.
	NewThread() (Thread, error)
	// Fork returns a copy-on-write copy of this address space made by the
	// host kernel, with one initial thread. It must be called from a
	// goroutine driving a thread of this address space.
	Fork() (AddressSpace, error)
	// Release destroys the address space and every thread in it.
	Release()
}

// Memory is shared memory made by AddressSpace.NewMemory. Its pages are
// the guest's as much as litebox's: a guest that maps them may change any
// byte at any time, so nothing read from Bytes may be trusted or assumed
// stable.
type Memory interface {
	// Bytes is litebox's own mapping of the memory.
	Bytes() []byte
	// Free returns the host pages of [off, off+length) (page aligned); they
	// read as zero afterwards, in litebox and in every mapping.
	Free(off, length uint64)
}

// Range is a half-open address range [Start, End).
type Range struct{ Start, End uint64 }

// Thread is one guest thread. Each thread is driven by one goroutine,
// which calls Bind once and then Switch; operations on the address space
// are made from such a goroutine too. A platform that needs the goroutine
// to stay on one OS thread (ptrace ties a tracee to its tracer's thread)
// locks it itself, in Bind and NewAddressSpace, and unlocks it when the
// thread exits or its address space is released: callers never lock.
type Thread interface {
	// Bind ties the thread to the calling goroutine.
	Bind() error
	// Switch loads regs, runs the guest until it traps, and stores the
	// guest's registers back into regs.
	Switch(regs *Regs) (Event, error)
	// Interrupt makes a concurrent or the next Switch return
	// EventInterrupt soon; any goroutine may call it.
	Interrupt()
	// Exit ends this thread alone, leaving the others running.
	Exit()
	// FPState returns the thread's floating-point and vector registers as
	// an XSAVE image; SetFPState restores one (the host validates it).
	FPState() ([]byte, error)
	SetFPState([]byte) error
}

// EventKind says why Switch returned.
type EventKind int

const (
	// EventSyscall: the guest issued a system call; the number is in
	// regs.Orig_rax and the call has not run on the host.
	EventSyscall EventKind = iota + 1
	// EventFault: the guest raised a synchronous signal (SIGSEGV, SIGBUS,
	// SIGFPE, SIGILL, SIGTRAP).
	EventFault
	// EventInterrupt: Interrupt was called; the guest is stopped at an
	// instruction boundary and can be resumed as it is.
	EventInterrupt
)

// Event describes a trap out of the guest.
type Event struct {
	Kind   EventKind
	Signal unix.Signal // for EventFault
	Code   int32       // si_code of the fault
	Addr   uint64      // faulting address, when the signal has one
}

// Guest address-space bounds on x86-64 with 4-level paging.
const (
	MinAddr  = 0x10000 // mmap_min_addr: the guest may never map page zero
	MaxAddr  = 0x7ffffffff000
	PageSize = 4096
)

// Package pool is the shared-memory pool of a run: one sparse memfd that
// the holder stub maps at Base and every stub inherits, so memory carved
// from it stays shared between a stub and its forks. A MAP_SHARED guest
// mapping is made with mremap(Base+off, 0, len, MREMAP_MAYMOVE|MREMAP_FIXED,
// addr): a second mapping of the same pages at the guest's address.
//
// litebox maps the whole pool into itself too, so the kernel reads and
// writes the pages of its memory files (Region) with plain copies.
package pool

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Where the pool sits in every stub, and its size (sparse: only touched
// pages cost memory).
const (
	Base = 0x7ff100000000
	Size = 4 << 30
	End  = Base + Size
)

// Pool hands out ranges of the shared memfd.
type Pool struct {
	mu   sync.Mutex
	fd   int
	next uint64
	mem  []byte // litebox's own MAP_SHARED mapping of the whole memfd
}

// New creates the pool's memfd and maps it into litebox.
func New() (*Pool, error) {
	fd, err := unix.MemfdCreate("litebox-shared", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pool: memfd: %w", err)
	}
	if err := unix.Ftruncate(fd, Size); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pool: sizing: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, Size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pool: mapping: %w", err)
	}
	return &Pool{fd: fd, mem: mem}, nil
}

// FD is the memfd the holder maps (then closes).
func (p *Pool) FD() int { return p.fd }

// Alloc reserves length bytes (page aligned) and returns their offset.
// Ranges are not reused within a run: a shared mapping may live on in
// other processes after one unmaps it.
func (p *Pool) Alloc(length uint64) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	length = (length + 4095) &^ 4095
	if length == 0 || p.next+length > Size || p.next+length < p.next {
		return 0, unix.ENOMEM
	}
	off := p.next
	p.next += length
	return off, nil
}

// Region is a range of the pool handed to the kernel as a memory file
// (platform.Memory).
type Region struct {
	pool     *Pool
	off, len uint64
}

// NewRegion allocates a region of length bytes.
func (p *Pool) NewRegion(length uint64) (*Region, error) {
	off, err := p.Alloc(length)
	if err != nil {
		return nil, err
	}
	return &Region{pool: p, off: off, len: (length + 4095) &^ 4095}, nil
}

// Of reports whether r was carved from p.
func (r *Region) Of(p *Pool) bool { return r != nil && r.pool == p }

// Offset is where the region starts in the pool.
func (r *Region) Offset() uint64 { return r.off }

// Len is the region's length in bytes.
func (r *Region) Len() uint64 { return r.len }

// Bytes implements platform.Memory.
func (r *Region) Bytes() []byte { return r.pool.mem[r.off : r.off+r.len : r.off+r.len] }

// Free implements platform.Memory: the host pages go back (MADV_REMOVE
// punches them out of the memfd, for every mapping at once). The range is
// not handed out again (see Alloc).
func (r *Region) Free(off, length uint64) {
	if off%4096 != 0 || length%4096 != 0 || off > r.len || length > r.len-off || length == 0 {
		return
	}
	_ = unix.Madvise(r.Bytes()[off:off+length], unix.MADV_REMOVE)
}

// Close releases litebox's reference to the memfd. litebox's own mapping
// is replaced by zero pages rather than removed, so a file system that
// still points into it after the run reads zeros instead of faulting.
func (p *Pool) Close() {
	if p.fd < 0 {
		return
	}
	unix.Close(p.fd)
	p.fd = -1
	_, _ = mmapFixedAnon(p.mem)
}

// mmapFixedAnon replaces the mapping of b by private zero pages.
func mmapFixedAnon(b []byte) (uintptr, error) {
	addr, _, errno := unix.Syscall6(unix.SYS_MMAP, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE, ^uintptr(0), 0)
	if errno != 0 {
		return 0, errno
	}
	return addr, nil
}

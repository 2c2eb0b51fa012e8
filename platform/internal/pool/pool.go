// Package pool is the shared-memory pool of a run: one sparse memfd that
// the holder stub maps at Base and every stub inherits, so memory carved
// from it stays shared between a stub and its forks. A MAP_SHARED guest
// mapping is made with mremap(Base+off, 0, len, MREMAP_MAYMOVE|MREMAP_FIXED,
// addr): a second mapping of the same pages at the guest's address.
package pool

import (
	"fmt"
	"sync"

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
}

// New creates the pool's memfd.
func New() (*Pool, error) {
	fd, err := unix.MemfdCreate("litebox-shared", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pool: memfd: %w", err)
	}
	if err := unix.Ftruncate(fd, Size); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pool: sizing: %w", err)
	}
	return &Pool{fd: fd}, nil
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

// Close releases litebox's reference to the memfd.
func (p *Pool) Close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

package memfs

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// allSeals are the seals F_ADD_SEALS knows.
const allSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE |
	unix.F_SEAL_FUTURE_WRITE

// NewUnlinked makes a regular file linked in no directory and returns it
// open for reading and writing (memfd_create): its pages are charged to
// the file system's limit like any file's, and it goes with its last open
// handle. Without sealing it carries F_SEAL_SEAL, so no seal can be added.
func (fs *FS) NewUnlinked(sealing bool) (vfs.Node, vfs.FileOps, error) {
	f := &File{pages: map[int64]*page{}}
	if !sealing {
		f.seals = unix.F_SEAL_SEAL
	}
	if err := fs.initInode(&f.inode, unix.S_IFREG, 0o777, 0, vfs.GuestUID, vfs.GuestGID); err != nil {
		return nil, nil, err
	}
	f.nlink = 0
	ops, err := f.Open(unix.O_RDWR)
	if err != nil {
		return nil, nil, err
	}
	return f, ops, nil
}

// sealedWriteLocked refuses a write of n bytes at off that the file's
// seals forbid (EPERM, as Linux); f.mu held.
func (f *File) sealedWriteLocked(off int64, n int) error {
	switch {
	case f.seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 && n > 0:
		return unix.EPERM
	case f.seals&unix.F_SEAL_GROW != 0 && off+int64(n) > f.size:
		return unix.EPERM
	}
	return nil
}

// Seals returns the file's seals (F_GET_SEALS).
func (h *handle) Seals() (int, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return h.f.seals, nil
}

// AddSeals adds seals (F_ADD_SEALS): EPERM once F_SEAL_SEAL is set or on
// a handle not open for writing, EINVAL for unknown bits. (No writable
// shared mapping of a memfs file exists, so F_SEAL_WRITE never has to
// wait for one to go: EBUSY does not arise.)
func (h *handle) AddSeals(seals int) error {
	if seals&^allSeals != 0 {
		return unix.EINVAL
	}
	if h.acc == unix.O_RDONLY {
		return unix.EPERM
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.f.seals&unix.F_SEAL_SEAL != 0 {
		return unix.EPERM
	}
	h.f.seals |= seals
	return nil
}

// Allocate implements fallocate modes 0 and FALLOC_FL_KEEP_SIZE: the pages
// of [off, off+n) are allocated (and charged) now, so later writes there
// cannot fail with ENOSPC; mode 0 also extends the size. Beyond the limit
// it fails with ENOSPC and allocates nothing.
func (h *handle) Allocate(mode uint32, off, n int64) error {
	if h.acc == unix.O_RDONLY || h.closed.Load() {
		return unix.EBADF
	}
	if off+n > MaxFileSize {
		return unix.EFBIG
	}
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	keep := mode&unix.FALLOC_FL_KEEP_SIZE != 0
	if !keep && off+n > f.size && f.seals&unix.F_SEAL_GROW != 0 {
		return unix.EPERM
	}
	// Without a size limit nothing can run out later, so nothing is
	// allocated ahead (and a guest cannot make litebox allocate a
	// terabyte with one call); with one, charge first what is missing.
	if f.fs.acct.limit > 0 {
		first, last := off/pageSize, (off+n-1)/pageSize
		have := int64(0)
		for idx := range f.pages {
			if idx >= first && idx <= last {
				have++
			}
		}
		if err := f.fs.reserve((last - first + 1 - have) * PageCost); err != nil {
			return err
		}
		if f.pages == nil {
			f.pages = map[int64]*page{}
		}
		for idx := first; idx <= last; idx++ {
			if f.pages[idx] == nil {
				f.pages[idx] = new(page)
			}
		}
	}
	if !keep && off+n > f.size {
		f.size = off + n
		f.touchLocked()
	} else {
		f.ctime = vfs.Now()
	}
	return nil
}

// Reopen opens the file again (/proc/self/fd/N of a memfd, which has no
// name to open it by).
func (h *handle) Reopen(flags int) (vfs.FileOps, error) { return h.f.Open(flags) }

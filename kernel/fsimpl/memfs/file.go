package memfs

import (
	"io"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

const pageSize = 4096

type page [pageSize]byte

// File is a regular file. Its data lives in a sparse page map: a page that
// was never written reads as zeros. Invariant: no byte at or beyond size is
// non-zero, so growing the file exposes zeros as POSIX requires.
type File struct {
	inode
	// Guarded by mu.
	size  int64
	pages map[int64]*page
	// shared holds the pages that live in memory files (shared.go),
	// including zeroed ones past the end kept for their mappings.
	shared map[int64]sharedLoc
	kept   int64 // pages of shared past the end, not in pages
	opens  int   // open handles; the data outlives the last link while > 0
	// seals are the F_SEAL_* bits (memfd_create, fcntl F_ADD_SEALS); a
	// file made otherwise is born with F_SEAL_SEAL, as on Linux's tmpfs.
	seals int
}

// Stat returns the file's metadata.
func (f *File) Stat() (vfs.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statLocked(), nil
}

func (f *File) statLocked() vfs.Stat {
	st := f.inode.statLocked()
	st.Size = f.size
	st.Blocks = int64(len(f.pages)) * (pageSize / 512)
	return st
}

// Open returns a handle. The access mode is enforced by the handle.
func (f *File) Open(flags int) (vfs.FileOps, error) {
	f.mu.Lock()
	f.opens++
	f.mu.Unlock()
	return &handle{f: f, acc: flags & unix.O_ACCMODE}, nil
}

// maybeRelease frees the data and the inode of a file that has neither
// links nor open handles, returning their space to the file system.
func (f *File) maybeRelease() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nlink == 0 && f.opens == 0 {
		kept := f.releaseSharedLocked()
		f.fs.reserve(-(int64(len(f.pages)) + kept) * PageCost)
		f.size = 0
		f.pages = nil
		f.releaseLocked()
	}
}

func (f *File) readAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= f.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), f.size-off))
	for done := 0; done < n; {
		pos := off + int64(done)
		idx, in := pos/pageSize, int(pos%pageSize)
		chunk := min(n-done, pageSize-in)
		if pg := f.pages[idx]; pg != nil {
			copy(p[done:done+chunk], pg[in:])
		} else {
			clear(p[done : done+chunk])
		}
		done += chunk
	}
	f.accessedLocked()
	return n, nil
}

// writeLocked writes p at off; f.mu must be held. Each page the write
// adds is charged as it is filled, so a write that runs out of space is
// shortened to the pages that fit, and fails with ENOSPC only if none
// does (as tmpfs). A write past MaxFileSize is shortened too, or fails
// with EFBIG.
func (f *File) writeLocked(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= MaxFileSize {
		return 0, unix.EFBIG
	}
	if f.pages == nil {
		f.pages = map[int64]*page{} // written after release via an open handle
	}
	n := int(min(int64(len(p)), MaxFileSize-off))
	if off+int64(n) > f.size {
		f.clearTailLocked()
	}
	done := 0
	for done < n {
		pos := off + int64(done)
		idx, in := pos/pageSize, int(pos%pageSize)
		chunk := min(n-done, pageSize-in)
		pg := f.pages[idx]
		if pg == nil {
			// A page kept (and charged) for a mapping, or a new one.
			if pg = f.sharedPageLocked(idx); pg == nil {
				if f.fs.reserve(PageCost) != nil {
					break
				}
				pg = new(page)
			}
			f.pages[idx] = pg
		}
		copy(pg[in:], p[done:done+chunk])
		done += chunk
	}
	if done == 0 {
		return 0, unix.ENOSPC
	}
	f.size = max(f.size, off+int64(done))
	f.reviveLocked()
	f.touchLocked()
	// A write by an unprivileged user drops set-user-ID (and executable
	// set-group-ID) so a modified binary cannot keep its privileges.
	f.perm &^= unix.S_ISUID
	if f.perm&0o010 != 0 {
		f.perm &^= unix.S_ISGID
	}
	return done, nil
}

// truncate sets the size. Growing adds a hole, which costs nothing;
// shrinking frees the pages past the new end.
func (f *File) truncate(size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	if size > MaxFileSize {
		return unix.EFBIG
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if size < f.size && f.seals&unix.F_SEAL_SHRINK != 0 || size > f.size && f.seals&unix.F_SEAL_GROW != 0 {
		return unix.EPERM
	}
	if size < f.size {
		// Drop whole pages past the end and zero the tail of the last
		// one to keep the "nothing beyond size" invariant.
		last := (size + pageSize - 1) / pageSize
		freed := int64(0)
		for idx := range f.pages {
			if idx >= last {
				delete(f.pages, idx)
				if _, ok := f.shared[idx]; ok {
					// Mapped pages stay where they are, zeroed.
					*f.pageAt(f.shared[idx]) = page{}
					f.kept++
					continue
				}
				freed++
			}
		}
		f.fs.reserve(-freed * PageCost)
		if in := size % pageSize; in != 0 {
			if pg := f.pages[size/pageSize]; pg != nil {
				clear(pg[in:])
			}
		}
	} else {
		f.clearTailLocked()
	}
	f.size = size
	f.reviveLocked()
	f.touchLocked()
	return nil
}

// handle is an open memfs file.
type handle struct {
	f      *File
	acc    int
	closed atomic.Bool
}

// The handle methods fail with EBADF after Close, so a closed handle can
// never resurrect the data of a released file.

func (h *handle) ReadAt(p []byte, off int64) (int, error) {
	if h.acc == unix.O_WRONLY || h.closed.Load() {
		return 0, unix.EBADF
	}
	return h.f.readAt(p, off)
}

func (h *handle) WriteAt(p []byte, off int64) (int, error) {
	if h.acc == unix.O_RDONLY || h.closed.Load() {
		return 0, unix.EBADF
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if err := h.f.sealedWriteLocked(off, len(p)); err != nil {
		return 0, err
	}
	return h.f.writeLocked(p, off)
}

// Append writes at the end of file atomically with respect to other
// writers of the same file.
func (h *handle) Append(p []byte) (int, int64, error) {
	if h.acc == unix.O_RDONLY || h.closed.Load() {
		return 0, 0, unix.EBADF
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if err := h.f.sealedWriteLocked(h.f.size, len(p)); err != nil {
		return 0, h.f.size, err
	}
	n, err := h.f.writeLocked(p, h.f.size)
	return n, h.f.size, err
}

func (h *handle) Truncate(size int64) error {
	if h.closed.Load() {
		return unix.EBADF
	}
	if h.acc == unix.O_RDONLY {
		return unix.EINVAL
	}
	return h.f.truncate(size)
}

func (h *handle) Sync() error { return nil }

// Stat reports through the handle, so fstat works after unlink.
func (h *handle) Stat() (vfs.Stat, error) { return h.f.Stat() }

func (h *handle) Close() error {
	if h.closed.Swap(true) {
		return unix.EBADF
	}
	h.f.mu.Lock()
	h.f.opens--
	h.f.mu.Unlock()
	h.f.maybeRelease()
	return nil
}

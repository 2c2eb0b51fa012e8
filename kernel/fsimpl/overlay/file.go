package overlay

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// fileNode is a regular file.
type fileNode struct{ *base }

// Open opens the real file: for writing, the file is copied up first, so
// the image is never written. A file opened for reading before its
// copy-up goes on reading the lower file, as on Linux.
func (f fileNode) Open(flags int) (vfs.FileOps, error) {
	n := f.upper()
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		u, err := f.fs.upperFor(f.base)
		if err != nil {
			return nil, err
		}
		n = u
	}
	fromUpper := n != nil
	if !fromUpper {
		n = f.lower
	}
	on, ok := n.(vfs.OpenableNode)
	if !ok {
		return nil, unix.ENXIO
	}
	ops, err := on.Open(flags)
	if err != nil {
		return nil, err
	}
	h := &handle{FileOps: ops, b: f.base}
	if fromUpper {
		h.shared, _ = n.(mm.SharedFile)
	}
	return h, nil
}

// fifoNode is a named pipe. A lower one is copied up when it is opened:
// its pipe lives in the upper memfs (a layer only describes it). Its open
// ends are the upper FIFO's own (they stat as the memfs FIFO).
type fifoNode struct{ *base }

// Open opens the FIFO without an interruptible wait.
func (f fifoNode) Open(flags int) (vfs.FileOps, error) {
	return f.OpenBlocking(flags, context.Background())
}

// OpenBlocking opens the upper FIFO with fifo(7)'s rules.
func (f fifoNode) OpenBlocking(flags int, ctx context.Context) (vfs.FileOps, error) {
	u, err := f.fs.upperFor(f.base)
	if err != nil {
		if err == unix.EROFS {
			return nil, unix.ENXIO // a read-only image's FIFO has no pipe
		}
		return nil, err
	}
	if bo, ok := u.(vfs.BlockingOpener); ok {
		return bo.OpenBlocking(flags, ctx)
	}
	on, ok := u.(vfs.OpenableNode)
	if !ok {
		return nil, unix.ENXIO
	}
	return on.Open(flags)
}

// handle is an open overlay file: the real file's handle, which fstat
// reports as the overlay node. It serves what a memfs handle serves
// (append, fallocate, shared mappings) when the real file is the upper
// memfs's; a lower file's handle has none of them. Seals are not served
// (F_GET_SEALS is EINVAL): an overlay file is no tmpfs file, on Linux
// either.
type handle struct {
	vfs.FileOps
	b      *base
	shared mm.SharedFile // the upper file, for MAP_SHARED
}

// Stat reports the open file (valid after unlink) as the overlay's.
func (h *handle) Stat() (vfs.Stat, error) {
	var st vfs.Stat
	var err error
	if s, ok := h.FileOps.(vfs.Stater); ok {
		st, err = s.Stat()
	} else {
		st, err = h.b.real().Stat()
	}
	if err != nil {
		return st, err
	}
	h.b.fix(&st)
	return st, nil
}

// Append writes at the end of file atomically when the real handle can.
func (h *handle) Append(p []byte) (int, int64, error) {
	if a, ok := h.FileOps.(vfs.Appender); ok {
		return a.Append(p)
	}
	st, err := h.Stat()
	if err != nil {
		return 0, 0, err
	}
	n, err := h.WriteAt(p, st.Size)
	return n, st.Size + int64(n), err
}

// Allocate is fallocate on the upper file; EOPNOTSUPP otherwise.
func (h *handle) Allocate(mode uint32, off, n int64) error {
	if a, ok := h.FileOps.(interface {
		Allocate(mode uint32, off, n int64) error
	}); ok {
		return a.Allocate(mode, off, n)
	}
	return unix.EOPNOTSUPP
}

// SharedPages gives MAP_SHARED mappings the upper memfs file's own pages;
// nil for a lower file, which the kernel then maps as a private copy
// (nothing can change it: writing it means copying it up).
func (h *handle) SharedPages() (mm.SharedFile, error) {
	if h.shared == nil {
		return nil, nil
	}
	return h.shared, nil
}

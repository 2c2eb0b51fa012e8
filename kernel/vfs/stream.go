package vfs

import (
	"context"
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// streamDev is the device number shared by all stream files (they belong to
// no mounted file system).
var streamDev = NewDev()

// NewStreamFile wraps host stdio as an open file. The file is always
// readable (a nil r reads as end of file, like /dev/null) and writable only
// when w is non-nil (otherwise writes fail with EBADF). Offsets do not
// apply: Pread, Pwrite and Seek fail with ESPIPE. It stats as a character
// device; with a non-nil tty it reports a pseudo-terminal (136:0) and
// forwards ioctls to tty. Closing the last reference does not close r or
// w: host stdio stays owned by the host.
func NewStreamFile(name string, r io.Reader, w io.Writer, tty Terminal) *File {
	now := Now()
	n := &streamNode{st: Stat{
		Dev: streamDev, Ino: NewIno(), Nlink: 1,
		Mode: unix.S_IFCHR | 0o620, Uid: GuestUID, Gid: GuestGID,
		Blksize: 1024, Atime: now, Mtime: now, Ctime: now,
	}}
	if tty != nil {
		n.st.Rdev = unix.Mkdev(136, 0)
	}
	acc := unix.O_RDONLY
	if w != nil {
		acc = unix.O_RDWR
	}
	f := newFile(n, nil, name, acc)
	f.ops = &streamOps{r: r, w: w}
	f.stream = true
	f.tty = tty
	return f
}

type streamNode struct {
	mu sync.Mutex
	st Stat
}

// SetOwner makes the stream belong to uid:gid (Owner).
func (n *streamNode) SetOwner(uid, gid uint32) {
	n.mu.Lock()
	n.st.Uid, n.st.Gid = uid, gid
	n.mu.Unlock()
}

func (n *streamNode) Stat() (Stat, error) { n.mu.Lock(); defer n.mu.Unlock(); return n.st, nil }
func (n *streamNode) IsStream() bool      { return true }

type streamOps struct {
	r io.Reader
	w io.Writer
}

func (s *streamOps) IsStream() bool { return true }

func (s *streamOps) ReadAt(p []byte, _ int64) (int, error) {
	if s.r == nil || len(p) == 0 {
		return 0, nil
	}
	return s.r.Read(p)
}

func (s *streamOps) WriteAt(p []byte, _ int64) (int, error) {
	if s.w == nil {
		return 0, unix.EBADF
	}
	if len(p) == 0 {
		return 0, nil
	}
	return s.w.Write(p)
}

// WriteCancel lets a writer that can wait (the sandbox's host output)
// give up when the guest is interrupted; other writers are called as is.
func (s *streamOps) WriteCancel(p []byte, flags int, ctx context.Context) (int, error) {
	if cw, ok := s.w.(CancelWriter); ok {
		if len(p) == 0 {
			return 0, nil
		}
		return cw.WriteCancel(p, flags, ctx)
	}
	return s.WriteAt(p, 0)
}

// Reopen shares the stream with a new open file description (/dev/stdout
// naming the sandbox's output): host stdio has no per-open state, and
// closing a stream file never closes it.
func (s *streamOps) Reopen(int) (FileOps, error) { return s, nil }

func (s *streamOps) Truncate(int64) error { return unix.EINVAL }
func (s *streamOps) Sync() error          { return unix.EINVAL } // as fsync on a tty or pipe
func (s *streamOps) Close() error         { return nil }

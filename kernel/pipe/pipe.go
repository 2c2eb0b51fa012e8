// Package pipe implements the kernel's pipes: a bounded byte buffer with a
// read end and a write end, blocking and non-blocking, with Linux's EOF,
// EPIPE and PIPE_BUF atomicity rules.
package pipe

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Capacity is the default pipe buffer size, as on Linux.
const Capacity = 65536

// atomicMax is PIPE_BUF: writes up to this size are never interleaved.
const atomicMax = 4096

// Pipe is one pipe's shared state.
type Pipe struct {
	mu      sync.Mutex
	waitCh  chan struct{} // closed and replaced on every state change
	buf     []byte
	cap     int
	readers int
	writers int
	ino     uint64
	// notify is called (outside the lock) whenever readiness may change,
	// so pollers can re-check.
	notify func()
}

// New returns a pipe with one reader and one writer reference.
func New() *Pipe {
	return &Pipe{cap: Capacity, readers: 1, writers: 1, ino: vfs.NewIno(), waitCh: make(chan struct{})}
}

// SetNotify installs the readiness callback.
func (p *Pipe) SetNotify(fn func()) { p.mu.Lock(); p.notify = fn; p.mu.Unlock() }

// broadcastLocked wakes every waiter; p.mu held.
func (p *Pipe) broadcastLocked() {
	close(p.waitCh)
	p.waitCh = make(chan struct{})
}

func (p *Pipe) changed() {
	p.mu.Lock()
	p.broadcastLocked()
	fn := p.notify
	p.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// waitLocked releases p.mu until the pipe changes or cancel closes, and
// reports ERESTARTSYS for the latter; p.mu is held again on return.
func (p *Pipe) waitLocked(cancel <-chan struct{}) error {
	ch := p.waitCh
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-cancel:
		return restartSys
	}
}

// restartSys is the kernel's ERESTARTSYS: the caller restarts or fails the
// call with EINTR.
const restartSys = unix.Errno(512)

// Read reads available bytes; with none it returns 0 at EOF (no writers),
// EAGAIN when nonblock, or waits.
func (p *Pipe) Read(b []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	for len(p.buf) == 0 {
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if nonblock {
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := p.waitLocked(cancel); err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil // let the backing array go
	}
	p.mu.Unlock()
	p.changed()
	return n, nil
}

// Write writes b. Without readers it fails with EPIPE (the caller raises
// SIGPIPE). Writes of at most PIPE_BUF bytes are atomic.
func (p *Pipe) Write(b []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	p.mu.Lock()
	done := 0
	for done < len(b) || len(b) == 0 {
		if p.readers == 0 {
			p.mu.Unlock()
			if done > 0 {
				return done, nil
			}
			return 0, unix.EPIPE
		}
		if len(b) == 0 {
			break
		}
		space := p.cap - len(p.buf)
		need := len(b) - done
		if space == 0 || (len(b) <= atomicMax && space < need) {
			if nonblock {
				p.mu.Unlock()
				if done > 0 {
					return done, nil
				}
				return 0, unix.EAGAIN
			}
			if err := p.waitLocked(cancel); err != nil {
				p.mu.Unlock()
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
			continue
		}
		n := min(space, need)
		p.buf = append(p.buf, b[done:done+n]...)
		done += n
		p.broadcastLocked()
		if fn := p.notify; fn != nil {
			p.mu.Unlock()
			fn()
			p.mu.Lock()
		}
	}
	p.mu.Unlock()
	return done, nil
}

// Readiness reports poll events for the read or write end.
func (p *Pipe) Readiness(writeEnd bool) int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ev int16
	if writeEnd {
		if p.readers == 0 {
			return unix.POLLERR | unix.POLLOUT
		}
		if p.cap-len(p.buf) >= atomicMax || p.cap-len(p.buf) == p.cap {
			ev |= unix.POLLOUT
		}
		return ev
	}
	if len(p.buf) > 0 {
		ev |= unix.POLLIN
	}
	if p.writers == 0 {
		ev |= unix.POLLHUP
	}
	return ev
}

// Buffered returns the bytes waiting to be read (FIONREAD).
func (p *Pipe) Buffered() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.buf) }

// release drops one end.
func (p *Pipe) release(writeEnd bool) {
	p.mu.Lock()
	if writeEnd {
		p.writers--
	} else {
		p.readers--
	}
	p.mu.Unlock()
	p.changed()
}

// Ends returns the vfs nodes and operations of the two ends.
func (p *Pipe) Ends() (r, w *End) {
	return &End{p: p}, &End{p: p, write: true}
}

// End is one end of a pipe: both its node (for fstat) and its operations.
type End struct {
	p     *Pipe
	write bool
	shut  bool // released early by Shutdown
}

// Stat reports a FIFO owned by the guest.
func (e *End) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: pipeDev, Ino: e.p.ino, Nlink: 1, Mode: unix.S_IFIFO | 0o600,
		Uid: vfs.GuestUID, Gid: vfs.GuestGID, Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

var pipeDev = vfs.NewDev()

// IsStream makes offsets meaningless (ESPIPE).
func (e *End) IsStream() bool { return true }

// ReadAt reads from the read end, blocking.
func (e *End) ReadAt(b []byte, _ int64) (int, error) { return e.ReadCancel(b, 0, nil) }

// WriteAt writes to the write end, blocking.
func (e *End) WriteAt(b []byte, _ int64) (int, error) { return e.WriteCancel(b, 0, nil) }

// ReadCancel reads honouring O_NONBLOCK in flags; a wait ends with
// ERESTARTSYS when cancel closes.
func (e *End) ReadCancel(b []byte, flags int, cancel <-chan struct{}) (int, error) {
	if e.write {
		return 0, unix.EBADF
	}
	return e.p.Read(b, flags&unix.O_NONBLOCK != 0, cancel)
}

// WriteCancel writes honouring O_NONBLOCK in flags; a wait ends with
// ERESTARTSYS when cancel closes.
func (e *End) WriteCancel(b []byte, flags int, cancel <-chan struct{}) (int, error) {
	if !e.write {
		return 0, unix.EBADF
	}
	return e.p.Write(b, flags&unix.O_NONBLOCK != 0, cancel)
}

// Readiness reports poll events of this end.
func (e *End) Readiness() int16 { return e.p.Readiness(e.write) }

// Pipe returns the pipe of this end.
func (e *End) Pipe() *Pipe { return e.p }

// Truncate is not possible on a pipe.
func (e *End) Truncate(int64) error { return unix.EINVAL }

// Sync is not possible on a pipe.
func (e *End) Sync() error { return unix.EINVAL }

// Close drops this end.
func (e *End) Close() error { return e.Shutdown() }

// Shutdown ends this end's direction once (socket shutdown): later
// shutdowns and the final Close do not count it twice.
func (e *End) Shutdown() error {
	e.p.mu.Lock()
	done := e.shut
	e.shut = true
	e.p.mu.Unlock()
	if !done {
		e.p.release(e.write)
	}
	return nil
}

// Buffered returns the bytes waiting to be read at this end (FIONREAD).
func (e *End) Buffered() int { return e.p.Buffered() }

// Package pipe implements the kernel's pipes: a bounded byte buffer with a
// read end and a write end, blocking and non-blocking, with Linux's EOF,
// EPIPE and PIPE_BUF atomicity rules.
package pipe

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Capacity is the default pipe buffer size, as on Linux.
const Capacity = 65536

// atomicMax is PIPE_BUF: writes up to this size are never interleaved.
const atomicMax = 4096

// pageSize is the unit in which a pipe holds (and charges) its data.
const pageSize = 4096

// PageCost is what each page of buffered data is charged: the page and its
// slot in the buffer.
const PageCost = pageSize + 16

// Charge is what a pipe's memory is charged to: n > 0 takes n bytes or
// fails, n < 0 gives them back.
type Charge func(n int64) error

// Pipe is one pipe's shared state.
type Pipe struct {
	mu     sync.Mutex
	waitCh chan struct{} // closed and replaced on every state change
	// The buffered bytes: pages[0][head:] then whole pages, the last one
	// filled up to tail. A page is allocated (and charged) when a write
	// needs it and freed when a read empties it.
	pages   []*[pageSize]byte
	head    int
	tail    int
	n       int // bytes buffered
	cap     int
	readers int
	writers int
	// rOpens and wOpens count the opens of each end (a FIFO's opener
	// waits for the other's to change, as Linux's r_counter/w_counter).
	rOpens, wOpens uint64
	ino            uint64
	charge         Charge // nil: uncharged
	base           int64  // charged for the pipe itself, given back with it
	freed          bool
	// notify is called (outside the lock) whenever readiness may change,
	// so pollers can re-check.
	notify func()
	// uid, gid own the pipe (its creator's fs ids, as Linux's pipe inode).
	uid, gid uint32
}

// New returns an uncharged pipe with one reader and one writer reference.
func New() *Pipe {
	return &Pipe{cap: Capacity, readers: 1, writers: 1, ino: vfs.NewIno(), waitCh: make(chan struct{}),
		uid: vfs.GuestUID, gid: vfs.GuestGID}
}

// NewCharged returns a pipe whose memory is charged to charge: base bytes
// for the pipe itself now (its error is returned if they do not fit), and
// PageCost for each page of data it holds. All of it is given back when
// both ends are closed. A write that cannot get a page fails with ENOMEM,
// or is shortened if some of it was written, as Linux's pipe_write when a
// page cannot be allocated.
func NewCharged(charge Charge, base int64) (*Pipe, error) {
	if err := charge(base); err != nil {
		return nil, err
	}
	p := New()
	p.charge, p.base = charge, base
	return p, nil
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

// waitLocked releases p.mu until the pipe changes or ctx is done, and
// reports ERESTARTSYS for the latter; p.mu is held again on return.
func (p *Pipe) waitLocked(ctx context.Context) error {
	ch := p.waitCh
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return restartSys
	}
}

// restartSys is the kernel's ERESTARTSYS: the caller restarts or fails the
// call with EINTR.
const restartSys = unix.Errno(512)

// Read reads available bytes; with none it returns 0 at EOF (no writers),
// EAGAIN when nonblock, or waits.
func (p *Pipe) Read(b []byte, nonblock bool, ctx context.Context) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	for p.n == 0 {
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if nonblock {
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := p.waitLocked(ctx); err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	n := p.takeLocked(b)
	p.mu.Unlock()
	p.changed()
	return n, nil
}

// takeLocked moves up to len(b) buffered bytes into b, freeing the pages
// it empties; p.mu held.
func (p *Pipe) takeLocked(b []byte) int {
	done := 0
	for done < len(b) && p.n > 0 {
		end := pageSize
		if len(p.pages) == 1 {
			end = p.tail
		}
		c := copy(b[done:], p.pages[0][p.head:end])
		done += c
		p.head += c
		p.n -= c
		if p.head == end {
			p.dropFirstLocked()
		}
	}
	return done
}

// dropFirstLocked frees the first page; p.mu held.
func (p *Pipe) dropFirstLocked() {
	p.pages[0] = nil
	p.pages = p.pages[1:]
	p.head = 0
	if len(p.pages) == 0 {
		p.pages, p.tail = nil, 0
	}
	p.uncharge(1)
}

// uncharge gives back the charge of n pages.
func (p *Pipe) uncharge(n int) {
	if p.charge != nil && n > 0 {
		_ = p.charge(-int64(n) * PageCost)
	}
}

// appendLocked buffers b, allocating the pages it needs; it stops at the
// first page that cannot be charged and returns how much it buffered.
// With whole set it first charges every page b needs and buffers nothing
// if they do not all fit (PIPE_BUF atomicity). p.mu held.
func (p *Pipe) appendLocked(b []byte, whole bool) int {
	room := 0
	if len(p.pages) > 0 {
		room = pageSize - p.tail
	}
	if whole && len(b) > room && p.charge != nil {
		need := (len(b) - room + pageSize - 1) / pageSize
		if p.charge(int64(need)*PageCost) != nil {
			return 0
		}
		// Pre-charged: allocate without charging again below.
		return p.fillLocked(b, need)
	}
	return p.fillLocked(b, 0)
}

// fillLocked copies b into the buffer; the first prepaid new pages are
// already charged. p.mu held.
func (p *Pipe) fillLocked(b []byte, prepaid int) int {
	done := 0
	for done < len(b) {
		if len(p.pages) == 0 || p.tail == pageSize {
			if prepaid > 0 {
				prepaid--
			} else if p.charge != nil && p.charge(PageCost) != nil {
				break
			}
			p.pages = append(p.pages, new([pageSize]byte))
			p.tail = 0
		}
		c := copy(p.pages[len(p.pages)-1][p.tail:], b[done:])
		p.tail += c
		p.n += c
		done += c
	}
	p.uncharge(prepaid) // pages charged for but not needed
	return done
}

// freeLocked drops the buffered data and, once both ends are gone, gives
// back the pipe's own charge; p.mu held.
func (p *Pipe) freeLocked() {
	p.uncharge(len(p.pages))
	p.pages, p.head, p.tail, p.n = nil, 0, 0, 0
	if p.readers == 0 && p.writers == 0 && !p.freed {
		p.freed = true
		if p.charge != nil {
			_ = p.charge(-p.base)
		}
	}
}

// Write writes b. Without readers it fails with EPIPE (the caller raises
// SIGPIPE). Writes of at most PIPE_BUF bytes are atomic.
func (p *Pipe) Write(b []byte, nonblock bool, ctx context.Context) (int, error) {
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
		space := p.cap - p.n
		need := len(b) - done
		if space <= 0 || (len(b) <= atomicMax && space < need) {
			if nonblock {
				p.mu.Unlock()
				if done > 0 {
					return done, nil
				}
				return 0, unix.EAGAIN
			}
			if err := p.waitLocked(ctx); err != nil {
				p.mu.Unlock()
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
			continue
		}
		n := p.appendLocked(b[done:done+min(space, need)], len(b) <= atomicMax)
		if n == 0 {
			// No memory for the data: like a failed page allocation.
			p.mu.Unlock()
			if done > 0 {
				return done, nil
			}
			return 0, unix.ENOMEM
		}
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
		if p.cap-p.n >= atomicMax || p.n == 0 {
			ev |= unix.POLLOUT
		}
		return ev
	}
	if p.n > 0 {
		ev |= unix.POLLIN
	}
	if p.writers == 0 {
		ev |= unix.POLLHUP
	}
	return ev
}

// Buffered returns the bytes waiting to be read (FIONREAD).
func (p *Pipe) Buffered() int { p.mu.Lock(); defer p.mu.Unlock(); return p.n }

// release drops one end (read, write or both, for an O_RDWR open of a
// FIFO) and gives back what opening it charged.
func (p *Pipe) release(read, write bool, cost int64) {
	p.mu.Lock()
	if write {
		p.writers--
	}
	if read {
		p.readers--
	}
	if cost > 0 && p.charge != nil {
		_ = p.charge(-cost)
	}
	if p.readers == 0 {
		// Nobody can read the data any more (writes now fail with
		// EPIPE): free it at once.
		p.freeLocked()
	}
	p.mu.Unlock()
	p.changed()
}

// Ends returns the vfs nodes and operations of the two ends.
func (p *Pipe) Ends() (r, w *End) {
	return &End{p: p, read: true}, &End{p: p, write: true}
}

// EndCost is what each end opened after the first two (Reopen, FIFO
// opens) is charged: the end and its open file description.
const EndCost = 256

// Reopen implements vfs.Reopener for an end of an anonymous pipe.
func (e *End) Reopen(flags int) (vfs.FileOps, error) {
	ne, err := e.p.Reopen(flags)
	if err != nil {
		return nil, err
	}
	return ne, nil
}

// Reopen opens the pipe again with flags' access mode, as Linux does for
// an open of /proc/<pid>/fd/N naming a pipe: a new open file description
// of the same pipe, which never waits for a partner (Linux's fifo_open
// waits only for named FIFOs). It fails with ENOENT once every end is
// closed (the descriptor it was found through was closed meanwhile).
func (p *Pipe) Reopen(flags int) (*End, error) {
	read, write := accessEnds(flags)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.freed || p.readers == 0 && p.writers == 0 {
		return nil, unix.ENOENT
	}
	return p.addEndLocked(read, write)
}

// accessEnds tells which ends an open with flags' access mode is.
func accessEnds(flags int) (read, write bool) {
	switch flags & unix.O_ACCMODE {
	case unix.O_WRONLY:
		return false, true
	case unix.O_RDWR:
		return true, true
	}
	return true, false
}

// addEndLocked counts and charges a new end; p.mu held.
func (p *Pipe) addEndLocked(read, write bool) (*End, error) {
	if p.charge != nil {
		if err := p.charge(EndCost); err != nil {
			return nil, unix.ENOMEM
		}
	}
	if read {
		p.readers++
	}
	if write {
		p.writers++
	}
	p.broadcastLocked()
	return &End{p: p, read: read, write: write, cost: EndCost}, nil
}

// End is one end of a pipe: both its node (for fstat) and its operations.
// An end opened O_RDWR (a FIFO, or a pipe reopened through /proc) is both
// a reader and a writer.
type End struct {
	p           *Pipe
	read, write bool
	cost        int64 // charged for the end itself (Reopen)
	shut        bool  // released early by Shutdown
}

// Stat reports a FIFO owned by the pipe's creator.
func (e *End) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	e.p.mu.Lock()
	uid, gid := e.p.uid, e.p.gid
	e.p.mu.Unlock()
	return vfs.Stat{Dev: pipeDev, Ino: e.p.ino, Nlink: 1, Mode: unix.S_IFIFO | 0o600,
		Uid: uid, Gid: gid, Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

// SetOwner gives the pipe its owner (pipe(2): the creator's fs ids).
func (p *Pipe) SetOwner(uid, gid uint32) { p.mu.Lock(); p.uid, p.gid = uid, gid; p.mu.Unlock() }

// SetOwner sets the owner of the end's pipe (vfs.Owner).
func (e *End) SetOwner(uid, gid uint32) { e.p.SetOwner(uid, gid) }

var pipeDev = vfs.NewDev()

// IsStream makes offsets meaningless (ESPIPE).
func (e *End) IsStream() bool { return true }

// ReadAt reads from the read end, blocking.
func (e *End) ReadAt(b []byte, _ int64) (int, error) { return e.ReadCancel(b, 0, context.Background()) }

// WriteAt writes to the write end, blocking.
func (e *End) WriteAt(b []byte, _ int64) (int, error) {
	return e.WriteCancel(b, 0, context.Background())
}

// ReadCancel reads honouring O_NONBLOCK in flags; a wait ends with
// ERESTARTSYS when ctx is done.
func (e *End) ReadCancel(b []byte, flags int, ctx context.Context) (int, error) {
	if !e.read {
		return 0, unix.EBADF
	}
	return e.p.Read(b, flags&unix.O_NONBLOCK != 0, ctx)
}

// WriteCancel writes honouring O_NONBLOCK in flags; a wait ends with
// ERESTARTSYS when ctx is done.
func (e *End) WriteCancel(b []byte, flags int, ctx context.Context) (int, error) {
	if !e.write {
		return 0, unix.EBADF
	}
	return e.p.Write(b, flags&unix.O_NONBLOCK != 0, ctx)
}

// Readiness reports poll events of this end: an O_RDWR end has those of
// both (and never sees POLLHUP or POLLERR, being a reader and a writer).
func (e *End) Readiness() int16 {
	if e.read && e.write {
		return e.p.Readiness(false) | e.p.Readiness(true)
	}
	return e.p.Readiness(e.write)
}

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
		e.p.release(e.read, e.write, e.cost)
	}
	return nil
}

// Buffered returns the bytes waiting to be read at this end (FIONREAD).
func (e *End) Buffered() int { return e.p.Buffered() }

// MaxCapacity is the largest buffer F_SETPIPE_SZ may ask for, Linux's
// default /proc/sys/fs/pipe-max-size for an unprivileged caller.
const MaxCapacity = 1 << 20

// Cap returns the buffer size (F_GETPIPE_SZ).
func (p *Pipe) Cap() int { p.mu.Lock(); defer p.mu.Unlock(); return p.cap }

// SetCap sets the buffer size as F_SETPIPE_SZ: n rounded up to a power of
// two pages; more than MaxCapacity is EPERM, less than what is buffered
// now (in pages) EBUSY. Only pages that hold data are charged, so a larger
// buffer costs nothing until it is filled.
func (p *Pipe) SetCap(n uint32) (int, error) {
	if n > 1<<31 {
		return -1, unix.EINVAL
	}
	size := pageSize
	for size < int(n) {
		size <<= 1
	}
	if size > MaxCapacity {
		return -1, unix.EPERM
	}
	p.mu.Lock()
	if len(p.pages) > size/pageSize {
		p.mu.Unlock()
		return -1, unix.EBUSY
	}
	p.cap = size
	p.broadcastLocked()
	p.mu.Unlock()
	p.changed()
	return size, nil
}

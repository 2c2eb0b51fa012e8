package pipe

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// FIFO is the pipe behind a named FIFO (mkfifo): made by the first open,
// shared by every open after it, and gone with its data once the last end
// is closed, as Linux's fifo_open and pipe_release manage inode->i_pipe.
type FIFO struct {
	mu     sync.Mutex
	p      *Pipe // nil or freed: no end is open
	charge Charge
	notify func()
}

// NewFIFO returns the rendezvous of one FIFO node; its data pages are
// charged to charge (nil: uncharged), and so is each open end (EndCost).
func NewFIFO(charge Charge) *FIFO { return &FIFO{charge: charge} }

// SetNotify installs the readiness callback of the FIFO's pipes (the
// kernel's poll notifier), for this pipe and the ones opens make later.
func (f *FIFO) SetNotify(fn func()) {
	f.mu.Lock()
	f.notify = fn
	p := f.p
	f.mu.Unlock()
	if p != nil {
		p.SetNotify(fn)
	}
}

// pipeLocked returns the current pipe, making a new one when none is open;
// f.mu held.
func (f *FIFO) pipeLocked() *Pipe {
	if f.p != nil {
		f.p.mu.Lock()
		live := !f.p.freed && (f.p.readers > 0 || f.p.writers > 0)
		f.p.mu.Unlock()
		if live {
			return f.p
		}
	}
	f.p = &Pipe{cap: Capacity, ino: vfs.NewIno(), waitCh: make(chan struct{}), charge: f.charge, notify: f.notify}
	return f.p
}

// Open opens the FIFO with Linux's rules (fifo(7)): O_RDONLY waits until a
// writer has opened it, unless O_NONBLOCK; O_WRONLY waits for a reader,
// and with O_NONBLOCK fails with ENXIO when there is none; O_RDWR never
// waits. A wait that ctx ends undoes the open and returns ERESTARTSYS.
func (f *FIFO) Open(flags int, ctx context.Context) (*End, error) {
	read, write := accessEnds(flags)
	nonblock := flags&unix.O_NONBLOCK != 0
	f.mu.Lock()
	p := f.pipeLocked()
	p.mu.Lock()
	f.mu.Unlock()
	if write && !read && nonblock && p.readers == 0 {
		p.mu.Unlock()
		return nil, unix.ENXIO
	}
	e, err := p.addEndLocked(read, write)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	if read {
		p.rOpens++
	}
	if write {
		p.wOpens++
	}
	// Wait for a partner: an open of the other end since ours (it may
	// have been closed again already, as with Linux's counters).
	seen := p.rOpens
	if read {
		seen = p.wOpens
	}
	for read != write && !nonblock {
		if read && (p.writers > 0 || p.wOpens != seen) || write && (p.readers > 0 || p.rOpens != seen) {
			break
		}
		if err := p.waitLocked(ctx); err != nil {
			p.mu.Unlock()
			_ = e.Close()
			return nil, err
		}
	}
	p.mu.Unlock()
	p.changed()
	return e, nil
}

package kernel

import (
	"context"
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"
)

// signalFD is a signalfd: reading it dequeues pending signals in its mask
// (the reading thread's, then its process's) as signalfd_siginfo records.
//
// Poll readiness has no reader to ask, so it looks at the process that
// created the descriptor (its queue and its threads'): on Linux it is the
// polling thread's; the two differ only for a descriptor shared with
// another process (fork) and polled there.
type signalFD struct {
	anonInode
	k     *Kernel
	owner *Process

	mu   sync.Mutex
	mask uint64
}

// signalfd_siginfo's size, signalfd4's flags, and what a signalfd is
// charged.
const (
	SignalfdCost        = 512
	SignalfdSiginfoSize = 128
	sfdFlags            = unix.SFD_CLOEXEC | unix.SFD_NONBLOCK
)

// signalPending tells pollers that a signal was queued: a signalfd may
// have become readable. Only when signalfds exist, so that signals cost
// nothing more otherwise. Called with a queue's lock held (the notifier's
// lock is a leaf).
func (k *Kernel) signalPending() {
	if k.signalFDs.Load() > 0 {
		k.poll.notify()
	}
}

// Signalfd creates a signalfd for mask (fd -1) or changes the mask of the
// signalfd fd, and returns its descriptor. SIGKILL and SIGSTOP are never
// in a mask.
func (p *Process) Signalfd(fd int, mask uint64, flags int) (int, error) {
	if flags&^sfdFlags != 0 {
		return -1, unix.EINVAL
	}
	mask &^= unblockable
	if fd != -1 {
		f, err := p.FDs.Get(fd)
		if err != nil {
			return -1, unix.EBADF
		}
		s, ok := f.Ops().(*signalFD)
		if !ok {
			return -1, unix.EINVAL
		}
		s.mu.Lock()
		s.mask = mask
		s.mu.Unlock()
		p.k.poll.notify() // readiness follows the new mask
		return fd, nil
	}
	if err := p.k.charge(SignalfdCost); err != nil {
		return -1, err
	}
	s := &signalFD{anonInode: newAnonInode(), k: p.k, owner: p, mask: mask}
	p.k.signalFDs.Add(1)
	return p.installAnon("anon_inode:[signalfd]", s, flags, flags&unix.SFD_CLOEXEC != 0)
}

func (s *signalFD) sigmask() uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.mask }

// Close gives back the descriptor's charge.
func (s *signalFD) Close() error {
	s.k.signalFDs.Add(-1)
	s.k.uncharge(SignalfdCost)
	return nil
}

// Readiness: readable when a signal in the mask is pending for the owner
// process or one of its threads.
func (s *signalFD) Readiness() int16 {
	mask := s.sigmask()
	p := s.owner
	p.mu.Lock()
	m := p.pending.set()
	p.mu.Unlock()
	for _, t := range p.Tasks() {
		t.mu.Lock()
		m |= t.pending.set()
		t.mu.Unlock()
	}
	if m&mask != 0 {
		return unix.POLLIN
	}
	return 0
}

// readSignalfd is read(2) of a signalfd by t: as many records as fit in
// b, the first one waited for unless nonblocking.
func (t *Task) readSignalfd(s *signalFD, b []byte, flags int) (int, error) {
	n := len(b) / SignalfdSiginfoSize
	if n == 0 {
		return 0, unix.EINVAL
	}
	mask := s.sigmask()
	got := 0
	for got < n {
		info, ok := t.TakeSignal(mask)
		if !ok {
			if got > 0 || flags&unix.O_NONBLOCK != 0 {
				break
			}
			if err := t.waitSignalfd(s.k, mask); err != nil {
				return 0, err
			}
			continue
		}
		rec := SignalfdSiginfo(info)
		copy(b[got*SignalfdSiginfoSize:], rec[:])
		got++
	}
	if got == 0 {
		return 0, unix.EAGAIN
	}
	return got * SignalfdSiginfoSize, nil
}

// waitSignalfd waits until a signal in mask may be pending, or another
// signal is to be delivered (ERESTARTSYS).
func (t *Task) waitSignalfd(k *Kernel, mask uint64) error {
	changed := k.poll.wait()
	if _, ok := t.PeekSignal(mask); ok {
		return nil
	}
	var ctx context.Context = t.Interruptible()
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		if _, ok := t.PeekSignal(mask); ok {
			return nil
		}
		return ERESTARTSYS
	}
}

// SignalfdSiginfo is info as a struct signalfd_siginfo, filled as Linux's
// signalfd_copyinfo does for each siginfo layout.
func SignalfdSiginfo(info SigInfo) [SignalfdSiginfoSize]byte {
	var b [SignalfdSiginfoSize]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	specific := info.Code > 0 && info.Code < SIKernel // a code of the signal's own (CLD_*, faults)
	switch {
	case info.Code == SITimer:
		le.PutUint32(b[24:], uint32(info.TimerID))
		le.PutUint32(b[32:], uint32(info.Overrun))
		le.PutUint32(b[44:], uint32(info.Value))
		le.PutUint64(b[48:], info.Value)
	case info.Code < 0:
		le.PutUint32(b[12:], uint32(info.Pid))
		le.PutUint32(b[16:], info.Uid)
		le.PutUint32(b[44:], uint32(info.Value))
		le.PutUint64(b[48:], info.Value)
	case specific && info.Signo == unix.SIGCHLD:
		le.PutUint32(b[12:], uint32(info.Pid))
		le.PutUint32(b[16:], info.Uid)
		le.PutUint32(b[40:], uint32(info.Status))
	case specific && (info.Signo == unix.SIGSEGV || info.Signo == unix.SIGBUS || info.Signo == unix.SIGFPE ||
		info.Signo == unix.SIGILL || info.Signo == unix.SIGTRAP):
		le.PutUint64(b[72:], info.Addr)
	default:
		le.PutUint32(b[12:], uint32(info.Pid))
		le.PutUint32(b[16:], info.Uid)
	}
	return b
}

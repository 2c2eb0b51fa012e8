package tty

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Host is what a terminal needs from the kernel.
type Host interface {
	// Charge takes n bytes of the sandbox's memory; n < 0 gives them back.
	Charge(n int64) error
	// Notify tells pollers that some file's readiness may have changed.
	Notify()
	// SignalGroup sends sig to every process of group pgid.
	SignalGroup(pgid int, sig unix.Signal)
	// SignalProcess sends sig to process pid.
	SignalProcess(pid int, sig unix.Signal)
}

// Cost is what one pty is charged, from its allocation until the master
// and every slave are closed: both queues at their full size and the pair
// itself, so that a guest's terminals are bounded by its memory limit.
const Cost = inCap*2 + outCap + 2048

// restartSys is the kernel's ERESTARTSYS.
const restartSys = unix.Errno(512)

// Pty is one pseudo-terminal pair: the slave's line discipline and
// settings, both queues and the terminal's session and foreground group.
type Pty struct {
	host  Host
	fs    *FS
	index int

	mu     sync.Mutex
	waitCh chan struct{} // closed and replaced on every change
	tio    Termios
	ws     Winsize
	// in is the slave's input queue (see ldisc.go); its first canon
	// entries are readable (complete lines in canonical mode).
	in           []uint16
	canon        int
	lnext        bool
	out          []byte // what the master reads
	col          int    // the output column, for erasing tabs
	lineStartCol int    // the column the line being edited started at
	stopped      bool   // output stopped (VSTOP, TCOOFF)
	locked       bool   // TIOCSPTLCK: the slave cannot be opened
	masterOpen   bool
	slaves       int  // open slave files
	otherClosed  bool // every slave was closed after one was opened
	freed        bool
	// The terminal's session (0: none, not a controlling terminal) and
	// foreground process group.
	session, pgrp int
	sigs          []signal // to send once p.mu is released
}

type signal struct {
	pgid, pid int
	sig       unix.Signal
}

// newPty makes a pty whose master is open and whose slave is locked.
func newPty(host Host, fs *FS, index int) *Pty {
	return &Pty{host: host, fs: fs, index: index, tio: defaultSlave(), locked: true,
		masterOpen: true, waitCh: make(chan struct{})}
}

// Index is the pty's number (/dev/pts/N, TIOCGPTN).
func (p *Pty) Index() int { return p.index }

// unlock releases p.mu after a change: waiters and pollers are woken and
// the signals the change raised are sent.
func (p *Pty) unlock() {
	close(p.waitCh)
	p.waitCh = make(chan struct{})
	sigs := p.sigs
	p.sigs = nil
	p.mu.Unlock()
	for _, s := range sigs {
		if s.pid != 0 {
			p.host.SignalProcess(s.pid, s.sig)
		} else {
			p.host.SignalGroup(s.pgid, s.sig)
		}
	}
	p.host.Notify()
}

// waitLocked releases p.mu until the pty changes, ctx is done
// (ERESTARTSYS) or, when timeout > 0, it passes (errTimeout).
func (p *Pty) waitLocked(ctx context.Context, timeout time.Duration) error {
	ch := p.waitCh
	p.mu.Unlock()
	defer p.mu.Lock()
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
		return nil
	case <-timer:
		return errTimeout
	case <-ctx.Done():
		return restartSys
	}
}

// errTimeout ends a VTIME wait.
var errTimeout = unix.ETIME

// Session returns the terminal's session (0: none).
func (p *Pty) Session() int { p.mu.Lock(); defer p.mu.Unlock(); return p.session }

// Pgrp returns the terminal's foreground process group (0: none).
func (p *Pty) Pgrp() int { p.mu.Lock(); defer p.mu.Unlock(); return p.pgrp }

// HungUp reports whether the master is closed.
func (p *Pty) HungUp() bool { p.mu.Lock(); defer p.mu.Unlock(); return !p.masterOpen }

// Attach makes the terminal the controlling terminal of session sid with
// foreground group pgrp, if it has no session yet (or steal is set); it
// reports whether it did.
func (p *Pty) Attach(sid, pgrp int, steal bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.masterOpen || p.session != 0 && !steal {
		return false
	}
	p.session, p.pgrp = sid, pgrp
	return true
}

// Detach ends the terminal's association with session sid: with hup the
// foreground group gets SIGHUP (and SIGCONT with cont), as Linux's
// disassociate_ctty.
func (p *Pty) Detach(sid int, hup, cont bool) {
	p.mu.Lock()
	if p.session != sid {
		p.mu.Unlock()
		return
	}
	if hup && p.pgrp != 0 {
		p.sigs = append(p.sigs, signal{pgid: p.pgrp, sig: unix.SIGHUP})
		if cont {
			p.sigs = append(p.sigs, signal{pgid: p.pgrp, sig: unix.SIGCONT})
		}
	}
	p.session, p.pgrp = 0, 0
	p.unlock()
}

// SetPgrp sets the foreground process group (TIOCSPGRP; the kernel has
// checked it).
func (p *Pty) SetPgrp(pgrp int) { p.mu.Lock(); p.pgrp = pgrp; p.unlock() }

// Termios returns the slave's settings.
func (p *Pty) Termios() Termios { p.mu.Lock(); defer p.mu.Unlock(); return p.tio }

// SetTermios sets them (TCSETS); flush discards pending input first
// (TCSETSF).
func (p *Pty) SetTermios(t Termios, flush bool) {
	p.mu.Lock()
	if flush {
		p.in, p.canon, p.lnext = p.in[:0], 0, false
	}
	p.setTermios(t)
	p.unlock()
}

// Winsize returns the window size.
func (p *Pty) Winsize() Winsize { p.mu.Lock(); defer p.mu.Unlock(); return p.ws }

// SetWinsize sets it; a change sends SIGWINCH to the foreground group.
func (p *Pty) SetWinsize(ws Winsize) {
	p.mu.Lock()
	if ws != p.ws && p.pgrp != 0 {
		p.sigs = append(p.sigs, signal{pgid: p.pgrp, sig: unix.SIGWINCH})
	}
	p.ws = ws
	p.unlock()
}

// Flush discards queued data (TCFLSH): TCIFLUSH and TCIOFLUSH empty the
// queue the caller's end reads. Flushing output does nothing, as on Linux,
// whose pty driver keeps what was written in the other end's queue.
func (p *Pty) Flush(master bool, how int) error {
	if how < unix.TCIFLUSH || how > unix.TCIOFLUSH {
		return unix.EINVAL
	}
	if how == unix.TCOFLUSH {
		return nil
	}
	p.mu.Lock()
	if master {
		p.out = p.out[:0]
	} else {
		p.in, p.canon, p.lnext = p.in[:0], 0, false
	}
	p.unlock()
	return nil
}

// Flow is TCXONC: stop or restart output, or send the STOP or START
// character to the other end.
func (p *Pty) Flow(master bool, action int) error {
	p.mu.Lock()
	defer p.unlock()
	switch action {
	case unix.TCOOFF:
		p.stopped = true
	case unix.TCOON:
		p.stopped = false
	case unix.TCIOFF, unix.TCION:
		c := p.tio.CC[VSTOP]
		if action == unix.TCION {
			c = p.tio.CC[VSTART]
		}
		if c == disabled {
			return nil
		}
		if master {
			p.receive(c)
		} else {
			p.opost(c)
		}
	default:
		return unix.EINVAL
	}
	return nil
}

// Queued is FIONREAD for an end: what it can read now.
func (p *Pty) Queued(master bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if master {
		return len(p.out)
	}
	return p.inqueue()
}

// Locked reports TIOCGPTLCK.
func (p *Pty) Locked() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.locked }

// SetLocked is TIOCSPTLCK.
func (p *Pty) SetLocked(l bool) { p.mu.Lock(); p.locked = l; p.unlock() }

// openSlave counts a new open of the slave: EIO while locked or after the
// master closed.
func (p *Pty) openSlave() (*Slave, error) {
	p.mu.Lock()
	if p.locked || !p.masterOpen {
		p.mu.Unlock()
		return nil, unix.EIO
	}
	p.slaves++
	p.otherClosed = false
	p.unlock()
	return &Slave{p: p}, nil
}

// release drops an end; the pty is freed once neither is open.
func (p *Pty) release(master bool) {
	p.mu.Lock()
	if master {
		p.masterOpen = false
		// A hangup: the session's leader is told, the terminal leaves
		// its session and slave reads see end of file.
		if p.session != 0 {
			p.sigs = append(p.sigs, signal{pid: p.session, sig: unix.SIGHUP},
				signal{pid: p.session, sig: unix.SIGCONT})
		}
		p.session, p.pgrp = 0, 0
		p.in, p.canon = nil, 0
	} else {
		p.slaves--
		if p.slaves == 0 {
			p.otherClosed = true
		}
	}
	free := !p.masterOpen && p.slaves == 0 && !p.freed
	if free {
		p.freed = true
		p.in, p.out = nil, nil
	}
	p.unlock()
	if master {
		p.fs.remove(p.index) // /dev/pts/N goes with the master, as Linux
	}
	if free {
		_ = p.host.Charge(-Cost)
	}
}

// readMaster reads the slave's output.
func (p *Pty) readMaster(b []byte, nonblock bool, ctx context.Context) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	for len(p.out) == 0 {
		switch {
		case p.otherClosed:
			p.mu.Unlock()
			return 0, unix.EIO
		case nonblock:
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := p.waitLocked(ctx, 0); err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	n := copy(b, p.out)
	rest := copy(p.out, p.out[n:])
	p.out = p.out[:rest]
	p.unlock()
	return n, nil
}

// writeMaster feeds input to the line discipline.
func (p *Pty) writeMaster(b []byte, nonblock bool, ctx context.Context) (int, error) {
	return p.write(b, nonblock, ctx, p.receive)
}

// write offers b to put one byte at a time, with p.mu held. While put has
// no room and nothing is written yet it waits (EAGAIN if nonblock). Once
// the master is closed it fails with EIO: a hung-up slave's writer, or
// the kernel's own copier writing to the master it closed.
func (p *Pty) write(b []byte, nonblock bool, ctx context.Context, put func(byte) bool) (int, error) {
	p.mu.Lock()
	done := 0
	for {
		if !p.masterOpen {
			p.mu.Unlock()
			if done > 0 {
				return done, nil
			}
			return 0, unix.EIO
		}
		for done < len(b) && put(b[done]) {
			done++
		}
		if done > 0 || len(b) == 0 {
			break
		}
		if nonblock {
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := p.waitLocked(ctx, 0); err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	p.unlock()
	return done, nil
}

// readSlave reads input: a line in canonical mode, else as VMIN and VTIME
// say. After a hangup it reads end of file.
func (p *Pty) readSlave(b []byte, nonblock bool, ctx context.Context) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	if p.canonical() {
		for {
			if !p.masterOpen {
				p.mu.Unlock()
				return 0, nil
			}
			if n, ok := p.readCanon(b); ok {
				p.unlock()
				return n, nil
			}
			if nonblock {
				p.mu.Unlock()
				return 0, unix.EAGAIN
			}
			if err := p.waitLocked(ctx, 0); err != nil {
				p.mu.Unlock()
				return 0, err
			}
		}
	}
	vmin, vtime := int(p.tio.CC[VMIN]), time.Duration(p.tio.CC[VTIME])*100*time.Millisecond
	want := min(max(vmin, 1), len(b))
	n := 0
	for {
		if !p.masterOpen {
			break
		}
		n += p.readRaw(b[n:])
		if n >= want || vmin == 0 && vtime == 0 || n == len(b) {
			break
		}
		if nonblock {
			if n == 0 {
				p.mu.Unlock()
				return 0, unix.EAGAIN
			}
			break
		}
		// VTIME is a timeout for the whole read with VMIN 0, and
		// between bytes (once one came) otherwise.
		timeout := vtime
		if vmin > 0 && n == 0 {
			timeout = 0
		}
		err := p.waitLocked(ctx, timeout)
		if err == errTimeout {
			n += p.readRaw(b[n:])
			break
		}
		if err != nil {
			if n > 0 {
				break
			}
			p.mu.Unlock()
			return 0, err
		}
	}
	p.unlock()
	return n, nil
}

// writeSlave writes output through OPOST processing: EIO after a hangup;
// it waits while output is stopped or the master's queue is full.
func (p *Pty) writeSlave(b []byte, nonblock bool, ctx context.Context) (int, error) {
	return p.write(b, nonblock, ctx, func(c byte) bool { return !p.stopped && p.opost(c) })
}

// readiness reports poll events for an end.
func (p *Pty) readiness(master bool) int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ev int16
	if master {
		if len(p.out) > 0 {
			ev |= unix.POLLIN
		}
		if len(p.in) < inCap-1 {
			ev |= unix.POLLOUT
		}
		if p.otherClosed {
			ev |= unix.POLLHUP
		}
		return ev
	}
	if !p.masterOpen {
		return unix.POLLIN | unix.POLLOUT | unix.POLLERR | unix.POLLHUP
	}
	if p.canonical() && p.canon > 0 || !p.canonical() && len(p.in) >= p.minReady() {
		ev |= unix.POLLIN
	}
	if !p.stopped && len(p.out) < outCap {
		ev |= unix.POLLOUT
	}
	return ev
}

// minReady is how many bytes make a non-canonical slave readable for
// poll: VMIN without VTIME, else one (N_TTY's input_available_p).
func (p *Pty) minReady() int {
	if p.tio.CC[VTIME] == 0 && p.tio.CC[VMIN] > 0 {
		return int(p.tio.CC[VMIN])
	}
	return 1
}

package kernel

import (
	"context"
	"encoding/binary"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/tty"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Terminals: the kernel's side of kernel/tty. The pty package keeps a
// terminal's session and foreground group as numbers; this file has
// Linux's rules for them: which session a terminal controls, who may
// change its foreground group, and job control (SIGTTIN, SIGTTOU).
//
// A process's controlling terminal is p.ctty, inherited at fork and
// cleared by setsid. It is the controlling terminal only while the
// terminal's session is the process's (a terminal that left its session,
// by TIOCNOTTY, hangup or the leader's exit, is no one's any more).

// ttyHost is what the terminals of a kernel use of it.
type ttyHost struct{ k *Kernel }

func (h ttyHost) Charge(n int64) error { return h.k.chargeSigned(n) }
func (h ttyHost) Notify()              { h.k.poll.notify() }
func (h ttyHost) SignalGroup(pgid int, sig unix.Signal) {
	_ = h.k.KillGroup(pgid, SigInfo{Signo: sig, Code: SIKernel}, SigFromKernel)
}
func (h ttyHost) SignalProcess(pid int, sig unix.Signal) {
	if p, ok := h.k.Process(pid); ok {
		_ = p.SendSignal(SigInfo{Signo: sig, Code: SIKernel})
	}
}

// Devpts returns the sandbox's pty file system (/dev/pts), which also
// provides /dev/ptmx and /dev/tty; it is made on first use.
func (k *Kernel) Devpts() *tty.FS {
	k.ptsOnce.Do(func() { k.pts = tty.New(ttyHost{k}, controllingTTY, tty.DefaultMax) })
	return k.pts
}

// controllingTTY is /dev/tty's open: the caller's controlling terminal.
func controllingTTY(ctx context.Context) (*tty.Pty, error) {
	p, ok := CallerProcess(ctx)
	if !ok {
		return nil, unix.ENXIO
	}
	if c := p.controlling(); c != nil {
		return c, nil
	}
	return nil, unix.ENXIO
}

// controlling returns the process's controlling terminal, or nil.
func (p *Process) controlling() *tty.Pty {
	p.mu.Lock()
	c, sid := p.ctty, p.sid
	p.mu.Unlock()
	if c == nil || c.Session() != sid {
		return nil
	}
	return c
}

// terminalOf returns the pty of an open terminal file and whether it is
// the master.
func terminalOf(f *vfs.File) (*tty.Pty, bool, bool) {
	switch o := f.Ops().(type) {
	case *tty.Master:
		return o.Pty(), true, true
	case *tty.Slave:
		return o.Pty(), false, true
	}
	return nil, false, false
}

// openedTerminal gives a session leader without a controlling terminal
// the terminal it just opened (without O_NOCTTY), if that terminal has no
// session, as Linux's tty_open. A master never becomes one.
func (p *Process) openedTerminal(f *vfs.File, flags int) {
	s, ok := f.Ops().(*tty.Slave)
	if !ok || flags&unix.O_NOCTTY != 0 {
		return
	}
	p.acquireTerminal(s.Pty())
}

// acquireTerminal makes c the controlling terminal of p's session when p
// leads it and has none, and c is free; it reports whether c is now p's.
func (p *Process) acquireTerminal(c *tty.Pty) bool {
	p.mu.Lock()
	sid, pgid, leader := p.sid, p.pgid, p.sid == p.PID
	p.mu.Unlock()
	if !leader || p.controlling() != nil || !c.Attach(sid, pgid, false) {
		return false
	}
	p.mu.Lock()
	p.ctty = c
	p.mu.Unlock()
	return true
}

// SetControllingTerminal makes the slave open as f the controlling
// terminal of p, which must lead its session and have none (a command's
// first process given a terminal by the sandbox).
func (p *Process) SetControllingTerminal(f *vfs.File) error {
	s, ok := f.Ops().(*tty.Slave)
	if !ok {
		return unix.ENOTTY
	}
	if !p.acquireTerminal(s.Pty()) {
		return unix.EPERM
	}
	return nil
}

// exitTerminal is a session leader's exit: its terminal leaves the
// session and the foreground group gets SIGHUP (Linux's
// disassociate_ctty(1) for a pty).
func (p *Process) exitTerminal() {
	if p.Sid() != p.PID {
		return
	}
	if c := p.controlling(); c != nil {
		c.Detach(p.PID, true, false)
	}
}

// jobControl is Linux's __tty_check_change: a process of a background
// group using its controlling terminal c gets sig (SIGTTIN for reads,
// SIGTTOU for writes and changes) sent to its group and the call restarts
// once it is continued; EIO instead when the group is orphaned, or for
// SIGTTIN when the signal is ignored or blocked (an ignored or blocked
// SIGTTOU lets the call go ahead).
func (t *Task) jobControl(c *tty.Pty, sig unix.Signal) error {
	p := t.Proc
	if p.controlling() != c {
		return nil
	}
	pgrp := c.Pgrp()
	pgid := p.Pgid()
	if pgrp == 0 || pgid == pgrp {
		return nil
	}
	if t.Mask()&sigBit(sig) != 0 || p.sighand.get(sig).Handler == SigIgn {
		if sig == unix.SIGTTIN {
			return unix.EIO
		}
		return nil
	}
	if p.k.groupOrphaned(pgid) {
		return unix.EIO
	}
	_ = p.k.KillGroup(pgid, SigInfo{Signo: sig, Code: SIKernel}, SigFromKernel)
	return ERESTARTSYS
}

// groupOrphaned reports whether process group pgid is orphaned: no member
// has a parent in another group of the same session (POSIX; Linux's
// will_become_orphaned_pgrp). The kernel's init, every job leader's
// parent, is outside every session.
func (k *Kernel) groupOrphaned(pgid int) bool {
	for _, q := range k.liveProcs() {
		if q.Pgid() != pgid || q.Exiting() {
			continue
		}
		if pp := q.Parent(); pp != nil && pp.Pgid() != pgid && pp.Sid() == q.Sid() {
			return false
		}
	}
	return true
}

// terminalIO applies job control to a read (write false) or write of f
// when f is a pty's slave: background reads get SIGTTIN, background writes
// SIGTTOU with TOSTOP.
func (t *Task) terminalIO(f *vfs.File, write bool) error {
	s, ok := f.Ops().(*tty.Slave)
	if !ok {
		return nil
	}
	c := s.Pty()
	if !write {
		return t.jobControl(c, unix.SIGTTIN)
	}
	if c.Termios().Lflag&tty.TOSTOP == 0 {
		return nil
	}
	return t.jobControl(c, unix.SIGTTOU)
}

// Ioctl serves ioctl(2): terminal requests on ptys (with the caller's
// session and job control), and the other files' through Process.Ioctl.
// arg is the raw argument, buf what the shim copied in or copies out.
func (t *Task) Ioctl(fd int, req uint, arg uint64, buf []byte) (int, error) {
	p := t.Proc
	f, err := p.FDs.Get(fd)
	if err != nil {
		return -1, err
	}
	c, master, ok := terminalOf(f)
	if !ok || req == fioclex || req == fionclex {
		return p.Ioctl(fd, req, buf)
	}
	if !master && c.HungUp() {
		// A hung-up terminal answers nothing (hung_up_tty_ioctl).
		if req == unix.TIOCSPGRP {
			return -1, unix.ENOTTY
		}
		return -1, unix.EIO
	}
	le := binary.LittleEndian
	mine := p.controlling() == c
	switch req {
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF, unix.TCFLSH, unix.TCXONC, unix.TCSBRK, unix.TCSBRKP:
		if !master {
			if err := t.jobControl(c, unix.SIGTTOU); err != nil {
				return -1, err
			}
		}
	case unix.TIOCSCTTY:
		return 0, t.setControlling(c, f)
	case unix.TIOCNOTTY:
		if master || !mine {
			return -1, unix.ENOTTY
		}
		p.mu.Lock()
		leader := p.sid == p.PID
		p.ctty = nil
		p.mu.Unlock()
		if leader {
			c.Detach(p.PID, true, true)
		}
		return 0, nil
	case unix.TIOCGPGRP:
		if !master && !mine {
			return -1, unix.ENOTTY
		}
		le.PutUint32(buf, uint32(c.Pgrp()))
		return 0, nil
	case unix.TIOCGSID:
		if !master && !mine || c.Session() == 0 {
			return -1, unix.ENOTTY
		}
		le.PutUint32(buf, uint32(c.Session()))
		return 0, nil
	case unix.TIOCSPGRP:
		return 0, t.setForeground(c, int(int32(le.Uint32(buf))))
	case unix.TIOCGPTPEER:
		if !master {
			return -1, unix.ENOTTY
		}
		return t.openPeer(c, int(int32(arg)))
	case unix.TIOCPKT:
		if master {
			p.k.Unsupported("ioctl(TIOCPKT)", unix.SYS_IOCTL, p.PID)
			return -1, unix.EINVAL
		}
		return -1, unix.ENOTTY
	}
	return c.Ioctl(master, req, arg, buf)
}

// setControlling is TIOCSCTTY: a session leader without a controlling
// terminal takes c if c has no session and f is open for reading
// (stealing one needs CAP_SYS_ADMIN, which the guest never has).
func (t *Task) setControlling(c *tty.Pty, f *vfs.File) error {
	p := t.Proc
	p.mu.Lock()
	sid, leader := p.sid, p.sid == p.PID
	p.mu.Unlock()
	if leader && c.Session() == sid {
		return nil
	}
	if !leader || p.controlling() != nil || c.Session() != 0 {
		return unix.EPERM
	}
	if f.Flags()&unix.O_ACCMODE == unix.O_WRONLY {
		return unix.EPERM
	}
	if !p.acquireTerminal(c) {
		return unix.EPERM
	}
	return nil
}

// setForeground is TIOCSPGRP: the caller's own controlling terminal gets a
// foreground group of the caller's session.
func (t *Task) setForeground(c *tty.Pty, pgrp int) error {
	p := t.Proc
	switch err := t.jobControl(c, unix.SIGTTOU); err {
	case nil:
	case unix.EIO:
		return unix.ENOTTY
	default:
		return err
	}
	sid := p.Sid()
	if p.controlling() != c || c.Session() != sid {
		return unix.ENOTTY
	}
	switch {
	case pgrp < 0:
		return unix.EINVAL
	case !p.k.groupExists(pgrp):
		return unix.ESRCH
	case !p.k.groupInSession(pgrp, sid):
		return unix.EPERM
	}
	c.SetPgrp(pgrp)
	return nil
}

// openPeer is TIOCGPTPEER: a new descriptor for the slave of master c,
// opened as /dev/pts/N in the caller's view (so that ttyname finds it).
func (t *Task) openPeer(c *tty.Pty, flags int) (int, error) {
	if flags&^(unix.O_ACCMODE|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC) != 0 {
		return -1, unix.EINVAL
	}
	p := t.Proc
	fd, err := p.openat(unix.AT_FDCWD, "/dev/pts/"+strconv.Itoa(c.Index()), flags, 0, t)
	if err != nil {
		return -1, err
	}
	if f, err := p.FDs.Get(fd); err != nil || f.Ops() == nil {
		_ = p.Close(fd)
		return -1, unix.EIO
	} else if s, ok := f.Ops().(*tty.Slave); !ok || s.Pty() != c {
		_ = p.Close(fd)
		return -1, unix.EIO
	}
	return fd, nil
}

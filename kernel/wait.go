package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// WaitResult is what wait4/waitid report about a child.
type WaitResult struct {
	PID    int
	Status int // wait status (WIFEXITED etc. encoding)
	// For waitid: the siginfo code and status, and the child's real uid.
	UID       uint32
	Code      int32
	SigStatus int32
	// Usage is an exited child's, with its reaped descendants' (wait4).
	Usage Rusage
}

// WaitOptions are wait4/waitid's options.
type WaitOptions struct {
	Exited    bool // WEXITED (wait4: always)
	Stopped   bool // WUNTRACED / WSTOPPED
	Continued bool // WCONTINUED
	NoHang    bool // WNOHANG
	NoWait    bool // WNOWAIT: leave the child waitable
}

// Wait waits for a child matching sel (pid > 0: that child; -1: any; 0:
// same group; < -1: group -sel) to change state. It returns ECHILD if no
// child can ever match, a zero result for WNOHANG, or ERESTARTSYS when a
// signal interrupts the wait.
func (t *Task) Wait(sel int, o WaitOptions) (WaitResult, error) {
	p := t.Proc
	for {
		changed := p.stateChanged.wait()
		res, found, err := p.findWaitable(sel, o)
		if err != nil || found {
			return res, err
		}
		if o.NoHang {
			return WaitResult{}, nil
		}
		select {
		case <-changed:
		case <-t.Interruptible().Done():
			return WaitResult{}, ERESTARTSYS
		}
	}
}

func (p *Process) findWaitable(sel int, o WaitOptions) (WaitResult, bool, error) {
	p.mu.Lock()
	pgid := p.pgid
	var candidates []*Process
	for _, c := range p.children {
		candidates = append(candidates, c)
	}
	p.mu.Unlock()
	any := false
	for _, c := range candidates {
		c.mu.Lock()
		match := sel == -1 || (sel > 0 && c.PID == sel) || (sel == 0 && c.pgid == pgid) || (sel < -1 && c.pgid == -sel)
		if !match || c.reaped {
			c.mu.Unlock()
			continue
		}
		any = true
		switch {
		case c.zombie && o.Exited:
			res := WaitResult{PID: c.PID, UID: c.Creds().UID, Status: c.status, Usage: c.totalUsageLocked()}
			res.Code, res.SigStatus = waitidCode(c.status)
			if o.NoWait {
				c.mu.Unlock()
				return res, true, nil
			}
			c.reaped = true
			c.mu.Unlock()
			p.reap(c)
			return res, true, nil
		case c.stopped && c.stopReport && o.Stopped:
			res := WaitResult{PID: c.PID, UID: c.Creds().UID, Status: int(c.stopSig)<<8 | 0x7f, Code: CLDStopped, SigStatus: int32(c.stopSig)}
			if !o.NoWait {
				c.stopReport = false
			}
			c.mu.Unlock()
			return res, true, nil
		case c.contReport && o.Continued:
			res := WaitResult{PID: c.PID, UID: c.Creds().UID, Status: 0xffff, Code: CLDContinued, SigStatus: int32(unix.SIGCONT)}
			if !o.NoWait {
				c.contReport = false
			}
			c.mu.Unlock()
			return res, true, nil
		}
		c.mu.Unlock()
	}
	if !any {
		return WaitResult{}, false, unix.ECHILD
	}
	return WaitResult{}, false, nil
}

func waitidCode(status int) (int32, int32) {
	switch {
	case status&0x7f == 0:
		return CLDExited, int32(status >> 8 & 0xff)
	case status&0x80 != 0:
		return CLDDumped, int32(status & 0x7f)
	}
	return CLDKilled, int32(status & 0x7f)
}

// reap removes a zombie child for good.
func (p *Process) reap(c *Process) {
	c.mu.Lock()
	u := c.totalUsageLocked()
	c.mu.Unlock()
	p.addChildUsage(u)
	p.mu.Lock()
	delete(p.children, c.PID)
	p.mu.Unlock()
	p.k.dropProcess(c.PID)
	p.k.freePID(c.PID)
}

// Setpgid moves process pid (0: the caller) into group pgid (0: its own).
// No two process locks are held at once: the checks read each process
// under its own lock.
func (t *Task) Setpgid(pid, pgid int) error {
	if pgid < 0 {
		return unix.EINVAL
	}
	p := t.Proc
	target := p
	if pid != 0 && pid != p.PID {
		c, ok := p.k.Process(pid)
		if !ok || c.Parent() != p {
			return unix.ESRCH
		}
		target = c
	}
	if pgid == 0 {
		pgid = target.PID
	}
	callerSid := p.Sid()
	targetSid := target.Sid()
	switch {
	case targetSid == target.PID:
		return unix.EPERM // a session leader cannot move
	case targetSid != callerSid:
		return unix.EPERM
	case pgid != target.PID && !p.k.groupInSession(pgid, targetSid):
		return unix.EPERM
	}
	target.mu.Lock()
	target.pgid = pgid
	target.mu.Unlock()
	return nil
}

// Setsid makes the caller a session and group leader.
func (t *Task) Setsid() (int, error) {
	p := t.Proc
	if p.k.groupExists(p.PID) && p.Pgid() != p.PID {
		return -1, unix.EPERM
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pgid == p.PID {
		return -1, unix.EPERM
	}
	p.sid, p.pgid, p.ctty = p.PID, p.PID, nil
	return p.PID, nil
}

// itimer is a process's ITIMER_REAL (alarm, setitimer). As on Linux
// (kernel/time/itimer.c, posixtimer_rearm_itimer), a periodic timer is
// re-armed when its SIGALRM is taken from the process's queue, not when it
// fires: it fires once and waits for the guest to take the signal (deliver
// it, find it ignored at delivery, or sigtimedwait for it). However small
// the interval, a timer costs one expiry per signal the guest takes, and
// nothing while the signal stays pending (blocked) or was dropped at
// sending (ignored). The next expiry stays on the timer's original grid,
// skipping the periods missed meanwhile (hrtimer_forward).
type itimer struct {
	timer    *time.Timer
	deadline time.Time // the expiry pending, or the one that last fired
	interval time.Duration
	queued   bool   // an expiry is pending (Linux: hrtimer_is_queued)
	gen      uint64 // which arming a firing belongs to
}

// SetAlarm arms ITIMER_REAL to fire after value and then every interval
// (0: once); a zero value disarms it. It returns the previous remaining
// time and interval.
func (p *Process) SetAlarm(value, interval time.Duration) (time.Duration, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	oldLeft, oldInterval := p.alarmLocked()
	if it := p.itimer; it != nil && it.timer != nil {
		it.timer.Stop()
	}
	p.itimer = nil
	if value > 0 {
		it := &itimer{interval: interval}
		p.itimer = it
		p.armLocked(it, time.Now().Add(value))
	}
	return oldLeft, oldInterval
}

// armLocked schedules it's next expiry at at; p.mu held.
func (p *Process) armLocked(it *itimer, at time.Time) {
	it.gen++
	gen := it.gen
	it.deadline, it.queued = at, true
	it.timer = time.AfterFunc(time.Until(at), func() {
		defer p.k.Recover() // a timer goroutine serves the sandbox too
		p.mu.Lock()
		fired := p.itimer == it && it.gen == gen && it.queued
		if fired {
			it.queued = false
		}
		p.mu.Unlock()
		if fired {
			_ = p.SendSignal(SigInfo{Signo: unix.SIGALRM, Code: SIKernel})
		}
	})
}

// rearmAlarm restarts a periodic ITIMER_REAL that fired and waits: called
// when a SIGALRM is taken from the process's queue.
func (p *Process) rearmAlarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.itimer
	if it == nil || it.queued || it.interval <= 0 || p.exiting {
		return
	}
	p.armLocked(it, forwardExpiry(it.deadline, time.Now(), it.interval))
}

// forwardExpiry is hrtimer_forward: the first expiry of the grid
// expires + k*interval (k >= 1) that is after now, or expires itself if it
// is still ahead.
func forwardExpiry(expires, now time.Time, interval time.Duration) time.Time {
	delta := now.Sub(expires)
	if delta < 0 {
		return expires
	}
	interval = max(interval, time.Nanosecond)
	return expires.Add((delta/interval + 1) * interval)
}

// Alarm returns ITIMER_REAL's remaining time and interval.
func (p *Process) Alarm() (time.Duration, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alarmLocked()
}

// alarmLocked is Alarm with p.mu held: a timer that fired and waits for its
// signal to be taken reports no time left (Linux: the hrtimer is inactive),
// an armed one at least a microsecond.
func (p *Process) alarmLocked() (time.Duration, time.Duration) {
	it := p.itimer
	switch {
	case it == nil:
		return 0, 0
	case !it.queued:
		return 0, it.interval
	}
	return max(time.Until(it.deadline), time.Microsecond), it.interval
}

func (p *Process) stopTimer() { p.SetAlarm(0, 0) }

package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// CPU interval timers: ITIMER_VIRTUAL and ITIMER_PROF, counting the
// process's CPU time (one clock here: all guest CPU is user time, see
// Rusage). Linux checks them on its scheduler tick; litebox samples: while
// one is armed, a goroutine interrupts a thread of the process at most every
// cpuTimerTick (sooner when less CPU is left), and the interrupted thread
// compares the process's CPU time with the expiries. So a timer fires up to
// one tick late, and a process whose threads all block costs no sampling
// beyond the ticks themselves. As on Linux, a periodic timer is re-armed by
// one interval at each check that finds it expired, and the signal
// (SIGVTALRM, SIGPROF) goes to the process.

// cpuTimerTick is the sampling period of the CPU timers (Linux's tick at
// HZ=100..250 is 4-10 ms).
const cpuTimerTick = 10 * time.Millisecond

// The CPU timers, by ITIMER_VIRTUAL - 1 and ITIMER_PROF - 1.
const numCPUTimers = 2

type cpuItimer struct {
	expires  time.Duration // process CPU time of the next expiry; 0: disarmed
	interval time.Duration
}

// cpuTimers is a process's ITIMER_VIRTUAL and ITIMER_PROF; guarded by
// Process.mu.
type cpuTimers struct {
	t        [numCPUTimers]cpuItimer
	sampling bool          // the sampler goroutine runs
	seen     time.Duration // the process's CPU time at the last check
}

func (c *cpuTimers) armed() bool { return c.t[0].expires != 0 || c.t[1].expires != 0 }

func cpuTimerIndex(which int) (int, error) {
	switch which {
	case unix.ITIMER_VIRTUAL:
		return 0, nil
	case unix.ITIMER_PROF:
		return 1, nil
	}
	return 0, unix.EINVAL
}

// CPUItimer returns the CPU time left until timer which (ITIMER_VIRTUAL or
// ITIMER_PROF) expires, 0 when disarmed, and its interval.
func (t *Task) CPUItimer(which int) (time.Duration, time.Duration, error) {
	i, err := cpuTimerIndex(which)
	if err != nil {
		return 0, 0, err
	}
	now := t.SelfUsage().CPU
	p := t.Proc
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.cpuTimers.t[i]
	if it.expires == 0 {
		return 0, it.interval, nil
	}
	// An expiry not yet seen by a check is at most a tick away: report
	// the smallest time left, as Linux does for one past its expiry.
	return max(it.expires-now, time.Microsecond), it.interval, nil
}

// SetCPUItimer arms timer which to expire after value of the process's CPU
// time and then every interval (0: once); value 0 disarms it. It returns
// the previous time left and interval.
func (t *Task) SetCPUItimer(which int, value, interval time.Duration) (time.Duration, time.Duration, error) {
	oldLeft, oldInterval, err := t.CPUItimer(which)
	if err != nil {
		return 0, 0, err
	}
	i, _ := cpuTimerIndex(which)
	now := t.SelfUsage().CPU
	p := t.Proc
	p.mu.Lock()
	it := cpuItimer{interval: interval}
	if value > 0 {
		it.expires = now + value
	}
	p.cpuTimers.t[i] = it
	p.mu.Unlock()
	p.startCPUSampler(t)
	return oldLeft, oldInterval, nil
}

// startCPUSampler starts the sampler if a CPU timer is armed (an
// itimer or a POSIX timer on a CPU clock) and it does not run yet.
func (p *Process) startCPUSampler(t *Task) {
	now := t.SelfUsage().CPU
	posix := p.cpuTimersArmed()
	p.mu.Lock()
	start := (p.cpuTimers.armed() || posix) && !p.cpuTimers.sampling && !p.exiting
	if start {
		p.cpuTimers.sampling = true
	}
	p.mu.Unlock()
	if start {
		go p.sampleCPUTimers(now)
	}
}

// sampleCPUTimers interrupts a thread of the process while a CPU timer is
// armed, so that checkCPUTimers runs in it. cpu is the process's CPU time
// when it started; the wait before each interrupt is the CPU time left
// until the nearest expiry as of the last check, within [1 ms, tick].
func (p *Process) sampleCPUTimers(cpu time.Duration) {
	defer p.k.Recover()
	for {
		posix := p.cpuTimersArmed()
		p.mu.Lock()
		if !(p.cpuTimers.armed() || posix) || p.exiting {
			p.cpuTimers.sampling = false
			p.mu.Unlock()
			return
		}
		wait := cpuTimerTick
		for _, it := range p.cpuTimers.t {
			if it.expires != 0 {
				wait = min(wait, it.expires-max(cpu, p.cpuTimers.seen))
			}
		}
		var target *Task
		for _, o := range p.tasks {
			target = o
			break
		}
		p.mu.Unlock()
		time.Sleep(max(wait, time.Millisecond))
		if target != nil {
			target.mu.Lock()
			kick := target.kick
			target.mu.Unlock()
			if kick != nil {
				kick()
			}
		}
	}
}

// checkCPUTimers fires the process's expired CPU timers: called by a
// thread interrupted out of guest code.
func (t *Task) checkCPUTimers() {
	p := t.Proc
	t.checkPosixCPUTimers()
	p.mu.Lock()
	armed := p.cpuTimers.armed()
	p.mu.Unlock()
	if !armed {
		return
	}
	now := t.SelfUsage().CPU
	var fire [numCPUTimers]bool
	p.mu.Lock()
	p.cpuTimers.seen = now
	for i := range p.cpuTimers.t {
		it := &p.cpuTimers.t[i]
		if it.expires == 0 || now < it.expires {
			continue
		}
		fire[i] = true
		if it.interval > 0 {
			it.expires += it.interval
		} else {
			it.expires = 0
		}
	}
	p.mu.Unlock()
	for i, sig := range [numCPUTimers]unix.Signal{unix.SIGVTALRM, unix.SIGPROF} {
		if fire[i] {
			_ = p.SendSignal(SigInfo{Signo: sig, Code: SIKernel})
		}
	}
}

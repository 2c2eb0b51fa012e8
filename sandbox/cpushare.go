package sandbox

import (
	"sync"
	"time"
)

// A CPU share (Limits.CPUs, an OCI spec's cpu quota/period, Docker's
// --cpus): the sandbox's guest threads and litebox's work serving them get
// at most CPUs seconds of CPU per second, as a cgroup's CPU bandwidth
// limit gives. litebox measures the sandbox's CPU time (the stubs' CPU
// clocks and its serving threads', as --cpu-time does) every tick; once
// the sandbox has used its allowance, every guest thread is pushed out of
// guest code (kernel.KickAll) and held before it resumes (the kernel's
// Throttle hook) until the allowance, which grows by CPUs×tick each tick,
// exceeds the use again. At most one period's allowance is saved while
// the sandbox is idle (a period's burst, as CFS). Threads blocked in a
// syscall are not held: they use no CPU; their return to guest code is.

// defaultCPUPeriod is the period of a CPU share when none is given (the
// cgroup default, 100 ms).
const defaultCPUPeriod = 100 * time.Millisecond

// cpuShare is the throttle's state.
type cpuShare struct {
	mu     sync.Mutex
	held   chan struct{} // non-nil while throttled; closed when released
	period time.Duration
}

// wait is the kernel's Throttle hook: it returns false at once when the
// sandbox may run, else waits for the release (at most a period, so that
// a killed thread leaves) and reports whether it is still held.
func (c *cpuShare) wait() bool {
	c.mu.Lock()
	ch := c.held
	c.mu.Unlock()
	if ch == nil {
		return false
	}
	t := time.NewTimer(c.period)
	defer t.Stop()
	select {
	case <-ch:
		return false
	case <-t.C:
		return true
	}
}

// set throttles or releases; it reports whether the state changed to
// throttled.
func (c *cpuShare) set(throttle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case throttle && c.held == nil:
		c.held = make(chan struct{})
		return true
	case !throttle && c.held != nil:
		close(c.held)
		c.held = nil
	}
	return false
}

// shareCPU runs the throttle until done is closed.
func (s *Sandbox) shareCPU(done <-chan struct{}) {
	defer s.kernel.Recover()
	defer s.share.set(false)
	cpus, period := s.cfg.Limits.CPUs, s.share.period
	tick := period / 10
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	used := func() time.Duration { return s.spaces.cpuTime() + s.serve.total() }
	allowed := used() + time.Duration(cpus*float64(period))
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-ticker.C:
			allowed += time.Duration(cpus * float64(now.Sub(last)))
			last = now
		}
		u := used()
		if burst := u + time.Duration(cpus*float64(period)); allowed > burst {
			allowed = burst
		}
		if s.share.set(u >= allowed) {
			s.kernel.KickAll()
		}
	}
}

package kernel

import (
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// POSIX timers (timer_create and friends), Linux's kernel/time/posix-timers.c
// in litebox's terms:
//
//   - Each process has its own table of timers, ids counting up from 0 as
//     Linux hands them out. A fork starts with none and execve deletes them
//     all (exit_itimers), as does the process's end.
//   - Every timer is charged one queued signal against the sandbox's
//     RLIMIT_SIGPENDING count for as long as it exists (Linux preallocates
//     the sigqueue of each timer and counts it the same way): past the
//     limit timer_create fails with EAGAIN. Its kernel memory is charged to
//     the memory budget (TimerCost).
//   - A timer has at most one signal queued. When it expires again before
//     the guest took that signal, the expiry is counted as an overrun
//     instead. A periodic timer is re-armed when its signal is taken from
//     the queue (not when it fires), on its original grid, and the periods
//     it missed meanwhile are the signal's si_overrun, as Linux's
//     posixtimer_rearm does: a blocked signal costs nothing but the one
//     expiry.
//   - Wall-clock timers (REALTIME, TAI, MONOTONIC, BOOTTIME) run on Go
//     timers; CPU-clock timers are checked by the CPU-timer sampler of
//     cputimer.go (so they fire up to a tick late) and re-arm themselves at
//     expiry, counting the overruns while their signal stays queued.
//   - A timer whose signal is ignored when it fires is re-armed at once if
//     periodic (older Linux did the same; since 6.13 Linux parks it until
//     the signal is no longer ignored).

// TimerCost is charged per POSIX timer and per timerfd.
const TimerCost = 512

// Timer notification kinds (sigev_notify).
const (
	SigevSignal   = 0
	SigevNone     = 1
	SigevThread   = 2
	SigevThreadID = 4
)

// SITimer is si_code of a POSIX timer's signal.
const SITimer = -2

// maxOverrun is DELAYTIMER_MAX: overruns saturate there.
const maxOverrun = math.MaxInt32

// Clocks not in x/sys/unix's list of timer clocks.
const (
	clockRealtimeAlarm = 8
	clockBoottimeAlarm = 9
)

// Sigevent is what timer_create is told about notification.
type Sigevent struct {
	Notify int32 // SIGEV_*
	Signo  unix.Signal
	Value  uint64 // sigev_value
	TID    int    // SIGEV_THREAD_ID: the thread to signal
}

// posixTimer is one timer of a process.
type posixTimer struct {
	p      *Process
	id     int32
	clock  int32
	notify int32
	signo  unix.Signal
	value  uint64
	target *Task // SIGEV_THREAD_ID: the thread signalled; nil: the process
	cpu    *Task // a thread CPU clock's thread; nil for the other clocks

	mu       sync.Mutex
	gen      uint64      // bumped by every arming and by deletion: stale firings do nothing
	timer    *time.Timer // wall clocks: the pending expiry
	expires  time.Duration
	interval time.Duration
	// fired: a wall-clock timer expired and waits for its signal to be
	// taken (or it was one-shot); its Go timer is not running.
	fired bool
	// queued says its signal is in a queue; set and cleared with that
	// queue's lock held (and mu).
	queued      bool
	overrun     int64 // expiries counted since the queued signal was queued
	overrunLast int32 // what the last delivered signal reported (timer_getoverrun)
	deleted     bool
}

// posixTimers is a process's timer table; its own lock, taken before any
// timer's.
type posixTimers struct {
	mu   sync.Mutex
	m    map[int32]*posixTimer
	next int32
}

// ValidTimerClock checks a clock for timer_create and timerfd_create: the
// wall clocks and the CPU clocks (cpu: thread or process; own: false for
// the CPU clock of another process). The *_ALARM clocks need
// CAP_WAKE_ALARM, which the guest never has.
func timerClock(clock int32, cpuOK bool) error {
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME:
		return nil
	case unix.CLOCK_TAI:
		if cpuOK {
			return nil // timer_create takes it, timerfd_create does not
		}
		return unix.EINVAL
	case clockRealtimeAlarm, clockBoottimeAlarm:
		return unix.EPERM
	case unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE:
		if cpuOK {
			return unix.EOPNOTSUPP // clocks without timers
		}
		return unix.EINVAL
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		if cpuOK {
			return nil
		}
	}
	if clock < 0 && cpuOK && clock&3 != 3 {
		return nil // a pid or tid CPU clock: checked against the caller's process
	}
	return unix.EINVAL
}

// wallNow reads a wall clock as a duration since its epoch: monotonic
// clocks count from the sandbox's boot, as clock_gettime does.
func (k *Kernel) wallNow(clock int32) time.Duration {
	switch clock {
	case unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME:
		return time.Since(k.boot)
	}
	return time.Duration(time.Now().UnixNano())
}

// isCPU reports whether the timer runs on a CPU clock.
func (tm *posixTimer) isCPU() bool {
	return tm.clock < 0 || tm.clock == unix.CLOCK_PROCESS_CPUTIME_ID || tm.clock == unix.CLOCK_THREAD_CPUTIME_ID
}

// TimerCreate creates a timer on clock notifying as ev says (nil: SIGALRM
// to the process with the timer's id as value) and returns its id.
func (t *Task) TimerCreate(clock int32, ev *Sigevent) (int32, error) {
	if err := timerClock(clock, true); err != nil {
		return 0, err
	}
	p := t.Proc
	tm := &posixTimer{p: p, clock: clock, notify: SigevSignal, signo: unix.SIGALRM}
	switch {
	case clock == unix.CLOCK_THREAD_CPUTIME_ID:
		tm.cpu = t
	case clock < 0:
		id := int(^(clock >> 3))
		if clock&4 != 0 {
			o, err := t.FindTask(id)
			if err != nil || o.Proc != p {
				return 0, unix.EINVAL
			}
			tm.cpu = o
		} else if id != 0 && id != p.PID {
			if _, ok := p.k.Process(id); ok {
				p.k.Unsupported("timer on the CPU clock of another process", unix.SYS_TIMER_CREATE, p.PID)
			}
			return 0, unix.EINVAL
		}
	}
	if err := p.k.charge(TimerCost); err != nil {
		return 0, unix.EAGAIN
	}
	// The timer's preallocated signal counts as a queued one.
	if p.k.sigPending.Add(1) > int64(min(p.sigPendingLimit(), 1<<62)) {
		p.k.sigPending.Add(-1)
		p.k.uncharge(TimerCost)
		p.k.auditLimit("sigpending", p.PID)
		return 0, unix.EAGAIN
	}
	pt := &p.timers
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.m == nil {
		pt.m = map[int32]*posixTimer{}
	}
	for {
		id := pt.next
		pt.next++
		if pt.next < 0 {
			pt.next = 0 // wrapped: Linux starts over too
		}
		if _, used := pt.m[id]; !used {
			tm.id = id
			break
		}
	}
	// Linux checks the sigevent once the timer has its id: a refused one
	// uses an id up.
	if err := tm.setEvent(p, ev); err != nil {
		p.k.sigPending.Add(-1)
		p.k.uncharge(TimerCost)
		return 0, err
	}
	pt.m[tm.id] = tm
	return tm.id, nil
}

func (p *Process) timer(id int32) (*posixTimer, error) {
	pt := &p.timers
	pt.mu.Lock()
	defer pt.mu.Unlock()
	tm, ok := pt.m[id]
	if !ok {
		return nil, unix.EINVAL
	}
	return tm, nil
}

// setEvent checks and applies timer_create's sigevent (nil: the default).
func (tm *posixTimer) setEvent(p *Process, ev *Sigevent) error {
	if ev == nil {
		tm.value = uint64(tm.id)
		return nil
	}
	switch ev.Notify {
	case SigevSignal | SigevThreadID:
		o, ok := p.k.Task(ev.TID)
		if !ok || o.Proc != p {
			return unix.EINVAL
		}
		tm.target = o
		fallthrough
	case SigevSignal, SigevThread:
		if ev.Signo <= 0 || ev.Signo > 64 {
			return unix.EINVAL
		}
	case SigevNone:
	default:
		return unix.EINVAL
	}
	tm.notify, tm.signo, tm.value = ev.Notify, ev.Signo, ev.Value
	return nil
}

// TimerSpec is an itimerspec: the time to the next expiry and the period.
type TimerSpec struct {
	Value, Interval time.Duration
}

// cpuClockNow reads the timer's CPU clock as task t sees it; ok is false
// when t cannot read it (another thread's clock).
func (tm *posixTimer) cpuClockNow(t *Task) (time.Duration, bool) {
	if tm.cpu == nil {
		return t.SelfUsage().CPU, true
	}
	if tm.cpu != t {
		return 0, false
	}
	if d, ok := t.ThreadCPU(); ok {
		return d, true
	}
	return t.SelfUsage().CPU, true
}

// clockNow reads the timer's clock from task t (CPU clocks of another
// thread read as its process's time, the best t can know).
func (tm *posixTimer) clockNow(t *Task) time.Duration {
	if !tm.isCPU() {
		return tm.p.k.wallNow(tm.clock)
	}
	if d, ok := tm.cpuClockNow(t); ok {
		return d
	}
	return t.SelfUsage().CPU
}

// TimerSettime arms (spec.Value > 0) or disarms the timer, absolute when
// abs, and returns its previous setting.
func (t *Task) TimerSettime(id int32, abs bool, spec TimerSpec) (TimerSpec, error) {
	tm, err := t.Proc.timer(id)
	if err != nil {
		return TimerSpec{}, err
	}
	now := tm.clockNow(t)
	tm.mu.Lock()
	old := tm.getLocked(now)
	tm.disarmLocked()
	tm.interval = 0 // a disarmed timer has no period either
	if spec.Value > 0 {
		tm.interval = spec.Interval
		exp := spec.Value
		if !abs {
			exp += now
		}
		tm.expires = max(exp, 1)
		tm.overrun = 0
		tm.armLocked(now)
	}
	cpuArmed := tm.isCPU() && tm.expires != 0
	tm.mu.Unlock()
	if cpuArmed {
		t.Proc.startCPUSampler(t)
	}
	return old, nil
}

// disarmLocked stops the timer; tm.mu held.
func (tm *posixTimer) disarmLocked() {
	tm.gen++
	if tm.timer != nil {
		tm.timer.Stop()
		tm.timer = nil
	}
	tm.expires, tm.fired = 0, false
}

// armLocked schedules the expiry at tm.expires (now is the clock's time);
// tm.mu held. SIGEV_NONE and CPU timers need no Go timer: the former is
// only ever read, the latter is checked by the sampler.
func (tm *posixTimer) armLocked(now time.Duration) {
	tm.fired = false
	if tm.notify == SigevNone || tm.isCPU() {
		return
	}
	gen := tm.gen
	tm.timer = time.AfterFunc(max(tm.expires-now, 0), func() { tm.fire(gen) })
}

// getLocked is timer_gettime's answer at clock time now; tm.mu held. A
// periodic timer waiting for its signal to be taken (or a SIGEV_NONE one)
// is moved forward past now first, the periods skipped counting as
// overruns, as Linux's common_timer_get does.
func (tm *posixTimer) getLocked(now time.Duration) TimerSpec {
	spec := TimerSpec{Interval: tm.interval}
	if tm.expires == 0 {
		return spec
	}
	if tm.interval == 0 && tm.fired {
		return spec // a one-shot timer that fired
	}
	if tm.interval > 0 && (tm.fired || tm.notify == SigevNone) {
		tm.forwardLocked(now)
	}
	left := tm.expires - now
	switch {
	case left > 0:
		spec.Value = left
	case tm.notify != SigevNone:
		spec.Value = 1 // its signal is on the way
	}
	return spec
}

// forwardLocked moves a periodic timer's expiry to the first point of its
// grid after now and counts the skipped periods as overruns (they are
// reported with the next signal); it returns how many periods it moved.
func (tm *posixTimer) forwardLocked(now time.Duration) int64 {
	if tm.expires > now {
		return 0
	}
	n := int64((now-tm.expires)/tm.interval) + 1
	tm.expires += time.Duration(n) * tm.interval
	return n
}

// fire is a wall-clock timer's expiry (its Go timer's goroutine).
func (tm *posixTimer) fire(gen uint64) {
	defer tm.p.k.Recover() // a timer goroutine serves the sandbox too
	tm.mu.Lock()
	if tm.deleted || gen != tm.gen {
		tm.mu.Unlock()
		return
	}
	tm.fired, tm.timer = true, nil
	periodic := tm.interval > 0
	tm.mu.Unlock()
	if tm.send() || !periodic {
		return
	}
	// Dropped (ignored): nobody will take a signal to re-arm it.
	tm.mu.Lock()
	if gen == tm.gen && !tm.deleted && tm.interval > 0 {
		now := tm.p.k.wallNow(tm.clock)
		tm.overrun += tm.forwardLocked(now) - 1
		tm.armLocked(now)
	}
	tm.mu.Unlock()
}

// send queues the timer's signal; false if it was dropped (ignored, or a
// standard signal of that number is pending already).
func (tm *posixTimer) send() bool {
	info := SigInfo{Signo: tm.signo, Code: SITimer, TimerID: tm.id, Value: tm.value}
	p := tm.p
	// The guest chose the number: Linux's send_sigqueue does not force
	// SIGKILL or SIGSTOP on an init.
	if !p.prepareSignal(info.Signo, SigFromGuest) {
		return false
	}
	if t := tm.target; t != nil {
		t.mu.Lock()
		ok := t.pending.addTimer(p.k, tm, info)
		t.mu.Unlock()
		if ok {
			t.wake()
		}
		return ok
	}
	p.mu.Lock()
	if p.zombie {
		p.mu.Unlock()
		return true
	}
	ok := p.pending.addTimer(p.k, tm, info)
	tasks := p.taskList()
	p.mu.Unlock()
	if ok {
		wakeOne(tasks, info.Signo)
	}
	return ok
}

// wakeOne wakes a thread that does not block sig; if all block it, it
// waits.
func wakeOne(tasks []*Task, sig unix.Signal) {
	for _, t := range tasks {
		if t.Mask()&sigBit(sig) == 0 {
			t.wake()
			return
		}
	}
}

// addTimer queues a timer's signal, with the queue's lock held: if it is
// queued already the expiry is an overrun. It reports false when it was
// dropped: a standard signal of that number is pending.
func (s *sigQueue) addTimer(k *Kernel, tm *posixTimer, info SigInfo) bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.queued {
		tm.overrun++
		return true
	}
	if info.Signo < sigRTMin && s.mask&sigBit(info.Signo) != 0 {
		return false
	}
	tm.queued = true
	s.push(pendingSig{info: info, timer: tm})
	k.signalPending()
	return true
}

// dropped is called, with the queue's lock held, when the timer's queued
// signal is discarded (its signal became ignored).
func (tm *posixTimer) dropped() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.queued, tm.overrun = false, 0
}

// taken is called, with the queue's lock held, when the timer's signal
// leaves its queue to be delivered: a periodic wall-clock timer is
// re-armed, and the overruns so far are the signal's si_overrun.
func (tm *posixTimer) taken(info *SigInfo) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.queued = false
	if tm.fired && tm.interval > 0 && !tm.deleted && !tm.isCPU() {
		now := tm.p.k.wallNow(tm.clock)
		tm.overrun += tm.forwardLocked(now) - 1
		tm.armLocked(now)
	}
	tm.overrunLast = int32(min(max(tm.overrun, 0), maxOverrun))
	tm.overrun = 0
	info.Overrun = tm.overrunLast
}

// TimerGettime returns the time to the timer's next expiry and its period.
func (t *Task) TimerGettime(id int32) (TimerSpec, error) {
	tm, err := t.Proc.timer(id)
	if err != nil {
		return TimerSpec{}, err
	}
	now := tm.clockNow(t)
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.getLocked(now), nil
}

// TimerGetoverrun returns the overrun count of the timer's last delivered
// signal.
func (t *Task) TimerGetoverrun(id int32) (int32, error) {
	tm, err := t.Proc.timer(id)
	if err != nil {
		return 0, err
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.overrunLast, nil
}

// TimerDelete deletes the timer; a signal of it still queued is dropped.
func (t *Task) TimerDelete(id int32) error {
	p := t.Proc
	pt := &p.timers
	pt.mu.Lock()
	tm, ok := pt.m[id]
	delete(pt.m, id)
	pt.mu.Unlock()
	if !ok {
		return unix.EINVAL
	}
	tm.destroy()
	return nil
}

// destroy stops a timer that left its table and gives back its charges.
func (tm *posixTimer) destroy() {
	tm.mu.Lock()
	tm.disarmLocked()
	tm.deleted = true
	tm.mu.Unlock()
	p := tm.p
	if t := tm.target; t != nil {
		t.mu.Lock()
		t.pending.removeTimer(tm)
		t.mu.Unlock()
	}
	p.mu.Lock()
	p.pending.removeTimer(tm)
	p.mu.Unlock()
	p.k.sigPending.Add(-1)
	p.k.uncharge(TimerCost)
}

// deleteTimers deletes all the process's timers (execve, exit).
func (p *Process) deleteTimers() {
	pt := &p.timers
	pt.mu.Lock()
	m := pt.m
	pt.m, pt.next = nil, 0
	pt.mu.Unlock()
	for _, tm := range m {
		tm.destroy()
	}
}

// removeTimer drops tm's queued signal, if any; the queue's lock held.
func (s *sigQueue) removeTimer(tm *posixTimer) {
	i := tm.signo - 1
	for j, ps := range s.q[i] {
		if ps.timer == tm {
			s.q[i] = append(s.q[i][:j:j], s.q[i][j+1:]...)
			if len(s.q[i]) == 0 {
				s.q[i] = nil
				s.mask &^= sigBit(tm.signo)
			}
			tm.mu.Lock()
			tm.queued = false
			tm.mu.Unlock()
			return
		}
	}
}

// cpuTimersArmed reports an armed CPU-clock POSIX timer.
func (p *Process) cpuTimersArmed() bool {
	pt := &p.timers
	pt.mu.Lock()
	defer pt.mu.Unlock()
	for _, tm := range pt.m {
		tm.mu.Lock()
		armed := tm.isCPU() && tm.expires != 0 && !tm.fired
		tm.mu.Unlock()
		if armed {
			return true
		}
	}
	return false
}

// checkPosixCPUTimers fires the process's expired CPU-clock timers that t
// can read the clock of (the process's, or t's own thread clock); called
// by a thread the sampler interrupted. A periodic one re-arms itself here,
// one interval on, counting the periods missed as overruns.
func (t *Task) checkPosixCPUTimers() {
	p := t.Proc
	pt := &p.timers
	pt.mu.Lock()
	var cpu []*posixTimer
	for _, tm := range pt.m {
		if tm.isCPU() {
			cpu = append(cpu, tm)
		}
	}
	pt.mu.Unlock()
	for _, tm := range cpu {
		now, ok := tm.cpuClockNow(t)
		if !ok {
			continue
		}
		tm.mu.Lock()
		due := tm.expires != 0 && !tm.fired && now >= tm.expires && !tm.deleted
		if due {
			if tm.interval > 0 {
				tm.overrun += tm.forwardLocked(now) - 1
			} else {
				tm.fired = true
			}
		}
		notify := tm.notify
		tm.mu.Unlock()
		if due && notify != SigevNone {
			tm.send()
		}
	}
}

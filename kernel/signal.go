package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// SigAction is a guest signal disposition as rt_sigaction passes it.
type SigAction struct {
	Handler  uint64 // SIG_DFL (0), SIG_IGN (1) or a guest address
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// Signal dispositions.
const (
	SigDfl = 0
	SigIgn = 1
)

// SigInfo is one queued signal and what siginfo_t tells about it.
type SigInfo struct {
	Signo  unix.Signal
	Code   int32
	Errno  int32
	Pid    int32  // sender (SI_USER, SIGCHLD)
	Uid    uint32 // sender's uid
	Status int32  // SIGCHLD: exit status or signal
	Addr   uint64 // faults: the faulting address
}

// siginfo codes (asm-generic/siginfo.h).
const (
	SIUser                                                                = 0
	SIKernel                                                              = 0x80
	SITkill                                                               = -6
	CLDExited, CLDKilled, CLDDumped, CLDTrapped, CLDStopped, CLDContinued = 1, 2, 3, 4, 5, 6
)

// sigHand is the signal-handler table, shared by the threads of a process.
type sigHand struct {
	mu      sync.Mutex
	actions [65]SigAction
}

func (h *sigHand) clone() *sigHand {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &sigHand{actions: h.actions}
}

func (h *sigHand) get(sig unix.Signal) SigAction {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.actions[sig]
}

// resetForExec keeps ignored signals ignored and sets every handled one
// back to the default, as execve does.
func (h *sigHand) resetForExec() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.actions {
		if h.actions[i].Handler != SigIgn {
			h.actions[i] = SigAction{}
		}
	}
}

// unblockable signals can never be caught, ignored or blocked.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

func sigBit(sig unix.Signal) uint64 { return 1 << (uint(sig) - 1) }

// DefaultAction is what a signal does when its disposition is SIG_DFL.
type DefaultAction int

// Default actions of signal(7).
const (
	ActTerminate DefaultAction = iota
	ActCore
	ActIgnore
	ActStop
	ActContinue
)

// Default returns the default action of sig.
func Default(sig unix.Signal) DefaultAction {
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return ActIgnore
	case unix.SIGCONT:
		return ActContinue
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return ActStop
	case unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGBUS, unix.SIGFPE,
		unix.SIGSEGV, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS:
		return ActCore
	}
	return ActTerminate
}

// Sigaction sets and/or returns the disposition of sig.
func (p *Process) Sigaction(sig int, act *SigAction) (SigAction, error) {
	if sig < 1 || sig > 64 {
		return SigAction{}, unix.EINVAL
	}
	h := p.sighand
	h.mu.Lock()
	old := h.actions[sig]
	if act != nil {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			h.mu.Unlock()
			return SigAction{}, unix.EINVAL
		}
		a := *act
		a.Mask &^= unblockable
		h.actions[sig] = a
	}
	h.mu.Unlock()
	if act != nil && p.ignored(unix.Signal(sig)) {
		// Setting a signal to be ignored discards it where pending (POSIX).
		p.discardPending(unix.Signal(sig))
	}
	return old, nil
}

// ignored reports whether sig would be dropped on delivery.
func (p *Process) ignored(sig unix.Signal) bool {
	a := p.sighand.get(sig)
	return a.Handler == SigIgn || (a.Handler == SigDfl && Default(sig) == ActIgnore)
}

func (p *Process) discardPending(sig unix.Signal) {
	p.mu.Lock()
	p.pending.remove(sig)
	tasks := p.taskList()
	p.mu.Unlock()
	for _, t := range tasks {
		t.mu.Lock()
		t.pending.remove(sig)
		t.mu.Unlock()
	}
}

// sigQueue holds pending signals: at most one of each standard signal,
// real-time signals queued in order.
type sigQueue struct{ q []SigInfo }

func (s *sigQueue) add(info SigInfo) {
	if info.Signo < 32 {
		for _, x := range s.q {
			if x.Signo == info.Signo {
				return
			}
		}
	}
	if len(s.q) >= 1024 { // RLIMIT_SIGPENDING-like bound
		return
	}
	s.q = append(s.q, info)
}

func (s *sigQueue) remove(sig unix.Signal) {
	out := s.q[:0]
	for _, x := range s.q {
		if x.Signo != sig {
			out = append(out, x)
		}
	}
	s.q = out
}

func (s *sigQueue) set() uint64 {
	var m uint64
	for _, x := range s.q {
		m |= sigBit(x.Signo)
	}
	return m
}

// take removes and returns the first pending signal not in blocked,
// preferring synchronous faults and then the lowest number, as Linux does.
func (s *sigQueue) take(blocked uint64) (SigInfo, bool) {
	best := -1
	for i, x := range s.q {
		if blocked&sigBit(x.Signo) != 0 {
			continue
		}
		if best < 0 || x.Signo < s.q[best].Signo {
			best = i
		}
	}
	if best < 0 {
		return SigInfo{}, false
	}
	info := s.q[best]
	s.q = append(s.q[:best], s.q[best+1:]...)
	return info, true
}

// Sigprocmask changes the calling thread's blocked-signal mask and
// returns the old one.
func (t *Task) Sigprocmask(how int, set *uint64) (uint64, error) {
	t.mu.Lock()
	old := t.mask
	if set == nil {
		t.mu.Unlock()
		return old, nil
	}
	switch how {
	case unix.SIG_BLOCK:
		t.mask |= *set
	case unix.SIG_UNBLOCK:
		t.mask &^= *set
	case unix.SIG_SETMASK:
		t.mask = *set
	default:
		t.mu.Unlock()
		return 0, unix.EINVAL
	}
	t.mask &^= unblockable
	t.mu.Unlock()
	t.recheckSignals()
	return old, nil
}

// Mask returns the blocked-signal mask.
func (t *Task) Mask() uint64 { t.mu.Lock(); defer t.mu.Unlock(); return t.mask }

// SetMask replaces the blocked-signal mask (sigreturn).
func (t *Task) SetMask(m uint64) {
	t.mu.Lock()
	t.mask = m &^ unblockable
	t.mu.Unlock()
	t.recheckSignals()
}

// Pending returns the signals pending for the thread or its process.
func (t *Task) Pending() uint64 {
	t.mu.Lock()
	m := t.pending.set()
	t.mu.Unlock()
	t.Proc.mu.Lock()
	m |= t.Proc.pending.set()
	t.Proc.mu.Unlock()
	return m
}

// SendSignal sends sig to the process (kill): it is queued for the
// process and one thread that does not block it is woken.
func (p *Process) SendSignal(info SigInfo) error {
	if info.Signo < 0 || info.Signo > 64 {
		return unix.EINVAL
	}
	if info.Signo == 0 {
		return nil
	}
	if !p.prepareSignal(info.Signo) {
		return nil
	}
	p.mu.Lock()
	if p.zombie {
		p.mu.Unlock()
		return nil
	}
	p.pending.add(info)
	tasks := p.taskList()
	p.mu.Unlock()
	// Wake one thread that can take it; if all block it, it waits.
	for _, t := range tasks {
		if t.Mask()&sigBit(info.Signo) == 0 {
			t.wake()
			return nil
		}
	}
	return nil
}

// SendSignal sends sig to this thread alone (tgkill, faults).
func (t *Task) SendSignal(info SigInfo) error {
	if info.Signo < 0 || info.Signo > 64 {
		return unix.EINVAL
	}
	if info.Signo == 0 {
		return nil
	}
	if !t.Proc.prepareSignal(info.Signo) {
		return nil
	}
	t.mu.Lock()
	t.pending.add(info)
	t.mu.Unlock()
	t.wake()
	return nil
}

// prepareSignal applies the side effects a signal has when it is sent, and
// reports whether it still needs delivering: SIGKILL kills at once, SIGCONT
// resumes a stopped process, and signals that would be ignored are dropped
// (unless blocked: the handler may change by the time they are unblocked).
func (p *Process) prepareSignal(sig unix.Signal) bool {
	switch {
	case sig == unix.SIGKILL:
		p.Kill(WaitStatusSignaled(sig, false))
		return false
	case sig == unix.SIGCONT:
		p.discardPending(unix.SIGSTOP)
		p.discardPending(unix.SIGTSTP)
		p.discardPending(unix.SIGTTIN)
		p.discardPending(unix.SIGTTOU)
		p.continueStopped()
	case Default(sig) == ActStop:
		p.discardPending(unix.SIGCONT)
	}
	if p.ignored(sig) {
		for _, t := range p.Tasks() {
			if t.Mask()&sigBit(sig) != 0 {
				return true
			}
		}
		return false
	}
	return true
}

// Delivery is what the thread must do with its next signal.
type Delivery struct {
	Info   SigInfo
	Action SigAction // Handler != SigDfl/SigIgn: run the guest handler
}

// NextSignal dequeues the next deliverable signal and carries out default
// actions itself: it returns ok=false when nothing is left for the guest,
// and a Delivery when a guest handler must run. A fatal default action ends
// the process (the caller sees Exiting()).
func (t *Task) NextSignal() (Delivery, bool) {
	for {
		t.mu.Lock()
		info, ok := t.pending.take(t.mask)
		mask := t.mask
		t.mu.Unlock()
		if !ok {
			t.Proc.mu.Lock()
			info, ok = t.Proc.pending.take(mask)
			t.Proc.mu.Unlock()
			if ok && info.Signo == unix.SIGALRM {
				t.Proc.rearmAlarm()
			}
		}
		if !ok {
			return Delivery{}, false
		}
		act := t.Proc.sighand.get(info.Signo)
		switch {
		case act.Handler == SigIgn:
			continue
		case act.Handler != SigDfl:
			if act.Flags&SAResetHand != 0 && info.Signo != unix.SIGILL && info.Signo != unix.SIGTRAP {
				t.Proc.sighand.mu.Lock()
				t.Proc.sighand.actions[info.Signo] = SigAction{}
				t.Proc.sighand.mu.Unlock()
			}
			return Delivery{Info: info, Action: act}, true
		}
		switch Default(info.Signo) {
		case ActIgnore, ActContinue:
			continue
		case ActStop:
			t.Proc.stop(info.Signo)
			continue
		case ActCore:
			t.Proc.Kill(WaitStatusSignaled(info.Signo, true))
			return Delivery{}, false
		default:
			t.Proc.Kill(WaitStatusSignaled(info.Signo, false))
			return Delivery{}, false
		}
	}
}

// ForceSignal delivers a synchronous fault: if the thread blocks or ignores
// it, the default action applies anyway (a re-run instruction would fault
// again), as Linux's force_sig does.
func (t *Task) ForceSignal(info SigInfo) {
	act := t.Proc.sighand.get(info.Signo)
	blocked := t.Mask()&sigBit(info.Signo) != 0
	if blocked || act.Handler == SigIgn {
		t.Proc.sighand.mu.Lock()
		t.Proc.sighand.actions[info.Signo] = SigAction{}
		t.Proc.sighand.mu.Unlock()
		t.mu.Lock()
		t.mask &^= sigBit(info.Signo)
		t.mu.Unlock()
	}
	t.mu.Lock()
	t.pending.add(info)
	t.mu.Unlock()
}

// AltStack is a thread's alternate signal stack (sigaltstack).
type AltStack struct {
	Sp    uint64
	Flags int32
	Size  uint64
}

// SigAltStack returns and/or sets the alternate signal stack; onStack says
// whether the thread is running on it now (EPERM to change it then).
func (t *Task) SigAltStack(set *AltStack, onStack bool) (AltStack, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.altStack
	if onStack {
		old.Flags |= ssOnStack
	}
	if set != nil {
		if onStack {
			return old, unix.EPERM
		}
		switch {
		case set.Flags&ssDisable != 0:
			t.altStack = AltStack{Flags: ssDisable}
		case set.Flags&^ssAutoDisarm != 0:
			return old, unix.EINVAL
		case set.Size < minSigStkSize:
			return old, unix.ENOMEM
		default:
			t.altStack = *set
		}
	}
	return old, nil
}

// AltStackNow returns the current alternate stack.
func (t *Task) AltStackNow() AltStack { t.mu.Lock(); defer t.mu.Unlock(); return t.altStack }

// sigaltstack flags (asm-generic/signal-defs.h).
const (
	ssOnStack     = 1
	ssDisable     = 2
	ssAutoDisarm  = -1 << 31
	minSigStkSize = 2048
)

// sa_flags (asm/signal.h) that x/sys/unix does not export.
const (
	SANoCldStop = 0x1
	SANoCldWait = 0x2
	SASigInfo   = 0x4
	SAOnStack   = 0x08000000
	SARestart   = 0x10000000
	SANoDefer   = 0x40000000
	SAResetHand = 0x80000000
	SARestorer  = 0x04000000
)

// TakeSignal dequeues a pending signal in set (sigtimedwait), blocked or
// not, from the thread's queue or else its process's.
func (t *Task) TakeSignal(set uint64) (SigInfo, bool) {
	t.mu.Lock()
	info, ok := t.pending.take(^set)
	t.mu.Unlock()
	if ok {
		return info, true
	}
	t.Proc.mu.Lock()
	info, ok = t.Proc.pending.take(^set)
	t.Proc.mu.Unlock()
	if ok && info.Signo == unix.SIGALRM {
		t.Proc.rearmAlarm()
	}
	return info, ok
}

// PeekSignal reports whether a signal in set is pending.
func (t *Task) PeekSignal(set uint64) (unix.Signal, bool) {
	m := t.Pending() & set
	if m == 0 {
		return 0, false
	}
	for s := unix.Signal(1); s <= 64; s++ {
		if m&sigBit(s) != 0 {
			return s, true
		}
	}
	return 0, false
}

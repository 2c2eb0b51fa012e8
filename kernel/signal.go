package kernel

import (
	"math/bits"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/arch"
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
type SigInfo = arch.SigInfo

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
	if sig < 0 || int(sig) >= len(h.actions) {
		return SigAction{}
	}
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
	p.pending.remove(p.k, sig)
	tasks := p.taskList()
	p.mu.Unlock()
	for _, t := range tasks {
		t.mu.Lock()
		t.pending.remove(p.k, sig)
		t.mu.Unlock()
	}
}

// sigRTMin is the first real-time signal (the kernel's SIGRTMIN).
const sigRTMin = 32

// sigQueue holds pending signals: at most one of each standard signal,
// real-time signals queued in order, one FIFO per signal number. Every
// entry but a "lost" one (see add) counts against the sandbox's
// RLIMIT_SIGPENDING, Kernel.sigPending.
type sigQueue struct {
	q    [64][]pendingSig // by signal number - 1
	mask uint64           // the numbers with entries
}

type pendingSig struct {
	info    SigInfo
	charged bool        // counted in Kernel.sigPending
	timer   *posixTimer // a POSIX timer's signal (charged to the timer)
	// unprotected: its default action applies to the guest's init too
	// (SigFromOutsideUnprotected).
	unprotected bool
}

// add queues info as Linux's __send_signal does. A standard signal that is
// already pending is not queued again. Past limit queued signals (the
// target's RLIMIT_SIGPENDING) a real-time signal fails with EAGAIN unless
// sent by kill(2) (SI_USER), which instead marks it pending without its
// information (siginfo zeroed, SI_USER) if it is not pending yet; a
// standard signal is always queued (the kernel overrides the limit for
// those sent with si_code >= 0, and kills the information of others).
func (s *sigQueue) add(k *Kernel, info SigInfo, limit uint64, src SigSource) error {
	sig := info.Signo
	bit := sigBit(sig)
	unprotected := src == SigFromOutsideUnprotected
	if sig < sigRTMin && s.mask&bit != 0 {
		if unprotected {
			s.q[sig-1][0].unprotected = true
		}
		return nil
	}
	override := sig < sigRTMin && info.Code >= 0
	if override || k.sigPending.Load() < int64(min(limit, 1<<62)) {
		k.sigPending.Add(1)
		s.push(pendingSig{info: info, charged: true, unprotected: unprotected})
		k.signalPending()
		return nil
	}
	if sig >= sigRTMin && info.Code != SIUser {
		return unix.EAGAIN
	}
	if s.mask&bit == 0 {
		s.push(pendingSig{info: SigInfo{Signo: sig, Code: SIUser}, unprotected: unprotected})
		k.signalPending()
	}
	return nil
}

func (s *sigQueue) push(ps pendingSig) {
	i := ps.info.Signo - 1
	s.q[i] = append(s.q[i], ps)
	s.mask |= sigBit(ps.info.Signo)
}

// remove drops every pending sig.
func (s *sigQueue) remove(k *Kernel, sig unix.Signal) {
	if sig < 1 || sig > 64 {
		return
	}
	for _, ps := range s.q[sig-1] {
		if ps.charged {
			k.sigPending.Add(-1)
		}
		if ps.timer != nil {
			ps.timer.dropped()
		}
	}
	s.q[sig-1] = nil
	s.mask &^= sigBit(sig)
}

// drain drops everything, as when the thread or process is gone.
func (s *sigQueue) drain(k *Kernel) {
	for m := s.mask; m != 0; m &= m - 1 {
		s.remove(k, unix.Signal(bits.TrailingZeros64(m)+1))
	}
}

func (s *sigQueue) set() uint64 { return s.mask }

// take removes and returns the first pending signal not in blocked: the
// lowest number, the oldest of its queue, as Linux does.
func (s *sigQueue) take(k *Kernel, blocked uint64) (SigInfo, bool) {
	ps, ok := s.takeEntry(k, blocked)
	return ps.info, ok
}

// takeEntry is take returning the whole entry.
func (s *sigQueue) takeEntry(k *Kernel, blocked uint64) (pendingSig, bool) {
	m := s.mask &^ blocked
	if m == 0 {
		return pendingSig{}, false
	}
	i := bits.TrailingZeros64(m)
	ps := s.q[i][0]
	s.q[i][0] = pendingSig{}
	s.q[i] = s.q[i][1:]
	if len(s.q[i]) == 0 {
		s.q[i] = nil
		s.mask &^= 1 << i
	}
	if ps.charged {
		k.sigPending.Add(-1)
	}
	if ps.timer != nil {
		ps.timer.taken(&ps.info)
	}
	return ps, true
}

// sigPendingLimit is the RLIMIT_SIGPENDING of p, read before taking a
// queue's lock.
func (p *Process) sigPendingLimit() uint64 {
	lim, _ := p.Getrlimit(unix.RLIMIT_SIGPENDING)
	return lim.Cur
}

// dropPending discards the thread's queued signals (it exited).
func (t *Task) dropPending() {
	t.mu.Lock()
	t.pending.drain(t.Proc.k)
	t.mu.Unlock()
}

// dropPending discards the process's queued signals (its last thread
// exited).
func (p *Process) dropPending() {
	p.mu.Lock()
	p.pending.drain(p.k)
	p.mu.Unlock()
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

// SigSource is who sends a signal. It decides what reaches the guest's
// init, pid 1: the guest runs in a pid namespace of its own, and Linux
// gives a namespace's init (SIGNAL_UNKILLABLE; kernel/signal.c,
// sig_task_ignored and get_signal) only the signals it has a handler for,
// except SIGKILL and SIGSTOP when the kernel itself or an ancestor
// namespace sends them. Faults the kernel forces on it (ForceSignal) kill
// it as any process. Other processes get every signal whatever its source.
type SigSource uint8

const (
	// SigFromKernel is the kernel's own signal (Linux's SEND_SIG_PRIV: a
	// terminal's ^C, a pipe's SIGPIPE, a timer): init gets SIGKILL and
	// SIGSTOP, other signals only if it has a handler.
	SigFromKernel SigSource = iota
	// SigFromGuest is a guest process's signal, init's own included, or
	// one whose number the guest chose (a child's exit signal, a POSIX
	// timer's): init gets only the signals it has a handler for.
	SigFromGuest
	// SigFromOutside is a signal from outside the sandbox, an ancestor pid
	// namespace's (an OCI runtime's kill): as SigFromKernel.
	SigFromOutside
	// SigFromOutsideUnprotected is a signal from outside the sandbox that
	// treats init as any process, as if the program ran natively, not as
	// a container's init (litebox run forwarding its own SIGINT).
	SigFromOutsideUnprotected
)

// initDrops reports whether p, the guest's init, drops sig from src when
// it is sent (Linux's sig_task_ignored for a SIGNAL_UNKILLABLE process).
// A handler, or SIG_IGN (dropped anyway), is for the caller to see.
func (p *Process) initDrops(sig unix.Signal, src SigSource) bool {
	if src == SigFromOutsideUnprotected || !p.unkillable.Load() || p.sighand.get(sig).Handler != SigDfl {
		return false
	}
	forced := src != SigFromGuest && (sig == unix.SIGKILL || sig == unix.SIGSTOP)
	return !forced
}

// SendSignal sends sig from the kernel to the process (SendSignalFrom).
func (p *Process) SendSignal(info SigInfo) error { return p.SendSignalFrom(info, SigFromKernel) }

// SendSignalFrom sends sig to the process (kill) on behalf of src: it is
// queued for the process and one thread that does not block it is woken.
func (p *Process) SendSignalFrom(info SigInfo, src SigSource) error {
	if info.Signo < 0 || info.Signo > 64 {
		return unix.EINVAL
	}
	if info.Signo == 0 {
		return nil
	}
	if !p.prepareSignal(info.Signo, src) {
		return nil
	}
	limit := p.sigPendingLimit()
	p.mu.Lock()
	if p.zombie {
		p.mu.Unlock()
		return nil
	}
	if err := p.pending.add(p.k, info, limit, src); err != nil {
		p.mu.Unlock()
		p.k.auditLimit("sigpending", p.PID)
		return err
	}
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

// SendSignal sends sig from the kernel to this thread alone (a fault's
// companion, SIGPIPE, SIGXFSZ).
func (t *Task) SendSignal(info SigInfo) error { return t.SendSignalFrom(info, SigFromKernel) }

// SendSignalFrom sends sig to this thread alone (tgkill) on behalf of src.
func (t *Task) SendSignalFrom(info SigInfo, src SigSource) error {
	if info.Signo < 0 || info.Signo > 64 {
		return unix.EINVAL
	}
	if info.Signo == 0 {
		return nil
	}
	if !t.Proc.prepareSignal(info.Signo, src) {
		return nil
	}
	limit := t.Proc.sigPendingLimit()
	t.mu.Lock()
	err := t.pending.add(t.Proc.k, info, limit, src)
	t.mu.Unlock()
	if err != nil {
		t.Proc.k.auditLimit("sigpending", t.Proc.PID)
		return err
	}
	t.wake()
	return nil
}

// prepareSignal applies the side effects a signal from src has when it is
// sent, and reports whether it still needs delivering: SIGCONT resumes a
// stopped process (even the init that then drops it), SIGKILL kills at
// once, and signals that would be ignored, or that init drops (initDrops),
// are dropped, unless blocked: the handler may change by the time they are
// unblocked.
func (p *Process) prepareSignal(sig unix.Signal, src SigSource) bool {
	switch {
	case sig == unix.SIGCONT:
		p.discardPending(unix.SIGSTOP)
		p.discardPending(unix.SIGTSTP)
		p.discardPending(unix.SIGTTIN)
		p.discardPending(unix.SIGTTOU)
		p.continueStopped()
	case Default(sig) == ActStop:
		p.discardPending(unix.SIGCONT)
	}
	if p.ignored(sig) || p.initDrops(sig, src) {
		for _, t := range p.Tasks() {
			if t.blocks(sig) {
				return true
			}
		}
		return false
	}
	if sig == unix.SIGKILL {
		p.Kill(WaitStatusSignaled(sig, false))
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
		ps, ok := t.pending.takeEntry(t.Proc.k, t.mask)
		mask := t.mask
		t.mu.Unlock()
		if !ok {
			t.Proc.mu.Lock()
			ps, ok = t.Proc.pending.takeEntry(t.Proc.k, mask)
			t.Proc.mu.Unlock()
			if ok && ps.info.Signo == unix.SIGALRM {
				t.Proc.rearmAlarm()
			}
		}
		if !ok {
			return Delivery{}, false
		}
		info := ps.info
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
		}
		if info.Signo != unix.SIGSTOP && !ps.unprotected && t.Proc.unkillable.Load() {
			// The guest's init takes no default action but SIGSTOP's (as
			// Linux's get_signal): this signal came while blocked, or
			// forced, and found no handler.
			continue
		}
		switch Default(info.Signo) {
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
	if info.Signo < 1 || info.Signo > 64 {
		// No genuine fault carries such a number (the platforms refuse
		// forged events); never index the tables with it: the thread's
		// process cannot be trusted to go on.
		info = SigInfo{Signo: unix.SIGKILL, Code: SIKernel}
	}
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
	if t.Proc.sighand.get(info.Signo).Handler == SigDfl {
		// A fault with no handler kills even the guest's init: it no
		// longer drops signals (Linux clears SIGNAL_UNKILLABLE here).
		t.Proc.unkillable.Store(false)
	}
	t.mu.Lock()
	// A fault is always queued: it is a standard signal sent by the kernel.
	_ = t.pending.add(t.Proc.k, info, 0, SigFromKernel)
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
		// SS_ONSTACK is accepted and means nothing (Linux keeps it for old
		// programs, and rt_sigreturn passes back the uc_stack of a handler
		// that ran on the alternate stack, which has it set).
		mode := set.Flags &^ ssAutoDisarm
		switch {
		case mode == ssDisable:
			t.altStack = AltStack{Flags: ssDisable}
		case mode != 0 && mode != ssOnStack:
			return old, unix.EINVAL
		case set.Size < minSigStkSize:
			return old, unix.ENOMEM
		default:
			t.altStack = AltStack{Sp: set.Sp, Size: set.Size, Flags: set.Flags &^ ssOnStack}
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
	info, ok := t.pending.take(t.Proc.k, ^set)
	t.mu.Unlock()
	if ok {
		return info, true
	}
	t.Proc.mu.Lock()
	info, ok = t.Proc.pending.take(t.Proc.k, ^set)
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

package kernel

import "golang.org/x/sys/unix"

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

// SignalState is a process's signal bookkeeping.
type SignalState struct {
	actions [65]SigAction
	mask    uint64
}

// unblockable signals can never be caught, ignored or blocked.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

// Sigaction sets and/or returns the disposition of sig.
func (p *Process) Sigaction(sig int, act *SigAction) (SigAction, error) {
	if sig < 1 || sig > 64 {
		return SigAction{}, unix.EINVAL
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.sig.actions[sig]
	if act != nil {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			return SigAction{}, unix.EINVAL
		}
		a := *act
		a.Mask &^= unblockable
		p.sig.actions[sig] = a
	}
	return old, nil
}

// Sigprocmask changes the blocked-signal mask and returns the old one.
func (p *Process) Sigprocmask(how int, set *uint64) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.sig.mask
	if set == nil {
		return old, nil
	}
	switch how {
	case unix.SIG_BLOCK:
		p.sig.mask |= *set
	case unix.SIG_UNBLOCK:
		p.sig.mask &^= *set
	case unix.SIG_SETMASK:
		p.sig.mask = *set
	default:
		return 0, unix.EINVAL
	}
	p.sig.mask &^= unblockable
	return old, nil
}

// SignalOutcome is what sending a signal to the process leads to.
type SignalOutcome int

// Outcomes of SendSignal.
const (
	SignalIgnored SignalOutcome = iota
	SignalTerminates
	SignalHandled // a guest handler would run: not supported yet
	SignalBlocked
)

// SendSignal decides what a signal sent to the process does. Delivery to
// guest handlers is not built yet; the caller reports that as unsupported.
func (p *Process) SendSignal(sig unix.Signal) (SignalOutcome, error) {
	if sig < 0 || sig > 64 {
		return 0, unix.EINVAL
	}
	if sig == 0 {
		return SignalIgnored, nil
	}
	p.mu.Lock()
	act := p.sig.actions[sig]
	blocked := p.sig.mask&(1<<(sig-1)) != 0
	p.mu.Unlock()
	switch {
	case sig == unix.SIGKILL:
		return SignalTerminates, nil
	case blocked:
		return SignalBlocked, nil
	case act.Handler == SigIgn:
		return SignalIgnored, nil
	case act.Handler != SigDfl:
		return SignalHandled, nil
	}
	switch sig {
	case unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH:
		return SignalIgnored, nil
	}
	return SignalTerminates, nil
}

package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Task is one guest thread. Its pid-space number is TID; the thread-group
// leader's TID is the process's PID.
type Task struct {
	TID  int
	Proc *Process

	mu       sync.Mutex
	mask     uint64
	pending  sigQueue
	altStack AltStack
	clearTID uint64
	// wakeCh is closed when the task must leave a blocking wait (a signal
	// arrived, or the process is dying); a new one is made on demand.
	wakeCh chan struct{}
	// kick pushes the task out of guest code (set by whoever runs it).
	kick func()
	// savedMask is the mask to restore after a signal interrupts
	// sigsuspend/ppoll/pselect, which run with a temporary mask.
	savedMask    uint64
	hasSavedMask bool
	// killed: this thread alone must leave (execve kills the others).
	killed bool
	// dieCh is closed (dead set) once the thread must leave for good: its
	// process is exiting or it was killed. Made on demand.
	dieCh chan struct{}
	dead  bool
}

// Killed reports whether the thread must leave.
func (t *Task) Killed() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.killed }

// KillOthers makes every other thread of t's process leave and waits until
// they are gone (the first step of execve). Like Linux's de_thread the wait
// is killable: it reports false, with others possibly left, when t itself
// must die meanwhile (the process is killed, or the sandbox ends).
func (t *Task) KillOthers() bool {
	p := t.Proc
	dying := t.Dying()
	for {
		p.mu.Lock()
		var others []*Task
		for _, o := range p.tasks {
			if o != t {
				others = append(others, o)
			}
		}
		ch := p.stateChanged.wait()
		p.mu.Unlock()
		if len(others) == 0 {
			return true
		}
		for _, o := range others {
			o.mu.Lock()
			o.killed = true
			o.mu.Unlock()
			o.markDying()
			o.wake()
		}
		select {
		case <-ch:
		case <-dying:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Dying returns a channel closed once the thread must leave for good: its
// process is exiting (exit_group, a fatal signal, the sandbox's end) or
// execve in another thread killed it. The waits Linux makes killable rather
// than interruptible (vfork's parent, de_thread) select on it: an ordinary
// signal does not end them, SIGKILL does.
func (t *Task) Dying() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dieCh == nil {
		t.dieCh = make(chan struct{})
	}
	if !t.dead && (t.killed || t.Proc.Exiting()) {
		t.dead = true
		close(t.dieCh)
	}
	return t.dieCh
}

// markDying closes the channel Dying returns.
func (t *Task) markDying() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return
	}
	t.dead = true
	if t.dieCh == nil {
		t.dieCh = make(chan struct{})
	}
	close(t.dieCh)
}

// SetKick installs the function that interrupts the task's guest code.
func (t *Task) SetKick(fn func()) { t.mu.Lock(); t.kick = fn; t.mu.Unlock() }

// Interrupted returns a channel closed when the task should stop waiting:
// a signal is pending for it or its process is exiting. Blocking kernel
// operations select on it and return ERESTARTSYS-family errors.
func (t *Task) Interrupted() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wakeCh == nil {
		t.wakeCh = make(chan struct{})
	}
	ch := t.wakeCh
	if t.killed || t.hasDeliverableLocked() || t.Proc.Exiting() {
		close(ch)
		t.wakeCh = nil
	}
	return ch
}

// hasDeliverableLocked reports a pending unblocked signal; t.mu held.
func (t *Task) hasDeliverableLocked() bool {
	if t.pending.set()&^t.mask != 0 {
		return true
	}
	t.Proc.mu.Lock()
	defer t.Proc.mu.Unlock()
	return t.Proc.pending.set()&^t.mask != 0
}

// HasSignal reports whether a signal is waiting to be delivered.
func (t *Task) HasSignal() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hasDeliverableLocked()
}

// wake interrupts the task's blocking wait and its guest code.
func (t *Task) wake() {
	t.mu.Lock()
	if t.wakeCh != nil {
		close(t.wakeCh)
		t.wakeCh = nil
	}
	kick := t.kick
	t.mu.Unlock()
	if kick != nil {
		kick()
	}
}

// recheckSignals wakes the task if a change of mask made a signal
// deliverable.
func (t *Task) recheckSignals() {
	if t.HasSignal() {
		t.wake()
	}
}

// SetClearTID records the address cleared and woken when the thread exits
// (CLONE_CHILD_CLEARTID, set_tid_address).
func (t *Task) SetClearTID(addr uint64) { t.mu.Lock(); t.clearTID = addr; t.mu.Unlock() }

// ClearTID returns the clear_child_tid address.
func (t *Task) ClearTID() uint64 { t.mu.Lock(); defer t.mu.Unlock(); return t.clearTID }

// SaveMask installs a temporary mask (sigsuspend, ppoll, pselect6); the
// old one comes back after the next signal delivery or RestoreMask.
func (t *Task) SaveMask(tmp uint64) {
	t.mu.Lock()
	t.savedMask, t.hasSavedMask = t.mask, true
	t.mask = tmp &^ unblockable
	t.mu.Unlock()
}

// RestoreMask undoes SaveMask when no signal was delivered.
func (t *Task) RestoreMask() {
	t.mu.Lock()
	if t.hasSavedMask {
		t.mask, t.hasSavedMask = t.savedMask, false
	}
	t.mu.Unlock()
}

// TakeSavedMask returns the mask a signal frame must restore: the saved
// one if a temporary mask is in force (which it then ends), else the
// current one.
func (t *Task) TakeSavedMask() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hasSavedMask {
		t.hasSavedMask = false
		return t.savedMask
	}
	return t.mask
}

// Restart errors: a blocking call was interrupted by a signal. The shim
// restarts the call or fails it with EINTR depending on the handler, as
// Linux does with its ERESTART* codes.
const (
	ERESTARTSYS    = unix.Errno(512) // restart if SA_RESTART, else EINTR
	ERESTARTNOINTR = unix.Errno(513) // always restart
	ERESTARTNOHAND = unix.Errno(514) // restart only if no handler ran
)

package kernel

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// Memory is the guest memory a task may touch: only through checked copies.
type Memory interface {
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyOut(addr uint64, src []byte) (int, error)
}

// Task is one guest thread: the kernel's only task type. Its pid-space
// number is TID; the thread-group leader's TID is the process's PID.
//
// The machine state (Regs, Mem, AS, Thread, CPUTime) belongs to the
// goroutine that runs the task (Run): only it, and the syscalls it serves,
// read or change them. The platform is reached through its interfaces only.
type Task struct {
	TID  int
	Proc *Process

	// Regs are the guest's registers while the kernel serves a trap.
	Regs *platform.Regs
	// Mem is the guest memory (the platform address space, or a fake in
	// tests); AS and Thread are set when the task runs on a platform.
	Mem    Memory
	AS     platform.AddressSpace
	Thread platform.Thread
	// CPUTime reports the guest's CPU time for the CPU-time clocks.
	CPUTime func() (int64, error)
	// abi serves the task's syscalls; inherited from the parent.
	abi ABI
	// afterSyscall is set after a syscall so signal delivery can restart it.
	afterSyscall bool

	mu       sync.Mutex
	mask     uint64
	pending  sigQueue
	altStack AltStack
	clearTID uint64
	// robustList is the set_robust_list head (kernel/robust.go).
	robustList uint64
	// wakeCh is closed when the task must leave a blocking wait (a signal
	// arrived, or the process is dying); a new one is made on demand.
	wakeCh chan struct{}
	// kick pushes the task out of guest code (set by whoever runs it).
	kick func()
	// sleeper is the futex wait the task sleeps in on its OS thread
	// (Futexes.FutexWaitTask), which wake interrupts.
	sleeper *futexWaiter
	// savedMask is the mask to restore after a signal interrupts
	// sigsuspend/ppoll/pselect, which run with a temporary mask.
	savedMask    uint64
	hasSavedMask bool
	// waiting: the temporary mask is sigtimedwait's, whose awaited
	// signals still count as blocked when sent (Linux's real_blocked).
	waiting bool
	// killed: this thread alone must leave (execve kills the others).
	killed bool
	// dieCh is closed (dead set) once the thread must leave for good: its
	// process is exiting or it was killed. Made on demand.
	dieCh chan struct{}
	dead  bool
	// sched: the scheduling attributes the guest set (sched.go).
	sched SchedAttr
}

// Killed reports whether the thread must leave.
func (t *Task) Killed() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.killed }

// KillOthers makes every other thread of t's process leave and waits until
// they are gone (the first step of execve). Like Linux's de_thread the wait
// is killable: it reports false, with others possibly left, when t itself
// must die meanwhile (the process is killed, or the sandbox ends).
func (t *Task) KillOthers() bool {
	p := t.Proc
	dying := t.dying()
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

// waitContext is the context.Context of one blocking wait: its Done channel
// is one of the task's wake channels (made on demand, as before contexts).
// A channel is pointer-shaped, so making a waitContext allocates nothing
// and the syscall path pays no more than the channel it always made.
type waitContext <-chan struct{}

func (c waitContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c waitContext) Done() <-chan struct{}       { return c }
func (c waitContext) Value(any) any               { return nil }
func (c waitContext) Err() error {
	select {
	case <-c:
		return context.Canceled
	default:
		return nil
	}
}

// Interruptible returns the context of an interruptible wait (Linux's
// TASK_INTERRUPTIBLE): done when a signal is to be delivered to the task or
// it must die. Blocking kernel operations take it and return
// ERESTARTSYS-family errors when it is done; a wait takes a new one each
// time (a delivered signal ends the old one for good).
func (t *Task) Interruptible() context.Context { return waitContext(t.interrupted()) }

// Killable returns the context of a killable wait (TASK_KILLABLE): done
// only once the thread must leave for good (see dying). Ordinary signals do
// not end it.
func (t *Task) Killable() context.Context { return waitContext(t.dying()) }

// dying returns a channel closed once the thread must leave for good: its
// process is exiting (exit_group, a fatal signal, the sandbox's end) or
// execve in another thread killed it. The waits Linux makes killable rather
// than interruptible (vfork's parent, de_thread) select on it: an ordinary
// signal does not end them, SIGKILL does.
func (t *Task) dying() <-chan struct{} {
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

// markDying closes the channel dying returns.
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

// interrupted returns a channel closed when the task should stop waiting:
// a signal is pending for it or its process is exiting (Interruptible).
func (t *Task) interrupted() <-chan struct{} {
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
	if t.sleeper != nil {
		t.sleeper.interrupt()
	}
	kick := t.kick
	t.mu.Unlock()
	if kick != nil {
		kick()
	}
}

// setSleeper registers w as the task's OS-thread futex wait (nil: none).
// It refuses, reporting false, when the wait would be interrupted at once,
// as interrupted's channel would be closed.
func (t *Task) setSleeper(w *futexWaiter) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w != nil && (t.killed || t.hasDeliverableLocked() || t.Proc.Exiting()) {
		return false
	}
	t.sleeper = w
	return true
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
func (t *Task) SaveMask(tmp uint64) { t.saveMask(tmp, false) }

// SaveMaskWaiting is SaveMask for sigtimedwait: the signals the saved mask
// blocks are still blocked to a sender, which queues them even when
// ignored, or dropped by the guest's init, for the wait to take.
func (t *Task) SaveMaskWaiting(tmp uint64) { t.saveMask(tmp, true) }

func (t *Task) saveMask(tmp uint64, waiting bool) {
	t.mu.Lock()
	t.savedMask, t.hasSavedMask, t.waiting = t.mask, true, waiting
	t.mask = tmp &^ unblockable
	t.mu.Unlock()
}

// RestoreMask undoes SaveMask when no signal was delivered.
func (t *Task) RestoreMask() {
	t.mu.Lock()
	if t.hasSavedMask {
		t.mask, t.hasSavedMask, t.waiting = t.savedMask, false, false
	}
	t.mu.Unlock()
}

// blocks reports whether sig is blocked to a sender: in the mask, or in
// the one sigtimedwait saved.
func (t *Task) blocks(sig unix.Signal) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.mask
	if t.waiting {
		m |= t.savedMask
	}
	return m&sigBit(sig) != 0
}

// TakeSavedMask returns the mask a signal frame must restore: the saved
// one if a temporary mask is in force (which it then ends), else the
// current one.
func (t *Task) TakeSavedMask() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hasSavedMask {
		t.hasSavedMask, t.waiting = false, false
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

// CopyIn copies n bytes of guest memory at addr; EFAULT if any is not
// readable.
func (t *Task) CopyIn(addr uint64, n int) ([]byte, error) {
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	if _, err := t.Mem.CopyIn(addr, buf); err != nil {
		return nil, unix.EFAULT
	}
	return buf, nil
}

// CopyOut copies b into guest memory at addr; EFAULT if any byte is not
// writable.
func (t *Task) CopyOut(addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := t.Mem.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

// ReadU64 reads a 64-bit guest word.
func (t *Task) ReadU64(addr uint64) (uint64, error) {
	b, err := t.CopyIn(addr, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// WriteU64 writes a 64-bit guest word.
func (t *Task) WriteU64(addr, v uint64) error {
	return t.CopyOut(addr, binary.LittleEndian.AppendUint64(nil, v))
}

// WriteU32 writes a 32-bit guest word.
func (t *Task) WriteU32(addr uint64, v uint32) error {
	return t.CopyOut(addr, binary.LittleEndian.AppendUint32(nil, v))
}

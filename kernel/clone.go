package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// CloneArgs are clone's arguments (fork and vfork are clones too).
type CloneArgs struct {
	Flags     uint64 // CLONE_* flags; the low byte is the exit signal
	Stack     uint64 // the child's stack pointer; 0 keeps the parent's
	ParentTID uint64 // CLONE_PARENT_SETTID: where the parent gets the tid
	ChildTID  uint64 // CLONE_CHILD_SETTID/CLEARTID: the child's tid word
	TLS       uint64 // CLONE_SETTLS: the child's fs base
}

// supportedClone are the clone flags the kernel serves. Namespace flags and
// the like are refused rather than ignored.
const supportedClone = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID |
	unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | unix.CLONE_VFORK | unix.CLONE_DETACHED | 0xff |
	unix.CLONE_PIDFD

// Clone creates a thread (CLONE_THREAD) or a process sharing (CLONE_VM) or
// copying the caller's address space, starts it on its own goroutine, and
// returns its tid. The child resumes from the caller's registers with rax
// 0. With CLONE_VFORK the caller waits until the child execs or exits.
func (t *Task) Clone(c CloneArgs) (int, error) {
	f := c.Flags
	if f&^supportedClone != 0 {
		t.Proc.k.Unsupported(fmt.Sprintf("clone flags %#x", f&^supportedClone), unix.SYS_CLONE, t.Proc.PID)
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0 || f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	// clone(2) returns the pidfd where the parent's tid would go: the two
	// cannot be combined, and a thread has no pidfd of its own.
	if f&unix.CLONE_PIDFD != 0 && f&(unix.CLONE_THREAD|unix.CLONE_PARENT_SETTID|unix.CLONE_DETACHED) != 0 {
		return 0, unix.EINVAL
	}
	if t.AS == nil {
		return 0, unix.ENOSYS // not running on a platform (unit tests)
	}
	if err := t.checkNproc(); err != nil {
		return 0, err
	}
	child, err := t.cloneTask(f)
	if err != nil {
		return 0, err
	}
	tid := child.TID
	regs := *t.Regs
	regs.Rax = 0
	if c.Stack != 0 {
		regs.Rsp = c.Stack
	}
	if f&unix.CLONE_SETTLS != 0 {
		regs.Fs_base = c.TLS
	}
	child.Regs = &regs
	child.abi = t.abi
	child.CPUTime = t.CPUTime
	if child.AS != t.AS {
		child.CPUTime = cpuTime(child.AS)
	}
	if f&unix.CLONE_PARENT_SETTID != 0 {
		_ = t.WriteU32(c.ParentTID, uint32(tid))
	}
	if f&unix.CLONE_PIDFD != 0 {
		// Made before the child runs, so that it cannot have been reaped.
		if fd, err := t.Proc.installPidfd(child.Proc, 0); err == nil {
			_ = t.WriteU32(c.ParentTID, uint32(fd))
		}
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		_ = child.WriteU32(c.ChildTID, uint32(tid))
	}
	if f&unix.CLONE_CHILD_CLEARTID != 0 {
		child.SetClearTID(c.ChildTID)
	}
	vforkDone := child.Proc.VforkDone()
	child.start()
	if f&unix.CLONE_VFORK != 0 && vforkDone != nil && f&unix.CLONE_THREAD == 0 {
		// The parent sleeps until the child execs or exits. Like Linux's,
		// the wait is killable but not interruptible: an ordinary signal
		// waits for the child (it borrows our stack), a fatal one does not.
		select {
		case <-vforkDone:
		case <-t.Killable().Done():
		}
	}
	return tid, nil
}

// cloneTask makes the child's kernel task and its platform thread (and
// address space, for a fork).
func (t *Task) cloneTask(f uint64) (*Task, error) {
	var (
		kt     *Task
		as     platform.AddressSpace
		thread platform.Thread
		err    error
	)
	switch {
	case f&unix.CLONE_THREAD != 0:
		if kt, err = t.NewThread(); err != nil {
			return nil, err
		}
		as = t.AS
		if thread, err = as.NewThread(); err != nil {
			kt.ExitTask(0)
			return nil, fmt.Errorf("clone thread: %w", err)
		}
	case f&unix.CLONE_VM != 0:
		// A new process sharing the address space (vfork, posix_spawn):
		// a new host thread in the same stub, seen by the guest as a
		// separate process.
		as = t.AS
		if thread, err = as.NewThread(); err != nil {
			return nil, fmt.Errorf("clone vm: %w", err)
		}
		t.Proc.MM.Get()
		kt, err = t.Fork(ForkOptions{MM: t.Proc.MM, ShareFiles: f&unix.CLONE_FILES != 0, ShareFS: f&unix.CLONE_FS != 0,
			ExitSignal: unix.Signal(f & 0xff), Vfork: f&unix.CLONE_VFORK != 0})
		if err != nil {
			t.Proc.MM.Put()
			thread.Exit()
			return nil, err
		}
	default:
		if err := t.Proc.MM.CanFork(); err != nil {
			return nil, err
		}
		if as, err = t.AS.Fork(); err != nil {
			return nil, fmt.Errorf("fork: %w", err)
		}
		// The child's host thread comes before its kernel process: once
		// t.Fork has made the process, the guest can see it (wait, kill,
		// /proc), so nothing after it may fail.
		if thread, err = as.NewThread(); err != nil {
			as.Release()
			return nil, fmt.Errorf("fork thread: %w", err)
		}
		m := t.Proc.MM.Fork(as)
		kt, err = t.Fork(ForkOptions{MM: m, ShareFiles: f&unix.CLONE_FILES != 0, ShareFS: f&unix.CLONE_FS != 0,
			ExitSignal: unix.Signal(f & 0xff), Vfork: f&unix.CLONE_VFORK != 0})
		if err != nil {
			thread.Exit()
			m.Release() // returns the copy's charge to the budget
			as.Release()
			return nil, err
		}
	}
	kt.AS, kt.Mem, kt.Thread = as, as, thread
	return kt, nil
}

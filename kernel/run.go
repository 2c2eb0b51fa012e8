package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// ABI serves the syscalls of a task's program: the syscall table of an
// application binary interface (shim/linux for Linux x86-64), supplied by
// whoever starts the first process and inherited by every task after it.
// The kernel's run loop calls it for every syscall the guest traps with.
type ABI interface {
	// Syscall serves the syscall t's registers describe and writes its
	// result into them. It returns an *Exit when the thread must leave.
	Syscall(t *Task) *Exit
}

// Exit ends the calling thread: returned by a syscall when it must leave
// (exit, exit_group, a fatal signal taken inside the call).
type Exit struct {
	Code   int         // exit status when Signal is 0
	Signal unix.Signal // the signal that killed the process
}

func (e *Exit) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by %v", e.Signal)
	}
	return fmt.Sprintf("exited with status %d", e.Code)
}

// Run drives t, which Load or Execve gave an image, on the calling
// goroutine until the thread exits. The sandbox runs the first task this
// way; clone runs each new task on a goroutine of its own (start).
//
// A panic while serving the thread (a kernel bug) ends this sandbox, not
// the process: the kernel records it (Crash: audit event, every guest
// process killed) and the thread leaves as if killed.
func (t *Task) Run() {
	k := t.Proc.k
	k.tasks.Add(1)
	defer k.tasks.Done()
	if k.cfg.Serving != nil {
		defer k.cfg.Serving()()
	}
	t.run()
}

// start runs a new task (clone, fork) on its own goroutine.
func (t *Task) start() {
	k := t.Proc.k
	k.tasks.Add(1)
	go func() {
		defer k.tasks.Done()
		// run recovers a panic of its own; this covers anything after it.
		defer k.Recover()
		if k.cfg.Serving != nil {
			defer k.cfg.Serving()()
		}
		t.run()
	}()
}

// WaitTasks waits until every task started by Run or by a clone has left.
func (k *Kernel) WaitTasks() { k.tasks.Wait() }

func (t *Task) run() {
	defer func() {
		if r := recover(); r != nil {
			t.Proc.k.Crash(r, debug.Stack())
			t.abandon()
		}
	}()
	code := 0
	if err := t.Thread.Bind(); err != nil {
		t.logErr("binding a guest thread", err)
		t.Proc.Kill(WaitStatusSignaled(unix.SIGKILL, false))
	} else {
		t.SetKick(t.Thread.Interrupt)
		code = t.loop()
	}
	t.SetKick(nil)
	t.exitThread(code)
}

// loop runs guest code and serves its traps; it returns the thread's exit
// code when the thread leaves.
func (t *Task) loop() int {
	for {
		if t.Proc.Exiting() || t.Killed() {
			return 0
		}
		t.WaitWhileStopped()
		t.deliverSignals()
		if t.Proc.Exiting() || t.Killed() {
			return 0
		}
		if t.throttled() {
			return 0
		}
		t.afterSyscall = false
		ev, err := t.Thread.Switch(t.Regs)
		if err != nil {
			// The stub vanished under us (killed from outside the kernel):
			// the process cannot go on.
			if !errors.Is(err, unix.ESRCH) {
				t.logErr("running guest code", err)
			} else if !t.Proc.Exiting() && !t.Killed() {
				// Nobody in the kernel killed it: the host did (the stub's
				// seccomp filter, the OOM killer, a signal from outside).
				// The guest only sees SIGKILL; the operator must see why
				// (issue 11: a JVM under ptrace died so, unexplained).
				t.Proc.k.cfg.Log.Warn("guest stub died outside the kernel", "pid", t.Proc.PID, "tid", t.TID, "err", err)
				t.Proc.k.AuditEvent("stub_lost", slog.Int("pid", t.Proc.PID), slog.Int("tid", t.TID),
					slog.String("err", err.Error()))
			}
			t.Proc.Kill(WaitStatusSignaled(unix.SIGKILL, false))
			return 0
		}
		if t.Proc.k.Crashing() {
			// A kernel bug ended the sandbox: whatever the guest asked
			// for in the meantime is not served.
			return 0
		}
		switch ev.Kind {
		case platform.EventSyscall:
			if exit := t.abi.Syscall(t); exit != nil {
				return exit.Code
			}
			t.afterSyscall = true
		case platform.EventFault:
			t.Proc.k.cfg.Log.Debug("guest fault", "pid", t.Proc.PID, "tid", t.TID, "signal", ev.Signal,
				"code", ev.Code, "addr", ev.Addr, "rip", t.Regs.Rip)
			if ev.Signal == unix.SIGSEGV {
				// Past the end of a shared file mapping: the file may
				// have grown (retry), or it is Linux's SIGBUS.
				switch handled, sigbus := t.Proc.MM.FileFault(ev.Addr); {
				case handled:
					continue
				case sigbus:
					t.ForceSignal(SigInfo{Signo: unix.SIGBUS, Code: busAdrErr, Addr: ev.Addr})
					continue
				}
			}
			t.ForceSignal(SigInfo{Signo: ev.Signal, Code: ev.Code, Addr: ev.Addr})
		case platform.EventInterrupt:
			t.checkCPUTimers() // the CPU timers' sampler interrupts (cputimer.go)
		}
	}
}

// busAdrErr is BUS_ADRERR, the si_code of a SIGBUS for an access past the
// end of a mapped file.
const busAdrErr = 2

// abandon removes a thread whose goroutine panicked, so that the end of
// the sandbox does not wait for it. The kernel's state may be broken: a
// second panic here is swallowed (the first is recorded), and if a lock the
// panic left held makes this block, only this goroutine is stuck; the
// sandbox's waiter gives up after a grace period and tears the platform
// down.
func (t *Task) abandon() {
	defer func() { _ = recover() }()
	t.SetKick(nil)
	// Everything dies before this thread's exit can be seen (a parent
	// waiting for it must not run on as if nothing happened).
	t.Proc.k.KillEverything(unix.SIGKILL)
	t.exitThread(0)
}

func (t *Task) logErr(what string, err error) {
	t.Proc.k.cfg.Log.Error(what, "tid", t.TID, "err", err)
}

// exitThread removes the thread: the last one turns the process into a
// zombie and releases the address space if no other process shares it.
func (t *Task) exitThread(code int) {
	t.exitRobustList() // before clear_child_tid, as Linux's mm_release
	if addr := t.ClearTID(); addr != 0 && !t.Proc.Exiting() {
		// CLONE_CHILD_CLEARTID: pthread_join waits on this word.
		if err := t.WriteU32(addr, 0); err == nil {
			_, _ = t.Proc.k.Futexes.FutexWake(FutexKey{Space: t.Proc.MM, Addr: addr}, 1, ^uint32(0))
		}
	}
	m := t.Proc.MM
	if !t.ExitTask(code) {
		if t.Thread != nil {
			t.Thread.Exit()
		}
		return
	}
	if m.Put() {
		t.AS.Release()
		m.Release()
	} else if t.Thread != nil {
		t.Thread.Exit() // another process (vfork parent) still uses it
	}
}

// deliverSignals runs pending signals: default actions in the kernel, and
// for a handled one, a signal frame on the guest stack. It also finishes a
// syscall that was interrupted (restart or EINTR).
func (t *Task) deliverSignals() {
	// After rt_sigreturn (orig_rax -1) rax is the restored register, not a
	// syscall result.
	restart := t.afterSyscall && int64(t.Regs.Orig_rax) >= 0 && isRestart(t.Regs.Rax)
	if !restart && !t.HasSignal() {
		return
	}
	d, ok := t.NextSignal()
	if restart {
		errno := unix.Errno(-int64(t.Regs.Rax))
		switch {
		case !ok || errno == ERESTARTNOINTR ||
			(errno == ERESTARTSYS && d.Action.Flags&SARestart != 0):
			// No handler runs, or it asked for restarts: run the call again.
			t.Regs.Rax = t.Regs.Orig_rax
			t.Regs.Rip -= 2
		default:
			t.Regs.Rax = negErrno(unix.EINTR)
		}
		t.afterSyscall = false
	}
	if !ok {
		t.RestoreMask()
		return
	}
	if err := t.setupFrame(d); err != nil {
		// An unusable stack is fatal, as on Linux (SIGSEGV, forced).
		t.Proc.Kill(WaitStatusSignaled(unix.SIGSEGV, true))
	}
}

func isRestart(rax uint64) bool {
	e := unix.Errno(-int64(rax))
	return e == ERESTARTSYS || e == ERESTARTNOINTR || e == ERESTARTNOHAND
}

func negErrno(e unix.Errno) uint64 { return uint64(-int64(e)) }

// Package linux is the Linux x86-64 syscall ABI: it decodes a trapped guest
// syscall from the registers, copies arguments in through the platform's
// checked copy functions, calls the kernel, and copies results out.
package linux

import (
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/platform"
)

// Memory is the guest memory a task may touch: only through checked copies.
type Memory interface {
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyOut(addr uint64, src []byte) (int, error)
}

// Task is one guest thread as the shim sees it.
type Task struct {
	K    *kernel.Task
	Proc *kernel.Process // K.Proc
	// Mem is the guest memory (the platform address space, or a fake in
	// tests); AS and Thread are set when the task runs on a platform.
	Mem    Memory
	AS     platform.AddressSpace
	Thread platform.Thread
	Regs   *platform.Regs
	// CPUTime reports the guest's CPU time for the CPU-time clocks.
	CPUTime func() (int64, error)
	// Log receives internal errors (host failures), never guest data.
	Log *slog.Logger
	// Usage, if not nil, records the syscalls issued; a guest's tasks share it.
	Usage *Usage
	// Hooks are the sandbox's services for process management.
	Hooks *Hooks

	// restart is set after a syscall so signal delivery can restart it.
	afterSyscall bool
}

// Hooks are what the shim needs from whoever runs guests (the sandbox):
// loading programs and running new tasks.
type Hooks struct {
	// Exec replaces t's program image: new address space, thread and
	// registers. On error the old image is untouched.
	Exec func(t *Task, path string, argv, envp []string) error
	// Start runs a new task on its own goroutine (locked to an OS thread):
	// it must call Run(t) there.
	Start func(t *Task)
	// PanicOn is a test hook, nil outside tests: Dispatch panics, as a
	// kernel bug would, on a syscall number for which it returns true. It
	// is set only by the embedder (litebox's hidden --test-panic-syscall
	// flag); nothing a guest does can set it.
	PanicOn func(nr uint64) bool
}

// Exit ends the calling thread: returned by Dispatch when it must leave.
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

type args [6]uint64

type handler func(t *Task, a args) (uint64, error)

// Name returns the name of syscall nr.
func Name(nr uint64) string {
	if nr < uint64(len(sysNames)) && sysNames[nr] != "" {
		return sysNames[nr]
	}
	return fmt.Sprintf("syscall_%d", nr)
}

// Number returns the number of the syscall called name.
func Number(name string) (uint64, bool) {
	for nr, n := range sysNames {
		if n == name && n != "" {
			return uint64(nr), true
		}
	}
	return 0, false
}

// Implemented reports whether the shim serves syscall nr.
func Implemented(nr uint64) bool { return nr < uint64(len(table)) && table[nr].fn != nil }

// Note says what of syscall nr the shim does not support ("" when nothing
// is known to be missing, or it is not implemented at all).
func Note(nr uint64) string {
	if nr >= uint64(len(table)) {
		return ""
	}
	return table[nr].note
}

// NumSyscalls is one past the highest syscall number the shim knows a name for.
func NumSyscalls() int { return len(sysNames) }

// Dispatch serves the syscall the task's registers describe and writes the
// result into rax. It returns an *Exit when the process has ended.
func Dispatch(t *Task) *Exit {
	r := t.Regs
	nr := r.Orig_rax
	a := args{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}
	t.Usage.record(nr)
	if h := t.Hooks; h != nil && h.PanicOn != nil && h.PanicOn(nr) {
		panic("test hook: injected kernel panic in " + Name(nr))
	}
	if nr >= uint64(len(table)) || table[nr].fn == nil {
		t.Proc.Kernel().Unsupported(Name(nr), nr, t.Proc.PID)
		r.Rax = negErrno(unix.ENOSYS)
		return nil
	}
	e := &table[nr]
	if e.flags&mayBlock != 0 && (e.blocks == nil || e.blocks(a)) {
		if p, ok := t.Thread.(parker); ok {
			p.Park()
		}
	}
	ret, err := e.fn(t, a)
	if err == nil {
		r.Rax = ret
		return nil
	}
	var exit *Exit
	if errors.As(err, &exit) {
		return exit
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		// Not a guest-visible error: a host failure or a kernel bug. The
		// guest sees EIO; the operator sees the cause.
		if t.Log != nil {
			t.Log.Error("syscall failed inside the kernel", "syscall", Name(nr), "err", err)
		}
		errno = unix.EIO
	}
	switch errno {
	case unix.EACCES, unix.EPERM, unix.EROFS:
		t.Proc.Kernel().AuditEvent("denied", slog.String("syscall", Name(nr)),
			slog.String("errno", unix.ErrnoName(errno)), slog.Int("pid", t.Proc.PID))
	case unix.EMFILE:
		t.Proc.Kernel().AuditEvent("limit_exceeded", slog.String("limit", "nofile"),
			slog.String("syscall", Name(nr)), slog.Int("pid", t.Proc.PID))
	case unix.ENFILE:
		// The sandbox-wide cap on files held open by mappings.
		t.Proc.Kernel().AuditEvent("limit_exceeded", slog.String("limit", "mapped-files"),
			slog.String("syscall", Name(nr)), slog.Int("pid", t.Proc.PID))
	}
	r.Rax = negErrno(errno)
	return nil
}

func negErrno(e unix.Errno) uint64 { return uint64(-int64(e)) }

// parker is implemented by platform threads that can be told a syscall may
// keep litebox busy for long (systrap: the stub stops spinning).
type parker interface{ Park() }

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
)

// ABI is the Linux x86-64 syscall ABI: the kernel's run loop hands it each
// trapped syscall (it implements kernel.ABI). One ABI serves a guest run's
// tasks; the zero value is ready to use.
type ABI struct {
	// Usage, if not nil, records the syscalls issued.
	Usage *Usage
	// PanicOn is a test hook, nil outside tests: Syscall panics, as a
	// kernel bug would, on a syscall number for which it returns true. It
	// is set only by the embedder (litebox's hidden --test-panic-syscall
	// flag); nothing a guest does can set it.
	PanicOn func(nr uint64) bool
}

type args [6]uint64

type handler func(t *kernel.Task, a args) (uint64, error)

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

// Syscall serves the syscall the task's registers describe and writes the
// result into rax. It returns a *kernel.Exit when the thread must leave.
func (abi *ABI) Syscall(t *kernel.Task) *kernel.Exit {
	r := t.Regs
	nr := r.Orig_rax
	a := args{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}
	abi.Usage.record(nr)
	if abi.PanicOn != nil && abi.PanicOn(nr) {
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
	var exit *kernel.Exit
	if errors.As(err, &exit) {
		return exit
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		// Not a guest-visible error: a host failure or a kernel bug. The
		// guest sees EIO; the operator sees the cause.
		t.Proc.Kernel().Log().Error("syscall failed inside the kernel", "syscall", Name(nr), "err", err)
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

package kernel

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"
)

// InternalError is a bug in litebox (a panic) caught on a goroutine that
// served this sandbox. The sandbox it happened in is ended; the process and
// any other sandbox in it go on.
type InternalError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

// Error is one line: the panic value with any line breaks folded, so that
// the CLI can print exactly one line and keep the stack out of the user's
// terminal (it is in the audit log).
func (e *InternalError) Error() string {
	return "internal error: " + strings.Join(strings.Fields(fmt.Sprint(e.Value)), " ")
}

// Recover is deferred first thing on every goroutine that serves the
// sandbox (guest threads, timers, helpers): a panic below it ends this
// sandbox through Crash instead of the whole process. It must be deferred
// directly (defer k.Recover()), as recover only works there.
func (k *Kernel) Recover() {
	if r := recover(); r != nil {
		k.Crash(r, debug.Stack())
	}
}

// Crash records a kernel bug and ends the sandbox: a kernel_error audit
// event with the stack, then SIGKILL for every guest process. Only the first
// crash is recorded; later ones (other threads tripping over the same
// broken state) only add to the log at debug level.
//
// The kill runs on a goroutine of its own: the panicking goroutine may have
// left kernel locks held, and the caller must be able to go on and unwind
// its task. Whoever waits for the sandbox's end gives up after a grace
// period once Crashed is closed (the platform's teardown then removes every
// stub), so a kill that cannot complete leaves a stuck goroutine, never a
// stuck process.
func (k *Kernel) Crash(v any, stack []byte) {
	// A panic caught on another goroutine and raised again here (the
	// platform's locked thread) carries the stack where it happened.
	if o, ok := v.(interface{ PanicStack() []byte }); ok {
		stack = append(append(append([]byte(nil), o.PanicStack()...), "\nraised again on:\n"...), stack...)
	}
	first := false
	k.crashOnce.Do(func() {
		first = true
		k.crash = &InternalError{Value: v, Stack: stack}
		k.crashing.Store(true)
	})
	if !first {
		k.cfg.Log.Debug("further kernel panic after the first", "panic", fmt.Sprint(v))
		return
	}
	// The stack goes to the audit log and to whoever embeds the sandbox
	// (InternalError), never to the diagnostic log: the CLI's stderr gets
	// one line.
	k.AuditCritical("kernel_error", slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(stack)))
	close(k.crashed)
	go func() {
		// A second panic here (the state is broken) must not take the
		// process down either; the crash is already recorded.
		defer func() { _ = recover() }()
		k.KillEverything(unix.SIGKILL)
	}()
}

// Crashing reports, cheaply enough for every syscall, whether a kernel bug
// has ended the sandbox: no guest syscall is served after that.
func (k *Kernel) Crashing() bool { return k.crashing.Load() }

// Crashed is closed once a kernel bug has ended the sandbox.
func (k *Kernel) Crashed() <-chan struct{} { return k.crashed }

// CrashError returns the first recorded kernel bug, or nil.
func (k *Kernel) CrashError() *InternalError {
	select {
	case <-k.crashed:
		return k.crash
	default:
		return nil
	}
}

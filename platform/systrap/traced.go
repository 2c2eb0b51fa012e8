package systrap

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// tracedOptions: a tracee dies with its tracer, and injected clones report
// the new stub's host pid (stubs live in their own pid namespace).
const tracedOptions = unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK

// traced is a stub thread while litebox traces it: the holder always, other
// stub threads only while they are being cloned.
type traced struct {
	tid  int
	base platform.Regs // registers to inject with
}

func (t *traced) waitStop() (unix.Signal, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(t.tid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		break
	}
	switch {
	case ws.Stopped():
		return unix.Signal(int(ws) >> 8 & 0xffff), nil
	case ws.Exited(), ws.Signaled():
		return 0, &DeadError{}
	}
	return 0, fmt.Errorf("unexpected wait status %#x", int(ws))
}

// abandon kills a tracee of the calling OS thread that cannot be set up
// (its whole process: a stub with a half-made thread is of no use) and
// reaps it. A traced tracee that dies stays a zombie until its tracer
// reaps it, and a zombie in the stubs' pid namespace would keep the holder
// from ever finishing its own exit.
func (t *traced) abandon() {
	_ = unix.Kill(t.tid, unix.SIGKILL) // any tid of a process names the whole process
	t.reap()
}

// reap waits for a killed tracee to be gone.
func (t *traced) reap() {
	for {
		if _, err := t.waitStop(); err != nil {
			return
		}
		_ = unix.PtraceCont(t.tid, 0)
	}
}

// inject runs one syscall at the stub's inject point and returns its
// result; the thread must be in a ptrace stop.
func (t *traced) inject(nr uintptr, args ...uint64) (uint64, error) {
	r := t.base
	r.Rip = holderStub().Inject
	r.Rax = uint64(nr)
	r.Orig_rax = ^uint64(0)
	dst := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*dst[i] = a
	}
	if err := unix.PtraceSetRegs(t.tid, &r); err != nil {
		return 0, fmt.Errorf("systrap: inject setregs: %w", err)
	}
	if err := unix.PtraceCont(t.tid, 0); err != nil {
		return 0, err
	}
	sig, err := t.stopAt(holderStub().Inject+3, &r)
	if err != nil {
		return 0, err
	}
	_ = sig
	if ret := int64(r.Rax); ret < 0 && ret > -4096 {
		return 0, unix.Errno(-ret)
	}
	return r.Rax, nil
}

// stopAt waits for the int3 that ends an injection, passing over stray
// interrupt signals, and loads the registers into r.
func (t *traced) stopAt(trapAt uint64, r *platform.Regs) (unix.Signal, error) {
	for {
		sig, err := t.waitStop()
		if err != nil {
			return 0, err
		}
		if sig == unix.SIGSTKFLT || sig>>8 != 0 && sig&0xff != unix.SIGTRAP {
			if err := unix.PtraceCont(t.tid, 0); err != nil {
				return 0, err
			}
			continue
		}
		if err := unix.PtraceGetRegs(t.tid, r); err != nil {
			return 0, err
		}
		if sig != unix.SIGTRAP || r.Rip != trapAt {
			return 0, fmt.Errorf("systrap: injection stopped with %v at %#x", sig, r.Rip)
		}
		return sig, nil
	}
}

// clone injects clone(flags) and returns the child's host tid; the child
// is left in its attach stop, traced by the caller's OS thread.
func (t *traced) clone(flags uint64) (int, error) {
	r := t.base
	r.Rip = holderStub().CloneEntry
	r.Rax = unix.SYS_CLONE
	r.Orig_rax = ^uint64(0)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = flags, 0, 0, 0, 0, 0
	if err := unix.PtraceSetRegs(t.tid, &r); err != nil {
		return 0, fmt.Errorf("systrap: clone setregs: %w", err)
	}
	if err := unix.PtraceCont(t.tid, 0); err != nil {
		return 0, err
	}
	child := 0
	for child == 0 {
		sig, err := t.waitStop()
		if err != nil {
			return 0, err
		}
		if sig == unix.SIGTRAP|unix.PTRACE_EVENT_CLONE<<8 || sig == unix.SIGTRAP|unix.PTRACE_EVENT_FORK<<8 {
			msg, err := unix.PtraceGetEventMsg(t.tid)
			if err != nil {
				return 0, err
			}
			child = int(msg)
		} else if sig == unix.SIGTRAP {
			_ = unix.PtraceGetRegs(t.tid, &r)
			return 0, fmt.Errorf("systrap: clone failed: %w", unix.Errno(-int64(r.Rax)))
		}
		if err := unix.PtraceCont(t.tid, 0); err != nil {
			return 0, err
		}
	}
	c := &traced{tid: child}
	if _, err := t.stopAt(holderStub().CloneTrap, &r); err != nil {
		c.abandon()
		return 0, err
	}
	if _, err := c.waitStop(); err != nil { // the child's attach stop
		c.abandon()
		return 0, fmt.Errorf("systrap: clone child: %w", err)
	}
	return child, nil
}

func (t *traced) detach() error {
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(t.tid), 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("systrap: detach %d: %w", t.tid, errno)
	}
	return nil
}

// addGuestThread makes a guest thread in the stub whose hostcall thread
// (or holder) t is in a ptrace stop: it maps the slot's page and signal
// stack, clones a thread and sends it to thread_start, untraced from then
// on. It returns the new thread's host tid.
func (p *Platform) addGuestThread(t *traced, slot int) (int, error) {
	call := func(nr uintptr, args ...uint64) (uint64, error) { return t.inject(nr, args...) }
	if err := mapThread(call, slot); err != nil {
		return 0, err
	}
	return p.cloneGuestThread(t, slot)
}

// mapThread maps a guest thread's slot page and signal stack with call.
func mapThread(call func(nr uintptr, args ...uint64) (uint64, error), slot int) error {
	if _, err := call(unix.SYS_MMAP, slotAddr(slot), slotSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_SHARED|unix.MAP_FIXED, 3, uint64(slot)*slotSize); err != nil {
		return fmt.Errorf("systrap: mapping slot: %w", err)
	}
	if _, err := call(unix.SYS_MMAP, stackBase(slot), stackSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uint64(0), 0); err != nil {
		return fmt.Errorf("systrap: signal stack: %w", err)
	}
	return nil
}

// cloneGuestThread clones, from t in a ptrace stop, a guest thread whose
// slot and signal stack are mapped, and sends it to thread_start.
func (p *Platform) cloneGuestThread(t *traced, slot int) (int, error) {
	p.setStack(slot)
	tid, err := t.clone(threadFlags)
	if err != nil {
		return 0, err
	}
	c := &traced{tid: tid}
	var r platform.Regs
	err = unix.PtraceGetRegs(tid, &r)
	if err == nil {
		r.Rip = codeBase + offThreadStart
		r.R12, r.R13, r.R14 = ctrlAddr(slot), slotAddr(slot), stackTop(slot)
		r.Orig_rax = ^uint64(0)
		err = unix.PtraceSetRegs(tid, &r)
	}
	if err == nil {
		err = c.detach()
	}
	if err != nil {
		// The stub is dying under us (or broken): finish it, and reap the
		// new thread, which is ours to reap while we trace it.
		_ = unix.Kill(t.tid, unix.SIGKILL)
		c.reap()
		return 0, err
	}
	return tid, nil
}

// startHostcall sends a stub's new first thread t, in a ptrace stop, into
// the hostcall loop serving slot's CTRL entry, untraced from then on. The
// slot's page carries its completion hints.
func (p *Platform) startHostcall(t *traced, slot int) error {
	if _, err := t.inject(unix.SYS_MMAP, slotAddr(slot), slotSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_SHARED|unix.MAP_FIXED, 3, uint64(slot)*slotSize); err != nil {
		return fmt.Errorf("systrap: mapping the hostcall slot: %w", err)
	}
	var r platform.Regs
	if err := unix.PtraceGetRegs(t.tid, &r); err != nil {
		return err
	}
	r.Rip = codeBase + offHostcallLoop
	r.R12, r.R13 = ctrlAddr(slot), slotAddr(slot)
	r.R15 = uint64(p.ctrlSeq(slot))
	r.Rsp = 0 // the hostcall thread needs no stack
	r.Orig_rax = ^uint64(0)
	if err := unix.PtraceSetRegs(t.tid, &r); err != nil {
		return err
	}
	return t.detach()
}

// seizeHostcall stops the stub's hostcall thread under ptrace from the
// calling OS thread, runs fn on it, and restores and releases it exactly
// as it was. The caller holds s.hcMu, so no request is in flight.
func (s *stub) seizeHostcall(fn func(tr *traced) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(s.pid), 0, tracedOptions, 0, 0); errno != 0 {
		return fmt.Errorf("seize: %w", errno)
	}
	tr := &traced{tid: s.pid}
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(s.pid), 0, 0, 0, 0); errno != 0 {
		if tr.detach() != nil {
			tr.reap()
		}
		return fmt.Errorf("interrupt: %w", errno)
	}
	if _, err := tr.waitStop(); err != nil {
		return err // dead, and reaped by waitStop's wait
	}
	var saved platform.Regs
	if err := unix.PtraceGetRegs(s.pid, &saved); err != nil {
		if tr.detach() != nil {
			tr.reap()
		}
		return err
	}
	tr.base = saved
	err := fn(tr)
	if err != nil {
		// Something this OS thread attached (a clone child whose pid a
		// dying parent never reported) may still be traced by it, and a
		// traced zombie keeps the holder from exiting. Keep the thread
		// locked: when the goroutine ends, Go ends the OS thread, and the
		// host detaches and releases whatever it still traced.
		runtime.LockOSThread()
	}
	_ = unix.PtraceSetRegs(s.pid, &saved)
	if derr := tr.detach(); derr != nil {
		// Killed while we held it (a timeout, Release): it is a zombie
		// only we can reap.
		tr.reap()
		if err == nil {
			err = derr
		}
	}
	return err
}

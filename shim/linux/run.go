package linux

import (
	"encoding/binary"
	"errors"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/platform"
)

// Run drives the guest thread t until it exits. It must run on the
// goroutine that owns t.Thread (locked to its OS thread).
//
// A panic while serving the thread (a kernel bug) ends this sandbox, not
// the process: the kernel records it (Crash: audit event, every guest
// process killed) and the thread leaves as if killed.
func Run(t *Task) {
	defer func() {
		if r := recover(); r != nil {
			t.Proc.Kernel().Crash(r, debug.Stack())
			t.abandon()
		}
	}()
	code := 0
	if err := t.Thread.Bind(); err != nil {
		t.logErr("binding a guest thread", err)
		t.Proc.Kill(kernel.WaitStatusSignaled(unix.SIGKILL, false))
	} else {
		t.K.SetKick(t.Thread.Interrupt)
		t.K.BindOSThread()
		code = t.loop()
		t.K.UnbindOSThread()
	}
	t.K.SetKick(nil)
	t.exitThread(code)
}

// loop runs guest code and serves its traps; it returns the thread's exit
// code when the thread leaves.
func (t *Task) loop() int {
	for {
		if t.Proc.Exiting() || t.K.Killed() {
			return 0
		}
		t.K.WaitWhileStopped()
		t.deliverSignals()
		if t.Proc.Exiting() || t.K.Killed() {
			return 0
		}
		t.afterSyscall = false
		ev, err := t.Thread.Switch(t.Regs)
		if err != nil {
			// The stub vanished under us (killed from outside the kernel):
			// the process cannot go on.
			if !errors.Is(err, unix.ESRCH) {
				t.logErr("running guest code", err)
			}
			t.Proc.Kill(kernel.WaitStatusSignaled(unix.SIGKILL, false))
			return 0
		}
		if t.Proc.Kernel().Crashing() {
			// A kernel bug ended the sandbox: whatever the guest asked
			// for in the meantime is not served.
			return 0
		}
		switch ev.Kind {
		case platform.EventSyscall:
			if exit := Dispatch(t); exit != nil {
				return exit.Code
			}
			t.afterSyscall = true
		case platform.EventFault:
			if t.Log != nil {
				t.Log.Debug("guest fault", "pid", t.Proc.PID, "tid", t.K.TID, "signal", ev.Signal,
					"code", ev.Code, "addr", ev.Addr, "rip", t.Regs.Rip)
			}
			t.K.ForceSignal(kernel.SigInfo{Signo: ev.Signal, Code: ev.Code, Addr: ev.Addr})
		case platform.EventInterrupt:
		}
	}
}

// abandon removes a thread whose goroutine panicked, so that the end of
// the sandbox does not wait for it. The kernel's state may be broken: a
// second panic here is swallowed (the first is recorded), and if a lock the
// panic left held makes this block, only this goroutine is stuck; the
// sandbox's waiter gives up after a grace period and tears the platform
// down.
func (t *Task) abandon() {
	defer func() { _ = recover() }()
	t.K.UnbindOSThread()
	t.K.SetKick(nil)
	// Everything dies before this thread's exit can be seen (a parent
	// waiting for it must not run on as if nothing happened).
	t.Proc.Kernel().KillEverything(unix.SIGKILL)
	t.exitThread(0)
}

func (t *Task) logErr(what string, err error) {
	if t.Log != nil {
		t.Log.Error(what, "tid", t.K.TID, "err", err)
	}
}

// exitThread removes the thread: the last one turns the process into a
// zombie and releases the address space if no other process shares it.
func (t *Task) exitThread(code int) {
	if addr := t.K.ClearTID(); addr != 0 && !t.Proc.Exiting() {
		// CLONE_CHILD_CLEARTID: pthread_join waits on this word.
		if err := t.writeU32(addr, 0); err == nil {
			_, _ = t.Proc.Kernel().Futexes.FutexWake(kernel.FutexKey{Space: t.Proc.MM, Addr: addr}, 1, ^uint32(0))
		}
	}
	m := t.Proc.MM
	if !t.K.ExitTask(code) {
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
	if !restart && !t.K.HasSignal() {
		return
	}
	d, ok := t.K.NextSignal()
	if restart {
		errno := unix.Errno(-int64(t.Regs.Rax))
		switch {
		case !ok || errno == kernel.ERESTARTNOINTR ||
			(errno == kernel.ERESTARTSYS && d.Action.Flags&kernel.SARestart != 0):
			// No handler runs, or it asked for restarts: run the call again.
			t.Regs.Rax = t.Regs.Orig_rax
			t.Regs.Rip -= 2
		default:
			t.Regs.Rax = negErrno(unix.EINTR)
		}
		t.afterSyscall = false
	}
	if !ok {
		t.K.RestoreMask()
		return
	}
	if err := t.setupFrame(d); err != nil {
		// An unusable stack is fatal, as on Linux (SIGSEGV, forced).
		t.Proc.Kill(kernel.WaitStatusSignaled(unix.SIGSEGV, true))
	}
}

func isRestart(rax uint64) bool {
	e := unix.Errno(-int64(rax))
	return e == kernel.ERESTARTSYS || e == kernel.ERESTARTNOINTR || e == kernel.ERESTARTNOHAND
}

// Layout of the x86-64 signal frame (arch/x86/include/asm/sigframe.h).
const (
	ucontextSize = 304 // uc_flags, uc_link, uc_stack, uc_mcontext, uc_sigmask
	siginfoSize  = 128
	frameSize    = 8 + ucontextSize + siginfoSize
	mcontextOff  = 40
	sigmaskOff   = 296
	// uc_flags: the FP state is in XSAVE format, the frame's SS is
	// meaningful and sigreturn must restore it as is.
	ucFPXState        = 0x1 // UC_FP_XSTATE
	ucSigcontextSS    = 0x2 // UC_SIGCONTEXT_SS
	ucStrictRestoreSS = 0x4 // UC_STRICT_RESTORE_SS
)

// gregs lists the registers in struct sigcontext order (r8 ... rip).
func gregs(r *platform.Regs) []*uint64 {
	return []*uint64{&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp, &r.Rip}
}

func encodeSiginfo(info kernel.SigInfo) []byte {
	b := make([]byte, siginfoSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	switch info.Signo {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP:
		if info.Code > 0 { // a fault, not a kill
			le.PutUint64(b[16:], info.Addr)
			return b
		}
	}
	le.PutUint32(b[16:], uint32(info.Pid))
	le.PutUint32(b[20:], info.Uid)
	if info.Signo == unix.SIGCHLD {
		le.PutUint32(b[24:], uint32(info.Status))
	}
	return b
}

// setupFrame builds the rt_sigframe and points the thread at the handler.
func (t *Task) setupFrame(d kernel.Delivery) error {
	r := t.Regs
	act := d.Action
	if act.Flags&kernel.SARestorer == 0 || act.Restorer == 0 {
		return unix.EFAULT // x86-64 has no kernel-provided sigreturn trampoline
	}
	sp := r.Rsp
	alt := t.K.AltStackNow()
	onAlt := alt.Size != 0 && sp-alt.Sp < alt.Size
	if act.Flags&kernel.SAOnStack != 0 && alt.Flags&2 == 0 && alt.Size != 0 && !onAlt {
		sp = alt.Sp + alt.Size
	} else {
		sp -= 128 // the red zone below the interrupted code's stack pointer
	}
	fp, err := t.Thread.FPState()
	if err != nil {
		return err
	}
	sp = (sp - uint64(len(fp))) &^ 63
	fpAddr := sp
	frame := ((sp - frameSize) &^ 15) - 8
	if err := t.copyOut(fpAddr, fp); err != nil {
		return err
	}
	b := make([]byte, frameSize)
	le := binary.LittleEndian
	le.PutUint64(b[0:], act.Restorer)
	uc := b[8:]
	le.PutUint64(uc[0:], ucFPXState|ucSigcontextSS|ucStrictRestoreSS)
	le.PutUint64(uc[16:], alt.Sp)
	flags := uint32(alt.Flags)
	if onAlt {
		flags |= 1 // SS_ONSTACK
	}
	le.PutUint32(uc[24:], flags)
	le.PutUint64(uc[32:], alt.Size)
	mc := uc[mcontextOff:]
	for i, p := range gregs(r) {
		le.PutUint64(mc[i*8:], *p)
	}
	le.PutUint64(mc[17*8:], r.Eflags)
	le.PutUint16(mc[18*8:], uint16(r.Cs))
	le.PutUint16(mc[18*8+6:], uint16(r.Ss))
	le.PutUint64(mc[21*8:], t.K.Mask()) // oldmask
	if d.Info.Signo == unix.SIGSEGV || d.Info.Signo == unix.SIGBUS {
		le.PutUint64(mc[22*8:], d.Info.Addr) // cr2
	}
	le.PutUint64(mc[23*8:], fpAddr)
	le.PutUint64(uc[sigmaskOff:], t.K.TakeSavedMask())
	copy(b[8+ucontextSize:], encodeSiginfo(d.Info))
	if err := t.copyOut(frame, b); err != nil {
		return err
	}
	// The handler starts with a clean FP state, as on Linux; the
	// interrupted code's is in the frame.
	if err := t.Thread.SetFPState(initFPState(fp)); err != nil {
		return err
	}
	newMask := t.K.Mask() | act.Mask
	if act.Flags&kernel.SANoDefer == 0 {
		newMask |= 1 << (uint(d.Info.Signo) - 1)
	}
	t.K.SetMask(newMask)
	r.Rsp = frame
	r.Rip = act.Handler
	// As Linux does on delivery: the handler runs without single-stepping
	// (a trap flag set by the interrupted code or its frame would trap
	// the handler itself, with SIGTRAP blocked), with DF clear as the ABI
	// wants, and RF clear. The frame keeps the flags for sigreturn.
	r.Eflags &^= eflagsTF | eflagsDF | eflagsRF
	r.Rdi = uint64(d.Info.Signo)
	r.Rsi = frame + 8 + ucontextSize
	r.Rdx = frame + 8
	r.Rax = 0
	return nil
}

// Flags cleared for a signal handler.
const (
	eflagsTF = 1 << 8
	eflagsDF = 1 << 10
	eflagsRF = 1 << 16
)

// sigreturn restores the state saved by setupFrame; the handler's return
// to the restorer left rsp just past pretcode, at the ucontext. A frame
// that cannot be used raises SIGSEGV, as Linux's badframe does: the guest
// controls every byte of it.
func sysRtSigreturn(t *Task, _ args) (uint64, error) {
	r := t.Regs
	uc, err := t.copyIn(r.Rsp, ucontextSize)
	if err != nil {
		return t.badFrame()
	}
	le := binary.LittleEndian
	// Linux applies the frame's mask, then the registers, and only then
	// looks at the FP state: a frame failing there leaves both restored
	// (the SIGSEGV handler sees them).
	t.K.SetMask(le.Uint64(uc[sigmaskOff:]))
	mc := uc[mcontextOff:]
	nr := *r
	for i, p := range gregs(&nr) {
		*p = le.Uint64(mc[i*8:])
	}
	// Only the flags a user program may change come back from the frame.
	const userFlags = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x40000 | 0x200000
	nr.Eflags = r.Eflags&^userFlags | le.Uint64(mc[17*8:])&userFlags
	// Not in a syscall any more: whatever rax the frame holds, it is not a
	// restart request (Linux sets orig_ax to -1 here).
	nr.Orig_rax = ^uint64(0)
	*r = nr
	if !frameSegmentsOK(le.Uint64(uc[0:]), le.Uint16(mc[18*8:]), le.Uint16(mc[18*8+6:])) {
		return t.badFrame()
	}
	if err := t.restoreFPState(le.Uint64(mc[23*8:])); err != nil {
		return t.badFrame()
	}
	t.restoreAltStack(uc[16:40])
	// rax is the interrupted code's rax: Dispatch must not overwrite it.
	return r.Rax, nil
}

// User segment selectors of 64-bit code (__USER_CS, __USER_DS).
const (
	userCS = 0x33
	userDS = 0x2b
)

// frameSegmentsOK checks the CS and SS a frame asks for. Linux loads them
// (with RPL 3) and an unusable selector faults on the return to user mode;
// SS is only taken from the frame with UC_STRICT_RESTORE_SS, otherwise an
// invalid one is replaced by __USER_DS. The guest has no LDT and no TLS
// descriptors, so the only usable data segment is __USER_DS; and litebox
// runs 64-bit code only, so the 32-bit __USER32_CS (which Linux would
// accept) is refused too. The thread keeps the platform's selectors: they
// are these values.
func frameSegmentsOK(ucFlags uint64, cs, ss uint16) bool {
	if cs|3 != userCS {
		return false
	}
	return ucFlags&ucStrictRestoreSS == 0 || ss|3 == userDS
}

// restoreFPState loads the FP state a frame points at; 0 means "reset it",
// as Linux does for a NULL fpstate.
func (t *Task) restoreFPState(fpAddr uint64) error {
	cur, err := t.Thread.FPState()
	if err != nil {
		// The platform cannot read it (a fresh thread): nothing to restore.
		return nil
	}
	if fpAddr == 0 {
		return t.Thread.SetFPState(initFPState(cur))
	}
	fp, err := t.copyIn(fpAddr, len(cur))
	if err != nil {
		return err
	}
	if len(cur) < 32 {
		return t.Thread.SetFPState(fp)
	}
	// XRSTOR faults on reserved MXCSR bits, but ptrace's SETREGSET checks
	// them only when the image says the SSE state is in use: check here.
	if mask := binary.LittleEndian.Uint32(cur[28:]); mask != 0 && binary.LittleEndian.Uint32(fp[24:])&^mask != 0 {
		return unix.EINVAL
	}
	return t.Thread.SetFPState(fp)
}

// initFPState returns the initial FP state (x87 control word 0x37f, MXCSR
// 0x1f80, every register zero, every other component in its init state) in
// the layout of cur, keeping cur's MXCSR mask and software-reserved bytes.
func initFPState(cur []byte) []byte {
	b := make([]byte, len(cur))
	copy(b, cur)
	if len(b) < 512 {
		return b // not an FXSAVE image: platforms never return one
	}
	le := binary.LittleEndian
	mask := le.Uint32(cur[28:])
	clear(b[:464])
	le.PutUint16(b[0:], 0x37f)
	le.PutUint32(b[24:], 0x1f80)
	le.PutUint32(b[28:], mask)
	if len(b) >= 576 {
		// XSAVE header: x87 and SSE come from the legacy area above (so
		// MXCSR is loaded, not kept), the other components are reset.
		clear(b[512:576])
		le.PutUint64(b[512:], 0x3)
	}
	return b
}

// restoreAltStack applies the frame's uc_stack like sigaltstack would,
// ignoring its errors (Linux squashes all but EFAULT, which cannot happen:
// the bytes are already read).
func (t *Task) restoreAltStack(b []byte) {
	le := binary.LittleEndian
	set := kernel.AltStack{Sp: le.Uint64(b[0:]), Flags: int32(le.Uint32(b[8:])), Size: le.Uint64(b[16:])}
	cur := t.K.AltStackNow()
	onStack := cur.Size != 0 && t.Regs.Rsp-cur.Sp < cur.Size
	_, _ = t.K.SigAltStack(&set, onStack)
}

// badFrame raises SIGSEGV for a frame that cannot be used, as Linux does
// (force_sig: a handler runs if it can, else the process dies). The
// syscall itself returns 0.
func (t *Task) badFrame() (uint64, error) {
	t.K.ForceSignal(kernel.SigInfo{Signo: unix.SIGSEGV, Code: kernel.SIKernel})
	return 0, nil
}

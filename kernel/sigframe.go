package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/arch"
)

// setupFrame builds the rt_sigframe (arch.RtSigframe) on the guest stack
// and points the thread at the handler.
func (t *Task) setupFrame(d Delivery) error {
	r := t.Regs
	act := d.Action
	if act.Flags&SARestorer == 0 || act.Restorer == 0 {
		return unix.EFAULT // x86-64 has no kernel-provided sigreturn trampoline
	}
	sp := r.Rsp
	alt := t.AltStackNow()
	onAlt := alt.Size != 0 && sp-alt.Sp < alt.Size
	if act.Flags&SAOnStack != 0 && alt.Flags&ssDisable == 0 && alt.Size != 0 && !onAlt {
		sp = alt.Sp + alt.Size
	} else {
		sp -= arch.RedZone
	}
	fp, err := t.Thread.FPState()
	if err != nil {
		return err
	}
	fpAddr, frame := arch.Frame(sp, len(fp))
	if err := t.CopyOut(fpAddr, fp); err != nil {
		return err
	}
	f := arch.RtSigframe{Pretcode: act.Restorer, Info: d.Info.Marshal()}
	f.UC.Flags = arch.UCFPXState | arch.UCSigcontextSS | arch.UCStrictRestoreSS
	f.UC.Stack = arch.StackT{Sp: alt.Sp, Flags: alt.Flags, Size: alt.Size}
	if onAlt {
		f.UC.Stack.Flags |= ssOnStack
	}
	mc := &f.UC.MContext
	mc.SaveRegs(r)
	mc.Oldmask = t.Mask()
	if d.Info.Signo == unix.SIGSEGV || d.Info.Signo == unix.SIGBUS {
		mc.Cr2 = d.Info.Addr
	}
	mc.Fpstate = fpAddr
	f.UC.Sigmask = t.TakeSavedMask()
	if err := t.CopyOut(frame, f.Marshal()); err != nil {
		return err
	}
	// The handler starts with a clean FP state, as on Linux; the
	// interrupted code's is in the frame.
	if err := t.Thread.SetFPState(arch.InitFPState(fp)); err != nil {
		return err
	}
	newMask := t.Mask() | act.Mask
	if act.Flags&SANoDefer == 0 {
		newMask |= 1 << (uint(d.Info.Signo) - 1)
	}
	t.SetMask(newMask)
	r.Rsp = frame
	r.Rip = act.Handler
	// As Linux does on delivery: the handler runs without single-stepping
	// (a trap flag set by the interrupted code or its frame would trap
	// the handler itself, with SIGTRAP blocked), with DF clear as the ABI
	// wants, and RF clear. The frame keeps the flags for sigreturn.
	r.Eflags &^= arch.EflagsTF | arch.EflagsDF | arch.EflagsRF
	r.Rdi = uint64(d.Info.Signo)
	r.Rsi, r.Rdx = arch.HandlerArgs(frame)
	r.Rax = 0
	return nil
}

// SignalReturn is rt_sigreturn: it restores the state setupFrame saved; the
// handler's return to the restorer left rsp just past pretcode, at the
// ucontext. A frame that cannot be used raises SIGSEGV, as Linux's badframe
// does: the guest controls every byte of it. It returns the syscall's
// result, the interrupted code's rax.
func (t *Task) SignalReturn() uint64 {
	r := t.Regs
	b, err := t.CopyIn(r.Rsp, arch.UContextSize)
	if err != nil {
		return t.badFrame()
	}
	uc, ok := arch.UnmarshalUContext(b)
	if !ok {
		return t.badFrame()
	}
	// Linux applies the frame's mask, then the registers, and only then
	// looks at the FP state: a frame failing there leaves both restored
	// (the SIGSEGV handler sees them).
	t.SetMask(uc.Sigmask)
	uc.MContext.RestoreRegs(r)
	// Not in a syscall any more: whatever rax the frame holds, it is not a
	// restart request (Linux sets orig_ax to -1 here).
	r.Orig_rax = ^uint64(0)
	if !uc.SegmentsOK() {
		return t.badFrame()
	}
	if err := t.restoreFPState(uc.MContext.Fpstate); err != nil {
		return t.badFrame()
	}
	t.restoreAltStack(uc.Stack)
	return r.Rax
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
		return t.Thread.SetFPState(arch.InitFPState(cur))
	}
	head, err := t.CopyIn(fpAddr, min(len(cur), arch.LegacyFPSize))
	if err != nil {
		return err
	}
	fp := arch.LegacyFPState(cur, head)
	if arch.FrameLayoutMatches(cur, head) {
		// The frame holds a whole image of the thread's layout (the one
		// setupFrame saved once the thread had run).
		if fp, err = t.CopyIn(fpAddr, len(cur)); err != nil {
			return err
		}
	}
	if err := arch.CheckFPState(cur, fp); err != nil {
		return err
	}
	return t.Thread.SetFPState(fp)
}

// restoreAltStack applies the frame's uc_stack like sigaltstack would,
// ignoring its errors (Linux squashes all but EFAULT, which cannot happen:
// the bytes are already read).
func (t *Task) restoreAltStack(st arch.StackT) {
	set := AltStack{Sp: st.Sp, Flags: st.Flags, Size: st.Size}
	cur := t.AltStackNow()
	onStack := cur.Size != 0 && t.Regs.Rsp-cur.Sp < cur.Size
	_, _ = t.SigAltStack(&set, onStack)
}

// badFrame raises SIGSEGV for a frame that cannot be used, as Linux does
// (force_sig: a handler runs if it can, else the process dies). The
// syscall itself returns 0.
func (t *Task) badFrame() uint64 {
	t.ForceSignal(SigInfo{Signo: unix.SIGSEGV, Code: SIKernel})
	return 0
}

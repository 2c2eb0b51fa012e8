package tests

import "testing"

// The sigreturn tests run testdata/sigreturn.c natively and under litebox
// (see runModeCases): rt_sigreturn with frames that cannot be used must
// raise SIGSEGV exactly as Linux does (a handler runs if it can, otherwise
// the process dies of it), never end the thread quietly.
var sigreturnCases = []modeCase{
	{name: "frames", prog: "sigreturn", args: []string{"frames"}, want: `unreadable frame: killed by SIGSEGV
fpstate unmapped: killed by SIGSEGV
invalid MXCSR: killed by SIGSEGV
reserved xstate_bv bit: killed by SIGSEGV
bad CS: killed by SIGSEGV
bad SS, strict: killed by SIGSEGV
bad SS, not strict (7: fixed up to __USER_DS): exited 7
NULL fpstate (7: FP state reset): exited 7
FP state (7: initial in the handler, the code's own after it): exited 7
legacy-only fpstate (7: x87/SSE restored from it): exited 7
kernel frame uc_flags: FP_XSTATE yes, SIGCONTEXT_SS yes, STRICT_RESTORE_SS yes
`},
	{name: "handled", prog: "sigreturn", args: []string{"handled"}, want: `unreadable frame: SIGSEGV handler ran, si_code=SI_KERNEL si_addr==0: yes
fpstate unmapped: SIGSEGV handler ran, si_code=SI_KERNEL, frame's mask applied (SIGUSR2 blocked): yes, frame's rip restored: yes
after siglongjmp: SIGUSR2 blocked no
`},
	{name: "restart", prog: "sigreturn", args: []string{"restart"}, want: `rax -ERESTARTSYS in the frame reached the code unchanged: yes
`},
	// Delivered before the child's first instruction, the frame holds the
	// FP image of a thread that never ran; its sigreturn must not read
	// past it (systrap killed 1 in 6 such children with SIGSEGV).
	{name: "fresh", prog: "sigreturn", args: []string{"fresh"}, want: "children signalled at once: 200 of 200 exited 3\n"},
	// The CLI reports a guest killed by SIGSEGV as 128+11.
	{name: "die", prog: "sigreturn", args: []string{"die"}, wantExit: 139, want: "bad rt_sigreturn\n"},
}

// TestSigreturnBadFrames runs every sigreturn mode natively and under litebox.
func TestSigreturnBadFrames(t *testing.T) { runModeCases(t, sigreturnCases) }

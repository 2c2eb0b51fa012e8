// sigreturn MODE: rt_sigreturn with bad frames. Linux raises SIGSEGV
// (force_sig in badframe, or a fault on the return to user mode) for a frame
// it cannot use; the thread must never just vanish. Output is identical
// natively and in the sandbox (no addresses, only booleans and names).
//
//   frames     each corruption in a child without a SIGSEGV handler: an
//              unreadable frame, fpstate pointing at an unmapped page, an
//              invalid MXCSR, reserved XSAVE header bits, a bad CS, a bad
//              SS (strict); and what must still work: a bad SS without
//              UC_STRICT_RESTORE_SS is fixed up, a NULL fpstate resets the
//              FP state, a handler starts with the initial FP state and
//              the code it interrupted gets its own back, the uc_flags of
//              the kernel's own frame
//   handled    the same SIGSEGV caught by a handler on the alternate stack:
//              si_code SI_KERNEL, the frame's mask and registers already
//              restored when it failed in the FP state
//   restart    an rax of -ERESTARTSYS in a frame is not a syscall restart
//   die        the process itself does a bad rt_sigreturn (exit 139 from
//              the CLI, killed by SIGSEGV natively)
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4

static const char *yes(int b) { return b ? "yes" : "no"; }

static void die(const char *what) {
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(99);
}

static const char *sig(int s) {
	static char buf[4][32];
	static int k;
	char *b = buf[k++ % 4];
	const char *a = sigabbrev_np(s);
	if (a == NULL)
		snprintf(b, 32, "signal %d", s);
	else
		snprintf(b, 32, "SIG%s", a);
	return b;
}

static void install(int signo, void (*fn)(int, siginfo_t *, void *), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL) < 0)
		die("sigaction");
}

static int is_blocked(int signo) {
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, signo);
}

// An address that is certainly unmapped: a page mapped and unmapped again.
static void *unmapped_page(void) {
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	munmap(p, 4096);
	return p;
}

// rt_sigreturn with rsp pointing at addr: the frame is read from there.
static void sigreturn_at(void *addr) {
	__asm__ volatile("mov %0, %%rsp\n\tmov $15, %%eax\n\tsyscall\n\tud2" ::"r"(addr) : "memory");
	__builtin_unreachable();
}

enum corruption {
	NONE,
	FP_UNMAPPED,
	FP_MXCSR,
	FP_XHEADER,
	FP_NULL,
	FP_LEGACY,
	BAD_CS,
	BAD_SS_STRICT,
	BAD_SS_LAX,
	RESTART_RAX,
	FP_UNMAPPED_MASK_RIP,
};

static volatile int corrupt;
static void *unmapped;
static volatile unsigned long uc_flags_seen;
static volatile uint32_t handler_mxcsr;
static volatile uint16_t handler_fcw;
static volatile unsigned long orig_rip, orig_rax, landed_rax;
extern char landing[], segv_marker[];

// landing records the rax it was entered with and resumes the interrupted
// code with its own rax.
__asm__(".text\n"
        ".globl landing\n"
        "landing:\n"
        "\tmovq %rax, landed_rax(%rip)\n"
        "\tmovq orig_rax(%rip), %rax\n"
        "\tjmp *orig_rip(%rip)\n"
        ".globl segv_marker\n"
        "segv_marker:\n"
        "\tud2\n");

static void on_usr1(int s, siginfo_t *si, void *ucv) {
	(void)s, (void)si;
	ucontext_t *uc = ucv;
	mcontext_t *mc = &uc->uc_mcontext;
	uint64_t *csgsfs = (uint64_t *)&mc->gregs[REG_CSGSFS];
	uc_flags_seen = uc->uc_flags;
	uint32_t mxcsr;
	uint16_t fcw;
	__asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fcw));
	handler_mxcsr = mxcsr, handler_fcw = fcw;
	switch (corrupt) {
	case FP_UNMAPPED:
		mc->fpregs = unmapped;
		break;
	case FP_MXCSR:
		mc->fpregs->mxcsr = 0xffffffff; // reserved bits set
		break;
	case FP_XHEADER:
		// xstate_bv in the XSAVE header, right after the 512-byte legacy area.
		*(uint64_t *)((char *)mc->fpregs + 512) |= 1ull << 62;
		break;
	case FP_NULL:
		mc->fpregs = NULL;
		break;
	case FP_LEGACY:
		// No FP_XSTATE_MAGIC1 in the software-reserved bytes: only the
		// legacy FXSAVE area is the frame's (Linux's fx_only restore).
		*(uint32_t *)((char *)mc->fpregs + 464) = 0;
		break;
	case BAD_CS:
		*csgsfs = (*csgsfs & ~0xffffull) | 0x1234;
		break;
	case BAD_SS_STRICT:
	case BAD_SS_LAX:
		*csgsfs = (*csgsfs & ~(0xffffull << 48)) | (0x1234ull << 48);
		if (corrupt == BAD_SS_LAX)
			uc->uc_flags &= ~UC_STRICT_RESTORE_SS;
		break;
	case RESTART_RAX:
		orig_rip = mc->gregs[REG_RIP];
		orig_rax = mc->gregs[REG_RAX];
		mc->gregs[REG_RIP] = (greg_t)landing;
		mc->gregs[REG_RAX] = -512; // -ERESTARTSYS
		break;
	case FP_UNMAPPED_MASK_RIP:
		mc->fpregs = unmapped;
		sigaddset(&uc->uc_sigmask, SIGUSR2);
		mc->gregs[REG_RIP] = (greg_t)segv_marker;
		break;
	}
}

static void raise_corrupt(int c) {
	corrupt = c;
	unmapped = unmapped_page();
	install(SIGUSR1, on_usr1, 0);
	raise(SIGUSR1);
}

// run does fn in a child and reports how the child ended.
static void run(const char *what, void (*fn)(void)) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %s\n", what, sig(WTERMSIG(st)));
}

static void c_unreadable(void) { sigreturn_at(unmapped_page()); }
static void c_fp_unmapped(void) { raise_corrupt(FP_UNMAPPED); }
static void c_fp_mxcsr(void) { raise_corrupt(FP_MXCSR); }
static void c_fp_xheader(void) { raise_corrupt(FP_XHEADER); }
static void c_bad_cs(void) { raise_corrupt(BAD_CS); }
static void c_bad_ss_strict(void) { raise_corrupt(BAD_SS_STRICT); }

static void c_bad_ss_lax(void) {
	raise_corrupt(BAD_SS_LAX);
	uint16_t ss;
	__asm__ volatile("mov %%ss, %0" : "=r"(ss));
	_exit(ss == 0x2b ? 7 : 8);
}

// A non-default SSE rounding mode and x87 control word (all x87
// exceptions unmasked).
static const uint32_t odd_mxcsr = 0x1f80 | (3 << 13);
static const uint16_t odd_fcw = 0x037f & ~0x3f;

static void set_odd_fp(void) { __asm__ volatile("ldmxcsr %0\n\tfldcw %1" ::"m"(odd_mxcsr), "m"(odd_fcw)); }

static int fp_is(uint32_t want_mxcsr, uint16_t want_fcw) {
	uint32_t mxcsr;
	uint16_t fcw;
	__asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fcw));
	return mxcsr == want_mxcsr && fcw == want_fcw;
}

// A NULL fpstate in the frame gives the initial FP state back.
static void c_fp_null(void) {
	set_odd_fp();
	raise_corrupt(FP_NULL);
	_exit(fp_is(0x1f80, 0x037f) ? 7 : 8);
}

// The handler starts with the initial FP state; the interrupted code gets
// its own back from the frame.
static void c_fp_handler(void) {
	set_odd_fp();
	raise_corrupt(NONE);
	int handler_init = handler_mxcsr == 0x1f80 && handler_fcw == 0x037f;
	_exit(handler_init && fp_is(odd_mxcsr, odd_fcw) ? 7 : 8);
}

// A frame whose FP image is only the legacy area still restores the x87
// and SSE state from it.
static void c_fp_legacy(void) {
	set_odd_fp();
	raise_corrupt(FP_LEGACY);
	_exit(fp_is(odd_mxcsr, odd_fcw) ? 7 : 8);
}

static int frames(void) {
	run("unreadable frame", c_unreadable);
	run("fpstate unmapped", c_fp_unmapped);
	run("invalid MXCSR", c_fp_mxcsr);
	run("reserved xstate_bv bit", c_fp_xheader);
	run("bad CS", c_bad_cs);
	run("bad SS, strict", c_bad_ss_strict);
	run("bad SS, not strict (7: fixed up to __USER_DS)", c_bad_ss_lax);
	run("NULL fpstate (7: FP state reset)", c_fp_null);
	run("FP state (7: initial in the handler, the code's own after it)", c_fp_handler);
	run("legacy-only fpstate (7: x87/SSE restored from it)", c_fp_legacy);

	corrupt = NONE;
	install(SIGUSR1, on_usr1, 0);
	raise(SIGUSR1);
	printf("kernel frame uc_flags: FP_XSTATE %s, SIGCONTEXT_SS %s, STRICT_RESTORE_SS %s\n",
	       yes(uc_flags_seen & UC_FP_XSTATE), yes(uc_flags_seen & UC_SIGCONTEXT_SS),
	       yes(uc_flags_seen & UC_STRICT_RESTORE_SS));
	return 0;
}

// ---- handled ----

static sigjmp_buf jb;
static volatile int segv_code, segv_usr2_blocked, segv_rip_is_marker, segv_addr_zero;

static void on_segv(int s, siginfo_t *si, void *ucv) {
	(void)s;
	ucontext_t *uc = ucv;
	segv_code = si->si_code;
	segv_addr_zero = si->si_addr == NULL;
	segv_usr2_blocked = is_blocked(SIGUSR2);
	segv_rip_is_marker = uc->uc_mcontext.gregs[REG_RIP] == (greg_t)segv_marker;
	siglongjmp(jb, 1);
}

static void altstack(void) {
	static char stack[64 * 1024];
	stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack};
	if (sigaltstack(&ss, NULL) < 0)
		die("sigaltstack");
	install(SIGSEGV, on_segv, SA_ONSTACK);
}

static const char *codename(int c) { return c == SI_KERNEL ? "SI_KERNEL" : c > 0 ? "a fault code" : "a user code"; }

static int handled(void) {
	altstack();
	void *bad = unmapped_page();
	if (sigsetjmp(jb, 1) == 0)
		sigreturn_at(bad);
	printf("unreadable frame: SIGSEGV handler ran, si_code=%s si_addr==0: %s\n", codename(segv_code),
	       yes(segv_addr_zero));

	if (sigsetjmp(jb, 1) == 0) {
		raise_corrupt(FP_UNMAPPED_MASK_RIP);
		printf("FAIL: the bad frame returned\n");
	}
	printf("fpstate unmapped: SIGSEGV handler ran, si_code=%s, frame's mask applied (SIGUSR2 blocked): %s, "
	       "frame's rip restored: %s\n",
	       codename(segv_code), yes(segv_usr2_blocked), yes(segv_rip_is_marker));
	printf("after siglongjmp: SIGUSR2 blocked %s\n", yes(is_blocked(SIGUSR2)));
	return 0;
}

// ---- fresh ----

static void on_usr1_plain(int s, siginfo_t *si, void *uc) { (void)s, (void)si, (void)uc; }

// A signal sent to a child that has not run yet is delivered on its first
// run, from the state fork left it in; its handler returns there.
static int fresh(void) {
	install(SIGUSR1, on_usr1_plain, 0);
	int n = 200, ok = 0;
	for (int i = 0; i < n; i++) {
		int p[2];
		if (pipe(p) < 0)
			die("pipe");
		pid_t c = fork();
		if (c < 0)
			die("fork");
		if (c == 0) {
			close(p[1]);
			char x;
			while (read(p[0], &x, 1) < 0 && errno == EINTR)
				;
			_exit(3);
		}
		close(p[0]);
		siginfo_t si = {.si_signo = SIGUSR1, .si_code = SI_QUEUE};
		if (syscall(SYS_rt_sigqueueinfo, c, SIGUSR1, &si) < 0)
			die("rt_sigqueueinfo");
		close(p[1]);
		int st;
		if (waitpid(c, &st, 0) != c)
			die("waitpid");
		ok += WIFEXITED(st) && WEXITSTATUS(st) == 3;
	}
	printf("children signalled at once: %d of %d exited 3\n", ok, n);
	return 0;
}

// ---- restart ----

static int restart(void) {
	corrupt = RESTART_RAX;
	install(SIGUSR1, on_usr1, 0);
	raise(SIGUSR1);
	printf("rax -ERESTARTSYS in the frame reached the code unchanged: %s\n", yes(landed_rax == (unsigned long)-512));
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "frames"))
		return frames();
	if (!strcmp(mode, "handled"))
		return handled();
	if (!strcmp(mode, "restart"))
		return restart();
	if (!strcmp(mode, "fresh"))
		return fresh();
	if (!strcmp(mode, "die")) {
		printf("bad rt_sigreturn\n");
		sigreturn_at(unmapped_page());
	}
	fprintf(stderr, "usage: sigreturn frames|handled|restart|fresh|die\n");
	return 2;
}

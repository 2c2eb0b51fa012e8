// sigfpe: integer division by zero (and INT_MIN / -1) caught by a SIGFPE
// handler with SA_SIGINFO, recovered with siglongjmp; then the default
// action in a child (killed by SIGFPE).
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile int got_signo, got_code, addr_ok;

static void on_fpe(int s, siginfo_t *si, void *uc) {
	(void)uc;
	got_signo = s;
	got_code = si->si_code;
	// si_addr is the address of the faulting instruction: not null.
	addr_ok = si->si_addr != NULL;
	siglongjmp(jb, 1);
}

static const char *fpe_code(int c) {
	switch (c) {
	case FPE_INTDIV:
		return "FPE_INTDIV";
	case FPE_INTOVF:
		return "FPE_INTOVF";
	default:
		return "other";
	}
}

static volatile int zero = 0, minus_one = -1, int_min = INT_MIN;

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fpe;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGFPE, &sa, NULL);

	for (int i = 0; i < 2; i++) {
		if (sigsetjmp(jb, 1) == 0) {
			volatile int r = 10 / zero;
			printf("10 / 0 = %d: no fault\n", r);
		} else {
			printf("10 / 0: SIG%s si_code=%s si_addr set: %s\n", sigabbrev_np(got_signo), fpe_code(got_code),
			       addr_ok ? "yes" : "no");
		}
	}
	if (sigsetjmp(jb, 1) == 0) {
		volatile int r = int_min / minus_one;
		printf("INT_MIN / -1 = %d: no fault\n", r);
	} else {
		// x86 raises #DE for the overflow too; Linux reports FPE_INTDIV.
		printf("INT_MIN / -1: SIG%s si_code=%s\n", sigabbrev_np(got_signo), fpe_code(got_code));
	}
	if (sigsetjmp(jb, 1) == 0) {
		volatile long r = 10L % (long)zero;
		printf("10 %% 0 = %ld: no fault\n", r);
	} else {
		printf("10 %% 0 (64-bit): SIG%s si_code=%s\n", sigabbrev_np(got_signo), fpe_code(got_code));
	}
	// Floating-point division by zero does not trap by default.
	volatile double dz = 0.0;
	volatile double inf = 1.0 / dz;
	printf("1.0 / 0.0 is infinite without a signal: %s\n", inf > 1e308 ? "yes" : "no");

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGFPE, SIG_DFL);
		volatile int r = 7 / zero;
		(void)r;
		_exit(1);
	}
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		printf("child without a handler: killed by SIG%s\n", sigabbrev_np(WTERMSIG(st)));
	else
		printf("child without a handler: exited %d\n", WEXITSTATUS(st));
	return 0;
}

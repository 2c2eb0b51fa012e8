// escape_sigqueue N: queued signals are bounded by RLIMIT_SIGPENDING. Sets
// the limit to N, blocks SIGRTMIN and SIGUSR1, and queues SIGRTMIN to its
// own thread with tgkill until that fails (at most 2N times). Past the
// limit, Linux fails a real-time signal sent by tgkill with EAGAIN, while
// kill() and standard signals still succeed, marking the signal pending
// without its information. Then everything is dequeued with sigtimedwait
// and counted. Exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *res(long r) {
	if (r == 0)
		return "ok";
	const char *n = strerrorname_np(errno);
	return n ? n : "unknown errno";
}

static long self_tgkill(int sig) { return syscall(SYS_tgkill, getpid(), gettid(), sig); }

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: escape_sigqueue N\n");
		return 2;
	}
	long n = atol(argv[1]);
	struct rlimit rl = {.rlim_cur = n, .rlim_max = n};
	if (setrlimit(RLIMIT_SIGPENDING, &rl) != 0)
		printf("setrlimit: %s\n", res(-1));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	long queued = 0;
	int err = 0;
	for (; queued < 2 * n; queued++) {
		if (self_tgkill(SIGRTMIN) != 0) {
			err = errno;
			break;
		}
	}
	printf("tgkill(SIGRTMIN): %s after %ld\n", err ? strerrorname_np(err) : "ok", queued);
	printf("kill(SIGRTMIN) past the limit: %s\n", res(kill(getpid(), SIGRTMIN)));
	printf("tgkill(SIGUSR1) past the limit: %s\n", res(self_tgkill(SIGUSR1)));
	struct timespec zero = {0, 0};
	long rt = 0, usr1 = 0, lost = 0;
	siginfo_t si;
	for (;;) {
		int s = sigtimedwait(&set, &si, &zero);
		if (s < 0)
			break;
		if (s == SIGUSR1)
			usr1++;
		else
			rt++;
		if (si.si_code == SI_USER && si.si_pid == 0)
			lost++;
	}
	printf("dequeued: SIGRTMIN %ld, SIGUSR1 %ld, without information %ld\n", rt, usr1, lost);
	printf("tgkill(SIGRTMIN) after draining: %s\n", res(self_tgkill(SIGRTMIN)));
	return 0;
}

// signals MODE: signal delivery, handlers and masks. Output is identical
// natively and in the sandbox (no pids or addresses, only booleans).
//
//   siginfo      SA_SIGINFO handler for kill(getpid()): si_signo, si_code
//                SI_USER, si_pid, si_uid; raise() gives SI_TKILL; sa_mask
//                and the handled signal blocked inside the handler;
//                SA_RESETHAND, SA_NODEFER
//   raise        raise() runs the handler before returning; raise() of
//                another signal from inside a handler nests
//   segv         null write caught by a SIGSEGV handler (si_addr == 0,
//                SEGV_MAPERR), recovered with siglongjmp, twice; a write to
//                a read-only page gives SEGV_ACCERR at that page
//   altstack     SA_ONSTACK handler runs on the sigaltstack (SS_ONSTACK
//                inside, not outside); a stack overflow is caught there
//   sigpipe      a child writing to a pipe without readers dies of SIGPIPE;
//                with SIGPIPE ignored write fails with EPIPE
//   alarm        alarm(1) + pause() with a SIGALRM handler; alarm's return
//                value; setitimer(ITIMER_REAL) periodic ticks
//   sigsuspend   SIGUSR2 blocked: kill leaves it pending (sigpending), the
//                handler runs inside sigsuspend, the mask is restored
//   sigtimedwait blocked signals taken with sigtimedwait/sigwaitinfo,
//                timeout EAGAIN, a signal sent by a child (si_pid)
//   restart      read from an empty pipe interrupted by SIGALRM: EINTR
//                without SA_RESTART, restarted with SA_RESTART
//   sigchld      a SIGCHLD handler counts children (CLD_EXITED, si_status);
//                SIGCHLD ignored: children are reaped automatically
//   mask         SIGKILL/SIGSTOP cannot be blocked or caught; bad
//                arguments give EINVAL; the mask is inherited by fork
//   kill         kill(getpid(), 0), kill with a bad signal number
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *yes(int b) { return b ? "yes" : "no"; }

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
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

static const char *code(int c) {
	switch (c) {
	case SI_USER:
		return "SI_USER";
	case SI_TKILL:
		return "SI_TKILL";
	case SI_QUEUE:
		return "SI_QUEUE";
	case SI_KERNEL:
		return "SI_KERNEL";
	default: {
		static char b[32];
		snprintf(b, sizeof b, "code %d", c);
		return b;
	}
	}
}

static void die(const char *what) {
	printf("FAIL %s: %s\n", what, ename(errno));
	exit(99);
}

static pid_t xfork(void) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	return pid;
}

static void reap(const char *what, pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %s\n", what, sig(WTERMSIG(st)));
}

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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

static void install_plain(int signo, void (*fn)(int), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL) < 0)
		die("sigaction");
}

static int is_blocked(int signo) {
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, signo);
}

// ---- siginfo ----

static volatile sig_atomic_t hits;
static volatile int got_signo, got_code, got_pid_ok, got_uid_ok, self_blocked, mask_blocked;

static void on_info(int s, siginfo_t *si, void *uc) {
	(void)uc;
	hits++;
	got_signo = si->si_signo;
	got_code = si->si_code;
	got_pid_ok = si->si_pid == getpid();
	got_uid_ok = si->si_uid == getuid();
	self_blocked = is_blocked(s);
	mask_blocked = is_blocked(SIGWINCH);
}

static int siginfo(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGWINCH);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die("sigaction");
	struct sigaction old;
	sigaction(SIGUSR1, NULL, &old);
	printf("sigaction reads back: SA_SIGINFO %s, handler %s, SIGWINCH in sa_mask %s\n",
	       yes(old.sa_flags & SA_SIGINFO), yes(old.sa_sigaction == on_info), yes(sigismember(&old.sa_mask, SIGWINCH)));

	kill(getpid(), SIGUSR1);
	printf("kill(getpid(), SIGUSR1): hits=%d si_signo=%s si_code=%s si_pid==getpid(): %s si_uid==getuid(): %s\n",
	       (int)hits, sig(got_signo), code(got_code), yes(got_pid_ok), yes(got_uid_ok));
	printf("inside the handler: SIGUSR1 blocked %s, SIGWINCH (sa_mask) blocked %s\n", yes(self_blocked),
	       yes(mask_blocked));
	printf("after the handler: SIGUSR1 blocked %s, SIGWINCH blocked %s\n", yes(is_blocked(SIGUSR1)),
	       yes(is_blocked(SIGWINCH)));

	raise(SIGUSR1);
	printf("raise(SIGUSR1): hits=%d si_code=%s si_pid==getpid(): %s\n", (int)hits, code(got_code), yes(got_pid_ok));

	// SA_NODEFER: the signal is not blocked inside its handler.
	install(SIGUSR1, on_info, SA_NODEFER);
	kill(getpid(), SIGUSR1);
	printf("SA_NODEFER: SIGUSR1 blocked inside the handler: %s\n", yes(self_blocked));

	// SA_RESETHAND: one shot, then the default action (here: ignored
	// SIGWINCH, whose default is to ignore).
	hits = 0;
	install(SIGWINCH, on_info, SA_RESETHAND);
	kill(getpid(), SIGWINCH);
	kill(getpid(), SIGWINCH);
	struct sigaction after;
	sigaction(SIGWINCH, NULL, &after);
	printf("SA_RESETHAND: hits=%d, disposition afterwards SIG_DFL: %s\n", (int)hits,
	       yes(after.sa_handler == SIG_DFL));
	return 0;
}

// ---- raise ----

static char trace[256];
static void note(const char *s) { strncat(trace, s, sizeof trace - strlen(trace) - 1); }

static void on_usr2_plain(int s) {
	(void)s;
	note(" usr2");
}

static void on_usr1_nest(int s) {
	(void)s;
	note(" usr1-start");
	raise(SIGUSR2);
	note(" usr1-end");
}

static volatile int self_depth;
static void on_usr1_self(int s) {
	(void)s;
	self_depth++;
	note(self_depth == 1 ? " first-start" : " second");
	if (self_depth == 1) {
		raise(SIGUSR1); // blocked now: pending until we return
		note(" first-end");
	}
}

static int do_raise(void) {
	install_plain(SIGUSR2, on_usr2_plain, 0);
	note("before");
	raise(SIGUSR2);
	note(" after");
	printf("raise: %s\n", trace);

	trace[0] = 0;
	install_plain(SIGUSR1, on_usr1_nest, 0);
	note("before");
	raise(SIGUSR1);
	note(" after");
	printf("raise from a handler: %s\n", trace);

	// A signal raised inside a handler while it is blocked (same signal)
	// runs after the handler returns.
	trace[0] = 0;
	install_plain(SIGUSR1, on_usr1_self, 0);
	raise(SIGUSR1);
	printf("same signal from its own handler: %s\n", trace);

	// raise() with the default action of SIGTERM kills.
	pid_t pid = xfork();
	if (pid == 0) {
		raise(SIGTERM);
		_exit(1);
	}
	reap("child raise(SIGTERM)", pid);
	return 0;
}


// ---- segv ----

static sigjmp_buf jb;
static volatile void *fault_addr;
static volatile int fault_code, fault_signo;

static void on_segv(int s, siginfo_t *si, void *uc) {
	(void)uc;
	fault_signo = s;
	fault_addr = si->si_addr;
	fault_code = si->si_code;
	siglongjmp(jb, 1);
}

static const char *segv_code(int c) {
	return c == SEGV_MAPERR ? "SEGV_MAPERR" : c == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

static int segv(void) {
	install(SIGSEGV, on_segv, 0);
	int recovered = 0;
	for (int i = 0; i < 2; i++) {
		fault_addr = (void *)1;
		if (sigsetjmp(jb, 1) == 0) {
			*(volatile int *)0 = 1;
			printf("null write did not fault\n");
		} else {
			recovered++;
			printf("null write: %s si_addr==0: %s si_code=%s\n", sig(fault_signo), yes(fault_addr == NULL),
			       segv_code(fault_code));
		}
		printf("SIGSEGV blocked after siglongjmp: %s\n", yes(is_blocked(SIGSEGV)));
	}
	printf("recovered %d times\n", recovered);

	// Read of an unmapped address that is not null.
	char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");
	if (sigsetjmp(jb, 1) == 0) {
		page[100] = 1;
		printf("write to a read-only page did not fault\n");
	} else {
		printf("write to a read-only page: si_addr==page+100: %s si_code=%s\n",
		       yes(fault_addr == page + 100), segv_code(fault_code));
	}
	munmap(page, 4096);
	if (sigsetjmp(jb, 1) == 0) {
		(void)*(volatile char *)(page + 8);
		printf("read of an unmapped page did not fault\n");
	} else {
		printf("read of an unmapped page: si_addr==page+8: %s si_code=%s\n", yes(fault_addr == page + 8),
		       segv_code(fault_code));
	}
	return 0;
}

// ---- altstack ----

static char *alt_base;
static size_t alt_size;
static volatile int on_alt, ss_onstack_inside;

static void on_segv_alt(int s, siginfo_t *si, void *uc) {
	(void)s;
	(void)si;
	(void)uc;
	char local;
	on_alt = (char *)&local >= alt_base && (char *)&local < alt_base + alt_size;
	stack_t cur;
	sigaltstack(NULL, &cur);
	ss_onstack_inside = (cur.ss_flags & SS_ONSTACK) != 0;
	siglongjmp(jb, 1);
}

static volatile int depth_reached;
static int recurse(int n) {
	volatile char pad[1024];
	if (n < 0)
		return 0;
	pad[0] = (char)n;
	depth_reached = n;
	return recurse(n + 1) + pad[0];
}

static int altstack(void) {
	alt_size = 64 * 1024;
	alt_base = malloc(alt_size);
	stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) < 0)
		die("sigaltstack");
	stack_t cur;
	sigaltstack(NULL, &cur);
	printf("sigaltstack reads back: base %s size %s flags %d\n", yes(cur.ss_sp == alt_base),
	       yes(cur.ss_size == alt_size), cur.ss_flags);

	install(SIGSEGV, on_segv_alt, SA_ONSTACK);
	if (sigsetjmp(jb, 1) == 0)
		*(volatile int *)0 = 1;
	printf("null write: handler on the alternate stack: %s, SS_ONSTACK inside: %s\n", yes(on_alt),
	       yes(ss_onstack_inside));
	sigaltstack(NULL, &cur);
	printf("after the handler: SS_ONSTACK %s\n", yes(cur.ss_flags & SS_ONSTACK));

	// Without SA_ONSTACK the handler runs on the normal stack.
	install(SIGSEGV, on_segv_alt, 0);
	on_alt = 1;
	if (sigsetjmp(jb, 1) == 0)
		*(volatile int *)0 = 1;
	printf("without SA_ONSTACK: on the alternate stack: %s\n", yes(on_alt));

	// Stack overflow: only an alternate stack makes the handler possible.
	install(SIGSEGV, on_segv_alt, SA_ONSTACK);
	on_alt = 0;
	if (sigsetjmp(jb, 1) == 0) {
		recurse(0);
		printf("recursion returned\n");
	}
	printf("stack overflow caught on the alternate stack: %s, depth > 1000: %s\n", yes(on_alt),
	       yes(depth_reached > 1000));

	// SS_DISABLE, and EINVAL for a too small stack.
	stack_t dis = {.ss_flags = SS_DISABLE};
	int r = sigaltstack(&dis, NULL);
	sigaltstack(NULL, &cur);
	printf("SS_DISABLE: %d, flags now SS_DISABLE: %s\n", r, yes(cur.ss_flags & SS_DISABLE));
	stack_t small = {.ss_sp = alt_base, .ss_size = 100, .ss_flags = 0};
	errno = 0;
	r = sigaltstack(&small, NULL);
	printf("tiny alternate stack: %d %s\n", r, ename(errno));
	return 0;
}

// ---- sigpipe ----

static int do_sigpipe(void) {
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	close(p[0]);
	pid_t pid = xfork();
	if (pid == 0) {
		write(p[1], "x", 1);
		_exit(1);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child writing to a pipe without readers: WIFSIGNALED %s WTERMSIG %s\n", yes(WIFSIGNALED(st)),
	       WIFSIGNALED(st) ? sig(WTERMSIG(st)) : "-");

	// A reader that goes away while the writer is blocked on a full pipe.
	int q[2];
	if (pipe(q) < 0)
		die("pipe");
	pid = xfork();
	if (pid == 0) {
		close(q[0]);
		char buf[4096];
		memset(buf, 'z', sizeof buf);
		for (;;)
			write(q[1], buf, sizeof buf);
	}
	close(q[1]);
	char buf[100];
	read(q[0], buf, sizeof buf);
	sleep_ms(50);
	close(q[0]);
	reap("blocked writer when the reader closes", pid);

	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	ssize_t n = write(p[1], "x", 1);
	printf("with SIGPIPE ignored: write %zd %s\n", n, ename(errno));

	// A handled SIGPIPE: the handler runs and write fails with EPIPE.
	install_plain(SIGPIPE, on_usr2_plain, 0);
	trace[0] = 0;
	errno = 0;
	n = write(p[1], "x", 1);
	printf("with a SIGPIPE handler: write %zd %s, handler ran: %s\n", n, ename(errno), yes(trace[0] != 0));
	return 0;
}

// ---- alarm ----

static volatile sig_atomic_t alarms;
static void on_alarm(int s) {
	(void)s;
	alarms++;
}

static int do_alarm(void) {
	install_plain(SIGALRM, on_alarm, 0);
	printf("alarm(5) with none pending: %u\n", alarm(5));
	printf("alarm(0) returns the remaining seconds: %u\n", alarm(0));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	alarm(1);
	errno = 0;
	int r = pause();
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	printf("pause: %d %s, alarms=%d, waited >= 900ms: %s\n", r, ename(errno), (int)alarms, yes(ms >= 900));

	// Periodic ITIMER_REAL: five ticks of 20ms, taken with sigsuspend.
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	alarms = 0;
	struct itimerval it = {{0, 20000}, {0, 20000}};
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die("setitimer");
	struct itimerval cur;
	getitimer(ITIMER_REAL, &cur);
	printf("getitimer: interval 20ms: %s, value <= 20ms: %s\n",
	       yes(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 20000),
	       yes(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 20000));
	while (alarms < 5)
		sigsuspend(&old);
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	int n = alarms;
	sleep_ms(60);
	printf("itimer ticks: %d, none after disarming: %s\n", n, yes(alarms == n));

	// The default action of SIGALRM terminates.
	pid_t pid = xfork();
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(1);
		for (;;)
			pause();
	}
	reap("child with alarm(1) and no handler", pid);
	return 0;
}

// ---- sigsuspend ----

static int do_sigsuspend(void) {
	trace[0] = 0;
	install_plain(SIGUSR2, on_usr2_plain, 0);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	kill(getpid(), SIGUSR2);
	sigset_t pend;
	sigpending(&pend);
	printf("after kill: handler ran %s, SIGUSR2 pending %s, SIGUSR1 pending %s\n", yes(trace[0] != 0),
	       yes(sigismember(&pend, SIGUSR2)), yes(sigismember(&pend, SIGUSR1)));
	// A second kill of a standard signal is merged with the pending one.
	kill(getpid(), SIGUSR2);
	sigset_t wait = old;
	sigdelset(&wait, SIGUSR2);
	errno = 0;
	int r = sigsuspend(&wait);
	printf("sigsuspend: %d %s, handler trace:%s\n", r, ename(errno), trace);
	sigpending(&pend);
	printf("afterwards: SIGUSR2 pending %s, still blocked %s\n", yes(sigismember(&pend, SIGUSR2)),
	       yes(is_blocked(SIGUSR2)));

	// sigsuspend also returns for a signal sent later by a child.
	trace[0] = 0;
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	errno = 0;
	r = sigsuspend(&wait);
	printf("sigsuspend for a child's kill: %d %s, handler trace:%s\n", r, ename(errno), trace);
	reap("child", pid);

	// sigprocmask: SIG_SETMASK, SIG_UNBLOCK, and the old mask returned.
	sigset_t s1, got;
	sigemptyset(&s1);
	sigaddset(&s1, SIGHUP);
	sigprocmask(SIG_SETMASK, &s1, &got);
	printf("SIG_SETMASK returned the old mask (SIGUSR2 in it): %s\n", yes(sigismember(&got, SIGUSR2)));
	sigprocmask(SIG_UNBLOCK, &s1, NULL);
	sigprocmask(SIG_BLOCK, NULL, &got);
	printf("after SIG_UNBLOCK: SIGHUP blocked %s, SIGUSR2 blocked %s\n", yes(sigismember(&got, SIGHUP)),
	       yes(sigismember(&got, SIGUSR2)));
	errno = 0;
	r = sigprocmask(12345, &s1, NULL);
	printf("sigprocmask(bad how): %d %s\n", r, ename(errno));
	return 0;
}

// ---- sigtimedwait ----

static int do_sigtimedwait(void) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);

	kill(getpid(), SIGUSR1);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	struct timespec ts = {1, 0};
	int r = sigtimedwait(&set, &si, &ts);
	printf("sigtimedwait: %s si_code=%s si_pid==getpid(): %s\n", r > 0 ? sig(r) : ename(errno), code(si.si_code),
	       yes(si.si_pid == getpid()));

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct timespec shortts = {0, 100 * 1000000L};
	errno = 0;
	r = sigtimedwait(&set, &si, &shortts);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("sigtimedwait with nothing pending: %d %s, waited >= 90ms: %s\n", r, ename(errno), yes(ms >= 90));

	struct timespec zero = {0, 0};
	errno = 0;
	r = sigtimedwait(&set, &si, &zero);
	printf("sigtimedwait with a zero timeout: %d %s\n", r, ename(errno));

	// Real-time signals queue: three sends, three receptions.
	for (int i = 0; i < 3; i++)
		kill(getpid(), SIGRTMIN);
	int rt = 0;
	while (sigtimedwait(&set, &si, &zero) == SIGRTMIN)
		rt++;
	printf("SIGRTMIN sent 3 times, received %d times\n", rt);
	// Standard signals do not.
	for (int i = 0; i < 3; i++)
		kill(getpid(), SIGUSR1);
	int std = 0;
	while (sigtimedwait(&set, &si, &zero) == SIGUSR1)
		std++;
	printf("SIGUSR1 sent 3 times, received %d time(s)\n", std);

	// From a child: si_pid is the child's.
	pid_t pid = xfork();
	if (pid == 0) {
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	memset(&si, 0, sizeof si);
	r = sigwaitinfo(&set, &si);
	printf("sigwaitinfo: %s from the child: %s si_code=%s\n", r > 0 ? sig(r) : ename(errno),
	       yes(si.si_pid == pid), code(si.si_code));
	reap("child", pid);

	// sigwait (no siginfo) and a signal not in the set stays pending.
	kill(getpid(), SIGRTMIN);
	sigset_t only_usr1;
	sigemptyset(&only_usr1);
	sigaddset(&only_usr1, SIGUSR1);
	errno = 0;
	r = sigtimedwait(&only_usr1, NULL, &zero);
	printf("SIGRTMIN pending, waiting for SIGUSR1 only: %d %s\n", r, ename(errno));
	int got = 0;
	r = sigwait(&set, &got);
	printf("sigwait: %d %s\n", r, got == SIGRTMIN ? "SIGRTMIN" : sig(got));
	return 0;
}

// ---- restart ----

static int wfd = -1;
static void on_alarm_write(int s) {
	(void)s;
	alarms++;
	if (wfd >= 0)
		write(wfd, "x", 1);
}

static int restart(void) {
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	char buf[16];
	struct timespec a, b;

	// No SA_RESTART: read fails with EINTR even though the handler made
	// data available.
	wfd = p[1];
	alarms = 0;
	install_plain(SIGALRM, on_alarm_write, 0);
	alarm(1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	errno = 0;
	ssize_t n = read(p[0], buf, sizeof buf);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	printf("without SA_RESTART: read %zd %s, alarms=%d, waited >= 900ms: %s\n", n, ename(errno), (int)alarms,
	       yes(ms >= 900));
	n = read(p[0], buf, sizeof buf);
	printf("the handler's byte is read next: %zd\n", n);

	// SA_RESTART: the read is restarted and returns the handler's byte.
	alarms = 0;
	install_plain(SIGALRM, on_alarm_write, SA_RESTART);
	struct itimerval it = {{0, 0}, {0, 300000}};
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	n = read(p[0], buf, sizeof buf);
	printf("with SA_RESTART: read %zd %s, alarms=%d\n", n, n < 0 ? ename(errno) : "ok", (int)alarms);

	// nanosleep is never restarted: EINTR with the remaining time.
	wfd = -1;
	alarms = 0;
	it = (struct itimerval){{0, 0}, {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec req = {5, 0}, rem = {0, 0};
	errno = 0;
	int r = nanosleep(&req, &rem);
	printf("nanosleep(5s) with SA_RESTART: %d %s, remaining between 4s and 5s: %s\n", r, ename(errno),
	       yes(rem.tv_sec == 4 || (rem.tv_sec == 5 && rem.tv_nsec == 0)));

	// wait4 with SA_RESTART is restarted: the child exits after the alarm.
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(400);
		_exit(17);
	}
	it = (struct itimerval){{0, 0}, {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	int st;
	errno = 0;
	pid_t w = waitpid(pid, &st, 0);
	printf("waitpid with SA_RESTART: returned the child %s, status %d, alarms=%d\n", yes(w == pid),
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, (int)alarms);

	// Without SA_RESTART, waitpid fails with EINTR.
	install_plain(SIGALRM, on_alarm_write, 0);
	pid = xfork();
	if (pid == 0) {
		sleep_ms(400);
		_exit(18);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	w = waitpid(pid, &st, 0);
	printf("waitpid without SA_RESTART: %d %s\n", (int)w, ename(errno));
	reap("child", pid);
	return 0;
}

// ---- sigchld ----

static volatile sig_atomic_t chld, chld_exited_ok;
static volatile int chld_status;

static void on_chld(int s, siginfo_t *si, void *uc) {
	(void)s;
	(void)uc;
	chld++;
	if (si->si_code == CLD_EXITED) {
		chld_exited_ok++;
		chld_status += si->si_status;
	}
}

static int do_sigchld(void) {
	install(SIGCHLD, on_chld, SA_RESTART);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	// One child at a time, so that no two SIGCHLDs merge.
	for (int i = 1; i <= 5; i++) {
		int before = chld;
		pid_t pid = xfork();
		if (pid == 0)
			_exit(i);
		while (chld == before)
			sigsuspend(&old);
		int st;
		waitpid(pid, &st, 0);
	}
	printf("SIGCHLD handled %d times, CLD_EXITED %d times, status sum %d\n", (int)chld, (int)chld_exited_ok,
	       chld_status);

	// Killed child: CLD_KILLED.
	chld = 0;
	pid_t pid = xfork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	kill(pid, SIGKILL);
	while (chld == 0)
		sigsuspend(&old);
	reap("killed child", pid);
	sigprocmask(SIG_SETMASK, &old, NULL);

	// SIGCHLD ignored: children are reaped by the kernel, wait fails with
	// ECHILD once they are gone.
	signal(SIGCHLD, SIG_IGN);
	for (int i = 0; i < 3; i++)
		if (xfork() == 0)
			_exit(0);
	errno = 0;
	int st;
	pid_t r = wait(&st);
	printf("SIGCHLD ignored: wait %d %s\n", (int)r, ename(errno));

	// SA_NOCLDWAIT has the same effect.
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	if (xfork() == 0)
		_exit(0);
	errno = 0;
	r = wait(&st);
	printf("SA_NOCLDWAIT: wait %d %s\n", (int)r, ename(errno));
	return 0;
}

// ---- mask ----

static int mask(void) {
	sigset_t all, got;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sigprocmask(SIG_BLOCK, NULL, &got);
	printf("block everything: SIGKILL blocked %s, SIGSTOP blocked %s, SIGTERM blocked %s\n",
	       yes(sigismember(&got, SIGKILL)), yes(sigismember(&got, SIGSTOP)), yes(sigismember(&got, SIGTERM)));

	// The mask is inherited by a forked child; blocked SIGTERM does not
	// kill it, SIGKILL does.
	pid_t pid = xfork();
	if (pid == 0) {
		sigset_t m;
		sigprocmask(SIG_BLOCK, NULL, &m);
		if (!sigismember(&m, SIGTERM))
			_exit(1);
		kill(getpid(), SIGTERM);
		sigset_t pend;
		sigpending(&pend);
		_exit(sigismember(&pend, SIGTERM) ? 0 : 2);
	}
	reap("child with SIGTERM blocked sends itself SIGTERM", pid);
	pid = xfork();
	if (pid == 0) {
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	reap("child with everything blocked sends itself SIGKILL", pid);
	sigprocmask(SIG_UNBLOCK, &all, NULL);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	errno = 0;
	int r = sigaction(SIGKILL, &sa, NULL);
	printf("sigaction(SIGKILL): %d %s\n", r, ename(errno));
	errno = 0;
	r = sigaction(SIGSTOP, &sa, NULL);
	printf("sigaction(SIGSTOP): %d %s\n", r, ename(errno));
	errno = 0;
	r = sigaction(0, &sa, NULL);
	printf("sigaction(0): %d %s\n", r, ename(errno));
	errno = 0;
	r = sigaction(65, &sa, NULL);
	printf("sigaction(65): %d %s\n", r, ename(errno));
	// Reading SIGKILL's disposition is allowed.
	struct sigaction old;
	r = sigaction(SIGKILL, NULL, &old);
	printf("read SIGKILL disposition: %d SIG_DFL %s\n", r, yes(old.sa_handler == SIG_DFL));

	// Ignoring a pending blocked signal discards it.
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	install_plain(SIGUSR1, on_usr2_plain, 0);
	sigprocmask(SIG_BLOCK, &one, NULL);
	kill(getpid(), SIGUSR1);
	signal(SIGUSR1, SIG_IGN);
	sigset_t pend;
	sigpending(&pend);
	printf("pending SIGUSR1 discarded when set to SIG_IGN: %s\n", yes(!sigismember(&pend, SIGUSR1)));
	return 0;
}

// ---- kill ----

static int do_kill(void) {
	errno = 0;
	int r = kill(getpid(), 0);
	printf("kill(getpid(), 0): %d\n", r);
	errno = 0;
	r = kill(getpid(), 999);
	printf("kill(getpid(), 999): %d %s\n", r, ename(errno));
	errno = 0;
	r = kill(getpid(), -1);
	printf("kill(getpid(), -1): %d %s\n", r, ename(errno));
	pid_t pid = xfork();
	if (pid == 0)
		_exit(0);
	reap("child", pid);
	errno = 0;
	r = kill(pid, 0);
	printf("kill(reaped child, 0): %d %s\n", r, ename(errno));
	// A zombie can still be signalled (it exists until reaped).
	pid = xfork();
	if (pid == 0)
		_exit(0);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	errno = 0;
	r = kill(pid, 0);
	printf("kill(zombie, 0): %d %s\n", r, r < 0 ? ename(errno) : "ok");
	reap("zombie", pid);
	// kill(0, sig) signals the caller's process group, including itself:
	// done in a child that leads a group of its own.
	pid = xfork();
	if (pid == 0) {
		setpgid(0, 0);
		install_plain(SIGUSR2, on_usr2_plain, 0);
		trace[0] = 0;
		int r = kill(0, SIGUSR2);
		_exit(r == 0 && trace[0] != 0 ? 0 : 1);
	}
	reap("child kill(0, SIGUSR2) with a handler", pid);
	pid = xfork();
	if (pid == 0) {
		setpgid(0, 0);
		kill(0, SIGTERM);
		_exit(1);
	}
	reap("child kill(0, SIGTERM)", pid);
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	// Never leave core files behind in native runs.
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);
	if (argc < 2) {
		fprintf(stderr, "usage: signals MODE\n");
		return 2;
	}
	const char *m = argv[1];
	if (strcmp(m, "siginfo") == 0)
		return siginfo();
	if (strcmp(m, "raise") == 0)
		return do_raise();
	if (strcmp(m, "segv") == 0)
		return segv();
	if (strcmp(m, "altstack") == 0)
		return altstack();
	if (strcmp(m, "sigpipe") == 0)
		return do_sigpipe();
	if (strcmp(m, "alarm") == 0)
		return do_alarm();
	if (strcmp(m, "sigsuspend") == 0)
		return do_sigsuspend();
	if (strcmp(m, "sigtimedwait") == 0)
		return do_sigtimedwait();
	if (strcmp(m, "restart") == 0)
		return restart();
	if (strcmp(m, "sigchld") == 0)
		return do_sigchld();
	if (strcmp(m, "mask") == 0)
		return mask();
	if (strcmp(m, "kill") == 0)
		return do_kill();
	fprintf(stderr, "signals: unknown mode %s\n", m);
	return 2;
}

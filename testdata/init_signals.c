// init_signals: what reaches a pid namespace's init. Run as pid 1 (natively
// in a fresh pid namespace, `unshare -pf --mount-proc`; under litebox as
// the first guest process), it has children signal it in every way one
// process signals another, with and without handlers, and has the kernel
// signal it (a pipe without readers, a file size limit, a timer, a
// terminal). Linux gives an init only the signals it has a handler for
// when they come from its own namespace (SIGNAL_UNKILLABLE), except the
// faults the kernel forces on it (mode fault, mode abort). Each line says
// what happened; pid 1 only survives to print the next one if the signal
// was dropped.
//
//   init_signals guest   signals from other processes and from itself
//   init_signals tty     ^C, ^\ and a hangup from its controlling terminal
//   init_signals fault   a null write: pid 1 dies of SIGSEGV
//   init_signals abort   abort(3): dies of the fault glibc falls back on
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const char *signame(int sig) {
	switch (sig) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGQUIT: return "SIGQUIT";
	case SIGABRT: return "SIGABRT";
	case SIGKILL: return "SIGKILL";
	case SIGUSR1: return "SIGUSR1";
	case SIGSEGV: return "SIGSEGV";
	case SIGUSR2: return "SIGUSR2";
	case SIGPIPE: return "SIGPIPE";
	case SIGALRM: return "SIGALRM";
	case SIGTERM: return "SIGTERM";
	case SIGCONT: return "SIGCONT";
	case SIGSTOP: return "SIGSTOP";
	case SIGTSTP: return "SIGTSTP";
	case SIGXFSZ: return "SIGXFSZ";
	case 35: return "SIGRT35";
	}
	return "?";
}

static const char *errname(int e) {
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ESRCH: return "ESRCH";
	case EPIPE: return "EPIPE";
	case EFBIG: return "EFBIG";
	case EINTR: return "EINTR";
	case EINVAL: return "EINVAL";
	}
	return "E?";
}

// result prints a call's outcome: its return value, and errno on -1.
static void result(const char *what, long r) {
	if (r == -1)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
}

// Handlers record the last signal they got.
static volatile sig_atomic_t got_sig, got_code, got_pid, got_value, hits;

static void on_signal(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_pid = si->si_pid;
	got_value = si->si_value.sival_int;
	hits++;
}

static void handle(int sig) {
	struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(sig, &sa, NULL);
}

static void dfl(int sig) { signal(sig, SIG_DFL); }

static const char *codename(int code) {
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_TKILL: return "SI_TKILL";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_KERNEL: return "SI_KERNEL";
	}
	return "other";
}

// pending prints the signals pending for pid 1.
static void pending(void) {
	sigset_t set;
	sigpending(&set);
	printf("  pid 1 lives; pending:");
	int any = 0;
	for (int s = 1; s < 64; s++)
		if (sigismember(&set, s)) {
			printf(" %s", signame(s));
			any = 1;
		}
	printf("%s\n", any ? "" : " none");
}

// settle gives a signal that was delivered time to act (a default action
// kills at once; this is for the slow path of a sandbox).
static void settle(void) {
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

// in_child runs fn in a child process and waits for it; then pid 1 says
// that it lives and what a handler saw.
static void in_child(void (*fn)(int), int arg) {
	hits = 0;
	pid_t pid = fork();
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	settle();
	if (hits)
		printf("  handler ran %d time(s): %s %s from the child: %s value %d\n", (int)hits, signame(got_sig),
		       codename(got_code), got_pid == pid ? "yes" : "no", (int)got_value);
	pending();
}

static void do_kill(int sig) {
	char what[64];
	snprintf(what, sizeof what, "child: kill(1, %s)", signame(sig));
	result(what, kill(1, sig));
}

static void do_tgkill(int sig) {
	char what[64];
	snprintf(what, sizeof what, "child: tgkill(1, 1, %s)", signame(sig));
	result(what, syscall(SYS_tgkill, 1, 1, sig));
}

static void do_tkill(int sig) {
	char what[64];
	snprintf(what, sizeof what, "child: tkill(1, %s)", signame(sig));
	result(what, syscall(SYS_tkill, 1, sig));
}

static void do_sigqueue(int sig) {
	char what[64];
	snprintf(what, sizeof what, "child: sigqueue(1, %s, 7)", signame(sig));
	result(what, sigqueue(1, sig, (union sigval){.sival_int = 7}));
}

static void do_pidfd(int sig) {
	int fd = syscall(SYS_pidfd_open, 1, 0);
	if (fd < 0) {
		result("child: pidfd_open(1)", fd);
		return;
	}
	char what[64];
	snprintf(what, sizeof what, "child: pidfd_send_signal(pidfd of 1, %s)", signame(sig));
	result(what, syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0));
}

// do_group signals the child's own group, pid 1's: the child ignores sig
// itself.
static void do_group(int sig) {
	signal(sig, SIG_IGN);
	char what[64];
	snprintf(what, sizeof what, "child: kill(0, %s) (pid 1's group)", signame(sig));
	result(what, kill(0, sig));
	snprintf(what, sizeof what, "child: kill(-1, %s)", signame(sig));
	result(what, kill(-1, sig));
}

// state is the first letter of pid 1's State in /proc/1/status.
static char state(void) {
	FILE *f = fopen("/proc/1/status", "r");
	if (!f)
		return '?';
	char line[256];
	char c = '?';
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "State:", 6) == 0) {
			char *p = line + 6;
			while (*p == ' ' || *p == '\t')
				p++;
			c = *p;
			break;
		}
	fclose(f);
	return c;
}

// do_stop sends SIGSTOP, looks whether pid 1 stopped, and continues it.
static void do_stop(int sig) {
	do_kill(sig);
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	printf("child: pid 1 stopped: %s\n", state() == 'T' ? "yes" : "no");
	do_kill(SIGCONT);
}

static void guest(void) {
	static const int plain[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGABRT, SIGALRM, SIGTSTP, 35, SIGKILL};
	printf("no handlers:\n");
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		in_child(do_kill, plain[i]);
	in_child(do_stop, SIGSTOP);
	in_child(do_tgkill, SIGTERM);
	in_child(do_tgkill, SIGKILL);
	in_child(do_tkill, SIGTERM);
	in_child(do_sigqueue, SIGUSR2);
	in_child(do_pidfd, SIGTERM);
	in_child(do_pidfd, SIGKILL);
	in_child(do_group, SIGTERM);

	printf("pid 1 signals itself:\n");
	result("raise(SIGTERM)", raise(SIGTERM));
	result("kill(1, SIGKILL)", kill(1, SIGKILL));
	result("kill(getpid(), SIGINT)", kill(getpid(), SIGINT));
	settle();
	pending();

	printf("SIGTERM blocked, SIG_DFL:\n");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	in_child(do_kill, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("unblocked:\n");
	settle();
	pending();

	printf("SIGTERM ignored:\n");
	signal(SIGTERM, SIG_IGN);
	in_child(do_kill, SIGTERM);
	dfl(SIGTERM);

	printf("with handlers:\n");
	handle(SIGTERM);
	handle(SIGINT);
	handle(SIGUSR1);
	handle(SIGUSR2);
	in_child(do_kill, SIGTERM);
	in_child(do_tgkill, SIGINT);
	in_child(do_sigqueue, SIGUSR2);
	in_child(do_pidfd, SIGTERM);
	in_child(do_group, SIGUSR1);
	hits = 0;
	result("raise(SIGTERM)", raise(SIGTERM));
	printf("  handler ran %d time(s): %s %s\n", (int)hits, signame(got_sig), codename(got_code));
	printf("handler installed while blocked:\n");
	dfl(SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	in_child(do_kill, SIGTERM);
	handle(SIGTERM);
	hits = 0;
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("  after unblocking: handler ran %d time(s): %s\n", (int)hits, hits ? signame(got_sig) : "-");
	dfl(SIGTERM);
	dfl(SIGINT);
	dfl(SIGUSR1);
	dfl(SIGUSR2);

	printf("signals of the kernel, no handlers:\n");
	int p[2];
	if (pipe(p) < 0)
		exit(1);
	close(p[0]);
	result("write to a pipe without readers", write(p[1], "x", 1));
	close(p[1]);
	settle();
	pending();

	char path[] = "/tmp/init_signalsXXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		exit(1);
	unlink(path);
	struct rlimit old, lim = {10, 10};
	getrlimit(RLIMIT_FSIZE, &old);
	lim.rlim_max = old.rlim_max;
	setrlimit(RLIMIT_FSIZE, &lim);
	// (stdout may be a file too: print once the limit is lifted)
	long w1 = write(fd, "0123456789abcdefghij", 20);
	int e1 = errno;
	long w2 = write(fd, "x", 1);
	int e2 = errno;
	setrlimit(RLIMIT_FSIZE, &old);
	errno = e1;
	result("write of 20 bytes under RLIMIT_FSIZE 10", w1);
	errno = e2;
	result("write past RLIMIT_FSIZE", w2);
	close(fd);
	settle();
	pending();

	struct itimerval it = {.it_value = {0, 10 * 1000}};
	result("setitimer(ITIMER_REAL, 10ms)", setitimer(ITIMER_REAL, &it, NULL));
	struct timespec ts = {0, 200 * 1000 * 1000};
	result("nanosleep(200ms) past its expiry", nanosleep(&ts, NULL));
	pending();
}

static void tty(void) {
	if (getsid(0) != getpid())
		setsid();
	printf("session leader: %s\n", getsid(0) == getpid() ? "yes" : "no");
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		perror("ptmx");
		exit(1);
	}
	int s = open(ptsname(m), O_RDWR);
	if (s < 0) {
		perror("pts");
		exit(1);
	}
	result("TIOCSCTTY", ioctl(s, TIOCSCTTY, 0));
	result("pid 1's group is the foreground group", tcgetpgrp(s) == getpgrp() ? 0 : -1);
	static const struct {
		const char *key;
		int sig;
	} keys[] = {{"\003", SIGINT}, {"\034", SIGQUIT}};
	for (int pass = 0; pass < 2; pass++) {
		printf(pass ? "with handlers:\n" : "no handlers:\n");
		for (size_t i = 0; i < 2; i++) {
			if (pass)
				handle(keys[i].sig);
			hits = 0;
			char what[64];
			snprintf(what, sizeof what, "^%c on the terminal", keys[i].sig == SIGINT ? 'C' : '\\');
			result(what, write(m, keys[i].key, 1));
			settle();
			if (hits)
				printf("  handler ran %d time(s): %s %s\n", (int)hits, signame(got_sig), codename(got_code));
			pending();
		}
	}
	dfl(SIGINT);
	dfl(SIGQUIT);
	printf("hangup, no handler:\n");
	// SIGHUP and SIGCONT go to the session leader when its terminal hangs up.
	close(s);
	result("close of the master", close(m));
	settle();
	pending();
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	// Never go on outside a pid namespace of our own: kill(-1) as root
	// would reach every process of the host.
	if (getpid() != 1) {
		fprintf(stderr, "init_signals must run as pid 1\n");
		return 2;
	}
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "guest") == 0)
		guest();
	else if (strcmp(mode, "tty") == 0)
		tty();
	else if (strcmp(mode, "fault") == 0) {
		printf("null write\n");
		*(volatile int *)0 = 1;
		printf("still here\n");
	} else if (strcmp(mode, "abort") == 0) {
		printf("abort\n");
		abort();
	} else {
		fprintf(stderr, "usage: init_signals guest|tty|fault|abort\n");
		return 2;
	}
	return 0;
}

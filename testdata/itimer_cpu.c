// itimer_cpu: ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time.
// Counts are printed as ranges generous enough for a loaded machine, for
// Linux's tick accounting (it reports a 50 ms timer as 54 ms at HZ=250 and
// fires PROF early: system time counts) and for litebox's sampling (a timer
// fires up to 10 ms late): a 50 ms periodic timer over 1 s of CPU fires
// 10..30 times, a one-shot once, a
// timer of a sleeping process never; getitimer, disarming, fork and the
// bad arguments are exact.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t vt, prof;

static void on_sig(int sig) {
	if (sig == SIGVTALRM)
		vt++;
	else
		prof++;
}

static long long cpu_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// burn spins for ms of process CPU time.
static void burn(int ms) {
	long long end = cpu_ns() + ms * 1000000LL;
	volatile unsigned long x = 0;
	while (cpu_ns() < end)
		for (int i = 0; i < 100000; i++)
			x += i;
}

static void arm(int which, long value_ms, long interval_ms) {
	struct itimerval it = {.it_interval = {interval_ms / 1000, interval_ms % 1000 * 1000},
			       .it_value = {value_ms / 1000, value_ms % 1000 * 1000}};
	if (setitimer(which, &it, NULL) != 0)
		perror("setitimer");
}

static long usec(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

static const char *yes(int b) { return b ? "yes" : "no"; }

int main(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGVTALRM, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);

	arm(ITIMER_VIRTUAL, 50, 50);
	struct itimerval got;
	getitimer(ITIMER_VIRTUAL, &got);
	printf("VIRTUAL armed: value in (0, 60 ms]: %s, interval 50 ms: %s\n",
	       yes(usec(got.it_value) > 0 && usec(got.it_value) <= 60000), yes(usec(got.it_interval) == 50000));
	burn(1000);
	arm(ITIMER_VIRTUAL, 0, 0);
	printf("VIRTUAL 50 ms over 1 s of CPU: 10..30 signals: %s\n", yes(vt >= 10 && vt <= 30));
	getitimer(ITIMER_VIRTUAL, &got);
	printf("disarmed: 0/0: %s\n", yes(usec(got.it_value) == 0 && usec(got.it_interval) == 0));

	arm(ITIMER_PROF, 50, 50);
	burn(1000);
	arm(ITIMER_PROF, 0, 0);
	printf("PROF 50 ms over 1 s of CPU: 10..30 signals: %s\n", yes(prof >= 10 && prof <= 30));

	vt = 0;
	arm(ITIMER_VIRTUAL, 100, 0);
	burn(400);
	printf("one-shot VIRTUAL over 400 ms of CPU: %d signal(s)\n", (int)vt);
	getitimer(ITIMER_VIRTUAL, &got);
	printf("after it fired: 0/0: %s\n", yes(usec(got.it_value) == 0 && usec(got.it_interval) == 0));

	// CPU timers do not count sleep.
	vt = 0;
	arm(ITIMER_VIRTUAL, 50, 50);
	struct timespec sl = {0, 300000000};
	while (nanosleep(&sl, &sl) != 0 && errno == EINTR)
		;
	printf("VIRTUAL 50 ms while sleeping 300 ms: %d signal(s)\n", (int)vt);
	struct itimerval old;
	struct itimerval zero = {0};
	setitimer(ITIMER_VIRTUAL, &zero, &old);
	printf("setitimer returns the old one: interval 50 ms: %s, value in (0, 60 ms]: %s\n",
	       yes(usec(old.it_interval) == 50000), yes(usec(old.it_value) > 0 && usec(old.it_value) <= 60000));

	arm(ITIMER_PROF, 5000, 1000);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		getitimer(ITIMER_PROF, &got);
		printf("fork child: PROF 0/0: %s\n", yes(usec(got.it_value) == 0 && usec(got.it_interval) == 0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	arm(ITIMER_PROF, 0, 0);

	errno = 0;
	printf("setitimer(which 3): %s\n", setitimer(3, &zero, NULL) == 0 ? "ok" : strerrorname_np(errno));
	printf("getitimer(which -1): %s\n", getitimer(-1, &got) == 0 ? "ok" : strerrorname_np(errno));
	struct itimerval bad = {.it_value = {0, 1000000}};
	printf("setitimer(usec 1000000): %s\n", setitimer(ITIMER_VIRTUAL, &bad, NULL) == 0 ? "ok" : strerrorname_np(errno));
	printf("getitimer(bad pointer): %s\n",
	       syscall(SYS_getitimer, ITIMER_PROF, (void *)8) == 0 ? "ok" : strerrorname_np(errno));
	return 0;
}

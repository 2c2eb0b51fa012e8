// itimer MODE: ITIMER_REAL as Linux runs it. A periodic timer is re-armed
// when its SIGALRM is taken from the queue, not when it fires, so what a
// program sees of a timer whose signal is blocked, ignored or waited for is
// exact and the same natively and in the sandbox (only booleans and counts
// that do not depend on timing are printed).
//
//   blocked   with SIGALRM blocked the timer fires once and waits: getitimer
//             reads 0 left, the interval stays, the signal is pending;
//             unblocking runs the handler once and re-arms the timer
//   ignored   with SIGALRM ignored a periodic timer fires once, the signal
//             is dropped and the timer never comes back, even once a
//             handler is installed
//   sigwait   sigtimedwait takes each SIGALRM and each take re-arms: five
//             takes of a 100 ms timer; between them the timer is armed
//   oneshot   a one-shot timer reads 0/0 after it fired and was taken;
//             setitimer returns the old value and interval; a fresh child
//             of fork has no timer
//   tiny      a 1 us periodic timer taken 200 times with sigwaitinfo; the
//             value left is never above the interval
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig) {
	(void)sig;
	ticks++;
}

static void msleep(int ms) {
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long usec(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

static void arm(long value_us, long interval_us) {
	struct itimerval it = {.it_interval = {interval_us / 1000000, interval_us % 1000000},
			       .it_value = {value_us / 1000000, value_us % 1000000}};
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		perror("setitimer");
}

static struct itimerval get(void) {
	struct itimerval it;
	getitimer(ITIMER_REAL, &it);
	return it;
}

static void handle(void (*fn)(int)) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigaction(SIGALRM, &sa, NULL);
}

static sigset_t alrm(void) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	return s;
}

static const char *yesno(int b) { return b ? "yes" : "no"; }

static void blocked(void) {
	handle(on_alarm);
	sigset_t s = alrm();
	sigprocmask(SIG_BLOCK, &s, NULL);
	// The first expiry after 1 ms, then every 200 ms: the 50 ms blocked
	// would have seen fifty 1 ms periods, and the re-armed timer has time
	// to be read before it fires again.
	arm(1000, 200000);
	msleep(50);
	struct itimerval it = get();
	sigset_t pend;
	sigpending(&pend);
	printf("blocked 50 ms: value 0: %s, interval 200 ms: %s, SIGALRM pending: %s, ticks %d\n",
	       yesno(usec(it.it_value) == 0), yesno(usec(it.it_interval) == 200000), yesno(sigismember(&pend, SIGALRM)),
	       (int)ticks);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	int after = ticks;
	sigprocmask(SIG_BLOCK, &s, NULL);
	it = get();
	printf("unblocked: handler ran %d time(s), re-armed: %s, on the 200 ms grid (value <= 151 ms): %s\n",
	       after, yesno(usec(it.it_value) > 0), yesno(usec(it.it_value) <= 151000));
	arm(0, 0);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static void ignored(void) {
	handle(SIG_IGN);
	arm(1000, 1000);
	msleep(30);
	struct itimerval it = get();
	printf("ignored 30 ms: value 0: %s, interval 1 ms: %s\n", yesno(usec(it.it_value) == 0),
	       yesno(usec(it.it_interval) == 1000));
	handle(on_alarm);
	msleep(30);
	it = get();
	printf("with a handler 30 ms later: ticks %d, value still 0: %s\n", (int)ticks, yesno(usec(it.it_value) == 0));
	arm(1000, 1000);
	msleep(30);
	printf("armed again: ticks > 0: %s\n", yesno(ticks > 0));
	arm(0, 0);
}

static void sigwait_mode(void) {
	sigset_t s = alrm();
	sigprocmask(SIG_BLOCK, &s, NULL);
	arm(100000, 100000);
	int taken = 0, armed = 0;
	for (int i = 0; i < 5; i++) {
		siginfo_t si;
		if (sigwaitinfo(&s, &si) == SIGALRM && si.si_code == SI_KERNEL)
			taken++;
		if (usec(get().it_value) > 0)
			armed++;
	}
	printf("sigwaitinfo took %d SIGALRM (SI_KERNEL), armed after %d of them\n", taken, armed);
	arm(0, 0);
	struct timespec zero = {0, 0};
	printf("after disarming: sigtimedwait %s\n",
	       sigtimedwait(&s, NULL, &zero) < 0 && errno == EAGAIN ? "EAGAIN" : "got one");
}

static void oneshot(void) {
	sigset_t s = alrm();
	sigprocmask(SIG_BLOCK, &s, NULL);
	arm(1000, 0);
	msleep(20);
	struct itimerval it = get();
	printf("one-shot fired: %ld/%ld\n", usec(it.it_value), usec(it.it_interval));
	sigwaitinfo(&s, NULL);
	it = get();
	printf("one-shot taken: %ld/%ld\n", usec(it.it_value), usec(it.it_interval));
	arm(5000000, 250000);
	struct itimerval old, neu = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &neu, &old);
	printf("setitimer returns the old one: value in (4.9 s, 5 s]: %s, interval %ld\n",
	       yesno(usec(old.it_value) > 4900000 && usec(old.it_value) <= 5000000), usec(old.it_interval));
	arm(3000, 3000);
	msleep(20); // fired, not taken
	setitimer(ITIMER_REAL, &neu, &old);
	printf("old value of a fired, untaken timer: %ld/%ld\n", usec(old.it_value), usec(old.it_interval));
	sigwaitinfo(&s, NULL);
	arm(5000000, 5000000);
	pid_t pid = fork();
	if (pid == 0) {
		it = get();
		printf("fork child: %ld/%ld\n", usec(it.it_value), usec(it.it_interval));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	arm(0, 0);
}

static void tiny(void) {
	sigset_t s = alrm();
	sigprocmask(SIG_BLOCK, &s, NULL);
	arm(1, 1);
	int bad = 0;
	for (int i = 0; i < 200; i++) {
		sigwaitinfo(&s, NULL);
		if (usec(get().it_value) > 1)
			bad++;
	}
	arm(0, 0);
	printf("1 us timer taken 200 times, value above the interval %d times\n", bad);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "blocked"))
		blocked();
	else if (!strcmp(m, "ignored"))
		ignored();
	else if (!strcmp(m, "sigwait"))
		sigwait_mode();
	else if (!strcmp(m, "oneshot"))
		oneshot();
	else if (!strcmp(m, "tiny"))
		tiny();
	else {
		fprintf(stderr, "usage: itimer blocked|ignored|sigwait|oneshot|tiny\n");
		return 2;
	}
	return 0;
}

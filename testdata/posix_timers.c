// posix_timers MODE: POSIX timers, timerfd, signalfd and pidfds as Linux
// runs them. Only errno names, counts and booleans that do not depend on
// timing are printed, so the output is the same natively and in the sandbox.
//
//   timer     timer_create's errors; SIGEV_SIGNAL with a value (si_code
//             SI_TIMER, si_value, si_timerid); SIGEV_NONE read back with
//             timer_gettime; TIMER_ABSTIME; old values; a blocked periodic
//             timer queues one signal and counts overruns; SIGEV_THREAD_ID;
//             glibc's SIGEV_THREAD; the timers are not inherited by fork
//             and are gone after execve
//   timerfd   timerfd_create/settime/gettime errors; a read counts the
//             expiries; EAGAIN nonblocking; short reads EINVAL; poll and
//             epoll readiness; absolute time; CANCEL_ON_SET accepted; the
//             descriptor is shared with a fork child
//   signalfd  errors; a read takes pending signals (several per read) as
//             signalfd_siginfo; poll and epoll readiness; a mask change on
//             the same descriptor; EAGAIN nonblocking; SIGKILL and SIGSTOP
//             never in the mask; a timer's signal read from it
//   cpu       timers on CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID
//             and a pthread's CPU clock fire once that much CPU was used
//             (not before), and not while the process sleeps
//   pidfd     pidfd_open's errors; poll readable once the child exits;
//             waitid(P_PIDFD); pidfd_send_signal with and without siginfo,
//             and from /proc/<pid>; pidfd_getfd; clone(CLONE_PIDFD)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static const char *en(long r) { return r == -1 ? strerrorname_np(errno) : "ok"; }

static void msleep(int ms) {
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long ms(struct timespec ts) { return ts.tv_sec * 1000 + ts.tv_nsec / 1000000; }

static void block(int sig) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static long raw_timer_create(clockid_t c, struct sigevent *ev, int *id) {
	return syscall(SYS_timer_create, c, ev, id);
}

static void *thread_id_waiter(void *arg) {
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 2);
	siginfo_t si;
	int sig = sigwaitinfo(&s, &si);
	printf("SIGEV_THREAD_ID: the chosen thread took it: %s, value %d\n",
	       sig == SIGRTMIN + 2 && si.si_code == SI_TIMER ? "yes" : "no", si.si_value.sival_int);
	return NULL;
}

static pthread_mutex_t thr_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t thr_cv = PTHREAD_COND_INITIALIZER;
static int thr_fired;

static void on_thread_timer(union sigval v) {
	pthread_mutex_lock(&thr_mu);
	thr_fired = v.sival_int;
	pthread_cond_signal(&thr_cv);
	pthread_mutex_unlock(&thr_mu);
}

static void mode_timer(const char *self) {
	int id;
	struct sigevent ev;
	// (The *_ALARM clocks are left out: EPERM for an unprivileged user
	// on a machine with an RTC, EOPNOTSUPP on one without.)
	printf("MONOTONIC_RAW: %s\n", en(raw_timer_create(CLOCK_MONOTONIC_RAW, NULL, &id)));
	printf("clock 99: %s\n", en(raw_timer_create(99, NULL, &id)));
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 0;
	printf("signal 0: %s\n", en(raw_timer_create(CLOCK_MONOTONIC, &ev, &id)));
	ev.sigev_signo = 65;
	printf("signal 65: %s\n", en(raw_timer_create(CLOCK_MONOTONIC, &ev, &id)));
	ev.sigev_signo = SIGUSR1;
	ev.sigev_notify = 7;
	printf("notify 7: %s\n", en(raw_timer_create(CLOCK_MONOTONIC, &ev, &id)));
	ev.sigev_notify = SIGEV_THREAD_ID;
	pid_t other = fork();
	if (other == 0) {
		pause();
		_exit(0);
	}
	ev._sigev_un._tid = other;
	printf("SIGEV_THREAD_ID of another process: %s\n", en(raw_timer_create(CLOCK_MONOTONIC, &ev, &id)));
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	struct itimerspec its = {0};
	printf("gettime of timer 12345: %s\n", en(syscall(SYS_timer_gettime, 12345, &its)));
	printf("getoverrun of timer 12345: %s\n", en(syscall(SYS_timer_getoverrun, 12345)));
	printf("delete of timer 12345: %s\n", en(syscall(SYS_timer_delete, 12345)));
	printf("bad timer_create address: %s\n", en(raw_timer_create(CLOCK_MONOTONIC, NULL, (int *)8)));

	// The first timer of a process has id 0; a NULL sigevent means
	// SIGALRM with the id as the value.
	timer_t t0;
	if (timer_create(CLOCK_MONOTONIC, NULL, &t0) != 0)
		perror("timer_create");
	// The failed timer_create calls above that got past the clock
	// checks used up ids 0-4.
	printf("first timer id: %ld\n", (long)(intptr_t)t0);
	printf("settime with no value: %s\n", en(syscall(SYS_timer_settime, (long)(intptr_t)t0, 0, NULL, NULL)));
	struct itimerspec bad = {.it_value = {0, 1000000000}};
	printf("settime with tv_nsec 1e9: %s\n", en(timer_settime(t0, 0, &bad, NULL)));
	block(SIGALRM);
	struct itimerspec one = {.it_value = {0, 20 * 1000000}};
	timer_settime(t0, 0, &one, NULL);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	siginfo_t si;
	int sig = sigwaitinfo(&alrm, &si);
	printf("NULL sigevent: %s, SI_TIMER: %s, si_value = id: %s, overrun %d\n", strsignal(sig),
	       si.si_code == SI_TIMER ? "yes" : "no", si.si_value.sival_int == 0 ? "yes" : "no", si.si_overrun);
	timer_gettime(t0, &its);
	printf("one-shot after firing: %ld/%ld\n", ms(its.it_value), ms(its.it_interval));

	// SIGEV_SIGNAL with a value, the timer id in si_timerid.
	timer_t t1;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN + 1;
	ev.sigev_value.sival_int = 4242;
	timer_create(CLOCK_REALTIME, &ev, &t1);
	block(SIGRTMIN + 1);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec abs = {.it_value = {now.tv_sec, now.tv_nsec}};
	abs.it_value.tv_nsec += 30 * 1000000;
	if (abs.it_value.tv_nsec >= 1000000000) {
		abs.it_value.tv_sec++;
		abs.it_value.tv_nsec -= 1000000000;
	}
	timer_settime(t1, TIMER_ABSTIME, &abs, NULL);
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	sig = sigwaitinfo(&rt, &si);
	printf("absolute REALTIME timer: SIGRTMIN+%d, SI_TIMER: %s, value %d, si_timerid matches: %s\n",
	       sig - SIGRTMIN, si.si_code == SI_TIMER ? "yes" : "no", si.si_value.sival_int,
	       si._sifields._timer.si_tid == (int)(intptr_t)t1 ? "yes" : "no");
	timer_delete(t1);

	// A periodic timer whose signal stays blocked: one signal queued,
	// the expiries meanwhile are its overrun.
	timer_t t2;
	ev.sigev_signo = SIGUSR1;
	ev.sigev_value.sival_int = 7;
	timer_create(CLOCK_MONOTONIC, &ev, &t2);
	block(SIGUSR1);
	struct itimerspec per = {.it_value = {0, 10 * 1000000}, .it_interval = {0, 10 * 1000000}};
	timer_settime(t2, 0, &per, NULL);
	msleep(200);
	sigset_t pend;
	sigpending(&pend);
	sigset_t u1;
	sigemptyset(&u1);
	sigaddset(&u1, SIGUSR1);
	sig = sigwaitinfo(&u1, &si);
	printf("blocked periodic: pending %s, one signal, overrun >= 10: %s, getoverrun same: %s\n",
	       sigismember(&pend, SIGUSR1) ? "yes" : "no", si.si_overrun >= 10 ? "yes" : "no",
	       timer_getoverrun(t2) == si.si_overrun ? "yes" : "no");
	struct timespec zero = {0, 0};
	struct itimerspec old;
	struct itimerspec off = {0};
	timer_settime(t2, 0, &off, &old);
	printf("old value within the interval: %s, old interval %ld ms\n",
	       ms(old.it_value) <= 10 ? "yes" : "no", ms(old.it_interval));
	timer_gettime(t2, &its);
	printf("disarmed: %ld/%ld\n", ms(its.it_value), ms(its.it_interval));
	sigtimedwait(&u1, &si, &zero);
	timer_delete(t2);
	printf("deleted timer: %s\n", en(timer_gettime(t2, &its)));

	// SIGEV_NONE: nothing is sent, gettime follows the grid.
	timer_t t3;
	ev.sigev_notify = SIGEV_NONE;
	timer_create(CLOCK_MONOTONIC, &ev, &t3);
	struct itimerspec none = {.it_value = {5, 0}, .it_interval = {1, 0}};
	timer_settime(t3, 0, &none, NULL);
	timer_gettime(t3, &its);
	printf("SIGEV_NONE: value in (4.5 s, 5 s]: %s, interval %ld ms\n",
	       ms(its.it_value) > 4500 && ms(its.it_value) <= 5000 ? "yes" : "no", ms(its.it_interval));
	struct itimerspec none2 = {.it_value = {0, 1000000}};
	timer_settime(t3, 0, &none2, NULL);
	msleep(10);
	timer_gettime(t3, &its);
	printf("SIGEV_NONE one-shot after expiry: %ld/%ld\n", ms(its.it_value), ms(its.it_interval));

	// SIGEV_THREAD_ID: the signal goes to that thread.
	block(SIGRTMIN + 2);
	pthread_t th;
	pthread_create(&th, NULL, thread_id_waiter, NULL);
	msleep(20);
	timer_t t4;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN + 2;
	ev.sigev_value.sival_int = 99;
	// glibc has no gettid of another thread: the waiter is the only
	// other thread, found in /proc/self/task by the kernel's numbering.
	pid_t tid = -1;
	for (pid_t t = getpid() + 1; t < getpid() + 64; t++)
		if (syscall(SYS_tgkill, getpid(), t, 0) == 0) {
			tid = t;
			break;
		}
	ev._sigev_un._tid = tid;
	printf("SIGEV_THREAD_ID timer: %s\n", en(timer_create(CLOCK_MONOTONIC, &ev, &t4)));
	struct itimerspec shortv = {.it_value = {0, 10 * 1000000}};
	timer_settime(t4, 0, &shortv, NULL);
	pthread_join(th, NULL);

	// glibc's SIGEV_THREAD (a helper thread with SIGEV_THREAD_ID).
	timer_t t5;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = on_thread_timer;
	ev.sigev_value.sival_int = 55;
	printf("SIGEV_THREAD timer: %s\n", en(timer_create(CLOCK_MONOTONIC, &ev, &t5)));
	timer_settime(t5, 0, &shortv, NULL);
	pthread_mutex_lock(&thr_mu);
	while (!thr_fired)
		pthread_cond_wait(&thr_cv, &thr_mu);
	pthread_mutex_unlock(&thr_mu);
	printf("SIGEV_THREAD function ran with %d\n", thr_fired);

	// Not inherited by fork; deleted by execve.
	pid_t c = fork();
	if (c == 0) {
		printf("fork child: timer 0 %s\n", en(syscall(SYS_timer_gettime, 0, &its)));
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		execl(self, self, "after-exec", (char *)NULL);
		_exit(127);
	}
	waitpid(c, NULL, 0);
}

static void mode_after_exec(void) {
	struct itimerspec its;
	printf("after execve: timer 0 %s\n", en(syscall(SYS_timer_gettime, 0, &its)));
}

static void mode_timerfd(void) {
	printf("timerfd_create clock 99: %s\n", en(timerfd_create(99, 0)));
	printf("timerfd_create CLOCK_PROCESS_CPUTIME_ID: %s\n", en(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0)));
	printf("timerfd_create flags 1: %s\n", en(timerfd_create(CLOCK_MONOTONIC, 1)));
	struct itimerspec its = {0};
	printf("timerfd_settime of fd 99: %s\n", en(timerfd_settime(99, 0, &its, NULL)));
	printf("timerfd_settime of stdin: %s\n", en(timerfd_settime(0, 0, &its, NULL)));
	printf("timerfd_gettime of stdin: %s\n", en(timerfd_gettime(0, &its)));
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	printf("timerfd_settime flags 4: %s\n", en(timerfd_settime(fd, 4, &its, NULL)));
	struct itimerspec bad = {.it_value = {0, -1}};
	printf("timerfd_settime tv_nsec -1: %s\n", en(timerfd_settime(fd, 0, &bad, NULL)));
	printf("cloexec: %s\n", fcntl(fd, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
	uint64_t n = 0;
	char small[4];
	printf("short read: %s\n", en(read(fd, small, sizeof small)));
	struct itimerspec per = {.it_value = {0, 10 * 1000000}, .it_interval = {0, 10 * 1000000}};
	timerfd_settime(fd, 0, &per, NULL);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	printf("poll before expiry: %d\n", poll(&pfd, 1, 0));
	msleep(105);
	int pr = poll(&pfd, 1, 0);
	printf("poll after expiry: %d revents POLLIN: %s\n", pr, pfd.revents == POLLIN ? "yes" : "no");
	read(fd, &n, sizeof n);
	printf("read counts the expiries (>= 10): %s\n", n >= 10 ? "yes" : "no");
	struct itimerspec cur;
	timerfd_gettime(fd, &cur);
	printf("gettime: value <= interval: %s, interval %ld ms\n", ms(cur.it_value) <= 10 ? "yes" : "no",
	       ms(cur.it_interval));
	timerfd_settime(fd, 0, &(struct itimerspec){0}, &cur);
	printf("disarm returns the old interval: %ld ms\n", ms(cur.it_interval));
	int nb = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	printf("nonblocking read with no expiry: %s\n", en(read(nb, &n, sizeof n)));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec abs = {.it_value = {now.tv_sec, now.tv_nsec}};
	printf("absolute, CANCEL_ON_SET: %s\n",
	       en(timerfd_settime(nb, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &abs, NULL)));
	int ep = epoll_create1(0);
	struct epoll_event ee = {.events = EPOLLIN, .data.u32 = 77};
	epoll_ctl(ep, EPOLL_CTL_ADD, nb, &ee);
	struct epoll_event out;
	int r = epoll_wait(ep, &out, 1, 5000);
	printf("epoll: %d ready, data %u\n", r, out.data.u32);
	n = 0;
	const char *rs = en(read(nb, &n, sizeof n));
	printf("read of a past absolute time: %s, count %lu\n", rs, (unsigned long)n);
	timerfd_gettime(nb, &cur);
	printf("one-shot after read: %ld/%ld\n", ms(cur.it_value), ms(cur.it_interval));
	// A fork child shares the descriptor.
	struct itimerspec one = {.it_value = {0, 20 * 1000000}};
	timerfd_settime(fd, 0, &one, NULL);
	pid_t c = fork();
	if (c == 0) {
		uint64_t v = 0;
		long rr = read(fd, &v, sizeof v); // blocks until it fires
		printf("fork child read the shared timerfd: %s, count %lu\n", en(rr), (unsigned long)v);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	printf("parent after the child read: %s\n", en(read(nb, &n, sizeof n)));
}

static void mode_signalfd(void) {
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN);
	printf("signalfd flags 1: %s\n", en(signalfd(-1, &m, 1)));
	printf("signalfd size 4: %s\n", en(syscall(SYS_signalfd4, -1, &m, 4, 0)));
	printf("signalfd of fd 99: %s\n", en(signalfd(99, &m, 0)));
	printf("signalfd of stdin: %s\n", en(signalfd(0, &m, 0)));
	sigprocmask(SIG_BLOCK, &m, NULL);
	int fd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	printf("nonblocking, cloexec: %s %s\n", fcntl(fd, F_GETFL) & O_NONBLOCK ? "yes" : "no",
	       fcntl(fd, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
	struct signalfd_siginfo ssi[4];
	printf("read with nothing pending: %s\n", en(read(fd, ssi, sizeof ssi)));
	printf("read of 100 bytes: %s\n", en(read(fd, ssi, 100)));
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	printf("poll with nothing pending: %d\n", poll(&pfd, 1, 0));
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	union sigval v = {.sival_int = 31};
	sigqueue(getpid(), SIGRTMIN, v);
	printf("poll with signals pending: %d\n", poll(&pfd, 1, 0));
	long n = read(fd, ssi, sizeof ssi);
	printf("read: %ld records\n", n / (long)sizeof ssi[0]);
	for (long i = 0; i < n / (long)sizeof ssi[0]; i++)
		printf("  signo %s, code %d, pid is mine: %s, uid is mine: %s\n",
		       ssi[i].ssi_signo >= (unsigned)SIGRTMIN ? "SIGRTMIN" : sigabbrev_np(ssi[i].ssi_signo),
		       ssi[i].ssi_code, ssi[i].ssi_pid == (unsigned)getpid() ? "yes" : "no",
		       ssi[i].ssi_uid == getuid() ? "yes" : "no");
	sigset_t p;
	sigpending(&p);
	printf("still pending: %s\n", sigismember(&p, SIGUSR1) || sigismember(&p, SIGUSR2) ? "yes" : "no");
	// Mask changes on the same descriptor; SIGKILL/SIGSTOP are dropped.
	sigset_t m2;
	sigemptyset(&m2);
	sigaddset(&m2, SIGUSR2);
	sigaddset(&m2, SIGKILL);
	sigaddset(&m2, SIGSTOP);
	printf("mask update returns the fd: %s\n", signalfd(fd, &m2, 0) == fd ? "yes" : "no");
	kill(getpid(), SIGUSR1);
	printf("SIGUSR1 no longer in the mask: poll %d\n", poll(&pfd, 1, 0));
	kill(getpid(), SIGUSR2);
	n = read(fd, ssi, sizeof ssi);
	printf("read after update: %ld record(s), %s\n", n / (long)sizeof ssi[0], sigabbrev_np(ssi[0].ssi_signo));
	sigset_t u1;
	sigemptyset(&u1);
	sigaddset(&u1, SIGUSR1);
	siginfo_t si;
	struct timespec zero = {0, 0};
	sigtimedwait(&u1, &si, &zero);
	// A blocking signalfd woken through epoll by a timer's signal.
	int bfd = signalfd(-1, &m, 0);
	int ep = epoll_create1(0);
	struct epoll_event ee = {.events = EPOLLIN, .data.u32 = 5};
	epoll_ctl(ep, EPOLL_CTL_ADD, bfd, &ee);
	timer_t t;
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
	ev.sigev_value.sival_int = 808;
	timer_create(CLOCK_MONOTONIC, &ev, &t);
	struct itimerspec one = {.it_value = {0, 20 * 1000000}};
	timer_settime(t, 0, &one, NULL);
	struct epoll_event out;
	printf("epoll on the signalfd: %d\n", epoll_wait(ep, &out, 1, 5000));
	n = read(bfd, ssi, sizeof ssi);
	printf("timer via signalfd: %ld record, SI_TIMER: %s, ssi_int %d, ssi_tid matches: %s, overrun %u\n",
	       n / (long)sizeof ssi[0], ssi[0].ssi_code == SI_TIMER ? "yes" : "no", ssi[0].ssi_int,
	       ssi[0].ssi_tid == (unsigned)(intptr_t)t ? "yes" : "no", ssi[0].ssi_overrun);
	// A blocking read waits for the signal (sent by a child).
	pid_t c = fork();
	if (c == 0) {
		msleep(20);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	n = read(bfd, ssi, sizeof ssi);
	printf("blocking read: %ld record, %s from the child: %s\n", n / (long)sizeof ssi[0],
	       sigabbrev_np(ssi[0].ssi_signo), ssi[0].ssi_pid == (unsigned)c ? "yes" : "no");
	waitpid(c, NULL, 0);
	// SIGCHLD's status through a signalfd.
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int cfd = signalfd(-1, &chld, 0);
	c = fork();
	if (c == 0)
		_exit(7);
	n = read(cfd, ssi, sizeof ssi);
	printf("SIGCHLD: code CLD_EXITED: %s, status %d, pid matches: %s\n",
	       ssi[0].ssi_code == CLD_EXITED ? "yes" : "no", ssi[0].ssi_status,
	       ssi[0].ssi_pid == (unsigned)c ? "yes" : "no");
	waitpid(c, NULL, 0);
}

static double cpu_now(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

// spin_until_signal burns CPU until sig is pending (blocked) and returns
// the CPU time c read then, or -1 after 10 s of wall time.
static double spin_until_signal(int sig, clockid_t c) {
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		for (volatile int i = 0; i < 100000; i++)
			;
		sigset_t p;
		sigpending(&p);
		if (sigismember(&p, sig))
			return cpu_now(c);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			return -1;
	}
}

static void *cpu_thread(void *arg) {
	(void)arg;
	clockid_t c;
	pthread_getcpuclockid(pthread_self(), &c);
	timer_t t;
	struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR2};
	ev._sigev_un._tid = gettid();
	printf("timer on a pthread's CPU clock: %s\n", en(timer_create(c, &ev, &t)));
	double start = cpu_now(c);
	struct itimerspec v = {.it_value = {0, 50 * 1000000}};
	timer_settime(t, 0, &v, NULL);
	double at = spin_until_signal(SIGUSR2, c);
	printf("it fired after the thread used 50 ms: %s\n", at - start >= 0.049 ? "yes" : "no");
	timer_delete(t);
	return NULL;
}

static void mode_cpu(void) {
	block(SIGUSR1);
	block(SIGUSR2);
	timer_t t;
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	printf("CLOCK_PROCESS_CPUTIME_ID timer: %s\n", en(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t)));
	struct itimerspec v = {.it_value = {0, 50 * 1000000}};
	timer_settime(t, 0, &v, NULL);
	msleep(150);
	sigset_t p;
	sigpending(&p);
	printf("fired while sleeping: %s\n", sigismember(&p, SIGUSR1) ? "yes" : "no");
	double start = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	double at = spin_until_signal(SIGUSR1, CLOCK_PROCESS_CPUTIME_ID);
	printf("fired once the process used its CPU: %s\n", at > 0 && at >= 0.05 ? "yes" : "no");
	(void)start;
	struct itimerspec its;
	timer_gettime(t, &its);
	printf("one-shot after firing: %ld/%ld\n", ms(its.it_value), ms(its.it_interval));
	siginfo_t si;
	sigset_t u1;
	sigemptyset(&u1);
	sigaddset(&u1, SIGUSR1);
	sigwaitinfo(&u1, &si);
	printf("SI_TIMER: %s\n", si.si_code == SI_TIMER ? "yes" : "no");
	timer_delete(t);
	timer_t tt;
	ev.sigev_signo = SIGUSR2;
	printf("CLOCK_THREAD_CPUTIME_ID timer: %s\n", en(timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &tt)));
	double tstart = cpu_now(CLOCK_THREAD_CPUTIME_ID);
	timer_settime(tt, 0, &v, NULL);
	at = spin_until_signal(SIGUSR2, CLOCK_THREAD_CPUTIME_ID);
	printf("fired after the thread used 50 ms: %s\n", at - tstart >= 0.049 ? "yes" : "no");
	sigset_t u2;
	sigemptyset(&u2);
	sigaddset(&u2, SIGUSR2);
	sigwaitinfo(&u2, &si);
	timer_delete(tt);
	pthread_t th;
	pthread_create(&th, NULL, cpu_thread, NULL);
	pthread_join(th, NULL);
}

static long pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static long pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
	return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static volatile sig_atomic_t got_usr1, got_usr1_value;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)uc;
	got_usr1 = si->si_code;
	got_usr1_value = si->si_value.sival_int;
}

static void mode_pidfd(void) {
	printf("pidfd_open(-1): %s\n", en(pidfd_open(-1, 0)));
	printf("pidfd_open(0): %s\n", en(pidfd_open(0, 0)));
	printf("pidfd_open flags 1: %s\n", en(pidfd_open(getpid(), 1)));
	printf("pidfd_open of no process: %s\n", en(pidfd_open(4000000, 0)));
	int self = pidfd_open(getpid(), 0);
	printf("own pidfd: %s, cloexec: %s\n", en(self), fcntl(self, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
	char b[8];
	printf("read of a pidfd: %s\n", en(read(self, b, sizeof b)));
	printf("send_signal on stdin: %s\n", en(pidfd_send_signal(0, SIGUSR1, NULL, 0)));
	printf("send_signal on fd 99: %s\n", en(pidfd_send_signal(99, SIGUSR1, NULL, 0)));
	printf("send_signal flags 8: %s\n", en(pidfd_send_signal(self, SIGUSR1, NULL, 8)));
	printf("send_signal flags 3: %s\n", en(pidfd_send_signal(self, SIGUSR1, NULL, 3)));
	printf("send_signal signal 0: %s\n", en(pidfd_send_signal(self, 0, NULL, 0)));
	printf("send_signal signal 99: %s\n", en(pidfd_send_signal(self, 99, NULL, 0)));
	struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO};
	sigaction(SIGUSR1, &sa, NULL);
	pidfd_send_signal(self, SIGUSR1, NULL, 0);
	printf("SIGUSR1 to myself: code SI_USER: %s\n", got_usr1 == SI_USER ? "yes" : "no");
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = 1234;
	const char *rs = en(pidfd_send_signal(self, SIGUSR1, &si, 0));
	printf("with siginfo: %s, code SI_QUEUE: %s, value %d\n", rs, got_usr1 == SI_QUEUE ? "yes" : "no",
	       (int)got_usr1_value);
	si.si_signo = SIGUSR2;
	printf("siginfo of another signal: %s\n", en(pidfd_send_signal(self, SIGUSR1, &si, 0)));
	char path[64];
	snprintf(path, sizeof path, "/proc/%d", getpid());
	int procfd = open(path, O_DIRECTORY | O_RDONLY);
	got_usr1 = 0;
	got_usr1 = -1;
	rs = en(pidfd_send_signal(procfd, SIGUSR1, NULL, 0));
	printf("via /proc/<pid>: %s, delivered: %s\n", rs, got_usr1 == SI_USER ? "yes" : "no");
	int sp[2];
	pipe(sp);
	pid_t c = fork();
	if (c == 0) {
		close(sp[1]);
		char x;
		// Until the parent closes its end (its SIGUSR1 interrupts a read).
		while (read(sp[0], &x, 1) < 0 && errno == EINTR)
			;
		_exit(3);
	}
	close(sp[0]);
	int pfd = pidfd_open(c, PIDFD_NONBLOCK);
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	printf("child running: poll %d\n", poll(&p, 1, 0));
	siginfo_t wi;
	printf("waitid on a nonblocking pidfd of a running child: %s\n", en(waitid(P_PIDFD, pfd, &wi, WEXITED)));
	si.si_signo = SIGUSR1;
	printf("siginfo to another process: %s\n", en(pidfd_send_signal(pfd, SIGUSR1, &si, 0)));
	int gfd = syscall(SYS_pidfd_getfd, pfd, 1, 0);
	printf("pidfd_getfd of the child's stdout: %s\n", en(gfd));
	printf("pidfd_getfd flags 1: %s\n", en(syscall(SYS_pidfd_getfd, pfd, 1, 1)));
	printf("pidfd_getfd of fd 99: %s\n", en(syscall(SYS_pidfd_getfd, pfd, 99, 0)));
	if (gfd >= 0)
		close(gfd);
	close(sp[1]);
	p.revents = 0;
	int pr = poll(&p, 1, 5000);
	printf("child exited: poll %d, POLLIN: %s\n", pr, p.revents & POLLIN ? "yes" : "no");
	memset(&wi, 0, sizeof wi);
	rs = en(waitid(P_PIDFD, pfd, &wi, WEXITED));
	printf("waitid(P_PIDFD): %s, pid matches: %s, status %d\n", rs, wi.si_pid == c ? "yes" : "no", wi.si_status);
	p.revents = 0;
	pr = poll(&p, 1, 0);
	printf("after reaping: poll %d, POLLHUP: %s\n", pr, p.revents & POLLHUP ? "yes" : "no");
	printf("send_signal after reaping: %s\n", en(pidfd_send_signal(pfd, SIGUSR1, NULL, 0)));
	printf("waitid(P_PIDFD) again: %s\n", en(waitid(P_PIDFD, pfd, &wi, WEXITED)));
	printf("waitid(P_PIDFD) of stdin: %s\n", en(waitid(P_PIDFD, 0, &wi, WEXITED)));
	printf("waitid(P_PIDFD) of myself: %s\n", en(waitid(P_PIDFD, self, &wi, WEXITED | WNOHANG)));
	// A sibling is not a descendant: no pidfd_getfd.
	int sp2[2];
	pipe(sp2);
	pid_t sib = fork();
	if (sib == 0) {
		close(sp2[1]);
		char x;
		read(sp2[0], &x, 1);
		_exit(0);
	}
	close(sp2[0]);
	pid_t asker = fork();
	if (asker == 0) {
		int sfd = pidfd_open(sib, 0);
		printf("pidfd_getfd of a sibling: %s\n", en(syscall(SYS_pidfd_getfd, sfd, 0, 0)));
		fflush(stdout);
		_exit(0);
	}
	waitpid(asker, NULL, 0);
	close(sp2[1]);
	waitpid(sib, NULL, 0);
	// clone(CLONE_PIDFD) returns a pidfd in parent_tid.
	int cpfd = -1;
	long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &cpfd, 0, 0);
	if (r == 0)
		_exit(5);
	p.fd = cpfd;
	pr = poll(&p, 1, 5000);
	printf("CLONE_PIDFD: %s, poll %d\n", cpfd >= 0 ? "a descriptor" : "none", pr);
	memset(&wi, 0, sizeof wi);
	waitid(P_PIDFD, cpfd, &wi, WEXITED);
	printf("its child's status: %d, pid matches: %s\n", wi.si_status, wi.si_pid == r ? "yes" : "no");
	int ptid = 0;
	printf("CLONE_PIDFD|CLONE_PARENT_SETTID: %s\n",
	       en(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &ptid, 0, 0)));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "timer"))
		mode_timer(argv[0]);
	else if (!strcmp(argv[1], "after-exec"))
		mode_after_exec();
	else if (!strcmp(argv[1], "timerfd"))
		mode_timerfd();
	else if (!strcmp(argv[1], "signalfd"))
		mode_signalfd();
	else if (!strcmp(argv[1], "cpu"))
		mode_cpu();
	else if (!strcmp(argv[1], "pidfd"))
		mode_pidfd();
	else
		return 2;
	return 0;
}

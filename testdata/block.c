// block MODE: print "ready" on stderr, then block forever in one kernel
// wait. The tests end the sandbox from outside (--timeout, SIGTERM) and
// check that it ends at once, whatever the guest is blocked in.
//
//   futex      FUTEX_WAIT on a word nobody wakes
//   pipe       read from an empty pipe whose writer stays open
//   epoll      epoll_wait on an instance watching that pipe
//   epoll-nest epoll_wait on an instance watching an instance watching it
//   epoll-loop the self-add (through a dup) and cycle attempts that once
//              deadlocked litebox, then epoll_wait on both instances from
//              two threads
//   wait4      wait4 for a child that pauses forever
//   sigsuspend sigsuspend with every catchable signal blocked
//   sigwait    sigtimedwait without a timeout
//   poll       poll on the pipe, no timeout
//   select     select on the pipe, no timeout
//   pause      pause
//   sleep      nanosleep for a day
//   eventfd    read from a zero eventfd
//   flock      flock on a file a child holds locked
//   fcntl-lock F_SETLKW on a record a child holds locked
//   vfork      vfork whose child blocks reading the pipe
//   threads    eight threads, each in a different one of the waits above,
//              and the main thread in pthread_join
//   stopped    the process stops itself with SIGSTOP
//   stdout     write to stdout forever (the tests never read it)
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pfd[2];
static volatile uint32_t word;

static void ready(void) {
	if (write(2, "ready\n", 6) != 6)
		_exit(3);
}

static void do_futex(void) { syscall(SYS_futex, &word, FUTEX_WAIT, 0, NULL, NULL, 0); }

static void do_pipe(void) {
	char c;
	if (read(pfd[0], &c, 1) < 0)
		perror("read");
}

static void do_epoll(void) {
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev);
	epoll_wait(ep, &ev, 1, -1);
}

static void do_epoll_nest(void) {
	int a = epoll_create1(0), b = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(b, EPOLL_CTL_ADD, pfd[0], &ev);
	epoll_ctl(a, EPOLL_CTL_ADD, b, &ev);
	epoll_wait(a, &ev, 1, -1);
}

static int loop_a, loop_b;

static void *loop_waiter(void *arg) {
	struct epoll_event ev;
	epoll_wait(*(int *)arg, &ev, 1, -1);
	return NULL;
}

static void do_epoll_loop(void) {
	loop_a = epoll_create1(0);
	loop_b = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(loop_a, EPOLL_CTL_ADD, dup(loop_a), &ev); // EINVAL
	epoll_ctl(loop_a, EPOLL_CTL_ADD, loop_b, &ev);
	epoll_ctl(loop_b, EPOLL_CTL_ADD, loop_a, &ev); // ELOOP
	epoll_ctl(loop_b, EPOLL_CTL_ADD, pfd[0], &ev);
	pthread_t th;
	pthread_create(&th, NULL, loop_waiter, &loop_b);
	struct pollfd p = {.fd = loop_a, .events = POLLIN};
	poll(&p, 1, 10);
	epoll_wait(loop_a, &ev, 1, -1);
}

static void do_wait4(void) {
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	int st;
	wait4(pid, &st, 0, NULL);
}

static void do_sigsuspend(void) {
	sigset_t all;
	sigfillset(&all);
	sigsuspend(&all);
}

static void do_sigwait(void) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	sigwaitinfo(&s, NULL);
}

static void do_poll(void) {
	struct pollfd p = {.fd = pfd[0], .events = POLLIN};
	poll(&p, 1, -1);
}

static void do_select(void) {
	fd_set r;
	FD_ZERO(&r);
	FD_SET(pfd[0], &r);
	select(pfd[0] + 1, &r, NULL, NULL, NULL);
}

static void do_sleep(void) {
	struct timespec ts = {.tv_sec = 86400};
	nanosleep(&ts, NULL);
}

static void do_eventfd(void) {
	int e = eventfd(0, 0);
	uint64_t v;
	if (read(e, &v, sizeof v) < 0)
		perror("read eventfd");
}

// locked_by_child returns a new descriptor of a file that a child holds
// locked (flock on its own open file description, and a write lock on the
// first byte) until it dies.
static int locked_by_child(void) {
	char path[] = "/tmp/block-lock-XXXXXX";
	int fd = mkstemp(path);
	int go[2];
	if (fd < 0 || pipe(go) != 0)
		_exit(3);
	close(fd);
	if (fork() == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1};
		int own = open(path, O_RDWR);
		if (own < 0 || flock(own, LOCK_EX) != 0 || fcntl(own, F_SETLK, &fl) != 0)
			_exit(3);
		if (write(go[1], "x", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	char c;
	if (read(go[0], &c, 1) != 1)
		_exit(3);
	fd = open(path, O_RDWR);
	unlink(path);
	return fd;
}

static void do_flock(void) {
	int fd = locked_by_child();
	ready();
	flock(fd, LOCK_EX);
}

static void do_fcntl_lock(void) {
	int fd = locked_by_child();
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1};
	ready();
	fcntl(fd, F_SETLKW, &fl);
}

static void do_vfork(void) {
	if (vfork() == 0) {
		char c;
		if (read(pfd[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
}

static void do_stopped(void) { raise(SIGSTOP); }

static void do_stdout(void) {
	static char buf[65536];
	memset(buf, 'x', sizeof buf);
	for (int i = 0;; i++) {
		if (i == 0)
			ready(); // the pipe to the test (64 KiB) is full by now
		if (write(1, buf, sizeof buf) < 0)
			return;
	}
}

static void *thread_main(void *arg) {
	((void (*)(void))arg)();
	return NULL;
}

static void do_threads(void) {
	void (*waits[])(void) = {do_futex, do_pipe, do_epoll, do_poll, do_select, do_sleep, do_eventfd, do_sigwait};
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, thread_main, waits[i]);
	usleep(100000);
	ready();
	pthread_join(th[0], NULL);
}

int main(int argc, char **argv) {
	const char *m = argc > 1 ? argv[1] : "";
	if (pipe(pfd) != 0)
		return 3;
	struct {
		const char *name;
		void (*fn)(void);
		int says_ready; // prints "ready" itself
	} modes[] = {
		{"futex", do_futex, 0},       {"pipe", do_pipe, 0},
		{"epoll", do_epoll, 0},       {"epoll-nest", do_epoll_nest, 0},
		{"epoll-loop", do_epoll_loop, 0}, {"wait4", do_wait4, 0},
		{"sigsuspend", do_sigsuspend, 0}, {"sigwait", do_sigwait, 0},
		{"poll", do_poll, 0},         {"select", do_select, 0},
		{"pause", (void (*)(void))pause, 0}, {"sleep", do_sleep, 0},
		{"eventfd", do_eventfd, 0},   {"flock", do_flock, 1},
		{"fcntl-lock", do_fcntl_lock, 1}, {"vfork", do_vfork, 0},
		{"threads", do_threads, 1},   {"stopped", do_stopped, 0},
		{"stdout", do_stdout, 1},
	};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(m, modes[i].name) != 0)
			continue;
		if (!modes[i].says_ready)
			ready();
		modes[i].fn();
		fprintf(stderr, "block %s: the wait returned\n", m);
		return 1;
	}
	fprintf(stderr, "usage: block MODE\n");
	return 2;
}

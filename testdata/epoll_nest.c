// epoll_nest MODE: epoll instances watching epoll instances, and the errors
// epoll_ctl gives. Output is identical natively and in the sandbox.
//
//   loops     an instance added to itself (same fd, dup) is EINVAL; two- and
//             three-instance cycles are ELOOP, and the failed add leaves the
//             instances working
//   depth     chains of instances built bottom-up, top-down and by joining
//             two chains: five instances (four links) are fine, a sixth is
//             ELOOP
//   ready     nested readiness: a pipe in B in A wakes epoll_wait and poll
//             on A, edge-triggered and one-shot items nested, readiness
//             goes away once the pipe is drained
//   errors    EBADF, EINVAL (not an instance, bad op, EPOLLEXCLUSIVE
//             misuse), EPERM (regular file), EEXIST, ENOENT
//   lifetime  an item belongs to the open file, not the descriptor: it
//             survives close() while a dup or a child's copy is open, and
//             goes with the last reference
//   paths     one pipe watched through 501 instances that are all inside
//             one more: the 501st path of length two is EINVAL
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
	switch (e) {
	case 0: return "ok";
	case EINVAL: return "EINVAL";
	case ELOOP: return "ELOOP";
	case EBADF: return "EBADF";
	case EPERM: return "EPERM";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EFAULT: return "EFAULT";
	case ENOSPC: return "ENOSPC";
	case ENOMEM: return "ENOMEM";
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

static int ctl(int ep, int op, int fd, unsigned events) {
	struct epoll_event ev = {.events = events, .data.u64 = (unsigned)fd};
	return epoll_ctl(ep, op, fd, &ev) == 0 ? 0 : errno;
}

static int add(int ep, int fd) { return ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN); }

static int mkep(void) {
	int e = epoll_create1(0);
	if (e < 0) {
		perror("epoll_create1");
		exit(1);
	}
	return e;
}

// waitn returns epoll_wait's count with a zero timeout (or -errno).
static int waitn(int ep) {
	struct epoll_event evs[8];
	int n = epoll_wait(ep, evs, 8, 0);
	return n < 0 ? -errno : n;
}

static void loops(void) {
	int a = mkep();
	printf("add a to itself: %s\n", ename(add(a, a)));
	int d = dup(a);
	printf("add a to itself through a dup: %s\n", ename(add(a, d)));
	int b = mkep();
	printf("add b to a: %s\n", ename(add(a, b)));
	printf("add a to b (cycle of two): %s\n", ename(add(b, a)));
	printf("add a's dup to b (cycle of two): %s\n", ename(add(b, d)));
	int c = mkep();
	printf("add c to b: %s\n", ename(add(b, c)));
	printf("add a to c (cycle of three): %s\n", ename(add(c, a)));
	int p[2];
	if (pipe(p) != 0)
		return;
	printf("add a pipe to c: %s\n", ename(add(c, p[0])));
	int ra = waitn(a), rb = waitn(b), rc = waitn(c);
	printf("ready before a write: a %d b %d c %d\n", ra, rb, rc);
	if (write(p[1], "x", 1) != 1)
		return;
	ra = waitn(a), rb = waitn(b), rc = waitn(c);
	printf("ready after a write: a %d b %d c %d\n", ra, rb, rc);
	struct pollfd pf = {.fd = a, .events = POLLIN};
	int n = poll(&pf, 1, 0);
	printf("poll(a): %d revents POLLIN %s\n", n, pf.revents & POLLIN ? "yes" : "no");
	int r = ctl(a, EPOLL_CTL_DEL, b, 0);
	printf("remove b from a: %s; ", ename(r));
	printf("add a to c now: %s\n", ename(add(c, a)));
	printf("add b to a again (cycle of three): %s\n", ename(add(a, b)));
	close(a);
	close(b);
	close(c);
	close(d);
	close(p[0]);
	close(p[1]);
}

static void chain(const char *what, int topdown) {
	int e[7];
	for (int i = 0; i < 7; i++)
		e[i] = mkep();
	printf("%s:", what);
	for (int i = 0; i < 6; i++) {
		// bottom-up: e[i] into e[i+1]; top-down: e[i+1] into e[i].
		int r = topdown ? add(e[i], e[i + 1]) : add(e[i + 1], e[i]);
		printf(" %s", ename(r));
	}
	printf("\n");
	for (int i = 0; i < 7; i++)
		close(e[i]);
}

static void depth(void) {
	chain("chain bottom-up, links 1..6", 0);
	chain("chain top-down, links 1..6", 1);
	// Two chains of three instances (two links each): linking them makes
	// five links, one too many; chains of two and three make four.
	int x[3], y[3], z[2];
	for (int i = 0; i < 3; i++) {
		x[i] = mkep();
		y[i] = mkep();
	}
	z[0] = mkep();
	z[1] = mkep();
	add(x[0], x[1]);
	add(x[1], x[2]);
	add(y[0], y[1]);
	add(y[1], y[2]);
	add(z[0], z[1]);
	printf("join two 3-chains: %s\n", ename(add(x[2], y[0])));
	printf("join a 3-chain under a 2-chain: %s\n", ename(add(z[1], x[0])));
	printf("and then the other 3-chain below it: %s\n", ename(add(x[2], y[0])));
	int w = mkep();
	printf("a fresh instance below the 5-chain: %s, ", ename(add(x[2], w)));
	printf("above it: %s\n", ename(add(w, z[0])));
	printf("ELOOP without a cycle, through a dup: %s\n", ename(add(dup(x[2]), y[2])));
}

static void ready(void) {
	int a = mkep(), b = mkep(), c = mkep();
	int p[2], q[2];
	if (pipe(p) != 0 || pipe(q) != 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 11};
	epoll_ctl(b, EPOLL_CTL_ADD, p[0], &ev);
	ev.data.u64 = 22;
	epoll_ctl(a, EPOLL_CTL_ADD, b, &ev);
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = 33;
	epoll_ctl(c, EPOLL_CTL_ADD, q[0], &ev);
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 44;
	epoll_ctl(a, EPOLL_CTL_ADD, c, &ev);
	printf("nothing written: a %d\n", waitn(a));
	if (fork() == 0) {
		usleep(100000);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		_exit(0);
	}
	struct epoll_event out[4];
	int n = epoll_wait(a, out, 4, 5000);
	printf("blocking epoll_wait(a) woke: %d event(s), data %llu, EPOLLIN %s\n", n,
	       n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL,
	       n > 0 && (out[0].events & EPOLLIN) ? "yes" : "no");
	wait(NULL);
	n = epoll_wait(b, out, 4, 0);
	printf("epoll_wait(b): %d, data %llu\n", n, n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
	struct pollfd pf = {.fd = a, .events = POLLIN | POLLRDNORM};
	n = poll(&pf, 1, 0);
	printf("poll(a): %d, POLLIN %s POLLRDNORM %s\n", n, pf.revents & POLLIN ? "yes" : "no",
	       pf.revents & POLLRDNORM ? "yes" : "no");
	char buf[8];
	if (read(p[0], buf, sizeof buf) != 1)
		return;
	printf("after draining the pipe: a %d b %d\n", waitn(a), waitn(b));
	if (write(q[1], "y", 1) != 1)
		return;
	n = epoll_wait(a, out, 4, 0);
	printf("edge-triggered q in one-shot c: %d, data %llu\n", n,
	       n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
	printf("one-shot c again: %d\n", waitn(a));
	int first = waitn(c);
	printf("c itself (its edge not seen through c yet): %d, then %d\n", first, waitn(c));
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 55;
	printf("rearm c in a: %s, ", ename(epoll_ctl(a, EPOLL_CTL_MOD, c, &ev) ? errno : 0));
	printf("a %d (c has nothing new)\n", waitn(a));
}

static void errors(void) {
	int a = mkep();
	int p[2];
	if (pipe(p) != 0)
		return;
	int f = open("/proc/self/exe", O_RDONLY);
	printf("bad epfd: %s\n", ename(add(999, p[0])));
	printf("bad fd: %s\n", ename(add(a, 999)));
	printf("bad epfd and bad fd: %s\n", ename(add(999, 998)));
	printf("epfd is a pipe: %s\n", ename(add(p[0], p[1])));
	printf("epfd is a pipe, fd a regular file: %s\n", ename(add(p[0], f)));
	printf("regular file: %s\n", ename(add(a, f)));
	printf("add: %s, ", ename(add(a, p[0])));
	printf("again: %s\n", ename(add(a, p[0])));
	printf("bad op: %s\n", ename(ctl(a, 99, p[0], EPOLLIN)));
	printf("bad op, missing fd: %s\n", ename(ctl(a, 99, p[1], EPOLLIN)));
	printf("mod missing: %s\n", ename(ctl(a, EPOLL_CTL_MOD, p[1], EPOLLOUT)));
	printf("del missing: %s\n", ename(ctl(a, EPOLL_CTL_DEL, p[1], 0)));
	printf("del with a NULL event: %s\n", ename(epoll_ctl(a, EPOLL_CTL_DEL, p[0], NULL) ? errno : 0));
	printf("add with a NULL event: %s\n", ename(epoll_ctl(a, EPOLL_CTL_ADD, p[0], NULL) ? errno : 0));
	printf("mod with EPOLLEXCLUSIVE: %s\n", ename(ctl(a, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLEXCLUSIVE)));
	printf("EPOLLEXCLUSIVE|EPOLLONESHOT: %s\n", ename(ctl(a, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT)));
	int b = mkep();
	printf("EPOLLEXCLUSIVE on an instance: %s\n", ename(ctl(a, EPOLL_CTL_ADD, b, EPOLLIN | EPOLLEXCLUSIVE)));
	printf("EPOLLEXCLUSIVE|EPOLLET: %s\n", ename(ctl(a, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLET)));
	printf("mod of an exclusive item: %s\n", ename(ctl(a, EPOLL_CTL_MOD, p[1], EPOLLOUT)));
	printf("del of an exclusive item: %s\n", ename(ctl(a, EPOLL_CTL_DEL, p[1], 0)));
	struct epoll_event out[2];
	printf("epoll_wait on a pipe: %s\n", ename(epoll_wait(p[0], out, 2, 0) < 0 ? errno : 0));
	printf("epoll_wait maxevents 0: %s\n", ename(epoll_wait(a, out, 0, 0) < 0 ? errno : 0));
	printf("epoll_create(0): %s\n", ename(epoll_create(0) < 0 ? errno : 0));
	printf("epoll_create1(bad flags): %s\n", ename(epoll_create1(1) < 0 ? errno : 0));
}

static void lifetime(void) {
	int a = mkep();
	int p[2];
	if (pipe(p) != 0 || write(p[1], "x", 1) != 1)
		return;
	int d = dup(p[0]);
	add(a, p[0]);
	close(p[0]);
	printf("fd closed, dup open: a %d\n", waitn(a));
	printf("re-add through the dup: %s\n", ename(add(a, d)));
	printf("now two items: a %d\n", waitn(a));
	printf("del through the dup: %s, ", ename(ctl(a, EPOLL_CTL_DEL, d, 0)));
	printf("a %d\n", waitn(a));
	printf("del the closed fd's item through its number: %s\n", ename(ctl(a, EPOLL_CTL_DEL, p[0], 0)));
	pid_t pid = fork();
	if (pid == 0) {
		usleep(200000); // holds its copy of d open meanwhile
		_exit(0);
	}
	close(d);
	printf("last fd closed, a child still has it: a %d\n", waitn(a));
	waitpid(pid, NULL, 0);
	printf("child gone too: a %d\n", waitn(a));
	int b = mkep(), c = mkep();
	add(b, c);
	close(c);
	printf("instance closed while watched: b %d, ", waitn(b));
	printf("add b to a: %s\n", ename(add(a, b)));
}

static void paths(void) {
	int p[2];
	if (pipe(p) != 0)
		return;
	int top = mkep();
	int i, r = 0;
	for (i = 0; i < 600; i++) {
		int e = mkep();
		if ((r = add(e, p[0])) != 0) {
			printf("pipe into instance %d: %s\n", i, ename(r));
			return;
		}
		if ((r = add(top, e)) != 0)
			break;
	}
	printf("instances watching the pipe from inside top: %d, then %s\n", i, ename(r));
	int e = mkep();
	add(top, e);
	printf("and adding the pipe to another instance inside top: %s\n", ename(add(e, p[0])));
	printf("or to a fresh, unwatched one: %s\n", ename(add(mkep(), p[0])));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "loops"))
		loops();
	else if (!strcmp(m, "depth"))
		depth();
	else if (!strcmp(m, "ready"))
		ready();
	else if (!strcmp(m, "errors"))
		errors();
	else if (!strcmp(m, "lifetime"))
		lifetime();
	else if (!strcmp(m, "paths"))
		paths();
	else {
		fprintf(stderr, "usage: epoll_nest loops|depth|ready|errors|lifetime|paths\n");
		return 2;
	}
	return 0;
}

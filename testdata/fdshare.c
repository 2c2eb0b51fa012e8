// fdshare: descriptor tables shared with clone(CLONE_FILES) between
// processes: a sibling's descriptors are the caller's, its exit closes
// nothing of the caller's, close_range(CLOSE_RANGE_UNSHARE) and execve
// give it a table of its own.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const char *st(int fd) {
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return "closed";
	return fl & FD_CLOEXEC ? "open cloexec" : "open";
}

static char stack[256 * 1024] __attribute__((aligned(16)));
static char *self;

static int unsharer(void *arg) {
	(void)arg;
	long r = syscall(SYS_close_range, 10, 10, CLOSE_RANGE_UNSHARE);
	dup2(1, 11);
	printf("child: close_range UNSHARE %ld, fd 10 %s, fd 11 %s\n", r, st(10), st(11));
	return 0;
}

static int sharer(void *arg) {
	(void)arg;
	dup2(1, 12);
	close(10);
	return 0;
}

static int execer(void *arg) {
	(void)arg;
	execl(self, self, "exec-child", (char *)NULL);
	return 127;
}

static void run(int (*fn)(void *), const char *what) {
	pid_t pid = clone(fn, stack + sizeof stack, CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0) {
		printf("%s: clone: %s\n", what, strerrorname_np(errno));
		return;
	}
	int status;
	waitpid(pid, &status, 0);
	printf("%s: exit %d; parent: fd 1 %s, fd 10 %s, fd 11 %s, fd 12 %s, fd 13 %s\n", what,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, st(1), st(10), st(11), st(12), st(13));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "exec-child")) {
		printf("exec child: fd 12 %s, fd 13 %s\n", st(12), st(13));
		return 0;
	}
	self = argv[0];
	dup2(1, 10);
	run(unsharer, "unshare");
	run(sharer, "shared");
	dup2(1, 10);
	fcntl(dup2(1, 13), F_SETFD, FD_CLOEXEC);
	run(execer, "exec");
	for (int fd = 20; fd <= 23; fd++)
		dup2(1, fd);
	long r = syscall(SYS_close_range, 20, 21, CLOSE_RANGE_UNSHARE);
	long c = syscall(SYS_close_range, 22, 23, CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC);
	printf("unshared table: close_range %ld %ld: fds %s, %s, %s, %s\n", r, c, st(20), st(21), st(22), st(23));
	return 0;
}

// escape_locks PATH N: a record-lock flood. Takes write locks on bytes 0, 2,
// 4, ... of PATH (created), one fcntl(F_SETLK) each, until one fails or N
// are held, and prints "setlk: ERRNO" (or "ok") and "locks: COUNT". A child
// then tests (F_GETLK) a held byte and a free byte, and the parent drops
// every lock with one F_UNLCK over the whole file and takes one again, to
// show the limit was the count held and not a count of calls. Exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3) {
		fprintf(stderr, "usage: escape_locks PATH N\n");
		return 2;
	}
	long want = atol(argv[2]);
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open: %s\n", ename(errno));
		return 1;
	}
	long n = 0;
	int err = 0;
	for (; n < want; n++) {
		if (setlk(fd, F_SETLK, F_WRLCK, 2 * n, 1) != 0) {
			err = errno;
			break;
		}
	}
	printf("setlk: %s\n", err ? ename(err) : "ok");
	printf("locks: %ld\n", n);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2 * (n / 2), .l_len = 1};
		if (fcntl(fd, F_GETLK, &fl) != 0)
			printf("getlk held: %s\n", ename(errno));
		else
			printf("getlk held: %s by parent %s\n", fl.l_type == F_WRLCK ? "F_WRLCK" : "other",
			       fl.l_pid == getppid() ? "yes" : "no");
		struct flock fr = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2 * (n / 2) + 1, .l_len = 1};
		if (fcntl(fd, F_GETLK, &fr) != 0)
			printf("getlk free: %s\n", ename(errno));
		else
			printf("getlk free: %s\n", fr.l_type == F_UNLCK ? "F_UNLCK" : "locked");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("unlock all: %s\n", setlk(fd, F_SETLK, F_UNLCK, 0, 0) ? ename(errno) : "ok");
	printf("lock again: %s\n", setlk(fd, F_SETLK, F_WRLCK, 1, 1) ? ename(errno) : "ok");
	return 0;
}

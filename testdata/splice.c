// splice DIR: splice(2), tee(2) and vmsplice(2) between files, pipes and
// sockets in DIR, with their errors, printed so that the output is the
// same natively and in the sandbox.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "guest_util.h"

// drain reads what a pipe holds (non-blocking) and prints it.
static void drain(const char *what, int fd) {
	char buf[256];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	ssize_t n = read(fd, buf, sizeof buf);
	fcntl(fd, F_SETFL, fl);
	printf("%s: %s \"%.*s\"\n", what, res(n), n > 0 ? (int)n : 0, buf);
}

static void contents(int fd) {
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	printf("file: %s \"%.*s\"\n", res(n), n > 0 ? (int)n : 0, buf);
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	snprintf(base, sizeof base, "%s", argv[1]);
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	int f = open(in("f"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	write(f, "0123456789", 10);
	lseek(f, 0, SEEK_SET);
	int p[2], q[2];
	pipe(p);
	pipe(q);

	loff_t off = 2;
	long r = splice(f, &off, p[1], NULL, 5, 0);
	printf("file to pipe at 2: %s, off %lld, pos %lld\n", res(r), (long long)off, (long long)lseek(f, 0, SEEK_CUR));
	drain("pipe", p[0]);
	r = splice(f, NULL, p[1], NULL, 3, SPLICE_F_MOVE | SPLICE_F_MORE);
	printf("file to pipe at the position: %s, pos %lld\n", res(r), (long long)lseek(f, 0, SEEK_CUR));
	drain("pipe", p[0]);
	off = 9;
	printf("file to pipe past the end: %s\n", res(splice(f, &off, p[1], NULL, 5, 0)));
	off = 20;
	printf("file to pipe at EOF: %s\n", res(splice(f, &off, p[1], NULL, 5, 0)));
	drain("pipe", p[0]);

	write(p[1], "abcdef", 6);
	off = 12;
	r = splice(p[0], NULL, f, &off, 4, 0);
	printf("pipe to file at 12: %s, off %lld\n", res(r), (long long)off);
	contents(f);
	r = splice(p[0], NULL, f, NULL, 100, 0);
	printf("pipe to file at the position: %s, pos %lld\n", res(r), (long long)lseek(f, 0, SEEK_CUR));
	contents(f);

	write(p[1], "pipe2pipe", 9);
	printf("pipe to pipe: %s\n", res(splice(p[0], NULL, q[1], NULL, 4, 0)));
	drain("q", q[0]);
	drain("p", p[0]);
	write(p[1], "teedata", 7);
	printf("tee: %s\n", res(tee(p[0], q[1], 3, 0)));
	drain("q", q[0]);
	drain("p", p[0]);

	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	write(s[0], "sock", 4);
	printf("socket to pipe: %s\n", res(splice(s[1], NULL, p[1], NULL, 10, 0)));
	drain("pipe", p[0]);
	write(p[1], "back", 4);
	printf("pipe to socket: %s\n", res(splice(p[0], NULL, s[0], NULL, 10, 0)));
	char sb[16];
	printf("socket read: %s\n", res(read(s[1], sb, sizeof sb)));

	printf("len 0, bad fds: %s\n", res(splice(99, NULL, 98, NULL, 0, 0)));
	printf("bad flags: %s\n", res(splice(p[0], NULL, q[1], NULL, 1, 0x100)));
	printf("bad fd in: %s\n", res(splice(99, NULL, p[1], NULL, 1, 0)));
	printf("bad fd out: %s\n", res(splice(p[0], NULL, 99, NULL, 1, 0)));
	off = 0;
	printf("offset on the input pipe: %s\n", res(splice(p[0], &off, f, NULL, 1, 0)));
	printf("offset on the output pipe: %s\n", res(splice(f, NULL, p[1], &off, 1, 0)));
	int g = open(in("g"), O_CREAT | O_RDWR, 0644);
	printf("file to file: %s\n", res(splice(f, NULL, g, NULL, 1, 0)));
	printf("same pipe: %s\n", res(splice(p[0], NULL, p[1], NULL, 1, 0)));
	int ap = open(in("g"), O_WRONLY | O_APPEND);
	write(p[1], "x", 1);
	printf("to O_APPEND: %s\n", res(splice(p[0], NULL, ap, NULL, 1, 0)));
	int ro = open(in("g"), O_RDONLY);
	printf("to O_RDONLY: %s\n", res(splice(p[0], NULL, ro, NULL, 1, 0)));
	int wo = open(in("g"), O_WRONLY);
	printf("from O_WRONLY: %s\n", res(splice(wo, NULL, p[1], NULL, 1, 0)));
	off = -1;
	printf("negative offset in: %s\n", res(splice(f, &off, p[1], NULL, 1, 0)));
	printf("negative offset out: %s\n", res(splice(p[0], NULL, f, &off, 1, 0)));
	drain("p", p[0]);
	printf("empty pipe, SPLICE_F_NONBLOCK: %s\n", res(splice(p[0], NULL, f, NULL, 1, SPLICE_F_NONBLOCK)));
	int d = open(base, O_RDONLY | O_DIRECTORY);
	printf("from a directory: %s\n", res(splice(d, NULL, p[1], NULL, 1, 0)));
	int n[2];
	pipe2(n, O_NONBLOCK);
	printf("empty O_NONBLOCK pipe to file: %s\n", res(splice(n[0], NULL, f, NULL, 1, 0)));
	printf("empty pipe to pipe, O_NONBLOCK out: %s\n", res(splice(p[0], NULL, n[1], NULL, 1, 0)));
	char big[65536];
	memset(big, 'z', sizeof big);
	printf("fill: %s\n", res(write(n[1], big, sizeof big)));
	printf("file to full pipe, O_NONBLOCK: %s\n", res(splice(f, NULL, n[1], NULL, 1, 0)));
	drain("q", q[0]);
	close(n[0]);
	printf("to a pipe without readers: %s\n", res(splice(f, NULL, n[1], NULL, 1, 0)));
	int e[2];
	pipe(e);
	close(e[1]);
	printf("from a pipe without writers: %s\n", res(splice(e[0], NULL, f, NULL, 1, 0)));

	printf("tee file: %s\n", res(tee(f, q[1], 1, 0)));
	printf("tee same pipe: %s\n", res(tee(p[0], p[1], 1, 0)));
	printf("tee len 0: %s\n", res(tee(p[0], q[1], 0, 0)));
	printf("tee bad flags: %s\n", res(tee(p[0], q[1], 1, 0x40)));
	printf("tee empty, SPLICE_F_NONBLOCK: %s\n", res(tee(p[0], q[1], 1, SPLICE_F_NONBLOCK)));
	printf("tee from a pipe without writers: %s\n", res(tee(e[0], q[1], 1, 0)));
	printf("tee bad fd: %s\n", res(tee(99, q[1], 1, 0)));

	struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
	printf("vmsplice to a pipe: %s\n", res(vmsplice(p[1], iov, 2, 0)));
	char r1[3], r2[10];
	struct iovec riov[2] = {{r1, 3}, {r2, 10}};
	printf("vmsplice from a pipe: %s \"%.3s%.5s\"\n", res(vmsplice(p[0], riov, 2, 0)), r1, r2);
	printf("vmsplice empty, SPLICE_F_NONBLOCK: %s\n", res(vmsplice(p[0], riov, 2, SPLICE_F_NONBLOCK)));
	printf("vmsplice to a file: %s\n", res(vmsplice(f, iov, 2, 0)));
	printf("vmsplice nothing to a file: %s\n", res(vmsplice(f, iov, 0, 0)));
	printf("vmsplice bad flags: %s\n", res(vmsplice(p[1], iov, 2, 0x20)));
	printf("vmsplice bad fd: %s\n", res(vmsplice(99, iov, 2, 0)));
	printf("vmsplice too many: %s\n", res(vmsplice(p[1], iov, 1025, 0)));
	return 0;
}

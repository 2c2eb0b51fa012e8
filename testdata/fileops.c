// fileops MODE DIR: file operations of issue 11, printed so that the
// output is the same natively and in the sandbox.
//
//	reopen   /proc/self/fd/N and /dev/fd/N naming pipes, sockets, eventfds,
//	         and unlinked files: Linux reopens the object itself
//	fifo     mkfifo in DIR with fifo(7)'s open rules: O_NONBLOCK writer
//	         without reader ENXIO, blocking rendezvous, O_RDWR, EINTR
//	mknod    mknod of a FIFO, a regular file and device nodes in DIR (the
//	         device nodes are EPERM for an unprivileged caller: run by the
//	         tests in the sandbox only, natively they need root to differ)
//	mkfifo-at  mkfifo in DIR only (hostfs mounts refuse it)
//	statfs   statfs/fstatfs of /proc, pipes, sockets and errors; sync, syncfs
//	closerange  close_range, with CLOSE_RANGE_CLOEXEC and bad arguments
//	pipesz   F_GETPIPE_SZ/F_SETPIPE_SZ: rounding, filling, EBUSY, EBADF
//	copy     sendfile, copy_file_range, fallocate, preadv2/pwritev2, memfd_create
//	         and seals, with their errors
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"

static char *fdpath(const char *dir, int fd) {
	static char buf[4][64];
	static int which;
	which = (which + 1) % 4;
	snprintf(buf[which], sizeof buf[which], "%s/%d", dir, fd);
	return buf[which];
}

// reads prints what one read of fd gives.
static void reads(const char *what, int fd) {
	char b[64];
	ssize_t n = read(fd, b, sizeof b - 1);
	if (n < 0) {
		printf("%s: read %s\n", what, strerrorname_np(errno));
		return;
	}
	b[n] = 0;
	printf("%s: read %zd \"%s\"\n", what, n, b);
}

static const char *type(int fd) {
	struct stat st;
	if (fstat(fd, &st) < 0)
		return strerrorname_np(errno);
	switch (st.st_mode & S_IFMT) {
	case S_IFIFO:
		return "fifo";
	case S_IFREG:
		return "regular";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "char";
	}
	return "other";
}

static const char *acc(int fd) {
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return strerrorname_np(errno);
	switch (fl & O_ACCMODE) {
	case O_RDONLY:
		return fl & O_NONBLOCK ? "O_RDONLY|O_NONBLOCK" : "O_RDONLY";
	case O_WRONLY:
		return "O_WRONLY";
	}
	return "O_RDWR";
}

static int reopen(void) {
	int p[2];
	if (pipe(p) < 0)
		return 1;
	int r2 = open(fdpath("/proc/self/fd", p[0]), O_RDONLY);
	printf("open /proc/self/fd/R: %s %s %s\n", outcome(r2), type(r2), acc(r2));
	int w2 = open(fdpath("/dev/fd", p[1]), O_WRONLY);
	printf("open /dev/fd/W: %s %s %s\n", outcome(w2), type(w2), acc(w2));
	printf("write reopened: %zd\n", write(w2, "abc", 3));
	reads("reopened read end", r2);
	write(p[1], "x", 1);
	reads("original read end", p[0]);
	struct pollfd pfd = {.fd = r2, .events = POLLIN};
	write(w2, "p", 1);
	int pr = poll(&pfd, 1, 1000);
	printf("poll reopened: %d revents %#x\n", pr, pfd.revents);
	reads("after poll", r2);
	int rw = open(fdpath("/proc/self/fd", p[0]), O_RDWR);
	printf("open read end O_RDWR: %s %s\n", outcome(rw), acc(rw));
	printf("write O_RDWR: %zd\n", write(rw, "y", 1));
	reads("O_RDWR data at the read end", p[0]);
	int fromw = open(fdpath("/proc/self/fd", p[1]), O_RDONLY);
	printf("open write end O_RDONLY: %s %s\n", outcome(fromw), acc(fromw));
	write(p[1], "z", 1);
	reads("read end made from the write end", fromw);
	int nb = open(fdpath("/proc/self/fd", p[0]), O_RDONLY | O_NONBLOCK);
	printf("open O_NONBLOCK: %s %s\n", outcome(nb), acc(nb));
	reads("empty O_NONBLOCK", nb);
	printf("O_DIRECTORY: %s\n", outcome(open(fdpath("/proc/self/fd", p[0]), O_RDONLY | O_DIRECTORY)));
	char slash[64];
	snprintf(slash, sizeof slash, "/proc/self/fd/%d/", p[0]);
	printf("trailing slash: %s\n", outcome(open(slash, O_RDONLY)));
	char link[64] = {0};
	readlink(fdpath("/proc/self/fd", p[0]), link, sizeof link - 1);
	printf("readlink is pipe:[...]: %s\n", strncmp(link, "pipe:[", 6) == 0 ? "yes" : link);
	struct stat a, b;
	fstat(p[0], &a);
	stat(fdpath("/dev/fd", p[0]), &b);
	printf("stat /dev/fd/R is the pipe: %s\n", a.st_ino == b.st_ino && S_ISFIFO(b.st_mode) ? "yes" : "no");
	close(p[1]);
	close(w2);
	close(rw);
	reads("every write end closed", r2);
	close(nb);
	int closed = p[1];
	printf("open closed fd: %s\n", outcome(open(fdpath("/proc/self/fd", closed), O_RDONLY)));

	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	printf("open socket: %s\n", outcome(open(fdpath("/proc/self/fd", sv[0]), O_RDWR)));
	printf("stat socket: %s\n", stat(fdpath("/proc/self/fd", sv[0]), &b) < 0 ? strerrorname_np(errno)
	                                : S_ISSOCK(b.st_mode) ? "socket" : "other");
	int efd = eventfd(0, 0);
	printf("open eventfd: %s\n", outcome(open(fdpath("/proc/self/fd", efd), O_RDWR)));

	int f = open(in("f"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	write(f, "data", 4);
	unlink(in("f"));
	int again = open(fdpath("/proc/self/fd", f), O_RDONLY);
	printf("open unlinked file: %s %s\n", outcome(again), type(again));
	reads("unlinked file", again);
	return 0;
}

static volatile sig_atomic_t alarms;
static void onalarm(int sig) {
	(void)sig;
	alarms++;
}

static void timer(int ms) {
	struct itimerval it = {.it_value = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static int fifo(void) {
	umask(022);
	const char *f = in("fifo");
	printf("mkfifo: %s\n", outcome(mkfifo(f, 0666)));
	printf("mkfifo again: %s\n", outcome(mkfifo(f, 0666)));
	struct stat st;
	stat(f, &st);
	printf("stat: %s mode %o size %lld\n", S_ISFIFO(st.st_mode) ? "fifo" : "other", st.st_mode & 07777,
	       (long long)st.st_size);
	printf("O_WRONLY|O_NONBLOCK without reader: %s\n", outcome(open(f, O_WRONLY | O_NONBLOCK)));
	int r = open(f, O_RDONLY | O_NONBLOCK);
	printf("O_RDONLY|O_NONBLOCK: %s %s\n", outcome(r), acc(r));
	reads("no writer yet", r);
	int w = open(f, O_WRONLY | O_NONBLOCK);
	printf("O_WRONLY|O_NONBLOCK with reader: %s %s\n", outcome(w), acc(w));
	struct stat fst;
	fstat(w, &fst);
	printf("fstat is the node: %s\n", fst.st_ino == st.st_ino && fst.st_dev == st.st_dev ? "yes" : "no");
	write(w, "hello", 5);
	reads("reader", r);
	close(w);
	reads("writer gone", r);
	close(r);

	pid_t pid = fork();
	if (pid == 0) {
		int cw = open(f, O_WRONLY);
		write(cw, "from the child", 14);
		_exit(0);
	}
	r = open(f, O_RDONLY);
	printf("blocking O_RDONLY: %s\n", outcome(r));
	char buf[64];
	size_t got = 0;
	for (ssize_t n; (n = read(r, buf + got, sizeof buf - 1 - got)) > 0;)
		got += n;
	buf[got] = 0;
	printf("rendezvous read: \"%s\"\n", buf);
	close(r);
	int status;
	waitpid(pid, &status, 0);

	pid = fork();
	if (pid == 0) {
		int cr = open(f, O_RDONLY);
		reads("child reader", cr);
		_exit(0);
	}
	w = open(f, O_WRONLY);
	printf("blocking O_WRONLY: %s\n", outcome(w));
	write(w, "to the child", 12);
	close(w);
	fflush(stdout);
	waitpid(pid, &status, 0);

	int rw = open(f, O_RDWR);
	printf("O_RDWR: %s %s\n", outcome(rw), acc(rw));
	write(rw, "stale", 5);
	close(rw);
	rw = open(f, O_RDWR | O_NONBLOCK);
	reads("data after the last close", rw);
	close(rw);

	struct sigaction sa = {.sa_handler = onalarm};
	sigaction(SIGALRM, &sa, NULL);
	timer(100);
	int e = open(f, O_RDONLY);
	printf("interrupted O_RDONLY: %s after %d alarm(s)\n", outcome(e), alarms);
	timer(100);
	e = open(f, O_WRONLY);
	printf("interrupted O_WRONLY: %s\n", outcome(e));
	printf("O_WRONLY|O_NONBLOCK after: %s\n", outcome(open(f, O_WRONLY | O_NONBLOCK)));
	printf("unlink: %s\n", outcome(unlink(f)));
	return 0;
}

static int mknods(void) {
	umask(0);
	printf("mknod fifo: %s\n", outcome(mknod(in("p"), S_IFIFO | 0640, 0)));
	struct stat st;
	stat(in("p"), &st);
	printf("fifo mode: %o\n", st.st_mode & 07777);
	printf("mknod regular: %s\n", outcome(mknod(in("r"), S_IFREG | 0600, 0)));
	stat(in("r"), &st);
	printf("regular: %s size %lld\n", S_ISREG(st.st_mode) ? "yes" : "no", (long long)st.st_size);
	printf("mknod typeless: %s\n", outcome(mknod(in("t"), 0600, 0)));
	printf("mknod exists: %s\n", outcome(mknod(in("p"), S_IFIFO | 0600, 0)));
	printf("mknod bad type: %s\n", outcome(mknod(in("x"), 0170000 | 0600, 0)));
	printf("mknodat missing dir: %s\n", outcome(mknodat(AT_FDCWD, in("none/p"), S_IFIFO | 0600, 0)));
	printf("mknod chr: %s\n", outcome(mknod(in("c"), S_IFCHR | 0600, makedev(1, 3))));
	printf("mknod blk: %s\n", outcome(mknod(in("b"), S_IFBLK | 0600, makedev(7, 0))));
	return 0;
}

static void statfs1(const char *what, int r, struct statfs *st) {
	if (r < 0) {
		printf("%s: %s\n", what, strerrorname_np(errno));
		return;
	}
	printf("%s: type %#lx bsize %ld namelen %ld frsize %ld blocks %s valid %s\n", what, (long)st->f_type,
	       (long)st->f_bsize, (long)st->f_namelen, (long)st->f_frsize,
	       st->f_blocks >= st->f_bfree && st->f_bfree >= st->f_bavail ? "consistent" : "inconsistent",
	       st->f_flags & 0x20 /* ST_VALID */ ? "yes" : "no");
}

static int statfss(void) {
	struct statfs st;
	statfs1("statfs /proc", statfs("/proc", &st), &st);
	printf("/proc blocks %ld files %ld\n", (long)st.f_blocks, (long)st.f_files);
	statfs1("statfs /proc/self/fd", statfs("/proc/self/fd", &st), &st);
	int p[2];
	pipe(p);
	statfs1("fstatfs pipe", fstatfs(p[0], &st), &st);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	statfs1("fstatfs socket", fstatfs(sv[0], &st), &st);
	int r = statfs(base, &st);
	printf("statfs DIR: %s blocks %s\n", outcome(r),
	       st.f_blocks >= st.f_bfree && st.f_bfree >= st.f_bavail ? "consistent" : "inconsistent");
	statfs1("statfs missing", statfs(in("missing"), &st), &st);
	statfs1("statfs empty", statfs("", &st), &st);
	statfs1("fstatfs bad fd", fstatfs(99, &st), &st);
	printf("statfs bad buffer: %s\n", outcome(syscall(SYS_statfs, "/proc", (void *)8)));
	printf("fstatfs bad buffer: %s\n", outcome(syscall(SYS_fstatfs, p[0], (void *)8)));
	int o = open("/proc", O_PATH);
	statfs1("fstatfs O_PATH", fstatfs(o, &st), &st);
	printf("sync: ok\n");
	sync();
	printf("syncfs: %s\n", outcome(syncfs(p[0])));
	printf("syncfs bad fd: %s\n", outcome(syncfs(99)));
	return 0;
}

static const char *fdstate(int fd) {
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return "closed";
	return fl & FD_CLOEXEC ? "cloexec" : "open";
}

static int closerange(void) {
	for (int fd = 10; fd <= 16; fd++)
		dup2(1, fd);
	printf("close_range 11-13: %s\n", outcome(syscall(SYS_close_range, 11, 13, 0)));
	printf("close_range 15-16 CLOEXEC: %s\n", outcome(syscall(SYS_close_range, 15, 16, 4)));
	for (int fd = 10; fd <= 16; fd++)
		printf("fd %d: %s\n", fd, fdstate(fd));
	printf("close_range first > last: %s\n", outcome(syscall(SYS_close_range, 5, 3, 0)));
	printf("close_range bad flags: %s\n", outcome(syscall(SYS_close_range, 20, 30, 8)));
	printf("close_range nothing open: %s\n", outcome(syscall(SYS_close_range, 100, ~0U, 0)));
	printf("close_range to ~0: %s\n", outcome(syscall(SYS_close_range, 14, ~0U, 0)));
	for (int fd = 10; fd <= 16; fd++)
		printf("fd %d: %s\n", fd, fdstate(fd));
	return 0;
}

static int pipesz(void) {
	int p[2];
	pipe2(p, O_NONBLOCK);
	printf("F_GETPIPE_SZ: %d\n", fcntl(p[0], F_GETPIPE_SZ));
	printf("F_SETPIPE_SZ 100000: %d\n", fcntl(p[1], F_SETPIPE_SZ, 100000));
	printf("F_GETPIPE_SZ at the other end: %d\n", fcntl(p[0], F_GETPIPE_SZ));
	printf("F_SETPIPE_SZ 0: %d\n", fcntl(p[1], F_SETPIPE_SZ, 0));
	static char buf[3 * 4096];
	printf("write 4097: %zd\n", write(p[1], buf, 4097));
	printf("write 1 more: %s\n", outcome(write(p[1], buf, 1)));
	printf("F_SETPIPE_SZ 8192: %d\n", fcntl(p[1], F_SETPIPE_SZ, 8192));
	printf("write 4096 more: %zd\n", write(p[1], buf, 4096));
	int r = fcntl(p[1], F_SETPIPE_SZ, 4096);
	printf("F_SETPIPE_SZ below what is buffered: %s\n", r < 0 ? strerrorname_np(errno) : "ok");
	printf("F_SETPIPE_SZ -1: %s\n", outcome(fcntl(p[1], F_SETPIPE_SZ, -1)));
	int f = open(in("f"), O_CREAT | O_RDWR, 0600);
	printf("F_GETPIPE_SZ on a file: %s\n", outcome(fcntl(f, F_GETPIPE_SZ)));
	printf("F_SETPIPE_SZ on a file: %s\n", outcome(fcntl(f, F_SETPIPE_SZ, 4096)));
	return 0;
}

static void contents(const char *what, const char *path) {
	char b[64] = {0};
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	printf("%s: %zd \"%s\"\n", what, n, n > 0 ? b : "");
}

static int copies(void) {
	int src = open(in("src"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	write(src, "0123456789", 10);
	int dst = open(in("dst"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	off_t off = 2;
	ssize_t n = sendfile(dst, src, &off, 5);
	printf("sendfile at 2: %zd, offset now %lld, src pos %lld\n", n, (long long)off,
	       (long long)lseek(src, 0, SEEK_CUR));
	contents("dst", in("dst"));
	lseek(src, 7, SEEK_SET);
	n = sendfile(dst, src, NULL, 100);
	printf("sendfile from the position: %zd, src pos %lld\n", n, (long long)lseek(src, 0, SEEK_CUR));
	contents("dst", in("dst"));
	int p[2];
	pipe(p);
	off = 0;
	printf("sendfile to a pipe: %zd\n", sendfile(p[1], src, &off, 4));
	reads("pipe", p[0]);
	off = 0;
	printf("sendfile from a pipe with an offset: %s\n", outcome(sendfile(dst, p[0], &off, 4)));
	off = -1;
	printf("sendfile negative offset: %s\n", outcome(sendfile(dst, src, &off, 4)));
	int ro = open(in("src"), O_RDONLY);
	printf("sendfile to O_RDONLY: %s\n", outcome(sendfile(ro, src, NULL, 4)));
	int app = open(in("dst"), O_WRONLY | O_APPEND);
	printf("sendfile to O_APPEND: %s\n", outcome(sendfile(app, src, NULL, 4)));
	printf("sendfile bad fd: %s\n", outcome(sendfile(dst, 99, NULL, 4)));

	loff_t oi = 0, oo = 0;
	int c = open(in("copy"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	n = copy_file_range(src, &oi, c, &oo, 6, 0);
	printf("copy_file_range: %zd, offsets %lld %lld\n", n, (long long)oi, (long long)oo);
	contents("copy", in("copy"));
	lseek(src, 8, SEEK_SET);
	printf("copy_file_range from the positions: %zd\n", copy_file_range(src, NULL, c, NULL, 100, 0));
	contents("copy", in("copy"));
	oi = 100;
	printf("copy_file_range past EOF: %zd\n", copy_file_range(src, &oi, c, NULL, 10, 0));
	printf("copy_file_range flags: %s\n", outcome(copy_file_range(src, NULL, c, NULL, 1, 1)));
	printf("copy_file_range pipe: %s\n", outcome(copy_file_range(p[0], NULL, c, NULL, 1, 0)));
	int d = open(base, O_RDONLY | O_DIRECTORY);
	printf("copy_file_range dir: %s\n", outcome(copy_file_range(d, NULL, c, NULL, 1, 0)));
	printf("copy_file_range to O_RDONLY: %s\n", outcome(copy_file_range(src, NULL, ro, NULL, 1, 0)));
	printf("copy_file_range to O_APPEND: %s\n", outcome(copy_file_range(src, NULL, app, NULL, 1, 0)));
	oi = 0, oo = 2;
	printf("copy_file_range overlapping: %s\n", outcome(copy_file_range(src, &oi, src, &oo, 4, 0)));
	oi = 0, oo = 20;
	printf("copy_file_range same file apart: %zd\n", copy_file_range(src, &oi, src, &oo, 4, 0));

	int f = open(in("falloc"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	struct stat st;
	printf("fallocate 0: %s\n", outcome(fallocate(f, 0, 0, 10000)));
	fstat(f, &st);
	printf("size %lld\n", (long long)st.st_size);
	printf("fallocate KEEP_SIZE: %s\n", outcome(fallocate(f, FALLOC_FL_KEEP_SIZE, 10000, 20000)));
	fstat(f, &st);
	printf("size %lld\n", (long long)st.st_size);
	printf("fallocate len 0: %s\n", outcome(fallocate(f, 0, 0, 0)));
	printf("fallocate off -1: %s\n", outcome(fallocate(f, 0, -1, 10)));
	printf("fallocate O_RDONLY: %s\n", outcome(fallocate(ro, 0, 0, 10)));
	printf("fallocate pipe: %s\n", outcome(fallocate(p[1], 0, 0, 10)));
	printf("fallocate bad mode: %s\n", outcome(fallocate(f, 0x4000, 0, 10)));
	printf("fallocate bad fd: %s\n", outcome(fallocate(99, 0, 0, 10)));

	char a[4] = {0}, b[4] = {0};
	struct iovec iov[2] = {{a, 3}, {b, 3}};
	lseek(src, 1, SEEK_SET);
	n = preadv2(src, iov, 2, 4, 0);
	printf("preadv2 at 4: %zd \"%s%s\"\n", n, a, b);
	n = preadv2(src, iov, 2, -1, 0);
	printf("preadv2 at -1: %zd \"%s%s\", pos %lld\n", n, a, b, (long long)lseek(src, 0, SEEK_CUR));
	printf("preadv2 at -2: %s\n", outcome(preadv2(src, iov, 2, -2, 0)));
	printf("preadv2 bad flags: %s\n", outcome(preadv2(src, iov, 2, 0, 0x40000000)));
	printf("preadv2 RWF_HIPRI: %zd\n", preadv2(src, iov, 1, 0, RWF_HIPRI));
	struct iovec w = {"AB", 2};
	printf("pwritev2 at 0 RWF_DSYNC: %zd\n", pwritev2(c, &w, 1, 0, RWF_DSYNC));
	printf("pwritev2 RWF_APPEND: %zd\n", pwritev2(c, &w, 1, 0, RWF_APPEND));
	contents("copy", in("copy"));
	printf("pwritev2 bad flags: %s\n", outcome(pwritev2(c, &w, 1, 0, 0x40000000)));
	int q[2];
	pipe(q);
	printf("preadv2 RWF_NOWAIT on an empty pipe: %s\n", outcome(preadv2(q[0], iov, 1, -1, RWF_NOWAIT)));
	printf("F_GET_SEALS of a pipe: %s\n", outcome(fcntl(q[0], F_GET_SEALS)));

	int m = memfd_create("litebox", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	printf("memfd_create: %s cloexec %s\n", outcome(m), fdstate(m));
	char link[PATH_MAX] = {0};
	readlink(fdpath("/proc/self/fd", m), link, sizeof link - 1);
	printf("memfd link: %s\n", link);
	printf("memfd write: %zd\n", write(m, "sealed", 6));
	printf("memfd seals: %d\n", fcntl(m, F_GET_SEALS));
	printf("memfd add seals: %s\n", outcome(fcntl(m, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK)));
	printf("memfd seals: %#x\n", fcntl(m, F_GET_SEALS));
	printf("memfd grow: %s\n", outcome(ftruncate(m, 100)));
	printf("memfd shrink: %s\n", outcome(ftruncate(m, 1)));
	printf("memfd overwrite: %zd\n", pwrite(m, "S", 1, 0));
	printf("memfd append: %s\n", outcome(pwrite(m, "x", 1, 6)));
	int again = open(fdpath("/proc/self/fd", m), O_RDONLY);
	printf("memfd reopen: %s %s\n", outcome(again), type(again));
	reads("memfd", again);
	printf("memfd add seal on O_RDONLY: %s\n", outcome(fcntl(again, F_ADD_SEALS, F_SEAL_WRITE)));
	printf("memfd add seal write: %s\n", outcome(fcntl(m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL)));
	printf("memfd write sealed: %s\n", outcome(pwrite(m, "x", 1, 0)));
	printf("memfd add after F_SEAL_SEAL: %s\n", outcome(fcntl(m, F_ADD_SEALS, F_SEAL_GROW)));
	int ns = memfd_create("x", 0);
	printf("memfd without sealing: %d %s\n", fcntl(ns, F_GET_SEALS), outcome(fcntl(ns, F_ADD_SEALS, F_SEAL_GROW)));
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	printf("memfd long name: %s\n", outcome(memfd_create(longname, 0)));
	printf("memfd bad flags: %s\n", outcome(memfd_create("x", 0x100)));
	return 0;
}

static int mkfifoAt(void) {
	printf("mkfifo: %s\n", outcome(mkfifo(in("fifo"), 0600)));
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: fileops MODE DIR\n");
		return 2;
	}
	if (!realpath(argv[2], base)) {
		perror(argv[2]);
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	static const struct {
		const char *name;
		int (*run)(void);
	} modes[] = {{"reopen", reopen}, {"fifo", fifo}, {"mknod", mknods}, {"mkfifo-at", mkfifoAt},
	             {"statfs", statfss}, {"closerange", closerange}, {"pipesz", pipesz},
	             {"copy", copies}};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].run();
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}

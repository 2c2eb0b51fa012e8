// pipe_fork MODE: pipes between processes. Output is identical natively and
// in the sandbox (no pids, no descriptor numbers).
//
//   checksum   the parent writes 1 MiB through a pipe to a child, which
//              sends its count and checksum back through a second pipe
//   wc         a child with pipe ends dup2'ed onto stdin and stdout execs
//              /bin/busybox wc -c; then a two-process pipeline seq | wc -l
//   cloexec    O_CLOEXEC, F_DUPFD_CLOEXEC, dup3(O_CLOEXEC), FD_CLOEXEC and
//              plain descriptors: inherited by fork, and after execve only
//              the ones without close-on-exec are open (the re-exec'd
//              program, mode cloexec-check, checks fcntl(fd, F_GETFD))
//   nonblock   O_NONBLOCK reads give EAGAIN, a full pipe EAGAIN on write,
//              EOF, EPIPE, poll events, FIONREAD
//   atomic     4 children write 512-byte records concurrently: every
//              record arrives whole (writes up to PIPE_BUF are atomic)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *yes(int b) { return b ? "yes" : "no"; }

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

static void die(const char *what) {
	printf("FAIL %s: %s\n", what, ename(errno));
	exit(99);
}

static pid_t xfork(void) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	return pid;
}

static void reap(const char *what, pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by SIG%s\n", what, sigabbrev_np(WTERMSIG(st)));
}

static int write_all(int fd, const void *buf, size_t n) {
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

// FNV-1a over the stream.
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#define FNV0 14695981039346656037ULL

static int checksum(void) {
	enum { SIZE = 1 << 20 };
	unsigned char *data = malloc(SIZE);
	uint32_t x = 12345;
	for (int i = 0; i < SIZE; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = x >> 16;
	}
	int down[2], up[2];
	if (pipe(down) < 0 || pipe(up) < 0)
		die("pipe");
	pid_t pid = xfork();
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		unsigned char buf[7000]; // not a divisor of the pipe size
		uint64_t h = FNV0, total = 0;
		for (;;) {
			ssize_t n = read(down[0], buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				_exit(2);
			if (n == 0)
				break;
			h = fnv(h, buf, n);
			total += n;
		}
		uint64_t reply[2] = {total, h};
		if (write_all(up[1], reply, sizeof reply) < 0)
			_exit(3);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	// Uneven chunks.
	size_t off = 0, chunk = 1;
	while (off < SIZE) {
		size_t n = chunk < SIZE - off ? chunk : SIZE - off;
		if (write_all(down[1], data + off, n) < 0)
			die("write");
		off += n;
		chunk = chunk * 3 + 1;
		if (chunk > 100000)
			chunk = 17;
	}
	close(down[1]);
	uint64_t reply[2];
	ssize_t n = read(up[0], reply, sizeof reply);
	printf("reply: %zd bytes\n", n);
	printf("child read %llu bytes\n", (unsigned long long)reply[0]);
	printf("checksum matches: %s\n", yes(reply[1] == fnv(FNV0, data, SIZE)));
	n = read(up[0], reply, sizeof reply);
	printf("then EOF: %zd\n", n);
	reap("child", pid);
	return 0;
}

// run_filter runs argv with stdin from a pipe fed with input and stdout
// into a pipe, and returns what it printed.
static void run_filter(char *const argv[], const char *input, size_t n, char *out, size_t outsz) {
	int in[2], o[2];
	if (pipe(in) < 0 || pipe(o) < 0)
		die("pipe");
	pid_t pid = xfork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		close(in[0]);
		close(in[1]);
		close(o[0]);
		close(o[1]);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	if (write_all(in[1], input, n) < 0)
		die("write");
	close(in[1]);
	size_t got = 0;
	for (;;) {
		ssize_t r = read(o[0], out + got, outsz - 1 - got);
		if (r <= 0)
			break;
		got += r;
	}
	out[got] = 0;
	close(o[0]);
	reap(argv[1], pid);
}

static char *trim(char *s) {
	while (*s == ' ')
		s++;
	return s;
}

static int wc(void) {
	enum { SIZE = 100000 };
	char *input = malloc(SIZE);
	memset(input, 'w', SIZE);
	char out[256];
	char *argv[] = {"/bin/busybox", "wc", "-c", NULL};
	run_filter(argv, input, SIZE, out, sizeof out);
	printf("busybox wc -c said: %s", trim(out));

	char *argv2[] = {"/bin/busybox", "tr", "a-z", "A-Z", NULL};
	run_filter(argv2, "hello, pipe\n", 12, out, sizeof out);
	printf("busybox tr said: %s", out);

	// seq 1 1000 | wc -l, two children connected by a pipe, wc's output
	// read through a third pipe.
	int a[2], b[2];
	if (pipe(a) < 0 || pipe(b) < 0)
		die("pipe");
	pid_t p1 = xfork();
	if (p1 == 0) {
		dup2(a[1], 1);
		close(a[0]);
		close(a[1]);
		close(b[0]);
		close(b[1]);
		char *av[] = {"busybox", "seq", "1", "1000", NULL};
		execve("/bin/busybox", av, environ);
		_exit(127);
	}
	pid_t p2 = xfork();
	if (p2 == 0) {
		dup2(a[0], 0);
		dup2(b[1], 1);
		close(a[0]);
		close(a[1]);
		close(b[0]);
		close(b[1]);
		char *av[] = {"busybox", "wc", "-l", NULL};
		execve("/bin/busybox", av, environ);
		_exit(127);
	}
	close(a[0]);
	close(a[1]);
	close(b[1]);
	ssize_t n = read(b[0], out, sizeof out - 1);
	out[n > 0 ? n : 0] = 0;
	printf("seq 1 1000 | wc -l said: %s", trim(out));
	reap("seq", p1);
	reap("wc", p2);
	return 0;
}

struct fdcase {
	const char *label;
	int fd;
};

static int cloexec(const char *self) {
	struct fdcase c[8];
	int n = 0;
	int plain = open("/dev/null", O_RDONLY);
	int p[2];
	if (plain < 0 || pipe2(p, O_CLOEXEC) < 0)
		die("open/pipe2");
	c[n++] = (struct fdcase){"open O_CLOEXEC", open("/dev/null", O_RDONLY | O_CLOEXEC)};
	c[n++] = (struct fdcase){"open plain", plain};
	c[n++] = (struct fdcase){"pipe2 O_CLOEXEC read end", p[0]};
	c[n++] = (struct fdcase){"pipe2 O_CLOEXEC write end", p[1]};
	c[n++] = (struct fdcase){"F_DUPFD_CLOEXEC", fcntl(plain, F_DUPFD_CLOEXEC, 20)};
	c[n++] = (struct fdcase){"dup of O_CLOEXEC", dup(c[0].fd)};
	c[n++] = (struct fdcase){"dup3 O_CLOEXEC", dup3(plain, 30, O_CLOEXEC)};
	int e = open("/dev/null", O_RDONLY);
	if (e >= 0 && fcntl(e, F_SETFD, FD_CLOEXEC) < 0)
		die("F_SETFD");
	c[n++] = (struct fdcase){"F_SETFD FD_CLOEXEC", e};
	for (int i = 0; i < n; i++) {
		if (c[i].fd < 0)
			die(c[i].label);
		printf("before exec, %s: F_GETFD=%d\n", c[i].label, fcntl(c[i].fd, F_GETFD));
	}

	// A forked child inherits every descriptor, with its flag.
	pid_t pid = xfork();
	if (pid == 0) {
		int ok = 1;
		for (int i = 0; i < n; i++) {
			int want = fcntl(c[i].fd, F_GETFD);
			if (want < 0)
				ok = 0;
		}
		_exit(ok ? 0 : 1);
	}
	reap("forked child sees all of them", pid);

	char *argv[16];
	char args[8][64];
	int k = 0;
	argv[k++] = "pipe_fork";
	argv[k++] = "cloexec-check";
	for (int i = 0; i < n; i++) {
		snprintf(args[i], sizeof args[i], "%s=%d", c[i].label, c[i].fd);
		argv[k++] = args[i];
	}
	argv[k] = NULL;
	fflush(stdout);
	execve(self, argv, environ);
	die("execve");
	return 1;
}

static int cloexec_check(int argc, char **argv) {
	for (int i = 2; i < argc; i++) {
		char *eq = strrchr(argv[i], '=');
		if (eq == NULL)
			continue;
		*eq = 0;
		int fd = atoi(eq + 1);
		errno = 0;
		int r = fcntl(fd, F_GETFD);
		if (r < 0)
			printf("after exec, %s: %s\n", argv[i], ename(errno));
		else
			printf("after exec, %s: open, F_GETFD=%d\n", argv[i], r);
	}
	return 0;
}

static int nonblock(void) {
	char buf[8192];
	int p[2];
	if (pipe2(p, O_NONBLOCK) < 0)
		die("pipe2");
	errno = 0;
	ssize_t n = read(p[0], buf, 1);
	printf("pipe2(O_NONBLOCK) read on empty: %zd %s\n", n, ename(errno));
	printf("F_GETFL has O_NONBLOCK: %s\n", yes((fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0));
	printf("F_GETFL access mode of the ends: %s %s\n",
	       (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "other",
	       (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "other");

	// Fill it: the capacity is at least PIPE_BUF and the first failing
	// write fails with EAGAIN rather than blocking.
	memset(buf, 'f', sizeof buf);
	long total = 0;
	for (int i = 0; i < 10000; i++) {
		n = write(p[1], buf, 4096);
		if (n < 0)
			break;
		total += n;
	}
	printf("full pipe: write %zd %s, capacity >= 4096: %s\n", n, ename(errno), yes(total >= 4096));
	int avail = -1;
	if (ioctl(p[0], FIONREAD, &avail) < 0)
		printf("FIONREAD: %s\n", ename(errno));
	else
		printf("FIONREAD == bytes written: %s\n", yes(avail == total));
	long drained = 0;
	while ((n = read(p[0], buf, sizeof buf)) > 0)
		drained += n;
	printf("drained == written: %s, then %zd %s\n", yes(drained == total), n, ename(errno));
	close(p[0]);
	close(p[1]);

	// F_SETFL O_NONBLOCK on a blocking pipe.
	if (pipe(p) < 0)
		die("pipe");
	int fl = fcntl(p[0], F_GETFL);
	printf("pipe() read end O_NONBLOCK: %s\n", yes((fl & O_NONBLOCK) != 0));
	if (fcntl(p[0], F_SETFL, fl | O_NONBLOCK) < 0)
		die("F_SETFL");
	errno = 0;
	n = read(p[0], buf, 1);
	printf("after F_SETFL O_NONBLOCK, read: %zd %s\n", n, ename(errno));

	struct pollfd pf = {p[0], POLLIN, 0};
	int r = poll(&pf, 1, 0);
	printf("poll empty: %d\n", r);
	write(p[1], "hello", 5);
	pf.revents = 0;
	r = poll(&pf, 1, 1000);
	printf("poll after write: %d POLLIN=%s\n", r, yes(pf.revents & POLLIN));
	avail = -1;
	if (ioctl(p[0], FIONREAD, &avail) < 0)
		printf("FIONREAD: %s\n", ename(errno));
	else
		printf("FIONREAD: %d\n", avail);
	struct pollfd wf = {p[1], POLLOUT, 0};
	r = poll(&wf, 1, 0);
	printf("poll write end: %d POLLOUT=%s\n", r, yes(wf.revents & POLLOUT));

	close(p[1]);
	n = read(p[0], buf, sizeof buf);
	printf("read after writer closed: %zd\n", n);
	pf.revents = 0;
	r = poll(&pf, 1, 1000);
	printf("poll at EOF: %d POLLHUP=%s\n", r, yes(pf.revents & POLLHUP));
	n = read(p[0], buf, sizeof buf);
	printf("read at EOF: %zd\n", n);
	close(p[0]);

	// No readers: POLLERR on the write end, and EPIPE with SIGPIPE ignored.
	if (pipe(p) < 0)
		die("pipe");
	close(p[0]);
	wf = (struct pollfd){p[1], POLLOUT, 0};
	r = poll(&wf, 1, 0);
	printf("poll write end without readers: %d POLLERR=%s\n", r, yes(wf.revents & POLLERR));
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	n = write(p[1], "x", 1);
	printf("write without readers: %zd %s\n", n, ename(errno));
	close(p[1]);

	// Bad uses.
	if (pipe(p) < 0)
		die("pipe");
	errno = 0;
	n = write(p[0], "x", 1);
	printf("write to the read end: %zd %s\n", n, ename(errno));
	errno = 0;
	n = read(p[1], buf, 1);
	printf("read from the write end: %zd %s\n", n, ename(errno));
	errno = 0;
	off_t o = lseek(p[0], 0, SEEK_SET);
	printf("lseek on a pipe: %lld %s\n", (long long)o, ename(errno));
	return 0;
}

static int atomic(void) {
	enum { WRITERS = 4, RECORDS = 200, RECLEN = 512 };
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pids[WRITERS];
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = xfork();
		if (pids[w] == 0) {
			close(p[0]);
			char rec[RECLEN];
			for (int i = 0; i < RECORDS; i++) {
				memset(rec, 'A' + w, RECLEN);
				snprintf(rec, 16, "%c%05d", 'A' + w, i);
				rec[6] = 'A' + w;
				if (write(p[1], rec, RECLEN) != RECLEN)
					_exit(1);
			}
			_exit(0);
		}
	}
	close(p[1]);
	int count[WRITERS] = {0}, intact = 1, ordered = 1;
	int next[WRITERS] = {0};
	char rec[RECLEN];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(p[0], rec + have, RECLEN - have);
		if (n <= 0)
			break;
		have += n;
		if (have < RECLEN)
			continue;
		have = 0;
		int w = rec[0] - 'A';
		if (w < 0 || w >= WRITERS) {
			intact = 0;
			continue;
		}
		for (int i = 6; i < RECLEN; i++)
			if (rec[i] != rec[0])
				intact = 0;
		if (atoi(rec + 1) != next[w])
			ordered = 0;
		next[w]++;
		count[w]++;
	}
	int total = 0;
	for (int w = 0; w < WRITERS; w++)
		total += count[w];
	printf("records: %d, per writer: %d %d %d %d\n", total, count[0], count[1], count[2], count[3]);
	printf("records intact: %s, in order per writer: %s\n", yes(intact), yes(ordered));
	for (int w = 0; w < WRITERS; w++)
		reap("writer", pids[w]);
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: pipe_fork MODE\n");
		return 2;
	}
	const char *m = argv[1];
	if (strcmp(m, "checksum") == 0)
		return checksum();
	if (strcmp(m, "wc") == 0)
		return wc();
	if (strcmp(m, "cloexec") == 0)
		return cloexec(argv[0]);
	if (strcmp(m, "cloexec-check") == 0)
		return cloexec_check(argc, argv);
	if (strcmp(m, "nonblock") == 0)
		return nonblock();
	if (strcmp(m, "atomic") == 0)
		return atomic();
	fprintf(stderr, "pipe_fork: unknown mode %s\n", m);
	return 2;
}

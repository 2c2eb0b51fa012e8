// mmap_hostfile: writable MAP_SHARED mappings of a file in DIR (a host
// directory mounted :rw under litebox), with write-back.
//
//   mmap_hostfile DIR      stores through a mapping seen by read(2),
//                          write(2) seen by the mapping, msync, a forked
//                          child sharing the mapping, another process
//                          mapping the file on its own, munmap without
//                          msync, fsync, exit with the file still mapped,
//                          truncation while mapped. The caller then checks
//                          DIR/f and DIR/g from the host.
//   mmap_hostfile DIR ro   DIR is read-only: what may and may not be mapped.
//   mmap_hostfile DIR eof  past the end of the file: SIGBUS, until the file
//                          grows (then the mapping shows the new bytes).
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"

#define SZ 8192

static void show(const char *what, const char *p) { printf("%s: %.*s\n", what, 24, p[0] ? p : "(zero)"); }

static void readback(const char *what, const char *path, off_t off) {
	char buf[32] = {0};
	int fd = open(path, O_RDONLY);
	ssize_t n = pread(fd, buf, 24, off);
	close(fd);
	printf("%s: %zd %.*s\n", what, n, 24, buf[0] ? buf : "(zero)");
}

static int readonly(void) {
	int fd = open(in("f"), O_RDWR);
	printf("open O_RDWR: %s\n", res(fd));
	fd = open(in("f"), O_RDONLY);
	printf("open O_RDONLY: %s\n", res(fd));
	char *p = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared rw of O_RDONLY: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : "mapped");
	p = mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		printf("shared ro: %s\n", strerrorname_np(errno));
		return 1;
	}
	show("shared ro", p);
	printf("mprotect PROT_WRITE: %s\n", res(mprotect(p, SZ, PROT_READ | PROT_WRITE)));
	return 0;
}

static sigjmp_buf jump;

static void on_bus(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	printf("SIG%s code %d\n", sigabbrev_np(sig), si->si_code);
	siglongjmp(jump, 1);
}

// touch reads (or, with store, writes) *p and says what happened.
static void touch(const char *what, volatile char *p, int store) {
	printf("%s: ", what);
	if (sigsetjmp(jump, 1) == 0) {
		if (store)
			*p = 'w';
		printf("ok %c\n", *p ? *p : '0');
	}
}

static int past_eof(void) {
	struct sigaction sa = {.sa_sigaction = on_bus, .sa_flags = SA_SIGINFO | SA_NODEFER};
	sigaction(SIGBUS, &sa, NULL);
	int fd = open(in("e"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 100) < 0) {
		printf("setup: %s\n", strerrorname_np(errno));
		return 1;
	}
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerrorname_np(errno));
		return 1;
	}
	touch("last byte of the first page", p + 4095, 1);
	touch("read past the end", p + 4096, 0);
	touch("write past the end", p + 2 * 4096 + 7, 1);
	printf("read(2) into it: %s\n", res(pread(fd, p + 4096, 10, 0)));
	pwrite(fd, "grown", 5, 4096);
	touch("after write(2) grew the file", p + 4096, 0);
	printf("ftruncate: %s\n", res(ftruncate(fd, 3 * 4096)));
	touch("after ftruncate", p + 2 * 4096 + 7, 1);
	printf("ftruncate back: %s\n", res(ftruncate(fd, 4096)));
	touch("past the end again", p + 4096, 0);
	printf("mprotect: %s\n", res(mprotect(p, 3 * 4096, PROT_READ)));
	touch("read-only, past the end", p + 2 * 4096, 0);
	touch("read-only, in the file", p + 10, 0);
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0); // children print too
	snprintf(base, sizeof base, "%s", argv[1]);
	if (argc > 2 && strcmp(argv[2], "ro") == 0)
		return readonly();
	if (argc > 2 && strcmp(argv[2], "eof") == 0)
		return past_eof();

	int fd = open(in("f"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, SZ) < 0) {
		printf("setup: %s\n", strerrorname_np(errno));
		return 1;
	}
	char *p = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		printf("mmap shared rw: %s\n", strerrorname_np(errno));
		return 1;
	}
	strcpy(p, "stored by mapping");
	char buf[32] = {0};
	pread(fd, buf, 17, 0);
	printf("read after store: %s\n", buf);
	printf("msync MS_SYNC: %s\n", res(msync(p, SZ, MS_SYNC)));
	readback("other fd after msync", in("f"), 0);
	pwrite(fd, "written", 7, 4096);
	show("mapping after write", p + 4096);
	printf("msync MS_ASYNC: %s\n", res(msync(p + 4096, 4096, MS_ASYNC)));

	pid_t pid = fork();
	if (pid == 0) {
		show("child sees", p);
		strcpy(p + 100, "from the child");
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	show("parent after child", p + 100);

	// Another process maps the file on its own.
	pid = fork();
	if (pid == 0) {
		int fd2 = open(in("f"), O_RDWR);
		char *q = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
		if (q == MAP_FAILED)
			_exit(3);
		show("own mapping sees", q + 100);
		strcpy(q + 4200, "other mapping");
		munmap(q, SZ);
		close(fd2);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	printf("other process: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	show("after other process", p + 4200);

	strcpy(p + 200, "unmapped without msync");
	printf("munmap: %s\n", res(munmap(p, SZ)));
	readback("read after munmap", in("f"), 200);

	p = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	strcpy(p + 300, "fsynced");
	printf("fsync: %s\n", res(fsync(fd)));
	readback("read after fsync", in("f"), 300);
	strcpy(p + 400, "fdatasynced");
	printf("fdatasync: %s\n", res(fdatasync(fd)));
	printf("close fd: %s\n", res(close(fd)));
	// Still mapped: written back when the process exits.
	strcpy(p + 500, "at exit");

	// Truncation while mapped: the page past the new end reads zeros
	// once the file grows back.
	int g = open(in("g"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	ftruncate(g, SZ);
	char *r = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, g, 0);
	strcpy(r + 4096, "second page");
	strcpy(r, "first page");
	printf("truncate: %s\n", res(ftruncate(g, 4096)));
	printf("grow: %s\n", res(ftruncate(g, SZ)));
	show("second page after regrow", r + 4096);
	show("first page", r);
	int ro = open(in("g"), O_RDONLY);
	r = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	printf("shared rw of O_RDONLY: %s\n", r == MAP_FAILED ? strerrorname_np(errno) : "mapped");
	return 0;
}

// escape_ptrace HOSTPID: tries to trace processes, inside the sandbox (pid 1,
// itself; a child) and outside it (HOSTPID, a host process started by the
// test), and to become traced. Prints "<call>: <ERRNO>" or "<call>: 0".
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

// raw ptrace, so that glibc's PTRACE_PEEK* conventions do not get in the way.
static void try(const char *what, long req, long pid) {
	errno = 0;
	long rc = syscall(SYS_ptrace, req, pid, 0L, 0L);
	if (rc < 0)
		printf("%s: %s\n", what, ename(errno));
	else
		printf("%s: %ld\n", what, rc);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: escape_ptrace HOSTPID\n");
		return 2;
	}
	long host = atol(argv[1]);
	pid_t child = fork();
	if (child < 0)
		return 3;
	if (child == 0) {
		for (;;)
			pause();
	}
	try("PTRACE_ATTACH 1", PTRACE_ATTACH, 1);
	try("PTRACE_ATTACH HOSTPID", PTRACE_ATTACH, host);
	try("PTRACE_SEIZE HOSTPID", PTRACE_SEIZE, host);
	try("PTRACE_ATTACH child", PTRACE_ATTACH, child);
	try("PTRACE_TRACEME", PTRACE_TRACEME, 0);
	try("PTRACE_PEEKDATA HOSTPID", PTRACE_PEEKDATA, host);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}

// escape_kill HOSTPID: tries to kill processes outside the sandbox.
//
// A child is forked first (it pauses), so that kill(-1, SIGKILL) has a
// sandbox process to hit: on Linux kill(-1) signals every process the caller
// may signal except itself (and init), so the child dies and the caller
// lives. Then HOSTPID, the pid of a host process started by the test (and
// not a pid of the sandbox), is signalled with 0 and with SIGKILL: the
// sandbox has its own pid space, so both fail with ESRCH. Exits 42, a value
// only this program decides.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

static void report(const char *what, int rc) {
	if (rc < 0)
		printf("%s: %s\n", what, ename(errno));
	else
		printf("%s: %d\n", what, rc);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: escape_kill HOSTPID\n");
		return 2;
	}
	pid_t host = (pid_t)atoi(argv[1]);
	int p[2];
	if (pipe(p) < 0)
		return 3;
	pid_t child = fork();
	if (child < 0)
		return 4;
	if (child == 0) {
		close(p[0]);
		write(p[1], "r", 1); // ready
		for (;;)
			pause();
	}
	close(p[1]);
	char ch;
	if (read(p[0], &ch, 1) != 1)
		return 5;

	printf("host pid is a sandbox pid: %s\n", host == getpid() || host == child ? "yes" : "no");
	errno = 0;
	report("kill(-1, SIGKILL)", kill(-1, SIGKILL));
	int st;
	pid_t r = waitpid(child, &st, 0);
	if (r == child && WIFSIGNALED(st))
		printf("child: killed by signal %d\n", WTERMSIG(st));
	else if (r == child)
		printf("child: status %#x\n", st);
	else
		printf("child: waitpid %s\n", ename(errno));

	errno = 0;
	report("kill(HOSTPID, 0)", kill(host, 0));
	errno = 0;
	report("kill(HOSTPID, SIGKILL)", kill(host, SIGKILL));
	errno = 0;
	report("kill(-HOSTPID, SIGKILL)", kill(-host, SIGKILL));
	puts("caller survived");
	return 42;
}

// escape_forkbomb: forks until fork fails; every child pauses. Prints the
// errno of the failing fork and how many forks succeeded, then kills its
// process group with SIGTERM (which it ignores itself, the children do
// not), reaps every child and exits 0. Each child reports on a pipe once it
// has restored the default SIGTERM action, and the parent waits for all of
// them (and 200 ms, so that the test sees the processes on the host) before
// the kill: otherwise a child still ignoring SIGTERM (inherited)
// would survive it and the parent would wait forever.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, SIG_IGN);
	int ready[2];
	if (pipe(ready) < 0)
		return 3;
	int n = 0, err = 0;
	// Bounded so that a missing limit does not hang the host: 10000 is far
	// beyond any --pids the tests use.
	while (n < 10000) {
		pid_t pid = fork();
		if (pid < 0) {
			err = errno;
			break;
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			close(ready[0]);
			write(ready[1], "r", 1);
			for (;;)
				pause();
		}
		n++;
	}
	const char *name = err ? strerrorname_np(err) : "no error";
	printf("fork failed: %s\n", name ? name : "unknown errno");
	printf("forks succeeded: %d\n", n);
	close(ready[1]);
	char ch;
	for (int i = 0; i < n; i++)
		if (read(ready[0], &ch, 1) != 1) {
			printf("ready pipe: short read after %d\n", i);
			break;
		}
	// Let the host side see the stubs of all these processes.
	struct timespec ts = {0, 200 * 1000000L};
	nanosleep(&ts, NULL);
	if (kill(0, SIGTERM) < 0)
		printf("kill(0, SIGTERM): %s\n", strerrorname_np(errno));
	int reaped = 0, st;
	while (wait(&st) > 0)
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
			reaped++;
	printf("children killed by SIGTERM and reaped: %d\n", reaped);
	printf("wait afterwards: %s\n", strerrorname_np(errno));
	return 0;
}

// killself [SIGNO|segv]: dies of a signal.
//   no argument  -> raise(SIGABRT)              (expected exit status 134)
//   SIGNO        -> kill(getpid(), SIGNO)       (expected 128+SIGNO)
//   segv         -> store through a null pointer (expected 139)
// A line is printed (and flushed) first so the tests can check that output
// written before the death still reaches the pipe.
//
// As pid 1 (litebox's first guest process: an init, which drops the
// signals it has no handler for, as in a Linux pid namespace) a kill or
// raise of itself would do nothing: a child dies instead, and pid 1 exits
// with the status a shell reports for it, 128+N, the number the tests
// expect. A fault kills pid 1 itself.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	// Never leave core files behind in native runs; the result is ignored
	// because it does not matter for the test if the limit cannot be set.
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);

	int segv = argc >= 2 && strcmp(argv[1], "segv") == 0;
	if (getpid() == 1 && !segv) {
		pid_t pid = fork();
		if (pid < 0)
			return 4;
		if (pid > 0) {
			int st;
			if (waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st))
				return 5;
			return 128 + WTERMSIG(st);
		}
	}

	puts("dying");
	fflush(stdout);

	if (argc < 2) {
		raise(SIGABRT);
	} else if (strcmp(argv[1], "segv") == 0) {
		volatile int *p = NULL;
		*p = 1;
	} else {
		kill(getpid(), atoi(argv[1]));
	}
	// Only reached if the signal did not kill us.
	puts("still alive");
	return 3;
}

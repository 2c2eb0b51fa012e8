// killself [SIGNO|segv]: dies of a signal.
//   no argument  -> raise(SIGABRT)              (expected exit status 134)
//   SIGNO        -> kill(getpid(), SIGNO)       (expected 128+SIGNO)
//   segv         -> store through a null pointer (expected 139)
// A line is printed (and flushed) first so the tests can check that output
// written before the death still reaches the pipe.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv) {
	// Never leave core files behind in native runs; the result is ignored
	// because it does not matter for the test if the limit cannot be set.
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);

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

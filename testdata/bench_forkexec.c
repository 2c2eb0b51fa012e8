// bench_forkexec N: N times fork, execve("/bin/true") in the child and
// waitpid in the parent. Used by bench/ to measure the cost of starting a
// process; N = 0 only starts and exits, so that the difference of two runs
// is the cost of N iterations. Exits 1 if a child fails.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 0;
	char *child_argv[] = {"/bin/true", NULL};
	char *child_envp[] = {NULL};
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execve("/bin/true", child_argv, child_envp);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid) {
			perror("waitpid");
			return 1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "iteration %ld: /bin/true ended with status %#x\n", i, status);
			return 1;
		}
	}
	return 0;
}

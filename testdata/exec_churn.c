// exec_churn: execve in a loop, for the host-fd leak test and the soak test.
//
//   exec_churn true               exits 0 at once (the program exec'd)
//   exec_churn run N [pause]      N rounds of: an execve of a file that is
//                                 not an executable (ENOEXEC expected), and
//                                 a fork whose child execs a static program
//                                 (this one, "true") on even rounds and the
//                                 dynamic /bin/true on odd ones.
//
// With "pause", it prints "ready" and waits for a byte on stdin before the
// rounds, and prints "done" and waits again after them, so that a test can
// look at litebox's host resources at both points of one run. It ends with
// a summary line of what every execve gave.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void wait_for_go(const char *what) {
	char c;
	printf("%s\n", what);
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		exit(3);
}

int main(int argc, char **argv) {
	if (argc >= 2 && strcmp(argv[1], "true") == 0)
		return 0;
	if (argc < 3 || strcmp(argv[1], "run") != 0)
		return 2;
	long n = atol(argv[2]);
	int pause = argc > 3 && strcmp(argv[3], "pause") == 0;
	const char *notelf = "/tmp/exec_churn_notelf";
	int fd = open(notelf, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0 || write(fd, "just text\n", 10) != 10 || close(fd) != 0)
		return 4;
	if (pause)
		wait_for_go("ready");
	long enoexec = 0, other = 0, ok = 0, failed = 0;
	char *const bad_argv[] = {(char *)notelf, NULL};
	for (long i = 0; i < n; i++) {
		execv(notelf, bad_argv);
		if (errno == ENOEXEC)
			enoexec++;
		else
			other++;
		pid_t pid = fork();
		if (pid < 0)
			return 5;
		if (pid == 0) {
			if (i % 2 == 0) {
				char *const a[] = {argv[0], "true", NULL};
				execv(argv[0], a);
			} else {
				char *const a[] = {"/bin/true", NULL};
				execv("/bin/true", a);
			}
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else
			failed++;
	}
	if (pause)
		wait_for_go("done");
	printf("ENOEXEC %ld, other errors %ld, children ok %ld, failed %ld\n", enoexec, other, ok, failed);
	unlink(notelf);
	return 0;
}

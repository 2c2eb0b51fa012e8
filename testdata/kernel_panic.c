// kernel_panic: guest side of the internal-error tests. litebox runs it with
// its hidden --test-panic-syscall getppid (or sandbox.Config.PanicOnSyscall),
// so that getppid makes the kernel panic as a bug would. Natively (and in a
// sandbox without the hook) getppid is just getppid.
//
//   kernel_panic self     prints "before", calls getppid on the main thread
//   kernel_panic child    prints "before", a forked child calls getppid while
//                         the parent waits for it
//   kernel_panic blocked  prints "before", forks a child that sleeps in
//                         pause() forever, then calls getppid itself: the
//                         sandbox must end without the child's help
//   kernel_panic work N   forks N children that each add up a range and
//                         exit with a byte of the sum; prints the total and
//                         whether getppid worked (a sandbox that must be
//                         unaffected by another sandbox's crash)
//
// Anything printed after the getppid call in the first three modes means
// the kernel went on after its bug.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *s) {
	if (write(1, s, strlen(s)) < 0)
		_exit(3);
}

static long ppid(void) { return syscall(SYS_getppid); }

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	const char *mode = argv[1];
	if (strcmp(mode, "work") == 0) {
		int n = argc > 2 ? atoi(argv[2]) : 20;
		long total = 0;
		for (int i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid < 0)
				return 4;
			if (pid == 0) {
				unsigned long sum = 0;
				for (unsigned long j = 0; j < 200000; j++)
					sum += j * (unsigned long)(i + 1);
				_exit((int)(sum & 0x7f));
			}
			int st;
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
				return 5;
			total += WEXITSTATUS(st);
		}
		printf("total %ld getppid %s\n", total, ppid() >= 0 ? "ok" : "failed");
		return 0;
	}
	say("before\n");
	if (strcmp(mode, "self") == 0) {
		ppid();
	} else if (strcmp(mode, "child") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			ppid();
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
	} else if (strcmp(mode, "blocked") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			for (;;)
				pause();
		}
		usleep(100000);
		ppid();
	} else {
		return 2;
	}
	say("after\n");
	return 0;
}

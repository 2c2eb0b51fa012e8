// getppid_loop N: issues N raw getppid system calls. Used by bench/ to
// measure the per-syscall cost; the call goes through syscall(2) so libc
// cannot cache or elide it.
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 0;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}

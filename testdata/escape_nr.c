// escape_nr NR...: issues each syscall number with all-zero arguments and
// prints "NR: <ERRNO>" or "NR: returned N". Used for numbers that no
// litebox kernel implements, which must all fail with ENOSYS: the guest
// must never reach the host kernel with any number.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		long nr = strtol(argv[i], NULL, 0);
		errno = 0;
		long r = syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L);
		if (r < 0) {
			const char *n = strerrorname_np(errno);
			printf("%ld: %s\n", nr, n ? n : "unknown errno");
		} else {
			printf("%ld: returned %ld\n", nr, r);
		}
	}
	return 0;
}

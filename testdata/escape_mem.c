// escape_mem MODE: memory exhaustion attempts.
//   big   malloc(2 GiB) and mmap(2 GiB): prints the errno of each failure.
//   loop  mallocs 16 MiB blocks and touches every page until malloc fails
//         (at most 128 blocks, 2 GiB, so a missing limit cannot hurt the
//         host); prints the errno and the number of MiB obtained, then
//         stays alive for 300 ms so that the host can measure its RSS.
// Exits 0 either way, so a kill by the sandbox shows as another status.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: escape_mem big|loop\n");
		return 2;
	}
	if (strcmp(argv[1], "big") == 0) {
		size_t two = (size_t)2 << 30;
		errno = 0;
		char *p = malloc(two);
		if (p == NULL) {
			printf("malloc(2 GiB): %s\n", ename(errno));
		} else {
			// Touch it, so that a missing limit would be visible.
			for (size_t i = 0; i < two; i += 4096)
				p[i] = 1;
			printf("malloc(2 GiB): ok\n");
		}
		errno = 0;
		void *m = mmap(NULL, two, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("mmap(2 GiB): %s\n", m == MAP_FAILED ? ename(errno) : "ok");
		return 0;
	}
	if (strcmp(argv[1], "loop") == 0) {
		const size_t block = (size_t)16 << 20;
		int n = 0, err = 0;
		while (n < 128) {
			errno = 0;
			char *p = malloc(block);
			if (p == NULL) {
				err = errno;
				break;
			}
			for (size_t i = 0; i < block; i += 4096)
				p[i] = (char)n;
			n++;
		}
		printf("malloc(16 MiB) failed: %s\n", err ? ename(err) : "never");
		printf("MiB obtained: %d\n", n * 16);
		// Stay alive a moment with everything mapped, so that the test
		// can read the process's peak RSS on the host.
		struct timespec ts = {0, 300 * 1000000L};
		nanosleep(&ts, NULL);
		return 0;
	}
	fprintf(stderr, "escape_mem: unknown mode %s\n", argv[1]);
	return 2;
}

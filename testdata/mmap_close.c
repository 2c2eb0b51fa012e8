// mmap_close: a private file mapping outlives its descriptor, as on Linux.
//
//   mmap_close reread A B    maps a page of file A, closes the descriptor,
//                            opens B (which may get the same descriptor
//                            number, here and in litebox's own table),
//                            drops the page with MADV_DONTNEED and reads it
//                            again: it must still show A's bytes
//   mmap_close loop A N      N rounds of open A, mmap, close, munmap, paused
//                            before and after the rounds ("ready", "done",
//                            then a byte on stdin), for a host-fd count
//   mmap_close hold A N      up to N rounds of open A, mmap, close, keeping
//                            every mapping; stops at the first failing mmap
//                            and prints how many succeeded and its errno
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void wait_for_go(const char *what) {
	char c;
	printf("%s\n", what);
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		exit(3);
}

static char *map_and_close(const char *path, int *err) {
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	*err = errno;
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	const char *mode = argv[1];
	int err;
	if (strcmp(mode, "reread") == 0) {
		char *p = map_and_close(argv[2], &err);
		if (!p) {
			printf("mmap: %s\n", strerrorname_np(err));
			return 1;
		}
		int fd = open(argv[3], O_RDONLY); // likely the number A had
		char b;
		if (fd < 0 || read(fd, &b, 1) != 1)
			return 4;
		if (madvise(p, 4096, MADV_DONTNEED) != 0) {
			printf("madvise: %s\n", strerrorname_np(errno));
			return 1;
		}
		printf("after MADV_DONTNEED: %.8s (B starts with %c)\n", p, b);
		return 0;
	}
	long n = atol(argv[3]);
	if (strcmp(mode, "loop") == 0) {
		wait_for_go("ready");
		long ok = 0;
		for (long i = 0; i < n; i++) {
			char *p = map_and_close(argv[2], &err);
			if (p && munmap(p, 4096) == 0)
				ok++;
		}
		wait_for_go("done");
		printf("rounds ok %ld\n", ok);
		return 0;
	}
	if (strcmp(mode, "hold") == 0) {
		long ok = 0;
		for (; ok < n; ok++) {
			if (!map_and_close(argv[2], &err))
				break;
		}
		printf("mappings %ld, then %s\n", ok, ok < n ? strerrorname_np(err) : "none failed");
		return 0;
	}
	return 2;
}

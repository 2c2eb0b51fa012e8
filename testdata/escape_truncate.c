// escape_truncate PATH LIMIT [ignore-xfsz|count-xfsz]: growing a file with
// ftruncate/truncate past RLIMIT_FSIZE. Sets RLIMIT_FSIZE to LIMIT bytes
// (so a native run and a sandbox run with --fsize LIMIT see the same), then
// grows PATH (created) to 1 TiB with ftruncate and truncate, to exactly
// LIMIT and to LIMIT+1, shrinks it to 0, and prints each result and the
// size. By default SIGXFSZ kills the process at the first growth past the
// limit; with ignore-xfsz the calls fail with EFBIG; count-xfsz catches the
// signal and prints how many arrived at the end.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t xfsz;

static void onxfsz(int sig) {
	(void)sig;
	xfsz++;
}

static const char *res(int r) {
	if (r == 0)
		return "ok";
	const char *n = strerrorname_np(errno);
	return n ? n : "unknown errno";
}

static void size(int fd) {
	struct stat st;
	if (fstat(fd, &st) == 0)
		printf("size %lld\n", (long long)st.st_size);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: escape_truncate PATH LIMIT [ignore-xfsz|count-xfsz]\n");
		return 2;
	}
	const char *path = argv[1];
	off_t limit = atoll(argv[2]);
	if (argc > 3 && strcmp(argv[3], "ignore-xfsz") == 0)
		signal(SIGXFSZ, SIG_IGN);
	if (argc > 3 && strcmp(argv[3], "count-xfsz") == 0)
		signal(SIGXFSZ, onxfsz);
	struct rlimit rl = {.rlim_cur = limit, .rlim_max = limit};
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		printf("setrlimit: %s\n", res(-1));
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open: %s\n", res(-1));
		return 1;
	}
	printf("ftruncate(1 TiB): %s\n", res(ftruncate(fd, 1LL << 40)));
	size(fd);
	printf("truncate(1 TiB): %s\n", res(truncate(path, 1LL << 40)));
	size(fd);
	printf("ftruncate(LIMIT): %s\n", res(ftruncate(fd, limit)));
	size(fd);
	printf("ftruncate(LIMIT+1): %s\n", res(ftruncate(fd, limit + 1)));
	printf("truncate(LIMIT): %s\n", res(truncate(path, limit)));
	size(fd);
	printf("ftruncate(0): %s\n", res(ftruncate(fd, 0)));
	size(fd);
	if (argc > 3 && strcmp(argv[3], "count-xfsz") == 0)
		printf("SIGXFSZ: %d\n", (int)xfsz);
	return 0;
}

// escape_fill PATH MIB [ignore-xfsz]: writes MIB MiB of data to PATH (created
// or truncated) in 64 KiB writes, and prints how far it got:
//   "write: <ERRNO>" for the failing write (or "write: ok"),
//   "bytes written: N" and "MiB written: N" (rounded down).
// With ignore-xfsz, SIGXFSZ is ignored first, so exceeding the file size
// limit gives EFBIG instead of killing the process. Exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[64 << 10];

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: escape_fill PATH MIB [ignore-xfsz]\n");
		return 2;
	}
	if (argc > 3 && strcmp(argv[3], "ignore-xfsz") == 0)
		signal(SIGXFSZ, SIG_IGN);
	long long want = atoll(argv[2]) << 20;
	memset(buf, 'x', sizeof buf);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open: %s\n", strerrorname_np(errno));
		return 1;
	}
	long long done = 0;
	int err = 0;
	while (done < want) {
		ssize_t n = write(fd, buf, sizeof buf);
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0) {
			err = -1;
			break;
		}
		done += n;
	}
	if (err > 0)
		printf("write: %s\n", strerrorname_np(err));
	else
		printf("write: %s\n", err < 0 ? "returned 0" : "ok");
	printf("bytes written: %lld\n", done);
	printf("MiB written: %lld\n", done >> 20);
	close(fd);
	return 0;
}

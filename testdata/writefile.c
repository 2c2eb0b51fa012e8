// writefile PATH CONTENT: open(PATH, O_WRONLY|O_CREAT|O_TRUNC, 0644), write
// CONTENT, close. Prints "OK" and exits 0, or prints "<step>: <ERRNO>" and
// exits 1. Used for the read-only/read-write mount and /dev tests.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 3) {
		fputs("usage: writefile PATH CONTENT\n", stderr);
		return 2;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open: %s\n", strerrorname_np(errno));
		return 1;
	}
	size_t len = strlen(argv[2]);
	ssize_t n = write(fd, argv[2], len);
	if (n < 0) {
		printf("write: %s\n", strerrorname_np(errno));
		return 1;
	}
	if ((size_t)n != len) {
		printf("write: short (%zd of %zu)\n", n, len);
		return 1;
	}
	if (close(fd) < 0) {
		printf("close: %s\n", strerrorname_np(errno));
		return 1;
	}
	puts("OK");
	return 0;
}

// verify_swap: a file on a :rw mount changed between its check and its
// mapping. DIR/t.so holds, at start, the content the manifest lists for it
// (good), and DIR/evil.so the same with one byte changed. Each step
// rewrites t.so in place (same inode, same size) and prints what mmap and
// mprotect answer:
//   A: mapped PROT_READ with the good bytes, file then changed to the evil
//      ones, mprotect PROT_EXEC: the pages still show the good bytes;
//   B: mapped PROT_READ with the evil bytes, file then changed back to the
//      good ones, mprotect PROT_EXEC: the pages show the evil bytes;
//   C: mapped PROT_EXEC with the good bytes, file then changed to the evil
//      ones, mapped PROT_EXEC again; the first mapping still shows the
//      good bytes.
// Natively every step succeeds; under --verify, B's mprotect and C's
// second mmap are refused with EACCES.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "guest_util.h"

static char *good, *evil;
static size_t size;

static char *slurp(const char *path) {
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(path);
		exit(1);
	}
	size = st.st_size;
	char *b = malloc(size);
	if (pread(fd, b, size, 0) != (ssize_t)size) {
		perror("pread");
		exit(1);
	}
	close(fd);
	return b;
}

static void rewrite(int fd, const char *with) {
	if (pwrite(fd, with, size, 0) != (ssize_t)size) {
		perror("pwrite");
		exit(1);
	}
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: verify_swap DIR\n");
		return 2;
	}
	snprintf(base, sizeof base, "%s", argv[1]);
	good = slurp(in("t.so"));
	evil = slurp(in("evil.so"));
	int fd = open(in("t.so"), O_RDWR);
	if (fd < 0) {
		perror("open");
		return 1;
	}

	char *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	rewrite(fd, evil);
	printf("A: mprotect %s\n", res(mprotect(p, size, PROT_READ | PROT_EXEC)));
	printf("A: pages %s\n", memcmp(p, good, size) == 0 ? "good" : "changed");
	munmap(p, size);

	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	rewrite(fd, good);
	printf("B: mprotect %s\n", res(mprotect(p, size, PROT_READ | PROT_EXEC)));
	munmap(p, size);

	p = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	printf("C: mmap %s\n", outcome(p == MAP_FAILED ? -1 : 0));
	rewrite(fd, evil);
	char *q = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	printf("C: mmap again %s\n", outcome(q == MAP_FAILED ? -1 : 0));
	if (p != MAP_FAILED)
		printf("C: first pages %s\n", memcmp(p, good, size) == 0 ? "good" : "changed");
	rewrite(fd, good);
	return 0;
}

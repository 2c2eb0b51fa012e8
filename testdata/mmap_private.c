// mmap_private: private mappings of a file in DIR, which litebox serves
// from its page cache when DIR is a read-only mount. Every step prints
// what the guest sees, so the run compares with the same program run
// natively:
//   - the file's bytes, and zeros past its end in the last page;
//   - a store makes a private copy: a second mapping, a forked child's
//     fresh mapping and read(2) still see the file;
//   - a forked child inherits the parent's copy, and its own stores stay
//     its own;
//   - MADV_DONTNEED drops the copy: the page reads the file again;
//   - mremap moving and growing the mapping keeps the copy and shows the
//     file's next page;
//   - mprotect to writable and PROT_EXEC mappings of the same pages.
//
//   mmap_private DIR    DIR/f exists: 3 pages and 100 bytes of a pattern
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"

#define PG 4096

// sum is a short fingerprint of a page.
static unsigned sum(const unsigned char *p, size_t n) {
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

static void page(const char *what, const unsigned char *p) {
	printf("%s: %02x %02x %08x\n", what, p[0], p[PG - 1], sum(p, PG));
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	char path[4096];
	snprintf(path, sizeof path, "%s/f", argv[1]);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	size_t len = 4 * PG; // the file: 3 pages and 100 bytes
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	unsigned char *q = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED || q == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (int i = 0; i < 4; i++) {
		char what[32];
		snprintf(what, sizeof what, "page %d", i);
		page(what, p + i * PG);
	}
	printf("last page past eof: %d\n", p[3 * PG + 100] | p[4 * PG - 1]);

	memset(p, 'A', 10);
	page("p after store", p);
	page("q after store", q);
	unsigned char buf[PG];
	printf("pread: %zd\n", pread(fd, buf, PG, 0));
	page("read(2) after store", buf);

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		page("child inherits copy", p);
		memset(p + PG, 'C', 10);
		page("child own store", p + PG);
		unsigned char *r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
		page("child fresh mapping", r);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child exit %d\n", WEXITSTATUS(st));
	page("parent after child store", p + PG);

	printf("madvise: %s\n", res(madvise(p, PG, MADV_DONTNEED)));
	page("p after DONTNEED", p);
	memset(p + 2 * PG, 'B', 10);

	// Move and grow (3 pages to 4): the grown page is the file's last one.
	unsigned char *to = mmap(NULL, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *m = mremap(p, 3 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, to + 8 * PG);
	if (m == MAP_FAILED) {
		perror("mremap");
		return 1;
	}
	printf("moved: %d\n", m == to + 8 * PG);
	page("moved page 0", m);
	page("moved page 2 (copy)", m + 2 * PG);
	page("moved page 3 (grown)", m + 3 * PG);
	printf("tail past eof after grow: %d\n", m[3 * PG + 100] | m[4 * PG - 1]);

	printf("mprotect ro: %s\n", res(mprotect(q, len, PROT_READ)));
	printf("mprotect rw: %s\n", res(mprotect(q, len, PROT_READ | PROT_WRITE)));
	q[1] = 'Q';
	page("q own store", q);

	unsigned char *x = mmap(NULL, 2 * PG, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, PG);
	if (x == MAP_FAILED) {
		perror("mmap exec");
		return 1;
	}
	page("exec mapping at offset", x);
	printf("munmap: %s %s\n", res(munmap(x, 2 * PG)), res(munmap(m, 4 * PG)));
	return 0;
}

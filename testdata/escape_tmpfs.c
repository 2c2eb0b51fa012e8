// escape_tmpfs DIR MODE [N]: what a guest can make an in-memory /tmp hold.
//   symlinks N  create up to N symlinks DIR/lINDEX with 4000-byte targets;
//               prints "symlink: ERRNO" for the first failure (or "ok") and
//               "created: COUNT", then removes them all and checks that one
//               can be created again ("after cleanup: ok").
//   files N     the same with empty regular files (DIR/fINDEX): the inode cap.
//   sparse      four files of 1 GiB made with ftruncate, one page written in
//               the middle of each: prints each ftruncate/pwrite result and
//               st_size and st_blocks (holes cost nothing).
// Exits 0 unless the program itself is misused.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

static char target[4001];

static int make(const char *dir, char kind, int i) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%c%d", dir, kind, i);
	if (kind == 'l')
		return symlink(target, path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void unmake(const char *dir, char kind, int i) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%c%d", dir, kind, i);
	if (unlink(path) != 0)
		printf("unlink %s: %s\n", path, ename(errno));
}

static int flood(const char *dir, char kind, int want) {
	memset(target, 'a', 4000);
	int n = 0, err = 0;
	for (; n < want; n++) {
		if (make(dir, kind, n) != 0) {
			err = errno;
			break;
		}
	}
	printf("%s: %s\n", kind == 'l' ? "symlink" : "create", err ? ename(err) : "ok");
	printf("created: %d\n", n);
	for (int i = 0; i < n; i++)
		unmake(dir, kind, i);
	if (make(dir, kind, 0) != 0) {
		printf("after cleanup: %s\n", ename(errno));
		return 0;
	}
	unmake(dir, kind, 0);
	printf("after cleanup: ok\n");
	return 0;
}

static int sparse(const char *dir) {
	static char page[4096];
	memset(page, 'z', sizeof page);
	for (int i = 0; i < 4; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/sparse%d", dir, i);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			printf("open: %s\n", ename(errno));
			return 0;
		}
		int r = ftruncate(fd, 1LL << 30);
		printf("ftruncate(1 GiB): %s\n", r ? ename(errno) : "ok");
		ssize_t w = pwrite(fd, page, sizeof page, 512LL << 20);
		printf("pwrite(4096 at 512 MiB): %s\n", w < 0 ? ename(errno) : w == 4096 ? "ok" : "short");
		struct stat st;
		if (fstat(fd, &st) == 0)
			printf("size %lld blocks %lld\n", (long long)st.st_size, (long long)st.st_blocks);
		char c = 1;
		if (pread(fd, &c, 1, 100 << 20) != 1 || c != 0)
			printf("hole does not read as zero\n");
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && strcmp(argv[2], "symlinks") == 0)
		return flood(argv[1], 'l', atoi(argv[3]));
	if (argc >= 4 && strcmp(argv[2], "files") == 0)
		return flood(argv[1], 'f', atoi(argv[3]));
	if (argc >= 3 && strcmp(argv[2], "sparse") == 0)
		return sparse(argv[1]);
	fprintf(stderr, "usage: escape_tmpfs DIR symlinks|files N | sparse\n");
	return 2;
}

// getdents.c: the legacy getdents(2) (struct linux_dirent, d_type in the
// record's last byte) against getdents64(2) on one directory: the same
// names, inode numbers and types, records laid out as Linux lays them
// (8-aligned d_reclen, NUL-terminated names), a buffer too small for the
// first record EINVAL, a non-directory ENOTDIR, a bad fd EBADF. Output is
// sorted, so it compares with a native run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent {
	unsigned long d_ino;
	unsigned long d_off;
	unsigned short d_reclen;
	char d_name[];
};

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct ent {
	char name[300];
	unsigned long ino;
	int type;
};

static int cmp(const void *a, const void *b) { return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name); }

static const char *errname(int e) {
	switch (e) {
	case EINVAL: return "EINVAL";
	case ENOTDIR: return "ENOTDIR";
	case EBADF: return "EBADF";
	case EFAULT: return "EFAULT";
	}
	return strerror(e);
}

// list reads dir with the given syscall and buffer size into out.
static int list(const char *dir, long nr, size_t bufsize, struct ent *out, int max, int *bad) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		perror("open");
		exit(99);
	}
	char *buf = malloc(bufsize);
	int n = 0;
	for (;;) {
		long got = syscall(nr, fd, buf, bufsize);
		if (got < 0) {
			printf("FAIL read %s: %s\n", dir, errname(errno));
			exit(99);
		}
		if (got == 0)
			break;
		for (long off = 0; off < got;) {
			struct ent *e = &out[n];
			unsigned short reclen;
			if (nr == SYS_getdents) {
				struct linux_dirent *d = (void *)(buf + off);
				reclen = d->d_reclen;
				snprintf(e->name, sizeof e->name, "%s", d->d_name);
				e->ino = d->d_ino;
				e->type = buf[off + reclen - 1];
				// The name's NUL, then the type: the name fits before it.
				if (18 + strlen(d->d_name) + 2 > reclen)
					(*bad)++;
			} else {
				struct linux_dirent64 *d = (void *)(buf + off);
				reclen = d->d_reclen;
				snprintf(e->name, sizeof e->name, "%s", d->d_name);
				e->ino = d->d_ino;
				e->type = d->d_type;
			}
			if (reclen % 8 != 0)
				(*bad)++;
			off += reclen;
			if (++n == max) {
				printf("FAIL too many entries\n");
				exit(99);
			}
		}
	}
	free(buf);
	close(fd);
	qsort(out, n, sizeof out[0], cmp);
	return n;
}

int main(void) {
	char dir[] = "/tmp/getdents.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	char path[600], name[256];
	// Names of every length from 1 to 40, and the longest one (255), so
	// that every padding of the records occurs.
	for (int len = 1; len <= 40; len++) {
		memset(name, 'a' + len % 26, len);
		name[len] = 0;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	memset(name, 'z', 255);
	name[255] = 0;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof path, "%s/subdir", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/link", dir);
	symlink("subdir", path);
	snprintf(path, sizeof path, "%s/fifo", dir);
	mkfifo(path, 0644);

	static struct ent a[64], b[64];
	int bad = 0;
	int na = list(dir, SYS_getdents, 4096, a, 64, &bad);
	int nb = list(dir, SYS_getdents64, 4096, b, 64, &bad);
	printf("getdents entries: %d, getdents64 entries: %d\n", na, nb);
	int same = na == nb;
	for (int i = 0; same && i < na; i++)
		same = strcmp(a[i].name, b[i].name) == 0 && a[i].ino == b[i].ino && a[i].type == b[i].type;
	printf("same names, inodes and types: %s\n", same ? "yes" : "no");
	printf("records well formed: %s\n", bad == 0 ? "yes" : "no");
	for (int i = 0; i < na; i++)
		if (strlen(a[i].name) < 20 || a[i].type != 8)
			printf("  %.20s type %d\n", a[i].name, a[i].type);

	// A small buffer: many calls, the same listing.
	static struct ent c[64];
	int nc = list(dir, SYS_getdents, 320, c, 64, &bad);
	same = nc == na;
	for (int i = 0; same && i < nc; i++)
		same = strcmp(a[i].name, c[i].name) == 0;
	printf("320-byte buffer gives the same listing: %s\n", same ? "yes" : "no");

	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char tiny[16], big[4096];
	long r = syscall(SYS_getdents, fd, tiny, sizeof tiny);
	printf("buffer too small for a record: %ld %s\n", r, errname(errno));
	close(fd);
	snprintf(path, sizeof path, "%s/subdir/../%s", dir, "b");
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror("open b");
		return 99;
	}
	r = syscall(SYS_getdents, fd, big, sizeof big);
	printf("a regular file: %ld %s\n", r, errname(errno));
	close(fd);
	r = syscall(SYS_getdents, 12345, big, sizeof big);
	printf("a bad fd: %ld %s\n", r, errname(errno));
	return 0;
}

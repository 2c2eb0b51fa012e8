// inodes A B TMP: inode numbers as tools use them. A is a directory with
// regular files "a" and "b", "a-link" (a hard link to "a") and a
// subdirectory "sub"; B is a directory on another mount with a file "c";
// TMP is a writable directory on a third (the guest's /tmp). Checks, with
// the same output natively and in the sandbox (only booleans):
//
//   - stat, lstat, fstat, newfstatat and statx agree on (dev, ino), and a
//     second round of calls gives the same numbers;
//   - samefile semantics: a hard link is the same file, distinct files and
//     files on other mounts are not; a rename keeps the number;
//   - getdents d_ino equals st_ino for every entry;
//   - /proc/self/maps shows a mapped file's st_dev and st_ino.
//
// Lines starting with "RAW " give the raw numbers (different natively and
// in the sandbox): the test checks them against the host's own, and that
// each mount has an st_dev of its own.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *yes(int b) { return b ? "yes" : "no"; }

static void die(const char *what) {
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(99);
}

static char *join(const char *dir, const char *name) {
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		die("asprintf");
	return p;
}

struct id {
	dev_t dev;
	ino_t ino;
};

static int same(struct id a, struct id b) { return a.dev == b.dev && a.ino == b.ino; }

// ids stats path every way there is and reports whether all agree.
static struct id ids(const char *path, int *agree) {
	struct stat s1, s2, s3, s4;
	struct statx sx;
	if (stat(path, &s1) < 0 || lstat(path, &s2) < 0 || fstatat(AT_FDCWD, path, &s3, 0) < 0)
		die(path);
	int fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &s4) < 0)
		die(path);
	close(fd);
	if (statx(AT_FDCWD, path, 0, STATX_INO, &sx) < 0)
		die(path);
	struct id id = {s1.st_dev, s1.st_ino};
	*agree = *agree && s2.st_dev == id.dev && s2.st_ino == id.ino && s3.st_dev == id.dev && s3.st_ino == id.ino &&
	         s4.st_dev == id.dev && s4.st_ino == id.ino && makedev(sx.stx_dev_major, sx.stx_dev_minor) == id.dev &&
	         sx.stx_ino == id.ino;
	printf("RAW %s %lu %lu\n", path, (unsigned long)id.dev, (unsigned long)id.ino);
	return id;
}

// dents_match lists dir and checks every entry's d_ino against lstat.
static int dents_match(const char *dir, int *count) {
	DIR *d = opendir(dir);
	if (d == NULL)
		die(dir);
	int ok = 1;
	*count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".."))
			continue; // the parent may be another mount's root
		char *p = join(dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0)
			die(p);
		if (st.st_ino != e->d_ino)
			ok = 0;
		printf("RAW %s %lu %lu\n", p, (unsigned long)st.st_dev, (unsigned long)e->d_ino);
		free(p);
		(*count)++;
	}
	closedir(d);
	return ok;
}

// in_maps maps path and looks for its line in /proc/self/maps.
static int in_maps(const char *path, struct id id) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		die("mmap");
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		die("/proc/self/maps");
	char line[1024];
	int found = 0;
	unsigned long start;
	unsigned maj, min;
	unsigned long ino;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%*x %*s %*x %x:%x %lu", &start, &maj, &min, &ino) == 4) {
			if (ino != 0)
				printf("RAW maps %lu\n", ino);
			if (start == (unsigned long)p && ino == id.ino && makedev(maj, min) == id.dev)
				found = 1;
		}
	}
	fclose(f);
	munmap(p, 4096);
	return found;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4) {
		fprintf(stderr, "usage: inodes A B TMP\n");
		return 2;
	}
	const char *A = argv[1], *B = argv[2], *T = argv[3];
	char *a = join(A, "a"), *b = join(A, "b"), *alink = join(A, "a-link"), *sub = join(A, "sub");
	char *c = join(B, "c");

	int agree = 1;
	struct id ia = ids(a, &agree), ib = ids(b, &agree), il = ids(alink, &agree), is = ids(sub, &agree);
	struct id iA = ids(A, &agree), ic = ids(c, &agree), iB = ids(B, &agree);

	printf("stat, lstat, fstat, newfstatat and statx agree: %s\n", yes(agree));
	agree = 1;
	int stable = same(ids(a, &agree), ia) && same(ids(alink, &agree), il) && same(ids(c, &agree), ic) &&
	             same(ids(A, &agree), iA);
	printf("the same numbers again: %s\n", yes(stable && agree));

	printf("hard link is the same file: %s\n", yes(same(ia, il)));
	printf("distinct files differ: %s\n", yes(!same(ia, ib) && !same(ia, is) && !same(ib, is) && !same(ia, iA)));
	printf("files of one mount share st_dev: %s\n", yes(ia.dev == ib.dev && ia.dev == is.dev && ia.dev == iA.dev));
	printf("the other mount's file is not the same: %s, nor its root: %s\n", yes(!same(ic, ia)), yes(!same(iB, iA)));

	int n;
	printf("d_ino == st_ino in A: %s\n", yes(dents_match(A, &n)));
	printf("entries listed in A: %d\n", n);
	printf("d_ino == st_ino in B: %s\n", yes(dents_match(B, &n)));

	printf("mapped file in /proc/self/maps with its st_dev and st_ino: %s\n", yes(in_maps(a, ia)));

	// The writable directory (tmpfs in the sandbox): link, rename, unlink.
	char *t1 = join(T, "t1"), *t2 = join(T, "t2"), *tl = join(T, "t1-link"), *tr = join(T, "t1-renamed");
	int fd = open(t1, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		die(t1);
	close(fd);
	if ((fd = open(t2, O_CREAT | O_WRONLY, 0644)) < 0)
		die(t2);
	close(fd);
	if (link(t1, tl) < 0)
		die("link");
	agree = 1;
	struct id it1 = ids(t1, &agree), it2 = ids(t2, &agree), itl = ids(tl, &agree), iT = ids(T, &agree);
	printf("TMP: APIs agree: %s, hard link same: %s, distinct files differ: %s\n", yes(agree), yes(same(it1, itl)),
	       yes(!same(it1, it2) && !same(it1, iT) && !same(it1, ia)));
	if (rename(t1, tr) < 0)
		die("rename");
	printf("TMP: a renamed file keeps its number: %s\n", yes(same(ids(tr, &agree), it1)));
	unlink(tr);
	unlink(t2);
	unlink(tl);
	return 0;
}

// overlay.c: what a program sees of an image root while it changes the
// image's files: run in litebox on an image of layers (its files in the
// lower layers, changes copied up) and natively in a chroot of the same
// files unpacked, with the same output expected. The image holds
// /img/file ("lower file\n"), /img/link (a hard link of it), /img/dir/a,
// /img/dir/b, /img/gone, /run (empty). What only an overlay does
// differently (renaming a directory of the image gives EXDEV, merged
// directories count no links) is not asked.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest_util.h"

static void show(const char *what, long r) { printf("%s: %s\n", what, res(r)); }

static void cat(const char *path) {
	char buf[256];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("cat %s: %s\n", path, res(-1));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	printf("cat %s: %s", path, buf);
	if (n <= 0 || buf[n - 1] != '\n')
		printf("\n");
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// ls lists a directory sorted, and checks that each d_ino is the st_ino.
static void ls(const char *path) {
	DIR *d = opendir(path);
	if (!d) {
		printf("ls %s: %s\n", path, res(-1));
		return;
	}
	char *names[64];
	int n = 0, inoOK = 1;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[512];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		if (lstat(p, &st) != 0 || st.st_ino != e->d_ino)
			inoOK = 0;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp);
	printf("ls %s:", path);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf(" (d_ino %s)\n", inoOK ? "= st_ino" : "!= st_ino");
}

static ino_t ino(const char *path) {
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_ino : 0;
}

int main(void) {
	drop_root();
	struct stat st;

	// Reading the image: the hard links are one file.
	cat("/img/file");
	ino_t i0 = ino("/img/file");
	stat("/img/file", &st);
	printf("nlink %ld, link same ino: %d\n", (long)st.st_nlink, ino("/img/link") == i0);

	// Copy-up by a write keeps the inode number and the other link.
	int fd = open("/img/file", O_WRONLY | O_APPEND);
	show("open append", fd < 0 ? -1 : 0);
	show("write", write(fd, "more\n", 5));
	close(fd);
	cat("/img/file");
	cat("/img/link");
	printf("same ino after write: %d %d\n", ino("/img/file") == i0, ino("/img/link") == i0);

	// A shared mapping of the changed file is the file.
	fd = open("/img/file", O_RDWR);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	show("mmap shared", m == MAP_FAILED ? -1 : 0);
	if (m != MAP_FAILED) {
		memcpy(m, "LOWER", 5);
		munmap(m, 4096);
	}
	close(fd);
	cat("/img/link");
	show("F_GET_SEALS", fcntl(open("/img/file", O_RDONLY), F_GET_SEALS));

	// O_TRUNC, chmod and times of image files.
	fd = open("/img/dir/a", O_WRONLY | O_TRUNC);
	show("open trunc", fd < 0 ? -1 : 0);
	show("write", write(fd, "new a\n", 6));
	show("fallocate", fallocate(fd, 0, 0, 8192));
	close(fd);
	stat("/img/dir/a", &st);
	printf("size after fallocate %ld\n", (long)st.st_size);
	show("chmod", chmod("/img/dir/b", 0600));
	struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1234567890}};
	show("utimensat", utimensat(AT_FDCWD, "/img/dir/b", ts, 0));
	stat("/img/dir/b", &st);
	printf("mode %o mtime %ld\n", st.st_mode & 07777, (long)st.st_mtime);

	// Removing and making names again.
	show("unlink gone", unlink("/img/gone"));
	show("stat gone", stat("/img/gone", &st));
	ls("/img");
	show("creat gone", creat("/img/gone", 0644) < 0 ? -1 : 0);
	ls("/img");
	show("rmdir full", rmdir("/img/dir"));
	show("unlink a", unlink("/img/dir/a"));
	show("unlink b", unlink("/img/dir/b"));
	show("rmdir empty", rmdir("/img/dir"));
	show("mkdir again", mkdir("/img/dir", 0755));
	ls("/img/dir");

	// Renames of files of the image, and hard links to them.
	ino_t il = ino("/img/link");
	show("rename link", rename("/img/link", "/img/renamed"));
	printf("renamed same ino: %d\n", ino("/img/renamed") == il);
	show("stat old name", stat("/img/link", &st));
	show("link", link("/img/renamed", "/img/again"));
	stat("/img/again", &st);
	printf("nlink %ld same ino %d\n", (long)st.st_nlink, st.st_ino == il);
	ls("/img");

	// A socket and a FIFO in the image's directories.
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/run/x.sock"};
	show("bind", bind(s, (struct sockaddr *)&sa, sizeof sa));
	int c = socket(AF_UNIX, SOCK_DGRAM, 0);
	show("sendto", sendto(c, "ping", 4, 0, (struct sockaddr *)&sa, sizeof sa));
	char buf[8] = {0};
	show("recv", recv(s, buf, sizeof buf, 0));
	printf("got %s\n", buf);
	show("mkfifo", mkfifo("/run/fifo", 0644));
	fd = open("/run/fifo", O_RDWR);
	show("fifo write", write(fd, "ff", 2));
	show("fifo read", read(fd, buf, sizeof buf));
	ls("/run");
	return 0;
}

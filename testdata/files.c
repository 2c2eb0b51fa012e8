// files [DIR]: exercises file-system calls inside DIR (default /tmp) and
// prints one line per step. Only sizes, offsets, data and permission bits are
// printed (never paths, inode numbers or times), so the output is identical
// natively and in the sandbox. The work happens in DIR/lbfiles, which must
// not exist, and is removed again at the end.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[2048];

static const char *p(const char *name) {
	static char buf[2][4096];
	static int which;
	which ^= 1;
	snprintf(buf[which], sizeof buf[which], "%s/%s", base, name);
	return buf[which];
}

// res prints "name: <value>" for ret >= 0 or "name: <ERRNO>" otherwise.
static void res(const char *name, long ret) {
	if (ret < 0)
		printf("%s: %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %ld\n", name, ret);
}

static void show_data(const char *name, int fd, off_t off, size_t n) {
	char buf[64] = {0};
	ssize_t got = pread(fd, buf, n, off);
	if (got < 0) {
		res(name, got);
		return;
	}
	printf("%s: %zd [", name, got);
	for (ssize_t i = 0; i < got; i++) {
		if (buf[i] >= 32 && buf[i] < 127)
			putchar(buf[i]);
		else
			printf("\\x%02x", (unsigned char)buf[i]);
	}
	puts("]");
}

static void show_stat(const char *name, int ret, const struct stat *st) {
	if (ret < 0) {
		res(name, ret);
		return;
	}
	printf("%s: mode=%03o reg=%d dir=%d", name, st->st_mode & 0777,
	       S_ISREG(st->st_mode), S_ISDIR(st->st_mode));
	// Directory sizes and link counts differ between file systems (ext4,
	// tmpfs, the sandbox's in-memory fs), so they are only printed for files.
	if (S_ISREG(st->st_mode))
		printf(" size=%lld nlink=%ld", (long long)st->st_size, (long)st->st_nlink);
	putchar('\n');
}

int main(int argc, char **argv) {
	struct stat st;
	char buf[64];
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	snprintf(base, sizeof base, "%s/lbfiles", dir);

	// Fix the umask so created modes do not depend on the caller's.
	umask(022);

	res("mkdir", mkdir(base, 0755));
	show_stat("stat dir", stat(base, &st), &st);

	int fd = open(p("a.txt"), O_RDWR | O_CREAT | O_EXCL, 0640);
	res("open O_CREAT|O_EXCL", fd < 0 ? fd : 0);
	res("write", write(fd, "hello world\n", 12));
	res("lseek cur", lseek(fd, 0, SEEK_CUR));
	res("lseek set 0", lseek(fd, 0, SEEK_SET));
	memset(buf, 0, sizeof buf);
	res("read 5", read(fd, buf, 5));
	printf("data: [%s]\n", buf);
	res("lseek end -6", lseek(fd, -6, SEEK_END));
	memset(buf, 0, sizeof buf);
	res("read rest", read(fd, buf, sizeof buf - 1));
	printf("data: [%s]\n", buf);
	res("read at eof", read(fd, buf, sizeof buf));
	res("lseek cur +2", lseek(fd, 2, SEEK_CUR));
	res("lseek negative", lseek(fd, -100, SEEK_SET));
	res("lseek cur after error", lseek(fd, 0, SEEK_CUR));

	res("pwrite", pwrite(fd, "HELLO", 5, 0));
	show_data("pread", fd, 0, 12);
	res("offset unchanged by pread/pwrite", lseek(fd, 0, SEEK_CUR));

	show_stat("fstat", fstat(fd, &st), &st);

	// Writing past the end leaves a hole that reads back as zeros.
	res("lseek set 16", lseek(fd, 16, SEEK_SET));
	res("write past end", write(fd, "x", 1));
	show_stat("fstat after hole", fstat(fd, &st), &st);
	show_data("pread hole", fd, 10, 16);

	res("ftruncate 5", ftruncate(fd, 5));
	show_stat("fstat truncated", fstat(fd, &st), &st);
	res("close", close(fd));
	show_stat("stat", stat(p("a.txt"), &st), &st);

	fd = open(p("a.txt"), O_WRONLY | O_APPEND);
	res("open O_APPEND", fd < 0 ? fd : 0);
	res("lseek set 0 (append)", lseek(fd, 0, SEEK_SET));
	res("append", write(fd, "!!", 2));
	res("offset after append", lseek(fd, 0, SEEK_CUR));
	res("close", close(fd));

	fd = open(p("a.txt"), O_RDONLY);
	show_data("contents", fd, 0, 32);
	res("write to O_RDONLY fd", write(fd, "z", 1));
	res("close", close(fd));

	fd = open(p("a.txt"), O_RDWR | O_TRUNC);
	show_stat("fstat O_TRUNC", fstat(fd, &st), &st);
	res("write", write(fd, "renamed", 7));
	res("close", close(fd));

	res("rename a->b", rename(p("a.txt"), p("b.txt")));
	show_stat("stat a", stat(p("a.txt"), &st), &st);
	show_stat("stat b", stat(p("b.txt"), &st), &st);
	res("open O_EXCL existing", open(p("b.txt"), O_RDWR | O_CREAT | O_EXCL, 0600));
	res("open missing", open(p("missing"), O_RDONLY));

	res("mkdir sub", mkdir(p("sub"), 0700));
	show_stat("stat sub", stat(p("sub"), &st), &st);
	res("mkdir sub again", mkdir(p("sub"), 0700));
	res("open sub O_WRONLY", open(p("sub"), O_WRONLY));
	fd = open(p("sub"), O_RDONLY | O_DIRECTORY);
	res("open sub O_DIRECTORY", fd < 0 ? fd : 0);
	res("read dir", read(fd, buf, sizeof buf));
	close(fd);
	res("open file O_DIRECTORY", open(p("b.txt"), O_RDONLY | O_DIRECTORY));
	res("rename b->sub/c", rename(p("b.txt"), p("sub/c.txt")));
	show_stat("stat sub/c", stat(p("sub/c.txt"), &st), &st);
	res("rmdir non-empty", rmdir(p("sub")));
	res("unlink dir", unlink(p("sub")));
	res("rmdir file", rmdir(p("sub/c.txt")));
	res("unlink sub/c", unlink(p("sub/c.txt")));
	res("unlink again", unlink(p("sub/c.txt")));
	res("rmdir sub", rmdir(p("sub")));
	res("rmdir base", rmdir(base));
	show_stat("stat base", stat(base, &st), &st);
	return 0;
}

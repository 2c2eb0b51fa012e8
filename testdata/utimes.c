// utimes.c: the legacy time-setting calls utime(2), utimes(2) and
// futimesat(2), as old libcs and static binaries make them (a 2018
// busybox's touch uses utimes): explicit times land exactly (seconds for
// utime, microseconds for the others), NULL sets both to about now,
// futimesat resolves relative to its dirfd and with a NULL path acts on
// the dirfd itself, a bad tv_usec is EINVAL, a missing file ENOENT, a bad
// pointer EFAULT. Runs in a fresh directory under /tmp, so it compares
// with a native run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void show(const char *what, const char *path) {
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("%s: stat %s\n", what, strerrorname_np(errno));
		return;
	}
	printf("%s: atime %lld.%09ld mtime %lld.%09ld\n", what, (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static void recent(const char *what, const char *path) {
	struct stat st;
	time_t now = time(NULL);
	if (stat(path, &st) != 0) {
		printf("%s: stat %s\n", what, strerrorname_np(errno));
		return;
	}
	int ok = st.st_mtim.tv_sec >= now - 5 && st.st_mtim.tv_sec <= now + 1 && st.st_atim.tv_sec >= now - 5;
	printf("%s: now %s\n", what, ok ? "yes" : "no");
}

int main(void) {
	char dir[] = "/tmp/utimes-XXXXXX";
	if (!mkdtemp(dir) || chdir(dir) != 0)
		return 1;
	close(open("f", O_CREAT | O_WRONLY, 0644));
	mkdir("sub", 0755);
	close(open("sub/g", O_CREAT | O_WRONLY, 0644));

	struct utimbuf ub = {.actime = 1000000001, .modtime = 1000000002};
	printf("utime: %s\n", err(syscall(SYS_utime, "f", &ub)));
	show("utime", "f");
	printf("utime NULL: %s\n", err(syscall(SYS_utime, "f", NULL)));
	recent("utime NULL", "f");

	struct timeval tv[2] = {{1100000000, 123456}, {1100000001, 999999}};
	printf("utimes: %s\n", err(syscall(SYS_utimes, "f", tv)));
	show("utimes", "f");
	printf("utimes NULL: %s\n", err(syscall(SYS_utimes, "f", NULL)));
	recent("utimes NULL", "f");
	struct timeval bad[2] = {{1, 1000000}, {1, 0}};
	printf("utimes usec 1e6: %s\n", err(syscall(SYS_utimes, "f", bad)));
	bad[0].tv_usec = -1;
	printf("utimes usec -1: %s\n", err(syscall(SYS_utimes, "f", bad)));
	printf("utimes missing: %s\n", err(syscall(SYS_utimes, "nope", tv)));
	printf("utimes bad pointer: %s\n", err(syscall(SYS_utimes, "f", (void *)8)));

	int d = open("sub", O_RDONLY | O_DIRECTORY);
	struct timeval tv2[2] = {{1200000000, 1}, {1200000000, 2}};
	printf("futimesat: %s\n", err(syscall(SYS_futimesat, d, "g", tv2)));
	show("futimesat", "sub/g");
	printf("futimesat NULL path: %s\n", err(syscall(SYS_futimesat, d, NULL, tv2)));
	show("futimesat NULL path", "sub");
	printf("futimesat bad fd: %s\n", err(syscall(SYS_futimesat, 999, "g", tv2)));
	close(d);

	unlink("sub/g");
	rmdir("sub");
	unlink("f");
	chdir("/");
	rmdir(dir);
	return 0;
}

// escape_proc [HOSTPID]: what the sandbox's /proc shows. Forks a child
// (which pauses), then prints "self N", "child N", every numeric entry of
// /proc as "pid N" (sorted), and /proc/1/cmdline with its NULs shown as
// spaces. With HOSTPID (a host process, not a sandbox pid) it also tries to
// open /proc/HOSTPID/cmdline and /proc/HOSTPID/status and prints
// "open /proc/HOSTPID/...: <ERRNO>" (or "ok").
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return *(const long *)a < *(const long *)b ? -1 : *(const long *)a > *(const long *)b; }

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	int p[2];
	if (pipe(p) < 0)
		return 3;
	pid_t child = fork();
	if (child < 0)
		return 4;
	if (child == 0) {
		close(p[0]);
		write(p[1], "r", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	char ch;
	if (read(p[0], &ch, 1) != 1)
		return 5;
	printf("self %d\n", (int)getpid());
	printf("child %d\n", (int)child);

	DIR *d = opendir("/proc");
	if (d == NULL) {
		printf("opendir /proc: %s\n", strerrorname_np(errno));
		return 1;
	}
	long pids[4096];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 4096) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*e->d_name && *end == 0 && isdigit((unsigned char)e->d_name[0]))
			pids[n++] = v;
	}
	closedir(d);
	qsort(pids, n, sizeof pids[0], cmp);
	for (int i = 0; i < n; i++)
		printf("pid %ld\n", pids[i]);

	int fd = open("/proc/1/cmdline", O_RDONLY);
	if (fd < 0) {
		printf("open /proc/1/cmdline: %s\n", strerrorname_np(errno));
	} else {
		char buf[4096];
		ssize_t len = read(fd, buf, sizeof buf - 1);
		if (len < 0)
			len = 0;
		for (ssize_t i = 0; i < len; i++)
			if (buf[i] == 0)
				buf[i] = ' ';
		buf[len] = 0;
		printf("cmdline %s\n", buf);
		close(fd);
	}
	for (int i = 1; i < argc; i++) {
		const char *files[] = {"cmdline", "status"};
		for (int j = 0; j < 2; j++) {
			char path[128];
			snprintf(path, sizeof path, "/proc/%s/%s", argv[i], files[j]);
			int hfd = open(path, O_RDONLY);
			printf("open /proc/HOSTPID/%s: %s\n", files[j], hfd < 0 ? strerrorname_np(errno) : "ok");
			if (hfd >= 0)
				close(hfd);
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}

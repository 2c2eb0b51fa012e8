// owners: who owns the pipes and sockets a process makes (their
// creator's fs ids), printed relative to the caller's ids so that the
// output is the same natively and in the sandbox for any user; and
// reopening a pipe through /proc/self/fd. (eventfd, epoll and inotify
// belong to root on Linux, to their creator in the sandbox: not shown.)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, int fd) {
	struct stat st;
	if (fstat(fd, &st) < 0) {
		printf("%s: fstat %s\n", what, strerrorname_np(errno));
		return;
	}
	const char *owner = st.st_uid == geteuid() && st.st_gid == getegid() ? "the caller"
			    : st.st_uid == 0 && st.st_gid == 0               ? "root"
									     : "someone else";
	printf("%s: owned by %s, mode %o\n", what, owner, st.st_mode);
}

int main(void) {
	int p[2], s[2];
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	show("pipe", p[0]);
	show("socket", s[0]);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
	int w = open(path, O_WRONLY);
	printf("reopen the pipe: %s\n", w < 0 ? strerrorname_np(errno) : "ok");
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
	int r = open(path, O_RDONLY);
	printf("reopen its read end: %s\n", r < 0 ? strerrorname_np(errno) : "ok");
	return 0;
}

// owners: who owns the anonymous files a process makes (pipes and
// sockets: their creator's fs ids; eventfd, epoll, inotify: Linux's one
// anonymous inode, root's), printed relative to the caller's ids so that
// the output is the same natively and in the sandbox for any user; and
// reopening a pipe through /proc/self/fd.
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
	show("eventfd", eventfd(0, 0));
	show("epoll", epoll_create1(0));
	show("inotify", inotify_init());
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
	int w = open(path, O_WRONLY);
	printf("reopen the pipe: %s\n", w < 0 ? strerrorname_np(errno) : "ok");
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
	int r = open(path, O_RDONLY);
	printf("reopen its read end: %s\n", r < 0 ? strerrorname_np(errno) : "ok");
	return 0;
}

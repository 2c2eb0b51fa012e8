// inotify MODE DIR: inotify(7) and dnotify (F_NOTIFY) on DIR, printed so
// that the output is the same natively and in the sandbox (cookies are
// shown as "same as the previous event's" or not, watch descriptors as
// they are).
//
//	events    what create, write, read, chmod, truncate, mkdir, rename,
//	          link, unlink, rmdir, readdir and close report, with
//	          IN_NONBLOCK/IN_CLOEXEC, FIONREAD, poll, epoll and short reads
//	flags     inotify_add_watch's flags and errors, inotify_rm_watch
//	openunlink  a watched file unlinked while open: IN_DELETE_SELF at close
//	overflow  more events than max_queued_events: IN_Q_OVERFLOW
//	dnotify   F_NOTIFY: SIGIO on a change, DN_MULTISHOT, ENOTDIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "guest_util.h"

static const struct {
	unsigned bit;
	const char *name;
} bits[] = {
	{IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
	{IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
	{IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
	{IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
	{IN_MOVE_SELF, "MOVE_SELF"}, {IN_UNMOUNT, "UNMOUNT"}, {IN_Q_OVERFLOW, "Q_OVERFLOW"},
	{IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"},
};

static uint32_t lastCookie;

// drain prints every queued event (the descriptor is non-blocking).
static void drain(int fd, const char *what) {
	char buf[64 * 1024] __attribute__((aligned(8)));
	printf("-- %s\n", what);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno != EAGAIN)
				printf("read: %s\n", strerrorname_np(errno));
			return;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			printf("wd=%d", e->wd);
			for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
				if (e->mask & bits[i].bit)
					printf(" %s", bits[i].name);
			if (e->cookie)
				printf(" cookie%s", e->cookie == lastCookie ? "=prev" : "");
			lastCookie = e->cookie;
			if (e->len)
				printf(" %s (len %u)", e->name, e->len);
			printf("\n");
			p += sizeof *e + e->len;
		}
	}
}

static void events(void) {
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	printf("init1: %s cloexec %d nonblock %d\n", fd < 0 ? res(fd) : "ok",
	       fcntl(fd, F_GETFD) & FD_CLOEXEC, !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	char buf[64];
	printf("read empty: %s\n", res(read(fd, buf, sizeof buf)));
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	printf("poll empty: %d\n", poll(&pfd, 1, 0));
	int wd = inotify_add_watch(fd, base, IN_ALL_EVENTS);
	printf("watch dir: %s\n", res(wd));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);

	int f = open(in("file"), O_CREAT | O_WRONLY, 0644);
	write(f, "hello", 5);
	write(f, "hello", 5);
	int ready = poll(&pfd, 1, 0);
	printf("poll: %d revents %x\n", ready, pfd.revents);
	printf("epoll: %d\n", epoll_wait(ep, &ev, 1, 0));
	int avail = -1;
	ioctl(fd, FIONREAD, &avail);
	printf("FIONREAD: %d\n", avail);
	printf("read into 8 bytes: %s\n", res(read(fd, buf, 8)));
	printf("read into 16 bytes: %s\n", res(read(fd, buf, 16)));
	close(f);
	drain(fd, "create, write twice, close");

	f = open(in("file"), O_RDONLY);
	read(f, buf, sizeof buf);
	read(f, buf, sizeof buf); // end of file: no event
	close(f);
	drain(fd, "open, read, close");

	int wf = inotify_add_watch(fd, in("file"), IN_ALL_EVENTS);
	printf("watch file: %s\n", res(wf));
	printf("dir again: %s\n", res(inotify_add_watch(fd, base, IN_ALL_EVENTS)));
	chmod(in("file"), 0600);
	truncate(in("file"), 2);
	f = open(in("file"), O_WRONLY | O_TRUNC);
	ftruncate(f, 7);
	fchmod(f, 0644);
	close(f);
	drain(fd, "chmod, truncate, O_TRUNC, ftruncate, fchmod");

	mkdir(in("sub"), 0755);
	rename(in("file"), in("sub/moved"));
	rename(in("sub/moved"), in("renamed"));
	link(in("renamed"), in("hard"));
	symlink("renamed", in("sym"));
	drain(fd, "mkdir, rename out, rename in, link, symlink");

	unlink(in("hard"));
	unlink(in("sym"));
	unlink(in("renamed"));
	drain(fd, "unlink hard link, symlink, last name");

	DIR *d = opendir(base);
	while (readdir(d))
		;
	closedir(d);
	rmdir(in("sub"));
	drain(fd, "readdir, rmdir");

	printf("rm_watch: %s\n", res(inotify_rm_watch(fd, wd)));
	printf("rm_watch again: %s\n", res(inotify_rm_watch(fd, wd)));
	drain(fd, "rm_watch");
	close(ep);
	close(fd);
}

static void flags(void) {
	printf("init1 bad flags: %s\n", res(inotify_init1(O_RDWR)));
	int fd = inotify_init1(IN_NONBLOCK);
	close(open(in("f"), O_CREAT | O_WRONLY, 0644));
	mkdir(in("d"), 0755);
	symlink("f", in("l"));
	printf("mask 0: %s\n", res(inotify_add_watch(fd, base, 0)));
	printf("MASK_ADD|MASK_CREATE: %s\n", res(inotify_add_watch(fd, base, IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE)));
	printf("bad fd: %s\n", res(inotify_add_watch(99, base, IN_MODIFY)));
	printf("not inotify: %s\n", res(inotify_add_watch(1, base, IN_MODIFY)));
	printf("missing: %s\n", res(inotify_add_watch(fd, in("missing"), IN_MODIFY)));
	printf("ONLYDIR on a file: %s\n", res(inotify_add_watch(fd, in("f"), IN_MODIFY | IN_ONLYDIR)));
	int wf = inotify_add_watch(fd, in("f"), IN_MODIFY);
	int wl = inotify_add_watch(fd, in("l"), IN_MODIFY);
	int wn = inotify_add_watch(fd, in("l"), IN_ATTRIB | IN_DONT_FOLLOW);
	printf("file %d, symlink followed %d, symlink itself %d\n", wf, wl, wn);
	printf("MASK_CREATE on a watched file: %s\n", res(inotify_add_watch(fd, in("f"), IN_OPEN | IN_MASK_CREATE)));
	printf("ONLYDIR on a dir: %s\n", res(inotify_add_watch(fd, in("d"), IN_CREATE | IN_ONLYDIR)));
	// The new mask replaces IN_MODIFY; then IN_MASK_ADD adds IN_OPEN.
	inotify_add_watch(fd, in("f"), IN_ATTRIB);
	int f = open(in("f"), O_WRONLY);
	write(f, "x", 1);
	fchmod(f, 0640);
	close(f);
	drain(fd, "mask replaced: ATTRIB only");
	inotify_add_watch(fd, in("f"), IN_OPEN | IN_MASK_ADD);
	f = open(in("f"), O_WRONLY);
	fchmod(f, 0644);
	close(f);
	drain(fd, "MASK_ADD: OPEN and ATTRIB");
	int wo = inotify_add_watch(fd, in("d"), IN_CREATE | IN_ONESHOT);
	close(open(in("d/a"), O_CREAT | O_WRONLY, 0644));
	close(open(in("d/b"), O_CREAT | O_WRONLY, 0644));
	printf("oneshot wd %d\n", wo);
	drain(fd, "ONESHOT: one event, then IGNORED");
	printf("rm_watch bad wd: %s\n", res(inotify_rm_watch(fd, 12345)));
	printf("rm_watch not inotify: %s\n", res(inotify_rm_watch(1, wf)));
	printf("rm_watch oneshot's: %s\n", res(inotify_rm_watch(fd, wo)));
	printf("new wd after removals: %s\n", res(inotify_add_watch(fd, in("d"), IN_CREATE)));

	// IN_EXCL_UNLINK: no events through a name that was removed.
	int ex = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(ex, in("d"), IN_MODIFY | IN_EXCL_UNLINK);
	int all = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(all, in("d"), IN_MODIFY);
	f = open(in("d/a"), O_WRONLY);
	unlink(in("d/a"));
	write(f, "x", 1);
	close(f);
	drain(ex, "EXCL_UNLINK after unlink");
	drain(all, "without EXCL_UNLINK");
}

static void openunlink(void) {
	int fd = inotify_init1(IN_NONBLOCK);
	int f = open(in("f"), O_CREAT | O_WRONLY, 0644);
	inotify_add_watch(fd, base, IN_ALL_EVENTS);
	inotify_add_watch(fd, in("f"), IN_ALL_EVENTS);
	unlink(in("f"));
	drain(fd, "unlinked while open");
	write(f, "x", 1);
	close(f);
	drain(fd, "written and closed");
	mkdir(in("d"), 0755);
	int wd = inotify_add_watch(fd, in("d"), IN_ALL_EVENTS);
	rename(in("d"), in("e"));
	drain(fd, "rename of a watched dir");
	close(open(in("g"), O_CREAT | O_WRONLY, 0644));
	int wg = inotify_add_watch(fd, in("g"), IN_ALL_EVENTS);
	close(open(in("h"), O_CREAT | O_WRONLY, 0644));
	rename(in("h"), in("g"));
	drain(fd, "rename over a watched file");
	rmdir(in("e"));
	drain(fd, "rmdir of a watched dir");
	printf("wds %d %d\n", wd, wg);
}

static void overflow(void) {
	// Linux's default max_queued_events, 16384 (the sandbox's is fixed).
	int fd = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd, base, IN_CREATE);
	for (int i = 0; i < 16384 + 10; i++) {
		char name[32];
		snprintf(name, sizeof name, "f%d", i);
		mknod(in(name), S_IFREG | 0644, 0);
	}
	int avail = 0;
	ioctl(fd, FIONREAD, &avail);
	char buf[4096] __attribute__((aligned(8)));
	int count = 0, over = 0, lastwd = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			count++;
			if (e->mask & IN_Q_OVERFLOW)
				over++;
			lastwd = e->wd;
			p += sizeof *e + e->len;
		}
	}
	printf("events %d, overflows %d, last wd %d, FIONREAD %d\n", count, over, lastwd, avail);
	close(open(in("after"), O_CREAT | O_WRONLY, 0644));
	drain(fd, "after reading");
}

static volatile sig_atomic_t sigio;
static void onsigio(int sig) { (void)sig; sigio++; }

// gotSigio waits (boundedly: the signal is asynchronous) for SIGIO.
static const char *gotSigio(void) {
	for (int i = 0; i < 2000 && !sigio; i++)
		usleep(1000);
	int got = sigio;
	sigio = 0;
	return got ? "yes" : "no";
}

static void dnotify(void) {
	signal(SIGIO, onsigio);
	int d = open(base, O_RDONLY | O_DIRECTORY);
	printf("F_NOTIFY DN_MULTISHOT (64-bit flag): %s\n", res(fcntl(d, F_NOTIFY, (long)DN_MULTISHOT)));
	printf("F_NOTIFY DN_CREATE|DN_MULTISHOT: %s\n", res(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT)));
	close(open(in("a"), O_CREAT | O_WRONLY, 0644));
	printf("SIGIO after a create: %s\n", gotSigio());
	close(open(in("b"), O_CREAT | O_WRONLY, 0644));
	printf("SIGIO after another create: %s\n", gotSigio());
	printf("F_NOTIFY DN_DELETE added: %s\n", res(fcntl(d, F_NOTIFY, DN_DELETE)));
	unlink(in("a"));
	printf("SIGIO after a delete: %s\n", gotSigio());
	printf("F_NOTIFY 0 (off): %s\n", res(fcntl(d, F_NOTIFY, 0)));
	int o = open(base, O_RDONLY | O_DIRECTORY);
	printf("F_NOTIFY DN_ATTRIB one shot: %s\n", res(fcntl(o, F_NOTIFY, DN_ATTRIB)));
	chmod(in("b"), 0600);
	printf("SIGIO after a chmod: %s\n", gotSigio());
	printf("F_NOTIFY DN_RENAME again: %s\n", res(fcntl(o, F_NOTIFY, DN_RENAME)));
	rename(in("b"), in("c"));
	printf("SIGIO after a rename: %s\n", gotSigio());
	int f = open(in("c"), O_RDONLY);
	printf("F_NOTIFY on a file: %s\n", res(fcntl(f, F_NOTIFY, DN_MODIFY)));
	printf("F_NOTIFY bad fd: %s\n", res(fcntl(99, F_NOTIFY, DN_MODIFY)));
	close(f);
	close(o);
	close(d);
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	snprintf(base, sizeof base, "%s", argv[2]);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[1], "events"))
		events();
	else if (!strcmp(argv[1], "flags"))
		flags();
	else if (!strcmp(argv[1], "openunlink"))
		openunlink();
	else if (!strcmp(argv[1], "overflow"))
		overflow();
	else if (!strcmp(argv[1], "dnotify"))
		dnotify();
	else
		return 2;
	return 0;
}

// guest_util.h: what the guest test programs share: paths in the directory
// they work in, results printed as errno names, and running as the guest's
// unprivileged user when the native run is root. Every helper is marked
// unused so that a program can take only the ones it needs without -Wall
// warnings.
#ifndef GUEST_UTIL_H
#define GUEST_UTIL_H

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUEST_UTIL_UNUSED __attribute__((unused))

// base is the directory the program works in (its argument).
static char base[PATH_MAX] GUEST_UTIL_UNUSED;

// in returns base/name, in one of four rotating buffers.
GUEST_UTIL_UNUSED static char *in(const char *name) {
	static char buf[4][2 * PATH_MAX];
	static int which;
	which = (which + 1) % 4;
	snprintf(buf[which], sizeof buf[which], "%s/%s", base, name);
	return buf[which];
}

// res shows a syscall's result: the errno's name when negative, else the
// value.
GUEST_UTIL_UNUSED static const char *res(long r) {
	static char buf[4][64];
	static int which;
	which = (which + 1) % 4;
	if (r < 0)
		return strerrorname_np(errno);
	snprintf(buf[which], sizeof buf[which], "%ld", r);
	return buf[which];
}

// outcome shows a syscall's result when its value may differ between runs
// (a descriptor, a size): "ok", or the errno's name when negative.
GUEST_UTIL_UNUSED static const char *outcome(long r) {
	if (r >= 0)
		return "ok";
	const char *name = strerrorname_np(errno);
	return name ? name : "unknown errno";
}

// drop_root makes a program run as root (natively, in CI) the guest's
// unprivileged user, uid and gid 1000 without supplementary groups, so that
// both runs answer as the same user. It does nothing for other users.
GUEST_UTIL_UNUSED static void drop_root(void) {
	if (geteuid() != 0)
		return;
	if (setgroups(0, NULL) != 0 || setgid(1000) != 0 || setuid(1000) != 0) {
		perror("dropping root");
		exit(1);
	}
}

#endif

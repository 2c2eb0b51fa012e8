// guest_util.h: what the guest test programs that take a directory share:
// paths in it and results printed as errno names.
#ifndef GUEST_UTIL_H
#define GUEST_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

// base is the directory the program works in (its argument).
static char base[PATH_MAX];

// in returns base/name, in one of four rotating buffers.
__attribute__((unused)) static char *in(const char *name) {
	static char buf[4][2 * PATH_MAX];
	static int which;
	which = (which + 1) % 4;
	snprintf(buf[which], sizeof buf[which], "%s/%s", base, name);
	return buf[which];
}

// res shows a syscall's result: the errno's name when negative.
static const char *res(long r) {
	static char buf[4][64];
	static int which;
	which = (which + 1) % 4;
	if (r < 0)
		return strerrorname_np(errno);
	snprintf(buf[which], sizeof buf[which], "%ld", r);
	return buf[which];
}

#endif

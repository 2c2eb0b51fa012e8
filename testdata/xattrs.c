// xattrs DIR: extended attributes on files of DIR (and /proc, /dev/null,
// pipes) as an unprivileged user: namespaces, flags, sizes, permissions
// and errors, printed so that the output is the same natively and in the
// sandbox.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "guest_util.h"

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	snprintf(base, sizeof base, "%s", argv[1]);
	setvbuf(stdout, NULL, _IONBF, 0);
	char buf[70000];
	close(open(in("f"), O_CREAT | O_WRONLY, 0644));
	mkdir(in("d"), 0755);
	symlink("f", in("l"));
	mkfifo(in("p"), 0644);
	char f[2 * PATH_MAX];
	snprintf(f, sizeof f, "%s", in("f"));

	printf("get unset: %s\n", res(getxattr(f, "user.a", buf, sizeof buf)));
	printf("list empty: %s\n", res(listxattr(f, buf, sizeof buf)));
	printf("set user.a: %s\n", res(setxattr(f, "user.a", "hello", 5, 0)));
	printf("set CREATE existing: %s\n", res(setxattr(f, "user.a", "x", 1, XATTR_CREATE)));
	printf("set REPLACE missing: %s\n", res(setxattr(f, "user.b", "x", 1, XATTR_REPLACE)));
	printf("set REPLACE existing: %s\n", res(setxattr(f, "user.a", "world!", 6, XATTR_REPLACE)));
	printf("get size 0: %s\n", res(getxattr(f, "user.a", NULL, 0)));
	printf("get size 2: %s\n", res(getxattr(f, "user.a", buf, 2)));
	long n = getxattr(f, "user.a", buf, sizeof buf);
	printf("get: %s \"%.*s\"\n", res(n), n > 0 ? (int)n : 0, buf);
	printf("set empty value: %s\n", res(setxattr(f, "user.empty", "", 0, XATTR_CREATE)));
	printf("get empty value: %s\n", res(getxattr(f, "user.empty", buf, sizeof buf)));
	printf("list size 0: %s\n", res(listxattr(f, NULL, 0)));
	printf("list size 3: %s\n", res(listxattr(f, buf, 3)));
	n = listxattr(f, buf, sizeof buf);
	printf("list: %s", res(n));
	for (char *p = buf; n > 0 && p < buf + n; p += strlen(p) + 1)
		printf(" %s", p);
	printf("\n");
	printf("set on a dir: %s\n", res(setxattr(in("d"), "user.x", "1", 1, 0)));
	printf("get through the symlink: %s\n", res(getxattr(in("l"), "user.a", buf, sizeof buf)));
	printf("lset on the symlink: %s\n", res(lsetxattr(in("l"), "user.x", "1", 1, 0)));
	printf("lget on the symlink: %s\n", res(lgetxattr(in("l"), "user.a", buf, sizeof buf)));
	printf("llist on the symlink: %s\n", res(llistxattr(in("l"), buf, sizeof buf)));
	printf("set on a FIFO: %s\n", res(setxattr(in("p"), "user.x", "1", 1, 0)));
	printf("get on a FIFO: %s\n", res(getxattr(in("p"), "user.x", buf, sizeof buf)));
	printf("set trusted.x: %s\n", res(setxattr(f, "trusted.x", "1", 1, 0)));
	printf("get trusted.x: %s\n", res(getxattr(f, "trusted.x", buf, sizeof buf)));
	printf("set security.x: %s\n", res(setxattr(f, "security.x", "1", 1, 0)));
	printf("get security.x: %s\n", res(getxattr(f, "security.x", buf, sizeof buf)));
	printf("remove security.x: %s\n", res(removexattr(f, "security.x")));
	printf("set foo.bar: %s\n", res(setxattr(f, "foo.bar", "1", 1, 0)));
	printf("get foo.bar: %s\n", res(getxattr(f, "foo.bar", buf, sizeof buf)));
	printf("set \"user.\": %s\n", res(setxattr(f, "user.", "1", 1, 0)));
	printf("set \"\": %s\n", res(setxattr(f, "", "1", 1, 0)));
	char longname[300];
	memset(longname, 'n', sizeof longname);
	memcpy(longname, "user.", 5);
	longname[256] = 0;
	printf("set a 256-byte name: %s\n", res(setxattr(f, longname, "1", 1, 0)));
	longname[255] = 0;
	printf("set a 255-byte name: %s\n", res(setxattr(f, longname, "1", 1, 0)));
	longname[255] = 'n';
	printf("get a 256-byte name: %s\n", res(getxattr(f, longname, buf, sizeof buf)));
	memset(buf, 'v', sizeof buf);
	printf("set 65537 bytes: %s\n", res(setxattr(f, "user.big", buf, 65537, 0)));
	printf("set bad flags: %s\n", res(setxattr(f, "user.a", "1", 1, 4)));
	printf("set missing file: %s\n", res(setxattr(in("missing"), "user.a", "1", 1, 0)));
	printf("set missing file, bad flags: %s\n", res(setxattr(in("missing"), "user.a", "1", 1, 4)));
	printf("remove user.a: %s\n", res(removexattr(f, "user.a")));
	printf("remove it again: %s\n", res(removexattr(f, "user.a")));
	printf("remove through the symlink, l: %s\n", res(lremovexattr(in("l"), "user.empty")));
	int ro = open(f, O_RDONLY);
	printf("fset on an O_RDONLY fd: %s\n", res(fsetxattr(ro, "user.fd", "1", 1, 0)));
	printf("fget: %s\n", res(fgetxattr(ro, "user.fd", buf, sizeof buf)));
	printf("flist: %s\n", res(flistxattr(ro, NULL, 0)));
	printf("fremove: %s\n", res(fremovexattr(ro, "user.fd")));
	int op = open(f, O_PATH);
	printf("fget on O_PATH: %s\n", res(fgetxattr(op, "user.empty", buf, sizeof buf)));
	printf("fset on a bad fd: %s\n", res(fsetxattr(99, "user.x", "1", 1, 0)));
	int pp[2];
	pipe(pp);
	printf("fset on a pipe: %s\n", res(fsetxattr(pp[1], "user.x", "1", 1, 0)));
	printf("fget on a pipe: %s\n", res(fgetxattr(pp[0], "user.x", buf, sizeof buf)));
	printf("flist on a pipe: %s\n", res(flistxattr(pp[0], buf, sizeof buf)));
	chmod(f, 0400);
	printf("set without write permission: %s\n", res(setxattr(f, "user.x", "1", 1, 0)));
	chmod(f, 0);
	printf("get without read permission: %s\n", res(getxattr(f, "user.empty", buf, sizeof buf)));
	printf("list without permission: %s\n", res(listxattr(f, NULL, 0)));
	chmod(f, 0644);
	printf("/dev/null set: %s\n", res(setxattr("/dev/null", "user.x", "1", 1, 0)));
	printf("/dev/null get: %s\n", res(getxattr("/dev/null", "user.x", buf, sizeof buf)));
	printf("/proc/self/status get: %s\n", res(getxattr("/proc/self/status", "user.x", buf, sizeof buf)));
	printf("/proc/self/status list: %s\n", res(listxattr("/proc/self/status", buf, sizeof buf)));
	int fails = 0;
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof name, "user.many%d", i);
		fails += setxattr(in("d"), name, "x", 1, 0) < 0;
	}
	printf("100 more on the dir: %d failed, list %s\n", fails, res(listxattr(in("d"), NULL, 0)));
	return 0;
}

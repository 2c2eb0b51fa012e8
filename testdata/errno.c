// errno [RODIR]: provokes well-known failures and prints "<case>: <ERRNO>"
// for each (or "<case>: no error" if the call unexpectedly succeeded).
//
// With RODIR, it additionally tries open(RODIR/newfile, O_WRONLY|O_CREAT) and
// prints "create in rodir: ...". Natively (as root) that usually succeeds, so
// the tests only check this case in the sandbox, where RODIR is a read-only
// mount and the exact expectation is EROFS (like a read-only Linux mount, not
// EACCES: permission bits are not the reason the write fails).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long ret) {
	if (ret < 0)
		printf("%s: %s\n", name, strerrorname_np(errno));
	else
		printf("%s: no error\n", name);
	fflush(stdout);
}

int main(int argc, char **argv) {
	// Hide bad pointers from the compiler so it does not warn or fold them.
	void *volatile bad = (void *)1;
	char path[4096];
	struct stat st;

	report("open missing file", open("/nonexistent-litebox-test/file", O_RDONLY));
	report("close bad fd", close(12345));
	char buf[16];
	report("read bad fd", read(12345, buf, sizeof buf));

	// stdout is flushed by report, so nothing is pending when fd 1 is used raw.
	report("write from bad pointer", write(1, bad, 10));

	int fd = open("/dev/zero", O_RDONLY);
	if (fd < 0) {
		report("open /dev/zero", fd);
	} else {
		report("read into bad pointer", read(fd, bad, 10));
		close(fd);
	}

	report("stat bad path pointer", stat((const char *)bad, &st));
	report("stat empty path", stat("", &st));
	report("open dir for writing", open("/", O_WRONLY));
	report("unknown syscall 100000", syscall(100000));

	if (argc > 1) {
		snprintf(path, sizeof path, "%s/litebox-errno-newfile", argv[1]);
		report("create in rodir", open(path, O_WRONLY | O_CREAT, 0644));
	}
	return 0;
}

// audit_flood: provokes audit events as fast as it can, for the audit-log
// bounds tests (and the soak test).
//
//   audit_flood socket N    N calls of socket(AF_PACKET, SOCK_RAW): each is
//                           refused in the sandbox (an identical "denied"
//                           event every time); prints how many failed with
//                           which errno ("socket: EACCES x N")
//   audit_flood distinct N  N different unknown syscall numbers (1000..):
//                           each is a distinct unsupported_syscall event;
//                           prints "enosys x N" when every one gave ENOSYS
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	if (strcmp(argv[1], "socket") == 0) {
		long failed = 0;
		int first = 0, mixed = 0;
		for (long i = 0; i < n; i++) {
			int fd = socket(AF_PACKET, SOCK_RAW, 0);
			if (fd >= 0) {
				close(fd);
				continue;
			}
			if (failed++ == 0)
				first = errno;
			else if (errno != first)
				mixed = 1;
		}
		const char *name = first ? strerrorname_np(first) : "none";
		printf("socket: %s x %ld%s\n", name ? name : "?", failed, mixed ? " (mixed errnos)" : "");
		return 0;
	}
	if (strcmp(argv[1], "distinct") == 0) {
		long enosys = 0;
		for (long i = 0; i < n; i++) {
			errno = 0;
			if (syscall(1000 + i) == -1 && errno == ENOSYS)
				enosys++;
		}
		printf("enosys x %ld\n", enosys);
		return 0;
	}
	return 2;
}

// escape_net PORT [UNIXPATH [ABSTRACT]]: tries to reach listeners the test
// opened on the host: TCP 127.0.0.1:PORT (over AF_INET, and over AF_INET6 as
// ::1 and ::ffff:127.0.0.1), and optionally a unix socket at the guest path
// UNIXPATH (a host socket file in a mounted directory) and the abstract
// unix socket name ABSTRACT; then addresses outside the loopback (a public
// address, the user-mode gateway 10.0.2.2, a public IPv6 address) over TCP
// and UDP. Every step prints "<what>: <ERRNO>" or "<what>: ok". Finally an
// AF_UNIX socketpair carries a message both ways.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

static int report(const char *what, int rc) {
	if (rc < 0)
		printf("%s: %s\n", what, ename(errno));
	else
		printf("%s: ok\n", what);
	return rc;
}

static void tcp4(int port) {
	errno = 0;
	int fd = report("socket(AF_INET, SOCK_STREAM)", socket(AF_INET, SOCK_STREAM, 0));
	if (fd < 0)
		return;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	errno = 0;
	report("connect(127.0.0.1:PORT)", connect(fd, (struct sockaddr *)&sa, sizeof sa));
	close(fd);
}

static void tcp6(int port, const char *addr, const char *what) {
	errno = 0;
	int fd = report(what, socket(AF_INET6, SOCK_STREAM, 0));
	if (fd < 0)
		return;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	errno = 0;
	report("connect(AF_INET6)", connect(fd, (struct sockaddr *)&sa, sizeof sa));
	close(fd);
}

// outside tries addr:port over TCP (connect) and UDP (sendto).
static void outside(int family, const char *addr, int port) {
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		inet_pton(AF_INET, addr, &sa->sin_addr);
		len = sizeof *sa;
	} else {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &sa->sin6_addr);
		len = sizeof *sa;
	}
	char what[96];
	int fd = socket(family, SOCK_STREAM, 0);
	snprintf(what, sizeof what, "connect(%s)", addr);
	if (fd >= 0) {
		errno = 0;
		report(what, connect(fd, (struct sockaddr *)&ss, len));
		close(fd);
	}
	fd = socket(family, SOCK_DGRAM, 0);
	snprintf(what, sizeof what, "sendto(%s) udp", addr);
	if (fd >= 0) {
		errno = 0;
		report(what, sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len));
		close(fd);
	}
}

static void unix_connect(const char *what, const char *path, int abstract) {
	errno = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		printf("%s: socket: %s\n", what, ename(errno));
		return;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n > sizeof sa.sun_path - 2)
		n = sizeof sa.sun_path - 2;
	socklen_t len;
	if (abstract) {
		memcpy(sa.sun_path + 1, path, n); // sun_path[0] == 0
		len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	} else {
		memcpy(sa.sun_path, path, n);
		len = sizeof sa;
	}
	errno = 0;
	report(what, connect(fd, (struct sockaddr *)&sa, len));
	close(fd);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: escape_net PORT [UNIXPATH [ABSTRACT]]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	tcp4(port);
	errno = 0;
	report("socket(AF_INET, SOCK_DGRAM)", socket(AF_INET, SOCK_DGRAM, 0));
	tcp6(port, "::1", "socket(AF_INET6, SOCK_STREAM) ::1");
	tcp6(port, "::ffff:127.0.0.1", "socket(AF_INET6, SOCK_STREAM) ::ffff:127.0.0.1");
	errno = 0;
	report("socket(AF_INET6, SOCK_DGRAM)", socket(AF_INET6, SOCK_DGRAM, 0));
	errno = 0;
	report("socket(AF_NETLINK, SOCK_RAW)", socket(AF_NETLINK, SOCK_RAW, 0));
	errno = 0;
	report("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW, 0));
	errno = 0;
	report("socketpair(AF_INET, SOCK_STREAM)", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
	outside(AF_INET, "1.1.1.1", 80);
	outside(AF_INET, "10.0.2.2", port);
	outside(AF_INET6, "2606:4700:4700::1111", 80);
	if (argc > 2)
		unix_connect("connect(unix socket file)", argv[2], 0);
	if (argc > 3)
		unix_connect("connect(abstract unix socket)", argv[3], 1);

	int sv[2];
	errno = 0;
	if (report("socketpair(AF_UNIX, SOCK_STREAM)", socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) == 0) {
		char buf[64] = {0};
		ssize_t w = send(sv[0], "ping", 4, 0);
		ssize_t r = recv(sv[1], buf, sizeof buf - 1, 0);
		printf("send %zd, recv %zd: %s\n", w, r, r > 0 ? buf : ename(errno));
		memset(buf, 0, sizeof buf);
		w = send(sv[1], "pong", 4, 0);
		r = recv(sv[0], buf, sizeof buf - 1, 0);
		printf("send %zd, recv %zd: %s\n", w, r, r > 0 ? buf : ename(errno));
	}
	return 0;
}

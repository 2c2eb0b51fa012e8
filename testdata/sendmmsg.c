// sendmmsg.c: sendmmsg(2) batches over UDP on the loopback and an AF_UNIX
// datagram pair: counts, each message's msg_len, what arrives, and the
// errors (an error on the first message is the call's; after one went
// out the call returns the count).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *res(long r) {
	static char buf[64];
	if (r < 0)
		return strerrorname_np(errno);
	snprintf(buf, sizeof buf, "%ld", r);
	return buf;
}

static const char *words[] = {"one", "two!", "three"};

static void batch(int fd, const char *what) {
	struct iovec iov[3];
	struct mmsghdr m[3];
	memset(m, 0, sizeof m);
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = (void *)words[i];
		iov[i].iov_len = strlen(words[i]);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_len = 99;
	}
	int r = sendmmsg(fd, m, 3, 0);
	printf("%s: sendmmsg %s, lens %u %u %u\n", what, res(r), m[0].msg_len, m[1].msg_len, m[2].msg_len);
}

static void drain(int fd, const char *what) {
	char buf[64];
	for (int i = 0; i < 3; i++) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		printf("%s: recv %s", what, res(n));
		if (n > 0)
			printf(" %.*s", (int)n, buf);
		printf("\n");
	}
}

int main(void) {
	int s = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (s < 0 || c < 0 || bind(s, (void *)&a, sizeof a) || getsockname(s, (void *)&a, &al) ||
	    connect(c, (void *)&a, sizeof a)) {
		perror("udp setup");
		return 1;
	}
	batch(c, "udp");
	usleep(100000);
	drain(s, "udp");

	int p[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, p)) {
		perror("socketpair");
		return 1;
	}
	batch(p[0], "unix");
	drain(p[1], "unix");

	printf("vlen 0: %s\n", res(sendmmsg(c, (struct mmsghdr *)8, 0, 0)));
	printf("bad vector: %s\n", res(sendmmsg(c, NULL, 2, 0)));
	struct iovec iov = {.iov_base = "ok", .iov_len = 2};
	struct mmsghdr m[2];
	memset(m, 0, sizeof m);
	m[0].msg_hdr.msg_iov = &iov;
	m[0].msg_hdr.msg_iovlen = 1;
	m[1].msg_hdr.msg_iov = (struct iovec *)8; // unreadable
	m[1].msg_hdr.msg_iovlen = 1;
	int r = sendmmsg(c, m, 2, 0);
	printf("second bad: %s, len %u\n", res(r), m[0].msg_len);
	m[0].msg_hdr.msg_iov = (struct iovec *)8;
	printf("first bad: %s\n", res(sendmmsg(c, m, 2, 0)));
	printf("bad fd: %s\n", res(sendmmsg(99, m, 1, 0)));
	printf("not a socket: %s\n", res(sendmmsg(1, m, 1, 0)));
	usleep(100000);
	char buf[8];
	printf("after the errors: %s\n", res(recv(s, buf, sizeof buf, MSG_DONTWAIT)));
	return 0;
}

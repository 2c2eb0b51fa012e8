// bench_connect N: N TCP connection set-ups and tear-downs on the loopback
// interface, one after the other in one thread: socket, connect to a
// listener on 127.0.0.1 (an ephemeral port), accept, then close both ends
// (the client first, so the TIME_WAIT state stays on the client's side).
// Used by bench/ to measure the connection set-up rate of a sandbox's
// TCP/IP stack; the listener is created even for N = 0, so that the
// difference of two runs is the cost of N connections.
//
// Exit codes: 0 done; 1 an unexpected error; 3 the system has no AF_INET
// stream sockets, or forbids them, or has no loopback interface (an
// error of EAFNOSUPPORT, EPROTONOSUPPORT, ENOSYS, EOPNOTSUPP, EACCES, EPERM
// or EADDRNOTAVAIL), which bench/ reports as "unavailable", not as a
// failure.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int unsupported(int err) {
	return err == EAFNOSUPPORT || err == EPROTONOSUPPORT || err == ENOSYS || err == EOPNOTSUPP ||
	       err == EACCES || err == EPERM || err == EADDRNOTAVAIL;
}

static void fail(const char *what) {
	int err = errno;
	fprintf(stderr, "bench_connect: %s: %s\n", what, strerror(err));
	exit(unsupported(err) ? 3 : 1);
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: bench_connect N\n");
		return 1;
	}
	char *end;
	long n = strtol(argv[1], &end, 10);
	if (*end != '\0' || n < 0) {
		fprintf(stderr, "bench_connect: bad count %s\n", argv[1]);
		return 1;
	}

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		fail("socket");
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0)
		fail("bind 127.0.0.1:0");
	if (listen(lfd, 16) < 0)
		fail("listen");
	socklen_t len = sizeof addr;
	if (getsockname(lfd, (struct sockaddr *)&addr, &len) < 0)
		fail("getsockname");

	for (long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0)
			fail("socket");
		// The listener's backlog completes the handshake, so a blocking
		// connect returns before the accept.
		if (connect(c, (struct sockaddr *)&addr, sizeof addr) < 0)
			fail("connect");
		int s = accept(lfd, NULL, NULL);
		if (s < 0)
			fail("accept");
		if (close(c) < 0 || close(s) < 0)
			fail("close");
	}
	if (close(lfd) < 0)
		fail("close");
	printf("%ld\n", n);
	return 0;
}

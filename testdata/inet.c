// inet MODE: AF_INET and AF_INET6 sockets on the loopback (issue 12),
// printed so that the output is the same natively and in the sandbox:
// ports are ephemeral (port 0) and shown only as relations, so parallel
// native runs never meet.
//
//	tcp       a TCP echo server and client in two processes (fork), over
//	          127.0.0.1 and ::1: names, peek, MSG_WAITALL, shutdown, EOF
//	udp       UDP datagrams: boundaries, MSG_TRUNC, recvfrom addresses,
//	          connect, FIONREAD
//	nonblock  non-blocking connect (EINPROGRESS, poll, epoll, SO_ERROR),
//	          EAGAIN, accept4 flags, a refused non-blocking connect
//	errors    ECONNREFUSED, EADDRINUSE, EAFNOSUPPORT, EINVAL, ENOTCONN,
//	          EPIPE with SIGPIPE and MSG_NOSIGNAL, ECONNRESET, listen
//	v6only    IPV6_V6ONLY and dual-stack (v4-mapped peers)
//	opts      socket options and their errnos
//	states    poll events of TCP sockets through their life (fresh, bound,
//	          listening, shut down, closed, reset), SO_REUSEADDR and TIME_WAIT
//	signals   blocking calls interrupted by a signal: EINTR, SA_RESTART,
//	          SO_RCVTIMEO's EINTR, a partial send
//	mmsg      sendmmsg and recvmmsg on UDP (MSG_WAITFORONE, truncation)
//	limits    RLIMIT_NOFILE bounds the sockets (EMFILE)
//	budget    sockets until the sandbox's memory runs out (ENOBUFS; only
//	          under litebox --memory), then one more once they are closed
//	raw       SOCK_RAW and ping sockets as an unprivileged user
//	udplite   UDP-Lite (IPPROTO_UDPLITE) on 127.0.0.1 and ::1: datagrams,
//	          its own port namespace, UDPLITE_SEND_CSCOV/RECV_CSCOV values
//	          and errnos, a receiver dropping datagrams covered too little
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <unistd.h>

static const char *en(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static long rep(const char *what, long r) {
	printf("%s: %s\n", what, en(r));
	fflush(stdout);
	return r;
}

static long repn(const char *what, long r) {
	if (r < 0)
		printf("%s: %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
	return r;
}

static struct sockaddr_in lo4(int port) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static struct sockaddr_in6 lo6(int port) {
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	return a;
}

static int port_of(int fd) {
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void show_name(const char *what, int fd, int peer) {
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (r < 0) {
		printf("%s: %s\n", what, strerrorname_np(errno));
		return;
	}
	char buf[64];
	int port;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, sizeof buf);
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, sizeof buf);
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	printf("%s: len %u family %d addr %s port %s\n", what, len, ss.ss_family, buf, port ? "set" : "0");
}

static int listener(int family, int *port) {
	int s = socket(family, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int r;
	if (family == AF_INET) {
		struct sockaddr_in a = lo4(0);
		r = bind(s, (struct sockaddr *)&a, sizeof a);
	} else {
		struct sockaddr_in6 a = lo6(0);
		r = bind(s, (struct sockaddr *)&a, sizeof a);
	}
	if (r < 0 || listen(s, 8) < 0) {
		printf("listener: %s\n", strerrorname_np(errno));
		exit(1);
	}
	*port = port_of(s);
	return s;
}

static int connect_to(int family, int port) {
	int c = socket(family, SOCK_STREAM, 0);
	int r;
	if (family == AF_INET) {
		struct sockaddr_in a = lo4(port);
		r = connect(c, (struct sockaddr *)&a, sizeof a);
	} else {
		struct sockaddr_in6 a = lo6(port);
		r = connect(c, (struct sockaddr *)&a, sizeof a);
	}
	if (r < 0) {
		printf("connect: %s\n", strerrorname_np(errno));
		return -1;
	}
	return c;
}

// echo serves one connection: reads until EOF and writes it all back.
// echo sends back what it reads: reads of 64 KiB, written back with
// writev in two pieces (litebox moves large reads and writes to Internet
// sockets through pooled buffers; the echoed bytes must stay the same).
static void echo(int s) {
	static char buf[64 << 10];
	ssize_t n;
	while ((n = read(s, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t half = (n - off) / 2;
			struct iovec iov[2] = {{buf + off, half}, {buf + off + half, n - off - half}};
			ssize_t w = writev(s, iov, 2);
			if (w < 0)
				return;
			off += w;
		}
	}
}

static void tcp_family(int family, const char *tag) {
	int port;
	int l = listener(family, &port);
	printf("[%s]\n", tag);
	show_name("listener name", l, 0);
	show_name("listener peer", l, 1);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int s = accept(l, NULL, NULL);
		close(l);
		echo(s);
		close(s);
		_exit(0);
	}
	int c = connect_to(family, port);
	show_name("client name", c, 0);
	show_name("client peer", c, 1);
	printf("client peer port is the listener's: %d\n", port_of(c) != port);
	// A large transfer: 1 MiB out and back, with a writer process so that
	// neither side's buffers fill up.
	enum { N = 1 << 20 };
	static char big[N], back[N];
	for (int i = 0; i < N; i++)
		big[i] = (char)(i * 7 + 3);
	pid_t w = fork();
	if (w == 0) {
		// sendmsg with the rest in two iovecs (a large send gathers them).
		for (size_t off = 0; off < N;) {
			size_t half = (N - off) / 2;
			struct iovec iov[2] = {{big + off, half}, {big + off + half, N - off - half}};
			struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
			ssize_t n = sendmsg(c, &mh, 0);
			if (n < 0)
				_exit(1);
			off += n;
		}
		shutdown(c, SHUT_WR);
		_exit(0);
	}
	size_t got = 0;
	ssize_t n;
	while (got < N && (n = recv(c, back + got, N - got, 0)) > 0)
		got += n;
	int st;
	waitpid(w, &st, 0);
	printf("echoed %zu bytes, same %d\n", got, got == N && memcmp(big, back, N) == 0);
	n = recv(c, back, 10, 0);
	printf("recv after the echo's EOF: %zd\n", n);
	close(c);
	waitpid(pid, &st, 0);
	printf("server exit %d\n", WEXITSTATUS(st));

	// Peek, MSG_WAITALL and shutdown in one process.
	c = connect_to(family, port);
	int s = accept(l, NULL, NULL);
	repn("send", send(c, "hello", 5, 0));
	repn("send", send(c, "world", 5, 0));
	char buf[32] = {0};
	usleep(50000);
	repn("FIONREAD", ({ int v = -1; ioctl(s, FIONREAD, &v) < 0 ? -1 : v; }));
	n = recv(s, buf, 3, MSG_PEEK);
	printf("peek: %zd %.3s\n", n, buf);
	n = recv(s, buf, 10, MSG_WAITALL);
	printf("recv waitall: %zd %.10s\n", n, buf);
	repn("recv dontwait", recv(s, buf, sizeof buf, MSG_DONTWAIT));
	pid = fork();
	if (pid == 0) {
		usleep(100000);
		send(c, "abc", 3, 0);
		usleep(100000);
		send(c, "def", 3, 0);
		_exit(0);
	}
	n = recv(s, buf, 6, MSG_WAITALL);
	printf("recv waitall across sends: %zd %.6s\n", n, buf);
	waitpid(pid, &st, 0);
	rep("shutdown bad", shutdown(c, 7));
	rep("shutdown wr", shutdown(c, SHUT_WR));
	repn("recv after peer shut wr", recv(s, buf, sizeof buf, 0));
	signal(SIGPIPE, SIG_IGN);
	repn("send after shut wr", send(c, "x", 1, 0));
	repn("peer still sends", send(s, "back", 4, 0));
	repn("recv on the half-closed side", recv(c, buf, sizeof buf, 0));
	close(s);
	close(c);
	close(l);
}

static void mode_tcp(void) {
	tcp_family(AF_INET, "ipv4");
	tcp_family(AF_INET6, "ipv6");
}

static void mode_udp(void) {
	int a = socket(AF_INET, SOCK_DGRAM, 0);
	int b = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = lo4(0);
	rep("bind a", bind(a, (struct sockaddr *)&sa, sizeof sa));
	show_name("unbound b name", b, 0);
	show_name("a peer", a, 1);
	struct sockaddr_in to = lo4(port_of(a));
	repn("sendto", sendto(b, "one", 3, 0, (struct sockaddr *)&to, sizeof to));
	repn("sendto", sendto(b, "second", 6, 0, (struct sockaddr *)&to, sizeof to));
	repn("sendto empty", sendto(b, "", 0, 0, (struct sockaddr *)&to, sizeof to));
	show_name("b name after sendto", b, 0);
	usleep(50000);
	repn("FIONREAD", ({ int v = -1; ioctl(a, FIONREAD, &v) < 0 ? -1 : v; }));
	char buf[32] = {0};
	struct sockaddr_in from;
	socklen_t flen = sizeof from;
	ssize_t n = recvfrom(a, buf, sizeof buf, MSG_PEEK, (struct sockaddr *)&from, &flen);
	printf("peek: %zd %.3s from len %u same port %d\n", n, buf, flen, ntohs(from.sin_port) == port_of(b));
	n = recv(a, buf, sizeof buf, 0);
	printf("recv: %zd %.3s\n", n, buf);
	struct iovec iov = {buf, 2};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	n = recvmsg(a, &mh, 0);
	printf("recvmsg short: %zd %.2s trunc %d\n", n, buf, !!(mh.msg_flags & MSG_TRUNC));
	n = recv(a, buf, sizeof buf, MSG_TRUNC);
	printf("recv empty datagram: %zd\n", n);
	repn("recv nothing", recv(a, buf, sizeof buf, MSG_DONTWAIT));
	sendto(b, "truncate", 8, 0, (struct sockaddr *)&to, sizeof to);
	usleep(50000);
	repn("recv MSG_TRUNC", recv(a, buf, 2, MSG_TRUNC));
	struct sockaddr_in unspec_to = to;
	unspec_to.sin_family = AF_UNSPEC;
	repn("sendto AF_UNSPEC addr", sendto(b, "u", 1, 0, (struct sockaddr *)&unspec_to, sizeof unspec_to));
	usleep(50000);
	repn("recv it", recv(a, buf, sizeof buf, MSG_DONTWAIT));
	repn("send unconnected", send(b, "x", 1, 0));
	struct sockaddr_in bto = lo4(port_of(b));
	rep("connect a->b", connect(a, (struct sockaddr *)&bto, sizeof bto));
	show_name("connected a peer", a, 1);
	repn("send connected", send(a, "hi", 2, 0));
	usleep(50000);
	n = recv(b, buf, sizeof buf, 0);
	printf("b got: %zd %.2s\n", n, buf);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	rep("connect AF_UNSPEC", connect(a, &unspec, sizeof unspec));
	show_name("disconnected a peer", a, 1);
	repn("sendto short addr", sendto(b, "x", 1, 0, (struct sockaddr *)&to, 8));
	struct sockaddr_in6 six = lo6(1);
	repn("sendto v6 addr on v4", sendto(b, "x", 1, 0, (struct sockaddr *)&six, sizeof six));
	rep("listen udp", listen(a, 1));
	rep("accept udp", accept(a, NULL, NULL));
	// Refused: a connected UDP socket to a port nobody binds gets
	// ECONNREFUSED from the ICMP port unreachable.
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in gone = lo4(port_of(b));
	close(b);
	connect(c, (struct sockaddr *)&gone, sizeof gone);
	send(c, "x", 1, 0);
	usleep(100000);
	repn("recv after port unreachable", recv(c, buf, sizeof buf, MSG_DONTWAIT));
	// IPv6
	int x = socket(AF_INET6, SOCK_DGRAM, 0), y = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 s6 = lo6(0);
	rep("bind v6", bind(x, (struct sockaddr *)&s6, sizeof s6));
	struct sockaddr_in6 t6 = lo6(port_of(x));
	repn("sendto v6", sendto(y, "six", 3, 0, (struct sockaddr *)&t6, sizeof t6));
	struct sockaddr_in6 f6;
	flen = sizeof f6;
	n = recvfrom(x, buf, sizeof buf, 0, (struct sockaddr *)&f6, &flen);
	char ab[64];
	inet_ntop(AF_INET6, &f6.sin6_addr, ab, sizeof ab);
	printf("recvfrom v6: %zd %.3s from len %u %s\n", n, buf, flen, ab);
}

static const char *evs(int ev) {
	static char b[64];
	b[0] = 0;
	if (ev & POLLIN)
		strcat(b, "IN ");
	if (ev & POLLOUT)
		strcat(b, "OUT ");
	if (ev & POLLERR)
		strcat(b, "ERR ");
	if (ev & POLLHUP)
		strcat(b, "HUP ");
	if (ev & POLLRDHUP)
		strcat(b, "RDHUP ");
	return b;
}

static void mode_nonblock(void) {
	int port;
	int l = listener(AF_INET, &port);
	int lfl = fcntl(l, F_GETFL);
	fcntl(l, F_SETFL, lfl | O_NONBLOCK);
	repn("accept nothing pending", accept(l, NULL, NULL));
	struct pollfd lp = {l, POLLIN, 0};
	printf("poll idle listener: %d\n", poll(&lp, 1, 0));
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = lo4(port);
	int r = connect(c, (struct sockaddr *)&a, sizeof a);
	printf("nonblocking connect: %s\n", r < 0 ? strerrorname_np(errno) : "ok (immediately)");
	struct pollfd p = {c, POLLOUT, 0};
	int pr = poll(&p, 1, 5000);
	printf("poll connect: %d %s\n", pr, evs(p.revents));
	int err = -1;
	socklen_t elen = sizeof err;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen);
	printf("SO_ERROR: %d\n", err);
	rep("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
	rep("connect once more", connect(c, (struct sockaddr *)&a, sizeof a));
	lp.revents = 0;
	int lpr = poll(&lp, 1, 5000);
	printf("poll listener: %d %s\n", lpr, evs(lp.revents));
	int s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	printf("accept4: %s nonblock %d cloexec %d\n", en(s), !!(fcntl(s, F_GETFL) & O_NONBLOCK),
	       !!(fcntl(s, F_GETFD) & FD_CLOEXEC));
	rep("accept4 bad flags", accept4(l, NULL, NULL, 0x1234));
	char buf[64];
	repn("recv empty nonblock", recv(s, buf, sizeof buf, 0));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = s};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	struct epoll_event out[2];
	printf("epoll idle: %d\n", epoll_wait(ep, out, 2, 0));
	send(c, "ping", 4, 0);
	int en1 = epoll_wait(ep, out, 2, 5000);
	printf("epoll data: %d %s\n", en1, en1 > 0 ? evs(out[0].events) : "");
	printf("epoll ET again: %d\n", epoll_wait(ep, out, 2, 0));
	repn("recv", recv(s, buf, sizeof buf, 0));
	repn("recv drained", recv(s, buf, sizeof buf, 0));
	p = (struct pollfd){s, POLLIN | POLLOUT | POLLRDHUP, 0};
	poll(&p, 1, 0);
	printf("poll connected: %s\n", evs(p.revents));
	shutdown(c, SHUT_WR);
	usleep(50000);
	poll(&p, 1, 1000);
	printf("poll peer shut wr: %s\n", evs(p.revents));
	close(c);
	// Fill the send buffer without a reader: EAGAIN after some bytes.
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, sizeof a);
	int s2 = accept(l, NULL, NULL);
	while (s2 < 0) {
		poll(&lp, 1, 1000);
		s2 = accept(l, NULL, NULL);
	}
	fcntl(c, F_SETFL, O_NONBLOCK);
	static char junk[65536];
	long total = 0, n;
	while ((n = send(c, junk, sizeof junk, 0)) > 0)
		total += n;
	printf("filled: %s, some %d\n", strerrorname_np(errno), total > 0);
	close(s2);
	close(c);
	close(s);
	// A refused non-blocking connect: POLLERR/HUP and SO_ERROR.
	int d = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in any = lo4(0);
	bind(d, (struct sockaddr *)&any, sizeof any);
	struct sockaddr_in dead = lo4(port_of(d));
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	r = connect(c, (struct sockaddr *)&dead, sizeof dead);
	printf("refused nonblocking connect: %s\n", r < 0 ? strerrorname_np(errno) : "ok");
	p = (struct pollfd){c, POLLOUT, 0};
	poll(&p, 1, 5000);
	printf("poll refused: %s\n", evs(p.revents));
	err = -1;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen);
	printf("SO_ERROR: %s\n", strerrorname_np(err));
	err = -1;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen);
	printf("SO_ERROR again: %d\n", err);
	close(c);
	close(d);
	close(l);
}

static int sigpipes;
static void on_pipe(int sig) { (void)sig, sigpipes++; }

static void mode_errors(void) {
	int d = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in any = lo4(0);
	rep("bind", bind(d, (struct sockaddr *)&any, sizeof any));
	rep("bind again", bind(d, (struct sockaddr *)&any, sizeof any));
	int port = port_of(d);
	struct sockaddr_in dead = lo4(port);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	rep("connect to a bound port without a listener", connect(c, (struct sockaddr *)&dead, sizeof dead));
	close(c);
	int e = socket(AF_INET, SOCK_STREAM, 0);
	rep("bind in use", bind(e, (struct sockaddr *)&dead, sizeof dead));
	close(e);
	e = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in6 six = lo6(0);
	rep("bind AF_INET6 addr on AF_INET", bind(e, (struct sockaddr *)&six, sizeof six));
	rep("bind short", bind(e, (struct sockaddr *)&any, 8));
	struct sockaddr_in unspec = any;
	unspec.sin_family = AF_UNSPEC;
	rep("bind AF_UNSPEC any", bind(e, (struct sockaddr *)&unspec, sizeof unspec));
	close(e);
	e = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in far = lo4(0);
	far.sin_addr.s_addr = inet_addr("192.0.2.1");
	rep("bind a foreign address", bind(e, (struct sockaddr *)&far, sizeof far));
	rep("connect short", connect(e, (struct sockaddr *)&dead, 4));
	struct sockaddr_in bad = dead;
	bad.sin_family = 99;
	rep("connect bad family", connect(e, (struct sockaddr *)&bad, sizeof bad));
	char buf[8];
	rep("recv unconnected", recv(e, buf, sizeof buf, 0));
	signal(SIGPIPE, on_pipe);
	rep("send unconnected", send(e, "x", 1, 0));
	printf("sigpipes %d\n", sigpipes);
	rep("getpeername unconnected", getpeername(e, (struct sockaddr *)&any, &(socklen_t){sizeof any}));
	rep("shutdown unconnected", shutdown(e, SHUT_RDWR));
	rep("accept unlistened", accept(e, NULL, NULL));
	close(e);
	int v6 = socket(AF_INET6, SOCK_STREAM, 0);
	rep("bind v4 addr on AF_INET6", bind(v6, (struct sockaddr *)&any, sizeof any));
	rep("bind short v6", bind(v6, (struct sockaddr *)&six, 20));
	close(v6);
	rep("socket bad type", socket(AF_INET, 9, 0));
	rep("socket stream udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	rep("socket dgram tcp", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
	rep("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
	// EPIPE after the peer closed; ECONNRESET when it closed with unread
	// data.
	rep("listen", listen(d, 4));
	c = socket(AF_INET, SOCK_STREAM, 0);
	rep("connect", connect(c, (struct sockaddr *)&dead, sizeof dead));
	rep("connect again", connect(c, (struct sockaddr *)&dead, sizeof dead));
	int s = accept(d, NULL, NULL);
	close(s);
	usleep(50000);
	repn("recv after peer close", recv(c, buf, sizeof buf, 0));
	send(c, "x", 1, MSG_NOSIGNAL); // the peer answers with a reset
	usleep(50000);
	sigpipes = 0;
	repn("send nosignal after reset", send(c, "x", 1, MSG_NOSIGNAL));
	printf("sigpipes %d\n", sigpipes);
	repn("send after reset", send(c, "x", 1, 0));
	printf("sigpipes %d\n", sigpipes);
	close(c);
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&dead, sizeof dead);
	s = accept(d, NULL, NULL);
	send(c, "unread", 6, 0);
	usleep(50000);
	close(s);
	usleep(50000);
	repn("recv after the peer closed with unread data", recv(c, buf, sizeof buf, 0));
	close(c);
	// SO_LINGER 0: close resets.
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&dead, sizeof dead);
	s = accept(d, NULL, NULL);
	struct linger lg = {1, 0};
	rep("SO_LINGER 0", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	close(s);
	usleep(50000);
	repn("recv after a lingering-0 close", recv(c, buf, sizeof buf, 0));
	close(c);
	close(d);
	rep("listen after close", listen(d, 1));
}

static void mode_v6only(void) {
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	int v = -1;
	socklen_t len = sizeof v;
	getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len);
	printf("IPV6_V6ONLY default: %d\n", v);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	rep("bind ::", bind(s, (struct sockaddr *)&any, sizeof any));
	rep("IPV6_V6ONLY after bind", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	rep("listen", listen(s, 4));
	int port = port_of(s);
	int c = connect_to(AF_INET, port);
	struct sockaddr_in6 peer;
	len = sizeof peer;
	int a = accept(s, (struct sockaddr *)&peer, &len);
	char buf[64];
	inet_ntop(AF_INET6, &peer.sin6_addr, buf, sizeof buf);
	printf("v4 client accepted on [::]: %s len %u family %d %s\n", en(a), len, peer.sin6_family, buf);
	show_name("accepted name", a, 0);
	close(a);
	close(c);
	// An AF_INET6 socket connecting to a v4-mapped address.
	c = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
	rep("connect v4-mapped", connect(c, (struct sockaddr *)&mapped, sizeof mapped));
	show_name("v4-mapped client peer", c, 1);
	show_name("v4-mapped client name", c, 0);
	a = accept(s, NULL, NULL);
	close(a);
	close(c);
	close(s);
	s = socket(AF_INET6, SOCK_STREAM, 0);
	rep("IPV6_V6ONLY", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	v = -1;
	len = sizeof v;
	getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len);
	printf("IPV6_V6ONLY: %d\n", v);
	bind(s, (struct sockaddr *)&any, sizeof any);
	listen(s, 4);
	port = port_of(s);
	struct sockaddr_in a4 = lo4(port);
	c = socket(AF_INET, SOCK_STREAM, 0);
	rep("v4 connect to a v6-only listener", connect(c, (struct sockaddr *)&a4, sizeof a4));
	close(c);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	rep("v6 connect to it", connect(c, (struct sockaddr *)&(struct sockaddr_in6){.sin6_family = AF_INET6,
	                                      .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT},
	                                  sizeof(struct sockaddr_in6)));
	close(c);
	int v6o = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(v6o, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	rep("v6-only connect to v4-mapped", connect(v6o, (struct sockaddr *)&mapped, sizeof mapped));
	close(v6o);
	int four = socket(AF_INET, SOCK_STREAM, 0);
	rep("IPV6_V6ONLY on AF_INET", setsockopt(four, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	close(four);
	close(s);
}

static void opt(int fd, int level, int name, const char *what) {
	int v = -1;
	socklen_t len = sizeof v;
	int r = getsockopt(fd, level, name, &v, &len);
	if (r < 0)
		printf("%s: %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %d len %u\n", what, v, len);
}

static void setopt(int fd, int level, int name, int v, const char *what) {
	printf("set %s %d: %s\n", what, v, en(setsockopt(fd, level, name, &v, sizeof v)));
}

static void mode_opts(void) {
	int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET6, SOCK_DGRAM, 0);
	opt(t, SOL_SOCKET, SO_TYPE, "tcp SO_TYPE");
	opt(t, SOL_SOCKET, SO_DOMAIN, "tcp SO_DOMAIN");
	opt(t, SOL_SOCKET, SO_PROTOCOL, "tcp SO_PROTOCOL");
	opt(u, SOL_SOCKET, SO_TYPE, "udp6 SO_TYPE");
	opt(u, SOL_SOCKET, SO_DOMAIN, "udp6 SO_DOMAIN");
	opt(u, SOL_SOCKET, SO_PROTOCOL, "udp6 SO_PROTOCOL");
	opt(t, SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN");
	opt(t, SOL_SOCKET, SO_ERROR, "SO_ERROR");
	opt(t, SOL_SOCKET, SO_SNDBUF, "tcp SO_SNDBUF");
	opt(t, SOL_SOCKET, SO_RCVBUF, "tcp SO_RCVBUF");
	opt(u, SOL_SOCKET, SO_SNDBUF, "udp SO_SNDBUF");
	opt(u, SOL_SOCKET, SO_RCVBUF, "udp SO_RCVBUF");
	setopt(t, SOL_SOCKET, SO_SNDBUF, 10000, "SO_SNDBUF");
	opt(t, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");
	setopt(t, SOL_SOCKET, SO_RCVBUF, 100, "SO_RCVBUF");
	opt(t, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
	setopt(t, SOL_SOCKET, SO_SNDBUF, 1, "SO_SNDBUF");
	opt(t, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");
	const struct {
		int level, name;
		const char *what;
	} bools[] = {
	    {SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"}, {SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"},
	    {SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"}, {SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"},
	    {SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE"}, {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY"},
	    {IPPROTO_TCP, TCP_CORK, "TCP_CORK"},
	};
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
		opt(t, bools[i].level, bools[i].name, bools[i].what);
		setopt(t, bools[i].level, bools[i].name, 1, bools[i].what);
		opt(t, bools[i].level, bools[i].name, bools[i].what);
	}
	setopt(t, IPPROTO_TCP, TCP_KEEPIDLE, 30, "TCP_KEEPIDLE");
	opt(t, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
	setopt(t, IPPROTO_TCP, TCP_KEEPIDLE, 0, "TCP_KEEPIDLE");
	setopt(t, IPPROTO_TCP, TCP_KEEPINTVL, 5, "TCP_KEEPINTVL");
	opt(t, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL");
	setopt(t, IPPROTO_TCP, TCP_KEEPINTVL, 40000, "TCP_KEEPINTVL");
	setopt(t, IPPROTO_TCP, TCP_KEEPCNT, 4, "TCP_KEEPCNT");
	opt(t, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT");
	setopt(t, IPPROTO_TCP, TCP_KEEPCNT, 200, "TCP_KEEPCNT");
	setopt(t, IPPROTO_TCP, TCP_USER_TIMEOUT, 1500, "TCP_USER_TIMEOUT");
	opt(t, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT");
	setopt(t, IPPROTO_TCP, TCP_USER_TIMEOUT, -1, "TCP_USER_TIMEOUT");
	opt(t, IPPROTO_IP, IP_TTL, "IP_TTL");
	setopt(t, IPPROTO_IP, IP_TTL, 7, "IP_TTL");
	opt(t, IPPROTO_IP, IP_TTL, "IP_TTL");
	setopt(t, IPPROTO_IP, IP_TTL, 256, "IP_TTL");
	setopt(t, IPPROTO_IP, IP_TTL, -1, "IP_TTL");
	opt(t, IPPROTO_IP, IP_TTL, "IP_TTL");
	opt(t, IPPROTO_IP, IP_TOS, "IP_TOS");
	setopt(t, IPPROTO_IP, IP_TOS, 0x10, "IP_TOS");
	opt(t, IPPROTO_IP, IP_TOS, "IP_TOS");
	opt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS");
	setopt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9, "IPV6_UNICAST_HOPS");
	opt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS");
	setopt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 300, "IPV6_UNICAST_HOPS");
	opt(u, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY on udp");
	setopt(u, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY on udp");
	opt(t, SOL_SOCKET, 9999, "unknown SOL_SOCKET option");
	setopt(t, SOL_SOCKET, 9999, 1, "unknown SOL_SOCKET option");
	opt(t, IPPROTO_TCP, 9999, "unknown SOL_TCP option");
	struct linger lg = {-1, -1};
	socklen_t len = sizeof lg;
	getsockopt(t, SOL_SOCKET, SO_LINGER, &lg, &len);
	printf("SO_LINGER: %d %d len %u\n", lg.l_onoff, lg.l_linger, len);
	lg = (struct linger){1, 5};
	rep("set SO_LINGER", setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	getsockopt(t, SOL_SOCKET, SO_LINGER, &lg, &len);
	printf("SO_LINGER: %d %d len %u\n", lg.l_onoff, lg.l_linger, len);
	rep("set SO_LINGER short", setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, 4));
	rep("setsockopt short", setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &(int){1}, 2));
	struct timeval tv = {0, 200000};
	rep("SO_RCVTIMEO", setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	tv = (struct timeval){0};
	len = sizeof tv;
	getsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
	printf("SO_RCVTIMEO: %ld.%06ld len %u\n", (long)tv.tv_sec, (long)tv.tv_usec, len);
	struct sockaddr_in6 s6 = lo6(0);
	bind(u, (struct sockaddr *)&s6, sizeof s6);
	char buf[8];
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	repn("recv with timeout", recv(u, buf, sizeof buf, 0));
	gettimeofday(&t1, NULL);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	printf("waited about the timeout: %d\n", ms >= 150 && ms < 2000);
	// TCP_INFO's state through a connection's life.
	int port;
	int l = listener(AF_INET, &port);
	struct tcp_info ti;
	len = sizeof ti;
	getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len);
	printf("TCP_INFO listener state: %d\n", ti.tcpi_state);
	opt(l, SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN listener");
	repn("FIONREAD listener", ({ int v = -1; ioctl(l, FIONREAD, &v) < 0 ? -1 : v; }));
	len = sizeof ti;
	getsockopt(t, IPPROTO_TCP, TCP_INFO, &ti, &len);
	printf("TCP_INFO unconnected state: %d\n", ti.tcpi_state);
	int c = connect_to(AF_INET, port);
	len = sizeof ti;
	getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len);
	printf("TCP_INFO connected state: %d\n", ti.tcpi_state);
	int s = accept(l, NULL, NULL);
	send(c, "12345", 5, 0);
	usleep(50000);
	repn("SIOCINQ", ({ int v = -1; ioctl(s, SIOCINQ, &v) < 0 ? -1 : v; }));
	repn("SIOCOUTQ udp", ({ int v = -1; ioctl(u, SIOCOUTQ, &v) < 0 ? -1 : v; }));
	close(s);
	usleep(50000);
	len = sizeof ti;
	getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len);
	printf("TCP_INFO after the peer closed: %d\n", ti.tcpi_state);
	close(c);
	close(l);
	close(t);
	close(u);
}

static void pr(const char *w, int fd) {
	struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP | POLLPRI, 0};
	poll(&p, 1, 0);
	printf("%s: %#x\n", w, p.revents);
}

static void mode_states(void) {
	int t = socket(AF_INET, SOCK_STREAM, 0);
	pr("fresh tcp", t);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	pr("fresh udp", u);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(t, (struct sockaddr *)&a, sizeof a);
	pr("bound tcp", t);
	listen(t, 4);
	pr("listening", t);
	socklen_t l = sizeof a;
	getsockname(t, (struct sockaddr *)&a, &l);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, sizeof a);
	int s = accept(t, NULL, NULL);
	pr("connected", c);
	shutdown(c, SHUT_RD);
	pr("own shut rd", c);
	shutdown(c, SHUT_WR);
	usleep(50000);
	pr("own shut rdwr", c);
	pr("peer after shut rdwr", s);
	close(s);
	usleep(50000);
	pr("after peer close", c);
	int c2 = socket(AF_INET, SOCK_STREAM, 0);
	connect(c2, (struct sockaddr *)&a, sizeof a);
	int s2 = accept(t, NULL, NULL);
	send(s2, "x", 1, 0);
	struct linger lg = {1, 0};
	setsockopt(s2, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(s2);
	usleep(50000);
	pr("after reset", c2);
	char b[4];
	printf("recv after reset: %zd %s\n", recv(c2, b, 4, 0), strerrorname_np(errno));
	pr("after reset read", c2);
	errno = 0;
	printf("recv again: %zd %s\n", recv(c2, b, 4, 0), strerrorname_np(errno));
	pr("after the reset was reported", c2);
	// SO_REUSEADDR and TIME_WAIT: server closes first.
	int c3 = socket(AF_INET, SOCK_STREAM, 0);
	connect(c3, (struct sockaddr *)&a, sizeof a);
	int s3 = accept(t, NULL, NULL);
	close(s3);
	usleep(20000);
	close(c3);
	close(t);
	usleep(20000);
	int n = socket(AF_INET, SOCK_STREAM, 0);
	printf("rebind without SO_REUSEADDR: %s\n", bind(n, (struct sockaddr *)&a, sizeof a) ? strerrorname_np(errno) : "ok");
	close(n);
	n = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(n, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	printf("rebind with SO_REUSEADDR: %s\n", bind(n, (struct sockaddr *)&a, sizeof a) ? strerrorname_np(errno) : "ok");
	printf("listen: %s\n", listen(n, 1) ? strerrorname_np(errno) : "ok");
	}

static void mode_mmsg(void) {
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = lo4(0);
	bind(a, (struct sockaddr *)&sa, sizeof sa);
	struct sockaddr_in to = lo4(port_of(a));
	connect(b, (struct sockaddr *)&to, sizeof to);
	const char *msgs[] = {"alpha", "be", "gamma-long-datagram"};
	struct iovec siov[3];
	struct mmsghdr smsg[3];
	memset(smsg, 0, sizeof smsg);
	for (int i = 0; i < 3; i++) {
		siov[i] = (struct iovec){(void *)msgs[i], strlen(msgs[i])};
		smsg[i].msg_hdr.msg_iov = &siov[i];
		smsg[i].msg_hdr.msg_iovlen = 1;
	}
	int n = sendmmsg(b, smsg, 3, 0);
	printf("sendmmsg: %d lens %u %u %u\n", n, smsg[0].msg_len, smsg[1].msg_len, smsg[2].msg_len);
	usleep(50000);
	char bufs[5][8];
	struct iovec riov[5];
	struct mmsghdr rmsg[5];
	struct sockaddr_in from[5];
	memset(rmsg, 0, sizeof rmsg);
	for (int i = 0; i < 5; i++) {
		riov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
		rmsg[i].msg_hdr.msg_iov = &riov[i];
		rmsg[i].msg_hdr.msg_iovlen = 1;
		rmsg[i].msg_hdr.msg_name = &from[i];
		rmsg[i].msg_hdr.msg_namelen = sizeof from[i];
	}
	n = recvmmsg(a, rmsg, 5, MSG_WAITFORONE, NULL);
	printf("recvmmsg: %d\n", n);
	for (int i = 0; i < n; i++)
		printf("  %u %.*s trunc %d namelen %u same port %d\n", rmsg[i].msg_len, (int)rmsg[i].msg_len, bufs[i],
		       !!(rmsg[i].msg_hdr.msg_flags & MSG_TRUNC), rmsg[i].msg_hdr.msg_namelen,
		       ntohs(from[i].sin_port) == port_of(b));
	repn("recvmmsg empty", recvmmsg(a, rmsg, 5, MSG_DONTWAIT, NULL));
	struct timespec ts = {0, 100000000};
	sendto(b, "one", 3, 0, NULL, 0);
	usleep(50000);
	repn("recvmmsg timeout after one", recvmmsg(a, rmsg, 1, 0, &ts));
	repn("sendmmsg bad fd", sendmmsg(99, smsg, 1, 0));
}

static void mode_limits(void) {
	struct rlimit rl = {64, 64};
	rep("setrlimit", setrlimit(RLIMIT_NOFILE, &rl));
	int last = -1, fd;
	while ((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0)
		last = fd;
	printf("last fd %d, then %s\n", last, strerrorname_np(errno));
}

static void mode_budget(void) {
	static int fds[4096];
	int n = 0;
	while (n < 4096 && (fds[n] = socket(AF_INET6, SOCK_STREAM, 0)) >= 0)
		n++;
	printf("sockets: %s after %s\n", n < 4096 ? strerrorname_np(errno) : "none", n >= 10 ? "at least 10" : "fewer than 10");
	for (int i = 0; i < n; i++)
		close(fds[i]);
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	rep("socket after closing them", s);
	int t = socket(AF_INET6, SOCK_STREAM, 0);
	int port;
	int l = listener(AF_INET6, &port);
	int c = connect_to(AF_INET6, port);
	printf("a connection still works: %d\n", c >= 0 && t >= 0 && s >= 0);
	close(l);
}

static int alarms;
static void on_alarm(int sig) { (void)sig, alarms++; }

static void handle(int flags) {
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = flags};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

static void mode_signals(void) {
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = lo4(0);
	bind(u, (struct sockaddr *)&a, sizeof a);
	char buf[16];
	handle(0);
	ualarm(100000, 0);
	repn("recv interrupted", recv(u, buf, sizeof buf, 0));
	handle(SA_RESTART);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(300000);
		int c = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in to = lo4(port_of(u));
		sendto(c, "late", 4, 0, (struct sockaddr *)&to, sizeof to);
		_exit(0);
	}
	ualarm(100000, 0);
	repn("recv restarted", recv(u, buf, sizeof buf, 0));
	waitpid(pid, NULL, 0);
	struct timeval tv = {2, 0};
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ualarm(100000, 0);
	repn("recv with SO_RCVTIMEO interrupted under SA_RESTART", recv(u, buf, sizeof buf, 0));
	printf("alarms %d\n", alarms);
	int port;
	int l = listener(AF_INET, &port);
	handle(0);
	ualarm(100000, 0);
	repn("accept interrupted", accept(l, NULL, NULL));
	int c = connect_to(AF_INET, port);
	int s = accept(l, NULL, NULL);
	static char big[8 << 20];
	ualarm(200000, 0);
	long n = send(c, big, sizeof big, 0);
	printf("send interrupted: partial %d\n", n > 0 && n < (long)sizeof big);
	close(s);
	close(c);
	close(l);
	printf("alarms %d\n", alarms);
}

static void mode_raw(void) {
	if (geteuid() == 0) { // natively as root: test what an unprivileged user gets
		if (setgid(65534) < 0 || setuid(65534) < 0) {
			perror("setuid");
			exit(1);
		}
	}
	rep("SOCK_RAW icmp", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	rep("SOCK_RAW tcp", socket(AF_INET, SOCK_RAW, IPPROTO_TCP));
	rep("SOCK_RAW v6", socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
}

// ping: an ICMP echo "ping socket" to 127.0.0.1, when the system lets
// this group make one (net.ipv4.ping_group_range).
static void mode_ping(void) {
	int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (s < 0) {
		printf("ping socket: %s\n", strerrorname_np(errno));
		return;
	}
	printf("ping socket: ok\n");
	struct icmphdr h = {.type = ICMP_ECHO, .un.echo.sequence = htons(1)};
	char pkt[sizeof h + 4];
	memcpy(pkt, &h, sizeof h);
	memcpy(pkt + sizeof h, "ping", 4);
	struct sockaddr_in to = lo4(0);
	repn("sendto echo", sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to));
	struct pollfd p = {s, POLLIN, 0};
	printf("poll: %d\n", poll(&p, 1, 5000));
	char buf[64];
	struct sockaddr_in from;
	socklen_t flen = sizeof from;
	ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
	struct icmphdr *r = (struct icmphdr *)buf;
	printf("reply: %zd type %d seq %d data %.4s from %s\n", n, r->type, ntohs(r->un.echo.sequence),
	       buf + sizeof h, inet_ntoa(from.sin_addr));
	opt(s, SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL");
	close(s);
	s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
	if (s < 0) {
		printf("ping6 socket: %s\n", strerrorname_np(errno));
		return;
	}
	struct icmp6_hdr h6 = {.icmp6_type = ICMP6_ECHO_REQUEST, .icmp6_seq = htons(2)};
	memcpy(pkt, &h6, sizeof h6);
	memcpy(pkt + sizeof h6, "six!", 4);
	struct sockaddr_in6 to6 = lo6(0);
	repn("sendto echo6", sendto(s, pkt, sizeof h6 + 4, 0, (struct sockaddr *)&to6, sizeof to6));
	p = (struct pollfd){s, POLLIN, 0};
	printf("poll: %d\n", poll(&p, 1, 5000));
	n = recv(s, buf, sizeof buf, 0);
	struct icmp6_hdr *r6 = (struct icmp6_hdr *)buf;
	printf("reply6: %zd type %d seq %d data %.4s\n", n, r6->icmp6_type, ntohs(r6->icmp6_seq), buf + sizeof h6);
	close(s);
}

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11

static void lite_opt(int fd, int name, int v, const char *what) {
	int r = setsockopt(fd, IPPROTO_UDPLITE, name, &v, sizeof v);
	int got = -1;
	socklen_t l = sizeof got;
	int g = getsockopt(fd, IPPROTO_UDPLITE, name, &got, &l);
	printf("%s set %d: %s get %s %d len %u\n", what, v, en(r), g < 0 ? en(g) : "ok", got, l);
}

static void udplite_family(int family) {
	struct sockaddr_storage sa;
	socklen_t slen;
	if (family == AF_INET) {
		struct sockaddr_in s4 = lo4(0);
		memcpy(&sa, &s4, sizeof s4);
		slen = sizeof s4;
	} else {
		struct sockaddr_in6 s6 = lo6(0);
		memcpy(&sa, &s6, sizeof s6);
		slen = sizeof s6;
	}
	int a = socket(family, SOCK_DGRAM, IPPROTO_UDPLITE);
	int b = socket(family, SOCK_DGRAM, IPPROTO_UDPLITE);
	rep("socket", a);
	rep("bind a", bind(a, (struct sockaddr *)&sa, slen));
	show_name("a name", a, 0);
	int proto = -1;
	socklen_t pl = sizeof proto;
	getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &proto, &pl);
	printf("SO_PROTOCOL: %d\n", proto);
	// The same port is free for UDP: UDP-Lite's ports are its own.
	struct sockaddr_storage to = sa;
	int port = port_of(a);
	if (family == AF_INET)
		((struct sockaddr_in *)&to)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&to)->sin6_port = htons(port);
	int u = socket(family, SOCK_DGRAM, IPPROTO_UDP);
	rep("bind udp to the UDP-Lite port", bind(u, (struct sockaddr *)&to, slen));
	int b2 = socket(family, SOCK_DGRAM, IPPROTO_UDPLITE);
	rep("bind UDP-Lite to it again", bind(b2, (struct sockaddr *)&to, slen));
	close(b2);
	repn("sendto", sendto(b, "lite", 4, 0, (struct sockaddr *)&to, slen));
	repn("sendto", sendto(b, "second", 6, 0, (struct sockaddr *)&to, slen));
	usleep(50000);
	repn("udp socket got nothing", recv(u, (char[8]){0}, 8, MSG_DONTWAIT));
	struct pollfd p = {a, POLLIN, 0};
	int pr = poll(&p, 1, 1000);
	printf("poll: %d revents %#x\n", pr, p.revents);
	repn("FIONREAD", ({ int v = -1; ioctl(a, FIONREAD, &v) < 0 ? -1 : v; }));
	char buf[64] = {0};
	struct sockaddr_storage from;
	socklen_t flen = sizeof from;
	ssize_t n = recvfrom(a, buf, sizeof buf, MSG_PEEK, (struct sockaddr *)&from, &flen);
	printf("peek: %zd %.4s from len %u same port %d\n", n, buf, flen, port_of(b) == ntohs(((struct sockaddr_in *)&from)->sin_port));
	n = recv(a, buf, sizeof buf, 0);
	printf("recv: %zd %.4s\n", n, buf);
	repn("recv MSG_TRUNC", recv(a, buf, 2, MSG_TRUNC));
	repn("recv nothing", recv(a, buf, sizeof buf, MSG_DONTWAIT));
	// Options: defaults, 1..7 mean 8, negative too, big values capped.
	lite_opt(a, UDPLITE_SEND_CSCOV, 0, "SEND_CSCOV");
	lite_opt(a, UDPLITE_SEND_CSCOV, 3, "SEND_CSCOV");
	lite_opt(a, UDPLITE_SEND_CSCOV, -5, "SEND_CSCOV");
	lite_opt(a, UDPLITE_SEND_CSCOV, 100000, "SEND_CSCOV");
	lite_opt(a, UDPLITE_RECV_CSCOV, 20, "RECV_CSCOV");
	lite_opt(a, UDPLITE_RECV_CSCOV, 0, "RECV_CSCOV");
	rep("setsockopt short", setsockopt(a, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, "\1", 1));
	rep("setsockopt unknown", setsockopt(a, IPPROTO_UDPLITE, 99, &(int){1}, sizeof(int)));
	rep("SEND_CSCOV on udp", setsockopt(u, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &(int){8}, sizeof(int)));
	rep("getsockopt SEND_CSCOV on udp", getsockopt(u, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &(int){0}, &(socklen_t){4}));
	// Coverage drop: a receives with RECV_CSCOV 20; b sends with 12
	// (dropped), with 30 (kept), with full coverage (kept).
	lite_opt(a, UDPLITE_RECV_CSCOV, 20, "receiver RECV_CSCOV");
	lite_opt(b, UDPLITE_SEND_CSCOV, 12, "sender SEND_CSCOV");
	repn("send covered 12", sendto(b, "covered twelve, too little....", 30, 0, (struct sockaddr *)&to, slen));
	lite_opt(b, UDPLITE_SEND_CSCOV, 30, "sender SEND_CSCOV");
	repn("send covered 30", sendto(b, "covered thirty, enough........", 30, 0, (struct sockaddr *)&to, slen));
	lite_opt(b, UDPLITE_SEND_CSCOV, 0, "sender SEND_CSCOV");
	repn("send full", sendto(b, "full", 4, 0, (struct sockaddr *)&to, slen));
	lite_opt(b, UDPLITE_SEND_CSCOV, 9, "sender SEND_CSCOV");
	repn("send short, coverage above its length", sendto(b, "x", 1, 0, (struct sockaddr *)&to, slen));
	usleep(50000);
	for (int i = 0; i < 4; i++) {
		memset(buf, 0, sizeof buf);
		n = recv(a, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0)
			printf("recv %d: %s\n", i, en(n));
		else
			printf("recv %d: %zd %.14s\n", i, n, buf);
	}
	// RECV_CSCOV 0 asks for full coverage: partial ones are dropped.
	lite_opt(a, UDPLITE_RECV_CSCOV, 0, "receiver RECV_CSCOV");
	lite_opt(b, UDPLITE_SEND_CSCOV, 30, "sender SEND_CSCOV");
	repn("send partial", sendto(b, "partially covered datagram, 40 bytes....", 40, 0, (struct sockaddr *)&to, slen));
	usleep(50000);
	repn("recv partial with RECV_CSCOV 0", recv(a, buf, sizeof buf, MSG_DONTWAIT));
	rep("connect b->a", connect(b, (struct sockaddr *)&to, slen));
	show_name("b peer", b, 1);
	repn("send connected", send(b, "conn", 4, 0));
	usleep(50000);
	repn("recv connected", recv(a, buf, sizeof buf, MSG_DONTWAIT));
	struct timeval tv = {0, 100000};
	setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	rep("shutdown a SHUT_RD", shutdown(a, SHUT_RD));
	// Blocking: Linux's datagram receive ends at once with 0 (a
	// non-blocking one says EAGAIN, netstack's UDP 0; UDP's difference).
	repn("recv after SHUT_RD", recv(a, buf, sizeof buf, 0));
	setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	repn("recv with SO_RCVTIMEO", recv(b, buf, sizeof buf, 0));
	close(a);
	close(b);
	close(u);
}

static void mode_udplite(void) {
	printf("[ipv4]\n");
	udplite_family(AF_INET);
	printf("[ipv6]\n");
	udplite_family(AF_INET6);
	rep("SOCK_STREAM UDPLITE", socket(AF_INET, SOCK_STREAM, IPPROTO_UDPLITE));
}

// reconnect: a TCP socket whose connect was refused connects again, as
// Linux lets a socket in state CLOSE: non-blocking (EINPROGRESS, the
// refusal reported by the next connect, then a fresh connect once the
// port listens), blocking after SO_ERROR consumed the refusal (the next
// connect reports ECONNABORTED, the one after starts anew), and with a
// bound local address, which the socket keeps.
static int refusing_port(int *holder) {
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*holder = socket(AF_INET, SOCK_STREAM, 0);
	bind(*holder, (struct sockaddr *)&a, sizeof a);
	socklen_t l = sizeof a;
	getsockname(*holder, (struct sockaddr *)&a, &l);
	return ntohs(a.sin_port);
}

static void mode_reconnect(void) {
	int lst;
	int port = refusing_port(&lst);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	printf("connect (not listening): %s\n", en(connect(s, (struct sockaddr *)&to, sizeof to)));
	struct pollfd p = {.fd = s, .events = POLLOUT};
	poll(&p, 1, 2000);
	printf("connect again: %s\n", en(connect(s, (struct sockaddr *)&to, sizeof to)));
	listen(lst, 4);
	long r = connect(s, (struct sockaddr *)&to, sizeof to);
	printf("connect after listen: %s\n", en(r));
	if (r < 0 && errno == EINPROGRESS) {
		poll(&p, 1, 2000);
		int err = -1;
		socklen_t l = sizeof err;
		getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
		printf("SO_ERROR: %d\n", err);
	}
	int v = 0;
	socklen_t vl = sizeof v;
	getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
	printf("TCP_NODELAY kept: %d\n", v != 0);
	int c = accept(lst, NULL, NULL);
	printf("accepted: %s\n", en(c));
	printf("send: %ld\n", (long)send(s, "hi", 2, MSG_NOSIGNAL));
	char b[4] = {0};
	printf("recv: %ld %s\n", (long)recv(c, b, sizeof b, 0), b);
	close(c);
	close(s);
	close(lst);

	port = refusing_port(&lst);
	to.sin_port = htons(port);
	s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in me = {.sin_family = AF_INET};
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 2);
	printf("bind 127.0.0.3: %s\n", en(bind(s, (struct sockaddr *)&me, sizeof me)));
	printf("blocking connect: %s\n", en(connect(s, (struct sockaddr *)&to, sizeof to)));
	int err = -1;
	socklen_t l = sizeof err;
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
	printf("SO_ERROR after it: %d\n", err);
	listen(lst, 4);
	printf("connect after listen: %s\n", en(connect(s, (struct sockaddr *)&to, sizeof to)));
	struct sockaddr_in got;
	l = sizeof got;
	getsockname(s, (struct sockaddr *)&got, &l);
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &got.sin_addr, ip, sizeof ip);
	printf("local address: %s\n", ip);
	close(s);
	close(lst);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	const char *m = argv[1];
	if (!strcmp(m, "tcp"))
		mode_tcp();
	else if (!strcmp(m, "udp"))
		mode_udp();
	else if (!strcmp(m, "nonblock"))
		mode_nonblock();
	else if (!strcmp(m, "errors"))
		mode_errors();
	else if (!strcmp(m, "v6only"))
		mode_v6only();
	else if (!strcmp(m, "opts"))
		mode_opts();
	else if (!strcmp(m, "states"))
		mode_states();
	else if (!strcmp(m, "mmsg"))
		mode_mmsg();
	else if (!strcmp(m, "limits"))
		mode_limits();
	else if (!strcmp(m, "budget"))
		mode_budget();
	else if (!strcmp(m, "signals"))
		mode_signals();
	else if (!strcmp(m, "raw"))
		mode_raw();
	else if (!strcmp(m, "ping"))
		mode_ping();
	else if (!strcmp(m, "udplite"))
		mode_udplite();
	else if (!strcmp(m, "reconnect"))
		mode_reconnect();
	else
		return 2;
	return 0;
}

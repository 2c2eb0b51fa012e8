// unix MODE DIR: AF_UNIX sockets (issue 12), printed so that the output is
// the same natively and in the sandbox. Abstract names carry the pid in
// eight hex digits, so parallel native runs do not meet and lengths stay
// fixed.
//
//	stream    named stream sockets in DIR: bind, S_IFSOCK, EADDRINUSE,
//	          listen, accept4, connect errors, names, SO_PEERCRED, peek,
//	          shutdown, EPIPE/SIGPIPE, unlink
//	dgram     abstract datagram sockets: boundaries, MSG_TRUNC, peek,
//	          addresses, autobind, connect, ECONNREFUSED, EPERM
//	seqpacket records over a socketpair and an abstract listener
//	rights    SCM_RIGHTS between two processes (a pipe passed and used),
//	          MSG_CTRUNC, MSG_CMSG_CLOEXEC, SCM_CREDENTIALS, cmsg errors
//	poll      epoll, poll and select readiness, backlog and EAGAIN
//	opts      socket options, FIONREAD/SIOCINQ/SIOCOUTQ, timeouts, errors
//	bindat    bind a socket at DIR/s only, and stat it (hostfs mounts
//	          refuse: no host socket file is made)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <unistd.h>

static char dir[64];

static const char *en(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

// rep prints "what: ok" or "what: ERRNO" and returns r.
static long rep(const char *what, long r) {
	printf("%s: %s\n", what, en(r));
	return r;
}

// path makes a sockaddr_un for DIR/name; *len is its full size.
static struct sockaddr_un path(const char *name, socklen_t *len) {
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, name);
	*len = offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1;
	return sa;
}

// abstract makes "\0lbt-<pid>-<tag>" and its exact length.
static struct sockaddr_un abstract(const char *tag, socklen_t *len) {
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "lbt-%08x-%s", (unsigned)getpid(), tag);
	*len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	return sa;
}

static void names(const char *what, int fd) {
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0x55, sizeof sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		printf("%s getsockname: %s\n", what, en(-1));
	} else {
		int rel = len > 2 && sa.sun_path[0] == '/' && strncmp(sa.sun_path, dir, strlen(dir)) == 0;
		printf("%s getsockname: len %d%s%s\n", what, rel ? (int)(len - strlen(dir)) : (int)len, rel ? " (less DIR) path " : "",
		       rel ? sa.sun_path + strlen(dir) : "");
	}
	len = sizeof sa;
	if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
		printf("%s getpeername: %s\n", what, en(-1));
	else if (len > 2 && sa.sun_path[0] == '/')
		printf("%s getpeername: len %d (less DIR)\n", what, (int)(len - strlen(dir)));
	else
		printf("%s getpeername: len %d\n", what, (int)len);
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static void stream(void) {
	socklen_t len;
	struct sockaddr_un sa = path("s", &len);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	names("unbound", l);
	rep("listen unbound", listen(l, 5));
	rep("bind", bind(l, (struct sockaddr *)&sa, len));
	rep("bind again", bind(l, (struct sockaddr *)&sa, len));
	struct stat st;
	if (stat(sa.sun_path, &st) == 0)
		printf("stat: sock %d mode %o size %lld\n", S_ISSOCK(st.st_mode), st.st_mode & 07777,
		       (long long)st.st_size);
	printf("open: %s\n", en(open(sa.sun_path, O_RDONLY)));
	int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
	rep("bind in use", bind(l2, (struct sockaddr *)&sa, len));
	// A path of exactly sizeof sun_path without NUL.
	struct sockaddr_un bad = {.sun_family = AF_UNIX};
	rep("bind len 1", bind(l2, (struct sockaddr *)&bad, 1));
	rep("bind too long", bind(l2, (struct sockaddr *)&bad, sizeof bad + 1));
	bad.sun_family = AF_INET;
	rep("bind AF_INET", bind(l2, (struct sockaddr *)&bad, sizeof bad));
	socklen_t mlen;
	struct sockaddr_un missing = path("nodir/s", &mlen);
	rep("bind missing dir", bind(l2, (struct sockaddr *)&missing, mlen));
	close(l2);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	rep("connect before listen", connect(c, (struct sockaddr *)&sa, len));
	rep("listen", listen(l, 5));
	names("listener", l);
	int fl = fcntl(l, F_GETFL);
	fcntl(l, F_SETFL, fl | O_NONBLOCK);
	rep("accept nothing pending", accept(l, NULL, NULL));
	fcntl(l, F_SETFL, fl);
	rep("accept4 bad flags", accept4(l, NULL, NULL, 0x1000));
	rep("connect", connect(c, (struct sockaddr *)&sa, len));
	rep("connect again", connect(c, (struct sockaddr *)&sa, len));
	struct sockaddr_un peer;
	socklen_t plen = sizeof peer;
	int s = accept4(l, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	printf("accept4: %s peer len %d flags nonblock %d cloexec %d\n", en(s), (int)plen,
	       !!(fcntl(s, F_GETFL) & O_NONBLOCK), !!(fcntl(s, F_GETFD) & FD_CLOEXEC));
	names("client", c);
	names("server", s);
	struct ucred cr;
	socklen_t crl = sizeof cr;
	getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
	printf("client peercred: len %d pid self %d uid %d gid %d\n", (int)crl, cr.pid == getpid(),
	       cr.uid == getuid(), cr.gid == getgid());
	crl = sizeof cr;
	getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
	printf("server peercred: pid self %d uid %d\n", cr.pid == getpid(), cr.uid == getuid());
	crl = sizeof cr;
	getsockopt(l, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
	printf("listener peercred: pid self %d uid %d\n", cr.pid == getpid(), cr.uid == getuid());

	char buf[64];
	printf("send: %zd\n", send(c, "hello", 5, 0));
	printf("send: %zd\n", send(c, "world", 5, 0));
	printf("recv peek: %zd\n", recv(s, buf, 3, MSG_PEEK));
	ssize_t n = recv(s, buf, sizeof buf, 0);
	printf("recv: %zd %.*s\n", n, (int)n, buf);
	printf("recv empty nonblock: %s\n", en(recv(s, buf, sizeof buf, 0)));
	printf("recv dontwait: %s\n", en(recv(c, buf, sizeof buf, MSG_DONTWAIT)));
	write(s, "abcdef", 6);
	n = recv(c, buf, 6, MSG_WAITALL);
	printf("recv waitall: %zd %.*s\n", n, (int)n, buf);
	rep("shutdown bad", shutdown(c, 7));
	rep("shutdown wr", shutdown(c, SHUT_WR));
	printf("recv after peer shut wr: %zd\n", recv(s, buf, sizeof buf, 0));
	printf("send after shut wr: %s\n", en(send(c, "x", 1, MSG_NOSIGNAL)));
	rep("shutdown rd", shutdown(s, SHUT_RD));
	printf("read after own shut rd: %zd\n", read(s, buf, sizeof buf));
	signal(SIGPIPE, on_sigpipe);
	printf("write to shut-rd peer: %s sigpipes %d\n", en(write(s, "x", 1)), (int)sigpipes);
	printf("recv on listener: %s\n", en(recv(l, buf, 1, 0)));
	printf("send on listener: %s\n", en(send(l, buf, 1, 0)));
	close(s);
	close(c);

	// A client whose peer closes: EOF, then EPIPE with SIGPIPE.
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&sa, len);
	s = accept(l, NULL, NULL);
	close(s);
	printf("recv after peer close: %zd\n", recv(c, buf, sizeof buf, 0));
	printf("send after peer close: %s sigpipes %d\n", en(send(c, "x", 1, 0)), (int)sigpipes);
	printf("send nosignal after peer close: %s sigpipes %d\n", en(send(c, "x", 1, MSG_NOSIGNAL)), (int)sigpipes);
	close(c);

	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	rep("connect stream listener from dgram", connect(d, (struct sockaddr *)&sa, len));
	rep("listen dgram", listen(d, 1));
	rep("accept dgram", accept(d, NULL, NULL));
	close(d);
	close(l);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	rep("connect closed listener", connect(c, (struct sockaddr *)&sa, len));
	rep("unlink", unlink(sa.sun_path));
	rep("connect unlinked", connect(c, (struct sockaddr *)&sa, len));
	socklen_t flen;
	struct sockaddr_un file = path("plain", &flen);
	close(open(file.sun_path, O_CREAT | O_WRONLY, 0600));
	rep("connect regular file", connect(c, (struct sockaddr *)&file, flen));
	socklen_t nlen;
	struct sockaddr_un node = path("node", &nlen);
	rep("mknod S_IFSOCK", mknod(node.sun_path, S_IFSOCK | 0600, 0));
	rep("connect mknod socket", connect(c, (struct sockaddr *)&node, nlen));
	rep("getpeername unconnected", getpeername(c, (struct sockaddr *)&peer, &plen));
	rep("send unconnected", send(c, "x", 1, 0));
	rep("recv unconnected", recv(c, buf, 1, 0));
	rep("sendto stream", sendto(c, "x", 1, 0, (struct sockaddr *)&sa, len));
	rep("bind not a socket fd", bind(0 + open("/", O_RDONLY), (struct sockaddr *)&sa, len));
	close(c);
	// Permission: a socket the caller cannot write.
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t qlen;
	struct sockaddr_un q = path("q", &qlen);
	mode_t old = umask(0777);
	bind(l, (struct sockaddr *)&q, qlen);
	umask(old);
	listen(l, 1);
	stat(q.sun_path, &st);
	printf("umask 0777 bind mode %o\n", st.st_mode & 0777);
	pid_t pid = fork();
	if (pid == 0) {
		if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(1);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		rep("connect without write permission", connect(c, (struct sockaddr *)&q, qlen));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	close(l);
}

static void dgram(void) {
	socklen_t alen, blen;
	struct sockaddr_un a = abstract("a", &alen), b = abstract("b", &blen);
	int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM, 0);
	rep("bind a", bind(x, (struct sockaddr *)&a, alen));
	rep("bind b", bind(y, (struct sockaddr *)&b, blen));
	int z = socket(AF_UNIX, SOCK_DGRAM, 0);
	rep("bind a again", bind(z, (struct sockaddr *)&a, alen));
	names("a", x);
	printf("sendto: %zd\n", sendto(x, "one", 3, 0, (struct sockaddr *)&b, blen));
	printf("sendto: %zd\n", sendto(x, "second", 6, 0, (struct sockaddr *)&b, blen));
	printf("sendto empty: %zd\n", sendto(x, "", 0, 0, (struct sockaddr *)&b, blen));
	printf("sendto from unbound: %zd\n", sendto(z, "anon", 4, 0, (struct sockaddr *)&b, blen));
	char buf[64];
	struct sockaddr_un from;
	socklen_t flen = sizeof from;
	printf("FIONREAD: %d\n", ioctl(y, FIONREAD, &(int){0}) == 0 ? ({ int v; ioctl(y, FIONREAD, &v); v; }) : -1);
	ssize_t n = recvfrom(y, buf, sizeof buf, MSG_PEEK, (struct sockaddr *)&from, &flen);
	printf("peek: %zd %.*s from len %d same %d\n", n, (int)n, buf, (int)flen, flen == alen && memcmp(&from, &a, alen) == 0);
	flen = sizeof from;
	n = recvfrom(y, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
	printf("recv: %zd %.*s from len %d\n", n, (int)n, buf, (int)flen);
	struct iovec iov = {buf, 2};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	n = recvmsg(y, &mh, 0);
	printf("recvmsg short: %zd %.*s flags trunc %d\n", n, (int)n, buf, !!(mh.msg_flags & MSG_TRUNC));
	n = recv(y, buf, 1, MSG_TRUNC);
	printf("recv MSG_TRUNC of empty: %zd\n", n);
	flen = sizeof from;
	n = recvfrom(y, buf, 2, MSG_TRUNC, (struct sockaddr *)&from, &flen);
	printf("recv MSG_TRUNC: %zd from len %d\n", n, (int)flen);
	printf("recv empty: %s\n", en(recv(y, buf, sizeof buf, MSG_DONTWAIT)));
	rep("send unconnected", send(z, "x", 1, 0));
	socklen_t nlen;
	struct sockaddr_un none = abstract("none", &nlen);
	rep("sendto nobody", sendto(z, "x", 1, 0, (struct sockaddr *)&none, nlen));
	rep("connect nobody", connect(z, (struct sockaddr *)&none, nlen));
	// Autobind: bind with only the family.
	int w = socket(AF_UNIX, SOCK_DGRAM, 0);
	rep("autobind", bind(w, (struct sockaddr *)&(sa_family_t){AF_UNIX}, sizeof(sa_family_t)));
	struct sockaddr_un an;
	socklen_t anl = sizeof an;
	getsockname(w, (struct sockaddr *)&an, &anl);
	printf("autobind name: len %d abstract %d\n", (int)anl, an.sun_path[0] == 0);
	int v = socket(AF_UNIX, SOCK_DGRAM, 0);
	setsockopt(v, SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int));
	sendto(v, "pc", 2, 0, (struct sockaddr *)&b, blen);
	anl = sizeof an;
	getsockname(v, (struct sockaddr *)&an, &anl);
	printf("passcred sendto autobinds: len %d\n", (int)anl);
	flen = sizeof from;
	n = recvfrom(y, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
	printf("from autobound: %zd from len %d\n", n, (int)flen);
	// Connected datagram sockets.
	rep("connect a->b", connect(x, (struct sockaddr *)&b, blen));
	names("connected a", x);
	printf("send connected: %zd\n", send(x, "c", 1, 0));
	rep("connect b->a", connect(y, (struct sockaddr *)&a, alen));
	rep("sendto b from other while b connected to a", sendto(z, "x", 1, 0, (struct sockaddr *)&b, blen));
	recv(y, buf, sizeof buf, 0);
	// Queue limit: a receiver not connected back takes max_dgram_qlen+1.
	int r = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t rlen;
	struct sockaddr_un ra = abstract("r", &rlen);
	bind(r, (struct sockaddr *)&ra, rlen);
	int sent = 0;
	while (sendto(z, "q", 1, MSG_DONTWAIT, (struct sockaddr *)&ra, rlen) == 1 && sent < 1000)
		sent++;
	printf("datagrams queued before EAGAIN: %d (%s)\n", sent, strerrorname_np(errno));
	close(r);
	rep("sendto closed", sendto(z, "x", 1, 0, (struct sockaddr *)&ra, rlen));
	// The peer of a connected datagram socket closes.
	close(y);
	rep("send to closed peer", send(x, "x", 1, 0));
	rep("send again", send(x, "x", 1, 0));
	int big = 300000;
	char *p = calloc(1, big);
	rep("sendto too big", sendto(z, p, big, 0, (struct sockaddr *)&a, alen));
	free(p);
	int sp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	send(sp[0], "12345", 5, 0);
	send(sp[0], "67", 2, 0);
	printf("pair recv: %zd\n", recv(sp[1], buf, sizeof buf, 0));
	printf("pair recv: %zd\n", recv(sp[1], buf, sizeof buf, 0));
	rep("shutdown rd dgram", shutdown(sp[1], SHUT_RD));
	printf("recv after shut rd: %zd\n", recv(sp[1], buf, sizeof buf, 0));
	close(x), close(z), close(w), close(v), close(sp[0]), close(sp[1]);
}

static void seqpacket(void) {
	int sp[2];
	rep("socketpair seqpacket", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp));
	char buf[64];
	send(sp[0], "first", 5, 0);
	send(sp[0], "2nd", 3, 0);
	send(sp[0], "", 0, 0);
	ssize_t n = recv(sp[1], buf, 3, 0);
	printf("recv short: %zd %.*s\n", n, (int)n, buf);
	struct iovec iov = {buf, 2};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	n = recvmsg(sp[1], &mh, 0);
	printf("recvmsg short: %zd trunc %d\n", n, !!(mh.msg_flags & MSG_TRUNC));
	printf("recv empty record: %zd\n", recv(sp[1], buf, sizeof buf, 0));
	close(sp[0]);
	printf("recv after close: %zd\n", recv(sp[1], buf, sizeof buf, 0));
	printf("send after close: %s\n", en(send(sp[1], "x", 1, MSG_NOSIGNAL)));
	close(sp[1]);
	socklen_t len;
	struct sockaddr_un a = abstract("seq", &len);
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	bind(l, (struct sockaddr *)&a, len);
	rep("listen seqpacket", listen(l, 2));
	int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	rep("send unconnected", send(c, "x", 1, 0));
	rep("recv unconnected", recv(c, buf, 1, 0));
	int st = socket(AF_UNIX, SOCK_STREAM, 0);
	rep("connect stream to seqpacket", connect(st, (struct sockaddr *)&a, len));
	rep("connect", connect(c, (struct sockaddr *)&a, len));
	int s = accept(l, NULL, NULL);
	names("seq server", s);
	send(c, "rec1", 4, 0);
	send(c, "record2", 7, 0);
	printf("recv: %zd\n", recv(s, buf, sizeof buf, 0));
	printf("recv: %zd\n", recv(s, buf, sizeof buf, 0));
	close(c), close(s), close(l), close(st);
}

// sendfds sends n descriptors with one byte.
static long sendfds(int sock, const int *fds, int n) {
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {"F", 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	return sendmsg(sock, &mh, 0);
}

static void rights(void) {
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	pid_t child = fork();
	// The child is unprivileged (natively too): it may claim only itself.
	uid_t cuid = getuid() == 0 ? 65534 : getuid();
	if (child == 0) {
		close(sp[0]);
		if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(1);
		int p[2];
		pipe(p);
		write(p[1], "through the pipe", 16);
		close(p[1]);
		sendfds(sp[1], &p[0], 1);
		close(p[0]);
		// Three more for the short control buffer, and credentials.
		int three[3] = {0, 1, 2};
		sendfds(sp[1], three, 3);
		struct ucred me = {getpid(), getuid(), getgid()};
		char cbuf[CMSG_SPACE(sizeof me)];
		struct iovec iov = {"C", 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_CREDENTIALS;
		cm->cmsg_len = CMSG_LEN(sizeof me);
		memcpy(CMSG_DATA(cm), &me, sizeof me);
		// The child reports through its exit status: 1 if its own
		// credentials were refused, 2 if another pid's were not (EPERM).
		int st = sendmsg(sp[1], &mh, 0) == 1 ? 0 : 1;
		me.pid = 1;
		memcpy(CMSG_DATA(cm), &me, sizeof me);
		if (sendmsg(sp[1], &mh, 0) >= 0 || errno != EPERM)
			st |= 2;
		char c;
		read(sp[1], &c, 1); // wait for the parent to be done
		_exit(st);
	}
	close(sp[1]);
	char buf[64], cbuf[256];
	struct iovec iov = {buf, 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	ssize_t n = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	printf("recvmsg: %zd controllen %zu level %d type %d len %zu flags %x\n", n, (size_t)mh.msg_controllen,
	       cm ? cm->cmsg_level : -1, cm ? cm->cmsg_type : -1, cm ? (size_t)cm->cmsg_len : 0,
	       mh.msg_flags);
	int fd = -1;
	if (cm)
		memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	struct stat st;
	fstat(fd, &st);
	printf("passed fd: fifo %d cloexec %d\n", S_ISFIFO(st.st_mode), !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	n = read(fd, buf, sizeof buf);
	printf("read passed pipe: %zd %.*s\n", n, (int)n, buf);
	close(fd);
	// A control buffer with room for one of three descriptors.
	char small[CMSG_SPACE(sizeof(int))];
	mh = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = small, .msg_controllen = sizeof small};
	int before = open("/dev/null", O_RDONLY);
	close(before);
	n = recvmsg(sp[0], &mh, 0);
	cm = CMSG_FIRSTHDR(&mh);
	printf("short control: %zd ctrunc %d controllen %zu cmsg_len %zu\n", n, !!(mh.msg_flags & MSG_CTRUNC),
	       (size_t)mh.msg_controllen, cm ? (size_t)cm->cmsg_len : 0);
	if (cm) {
		memcpy(&fd, CMSG_DATA(cm), sizeof fd);
		printf("first fd is the lowest free: %d\n", fd == before);
		close(fd);
	}
	int after = open("/dev/null", O_RDONLY);
	printf("the others were closed: %d\n", after == before);
	close(after);
	// Credentials: without SO_PASSCRED none arrive; with it the child's.
	setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int));
	mh = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	n = recvmsg(sp[0], &mh, 0);
	cm = CMSG_FIRSTHDR(&mh);
	struct ucred cr = {0};
	if (cm && cm->cmsg_type == SCM_CREDENTIALS)
		memcpy(&cr, CMSG_DATA(cm), sizeof cr);
	printf("creds: %zd %c type %d pid child %d uid %d\n", n, buf[0], cm ? cm->cmsg_type : -1, cr.pid == child,
	       cr.uid == cuid);
	// Errors of the sender.
	int q[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, q);
	int bad = 999;
	printf("SCM_RIGHTS bad fd: %s\n", en(sendfds(q[0], &bad, 1)));
	char cb[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec one = {"x", 1};
	struct msghdr m2 = {.msg_iov = &one, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
	cm = CMSG_FIRSTHDR(&m2);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = sizeof cb + 8;
	printf("cmsg_len past the buffer: %s\n", en(sendmsg(q[0], &m2, 0)));
	cm->cmsg_len = 8;
	printf("cmsg_len below the header: %s\n", en(sendmsg(q[0], &m2, 0)));
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	cm->cmsg_type = 77;
	printf("unknown cmsg type: %s\n", en(sendmsg(q[0], &m2, 0)));
	cm->cmsg_level = 99;
	printf("other level skipped: %s\n", en(sendmsg(q[0], &m2, 0)));
	m2.msg_controllen = 1 << 20;
	printf("huge controllen: %s\n", en(sendmsg(q[0], &m2, 0)));
	// Descriptors in a message nobody reads are dropped with the socket.
	signal(SIGPIPE, SIG_IGN);
	int p2[2];
	pipe(p2);
	sendfds(q[0], &p2[0], 1);
	close(p2[0]);
	close(q[1]);
	char c;
	printf("pipe reader gone with the queue: %s\n", en(write(p2[1], "x", 1)));
	// A peeked descriptor arrives twice.
	socketpair(AF_UNIX, SOCK_DGRAM, 0, q);
	int p3[2];
	pipe(p3);
	sendfds(q[0], &p3[0], 1);
	for (int i = 0; i < 2; i++) {
		mh = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
		recvmsg(q[1], &mh, i == 0 ? MSG_PEEK : 0);
		cm = CMSG_FIRSTHDR(&mh);
		printf("%s: rights %d\n", i == 0 ? "peek" : "recv", cm && cm->cmsg_type == SCM_RIGHTS);
		if (cm)
			close(*(int *)CMSG_DATA(cm));
	}
	mh = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
	sendfds(q[0], &p3[0], 1);
	n = recvmsg(q[1], &mh, 0);
	printf("no control buffer: %zd ctrunc %d\n", n, !!(mh.msg_flags & MSG_CTRUNC));
	close(q[0]), close(q[1]), close(p3[0]), close(p3[1]), close(p2[1]);
	write(sp[0], "", 1);
	(void)c;
	int status;
	waitpid(child, &status, 0);
	printf("child exit %d\n", WEXITSTATUS(status));
}

static const char *evs(unsigned e) {
	static char b[128];
	b[0] = 0;
	if (e & EPOLLIN) strcat(b, "IN ");
	if (e & EPOLLOUT) strcat(b, "OUT ");
	if (e & EPOLLRDHUP) strcat(b, "RDHUP ");
	if (e & EPOLLHUP) strcat(b, "HUP ");
	if (e & EPOLLERR) strcat(b, "ERR ");
	return b;
}

static void pollmode(void) {
	socklen_t len;
	struct sockaddr_un a = abstract("poll", &len);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	bind(l, (struct sockaddr *)&a, len);
	listen(l, 1);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.fd = l};
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	struct epoll_event out[4];
	int n = epoll_wait(ep, out, 4, 0);
	printf("listener idle: %d\n", n);
	int cs[4];
	int k = 0;
	for (; k < 4; k++) {
		cs[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(cs[k], (struct sockaddr *)&a, len) < 0)
			break;
	}
	printf("nonblocking connects before %s: %d\n", strerrorname_np(errno), k);
	n = epoll_wait(ep, out, 4, 1000);
	printf("listener: %d %s\n", n, n > 0 ? evs(out[0].events) : "");
	struct pollfd pf = {.fd = l, .events = POLLIN | POLLOUT};
	n = poll(&pf, 1, 0);
	printf("poll listener: %d %s\n", n, evs(pf.revents));
	int s = accept(l, NULL, NULL);
	struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.fd = s};
	epoll_ctl(ep, EPOLL_CTL_DEL, l, NULL);
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ce);
	n = epoll_wait(ep, out, 4, 1000);
	printf("accepted: %d %s\n", n, n > 0 ? evs(out[0].events) : "");
	write(cs[0], "x", 1);
	n = epoll_wait(ep, out, 4, 1000);
	printf("data: %d %s\n", n, n > 0 ? evs(out[0].events) : "");
	shutdown(cs[0], SHUT_WR);
	n = epoll_wait(ep, out, 4, 1000);
	printf("peer shut wr: %d %s\n", n, n > 0 ? evs(out[0].events) : "");
	close(cs[0]);
	n = epoll_wait(ep, out, 4, 1000);
	printf("peer closed: %d %s\n", n, n > 0 ? evs(out[0].events) : "");
	fd_set rf, wf;
	FD_ZERO(&rf);
	FD_ZERO(&wf);
	FD_SET(s, &rf);
	FD_SET(s, &wf);
	struct timeval tv = {0, 0};
	n = select(s + 1, &rf, &wf, NULL, &tv);
	printf("select: %d r %d w %d\n", n, FD_ISSET(s, &rf), FD_ISSET(s, &wf));
	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	pf = (struct pollfd){.fd = u, .events = POLLIN | POLLOUT};
	n = poll(&pf, 1, 0);
	printf("poll unconnected: %d %s\n", n, evs(pf.revents));
	// A stream pair: fill one direction until EAGAIN, then POLLOUT goes.
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp);
	pf = (struct pollfd){.fd = sp[0], .events = POLLIN | POLLOUT};
	n = poll(&pf, 1, 0);
	printf("poll pair: %d %s\n", n, evs(pf.revents));
	char chunk[4096] = {0};
	long total = 0;
	while (write(sp[0], chunk, sizeof chunk) > 0)
		total += sizeof chunk;
	printf("filled: %s, some %d\n", strerrorname_np(errno), total > 0);
	pf.revents = 0;
	poll(&pf, 1, 0);
	printf("poll full: %s\n", evs(pf.revents));
	close(l);
	n = 0;
	for (int i = 1; i < k; i++) {
		char b;
		if (read(cs[i], &b, 1) < 0 && errno == ECONNRESET)
			n++;
		close(cs[i]);
	}
	printf("pending connections reset with the listener: %d\n", n);
	close(s), close(u), close(ep), close(sp[0]), close(sp[1]);
	// Edge-triggered: a backlog drained and refilled between two
	// epoll_waits is a new edge (Go's netpoller relies on it).
	socklen_t elen;
	struct sockaddr_un ea = abstract("edge", &elen);
	int el = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	bind(el, (struct sockaddr *)&ea, elen);
	listen(el, 4);
	int eep = epoll_create1(0);
	struct epoll_event eev = {.events = EPOLLIN | EPOLLET, .data.fd = el};
	epoll_ctl(eep, EPOLL_CTL_ADD, el, &eev);
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c1, (struct sockaddr *)&ea, elen);
	printf("ET first connection: %d\n", epoll_wait(eep, out, 4, 1000));
	close(accept(el, NULL, NULL));
	printf("ET drained: %s\n", en(accept(el, NULL, NULL)));
	connect(c2, (struct sockaddr *)&ea, elen);
	printf("ET refilled: %d\n", epoll_wait(eep, out, 4, 1000));
	printf("ET no new wake-up: %d\n", epoll_wait(eep, out, 4, 0));
	close(c1), close(c2), close(el), close(eep);
}

static void opts(void) {
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	int v;
	socklen_t l = sizeof v;
#define GET(name)                                                                        \
	do {                                                                             \
		l = sizeof v;                                                            \
		int r = getsockopt(s, SOL_SOCKET, name, &v, &l);                         \
		printf(#name ": %s %d len %d\n", en(r), r == 0 ? v : 0, (int)l);       \
	} while (0)
	GET(SO_TYPE);
	GET(SO_DOMAIN);
	GET(SO_PROTOCOL);
	GET(SO_ACCEPTCONN);
	GET(SO_ERROR);
	GET(SO_SNDBUF);
	GET(SO_RCVBUF);
	GET(SO_PASSCRED);
	GET(SO_REUSEADDR);
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &(int){10000}, sizeof(int));
	GET(SO_SNDBUF);
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &(int){1}, sizeof(int));
	GET(SO_SNDBUF);
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &(int){1}, sizeof(int));
	GET(SO_RCVBUF);
	// The buffer sizes are effective: a non-blocking stream send takes
	// what SO_SNDBUF admits, in Linux's steps.
	int nb[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, nb);
	char *big = calloc(1, 1 << 20);
	printf("non-blocking 1 MiB send: %zd\n", send(nb[0], big, 1 << 20, 0));
	setsockopt(nb[1], SOL_SOCKET, SO_SNDBUF, &(int){50000}, sizeof(int));
	printf("with SO_SNDBUF 50000: %zd\n", send(nb[1], big, 1 << 20, 0));
	free(big);
	close(nb[0]), close(nb[1]);
	rep("SO_REUSEADDR", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)));
	GET(SO_REUSEADDR);
	rep("setsockopt short", setsockopt(s, SOL_SOCKET, SO_PASSCRED, &(int){1}, 2));
	rep("setsockopt negative len", setsockopt(s, SOL_SOCKET, SO_PASSCRED, &(int){1}, -1));
	l = 2;
	v = 0;
	getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l);
	printf("getsockopt short: %d len %d\n", v, (int)l);
	l = -1;
	rep("getsockopt negative len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
	l = sizeof v;
	rep("getsockopt SOL_TCP", getsockopt(s, 6 /* IPPROTO_TCP */, 1, &v, &l));
	rep("getsockopt unknown", getsockopt(s, SOL_SOCKET, 9999, &v, &l));
	rep("SO_REUSEPORT", setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int)));
	struct timeval tv = {0, 200000};
	rep("SO_RCVTIMEO", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	tv = (struct timeval){0, 2000000};
	rep("SO_RCVTIMEO bad usec", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	rep("SO_RCVTIMEO short", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
	memset(&tv, 0, sizeof tv);
	l = sizeof tv;
	getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, &l);
	printf("SO_RCVTIMEO: %ld.%06ld len %d\n", (long)tv.tv_sec, (long)tv.tv_usec, (int)l);
	socklen_t alen;
	struct sockaddr_un a = abstract("opt", &alen);
	bind(s, (struct sockaddr *)&a, alen);
	char buf[8];
	printf("recv with timeout: %s\n", en(recv(s, buf, sizeof buf, 0)));
	int sp[2], sq[2];
	int *pairs[2] = {sp, sq};
	for (int i = 0; i < 2; i++) { // two writes queued: stream, then seqpacket
		int *p = pairs[i];
		socketpair(AF_UNIX, i == 0 ? SOCK_STREAM : SOCK_SEQPACKET, 0, p);
		write(p[0], "abc", 3);
		write(p[0], "de", 2);
		ioctl(p[1], FIONREAD, &v);
		printf("FIONREAD %s: %d\n", i == 0 ? "stream" : "seqpacket", v);
		if (i == 0) {
			ioctl(p[1], SIOCINQ, &v);
			printf("SIOCINQ stream: %d\n", v);
		}
	}
	recv(sp[1], buf, sizeof buf, 0);
	ioctl(sp[0], SIOCOUTQ, &v);
	printf("SIOCOUTQ drained: %d\n", v);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(ls, (struct sockaddr *)&(sa_family_t){AF_UNIX}, sizeof(sa_family_t));
	listen(ls, 1);
	l = sizeof v;
	getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &v, &l);
	printf("SO_ACCEPTCONN listener: %d\n", v);
	printf("FIONREAD listener: %s\n", en(ioctl(ls, FIONREAD, &v)));
	rep("socket bad type", socket(AF_UNIX, 9, 0));
	rep("socket bad proto", socket(AF_UNIX, SOCK_STREAM, 2));
	rep("socket bad flags", socket(AF_UNIX, SOCK_STREAM | 0x10000, 0));
	int raw = socket(AF_UNIX, SOCK_RAW, 0);
	l = sizeof v;
	getsockopt(raw, SOL_SOCKET, SO_TYPE, &v, &l);
	printf("SOCK_RAW is type %d\n", v);
	rep("socket family 200", socket(200, SOCK_STREAM, 0));
	rep("socketpair bad type", socketpair(AF_UNIX, 9, 0, sp));
	rep("getsockname not a socket", getsockname(0, (struct sockaddr *)&a, &alen));
	rep("getsockname bad fd", getsockname(99, (struct sockaddr *)&a, &alen));
	struct stat st;
	fstat(sq[0], &st);
	printf("fstat: sock %d\n", S_ISSOCK(st.st_mode));
	printf("lseek: %s\n", en(lseek(sq[0], 0, SEEK_SET)));
	close(s), close(sp[0]), close(sp[1]), close(sq[0]), close(sq[1]), close(ls), close(raw);
}

static void bindat(void) {
	socklen_t len;
	struct sockaddr_un sa = path("s", &len);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	rep("bind", bind(s, (struct sockaddr *)&sa, len));
	struct stat st;
	rep("stat", stat(sa.sun_path, &st));
	close(s);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: unix MODE DIR\n");
		return 2;
	}
	snprintf(dir, sizeof dir, "%s", argv[2]);
	const char *m = argv[1];
	if (!strcmp(m, "stream"))
		stream();
	else if (!strcmp(m, "dgram"))
		dgram();
	else if (!strcmp(m, "seqpacket"))
		seqpacket();
	else if (!strcmp(m, "rights"))
		rights();
	else if (!strcmp(m, "poll"))
		pollmode();
	else if (!strcmp(m, "opts"))
		opts();
	else if (!strcmp(m, "bindat"))
		bindat();
	else {
		fprintf(stderr, "unknown mode %s\n", m);
		return 2;
	}
	return 0;
}

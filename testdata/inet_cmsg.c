// inet_cmsg.c: ancillary data on UDP sockets over the loopback (issue
// 12): the options that ask for it (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS,
// IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS), the control
// messages recvmsg then delivers (levels, types, lengths, values, in
// order), MSG_CTRUNC with a short control buffer, and the sendmsg
// control messages a UDP socket checks (IP_TTL, IPV6_HOPLIMIT, bad ones
// EINVAL).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "guest_util.h"

static int on = 1;

// show prints every control message of m: level, type, cmsg_len, value.
static void show(struct msghdr *m) {
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		size_t n = c->cmsg_len - CMSG_LEN(0);
		printf("  cmsg level %d type %d len %zu:", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
		unsigned char *d = CMSG_DATA(c);
		char a[INET6_ADDRSTRLEN];
		if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO && n >= sizeof(struct in_pktinfo)) {
			struct in_pktinfo p;
			memcpy(&p, d, sizeof p);
			char b[INET_ADDRSTRLEN];
			printf(" ifindex %d spec_dst %s addr %s", p.ipi_ifindex, inet_ntop(AF_INET, &p.ipi_spec_dst, a, sizeof a),
			       inet_ntop(AF_INET, &p.ipi_addr, b, sizeof b));
		} else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_PKTINFO && n >= sizeof(struct in6_pktinfo)) {
			struct in6_pktinfo p;
			memcpy(&p, d, sizeof p);
			printf(" addr %s ifindex %d", inet_ntop(AF_INET6, &p.ipi6_addr, a, sizeof a), p.ipi6_ifindex);
		} else if (n == 4) {
			int v;
			memcpy(&v, d, 4);
			printf(" int %d", v);
		} else {
			for (size_t i = 0; i < n; i++)
				printf(" %02x", d[i]);
		}
		printf("\n");
	}
}

// roundtrip sends "hi" from tx to rx's address (with the control
// messages in sctl), receives it with a control buffer of clen bytes,
// and prints the result.
static void roundtrip(const char *what, int tx, int rx, struct sockaddr *to, socklen_t tolen, void *sctl, size_t slen,
		      size_t clen) {
	struct iovec v = {.iov_base = "hi", .iov_len = 2};
	struct msghdr sm = {.msg_name = to, .msg_namelen = tolen, .msg_iov = &v, .msg_iovlen = 1,
			    .msg_control = sctl, .msg_controllen = slen};
	long r = sendmsg(tx, &sm, 0);
	printf("%s: sendmsg %s\n", what, res(r));
	if (r < 0)
		return;
	char buf[16];
	union {
		char b[256];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec rv = {.iov_base = buf, .iov_len = sizeof buf};
	struct msghdr rm = {.msg_iov = &rv, .msg_iovlen = 1, .msg_control = clen ? ctl.b : NULL, .msg_controllen = clen};
	r = recvmsg(rx, &rm, 0);
	printf("  recvmsg %s controllen %zu ctrunc %d\n", res(r), (size_t)rm.msg_controllen, !!(rm.msg_flags & MSG_CTRUNC));
	show(&rm);
}

// int_cmsg sends "hi" with one int-valued control message (level, type,
// value v) and prints the round trip; short cuts the payload to n bytes.
static void int_cmsg(int tx, int rx, struct sockaddr *to, socklen_t tolen, int level, int type, const char *name, int v,
		     int n) {
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} sc;
	memset(&sc, 0, sizeof sc);
	struct cmsghdr *c = &sc.align;
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(n);
	memcpy(CMSG_DATA(c), &v, n);
	char what[48];
	if (n == sizeof(int))
		snprintf(what, sizeof what, "%s cmsg %d", name, v);
	else
		snprintf(what, sizeof what, "%s cmsg short", name);
	roundtrip(what, tx, rx, to, tolen, &sc, sizeof sc, 256);
}

static void getopt_show(int s, int level, int name, const char *label) {
	int v = -7;
	socklen_t l = sizeof v;
	long r = getsockopt(s, level, name, &v, &l);
	printf("getsockopt %s: %s %d\n", label, res(r), v);
}

static void v4(void) {
	printf("[ipv4]\n");
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	bind(rx, (struct sockaddr *)&a, sizeof a);
	getsockname(rx, (struct sockaddr *)&a, &al);
	getopt_show(rx, SOL_IP, IP_PKTINFO, "IP_PKTINFO before");
	roundtrip("no options", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 256);
	printf("setsockopt IP_PKTINFO: %s\n", res(setsockopt(rx, SOL_IP, IP_PKTINFO, &on, sizeof on)));
	printf("setsockopt IP_RECVTTL: %s\n", res(setsockopt(rx, SOL_IP, IP_RECVTTL, &on, sizeof on)));
	printf("setsockopt IP_RECVTOS: %s\n", res(setsockopt(rx, SOL_IP, IP_RECVTOS, &on, sizeof on)));
	getopt_show(rx, SOL_IP, IP_PKTINFO, "IP_PKTINFO");
	getopt_show(rx, SOL_IP, IP_RECVTTL, "IP_RECVTTL");
	getopt_show(rx, SOL_IP, IP_RECVTOS, "IP_RECVTOS");
	int tos = 0x20;
	printf("setsockopt IP_TOS 0x20: %s\n", res(setsockopt(tx, SOL_IP, IP_TOS, &tos, sizeof tos)));
	roundtrip("all three", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 256);
	roundtrip("control 40 bytes", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 40);
	roundtrip("control 20 bytes", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 20);
	roundtrip("control 8 bytes", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 8);
	roundtrip("no control buffer", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 0);

	int ttls[] = {7, 0, 256};
	for (int i = 0; i < 3; i++)
		int_cmsg(tx, rx, (struct sockaddr *)&a, al, SOL_IP, IP_TTL, "IP_TTL", ttls[i], sizeof(int));
	int_cmsg(tx, rx, (struct sockaddr *)&a, al, SOL_IP, IP_TTL, "IP_TTL", 0, 2);
	close(rx);
	close(tx);
}

static void v6(void) {
	printf("[ipv6]\n");
	int rx = socket(AF_INET6, SOCK_DGRAM, 0), tx = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
	socklen_t al = sizeof a;
	bind(rx, (struct sockaddr *)&a, sizeof a);
	getsockname(rx, (struct sockaddr *)&a, &al);
	getopt_show(rx, SOL_IPV6, IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT before");
	printf("setsockopt IPV6_RECVPKTINFO: %s\n", res(setsockopt(rx, SOL_IPV6, IPV6_RECVPKTINFO, &on, sizeof on)));
	printf("setsockopt IPV6_RECVHOPLIMIT: %s\n", res(setsockopt(rx, SOL_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on)));
	printf("setsockopt IPV6_RECVTCLASS: %s\n", res(setsockopt(rx, SOL_IPV6, IPV6_RECVTCLASS, &on, sizeof on)));
	getopt_show(rx, SOL_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO");
	getopt_show(rx, SOL_IPV6, IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT");
	getopt_show(rx, SOL_IPV6, IPV6_RECVTCLASS, "IPV6_RECVTCLASS");
	roundtrip("all three", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 256);
	int tc = 0x28;
	printf("setsockopt IPV6_TCLASS 0x28: %s\n", res(setsockopt(tx, SOL_IPV6, IPV6_TCLASS, &tc, sizeof tc)));
	getopt_show(tx, SOL_IPV6, IPV6_TCLASS, "IPV6_TCLASS");
	roundtrip("tclass set", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 256);
	roundtrip("control 40 bytes", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 40);
	roundtrip("control 50 bytes", tx, rx, (struct sockaddr *)&a, al, NULL, 0, 50);

	int hops[] = {9, -1, 255, 256, -2};
	for (int i = 0; i < 5; i++)
		int_cmsg(tx, rx, (struct sockaddr *)&a, al, SOL_IPV6, IPV6_HOPLIMIT, "IPV6_HOPLIMIT", hops[i], sizeof(int));
	int tcs[] = {256, -2};
	for (int i = 0; i < 2; i++)
		int_cmsg(tx, rx, (struct sockaddr *)&a, al, SOL_IPV6, IPV6_TCLASS, "IPV6_TCLASS", tcs[i], sizeof(int));
	int_cmsg(tx, rx, (struct sockaddr *)&a, al, SOL_IPV6, IPV6_HOPLIMIT, "IPV6_HOPLIMIT", 0, 1);
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} pc;
	memset(&pc, 0, sizeof pc);
	struct cmsghdr *c = &pc.align;
	c->cmsg_level = SOL_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
	struct in6_pktinfo pi = {.ipi6_addr = in6addr_loopback, .ipi6_ifindex = 0};
	memcpy(CMSG_DATA(c), &pi, sizeof pi);
	roundtrip("IPV6_PKTINFO cmsg ::1", tx, rx, (struct sockaddr *)&a, al, &pc, sizeof pc, 256);
	close(rx);
	close(tx);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	v4();
	v6();
	return 0;
}

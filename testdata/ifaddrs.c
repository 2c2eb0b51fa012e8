// ifaddrs.c: the interface side of the network (issue 12, point 2).
// getifaddrs, if_nametoindex, the SIOCGIF* ioctls on AF_UNIX and
// AF_NETLINK sockets, and a raw NETLINK_ROUTE client decoding
// RTM_GETLINK, RTM_GETADDR and RTM_GETROUTE dumps, acks and errors.
//
// Usage: ifaddrs lo | all. "lo" prints only what concerns the loopback
// interface, which is the same on every Linux machine (compared with a
// native run as an unprivileged user); "all" prints every interface (the
// sandbox's listing, asserted exactly by the test).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest_util.h"

static int only_lo;

static int shown(const char *name) { return !only_lo || strcmp(name, "lo") == 0; }
static int shown_index(int index) { return !only_lo || index == 1; }

static const char *fam(int f) {
	switch (f) {
	case AF_PACKET: return "packet";
	case AF_INET: return "inet";
	case AF_INET6: return "inet6";
	}
	return "?";
}

static void addr_str(const struct sockaddr *sa, char *buf, size_t n) {
	buf[0] = 0;
	if (!sa) {
		snprintf(buf, n, "-");
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, n);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, n);
	} else if (sa->sa_family == AF_PACKET) {
		const struct sockaddr_ll *ll = (const void *)sa;
		int o = snprintf(buf, n, "ll(index %d hatype %d halen %d", ll->sll_ifindex, ll->sll_hatype, ll->sll_halen);
		for (int i = 0; i < ll->sll_halen && i < 8; i++)
			o += snprintf(buf + o, n - o, "%s%02x", i ? ":" : " ", ll->sll_addr[i]);
		snprintf(buf + o, n - o, ")");
	} else {
		snprintf(buf, n, "family %d", sa->sa_family);
	}
}

static void list_ifaddrs(void) {
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) < 0) {
		printf("getifaddrs: %s\n", strerrorname_np(errno));
		return;
	}
	for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
		if (!shown(p->ifa_name))
			continue;
		char a[128], m[128], b[128];
		addr_str(p->ifa_addr, a, sizeof a);
		addr_str(p->ifa_netmask, m, sizeof m);
		addr_str((p->ifa_flags & IFF_BROADCAST) ? p->ifa_broadaddr : NULL, b, sizeof b);
		printf("ifaddr %s %s flags %#x addr %s mask %s brd %s\n", p->ifa_name,
		       p->ifa_addr ? fam(p->ifa_addr->sa_family) : "none", p->ifa_flags, a, m, b);
	}
	freeifaddrs(ifa);
}

static void names(void) {
	printf("if_nametoindex(lo) = %u\n", if_nametoindex("lo"));
	errno = 0;
	unsigned n = if_nametoindex("nosuchif");
	printf("if_nametoindex(nosuchif) = %u %s\n", n, strerrorname_np(errno));
	char name[IF_NAMESIZE];
	printf("if_indextoname(1) = %s\n", if_indextoname(1, name) ? name : strerrorname_np(errno));
	printf("if_indextoname(9999) = %s\n", if_indextoname(9999, name) ? name : strerrorname_np(errno));
	struct if_nameindex *ni = if_nameindex();
	if (!ni) {
		printf("if_nameindex: %s\n", strerrorname_np(errno));
		return;
	}
	for (struct if_nameindex *p = ni; p->if_index; p++)
		if (shown(p->if_name))
			printf("if_nameindex %u %s\n", p->if_index, p->if_name);
	if_freenameindex(ni);
}

static int do_ifreq(int s, unsigned long req, const char *name, struct ifreq *r) {
	memset(r, 0, sizeof *r);
	snprintf(r->ifr_name, sizeof r->ifr_name, "%s", name);
	return ioctl(s, req, r);
}

static void ioctls(const char *what, int s) {
	struct ifreq r;
	int rc;
	rc = do_ifreq(s, SIOCGIFFLAGS, "lo", &r);
	printf("%s SIOCGIFFLAGS lo: %s flags %#x\n", what, res(rc), rc ? 0 : (unsigned short)r.ifr_flags);
	rc = do_ifreq(s, SIOCGIFFLAGS, "lo:1", &r);
	printf("%s SIOCGIFFLAGS lo:1: %s name %s\n", what, res(rc), r.ifr_name);
	rc = do_ifreq(s, SIOCGIFFLAGS, "nosuchif", &r);
	printf("%s SIOCGIFFLAGS nosuchif: %s\n", what, res(rc));
	rc = do_ifreq(s, SIOCGIFINDEX, "lo", &r);
	printf("%s SIOCGIFINDEX lo: %s %d\n", what, res(rc), rc ? -1 : r.ifr_ifindex);
	rc = do_ifreq(s, SIOCGIFMTU, "lo", &r);
	printf("%s SIOCGIFMTU lo: %s %d\n", what, res(rc), rc ? -1 : r.ifr_mtu);
	rc = do_ifreq(s, SIOCGIFTXQLEN, "lo", &r);
	printf("%s SIOCGIFTXQLEN lo: %s %d\n", what, res(rc), rc ? -1 : r.ifr_qlen);
	rc = do_ifreq(s, SIOCGIFMETRIC, "lo", &r);
	printf("%s SIOCGIFMETRIC lo: %s %d\n", what, res(rc), rc ? -1 : r.ifr_metric);
	rc = do_ifreq(s, SIOCGIFHWADDR, "lo", &r);
	printf("%s SIOCGIFHWADDR lo: %s family %d bytes %02x%02x%02x%02x%02x%02x\n", what, res(rc),
	       r.ifr_hwaddr.sa_family, (unsigned char)r.ifr_hwaddr.sa_data[0], (unsigned char)r.ifr_hwaddr.sa_data[1],
	       (unsigned char)r.ifr_hwaddr.sa_data[2], (unsigned char)r.ifr_hwaddr.sa_data[3],
	       (unsigned char)r.ifr_hwaddr.sa_data[4], (unsigned char)r.ifr_hwaddr.sa_data[5]);
	rc = do_ifreq(s, SIOCGIFMTU, "nosuchif", &r);
	printf("%s SIOCGIFMTU nosuchif: %s\n", what, res(rc));
	// A name filling all of ifr_name without a NUL: cut at IFNAMSIZ-1.
	memset(&r, 'x', sizeof r.ifr_name);
	rc = ioctl(s, SIOCGIFFLAGS, &r);
	printf("%s SIOCGIFFLAGS unterminated name: %s\n", what, res(rc));
	memset(&r, 0, sizeof r);
	r.ifr_ifindex = 1;
	rc = ioctl(s, SIOCGIFNAME, &r);
	printf("%s SIOCGIFNAME 1: %s %s\n", what, res(rc), rc ? "" : r.ifr_name);
	r.ifr_ifindex = 9999;
	rc = ioctl(s, SIOCGIFNAME, &r);
	printf("%s SIOCGIFNAME 9999: %s\n", what, res(rc));
	// IPv4 address requests belong to AF_INET sockets.
	rc = do_ifreq(s, SIOCGIFADDR, "lo", &r);
	printf("%s SIOCGIFADDR lo: %s\n", what, res(rc));
	// Setters: an unprivileged user may not, whatever the device.
	rc = do_ifreq(s, SIOCSIFFLAGS, "lo", &r);
	printf("%s SIOCSIFFLAGS lo: %s\n", what, res(rc));
	rc = do_ifreq(s, SIOCSIFMTU, "nosuchif", &r);
	printf("%s SIOCSIFMTU nosuchif: %s\n", what, res(rc));
	rc = do_ifreq(s, SIOCSIFNAME, "lo", &r);
	printf("%s SIOCSIFNAME lo: %s\n", what, res(rc));
	rc = do_ifreq(s, SIOCSIFADDR, "lo", &r);
	printf("%s SIOCSIFADDR lo: %s\n", what, res(rc));
	// Bad pointers.
	rc = ioctl(s, SIOCGIFFLAGS, (void *)8);
	printf("%s SIOCGIFFLAGS bad pointer: %s\n", what, res(rc));
	rc = ioctl(s, SIOCGIFCONF, (void *)8);
	printf("%s SIOCGIFCONF bad pointer: %s\n", what, res(rc));

	// SIOCGIFCONF: one ifreq per IPv4 address; the size without a buffer.
	struct ifconf c = {0};
	rc = ioctl(s, SIOCGIFCONF, &c);
	int need = c.ifc_len;
	if (!only_lo)
		printf("%s SIOCGIFCONF size: %s %d\n", what, res(rc), need);
	struct ifreq reqs[16];
	c.ifc_len = sizeof reqs;
	c.ifc_req = reqs;
	rc = ioctl(s, SIOCGIFCONF, &c);
	printf("%s SIOCGIFCONF: %s whole %d\n", what, res(rc), c.ifc_len % (int)sizeof(struct ifreq) == 0);
	for (int i = 0; rc == 0 && i < c.ifc_len / (int)sizeof(struct ifreq); i++) {
		if (!shown(reqs[i].ifr_name))
			continue;
		char a[64];
		addr_str(&reqs[i].ifr_addr, a, sizeof a);
		printf("%s SIOCGIFCONF entry %s %s\n", what, reqs[i].ifr_name, a);
	}
	// Hostile lengths: too short for one entry, negative, huge with a
	// buffer that cannot take it.
	c.ifc_len = sizeof(struct ifreq) - 1;
	rc = ioctl(s, SIOCGIFCONF, &c);
	printf("%s SIOCGIFCONF short: %s %d\n", what, res(rc), c.ifc_len);
	c.ifc_len = -1000;
	rc = ioctl(s, SIOCGIFCONF, &c);
	printf("%s SIOCGIFCONF negative: %s %d\n", what, res(rc), c.ifc_len);
	c.ifc_len = 0x7fffffff;
	c.ifc_buf = (char *)8;
	rc = ioctl(s, SIOCGIFCONF, &c);
	printf("%s SIOCGIFCONF huge bad buffer: %s\n", what, res(rc));
}

// The raw netlink client.
static int nl;
static uint32_t nlpid;

static void nl_send(int type, int flags, uint32_t seq, const void *body, size_t len) {
	char buf[256] = {0};
	struct nlmsghdr *h = (void *)buf;
	h->nlmsg_len = NLMSG_LENGTH(len);
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	h->nlmsg_seq = seq;
	memcpy(NLMSG_DATA(h), body, len);
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	ssize_t n = sendto(nl, buf, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to);
	if (n != (ssize_t)h->nlmsg_len)
		printf("send type %d: %s\n", type, res(n));
}

static void attr_addr(const char *name, struct rtattr *a, int family) {
	char s[64];
	inet_ntop(family, RTA_DATA(a), s, sizeof s);
	printf(" %s %s", name, s);
}

// print_msg decodes one message; it returns 1 at the end of a reply.
static int print_msg(struct nlmsghdr *h, uint32_t seq) {
	if (h->nlmsg_seq != seq || h->nlmsg_pid != nlpid) {
		printf("  foreign message seq %u pid %u\n", h->nlmsg_seq, h->nlmsg_pid);
		return 0;
	}
	if (h->nlmsg_type == NLMSG_DONE) {
		printf("  DONE multi %d error %d len %u\n", !!(h->nlmsg_flags & NLM_F_MULTI), *(int *)NLMSG_DATA(h),
		       h->nlmsg_len);
		return 1;
	}
	if (h->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(h);
		printf("  ERROR %s capped %d len %u echo type %d seq %u\n", e->error ? strerrorname_np(-e->error) : "0",
		       !!(h->nlmsg_flags & NLM_F_CAPPED), h->nlmsg_len, e->msg.nlmsg_type, e->msg.nlmsg_seq);
		return 1;
	}
	int multi = !!(h->nlmsg_flags & NLM_F_MULTI);
	if (h->nlmsg_type == RTM_NEWLINK) {
		struct ifinfomsg *i = NLMSG_DATA(h);
		if (!shown_index(i->ifi_index))
			return 0;
		printf("  LINK multi %d index %d type %d flags %#x", multi, i->ifi_index, i->ifi_type, i->ifi_flags);
		int len = IFLA_PAYLOAD(h);
		for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			unsigned char *d = RTA_DATA(a);
			switch (a->rta_type) {
			case IFLA_IFNAME: printf(" name %s", (char *)d); break;
			case IFLA_MTU: printf(" mtu %u", *(uint32_t *)d); break;
			case IFLA_TXQLEN: printf(" txqlen %u", *(uint32_t *)d); break;
			case IFLA_OPERSTATE: printf(" operstate %u", d[0]); break;
			case IFLA_ADDRESS:
			case IFLA_BROADCAST:
				printf(" %s", a->rta_type == IFLA_ADDRESS ? "address" : "broadcast");
				for (int k = 0; k < (int)RTA_PAYLOAD(a); k++)
					printf("%s%02x", k ? ":" : " ", d[k]);
				break;
			}
		}
		printf("\n");
	} else if (h->nlmsg_type == RTM_NEWADDR) {
		struct ifaddrmsg *i = NLMSG_DATA(h);
		if (!shown_index(i->ifa_index))
			return 0;
		printf("  ADDR multi %d %s/%d flags %#x scope %d index %d", multi, fam(i->ifa_family), i->ifa_prefixlen,
		       i->ifa_flags, i->ifa_scope, i->ifa_index);
		int len = IFA_PAYLOAD(h);
		for (struct rtattr *a = IFA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			switch (a->rta_type) {
			case IFA_ADDRESS: attr_addr("address", a, i->ifa_family); break;
			case IFA_LOCAL: attr_addr("local", a, i->ifa_family); break;
			case IFA_BROADCAST: attr_addr("broadcast", a, i->ifa_family); break;
			case IFA_LABEL: printf(" label %s", (char *)RTA_DATA(a)); break;
			case IFA_FLAGS: printf(" ifa_flags %#x", *(uint32_t *)RTA_DATA(a)); break;
			}
		}
		printf("\n");
	} else if (h->nlmsg_type == RTM_NEWROUTE) {
		struct rtmsg *r = NLMSG_DATA(h);
		int len = RTM_PAYLOAD(h), oif = 0;
		char dst[64] = "default";
		for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			if (a->rta_type == RTA_OIF)
				oif = *(int *)RTA_DATA(a);
			if (a->rta_type == RTA_DST)
				inet_ntop(r->rtm_family, RTA_DATA(a), dst, sizeof dst);
		}
		// On lo, only the routes every Linux has and the sandbox's stack
		// too, in the local table: 127.0.0.0/8 and ::1.
		if (only_lo && !(oif == 1 && r->rtm_table == RT_TABLE_LOCAL &&
		                 ((r->rtm_family == AF_INET && r->rtm_dst_len == 8) ||
		                  (r->rtm_family == AF_INET6 && strcmp(dst, "::1") == 0))))
			return 0;
		printf("  ROUTE multi %d %s %s/%d table %d proto %d scope %d type %d", multi, fam(r->rtm_family), dst,
		       r->rtm_dst_len, r->rtm_table, r->rtm_protocol, r->rtm_scope, r->rtm_type);
		len = RTM_PAYLOAD(h);
		for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			switch (a->rta_type) {
			case RTA_TABLE: printf(" rta_table %u", *(uint32_t *)RTA_DATA(a)); break;
			case RTA_GATEWAY: attr_addr("gateway", a, r->rtm_family); break;
			case RTA_PREFSRC: attr_addr("prefsrc", a, r->rtm_family); break;
			case RTA_OIF: printf(" oif %d", *(int *)RTA_DATA(a)); break;
			case RTA_PRIORITY: printf(" metric %u", *(uint32_t *)RTA_DATA(a)); break;
			}
		}
		printf("\n");
	} else {
		printf("  type %d\n", h->nlmsg_type);
	}
	return 0;
}

// nl_recv reads datagrams until the reply to seq ends (or after
// datagrams of them), sizing each with MSG_PEEK|MSG_TRUNC first as
// libraries do.
static void nl_recv(uint32_t seq, int datagrams) {
	for (int guard = 0; guard < datagrams; guard++) {
		ssize_t want = recv(nl, NULL, 0, MSG_PEEK | MSG_TRUNC);
		if (want < 0) {
			printf("  peek: %s\n", strerrorname_np(errno));
			return;
		}
		char *buf = malloc(want);
		struct sockaddr_nl from;
		struct iovec iov = {buf, want};
		struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(nl, &mh, 0);
		if (n != want || from.nl_pid != 0 || mh.msg_namelen != sizeof from || (mh.msg_flags & MSG_TRUNC))
			printf("  recvmsg %zd of %zd from pid %u namelen %u flags %#x\n", n, want, from.nl_pid, mh.msg_namelen,
			       mh.msg_flags);
		int end = 0;
		int len = n;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
			end |= print_msg(h, seq);
		free(buf);
		if (end)
			return;
	}
}

static void nl_recv_reply(uint32_t seq) { nl_recv(seq, 64); }

static void netlink_client(void) {
	printf("socket(AF_NETLINK, SOCK_STREAM): %s\n", res(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE)));
	printf("socket(AF_NETLINK, SOCK_RAW, 99): %s\n", res(socket(AF_NETLINK, SOCK_RAW, 99)));
	int sv[2];
	printf("socketpair(AF_NETLINK): %s\n", res(socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sv)));
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0) {
		printf("socket: %s\n", strerrorname_np(errno));
		return;
	}
	struct sockaddr_nl sa = {0};
	socklen_t sl = sizeof sa;
	int rc = getsockname(nl, (struct sockaddr *)&sa, &sl);
	printf("getsockname unbound: %s len %u family %d pid %u\n", res(rc), sl, sa.nl_family, sa.nl_pid);
	sa = (struct sockaddr_nl){.nl_family = AF_NETLINK};
	printf("bind short: %s\n", res(bind(nl, (struct sockaddr *)&sa, 4)));
	sa.nl_family = AF_UNIX;
	printf("bind wrong family: %s\n", res(bind(nl, (struct sockaddr *)&sa, sizeof sa)));
	sa.nl_family = AF_NETLINK;
	printf("bind pid 0: %s\n", res(bind(nl, (struct sockaddr *)&sa, sizeof sa)));
	sl = sizeof sa;
	getsockname(nl, (struct sockaddr *)&sa, &sl);
	nlpid = sa.nl_pid;
	printf("getsockname: len %u pid is getpid %d\n", sl, nlpid == (uint32_t)getpid());
	sa.nl_pid = nlpid + 1;
	printf("bind another pid when bound: %s\n", res(bind(nl, (struct sockaddr *)&sa, sizeof sa)));
	int other = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
	sa.nl_pid = nlpid;
	printf("bind a taken pid: %s\n", res(bind(other, (struct sockaddr *)&sa, sizeof sa)));
	sa.nl_pid = 0x7ffff123;
	printf("bind a free pid: %s\n", res(bind(other, (struct sockaddr *)&sa, sizeof sa)));
	close(other);
	other = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
	sa.nl_pid = 1;
	printf("sendto another port: %s\n", res(sendto(other, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa)));
	printf("connect another port: %s\n", res(connect(other, (struct sockaddr *)&sa, sizeof sa)));
	close(other);
	printf("listen: %s\n", res(listen(nl, 1)));
	printf("recv empty nonblock: %s\n", res(recv(nl, &sa, sizeof sa, MSG_DONTWAIT)));

	struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
	printf("RTM_GETLINK dump:\n");
	nl_send(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 100, &g, sizeof g);
	nl_recv_reply(100);
	printf("RTM_GETADDR dump:\n");
	nl_send(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 101, &g, sizeof g);
	nl_recv_reply(101);
	printf("RTM_GETADDR dump inet6:\n");
	g.rtgen_family = AF_INET6;
	nl_send(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 102, &g, sizeof g);
	nl_recv_reply(102);
	printf("RTM_GETROUTE dump:\n");
	g.rtgen_family = AF_UNSPEC;
	nl_send(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 103, &g, sizeof g);
	nl_recv_reply(103);

	struct ifinfomsg ii = {.ifi_index = 1};
	printf("RTM_GETLINK 1 with ack:\n");
	nl_send(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 104, &ii, sizeof ii);
	nl_recv_reply(104);
	printf("RTM_GETLINK 9999:\n");
	ii.ifi_index = 9999;
	nl_send(RTM_GETLINK, NLM_F_REQUEST, 105, &ii, sizeof ii);
	nl_recv_reply(105);
	printf("RTM_GETLINK without index or name:\n");
	ii.ifi_index = 0;
	nl_send(RTM_GETLINK, NLM_F_REQUEST, 106, &ii, sizeof ii);
	nl_recv_reply(106);
	printf("RTM_GETLINK by name:\n");
	struct {
		struct ifinfomsg i;
		struct rtattr a;
		char name[4];
	} byname = {.a = {.rta_len = RTA_LENGTH(3), .rta_type = IFLA_IFNAME}, .name = "lo"};
	nl_send(RTM_GETLINK, NLM_F_REQUEST, 107, &byname, sizeof byname);
	nl_recv(107, 1); // one message, no ack

	struct {
		struct ifaddrmsg ifa;
		struct rtattr a;
		unsigned char addr[4];
	} add = {.ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 8, .ifa_index = 1},
	         .a = {.rta_len = RTA_LENGTH(4), .rta_type = IFA_LOCAL}, .addr = {127, 0, 0, 9}};
	printf("RTM_NEWADDR:\n");
	nl_send(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, 108, &add, sizeof add);
	nl_recv_reply(108);
	printf("RTM_NEWROUTE:\n");
	struct rtmsg rt = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN};
	nl_send(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE, 109, &rt, sizeof rt);
	nl_recv_reply(109);
	printf("RTM_DELLINK:\n");
	ii.ifi_index = 1;
	nl_send(RTM_DELLINK, NLM_F_REQUEST, 110, &ii, sizeof ii);
	nl_recv_reply(110);
	printf("type past RTM_MAX:\n");
	nl_send(RTM_MAX + 1, NLM_F_REQUEST, 111, &g, sizeof g);
	nl_recv_reply(111);
	printf("not a request, with ack:\n");
	nl_send(RTM_GETLINK, NLM_F_ACK, 112, &g, sizeof g);
	nl_recv_reply(112);

	// A short buffer: the datagram is cut (MSG_TRUNC) and gone.
	nl_send(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 113, &g, sizeof g);
	char small[16];
	struct iovec iov = {small, sizeof small};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = recvmsg(nl, &mh, 0);
	printf("short recvmsg: %zd trunc %d\n", n, !!(mh.msg_flags & MSG_TRUNC));
	// The rest of the dump (how many datagrams depends on the
	// interfaces), then NLMSG_DONE alone.
	int done = 0;
	for (int i = 0; i < 64 && !done; i++) {
		n = recv(nl, small, sizeof small, MSG_TRUNC | MSG_DONTWAIT);
		done = n == NLMSG_LENGTH(sizeof(int)) && ((struct nlmsghdr *)small)->nlmsg_type == NLMSG_DONE;
		if (n < 0)
			break;
	}
	printf("then DONE alone: %d\n", done);
	printf("then empty: %s\n", res(recv(nl, small, sizeof small, MSG_DONTWAIT)));
	int v = 0;
	socklen_t vl = sizeof v;
	getsockopt(nl, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
	printf("SO_PROTOCOL %d\n", v);
	vl = sizeof v;
	getsockopt(nl, SOL_SOCKET, SO_TYPE, &v, &vl);
	printf("SO_TYPE %d\n", v);
	int one = 1;
	printf("NETLINK_CAP_ACK: %s\n", res(setsockopt(nl, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one)));
	printf("RTM_GETLINK 9999 capped:\n");
	ii.ifi_index = 9999;
	nl_send(RTM_GETLINK, NLM_F_REQUEST, 114, &ii, sizeof ii);
	nl_recv_reply(114);
	close(nl);
}

int main(int argc, char **argv) {
	only_lo = argc > 1 && strcmp(argv[1], "lo") == 0;
	if (geteuid() == 0) {
		// The setter cases would change a real machine's interfaces.
		fprintf(stderr, "ifaddrs: refusing to run as root\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	list_ifaddrs();
	names();
	int u = socket(AF_UNIX, SOCK_DGRAM, 0);
	ioctls("unix", u);
	close(u);
	int n = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
	ioctls("netlink", n);
	close(n);
	struct ifreq r;
	int fd = open("/dev/null", O_RDONLY);
	printf("file SIOCGIFFLAGS: %s\n", res(do_ifreq(fd, SIOCGIFFLAGS, "lo", &r)));
	close(fd);
	netlink_client();
	return 0;
}

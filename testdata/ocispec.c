// ocispec.c: what an OCI spec's process settings look like from inside:
// every resource limit (getrlimit and prlimit64 on itself), the capability
// sets (/proc/self/status, capget, the bounding set by prctl), ambient
// capabilities, no_new_privs, the umask, the ids and groups, and the
// limits at work (descriptors up to RLIMIT_NOFILE, a write past
// RLIMIT_FSIZE, dropping a capability with capset). The test runs it
// natively under prlimit and setpriv and in litebox from a translated
// config.json, and compares the output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *names[] = {
	"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
	"MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME",
};

static void limit(const char *what, unsigned long long v) {
	if (v == (unsigned long long)RLIM_INFINITY)
		printf(" %s=unlimited", what);
	else
		printf(" %s=%llu", what, v);
}

static void status_caps(void) {
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) {
		printf("status: %s\n", strerrorname_np(errno));
		return;
	}
	char line[256];
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Uid", 3) ||
		    !strncmp(line, "Gid", 3) || !strncmp(line, "Groups", 6) || !strncmp(line, "Umask", 5))
			fputs(line, stdout);
	fclose(f);
}

static void capget_self(const char *when) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0) {
		printf("capget %s: %s\n", when, strerrorname_np(errno));
		return;
	}
	printf("capget %s: eff=%08x%08x prm=%08x%08x inh=%08x%08x\n", when, d[1].effective, d[0].effective,
	       d[1].permitted, d[0].permitted, d[1].inheritable, d[0].inheritable);
}

int main(void) {
	for (int r = 0; r < 16; r++) {
		struct rlimit l;
		struct rlimit64 p;
		printf("%s:", names[r]);
		if (getrlimit(r, &l) < 0) {
			printf(" getrlimit %s\n", strerrorname_np(errno));
			continue;
		}
		limit("soft", l.rlim_cur);
		limit("hard", l.rlim_max);
		if (prlimit64(0, r, NULL, &p) < 0)
			printf(" prlimit %s", strerrorname_np(errno));
		else if (p.rlim_cur != l.rlim_cur || p.rlim_max != l.rlim_max)
			printf(" prlimit differs");
		printf("\n");
	}
	status_caps();
	capget_self("start");
	printf("bounding:");
	for (int c = 0; c <= 40; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			printf(" %d", c);
	printf("\nambient:");
	for (int c = 0; c <= 40; c++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			printf(" %d", c);
	printf("\nno_new_privs=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	mode_t m = umask(0);
	umask(m);
	printf("umask=%04o uid=%d gid=%d", m, getuid(), getgid());
	gid_t groups[64];
	int n = getgroups(64, groups);
	printf(" groups=");
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", groups[i]);
	printf("\n");

	// Descriptors: open until EMFILE, report the last one (fds 0-2 are
	// the stdio).
	int last = -1, fd;
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		last = fd;
	printf("nofile: last fd %d, then %s\n", last, strerrorname_np(errno));
	for (int i = 3; i <= last; i++)
		close(i);

	// A write past RLIMIT_FSIZE: EFBIG (SIGXFSZ ignored).
	signal(SIGXFSZ, SIG_IGN);
	char path[] = "/tmp/ocispec-fsize-XXXXXX";
	int f = mkstemp(path);
	if (f < 0) {
		printf("mkstemp: %s\n", strerrorname_np(errno));
	} else {
		char buf[8192] = {0};
		ssize_t w = write(f, buf, sizeof buf);
		printf("fsize: write %s", w < 0 ? strerrorname_np(errno) : "");
		if (w >= 0)
			printf("%zd", w);
		w = write(f, buf, sizeof buf);
		printf(", then %s", w < 0 ? strerrorname_np(errno) : "");
		if (w >= 0)
			printf("%zd", w);
		printf("\n");
		close(f);
		unlink(path);
	}

	// Dropping every capability but CAP_KILL from the effective and
	// permitted sets, then raising one back (EPERM).
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{0}};
	d[0].effective = d[0].permitted = 1u << CAP_KILL;
	printf("capset drop: %s\n", syscall(SYS_capset, &h, d) < 0 ? strerrorname_np(errno) : "ok");
	capget_self("dropped");
	d[0].effective = d[0].permitted = 1u << CAP_KILL | 1u << CAP_CHOWN;
	printf("capset raise: %s\n", syscall(SYS_capset, &h, d) < 0 ? strerrorname_np(errno) : "ok");

	// The ambient set after the drop (inheritable is empty now), and the
	// ambient and bounding calls' rules.
	printf("ambient kill after capset: %d\n", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
	printf("ambient raise kill: %s\n",
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) < 0 ? strerrorname_np(errno) : "ok");
	printf("ambient lower kill: %s\n",
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_KILL, 0, 0) < 0 ? strerrorname_np(errno) : "ok");
	printf("ambient clear all: %s\n",
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ? strerrorname_np(errno) : "ok");
	printf("ambient bad op: %s\n", prctl(PR_CAP_AMBIENT, 99, 0, 0, 0) < 0 ? strerrorname_np(errno) : "ok");
	printf("ambient bad cap: %s\n",
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0) < 0 ? strerrorname_np(errno) : "ok");
	printf("bounding drop kill: %s\n", prctl(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0) < 0 ? strerrorname_np(errno) : "ok");
	printf("bounding read 99: %s\n", prctl(PR_CAPBSET_READ, 99, 0, 0, 0) < 0 ? strerrorname_np(errno) : "ok");
	return 0;
}

// cred: the identity calls and the permission checks that follow them.
//
//   cred unpriv DIR   as an unprivileged user (no supplementary groups):
//                     every change beyond its own ids is refused
//   cred root DIR     as root (no supplementary groups, no_new_privs, as
//                     the guest always has): groups, fs ids, the
//                     capability rules of the set*id calls, exec
//
// DIR must not exist; its parent must be writable by the user. The output
// is compared with a native run as the same user (setpriv).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errname(int e) {
	switch (e) {
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

// TRY prints a call, its result and, when it failed, the errno's name.
#define TRY(expr)                                                            \
	do {                                                                 \
		errno = 0;                                                   \
		long r_ = (long)(expr);                                      \
		if (r_ == -1 && errno)                                       \
			printf("%s = -1 %s\n", #expr, errname(errno));       \
		else                                                         \
			printf("%s = %ld\n", #expr, r_);                     \
		fflush(stdout);                                              \
	} while (0)

static void ids(const char *tag) {
	uid_t r, e, s;
	gid_t gr, ge, gs;
	gid_t g[64];
	syscall(SYS_getresuid, &r, &e, &s);
	syscall(SYS_getresgid, &gr, &ge, &gs);
	// setfsuid(-1) changes nothing and returns the fs id.
	long fsu = syscall(SYS_setfsuid, -1), fsg = syscall(SYS_setfsgid, -1);
	long n = syscall(SYS_getgroups, 64, g);
	printf("%s: uid %u/%u/%u/%ld gid %u/%u/%u/%ld get*id %u %u %u %u groups [", tag, r, e, s, fsu, gr, ge,
	       gs, fsg, (unsigned)getuid(), (unsigned)geteuid(), (unsigned)getgid(), (unsigned)getegid());
	for (long i = 0; i < n; i++)
		printf("%s%u", i ? " " : "", g[i]);
	printf("]\n");
	fflush(stdout);
}

static void owner(const char *path) {
	struct stat st;
	if (lstat(path, &st) != 0) {
		printf("stat %s: %s\n", strrchr(path, '/') + 1, errname(errno));
		return;
	}
	printf("%s: owner %u:%u mode %04o\n", strrchr(path, '/') + 1, st.st_uid, st.st_gid, st.st_mode & 07777);
	fflush(stdout);
}

static char dir[4096], path[4200];

static const char *in(const char *name) {
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static void create(const char *name, mode_t mode) {
	mode_t old = umask(0);
	int fd = open(in(name), O_WRONLY | O_CREAT | O_EXCL, mode);
	umask(old);
	if (fd < 0) {
		printf("create %s: %s\n", name, errname(errno));
		return;
	}
	close(fd);
	owner(in(name));
}

// opened reports whether name can be opened with flags.
static void opened(const char *name, int flags) {
	int fd = open(in(name), flags);
	printf("open %s %s: %s\n", name, flags == O_RDONLY ? "r" : "w", fd >= 0 ? "ok" : errname(errno));
	if (fd >= 0)
		close(fd);
	fflush(stdout);
}

// child runs fn in a child process and reports how it ended and the uid
// its SIGCHLD names.
static void child(void (*fn)(void)) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	siginfo_t si;
	memset(&si, 0, sizeof si);
	waitid(P_PID, pid, &si, WEXITED);
	printf("child exited %d, si_uid %u\n", si.si_status, (unsigned)si.si_uid);
	fflush(stdout);
}

static char *self;

// execself runs this program again as "exec", which prints its ids and
// auxv entries.
static void execself(void) {
	fflush(stdout);
	char *argv[] = {self, "exec", NULL};
	execv(self, argv);
	printf("execv: %s\n", errname(errno));
}

static void showexec(void) {
	ids("after exec");
	printf("auxv uid %lu euid %lu gid %lu egid %lu secure %lu\n", getauxval(AT_UID), getauxval(AT_EUID),
	       getauxval(AT_GID), getauxval(AT_EGID), getauxval(AT_SECURE));
}

static void unpriv(void) {
	gid_t g[4] = {0};
	uid_t u = getuid();
	gid_t gid = getgid();
	TRY(syscall(SYS_getgroups, 0, NULL));
	TRY(syscall(SYS_getgroups, -1, g));
	TRY(syscall(SYS_setgroups, 0, NULL));
	TRY(syscall(SYS_setgroups, 65537, g));
	TRY(syscall(SYS_setuid, 0));
	TRY(syscall(SYS_setuid, -1));
	TRY(syscall(SYS_setuid, u));
	TRY(syscall(SYS_setreuid, -1, -1));
	TRY(syscall(SYS_setreuid, 0, -1));
	TRY(syscall(SYS_setreuid, -1, 0));
	TRY(syscall(SYS_setreuid, u, u));
	TRY(syscall(SYS_setresuid, -1, -1, -1));
	TRY(syscall(SYS_setresuid, -1, 0, -1));
	TRY(syscall(SYS_setresuid, u, u, u));
	TRY(syscall(SYS_setfsuid, 0));
	TRY(syscall(SYS_setgid, 0));
	TRY(syscall(SYS_setgid, -1));
	TRY(syscall(SYS_setgid, gid));
	TRY(syscall(SYS_setregid, -1, -1));
	TRY(syscall(SYS_setregid, 0, -1));
	TRY(syscall(SYS_setresgid, -1, -1, 0));
	TRY(syscall(SYS_setfsgid, 0));
	TRY(syscall(SYS_getresuid, (void *)8, (void *)8, (void *)8));
	ids("after refusals");

	create("f", 0644);
	TRY(chown(in("f"), -1, -1));
	TRY(chown(in("f"), u, gid));
	TRY(chown(in("f"), 0, -1));
	TRY(chown(in("f"), -1, 0));
	TRY(lchown(in("f"), u, -1));
	owner(in("f"));
	TRY(chmod(in("f"), 0));
	opened("f", O_RDONLY);
	TRY(access(in("f"), R_OK));
	TRY(chmod(in("f"), 0604));
	opened("f", O_RDONLY);
	opened("f", O_WRONLY);
	child(execself);
}

static void rootChildIDs(void) {
	TRY(syscall(SYS_setresuid, 1000, 2000, 3000));
	ids("child");
	TRY(syscall(SYS_setuid, 0));
	TRY(syscall(SYS_setgroups, 0, NULL));
	TRY(syscall(SYS_setreuid, 3000, -1));
	TRY(syscall(SYS_setuid, 3000));
	ids("child setuid(3000)");
	TRY(syscall(SYS_setfsuid, 2000));
	TRY(syscall(SYS_setfsuid, 1000));
	ids("child setfsuid(1000)");
	TRY(syscall(SYS_setreuid, 3000, -1));
	ids("child setreuid(3000, -1)");
	create("by3000", 0600);
	opened("f0", O_RDONLY);
	TRY(kill(getppid(), 0));
	TRY(kill(getppid(), SIGCONT));
	TRY(kill(getpid(), 0));
	execself();
}

static void rootChildSeteuid(void) {
	// Real root, effective 1000: exec under no_new_privs gives the real
	// ids back as effective ones.
	TRY(syscall(SYS_setresuid, -1, 1000, -1));
	ids("seteuid(1000)");
	execself();
}

static void rootChildSaved(void) {
	// Saved root only: exec loses it.
	TRY(syscall(SYS_setresgid, 1000, 1000, 0));
	TRY(syscall(SYS_setresuid, 1000, 1000, 0));
	execself();
}

static void root(void) {
	gid_t g[65538];
	printf("no_new_privs %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	for (int i = 0; i < 65538; i++)
		g[i] = i + 100;
	TRY(syscall(SYS_setgroups, 65537, g));
	TRY(syscall(SYS_setgroups, -1, g));
	TRY(syscall(SYS_setgroups, 1, (void *)8));
	g[0] = 30, g[1] = 10, g[2] = -1;
	TRY(syscall(SYS_setgroups, 3, g));
	g[2] = 20;
	TRY(syscall(SYS_setgroups, 3, g));
	TRY(syscall(SYS_getgroups, 2, g));
	TRY(syscall(SYS_getgroups, 0, g));
	ids("setgroups 30 10 20");
	TRY(syscall(SYS_setgroups, 65536, g + 3));
	TRY(syscall(SYS_getgroups, 0, NULL));
	TRY(syscall(SYS_setgroups, 0, NULL));
	ids("setgroups none");

	TRY(chmod(dir, 0777));
	create("f0", 0);
	opened("f0", O_RDONLY);
	opened("f0", O_WRONLY);
	TRY(access(in("f0"), X_OK));
	TRY(chmod(in("f0"), 0100));
	TRY(access(in("f0"), X_OK));
	TRY(chown(in("f0"), 1234, 5678));
	owner(in("f0"));
	create("suid", 06755);
	TRY(chown(in("suid"), 1, 1));
	owner(in("suid"));
	create("sgid", 02745);
	TRY(chown(in("sgid"), -1, -1));
	owner(in("sgid"));

	// The fs uid alone: as 1234, the owner of f0 (mode 0100) may not read
	// it, and the file-system capabilities are gone.
	TRY(syscall(SYS_setfsuid, 1234));
	ids("setfsuid(1234)");
	opened("f0", O_RDONLY);
	TRY(syscall(SYS_setfsuid, 0));
	opened("f0", O_RDONLY);

	// The effective uid: access() checks with the real one.
	TRY(syscall(SYS_setresuid, -1, 1234, -1));
	ids("seteuid(1234)");
	opened("f0", O_RDONLY);
	TRY(access(in("f0"), R_OK));
	TRY(faccessat(AT_FDCWD, in("f0"), R_OK, AT_EACCESS));
	TRY(chown(in("f0"), 0, -1));
	create("by1234", 0644);
	TRY(syscall(SYS_setresuid, -1, 0, -1));
	ids("seteuid(0)");
	TRY(chown(in("by1234"), 0, 0));
	owner(in("by1234"));

	TRY(chmod(in("f0"), 0));
	child(rootChildIDs);
	child(rootChildSeteuid);
	child(rootChildSaved);
	owner(in("by3000"));

	TRY(syscall(SYS_setgid, 5));
	ids("setgid(5)");
	TRY(syscall(SYS_setreuid, 7, 8));
	ids("setreuid(7, 8)");
	TRY(syscall(SYS_setuid, 0));
	TRY(syscall(SYS_setreuid, -1, 7));
	ids("setreuid(-1, 7)");
	TRY(syscall(SYS_setuid, 8));
	ids("setuid(8)");
}

int main(int argc, char **argv) {
	self = argv[0];
	if (argc == 2 && strcmp(argv[1], "exec") == 0) {
		showexec();
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: cred unpriv|root DIR\n");
		return 2;
	}
	snprintf(dir, sizeof dir, "%s", argv[2]);
	if (mkdir(dir, 0755) != 0) {
		perror("mkdir");
		return 1;
	}
	ids("start");
	if (strcmp(argv[1], "unpriv") == 0)
		unpriv();
	else
		root();
	ids("end");
	return 0;
}

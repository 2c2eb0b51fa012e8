// dentry MODE DIR: working directories, directory descriptors and open
// files follow renames of the directories above them, as on Linux: the
// kernel holds references (dentries), not paths. Each mode works in DIR
// (which must be empty) and prints paths relative to it ("." for DIR
// itself), so the output is the same natively and in the sandbox.
//
//	cwd      cd a; mv ../a ../b; touch x  -> b/x; getcwd and /proc/self/cwd say b
//	dirfd    a dirfd opened before a rename creates in the new place
//	fdlink   /proc/self/fd of a file whose directory was renamed, then unlinked
//	removed  getcwd once the cwd is removed: ENOENT; /proc/self/cwd "(deleted)"
//	exdev    another process's cwd renamed, then a rename across mounts (EXDEV)
//	dotdot   ".." from a dirfd whose parent was renamed, then moved
//	fchdir   fchdir to a directory renamed after it was opened
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[PATH_MAX];

// rel prints p relative to base.
static const char *rel(const char *p) {
	size_t n = strlen(base);
	if (strncmp(p, base, n) == 0 && (p[n] == '/' || p[n] == 0))
		return p[n] ? p + n + 1 : ".";
	return p;
}

static const char *err(void) { return strerrorname_np(errno); }

static char *in(const char *name) {
	static char buf[4][2 * PATH_MAX];
	static int which;
	which = (which + 1) % 4;
	snprintf(buf[which], sizeof buf[which], "%s/%s", base, name);
	return buf[which];
}

static void check(const char *what, int ret) {
	if (ret < 0) {
		printf("%s: %s\n", what, err());
		exit(1);
	}
}

// cwd prints the raw getcwd(2) result.
static void cwd(const char *label) {
	char buf[PATH_MAX];
	long n = syscall(SYS_getcwd, buf, sizeof buf);
	if (n < 0)
		printf("%s getcwd: %s\n", label, err());
	else
		printf("%s getcwd: %s\n", label, rel(buf));
}

static void link_of(const char *label, const char *path) {
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n < 0) {
		printf("%s: %s\n", label, err());
		return;
	}
	buf[n] = 0;
	printf("%s: %s\n", label, rel(buf));
}

static void fd_link(const char *label, int fd) {
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	link_of(label, p);
}

static void exists(const char *name) {
	struct stat st;
	printf("%s: %s\n", name, stat(in(name), &st) == 0 ? "exists" : err());
}

static void touch(const char *label, int dirfd, const char *name) {
	int fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("%s: %s\n", label, err());
		return;
	}
	printf("%s: ok\n", label);
	close(fd);
}

static void mode_cwd(void) {
	check("mkdir", mkdir(in("a"), 0755));
	check("chdir", chdir(in("a")));
	check("rename", rename("../a", "../b"));
	touch("touch x", AT_FDCWD, "x");
	exists("b/x");
	exists("a/x");
	exists("a");
	cwd("after rename");
	link_of("/proc/self/cwd", "/proc/self/cwd");
	// And a rename of the directory above.
	check("mkdir", mkdir("sub", 0755));
	check("chdir", chdir("sub"));
	check("rename", rename(in("b"), in("c")));
	touch("touch y", AT_FDCWD, "y");
	exists("c/sub/y");
	cwd("after parent rename");
	check("chdir", chdir(".."));
	cwd("after chdir ..");
}

static void mode_dirfd(void) {
	check("mkdir", mkdir(in("a"), 0755));
	int fd = open(in("a"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check("open", fd);
	check("rename", rename(in("a"), in("b")));
	touch("openat y", fd, "y");
	exists("b/y");
	exists("a/y");
	printf("mkdirat sub: %s\n", mkdirat(fd, "sub", 0755) == 0 ? "ok" : err());
	exists("b/sub");
	fd_link("dirfd link", fd);
	struct stat st;
	printf("fstatat y: %s\n", fstatat(fd, "y", &st, 0) == 0 ? "ok" : err());
	printf("renameat y z: %s\n", renameat(fd, "y", fd, "z") == 0 ? "ok" : err());
	exists("b/z");
}

static void mode_fdlink(void) {
	check("mkdir", mkdir(in("a"), 0755));
	int fd = open(in("a/f"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	check("open", fd);
	fd_link("before", fd);
	check("rename", rename(in("a"), in("b")));
	fd_link("after dir rename", fd);
	check("rename", rename(in("b/f"), in("b/g")));
	fd_link("after file rename", fd);
	check("unlink", unlink(in("b/g")));
	fd_link("after unlink", fd);
	printf("write after unlink: %zd\n", write(fd, "data", 4));
}

static void mode_removed(void) {
	check("mkdir", mkdir(in("a"), 0755));
	check("chdir", chdir(in("a")));
	cwd("before");
	check("rmdir", rmdir(in("a")));
	cwd("after rmdir");
	link_of("/proc/self/cwd", "/proc/self/cwd");
	touch("create in removed cwd", AT_FDCWD, "x");
	printf("mkdir in removed cwd: %s\n", mkdir("d", 0755) == 0 ? "ok" : err());
	// A new directory of the same name is another one.
	check("mkdir again", mkdir(in("a"), 0755));
	cwd("after mkdir of the same name");
	touch("create in removed cwd again", AT_FDCWD, "x");
	exists("a/x");
	check("chdir ..", chdir(".."));
	cwd("after chdir ..");
	// Replaced by a rename: the old directory is gone the same way.
	check("mkdir", mkdir(in("b"), 0755));
	check("chdir", chdir(in("a")));
	check("rename b over a", rename(in("b"), in("a")));
	cwd("after rename over it");
	link_of("/proc/self/cwd", "/proc/self/cwd");
}

static void mode_exdev(void) {
	int go[2], done[2];
	check("pipe", pipe(go));
	check("pipe", pipe(done));
	check("mkdir", mkdir(in("a"), 0755));
	pid_t pid = fork();
	check("fork", pid);
	if (pid == 0) {
		char c;
		check("chdir", chdir(in("a")));
		check("write", write(done[1], "r", 1));
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		cwd("child");
		touch("child touch x", AT_FDCWD, "x");
		fflush(stdout);
		_exit(0);
	}
	char c;
	if (read(done[0], &c, 1) != 1)
		return;
	printf("rename a b: %s\n", rename(in("a"), in("b")) == 0 ? "ok" : err());
	printf("rename b to /proc: %s\n", rename(in("b"), "/proc/b") == 0 ? "ok" : err());
	printf("rename b to /dev: %s\n", rename(in("b"), "/dev/b") == 0 ? "ok" : err());
	fflush(stdout);
	check("write", write(go[1], "g", 1));
	int status;
	waitpid(pid, &status, 0);
	printf("child status: %d\n", WEXITSTATUS(status));
	exists("b/x");
	exists("a");
}

static void same(const char *label, int fd, const char *name) {
	struct stat a, b;
	if (fstat(fd, &a) < 0 || stat(in(name), &b) < 0) {
		printf("%s: %s\n", label, err());
		return;
	}
	printf("%s: %s\n", label, a.st_ino == b.st_ino && a.st_dev == b.st_dev ? "same" : "different");
}

static void mode_dotdot(void) {
	check("mkdir", mkdir(in("p"), 0755));
	check("mkdir", mkdir(in("p/c"), 0755));
	check("mkdir", mkdir(in("r"), 0755));
	int fd = open(in("p/c"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check("open", fd);
	check("rename", rename(in("p"), in("q")));
	int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check("openat ..", up);
	same("dirfd .. is q", up, "q");
	fd_link(".. link", up);
	close(up);
	touch("openat ../c/new", fd, "../c/new");
	exists("q/c/new");
	touch("openat ../n", fd, "../n");
	exists("q/n");
	// Move the dirfd's directory to another parent.
	check("rename", rename(in("q/c"), in("r/c")));
	up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check("openat ..", up);
	same("dirfd .. is r", up, "r");
	fd_link(".. link", up);
	close(up);
	struct stat st;
	printf("fstatat ../../q/n: %s\n", fstatat(fd, "../../q/n", &st, 0) == 0 ? "ok" : err());
}

static void mode_fchdir(void) {
	check("mkdir", mkdir(in("a"), 0755));
	int fd = open(in("a"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check("open", fd);
	check("rename", rename(in("a"), in("b")));
	check("fchdir", fchdir(fd));
	cwd("after fchdir");
	touch("touch x", AT_FDCWD, "x");
	exists("b/x");
	link_of("/proc/self/cwd", "/proc/self/cwd");
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: dentry MODE DIR\n");
		return 2;
	}
	if (!realpath(argv[2], base)) {
		printf("realpath: %s\n", err());
		return 1;
	}
	const char *m = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(m, "cwd"))
		mode_cwd();
	else if (!strcmp(m, "dirfd"))
		mode_dirfd();
	else if (!strcmp(m, "fdlink"))
		mode_fdlink();
	else if (!strcmp(m, "removed"))
		mode_removed();
	else if (!strcmp(m, "exdev"))
		mode_exdev();
	else if (!strcmp(m, "dotdot"))
		mode_dotdot();
	else if (!strcmp(m, "fchdir"))
		mode_fchdir();
	else {
		fprintf(stderr, "unknown mode %s\n", m);
		return 2;
	}
	return 0;
}

// fork_wait MODE [DIR]: process creation and reaping. Every mode prints
// lines that are identical natively and in the sandbox (no pids, only
// booleans about them), except "pids", whose answers are sandbox-specific.
//
//   exit-codes  children exit with distinct codes; waitpid each, wait(-1)
//   signaled    children killed by signals: WIFSIGNALED / WTERMSIG
//   wnohang     WNOHANG before the child exits returns 0, after it the pid
//   echild      wait without children (or for a non-child) fails with ECHILD
//   waitid      waitid: CLD_EXITED, CLD_KILLED, WNOWAIT, WNOHANG
//   stop        WUNTRACED / WCONTINUED with SIGSTOP and SIGCONT
//   memory DIR  fork copies memory (private) but shares MAP_SHARED and the
//               file offset of an inherited descriptor (a file in DIR)
//   vfork       vfork + _exit, vfork + execve, posix_spawn
//   pgroup      setpgid, getpgid, kill(-pgid), waitpid(-pgid), setsid
//   many        100 children, reaped with wait
//   procself    /proc/self names the caller in the parent, a child and a
//               thread-less grandchild
//   pids        sandbox-only: getpid()==1, getppid()==0, a child's
//               getppid()==1, an orphan's getppid()==1, kill(1234567, 0)
//
// stdout is line buffered so that nothing is pending (and duplicated) when
// the process forks; children print only while the parent is blocked.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *yes(int b) { return b ? "yes" : "no"; }

static const char *sig(int s) {
	static char buf[32];
	const char *a = sigabbrev_np(s);
	if (a == NULL) {
		snprintf(buf, sizeof buf, "signal %d", s);
		return buf;
	}
	snprintf(buf, sizeof buf, "SIG%s", a);
	return buf;
}

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

static void describe(const char *what, int status) {
	if (WIFEXITED(status))
		printf("%s: exited %d\n", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by %s\n", what, sig(WTERMSIG(status)));
	else if (WIFSTOPPED(status))
		printf("%s: stopped by %s\n", what, sig(WSTOPSIG(status)));
	else if (WIFCONTINUED(status))
		printf("%s: continued\n", what);
	else
		printf("%s: unknown status %#x\n", what, status);
}

static void die(const char *what) {
	printf("FAIL %s: %s\n", what, ename(errno));
	exit(99);
}

static pid_t xfork(void) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	return pid;
}

// reap waits for pid and describes its status, checking the returned pid.
static void reap(const char *what, pid_t pid) {
	int st;
	pid_t r = waitpid(pid, &st, 0);
	if (r != pid) {
		printf("%s: waitpid returned %s\n", what, r < 0 ? ename(errno) : "another pid");
		return;
	}
	describe(what, st);
}

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int exit_codes(void) {
	static const int codes[] = {0, 1, 42, 127, 255};
	enum { N = sizeof codes / sizeof codes[0] };
	pid_t pids[N];
	pid_t me = getpid();
	for (int i = 0; i < N; i++) {
		pids[i] = xfork();
		if (pids[i] == 0) {
			// Distinct process, and the parent is the one that forked.
			if (getpid() == me || getppid() != me)
				_exit(100);
			_exit(codes[i]);
		}
	}
	int distinct = 1;
	for (int i = 0; i < N; i++) {
		if (pids[i] <= 0 || pids[i] == me)
			distinct = 0;
		for (int j = 0; j < i; j++)
			if (pids[i] == pids[j])
				distinct = 0;
	}
	printf("child pids distinct and not the parent's: %s\n", yes(distinct));
	// Reap in reverse order of creation: waitpid must find each one.
	for (int i = N - 1; i >= 0; i--) {
		char what[32];
		snprintf(what, sizeof what, "child %d", i);
		reap(what, pids[i]);
	}

	// exit() (with atexit and stdio) rather than _exit, collected by wait().
	int seen[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++)
		if (xfork() == 0)
			exit(20 + i);
	for (int i = 0; i < 3; i++) {
		int st;
		pid_t r = wait(&st);
		if (r < 0)
			die("wait");
		if (WIFEXITED(st) && WEXITSTATUS(st) >= 20 && WEXITSTATUS(st) < 23)
			seen[WEXITSTATUS(st) - 20]++;
	}
	printf("wait() collected 20, 21, 22: %d %d %d\n", seen[0], seen[1], seen[2]);
	errno = 0;
	pid_t r = wait(NULL);
	printf("wait() with no children left: %d %s\n", (int)r, ename(errno));
	return 0;
}

static int signaled(void) {
	pid_t a = xfork();
	if (a == 0) {
		kill(getpid(), SIGTERM);
		_exit(1);
	}
	reap("kill(getpid(), SIGTERM)", a);

	pid_t b = xfork();
	if (b == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		*(volatile int *)0 = 1;
		_exit(1);
	}
	reap("null write", b);

	pid_t c = xfork();
	if (c == 0) {
		for (;;)
			pause();
	}
	kill(c, SIGKILL);
	reap("SIGKILL from the parent", c);

	pid_t d = xfork();
	if (d == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		abort();
	}
	reap("abort()", d);

	// A caught signal does not kill; exit status from the handler.
	pid_t e = xfork();
	if (e == 0) {
		signal(SIGUSR1, SIG_IGN);
		kill(getpid(), SIGUSR1);
		_exit(33);
	}
	reap("ignored SIGUSR1", e);

	// The parent signals a child blocked in read on a pipe.
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t f = xfork();
	if (f == 0) {
		char ch;
		close(p[1]);
		read(p[0], &ch, 1);
		_exit(2);
	}
	close(p[0]);
	sleep_ms(50);
	kill(f, SIGHUP);
	reap("SIGHUP while blocked in read", f);
	close(p[1]);
	return 0;
}

static int wnohang(void) {
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pid = xfork();
	if (pid == 0) {
		char ch;
		close(p[1]);
		// Blocks until the parent writes.
		if (read(p[0], &ch, 1) != 1)
			_exit(100);
		_exit(7);
	}
	close(p[0]);
	int st = -1;
	pid_t r = waitpid(pid, &st, WNOHANG);
	printf("WNOHANG while the child runs: %d\n", (int)r);
	r = waitpid(-1, &st, WNOHANG);
	printf("WNOHANG (any child) while the child runs: %d\n", (int)r);
	write(p[1], "x", 1);
	close(p[1]);
	r = waitpid(pid, &st, 0);
	printf("blocking waitpid returned the child: %s\n", yes(r == pid));
	describe("child", st);
	errno = 0;
	r = waitpid(pid, &st, WNOHANG);
	printf("WNOHANG after it was reaped: %d %s\n", (int)r, ename(errno));

	// A child that exits at once: WNOHANG eventually reports it.
	pid = xfork();
	if (pid == 0)
		_exit(9);
	int found = 0;
	for (int i = 0; i < 5000 && !found; i++) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			found = 1;
		else if (r == 0)
			sleep_ms(1);
		else
			die("waitpid WNOHANG");
	}
	printf("WNOHANG eventually returned the child: %s\n", yes(found));
	if (found)
		describe("child", st);
	return 0;
}

static int echild(void) {
	errno = 0;
	pid_t r = wait(NULL);
	printf("wait(): %d %s\n", (int)r, ename(errno));
	errno = 0;
	r = waitpid(-1, NULL, WNOHANG);
	printf("waitpid(-1, WNOHANG): %d %s\n", (int)r, ename(errno));
	siginfo_t si;
	errno = 0;
	int rc = waitid(P_ALL, 0, &si, WEXITED);
	printf("waitid(P_ALL): %d %s\n", rc, ename(errno));

	// A grandchild is not our child, and an orphaned grandchild is
	// adopted by init (pid 1 of the sandbox, which is why this runs in a
	// child C: in the sandbox the top process is init itself).
	pid_t c = xfork();
	if (c == 0) {
		int p[2], q[2];
		if (pipe(p) < 0 || pipe(q) < 0)
			die("pipe");
		pid_t child = xfork();
		if (child == 0) {
			pid_t g = fork();
			if (g == 0) {
				char ch;
				close(q[1]);
				read(q[0], &ch, 1); // until C closes q
				_exit(0);
			}
			write(p[1], &g, sizeof g);
			_exit(0);
		}
		close(q[0]);
		close(p[1]);
		pid_t g;
		if (read(p[0], &g, sizeof g) != sizeof g)
			die("read grandchild pid");
		reap("child of C", child);
		errno = 0;
		r = waitpid(g, NULL, 0);
		printf("C: waitpid(orphaned grandchild): %d %s\n", (int)r, ename(errno));
		close(q[1]);
		_exit(0);
	}
	reap("C", c);

	// Invalid options.
	errno = 0;
	r = waitpid(-1, NULL, 0x1000);
	printf("waitpid(bad options): %d %s\n", (int)r, ename(errno));
	return 0;
}

static int do_waitid(void) {
	pid_t pid = xfork();
	if (pid == 0)
		_exit(5);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	// WNOWAIT leaves the child waitable.
	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0)
		die("waitid WNOWAIT");
	printf("WNOWAIT: si_signo=%s si_code=%s si_status=%d si_pid==child: %s\n", sig(si.si_signo),
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status, yes(si.si_pid == pid));
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, pid, &si, WEXITED) < 0)
		die("waitid");
	printf("waitid: si_code=%s si_status=%d si_pid==child: %s si_uid==getuid(): %s\n",
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status, yes(si.si_pid == pid),
	       yes(si.si_uid == getuid()));
	errno = 0;
	int rc = waitid(P_PID, pid, &si, WEXITED);
	printf("waitid again: %d %s\n", rc, ename(errno));

	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid = xfork();
	if (pid == 0) {
		char ch;
		close(p[1]);
		read(p[0], &ch, 1);
		_exit(0);
	}
	close(p[0]);
	memset(&si, 0xff, sizeof si);
	rc = waitid(P_PID, pid, &si, WEXITED | WNOHANG);
	printf("waitid WNOHANG while running: %d si_pid=%d\n", rc, (int)si.si_pid);
	kill(pid, SIGKILL);
	memset(&si, 0, sizeof si);
	if (waitid(P_ALL, 0, &si, WEXITED) < 0)
		die("waitid P_ALL");
	printf("killed: si_code=%s si_status=%s si_pid==child: %s\n",
	       si.si_code == CLD_KILLED ? "CLD_KILLED" : "other", sig(si.si_status), yes(si.si_pid == pid));
	close(p[1]);

	errno = 0;
	rc = waitid(P_PID, pid, &si, 0);
	printf("waitid without WEXITED/WSTOPPED/WCONTINUED: %d %s\n", rc, ename(errno));
	return 0;
}

static int stop(void) {
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pid = xfork();
	if (pid == 0) {
		char ch;
		close(p[1]);
		raise(SIGSTOP);
		// Continued by the parent; stays alive until it closes the pipe,
		// so that WCONTINUED has a continued (not exited) child to report.
		read(p[0], &ch, 1);
		_exit(4);
	}
	close(p[0]);
	int st;
	pid_t r = waitpid(pid, &st, WUNTRACED);
	printf("WUNTRACED returned the child: %s\n", yes(r == pid));
	describe("child", st);
	kill(pid, SIGCONT);
	r = waitpid(pid, &st, WCONTINUED);
	printf("WCONTINUED returned the child: %s\n", yes(r == pid));
	describe("child", st);
	close(p[1]);
	reap("child", pid);

	// waitid sees the stop with CLD_STOPPED.
	pid = xfork();
	if (pid == 0) {
		raise(SIGTSTP);
		_exit(6);
	}
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, pid, &si, WSTOPPED) < 0)
		die("waitid WSTOPPED");
	printf("waitid WSTOPPED: si_code=%s si_status=%s\n", si.si_code == CLD_STOPPED ? "CLD_STOPPED" : "other",
	       sig(si.si_status));
	// SIGKILL ends a stopped process.
	kill(pid, SIGKILL);
	reap("stopped child after SIGKILL", pid);
	return 0;
}

static int memory(const char *dir) {
	static int global = 1;
	char *heap = malloc(1 << 20);
	memset(heap, 'p', 1 << 20);
	int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *private = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || private == MAP_FAILED)
		die("mmap");
	*shared = 1;
	*private = 1;
	int stackvar = 1;

	char path[4096];
	snprintf(path, sizeof path, "%s/fork_wait-offset", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");

	pid_t pid = xfork();
	if (pid == 0) {
		global = 2;
		stackvar = 2;
		memset(heap, 'c', 1 << 20);
		*shared = 2;
		*private = 2;
		write(fd, "child\n", 6);
		_exit(heap[12345] == 'c' && global == 2 ? 0 : 1);
	}
	reap("child", pid);
	printf("global after child wrote it: %d\n", global);
	printf("stack variable: %d\n", stackvar);
	int intact = 1;
	for (int i = 0; i < 1 << 20; i++)
		if (heap[i] != 'p')
			intact = 0;
	printf("heap intact: %s\n", yes(intact));
	printf("MAP_SHARED sees the child's write: %d\n", *shared);
	printf("MAP_PRIVATE: %d\n", *private);

	// The descriptor's offset is shared: the parent writes after the child.
	write(fd, "parent\n", 7);
	char buf[64] = {0};
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	printf("file: %zd bytes: %s", n, buf);
	close(fd);
	unlink(path);
	return 0;
}

static int do_vfork(void) {
	static volatile int touched;
	pid_t pid = vfork();
	if (pid == 0) {
		touched = 1; // the memory is the parent's until _exit
		_exit(3);
	}
	if (pid < 0)
		die("vfork");
	printf("vfork shares memory until _exit: %s\n", yes(touched == 1));
	reap("vfork child", pid);

	char *argv[] = {"busybox", "sh", "-c", "exit 12", NULL};
	pid = vfork();
	if (pid == 0) {
		execve("/bin/busybox", argv, environ);
		_exit(127);
	}
	reap("vfork + execve", pid);

	// vfork + failing execve: the child exits with the errno.
	pid = vfork();
	if (pid == 0) {
		execve("/nonexistent-litebox/prog", argv, environ);
		_exit(errno == ENOENT ? 44 : 45);
	}
	reap("vfork + failing execve", pid);

	// glibc's posix_spawn is clone(CLONE_VM | CLONE_VFORK).
	char *argv2[] = {"busybox", "sh", "-c", "exit 4", NULL};
	int rc = posix_spawn(&pid, "/bin/busybox", NULL, NULL, argv2, environ);
	printf("posix_spawn: %s\n", rc == 0 ? "ok" : ename(rc));
	if (rc == 0)
		reap("posix_spawn child", pid);
	rc = posix_spawn(&pid, "/nonexistent-litebox/prog", NULL, NULL, argv2, environ);
	printf("posix_spawn missing program: %s\n", rc == 0 ? "ok" : ename(rc));
	if (rc == 0)
		reap("posix_spawn child", pid);
	return 0;
}

static int pgroup(void) {
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	char ch;
	pid_t a = xfork();
	if (a == 0) {
		setpgid(0, 0);
		close(p[1]);
		read(p[0], &ch, 1);
		_exit(1);
	}
	// Both parent and child call setpgid, so it holds whichever runs first.
	if (setpgid(a, a) < 0)
		die("setpgid(a, a)");
	pid_t b = xfork();
	if (b == 0) {
		setpgid(0, a);
		close(p[1]);
		read(p[0], &ch, 1);
		_exit(1);
	}
	if (setpgid(b, a) < 0)
		die("setpgid(b, a)");
	close(p[0]);
	printf("getpgid(a)==a: %s\n", yes(getpgid(a) == a));
	printf("getpgid(b)==a: %s\n", yes(getpgid(b) == a));
	printf("own group differs: %s\n", yes(getpgid(0) != a && getpgrp() == getpgid(0)));
	errno = 0;
	int rc = setpgid(a, 1234567);
	printf("setpgid into a missing group: %d %s\n", rc, ename(errno));

	if (kill(-a, SIGTERM) < 0)
		die("kill(-a)");
	int st, got = 0;
	for (int i = 0; i < 2; i++) {
		pid_t r = waitpid(-a, &st, 0);
		if ((r == a || r == b) && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
			got++;
	}
	printf("group members killed by SIGTERM: %d\n", got);
	errno = 0;
	pid_t r = waitpid(-a, &st, 0);
	printf("waitpid(-a) afterwards: %d %s\n", (int)r, ename(errno));
	errno = 0;
	rc = kill(-a, 0);
	printf("kill(-a, 0) afterwards: %d %s\n", rc, ename(errno));
	close(p[1]);

	// setsid: a new session led by the child; a group leader cannot.
	pid_t c = xfork();
	if (c == 0) {
		pid_t s = setsid();
		int ok = s == getpid() && getsid(0) == getpid() && getpgrp() == getpid();
		errno = 0;
		int again = setsid();
		int eperm = again < 0 && errno == EPERM;
		_exit(ok && eperm ? 0 : 1);
	}
	reap("setsid child", c);
	c = xfork();
	if (c == 0) {
		// Not a group leader: setsid works, then setpgid into the old
		// session's group fails.
		pid_t old = getpgrp();
		if (setsid() < 0)
			_exit(2);
		errno = 0;
		if (setpgid(0, old) == 0 || errno != EPERM)
			_exit(3);
		_exit(0);
	}
	reap("setsid + setpgid across sessions", c);
	return 0;
}

static int many(void) {
	long sum = 0;
	int n = 0;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 50; i++)
			if (xfork() == 0)
				_exit(i);
		for (int i = 0; i < 50; i++) {
			int st;
			if (wait(&st) < 0)
				die("wait");
			if (WIFEXITED(st)) {
				sum += WEXITSTATUS(st);
				n++;
			}
		}
	}
	printf("reaped %d children, status sum %ld\n", n, sum);
	errno = 0;
	pid_t r = wait(NULL);
	printf("then wait(): %d %s\n", (int)r, ename(errno));
	return 0;
}

static int self_is_me(void) {
	char buf[64];
	ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
	if (n < 0)
		return 0;
	buf[n] = 0;
	return atoi(buf) == getpid();
}

static int procself(void) {
	printf("parent: /proc/self is getpid(): %s\n", yes(self_is_me()));
	pid_t pid = xfork();
	if (pid == 0) {
		printf("child: /proc/self is getpid(): %s\n", yes(self_is_me()));
		pid_t g = fork();
		if (g == 0) {
			printf("grandchild: /proc/self is getpid(): %s\n", yes(self_is_me()));
			_exit(0);
		}
		waitpid(g, NULL, 0);
		_exit(0);
	}
	reap("child", pid);
	printf("parent again: /proc/self is getpid(): %s\n", yes(self_is_me()));
	return 0;
}

static int pids(void) {
	printf("getpid()==1: %s\n", yes(getpid() == 1));
	printf("getppid()==0: %s\n", yes(getppid() == 0));
	pid_t pid = xfork();
	if (pid == 0) {
		printf("child getppid()==1: %s\n", yes(getppid() == 1));
		printf("child getpid() small: %s\n", yes(getpid() > 1 && getpid() < 100));
		_exit(0);
	}
	reap("child", pid);

	// An orphan is adopted by pid 1 of the sandbox, which must reap it.
	int p[2], q[2];
	if (pipe(p) < 0 || pipe(q) < 0)
		die("pipe");
	pid = xfork();
	if (pid == 0) {
		if (fork() == 0) {
			char ch;
			close(p[1]);
			close(q[0]);
			// Wait for the middle process to exit.
			read(p[0], &ch, 1);
			pid_t pp = getppid();
			write(q[1], &pp, sizeof pp);
			_exit(8);
		}
		_exit(0);
	}
	close(p[0]);
	close(q[1]);
	reap("middle process", pid);
	close(p[1]); // the orphan's read returns 0
	pid_t pp = 0;
	if (read(q[0], &pp, sizeof pp) != sizeof pp)
		die("read");
	printf("orphan getppid()==1: %s\n", yes(pp == 1));
	int st;
	pid_t r = wait(&st);
	printf("pid 1 reaps the orphan: %s\n", yes(r > 0));
	if (r > 0)
		describe("orphan", st);

	errno = 0;
	int rc = kill(1234567, 0);
	printf("kill(1234567, 0): %d %s\n", rc, ename(errno));
	rc = kill(1, 0);
	printf("kill(1, 0): %d\n", rc);
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: fork_wait MODE [DIR]\n");
		return 2;
	}
	const char *m = argv[1];
	if (strcmp(m, "exit-codes") == 0)
		return exit_codes();
	if (strcmp(m, "signaled") == 0)
		return signaled();
	if (strcmp(m, "wnohang") == 0)
		return wnohang();
	if (strcmp(m, "echild") == 0)
		return echild();
	if (strcmp(m, "waitid") == 0)
		return do_waitid();
	if (strcmp(m, "stop") == 0)
		return stop();
	if (strcmp(m, "memory") == 0 && argc > 2)
		return memory(argv[2]);
	if (strcmp(m, "vfork") == 0)
		return do_vfork();
	if (strcmp(m, "pgroup") == 0)
		return pgroup();
	if (strcmp(m, "many") == 0)
		return many();
	if (strcmp(m, "procself") == 0)
		return procself();
	if (strcmp(m, "pids") == 0)
		return pids();
	fprintf(stderr, "fork_wait: unknown mode %s\n", m);
	return 2;
}

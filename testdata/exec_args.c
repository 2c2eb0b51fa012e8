// exec_args MODE [DIR]: execve. The program re-executes itself (argv[0] must
// be its path) with a marker argument to print what it was started with.
//
//   argv-envp     execve with a chosen argv (including argv[0]) and envp:
//                 the new image prints them in order; pid and ppid kept
//   empty-env     execve with an empty envp and only argv[0]
//   big           execve with 2000 arguments (about 200 KiB)
//   errors DIR    failing execve: ENOENT, ENOTDIR, EACCES (directory,
//                 file without x bit), ENOEXEC (text or empty file with x
//                 bit), a #! script with a missing interpreter; the process
//                 keeps running afterwards
//   script DIR    #! scripts written to DIR and executed: "#!/bin/sh",
//                 "#!/bin/busybox sh" (an interpreter argument), "#! /bin/sh -e",
//                 and a script whose interpreter is itself a script
//   sigstate      signal state across execve: handlers reset to SIG_DFL,
//                 SIG_IGN kept, blocked mask and pending signals kept
//   fdpos DIR     an inherited descriptor keeps its file offset
//   path          execvp finds busybox on PATH
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *yes(int b) { return b ? "yes" : "no"; }

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
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

static void reap(const char *what, pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by SIG%s\n", what, sigabbrev_np(WTERMSIG(st)));
}

static void writefile(const char *path, const char *content, mode_t mode) {
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	size_t n = strlen(content);
	if (write(fd, content, n) != (ssize_t)n)
		die("write");
	close(fd);
	// chmod explicitly: the umask must not decide the mode.
	if (chmod(path, mode) < 0)
		die("chmod");
}

// show: argv[2] is the pid and argv[3] the ppid the process had before
// execve; the rest is printed.
static int show(int argc, char **argv, char **envp) {
	printf("pid preserved: %s\n", yes(atoi(argv[2]) == getpid()));
	printf("ppid preserved: %s\n", yes(atoi(argv[3]) == getppid()));
	printf("argc=%d\n", argc);
	printf("argv[0]=[%s]\n", argv[0]);
	for (int i = 4; i < argc; i++)
		printf("argv[%d]=[%s]\n", i, argv[i]);
	printf("argv[argc]==NULL: %s\n", yes(argv[argc] == NULL));
	int n = 0;
	for (char **e = envp; *e; e++, n++)
		printf("env[%d]=[%s]\n", n, *e);
	printf("environ==envp: %s\n", yes(environ == envp));
	const char *foo = getenv("FOO");
	printf("getenv(FOO)=[%s]\n", foo ? foo : "(unset)");
	return 0;
}

static int argv_envp(const char *self) {
	char pid[32], ppid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(ppid, sizeof ppid, "%d", (int)getppid());
	char *argv[] = {"custom-argv0", "--show", pid, ppid, "one", "two words", "", "tab\there", "last", NULL};
	char *envp[] = {"FOO=bar", "EMPTY=", "X=1=2", "PATH=/nowhere", "NOEQUALS", "FOO=second", NULL};
	printf("before execve\n");
	fflush(stdout);
	execve(self, argv, envp);
	die("execve");
	return 1;
}

static int empty_env(const char *self) {
	char *argv[] = {"only-argv0", NULL};
	char *envp[] = {NULL};
	fflush(stdout);
	execve(self, argv, envp);
	die("execve");
	return 1;
}

// Run with only argv[0] = "only-argv0".
static int only_argv0(int argc, char **argv, char **envp) {
	int n = 0;
	while (envp[n])
		n++;
	printf("argc=%d argv[0]=[%s] argv[1]==NULL: %s envc=%d\n", argc, argv[0], yes(argv[1] == NULL), n);
	return 0;
}

enum { BIGN = 2000, BIGLEN = 100 };

static int big(const char *self) {
	char **argv = calloc(BIGN + 3, sizeof *argv);
	argv[0] = "big";
	argv[1] = "--big-check";
	for (int i = 0; i < BIGN; i++) {
		argv[i + 2] = malloc(BIGLEN + 1);
		for (int j = 0; j < BIGLEN; j++)
			argv[i + 2][j] = 'a' + (i * 7 + j) % 26;
		argv[i + 2][BIGLEN] = 0;
	}
	fflush(stdout);
	execve(self, argv, environ);
	die("execve");
	return 1;
}

static int big_check(int argc, char **argv) {
	int ok = argc == BIGN + 2;
	for (int i = 0; ok && i < BIGN; i++) {
		if (strlen(argv[i + 2]) != BIGLEN)
			ok = 0;
		for (int j = 0; ok && j < BIGLEN; j++)
			if (argv[i + 2][j] != 'a' + (i * 7 + j) % 26)
				ok = 0;
	}
	printf("argc=%d, all %d arguments intact: %s\n", argc, BIGN, yes(ok));
	return 0;
}

static void try_exec(const char *what, const char *path) {
	char *argv[] = {"x", NULL};
	errno = 0;
	int r = execve(path, argv, environ);
	printf("%s: %d %s\n", what, r, ename(errno));
}

static int errors(const char *dir) {
	char path[4096];
	try_exec("missing file", "/nonexistent-litebox/prog");
	try_exec("empty path", "");
	try_exec("directory", "/");
	try_exec("file as directory", "/etc/passwd/x");
	snprintf(path, sizeof path, "%s/missing", dir);
	try_exec("missing file in DIR", path);

	snprintf(path, sizeof path, "%s/text-0644", dir);
	writefile(path, "echo not a program\n", 0644);
	try_exec("text file without x bit", path);
	snprintf(path, sizeof path, "%s/text-0755", dir);
	writefile(path, "echo not a program\n", 0755);
	try_exec("text file with x bit", path);
	snprintf(path, sizeof path, "%s/empty", dir);
	writefile(path, "", 0755);
	try_exec("empty file with x bit", path);
	snprintf(path, sizeof path, "%s/badinterp", dir);
	writefile(path, "#!/nonexistent-litebox/interp\necho hi\n", 0755);
	try_exec("#! with a missing interpreter", path);
	snprintf(path, sizeof path, "%s/ro-script", dir);
	writefile(path, "#!/bin/sh\necho hi\n", 0644);
	try_exec("#! script without x bit", path);

	printf("still running: yes\n");
	return 0;
}

static void run_script(const char *what, const char *path, char *const argv[]) {
	char *envp[] = {"FOO=from-execve", "PATH=/usr/bin:/bin", NULL};
	pid_t pid = xfork();
	if (pid == 0) {
		execve(path, argv, envp);
		printf("execve %s: %s\n", what, ename(errno));
		_exit(127);
	}
	reap(what, pid);
}

static int script(const char *dir) {
	char path[4096], interp[4096];
	snprintf(path, sizeof path, "%s/s.sh", dir);
	writefile(path,
	          "#!/bin/sh\n"
	          "echo \"sh script: argc=$# 1=[$1] 2=[$2] FOO=[$FOO]\"\n"
	          "exit 5\n",
	          0755);
	run_script("#!/bin/sh", path, (char *[]){"s.sh", "x", "y z", NULL});

	snprintf(path, sizeof path, "%s/bb.sh", dir);
	writefile(path,
	          "#!/bin/busybox sh\n"
	          "echo \"busybox script: argc=$# 1=[$1]\"\n"
	          "exit 6\n",
	          0755);
	run_script("#!/bin/busybox sh", path, (char *[]){"bb.sh", "arg", NULL});

	snprintf(path, sizeof path, "%s/e.sh", dir);
	writefile(path,
	          "#! /bin/sh -e\n"
	          "echo before false\n"
	          "false\n"
	          "echo not reached\n",
	          0755);
	run_script("#! /bin/sh -e", path, (char *[]){"e.sh", NULL});

	// The interpreter of n.sh is interp.sh, itself a #! script.
	snprintf(interp, sizeof interp, "%s/interp.sh", dir);
	writefile(interp,
	          "#!/bin/sh\n"
	          "echo \"interp.sh got $# arguments, second [$2]\"\n"
	          "exit 7\n",
	          0755);
	snprintf(path, sizeof path, "%s/n.sh", dir);
	char content[8192];
	snprintf(content, sizeof content, "#!%s\nignored\n", interp);
	writefile(path, content, 0755);
	run_script("nested #!", path, (char *[]){"n.sh", "last-arg", NULL});
	return 0;
}

static void handler(int sig) { (void)sig; }

static int sigstate(const char *self) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGUSR2, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGINT); // stays pending across execve
	char *argv[] = {"sigstate", "--sigstate-check", NULL};
	fflush(stdout);
	execve(self, argv, environ);
	die("execve");
	return 1;
}

static const char *disposition(int sig) {
	struct sigaction old;
	if (sigaction(sig, NULL, &old) < 0)
		return ename(errno);
	if (old.sa_handler == SIG_DFL)
		return "SIG_DFL";
	if (old.sa_handler == SIG_IGN)
		return "SIG_IGN";
	return "handler";
}

static int sigstate_check(void) {
	printf("SIGUSR1 (had a handler): %s\n", disposition(SIGUSR1));
	printf("SIGUSR2 (was ignored): %s\n", disposition(SIGUSR2));
	sigset_t cur, pend;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("SIGTERM blocked: %s, SIGUSR1 blocked: %s\n", yes(sigismember(&cur, SIGTERM)),
	       yes(sigismember(&cur, SIGUSR1)));
	sigpending(&pend);
	printf("SIGINT pending: %s, SIGTERM pending: %s\n", yes(sigismember(&pend, SIGINT)),
	       yes(sigismember(&pend, SIGTERM)));
	// Taking the pending SIGINT synchronously.
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGINT);
	int s = sigwaitinfo(&w, NULL);
	printf("sigwaitinfo: %s\n", s == SIGINT ? "SIGINT" : "other");
	return 0;
}

static int fdpos(const char *self, const char *dir) {
	char path[4096];
	snprintf(path, sizeof path, "%s/fdpos", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	write(fd, "0123456789", 10);
	lseek(fd, 3, SEEK_SET);
	char fds[16];
	snprintf(fds, sizeof fds, "%d", fd);
	char *argv[] = {"fdpos", "--fdpos-check", fds, path, NULL};
	fflush(stdout);
	execve(self, argv, environ);
	die("execve");
	return 1;
}

static int fdpos_check(const char *fds, const char *path) {
	int fd = atoi(fds);
	off_t off = lseek(fd, 0, SEEK_CUR);
	char buf[16] = {0};
	ssize_t n = read(fd, buf, 4);
	printf("offset after exec: %lld, read %zd bytes: %s\n", (long long)off, n, buf);
	unlink(path);
	return 0;
}

static int path(void) {
	pid_t pid = xfork();
	if (pid == 0) {
		execlp("busybox", "busybox", "echo", "found on PATH", NULL);
		printf("execlp: %s\n", ename(errno));
		_exit(127);
	}
	reap("execlp busybox", pid);
	pid = xfork();
	if (pid == 0) {
		execlp("no-such-program-litebox", "x", NULL);
		printf("execlp missing: %s\n", ename(errno));
		_exit(127);
	}
	reap("execlp missing", pid);
	return 0;
}

int main(int argc, char **argv, char **envp) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 1 && strcmp(argv[0], "only-argv0") == 0)
		return only_argv0(argc, argv, envp);
	if (argc < 2) {
		fprintf(stderr, "usage: exec_args MODE [DIR]\n");
		return 2;
	}
	const char *m = argv[1];
	if (strcmp(m, "--show") == 0 && argc >= 4)
		return show(argc, argv, envp);
	if (strcmp(m, "--big-check") == 0)
		return big_check(argc, argv);
	if (strcmp(m, "--sigstate-check") == 0)
		return sigstate_check();
	if (strcmp(m, "--fdpos-check") == 0 && argc > 3)
		return fdpos_check(argv[2], argv[3]);
	if (strcmp(m, "argv-envp") == 0)
		return argv_envp(argv[0]);
	if (strcmp(m, "empty-env") == 0)
		return empty_env(argv[0]);
	if (strcmp(m, "big") == 0)
		return big(argv[0]);
	if (strcmp(m, "errors") == 0 && argc > 2)
		return errors(argv[2]);
	if (strcmp(m, "script") == 0 && argc > 2)
		return script(argv[2]);
	if (strcmp(m, "sigstate") == 0)
		return sigstate(argv[0]);
	if (strcmp(m, "fdpos") == 0 && argc > 2)
		return fdpos(argv[0], argv[2]);
	if (strcmp(m, "path") == 0)
		return path();
	fprintf(stderr, "exec_args: unknown mode %s\n", m);
	return 2;
}

// nproc: RLIMIT_NPROC refuses fork, vfork, posix_spawn and thread creation
// with EAGAIN once the real user has that many tasks (run as a user with
// no other process, natively and in the sandbox).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void *noop(void *arg) { return arg; }

static const char *tryfork(void) {
	pid_t pid = fork();
	if (pid < 0)
		return strerrorname_np(errno);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return "ok";
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	struct rlimit old;
	getrlimit(RLIMIT_NPROC, &old);
	struct rlimit lim = {0, old.rlim_max};
	setrlimit(RLIMIT_NPROC, &lim);
	printf("limit 0: fork %s\n", tryfork());
	pid_t vp = vfork();
	if (vp == 0)
		_exit(0);
	printf("limit 0: vfork %s\n", vp < 0 ? strerrorname_np(errno) : "ok");
	if (vp > 0)
		waitpid(vp, NULL, 0);
	pid_t sp;
	char *argv[] = {"/bin/true", NULL};
	int e = posix_spawn(&sp, "/bin/true", NULL, NULL, argv, environ);
	printf("limit 0: posix_spawn %s\n", e ? strerrorname_np(e) : "ok");
	pthread_t th;
	e = pthread_create(&th, NULL, noop, NULL);
	printf("limit 0: pthread_create %s\n", e ? strerrorname_np(e) : "ok");
	lim.rlim_cur = 2;
	setrlimit(RLIMIT_NPROC, &lim);
	int p[2];
	pipe(p);
	pid_t child = fork();
	if (child == 0) {
		char c;
		read(p[0], &c, 1);
		_exit(0);
	}
	printf("limit 2: first fork %s\n", child < 0 ? strerrorname_np(errno) : "ok");
	printf("limit 2: second fork while it runs %s\n", tryfork());
	e = pthread_create(&th, NULL, noop, NULL);
	printf("limit 2: pthread_create while it runs %s\n", e ? strerrorname_np(e) : "ok");
	write(p[1], "x", 1);
	waitpid(child, NULL, 0);
	printf("limit 2: fork after it was reaped %s\n", tryfork());
	e = pthread_create(&th, NULL, noop, NULL);
	printf("limit 2: pthread_create after %s\n", e ? strerrorname_np(e) : "ok");
	if (!e)
		pthread_join(th, NULL);
	setrlimit(RLIMIT_NPROC, &old);
	printf("restored: fork %s\n", tryfork());
	return 0;
}

// robust: robust futex lists. A pthread robust mutex whose owner dies
// (thread exit, process exit, SIGKILL, execve) is handed to the next
// locker with EOWNERDEAD, waiting or not, in private and in MAP_SHARED
// memory; set_robust_list/get_robust_list and their errors.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t *m;
static int ready[2];

static const char *en(int e) { return e ? strerrorname_np(e) : "0"; }

static void init(int shared) {
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (shared)
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(m, &a);
}

// recover locks m after its owner died and makes it usable again.
static void recover(const char *what) {
	int e = pthread_mutex_lock(m);
	int c = e == EOWNERDEAD ? pthread_mutex_consistent(m) : -1;
	pthread_mutex_unlock(m);
	int again = pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	printf("%s: lock %s, consistent %s, lock again %s\n", what, en(e), c < 0 ? "-" : en(c), en(again));
}

static void *locker(void *arg) {
	pthread_mutex_lock(m);
	write(ready[1], "x", 1);
	if (arg)
		usleep(100 * 1000); // the main thread is waiting by then
	return NULL;            // exits holding the mutex
}

static void threads(void) {
	static pthread_mutex_t pm;
	m = &pm;
	init(0);
	pipe(ready);
	pthread_t th;
	char c;
	pthread_create(&th, NULL, locker, NULL);
	read(ready[0], &c, 1);
	pthread_join(th, NULL);
	recover("thread exited");
	pthread_create(&th, NULL, locker, (void *)1);
	read(ready[0], &c, 1);
	recover("thread exited while we waited");
	pthread_join(th, NULL);
	pthread_create(&th, NULL, locker, NULL);
	pthread_join(th, NULL);
	int e = pthread_mutex_lock(m);
	pthread_mutex_unlock(m); // without pthread_mutex_consistent
	int f = pthread_mutex_lock(m);
	printf("unlocked inconsistent: lock %s, then %s\n", en(e), en(f));
}

static void child(int how, const char *self) {
	pid_t pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(m);
		write(ready[1], "x", 1);
		usleep(100 * 1000);
		if (how == 1)
			raise(SIGKILL);
		if (how == 2)
			execl(self, self, "exit", (char *)NULL);
		_exit(0);
	}
	char c;
	read(ready[0], &c, 1);
	const char *what[] = {"process exited while we waited", "process killed while we waited", "process exec'd while we waited"};
	recover(what[how]);
	waitpid(pid, NULL, 0);
}

static void shared(const char *self) {
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	init(1);
	pipe(ready);
	for (int how = 0; how < 3; how++)
		child(how, self);
	pid_t pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(m);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	recover("process exited");
}

static void calls(void) {
	void *head = NULL;
	size_t len = 0;
	long r = syscall(SYS_get_robust_list, 0, &head, &len);
	printf("get_robust_list(0): %ld, head set %d, len %zu\n", r, head != NULL, len);
	r = syscall(SYS_get_robust_list, 999999, &head, &len);
	printf("get_robust_list(no such tid): %s\n", r < 0 ? strerrorname_np(errno) : "ok");
	r = syscall(SYS_get_robust_list, 0, (void *)8, &len);
	printf("get_robust_list(bad pointer): %s\n", r < 0 ? strerrorname_np(errno) : "ok");
	r = syscall(SYS_set_robust_list, head, 23);
	printf("set_robust_list(bad len): %s\n", r < 0 ? strerrorname_np(errno) : "ok");
	// A list pointing at itself through garbage: the walk at exit stops.
	static long bogus[3] = {0, 0, 0};
	bogus[0] = (long)&bogus[0] + 0x1000000; // an unmapped next entry
	pid_t pid = fork();
	if (pid == 0) {
		syscall(SYS_set_robust_list, bogus, 24);
		_exit(3);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("bad list at exit: exit %d\n", WEXITSTATUS(st));
	static long loop[3];
	loop[0] = (long)&loop[1]; // entry -> entry -> ... never back to the head
	loop[1] = (long)&loop[1];
	pid = fork();
	if (pid == 0) {
		syscall(SYS_set_robust_list, loop, 24);
		_exit(4);
	}
	waitpid(pid, &st, 0);
	printf("cyclic list at exit: exit %d\n", WEXITSTATUS(st));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "exit"))
		return 0;
	threads();
	shared(argv[0]);
	calls();
	return 0;
}

// sched: the scheduler and priority calls for other threads of the process
// (by tid, as the JVM's pthread_getattr_np asks for them) and for bad
// arguments, with the results an unprivileged user gets from Linux. Run as
// root (natively, in CI) it first becomes uid 1000, so that both runs are
// an unprivileged user's. Only values that do not depend on the host are
// printed: errno names, policies, nice values, CPU counts compared with
// sysconf.
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest_util.h"

static int pipefd[2];
static volatile pid_t child_tid;
static int thread_cpu = -1;
static long thread_policy = -1;

static void *worker(void *arg) {
	(void)arg;
	child_tid = (pid_t)syscall(SYS_gettid);
	char c;
	if (read(pipefd[0], &c, 1) != 1)
		return NULL;
	unsigned cpu = 99;
	syscall(SYS_getcpu, &cpu, NULL, NULL);
	thread_cpu = (int)cpu;
	thread_policy = syscall(SYS_sched_getscheduler, 0);
	return NULL;
}

int main(void) {
	drop_root();
	// Our own affinity, the reference for the others (online CPUs may
	// be more than the process may use).
	cpu_set_t own;
	if (sched_getaffinity(0, sizeof own, &own) != 0)
		return 1;
	long ncpu = CPU_COUNT(&own);
	if (pipe(pipefd) != 0)
		return 1;
	pthread_t th;
	if (pthread_create(&th, NULL, worker, NULL) != 0)
		return 1;
	while (child_tid == 0)
		sched_yield();
	pid_t tid = child_tid;
	const pid_t nobody = 999999;

	// pthread_getattr_np asks for the thread's affinity by tid.
	pthread_attr_t attr;
	int e = pthread_getattr_np(th, &attr);
	printf("pthread_getattr_np(other thread): %s\n", e == 0 ? "ok" : strerror(e));
	if (e == 0)
		pthread_attr_destroy(&attr);

	cpu_set_t set;
	CPU_ZERO(&set); // the raw call writes only the kernel's mask size
	long r = syscall(SYS_sched_getaffinity, tid, sizeof set, &set);
	printf("getaffinity(other thread): %s, returns whole longs: %s, same CPUs as ours: %s\n", outcome(r),
	       r > 0 && r % 8 == 0 ? "yes" : "no", CPU_COUNT(&set) == ncpu ? "yes" : "no");
	printf("getaffinity(0): %s\n", outcome(syscall(SYS_sched_getaffinity, 0, sizeof set, &set)));
	printf("getaffinity(no such tid): %s\n", outcome(syscall(SYS_sched_getaffinity, nobody, sizeof set, &set)));
	printf("getaffinity(len 0): %s\n", outcome(syscall(SYS_sched_getaffinity, 0, 0, &set)));
	printf("getaffinity(len 12): %s\n", outcome(syscall(SYS_sched_getaffinity, 0, 12, &set)));
	printf("getaffinity(bad buffer): %s\n", outcome(syscall(SYS_sched_getaffinity, 0, sizeof set, (void *)8)));

	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	printf("setaffinity(other thread, CPU 0): %s\n", outcome(syscall(SYS_sched_setaffinity, tid, sizeof one, &one)));
	CPU_ZERO(&set);
	syscall(SYS_sched_getaffinity, tid, sizeof set, &set);
	printf("its affinity: %d CPU(s), CPU 0: %s\n", CPU_COUNT(&set), CPU_ISSET(0, &set) ? "yes" : "no");
	CPU_ZERO(&set);
	syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
	printf("ours unchanged: %s\n", CPU_EQUAL(&set, &own) ? "yes" : "no");
	cpu_set_t none;
	CPU_ZERO(&none);
	printf("setaffinity(empty mask): %s\n", outcome(syscall(SYS_sched_setaffinity, 0, sizeof none, &none)));
	printf("setaffinity(len 0): %s\n", outcome(syscall(SYS_sched_setaffinity, 0, 0, &one)));
	printf("setaffinity(no such tid): %s\n", outcome(syscall(SYS_sched_setaffinity, nobody, sizeof one, &one)));
	printf("setaffinity(bad buffer): %s\n", outcome(syscall(SYS_sched_setaffinity, 0, sizeof one, (void *)8)));

	printf("getscheduler(0) = %ld\n", syscall(SYS_sched_getscheduler, 0));
	printf("getscheduler(-1): %s\n", outcome(syscall(SYS_sched_getscheduler, -1)));
	printf("getscheduler(no such tid): %s\n", outcome(syscall(SYS_sched_getscheduler, nobody)));
	struct sched_param sp = {.sched_priority = 0};
	printf("setscheduler(other thread, BATCH): %s\n", outcome(syscall(SYS_sched_setscheduler, tid, SCHED_BATCH, &sp)));
	printf("getscheduler(other thread) = %ld, ours = %ld\n", syscall(SYS_sched_getscheduler, tid),
	       syscall(SYS_sched_getscheduler, 0));
	sp.sched_priority = 10;
	printf("setscheduler(FIFO, 10): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp)));
	printf("setscheduler(RR, 100): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_RR, &(struct sched_param){100})));
	printf("setscheduler(FIFO, 0): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &(struct sched_param){0})));
	printf("setscheduler(OTHER, 5): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp)));
	printf("setscheduler(OTHER, -1): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &(struct sched_param){-1})));
	printf("setscheduler(DEADLINE): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_DEADLINE, &(struct sched_param){0})));
	printf("setscheduler(policy 42): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, 42, &(struct sched_param){0})));
	printf("setscheduler(policy -1): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, -1, &(struct sched_param){0})));
	printf("setscheduler(NULL param): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL)));
	printf("setscheduler(bad param): %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void *)8)));
	printf("setscheduler(no such tid): %s\n", outcome(syscall(SYS_sched_setscheduler, nobody, SCHED_OTHER, &(struct sched_param){0})));
	printf("setscheduler(-1 tid): %s\n", outcome(syscall(SYS_sched_setscheduler, -1, SCHED_OTHER, &(struct sched_param){0})));
	printf("setscheduler(other thread, IDLE): %s\n", outcome(syscall(SYS_sched_setscheduler, tid, SCHED_IDLE, &(struct sched_param){0})));
	printf("back to OTHER from IDLE: %s\n", outcome(syscall(SYS_sched_setscheduler, tid, SCHED_OTHER, &(struct sched_param){0})));

	struct sched_param got = {.sched_priority = 7};
	const char *ge = outcome(syscall(SYS_sched_getparam, tid, &got)); // before printf reads got
	printf("getparam(other thread): %s, priority %d\n", ge, got.sched_priority);
	printf("getparam(NULL): %s\n", outcome(syscall(SYS_sched_getparam, 0, NULL)));
	printf("getparam(-1): %s\n", outcome(syscall(SYS_sched_getparam, -1, &got)));
	printf("getparam(no such tid): %s\n", outcome(syscall(SYS_sched_getparam, nobody, &got)));
	printf("getparam(bad buffer): %s\n", outcome(syscall(SYS_sched_getparam, 0, (void *)8)));
	printf("setparam(0): %s\n", outcome(syscall(SYS_sched_setparam, 0, &(struct sched_param){0})));
	printf("setparam(1): %s\n", outcome(syscall(SYS_sched_setparam, 0, &(struct sched_param){1})));

	int policies[] = {SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, 42};
	for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
		long mx = syscall(SYS_sched_get_priority_max, policies[i]);
		const char *mxe = outcome(mx);
		long mn = syscall(SYS_sched_get_priority_min, policies[i]);
		printf("policy %d: max %ld (%s), min %ld (%s)\n", policies[i], mx, mxe, mn, outcome(mn));
	}

	struct timespec ts;
	r = syscall(SYS_sched_rr_get_interval, tid, &ts);
	printf("rr_get_interval(other thread): %s, under a second: %s\n", outcome(r), ts.tv_sec == 0 ? "yes" : "no");
	printf("rr_get_interval(-1): %s\n", outcome(syscall(SYS_sched_rr_get_interval, -1, &ts)));
	printf("rr_get_interval(no such tid): %s\n", outcome(syscall(SYS_sched_rr_get_interval, nobody, &ts)));
	printf("rr_get_interval(bad buffer): %s\n", outcome(syscall(SYS_sched_rr_get_interval, 0, (void *)8)));

	// The raw getpriority returns 20 - nice.
	printf("getpriority(self) = %ld\n", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	printf("setpriority(other thread, 5): %s\n", outcome(syscall(SYS_setpriority, PRIO_PROCESS, tid, 5)));
	printf("getpriority(other thread) = %ld, self = %ld\n", syscall(SYS_getpriority, PRIO_PROCESS, tid),
	       syscall(SYS_getpriority, PRIO_PROCESS, 0));
	printf("setpriority(other thread, 3): %s\n", outcome(syscall(SYS_setpriority, PRIO_PROCESS, tid, 3)));
	printf("setpriority(other thread, 100): %s\n", outcome(syscall(SYS_setpriority, PRIO_PROCESS, tid, 100)));
	printf("getpriority(other thread) = %ld\n", syscall(SYS_getpriority, PRIO_PROCESS, tid));
	printf("setpriority(self, -1): %s\n", outcome(syscall(SYS_setpriority, PRIO_PROCESS, 0, -1)));
	printf("getpriority(own group) = %ld\n", syscall(SYS_getpriority, PRIO_PGRP, 0));
	printf("getpriority(which 3): %s\n", outcome(syscall(SYS_getpriority, 3, 0)));
	printf("getpriority(no such tid): %s\n", outcome(syscall(SYS_getpriority, PRIO_PROCESS, nobody)));
	printf("getpriority(no such group): %s\n", outcome(syscall(SYS_getpriority, PRIO_PGRP, nobody)));
	printf("setpriority(no such tid): %s\n", outcome(syscall(SYS_setpriority, PRIO_PROCESS, nobody, 0)));
	printf("setpriority(which -1): %s\n", outcome(syscall(SYS_setpriority, -1, 0, 0)));

	// SCHED_RESET_ON_FORK: reported with the policy, not inherited, and
	// an unprivileged user cannot clear it.
	printf("setscheduler(OTHER|RESET_ON_FORK): %s\n",
	       outcome(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER | SCHED_RESET_ON_FORK, &(struct sched_param){0})));
	printf("getscheduler(0) = %#lx\n", syscall(SYS_sched_getscheduler, 0));
	printf("clearing it: %s\n", outcome(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &(struct sched_param){0})));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		printf("fork child: getscheduler(0) = %#lx, affinity = ours: ", syscall(SYS_sched_getscheduler, 0));
		CPU_ZERO(&set);
		syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
		printf("%s\n", CPU_COUNT(&set) == ncpu ? "yes" : "no");
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);

	if (write(pipefd[1], "g", 1) != 1)
		return 1;
	pthread_join(th, NULL);
	printf("other thread: getcpu %d, its policy %ld\n", thread_cpu, thread_policy);
	// Linux wakes pthread_join when the thread clears its tid, a moment
	// before the thread is gone: it may answer for it until then.
	r = 0;
	for (int i = 0; i < 2000 && (r = syscall(SYS_sched_getaffinity, tid, sizeof set, &set)) >= 0; i++)
		usleep(1000);
	printf("getaffinity(exited thread): %s\n", outcome(r));
	return 0;
}

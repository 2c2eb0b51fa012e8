// rusage: getrusage, times, wait4's rusage, the CPU clocks (process,
// thread, pthread_getcpuclockid, clock_getcpuclockid), clock_settime,
// settimeofday, capget and capset, with every bad-argument case. Run as
// root (natively, in CI) it first becomes uid 1000, so that both runs are
// an unprivileged user's. Only booleans with generous bounds and errno
// names are printed: CPU times depend on the machine.
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest_util.h"

static const char *yes(int b) { return b ? "yes" : "no"; }

static long long ns(struct timespec ts) { return ts.tv_sec * 1000000000LL + ts.tv_nsec; }

static long long cpu_ns(clockid_t c) {
	struct timespec ts;
	if (clock_gettime(c, &ts) != 0)
		return -1;
	return ns(ts);
}

static long long tv_ms(struct timeval tv) { return tv.tv_sec * 1000LL + tv.tv_usec / 1000; }

// burn spins until the calling thread has used ms of CPU.
static void burn(int ms) {
	long long end = cpu_ns(CLOCK_THREAD_CPUTIME_ID) + ms * 1000000LL;
	volatile unsigned long x = 0;
	while (cpu_ns(CLOCK_THREAD_CPUTIME_ID) < end)
		for (int i = 0; i < 100000; i++)
			x += i;
}

static volatile int spun;
static int go_pipe[2];

static void *spinner(void *arg) {
	(void)arg;
	burn(200);
	spun = 1;
	char c;
	if (read(go_pipe[0], &c, 1) != 1)
		return NULL;
	return NULL;
}

int main(void) {
	drop_root();
	struct rusage ru;
	printf("getrusage(SELF): %s\n", outcome(getrusage(RUSAGE_SELF, &ru)));
	long long start_ms = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
	long maxrss0 = ru.ru_maxrss;
	printf("maxrss > 0: %s\n", yes(maxrss0 > 0));
	printf("getrusage(42): %s\n", outcome(getrusage(42, &ru)));
	printf("getrusage(bad buffer): %s\n", outcome(syscall(SYS_getrusage, RUSAGE_SELF, (void *)8)));

	long long p0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	burn(300);
	long long p1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), t1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	printf("after 300 ms of CPU: process clock +>= 250 ms: %s, thread clock +>= 250 ms: %s\n",
	       yes(p1 - p0 >= 250000000LL), yes(t1 - t0 >= 250000000LL));
	getrusage(RUSAGE_SELF, &ru);
	long long self_ms = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
	printf("RUSAGE_SELF +>= 250 ms: %s, below 30 s: %s\n", yes(self_ms - start_ms >= 250), yes(self_ms < 30000));
	struct rusage th;
	// (Each call is made before the printf that shows its results: the
	// order in which arguments are evaluated is unspecified.)
	const char *e = outcome(getrusage(RUSAGE_THREAD, &th));
	printf("getrusage(THREAD): %s, >= 250 ms: %s\n", e, yes(tv_ms(th.ru_utime) + tv_ms(th.ru_stime) >= 250));

	// Another thread's clock counts its CPU, not ours.
	if (pipe(go_pipe) != 0)
		return 1;
	pthread_t pt;
	pthread_create(&pt, NULL, spinner, NULL);
	while (!spun)
		usleep(1000);
	clockid_t tc;
	printf("pthread_getcpuclockid: %s\n", strerror(pthread_getcpuclockid(pt, &tc)));
	long long other = cpu_ns(tc), mine = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	// It spun 200 ms, we over 300 ms: its clock is its own, not the process's.
	printf("other thread's clock >= 150 ms: %s, below ours: %s\n", yes(other >= 150000000LL), yes(other < mine));
	struct timespec res;
	e = outcome(clock_getres(tc, &res));
	printf("clock_getres(thread clock): %s, 1 ns: %s\n", e, yes(ns(res) == 1));
	printf("process clock >= both threads' 450 ms: %s\n", yes(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) >= 450000000LL));
	if (write(go_pipe[1], "g", 1) != 1)
		return 1;
	pthread_join(pt, NULL);
	// join returns once the kernel clears the thread's tid, which comes
	// before the thread is released: for a moment its clock still reads,
	// natively too. Wait (up to 2 s) until it is gone.
	int rc = clock_gettime(tc, &res);
	for (int i = 0; rc == 0 && i < 200; i++) {
		usleep(10000);
		rc = clock_gettime(tc, &res);
	}
	printf("joined thread's clock: %s\n", outcome(rc));

	clockid_t pc;
	printf("clock_getcpuclockid(getpid()): %s\n", strerror(clock_getcpuclockid(getpid(), &pc)));
	printf("its clock >= 450 ms: %s\n", yes(cpu_ns(pc) >= 450000000LL));
	// A thread clock of a tid outside the process, and a bad kind.
	clockid_t bad_thread = (clockid_t)((~(clockid_t)999999 << 3) | 6);
	printf("thread clock of no such tid: %s\n", outcome(clock_gettime(bad_thread, &res)));
	printf("CPU clock of kind 3: %s\n", outcome(clock_gettime((clockid_t)((~(clockid_t)0 << 3) | 3), &res)));
	printf("process clock of no such pid: %s\n", outcome(clock_gettime((clockid_t)((~(clockid_t)999999 << 3) | 2), &res)));

	// times: ticks of CPU, children's after wait.
	struct tms tm;
	clock_t c0 = times(&tm);
	printf("times: %s, utime+stime >= 45 ticks: %s, children 0: %s\n", c0 == (clock_t)-1 ? "error" : "ok",
	       yes(tm.tms_utime + tm.tms_stime >= 45), yes(tm.tms_cutime + tm.tms_cstime == 0));
	printf("times(NULL): %s\n", times(NULL) == (clock_t)-1 ? "error" : "ok");
	printf("times(bad buffer): %s\n", outcome(syscall(SYS_times, (void *)8)));

	getrusage(RUSAGE_CHILDREN, &ru);
	printf("RUSAGE_CHILDREN before any child: 0 ms: %s\n", yes(tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime) == 0));
	pid_t pid = fork();
	if (pid == 0) {
		burn(300);
		// 64 MiB touched: the child's maxrss.
		char *m = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(1);
		memset(m, 1, 64 << 20);
		_exit(0);
	}
	struct rusage cru;
	int status;
	pid_t w = wait4(pid, &status, 0, &cru);
	printf("wait4: %s, child's rusage >= 250 ms: %s, maxrss >= 64 MiB: %s\n", w == pid ? "ok" : "error",
	       yes(tv_ms(cru.ru_utime) + tv_ms(cru.ru_stime) >= 250), yes(cru.ru_maxrss >= 64 * 1024));
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("RUSAGE_CHILDREN >= 250 ms: %s, maxrss >= 64 MiB: %s\n",
	       yes(tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime) >= 250), yes(ru.ru_maxrss >= 64 * 1024));
	getrusage(RUSAGE_SELF, &ru);
	printf("our maxrss below the child's: %s\n", yes(ru.ru_maxrss < 64 * 1024));
	times(&tm);
	printf("times: children >= 25 ticks: %s\n", yes(tm.tms_cutime + tm.tms_cstime >= 25));
	struct timespec sl = {0, 100000000};
	clock_t before = times(NULL);
	nanosleep(&sl, NULL);
	clock_t elapsed = times(NULL) - before;
	printf("times across 100 ms: 8..100 ticks: %s\n", yes(elapsed >= 8 && elapsed <= 100));

	// Setting clocks.
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	printf("clock_settime(REALTIME): %s\n", outcome(clock_settime(CLOCK_REALTIME, &now)));
	printf("clock_settime(REALTIME, bad nsec): %s\n",
	       outcome(clock_settime(CLOCK_REALTIME, &(struct timespec){.tv_sec = 1, .tv_nsec = 2000000000})));
	printf("clock_settime(REALTIME, bad pointer): %s\n", outcome(syscall(SYS_clock_settime, CLOCK_REALTIME, (void *)8)));
	printf("clock_settime(MONOTONIC): %s\n", outcome(clock_settime(CLOCK_MONOTONIC, &now)));
	printf("clock_settime(BOOTTIME): %s\n", outcome(clock_settime(CLOCK_BOOTTIME, &now)));
	printf("clock_settime(PROCESS_CPUTIME_ID): %s\n", outcome(clock_settime(CLOCK_PROCESS_CPUTIME_ID, &now)));
	printf("clock_settime(THREAD_CPUTIME_ID): %s\n", outcome(clock_settime(CLOCK_THREAD_CPUTIME_ID, &now)));
	printf("clock_settime(clock 100): %s\n", outcome(clock_settime(100, &now)));
	printf("clock_settime(clock_getcpuclockid clock): %s\n", outcome(clock_settime(pc, &now)));
	printf("clock_settime(thread clock of no such tid): %s\n", outcome(clock_settime(bad_thread, &now)));
	struct timeval tv;
	gettimeofday(&tv, NULL);
	printf("settimeofday: %s\n", outcome(settimeofday(&tv, NULL)));
	printf("settimeofday(bad usec): %s\n", outcome(settimeofday(&(struct timeval){.tv_sec = 1, .tv_usec = 2000000}, NULL)));
	printf("settimeofday(bad pointer): %s\n", outcome(syscall(SYS_settimeofday, (void *)8, NULL)));

	// Capabilities: an unprivileged process has none and cannot get any.
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0xff, sizeof data);
	e = outcome(syscall(SYS_capget, &hdr, data));
	printf("capget(v3): %s, all sets empty: %s\n", e,
	       yes(!data[0].effective && !data[0].permitted && !data[0].inheritable && !data[1].effective &&
		   !data[1].permitted && !data[1].inheritable));
	hdr.version = 0x12345678;
	e = outcome(syscall(SYS_capget, &hdr, data));
	printf("capget(bad version): %s, version now %#x\n", e, hdr.version);
	hdr.version = 0x12345678;
	e = outcome(syscall(SYS_capget, &hdr, NULL));
	printf("capget(bad version, NULL data): %s, version now %#x\n", e, hdr.version);
	hdr = (struct __user_cap_header_struct){.version = _LINUX_CAPABILITY_VERSION_1, .pid = 0};
	printf("capget(v1): %s\n", outcome(syscall(SYS_capget, &hdr, data)));
	hdr = (struct __user_cap_header_struct){.version = _LINUX_CAPABILITY_VERSION_3, .pid = 999999};
	printf("capget(no such pid): %s\n", outcome(syscall(SYS_capget, &hdr, data)));
	hdr.pid = -1;
	printf("capget(pid -1): %s\n", outcome(syscall(SYS_capget, &hdr, data)));
	hdr.pid = getpid();
	printf("capget(own pid): %s\n", outcome(syscall(SYS_capget, &hdr, data)));
	printf("capget(bad header): %s\n", outcome(syscall(SYS_capget, (void *)8, data)));
	hdr.pid = 0;
	printf("capget(bad data): %s\n", outcome(syscall(SYS_capget, &hdr, (void *)8)));
	memset(data, 0, sizeof data);
	printf("capset(nothing): %s\n", outcome(syscall(SYS_capset, &hdr, data)));
	data[0].effective = data[0].permitted = 1u << CAP_SYS_ADMIN;
	printf("capset(CAP_SYS_ADMIN): %s\n", outcome(syscall(SYS_capset, &hdr, data)));
	memset(data, 0, sizeof data);
	data[1].inheritable = 1;
	printf("capset(inheritable cap 32): %s\n", outcome(syscall(SYS_capset, &hdr, data)));
	memset(data, 0, sizeof data);
	hdr.pid = 1 << 20;
	printf("capset(other pid): %s\n", outcome(syscall(SYS_capset, &hdr, data)));
	hdr.pid = 0;
	hdr.version = 1;
	printf("capset(bad version): %s\n", outcome(syscall(SYS_capset, &hdr, data)));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	printf("capset(bad data): %s\n", outcome(syscall(SYS_capset, &hdr, (void *)8)));
	return 0;
}

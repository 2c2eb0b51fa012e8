// threads MODE: POSIX threads (clone, futex, set_robust_list, TLS).
//
//   sum        8 threads add to a shared counter under a mutex and return
//              partial sums through pthread_join
//   barrier    a condvar barrier (all 8 threads wait until all arrived), a
//              condvar ping-pong handshake, pthread_barrier_wait
//   tls        __thread variables are per thread; thread ids and the pid
//   prodcons   2 producers and 2 consumers on a bounded buffer with two
//              condvars; pthread_cond_timedwait times out
//   exit       a thread calls exit(3) while main blocks in pthread_join:
//              the whole process exits with 3
//   exit-race  a thread calls exit(3) 5 ms in, while the main thread is
//              still creating 200 threads: the process must exit with 3
//   fork       a thread forks; the child has only that thread
//   exec       a thread calls execve: the other threads vanish, the pid is
//              kept (re-executes itself with --after-exec PID)
//   signal     pthread_kill targets one thread; a process-directed signal
//              goes to the only thread that does not block it
//   cancel     pthread_cancel of a thread blocked in read
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *yes(int b) { return b ? "yes" : "no"; }

static const char *ename(int e) {
	const char *n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

static void die(const char *what, int err) {
	printf("FAIL %s: %s\n", what, ename(err));
	exit(99);
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

enum { NTHREADS = 8, PER_THREAD = 20000 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *sum_worker(void *arg) {
	long id = (long)arg, partial = 0;
	for (int i = 1; i <= PER_THREAD; i++) {
		pthread_mutex_lock(&mu);
		counter += i;
		pthread_mutex_unlock(&mu);
		partial += i * (id + 1);
	}
	return (void *)partial;
}

static int sum(void) {
	pthread_t th[NTHREADS];
	for (long i = 0; i < NTHREADS; i++) {
		int e = pthread_create(&th[i], NULL, sum_worker, (void *)i);
		if (e)
			die("pthread_create", e);
	}
	long joined = 0;
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;
		int e = pthread_join(th[i], &ret);
		if (e)
			die("pthread_join", e);
		joined += (long)ret;
	}
	long one = (long)PER_THREAD * (PER_THREAD + 1) / 2;
	printf("counter: %ld (want %ld)\n", counter, one * NTHREADS);
	printf("joined partial sums: %ld (want %ld)\n", joined, one * (NTHREADS * (NTHREADS + 1) / 2));
	return 0;
}

static pthread_mutex_t bmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bcv = PTHREAD_COND_INITIALIZER;
static int arrived, released_early;
static pthread_barrier_t pbar;
static int serial_count;

static void *barrier_worker(void *arg) {
	(void)arg;
	pthread_mutex_lock(&bmu);
	arrived++;
	if (arrived == NTHREADS)
		pthread_cond_broadcast(&bcv);
	while (arrived < NTHREADS)
		pthread_cond_wait(&bcv, &bmu);
	if (arrived != NTHREADS)
		released_early++;
	pthread_mutex_unlock(&bmu);

	for (int round = 0; round < 50; round++) {
		int r = pthread_barrier_wait(&pbar);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
			pthread_mutex_lock(&bmu);
			serial_count++;
			pthread_mutex_unlock(&bmu);
		} else if (r != 0) {
			die("pthread_barrier_wait", r);
		}
	}
	return NULL;
}

static pthread_mutex_t pmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pcv = PTHREAD_COND_INITIALIZER;
static int turn; // 0: ping's turn, 1: pong's
static int pongs;

static void *pong(void *arg) {
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&pmu);
		while (turn != 1)
			pthread_cond_wait(&pcv, &pmu);
		pongs++;
		turn = 0;
		pthread_cond_signal(&pcv);
		pthread_mutex_unlock(&pmu);
	}
	return NULL;
}

static int barrier(void) {
	pthread_t th[NTHREADS];
	pthread_barrier_init(&pbar, NULL, NTHREADS);
	for (long i = 0; i < NTHREADS; i++) {
		int e = pthread_create(&th[i], NULL, barrier_worker, NULL);
		if (e)
			die("pthread_create", e);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	printf("condvar barrier: %d arrived, %d released early\n", arrived, released_early);
	printf("pthread_barrier_wait: 50 rounds, serial thread %d times\n", serial_count);

	pthread_t p;
	pthread_create(&p, NULL, pong, NULL);
	int pings = 0;
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&pmu);
		while (turn != 0)
			pthread_cond_wait(&pcv, &pmu);
		pings++;
		turn = 1;
		pthread_cond_signal(&pcv);
		pthread_mutex_unlock(&pmu);
	}
	pthread_join(p, NULL);
	printf("handshake: %d pings, %d pongs\n", pings, pongs);
	return 0;
}

static __thread int tls = 42;
static __thread char tls_buf[64];
static pid_t main_pid;

struct tls_result {
	int ok, initial;
	uintptr_t addr;
	pid_t tid;
	int same_pid;
};

static void *tls_worker(void *arg) {
	struct tls_result *r = arg;
	r->initial = tls;
	tls = (int)(uintptr_t)arg & 0xffff;
	snprintf(tls_buf, sizeof tls_buf, "thread %p", arg);
	int mine = tls;
	char copy[64];
	strcpy(copy, tls_buf);
	for (int i = 0; i < 100; i++) {
		sched_yield();
		if (tls != mine || strcmp(copy, tls_buf) != 0)
			r->ok = 0;
	}
	r->addr = (uintptr_t)&tls;
	r->tid = gettid_();
	r->same_pid = getpid() == main_pid;
	return NULL;
}

static int do_tls(void) {
	main_pid = getpid();
	struct tls_result res[NTHREADS];
	pthread_t th[NTHREADS];
	tls = 7;
	for (int i = 0; i < NTHREADS; i++) {
		res[i] = (struct tls_result){.ok = 1};
		pthread_create(&th[i], NULL, tls_worker, &res[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	int ok = 1, initial = 1, distinct_addr = 1, distinct_tid = 1, same_pid = 1;
	for (int i = 0; i < NTHREADS; i++) {
		ok &= res[i].ok;
		initial &= res[i].initial == 42;
		same_pid &= res[i].same_pid;
		if (res[i].addr == (uintptr_t)&tls || res[i].tid == main_pid)
			distinct_addr = distinct_tid = 0;
		for (int j = 0; j < i; j++) {
			if (res[i].addr == res[j].addr)
				distinct_addr = 0;
			if (res[i].tid == res[j].tid)
				distinct_tid = 0;
		}
	}
	printf("threads start with the initial value 42: %s\n", yes(initial));
	printf("each thread keeps its own value: %s\n", yes(ok));
	printf("main thread's value unchanged: %s\n", yes(tls == 7));
	printf("distinct TLS addresses: %s\n", yes(distinct_addr));
	printf("distinct tids, none equal to the pid: %s\n", yes(distinct_tid));
	printf("getpid() same in all threads: %s\n", yes(same_pid));
	printf("main thread: gettid()==getpid(): %s\n", yes(gettid_() == getpid()));
	return 0;
}

enum { CAP = 4, ITEMS = 5000, PRODUCERS = 2, CONSUMERS = 2 };
static int buf[CAP], head, count, producers_done;
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notfull = PTHREAD_COND_INITIALIZER, notempty = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg) {
	long base = (long)arg;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&qmu);
		while (count == CAP)
			pthread_cond_wait(&notfull, &qmu);
		buf[(head + count) % CAP] = (int)(base + i);
		count++;
		pthread_cond_signal(&notempty);
		pthread_mutex_unlock(&qmu);
	}
	pthread_mutex_lock(&qmu);
	producers_done++;
	pthread_cond_broadcast(&notempty);
	pthread_mutex_unlock(&qmu);
	return NULL;
}

struct consumed {
	long sum, n;
};

static void *consumer(void *arg) {
	struct consumed *c = arg;
	for (;;) {
		pthread_mutex_lock(&qmu);
		while (count == 0 && producers_done < PRODUCERS)
			pthread_cond_wait(&notempty, &qmu);
		if (count == 0) {
			pthread_mutex_unlock(&qmu);
			return NULL;
		}
		int v = buf[head];
		head = (head + 1) % CAP;
		count--;
		pthread_cond_signal(&notfull);
		pthread_mutex_unlock(&qmu);
		c->sum += v;
		c->n++;
	}
}

static void *trylock_other(void *arg) {
	*(int *)arg = pthread_mutex_trylock(&qmu);
	return NULL;
}

static int prodcons(void) {
	pthread_t p[PRODUCERS], c[CONSUMERS];
	struct consumed got[CONSUMERS] = {{0, 0}};
	for (long i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)(i * 100000));
	for (int i = 0; i < CONSUMERS; i++)
		pthread_create(&c[i], NULL, consumer, &got[i]);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);
	long n = 0, s = 0;
	for (int i = 0; i < CONSUMERS; i++) {
		n += got[i].n;
		s += got[i].sum;
	}
	long want = 0;
	for (long b = 0; b < PRODUCERS; b++)
		want += b * 100000 * ITEMS + (long)ITEMS * (ITEMS + 1) / 2;
	printf("consumed %ld items (want %d), sum %ld (want %ld)\n", n, PRODUCERS * ITEMS, s, want);

	// A timed wait that nobody signals.
	pthread_mutex_lock(&qmu);
	struct timespec start, deadline, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += 100 * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	int e = pthread_cond_timedwait(&notempty, &qmu, &deadline);
	clock_gettime(CLOCK_MONOTONIC, &end);
	pthread_mutex_unlock(&qmu);
	long ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
	printf("pthread_cond_timedwait: %s after >= 90ms: %s\n", ename(e), yes(ms >= 90));
	e = pthread_mutex_trylock(&qmu);
	printf("trylock free mutex: %d\n", e);
	pthread_t t;
	// trylock from another thread while we hold it.
	int other = -1;
	pthread_create(&t, NULL, trylock_other, &other);
	pthread_join(t, NULL);
	printf("trylock held mutex from another thread: %s\n", ename(other));
	pthread_mutex_unlock(&qmu);
	return 0;
}

static void *sleeper(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void *identity(void *arg) { return arg; }

static void *exit_worker(void *arg) {
	(void)arg;
	sleep_ms(50);
	printf("thread calls exit(3)\n");
	exit(3);
}

static int do_exit(void) {
	pthread_t t;
	pthread_create(&t, NULL, exit_worker, NULL);
	// Other threads are blocked in various ways when the process exits.
	pthread_t s;
	pthread_create(&s, NULL, sleeper, NULL);
	pthread_join(t, NULL);
	printf("not reached\n");
	return 0;
}

static void *exit_soon(void *arg) {
	(void)arg;
	sleep_ms(5);
	exit(3);
}

static int exit_race(void) {
	pthread_t t;
	pthread_create(&t, NULL, exit_soon, NULL);
	for (int i = 0; i < 200; i++)
		if (pthread_create(&t, NULL, sleeper, NULL) != 0)
			break; // EAGAIN once the process is exiting
	for (;;)
		pause();
	return 0;
}

static void *fork_worker(void *arg) {
	(void)arg;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		// Only this thread exists in the child; it can still make threads.
		pthread_t t;
		void *ret = NULL;
		int ok = pthread_create(&t, NULL, identity, (void *)42) == 0 && pthread_join(t, &ret) == 0 &&
		         ret == (void *)42;
		printf("child: new thread works: %s\n", yes(ok));
		pthread_mutex_lock(&mu); // not held by anyone at fork time
		pthread_mutex_unlock(&mu);
		_exit(11);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("forked from a thread: exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return NULL;
}

static int do_fork(void) {
	pthread_t t, busy[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&busy[i], NULL, sleeper, NULL);
	pthread_create(&t, NULL, fork_worker, NULL);
	pthread_join(t, NULL);
	return 0;
}

static const char *self;

static void *exec_worker(void *arg) {
	(void)arg;
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	char *argv[] = {"threads", "--after-exec", pid, NULL};
	sleep_ms(20);
	fflush(stdout);
	execve(self, argv, environ);
	die("execve", errno);
	return NULL;
}

static int do_exec(void) {
	pthread_t t, s;
	pthread_create(&s, NULL, sleeper, NULL);
	pthread_create(&t, NULL, exec_worker, NULL);
	for (;;)
		pause();
	return 0;
}

static int after_exec(const char *pid) {
	printf("after exec from a thread: pid kept: %s, gettid()==getpid(): %s\n", yes(atoi(pid) == getpid()),
	       yes(gettid_() == getpid()));
	// A new thread works in the new image.
	pthread_t t;
	void *ret;
	pthread_create(&t, NULL, identity, (void *)5);
	pthread_join(t, &ret);
	printf("new thread after exec: %ld\n", (long)ret);
	return 0;
}

static volatile pid_t handled_by;
static volatile int handled;

static void on_usr1(int sig) {
	(void)sig;
	handled_by = gettid_();
	handled++;
}

static pid_t target_tid;
static pthread_barrier_t sbar;

static void *signal_worker(void *arg) {
	long unblock = (long)arg;
	if (unblock) {
		target_tid = gettid_();
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	pthread_barrier_wait(&sbar);
	// Wait until the main thread says stop.
	pthread_barrier_wait(&sbar);
	return NULL;
}

static volatile int loop_stop;
static volatile pid_t loop_tid;

static void *loop(void *arg) {
	(void)arg;
	loop_tid = gettid_();
	while (!loop_stop)
		sched_yield();
	return NULL;
}

static int do_signal(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	// pthread_kill: runs in the targeted thread.
	pthread_t t;
	pthread_create(&t, NULL, loop, NULL);
	while (loop_tid == 0)
		sched_yield();
	pthread_kill(t, SIGUSR1);
	for (int i = 0; i < 5000 && !handled; i++)
		sleep_ms(1);
	loop_stop = 1;
	pthread_join(t, NULL);
	printf("pthread_kill: handled %d time(s), by the target thread: %s\n", handled,
	       yes(handled_by == loop_tid));

	// A process-directed signal goes to the one thread not blocking it.
	handled = 0;
	handled_by = 0;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL); // inherited by new threads
	pthread_barrier_init(&sbar, NULL, 4);
	pthread_t th[3];
	for (long i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, signal_worker, (void *)(long)(i == 1));
	pthread_barrier_wait(&sbar);
	kill(getpid(), SIGUSR1);
	for (int i = 0; i < 5000 && !handled; i++)
		sleep_ms(1);
	pthread_barrier_wait(&sbar);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	printf("kill(getpid()): handled %d time(s), by the unblocking thread: %s\n", handled,
	       yes(handled_by == target_tid));

	// tgkill to a thread that blocks it: pending for that thread only.
	sigset_t pend;
	handled = 0;
	raise(SIGUSR1); // tgkill to ourselves, blocked
	sigpending(&pend);
	printf("raise while blocked: pending %s, handled %d\n", yes(sigismember(&pend, SIGUSR1)), handled);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	printf("after unblocking: handled %d, by main: %s\n", handled, yes(handled_by == gettid_()));
	return 0;
}

static int cancel_pipe[2];

static void *cancel_worker(void *arg) {
	(void)arg;
	char ch;
	read(cancel_pipe[0], &ch, 1); // a cancellation point
	return (void *)1;
}

static int cancel(void) {
	if (pipe(cancel_pipe) < 0)
		die("pipe", errno);
	pthread_t t;
	pthread_create(&t, NULL, cancel_worker, NULL);
	sleep_ms(50);
	int e = pthread_cancel(t);
	void *ret;
	pthread_join(t, &ret);
	printf("pthread_cancel: %d, joined PTHREAD_CANCELED: %s\n", e, yes(ret == PTHREAD_CANCELED));
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	self = argv[0];
	if (argc < 2) {
		fprintf(stderr, "usage: threads MODE\n");
		return 2;
	}
	const char *m = argv[1];
	if (strcmp(m, "sum") == 0)
		return sum();
	if (strcmp(m, "barrier") == 0)
		return barrier();
	if (strcmp(m, "tls") == 0)
		return do_tls();
	if (strcmp(m, "prodcons") == 0)
		return prodcons();
	if (strcmp(m, "exit") == 0)
		return do_exit();
	if (strcmp(m, "exit-race") == 0)
		return exit_race();
	if (strcmp(m, "fork") == 0)
		return do_fork();
	if (strcmp(m, "exec") == 0)
		return do_exec();
	if (strcmp(m, "--after-exec") == 0 && argc > 2)
		return after_exec(argv[2]);
	if (strcmp(m, "signal") == 0)
		return do_signal();
	if (strcmp(m, "cancel") == 0)
		return cancel();
	fprintf(stderr, "threads: unknown mode %s\n", m);
	return 2;
}

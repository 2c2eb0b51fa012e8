// bench_futex N: two threads play N rounds of ping-pong through two futex
// words. The main thread publishes round i in `ping` and wakes the partner,
// which waits for it with FUTEX_WAIT, answers in `pong` and wakes the main
// thread. Used by bench/ to measure a thread switch through the kernel; the
// partner thread is created even for N = 0, so that the difference of two
// runs is the cost of N round trips. Exits 1 on an unexpected error.
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int ping, pong;
static long rounds;

static long futex(atomic_int *uaddr, int op, int val) {
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

// await blocks until *word == want. A spurious or early wake-up (EAGAIN:
// the value changed before the wait) just re-checks the word.
static void await(atomic_int *word, int want) {
	for (;;) {
		int v = atomic_load(word);
		if (v == want)
			return;
		if (futex(word, FUTEX_WAIT_PRIVATE, v) < 0 && errno != EAGAIN && errno != EINTR) {
			perror("futex wait");
			exit(1);
		}
	}
}

static void post(atomic_int *word, int val) {
	atomic_store(word, val);
	if (futex(word, FUTEX_WAKE_PRIVATE, INT_MAX) < 0) {
		perror("futex wake");
		exit(1);
	}
}

static void *partner(void *arg) {
	(void)arg;
	for (long i = 1; i <= rounds; i++) {
		await(&ping, (int)i);
		post(&pong, (int)i);
	}
	return NULL;
}

int main(int argc, char **argv) {
	rounds = argc > 1 ? atol(argv[1]) : 0;
	pthread_t t;
	int err = pthread_create(&t, NULL, partner, NULL);
	if (err != 0) {
		fprintf(stderr, "pthread_create: error %d\n", err);
		return 1;
	}
	for (long i = 1; i <= rounds; i++) {
		post(&ping, (int)i);
		await(&pong, (int)i);
	}
	err = pthread_join(t, NULL);
	if (err != 0) {
		fprintf(stderr, "pthread_join: error %d\n", err);
		return 1;
	}
	return 0;
}

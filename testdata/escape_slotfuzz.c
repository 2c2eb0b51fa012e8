// escape_slotfuzz SECONDS SEED: a guest that forges what litebox reads from
// the systrap stub's shared slots. For SECONDS it forks children; each
// child starts worker threads that issue syscalls (and so trap through
// their slots) and scribbler threads that write random and interesting
// values over every slot page and signal stack they can find in their
// address space (0x7ff000100000: one 4 KiB slot per stub thread;
// 0x7ff010000000: one 64 KiB signal stack per thread), racing the stub's
// handler and litebox. Children may die in any way; litebox must not.
// Under ptrace those addresses are simply unmapped.
//
// Prints "done: N children, K killed after 3 s" and exits 0; any other
// outcome is litebox's.
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 0x7ff000100000UL
#define STACKS 0x7ff010000000UL
#define SCAN 64 // slots and stacks looked at (allocated from the lowest)

static __thread sigjmp_buf probe_jb;
static __thread volatile int probing;
static uint64_t seed;

static uint64_t rnd(uint64_t *s) {
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void on_fault(int sig) {
	if (probing)
		siglongjmp(probe_jb, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int mapped(volatile uint64_t *p) {
	probing = 1;
	if (sigsetjmp(probe_jb, 1)) {
		probing = 0;
		return 0;
	}
	(void)*p;
	probing = 0;
	return 1;
}

static uint64_t interesting(uint64_t *s) {
	static const uint64_t v[] = {0,     1,          2,          3,           4,
				     5,     6,          7,          31,          64,
				     65,    1000,       0xffffffff, ~0ULL,       0x80000000,
				     1ULL << 63, SLOTS, STACKS, 0x7ff000000000UL, 0x7ff100000000UL};
	if (rnd(s) % 3 == 0)
		return rnd(s);
	return v[rnd(s) % (sizeof v / sizeof *v)];
}

static void *scribbler(void *arg) {
	uint64_t s = (uint64_t)(uintptr_t)arg;
	volatile uint64_t *pages[2 * SCAN];
	size_t sizes[2 * SCAN];
	int n = 0;
	for (int i = 0; i < SCAN; i++) {
		volatile uint64_t *slot = (volatile uint64_t *)(SLOTS + 4096UL * i);
		if (mapped(slot)) {
			pages[n] = slot;
			sizes[n++] = 4096;
		}
		volatile uint64_t *stack = (volatile uint64_t *)(STACKS + 0x10000UL * i);
		if (mapped(stack)) {
			pages[n] = stack;
			sizes[n++] = 0x10000;
		}
	}
	if (n == 0)
		return NULL;
	for (;;) {
		int k = rnd(&s) % n;
		size_t words = sizes[k] / 8;
		// Most writes go to the fields litebox reads (the first 50 words
		// of a slot, the head and the top frames of a stack).
		size_t w = rnd(&s) % 2 ? rnd(&s) % (words < 50 ? words : 50) : rnd(&s) % words;
		if (sizes[k] > 4096 && rnd(&s) % 2)
			w = words - 1 - rnd(&s) % 256;
		if (rnd(&s) % 4 == 0)
			((volatile uint32_t *)pages[k])[2 * w + rnd(&s) % 2] = (uint32_t)interesting(&s);
		else
			pages[k][w] = interesting(&s);
	}
	return NULL;
}

static void *worker(void *arg) {
	uint64_t s = (uint64_t)(uintptr_t)arg;
	int fds[2];
	if (pipe(fds))
		return NULL;
	char c = 'x';
	for (;;) {
		switch (rnd(&s) % 5) {
		case 0:
			syscall(SYS_getppid);
			break;
		case 1:
			if (write(fds[1], &c, 1) == 1)
				(void)!read(fds[0], &c, 1);
			break;
		case 2: {
			void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p != MAP_FAILED) {
				*(volatile char *)p = 1;
				mprotect(p, 4096, PROT_READ);
				munmap(p, 8192);
			}
			break;
		}
		case 3: {
			struct timespec ts = {0, 1000};
			nanosleep(&ts, NULL);
			break;
		}
		case 4:
			sched_yield();
			break;
		}
	}
	return NULL;
}

static void child(uint64_t s) {
	signal(SIGSEGV, on_fault);
	signal(SIGBUS, on_fault);
	alarm(1);
	pthread_t t;
	int workers = 1 + rnd(&s) % 3;
	for (int i = 0; i < workers; i++)
		pthread_create(&t, NULL, worker, (void *)(uintptr_t)(rnd(&s) | 1));
	pthread_create(&t, NULL, scribbler, (void *)(uintptr_t)(rnd(&s) | 1));
	struct timespec ts = {0, (long)(rnd(&s) % 300) * 1000000L};
	nanosleep(&ts, NULL);
	_exit(0);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: escape_slotfuzz SECONDS SEED\n");
		return 2;
	}
	double secs = atof(argv[1]);
	seed = strtoull(argv[2], NULL, 0) | 1;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int children = 0, stuck = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 > secs)
			break;
		uint64_t s = rnd(&seed);
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			child(s);
		// A child that forged its way into a wedge (its slot says one
		// thing, its thread does another) hangs only itself; after 3 s it
		// gets SIGKILL, which litebox must carry out all the same.
		int st, waited = 0;
		pid_t got;
		while ((got = waitpid(pid, &st, WNOHANG)) == 0 && waited < 3000) {
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
			waited += 10;
		}
		if (got == 0) {
			kill(pid, SIGKILL);
			stuck++;
			got = waitpid(pid, &st, 0);
		}
		if (got != pid) {
			perror("waitpid");
			return 1;
		}
		children++;
	}
	printf("done: %d children, %d killed after 3 s\n", children, stuck);
	return 0;
}

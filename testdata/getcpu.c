// getcpu.c: what sched_getcpu and getcpu promise on any Linux, printed as
// facts that hold natively and must hold in the guest too (the test
// compares the outputs): every answer is a CPU below
// sysconf(_SC_NPROCESSORS_ONLN) and in the thread's affinity mask, the node
// is 0 (one node), NULL pointers are allowed, and after sched_setaffinity
// to one CPU every answer is that CPU. RDTSCP and RDPID run unprivileged.
//
// Usage: getcpu [loop N | pinloop N]
//   loop N:    N calls each of sched_getcpu and getcpu, default affinity
//   pinloop N: pinned to the mask's last CPU, N calls of each
#define _GNU_SOURCE
#include <cpuid.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long nprocs;
static cpu_set_t allowed;

// ok reports whether cpu is an answer the thread may get: below nprocs and
// in mask.
static int ok(int cpu, const cpu_set_t *mask) {
	return cpu >= 0 && cpu < nprocs && CPU_ISSET(cpu, mask);
}

// calls makes n calls of sched_getcpu and of getcpu and counts the answers
// that are in mask (and on node 0 for getcpu), or equal to want if want >= 0.
static int calls(int n, const cpu_set_t *mask, int want) {
	int good = 0;
	for (int i = 0; i < n; i++) {
		int c = sched_getcpu();
		unsigned cpu = ~0u, node = ~0u;
		int r = getcpu(&cpu, &node);
		if (ok(c, mask) && (want < 0 || c == want) && r == 0 && node == 0 && ok((int)cpu, mask) &&
		    (want < 0 || (int)cpu == want))
			good++;
	}
	return good;
}

// nth returns the mask's k-th CPU (from 0), -1 past the last.
static int nth(const cpu_set_t *mask, int k) {
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, mask) && k-- == 0)
			return c;
	return -1;
}

static int pin(int cpu) {
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof one, &one);
}

int main(int argc, char **argv) {
	nprocs = sysconf(_SC_NPROCESSORS_ONLN);
	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
		perror("sched_getaffinity");
		return 1;
	}
	int count = CPU_COUNT(&allowed);
	if (argc == 3 && strcmp(argv[1], "loop") == 0) {
		int n = atoi(argv[2]);
		printf("%d calls, %d in the mask\n", n, calls(n, &allowed, -1));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "pinloop") == 0) {
		int n = atoi(argv[2]), cpu = nth(&allowed, count - 1);
		if (pin(cpu) != 0) {
			perror("sched_setaffinity");
			return 1;
		}
		printf("%d calls, %d on the pinned CPU\n", n, calls(n, &allowed, cpu));
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: getcpu [loop N | pinloop N]\n");
		return 2;
	}

	printf("the mask's CPUs are below nprocs: %s\n", nth(&allowed, count - 1) < nprocs ? "yes" : "no");
	printf("default mask: 1000 calls, %d in the mask\n", calls(1000, &allowed, -1));

	unsigned cpu = ~0u, node = ~0u;
	int r = getcpu(NULL, NULL);
	printf("getcpu(NULL, NULL) = %d\n", r);
	r = getcpu(&cpu, NULL);
	printf("getcpu(&cpu, NULL) = %d, cpu ok: %s\n", r, ok((int)cpu, &allowed) ? "yes" : "no");
	r = getcpu(NULL, &node);
	printf("getcpu(NULL, &node) = %d, node %u\n", r, node);

	// Pinned to each CPU of the mask in turn: every answer is that CPU.
	for (int k = 0; k < count; k++) {
		int c = nth(&allowed, k);
		r = pin(c);
		printf("pinned to the mask's CPU %d: %d, 100 calls, %d answer it\n", k, r, calls(100, &allowed, c));
	}
	// The whole mask again: any CPU of it.
	r = sched_setaffinity(0, sizeof allowed, &allowed);
	printf("unpinned: %d, 1000 calls, %d in the mask\n", r, calls(1000, &allowed, -1));

	// RDTSCP and RDPID are unprivileged (CR4.TSD clear): a guest can read
	// its host CPU's TSC_AUX itself, with or without the vDSO.
	unsigned a, b, c, d;
	if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27))) {
		unsigned aux;
		__asm__ volatile("rdtscp" : "=a"(a), "=d"(d), "=c"(aux));
		printf("rdtscp ran\n");
	} else {
		printf("no rdtscp on this CPU\n");
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 22))) {
		unsigned long aux;
		__asm__ volatile("rdpid %0" : "=r"(aux));
		printf("rdpid ran\n");
	} else {
		printf("no rdpid on this CPU\n");
	}
	return 0;
}

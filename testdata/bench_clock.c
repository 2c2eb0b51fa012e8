// bench_clock N: N calls of the C library's clock_gettime(CLOCK_MONOTONIC),
// which goes through the vDSO where there is one (natively, and under
// litebox since it has one) and is a trapped syscall where there is not.
// Used by bench/ to measure the per-call cost of reading the clock.
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 0;
	struct timespec ts;
	long sum = 0;
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sum += ts.tv_nsec; // the result is used: the call cannot be elided
	}
	return sum == 1; // practically never
}

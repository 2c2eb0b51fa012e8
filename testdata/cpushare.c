// cpushare.c: spins on THREADS threads for SECONDS of wall-clock time, then
// prints the process's CPU time per second of wall-clock time, in
// hundredths: under a CPU share of N CPUs it stays near 100*N.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds;

static double now(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *spin(void *arg) {
	double start = now(CLOCK_MONOTONIC);
	volatile unsigned long n = 0;
	while (now(CLOCK_MONOTONIC) - start < seconds)
		for (int i = 0; i < 100000; i++)
			n++;
	return arg;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: cpushare THREADS SECONDS\n");
		return 2;
	}
	int threads = atoi(argv[1]);
	seconds = atof(argv[2]);
	double wall = now(CLOCK_MONOTONIC), cpu = now(CLOCK_PROCESS_CPUTIME_ID);
	pthread_t t[16];
	for (int i = 1; i < threads && i < 16; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	spin(NULL);
	for (int i = 1; i < threads && i < 16; i++)
		pthread_join(t[i], NULL);
	wall = now(CLOCK_MONOTONIC) - wall;
	cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	printf("%d\n", (int)(100 * cpu / wall));
	return 0;
}

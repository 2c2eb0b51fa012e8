// itimer_flood N SECONDS MODE: N processes arm ITIMER_REAL with a 1 us
// interval and a SIGALRM handler for SECONDS, then the parent ends them
// and prints how many processes ran and how many ticks they took in all
// (to stderr: it varies). MODE says what each does meanwhile:
//   pause  sleeps in pause() (every tick wakes it)
//   spin   spins in user space
//   block  spins with SIGALRM blocked (the ticks stay pending)
//   ignore spins with SIGALRM ignored
// The test measures litebox's own CPU time while this runs; natively the
// host kernel rearms the timer only as the signal is taken, so a tiny
// interval costs no more than the signals actually delivered.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static int report = -1;

static void on_alarm(int sig) {
	(void)sig;
	ticks++;
}

static void on_term(int sig) {
	(void)sig;
	long n = ticks;
	if (write(report, &n, sizeof n) != sizeof n)
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: itimer_flood N SECONDS pause|spin|block|ignore\n");
		return 2;
	}
	int n = atoi(argv[1]);
	int secs = atoi(argv[2]);
	const char *mode = argv[3];
	pid_t pids[1024];
	int rp[2];
	if (n < 1 || n > 1024 || pipe(rp) != 0)
		return 2;
	report = rp[1];
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = on_term;
			sigaction(SIGTERM, &sa, NULL);
			sa.sa_handler = strcmp(mode, "ignore") == 0 ? SIG_IGN : on_alarm;
			sigaction(SIGALRM, &sa, NULL);
			if (strcmp(mode, "block") == 0) {
				sigset_t s;
				sigemptyset(&s);
				sigaddset(&s, SIGALRM);
				sigprocmask(SIG_BLOCK, &s, NULL);
			}
			struct itimerval it = {.it_interval = {0, 1}, .it_value = {0, 1}};
			setitimer(ITIMER_REAL, &it, NULL);
			if (strcmp(mode, "pause") == 0)
				for (;;)
					pause();
			for (volatile unsigned long x = 0;; x++)
				;
		}
		pids[i] = pid;
	}
	sleep(secs);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	close(rp[1]);
	long total = 0, one;
	while (read(rp[0], &one, sizeof one) == sizeof one)
		total += one;
	int done = 0;
	while (wait(NULL) > 0)
		done++;
	printf("%d processes ran\n", done);
	fprintf(stderr, "ticks taken: %ld\n", total);
	return 0;
}

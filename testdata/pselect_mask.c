// pselect_mask: pselect6 waits with the mask it is given. With SIGCHLD
// blocked, a child's exit must interrupt a pselect whose mask unblocks it,
// whether the signal arrives during the wait (round 0) or was pending
// before it (round 1). make's jobserver waits this way.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>
static void h(int s) { (void)s; }
int main(void) {
	int p[2]; pipe(p);
	sigset_t b, e; sigemptyset(&b); sigaddset(&b, SIGCHLD); sigprocmask(SIG_BLOCK, &b, NULL);
	struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = h; sigaction(SIGCHLD, &sa, NULL);
	for (int round = 0; round < 2; round++) {
		pid_t c = fork();
		if (c == 0) { usleep(100000 * (round+1)); _exit(0); }
		if (round == 1) usleep(300000); // child exits while SIGCHLD is blocked: pending before pselect
		sigemptyset(&e);
		fd_set r; FD_ZERO(&r); FD_SET(p[0], &r);
		int n = pselect(p[0] + 1, &r, NULL, NULL, NULL, &e);
		printf("round %d pselect = %d %s\n", round, n, n < 0 ? strerror(errno) : "");
		waitpid(c, NULL, 0);
	}
	return 0;
}

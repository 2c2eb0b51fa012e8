// escape_pipes pipe|socketpair NPROC NPIPES: kernel buffer exhaustion.
// Forks NPROC children; each creates up to NPIPES pipes (or socketpairs),
// all non-blocking, and fills each one with 64 KiB writes until it is full
// (EAGAIN), then goes on with the next. A child stops at the first error
// that is not EAGAIN (from pipe/socketpair or from write) or after NPIPES,
// reports it to the parent, and waits to be killed while holding all its
// buffers. The parent prints how many children stopped with each errno
// ("ok" for a child that filled all NPIPES), kills and reaps them all and
// exits 0. Nothing is printed per child, so the output does not depend on
// the order in which they ran.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[64 << 10];

static int child(int sock, int npipes) {
	int err = 0;
	for (int i = 0; i < npipes && !err; i++) {
		int fds[2];
		int r = sock ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds)
		             : pipe2(fds, O_NONBLOCK);
		if (r != 0) {
			err = errno;
			break;
		}
		for (;;) {
			ssize_t n = write(fds[1], buf, sizeof buf);
			if (n >= 0)
				continue;
			if (errno != EAGAIN)
				err = errno;
			break;
		}
	}
	return err;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || (strcmp(argv[1], "pipe") != 0 && strcmp(argv[1], "socketpair") != 0)) {
		fprintf(stderr, "usage: escape_pipes pipe|socketpair NPROC NPIPES\n");
		return 2;
	}
	int sock = strcmp(argv[1], "socketpair") == 0;
	int nproc = atoi(argv[2]), npipes = atoi(argv[3]);
	memset(buf, 'p', sizeof buf);
	sigset_t rt;
	sigemptyset(&rt);
	for (int i = 0; i <= 4; i++)
		sigaddset(&rt, SIGRTMIN + i);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	static const int codes[] = {0, ENOMEM, ENFILE, EMFILE, -1};
	pid_t *kids = calloc(nproc, sizeof *kids);
	static int seen[5];
	int forked = 0, forkErr = 0;
	for (; forked < nproc; forked++) {
		pid_t pid = fork();
		if (pid < 0) {
			forkErr = errno;
			break;
		}
		if (pid == 0) {
			int err = child(sock, npipes);
			int code = 4;
			for (int i = 0; i < 4; i++)
				if (codes[i] == err)
					code = i;
			kill(getppid(), SIGRTMIN + code);
			for (;;)
				pause();
		}
		kids[forked] = pid;
		// One child at a time: each sees what the previous ones hold.
		siginfo_t si;
		if (sigwaitinfo(&rt, &si) < 0 || si.si_pid != pid) {
			printf("child %d did not report\n", forked);
			forked++;
			break;
		}
		seen[si.si_signo - SIGRTMIN]++;
	}
	static const char *names[] = {"ok", "ENOMEM", "ENFILE", "EMFILE", "other"};
	for (int i = 0; i <= 4; i++)
		if (seen[i])
			printf("stopped by %s: %d\n", names[i], seen[i]);
	if (forkErr)
		printf("fork: %s after %d\n", strerrorname_np(forkErr), forked);
	for (int i = 0; i < forked; i++)
		kill(kids[i], SIGKILL);
	int reaped = 0;
	while (wait(NULL) > 0)
		reaped++;
	printf("reaped: %d\n", reaped);
	return 0;
}

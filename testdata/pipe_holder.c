// pipe_holder: the end state of test_multiprocessing_fork's hang after
// its last case (docs/compatibility.md), in C. A "tracker" child reads
// a pipe until end of file, as multiprocessing's resource tracker does; a
// "daemon" child forked after it inherits the pipe's write end and blocks
// in recv on a socketpair, as the _remote process test_pickling leaves
// behind when its listener cannot make an AF_INET socket. The parent
// closes its write end and waits (WNOHANG) for the tracker: it must not
// get end of file while the daemon holds a write end, natively too; that
// is where regrtest waited for ever. Once SIGTERM ends the daemon (default
// action, blocked in recv), the last writer is gone and the tracker
// exits.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest_util.h"

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *status(int st) {
	static char buf[64];
	if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "killed by SIG%s", sigabbrev_np(WTERMSIG(st)));
	else
		snprintf(buf, sizeof buf, "status %#x", st);
	return buf;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int alive[2], sv[2];
	// O_CLOEXEC as os.pipe() makes it: it matters to exec, not to fork.
	if (pipe2(alive, O_CLOEXEC) != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 1;
	pid_t tracker = fork();
	if (tracker == 0) {
		close(alive[1]);
		char b[64];
		ssize_t n;
		while ((n = read(alive[0], b, sizeof b)) > 0)
			;
		_exit(n == 0 ? 3 : 4); // 3: end of file, 4: an error
	}
	close(alive[0]);
	pid_t holder = fork();
	if (holder == 0) {
		close(sv[0]);
		char c;
		// Blocks: the parent never writes to its end.
		ssize_t n = recv(sv[1], &c, 1, 0);
		_exit(n == 0 ? 5 : 6);
	}
	close(sv[1]);
	printf("write to the tracker: %s\n", outcome(write(alive[1], "x", 1)));
	printf("close the parent's write end: %s\n", outcome(close(alive[1])));
	int st;
	for (int i = 0; i < 3; i++) {
		sleep_ms(100);
		pid_t r = waitpid(tracker, &st, WNOHANG);
		printf("tracker after %d ms, the daemon holding a write end: %s\n", 100 * (i + 1),
		       r == 0 ? "still reading" : r == tracker ? status(st) : outcome(r));
	}
	// The daemon is still blocked in recv; the socket's peer is open.
	printf("daemon alive: %s\n", waitpid(holder, &st, WNOHANG) == 0 ? "yes" : "no");
	printf("SIGTERM the daemon: %s\n", outcome(kill(holder, SIGTERM)));
	printf("daemon: %s\n", waitpid(holder, &st, 0) == holder ? status(st) : strerrorname_np(errno));
	printf("tracker: %s\n", waitpid(tracker, &st, 0) == tracker ? status(st) : strerrorname_np(errno));
	printf("no children left: %s\n", waitpid(-1, &st, 0) < 0 ? strerrorname_np(errno) : "no");
	return 0;
}

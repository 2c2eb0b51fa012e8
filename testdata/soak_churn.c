// soak_churn: process and thread churn for the soak test. Each mode loops
// until the sandbox's --timeout ends it (or N rounds, when given).
//
//   soak_churn fork [N]     fork a child that exits at once, wait for it
//   soak_churn tree [N]     fork a child that forks a grandchild; both exit,
//                           the grandchild reparented to pid 1 (orphans)
//   soak_churn threads [N]  create four threads that exit at once, join them
//   soak_churn locks [N]    take 1000 record locks on /tmp/soak.locks (one per
//                           other byte), then drop them all with one unlock
//
// With N it prints what it did; litebox must never fail it.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *nothing(void *arg) { return arg; }

static int setlk(int fd, short type, off_t start, off_t len) {
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, F_SETLK, &fl);
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	long n = argc > 2 ? atol(argv[2]) : -1;
	const char *mode = argv[1];
	long done = 0;
	int lockfd = -1;
	if (strcmp(mode, "locks") == 0 && (lockfd = open("/tmp/soak.locks", O_RDWR | O_CREAT, 0600)) < 0)
		return 3;
	for (; n < 0 || done < n; done++) {
		if (strcmp(mode, "fork") == 0 || strcmp(mode, "tree") == 0) {
			int tree = mode[0] == 't';
			pid_t pid = fork();
			if (pid < 0)
				return 4;
			if (pid == 0) {
				if (tree && fork() < 0)
					_exit(1);
				_exit(0);
			}
			int st;
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
				return 5;
			// Orphaned grandchildren are ours (we are pid 1): reap them.
			while (tree && waitpid(-1, NULL, WNOHANG) > 0)
				;
		} else if (strcmp(mode, "threads") == 0) {
			pthread_t t[4];
			for (int i = 0; i < 4; i++)
				if (pthread_create(&t[i], NULL, nothing, NULL) != 0)
					return 6;
			for (int i = 0; i < 4; i++)
				pthread_join(t[i], NULL);
		} else if (strcmp(mode, "locks") == 0) {
			for (int i = 0; i < 1000; i++)
				if (setlk(lockfd, F_WRLCK, 2 * i, 1) != 0)
					return 7;
			if (setlk(lockfd, F_UNLCK, 0, 0) != 0)
				return 8;
		} else {
			return 2;
		}
	}
	printf("%s rounds %ld\n", mode, done);
	return 0;
}

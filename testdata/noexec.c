// noexec.c DIR: copies itself (argv[0]) into DIR and tries to run it
// (execve), to map it executable (mmap PROT_EXEC) and to make a readable
// mapping of it executable (mprotect): on a noexec mount these fail with
// EACCES, EPERM and EACCES; elsewhere they work.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc == 2 && !strcmp(argv[1], "child"))
		return 42;
	if (argc != 2) {
		fprintf(stderr, "usage: noexec DIR\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/copy", argv[1]);
	int in = open(argv[0], O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0) {
		printf("open: %s\n", strerrorname_np(errno));
		return 1;
	}
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n) {
			printf("write: %s\n", strerrorname_np(errno));
			return 1;
		}
	close(in);
	close(out);

	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = {path, "child", NULL};
		execv(path, args);
		printf("execve: %s\n", strerrorname_np(errno));
		fflush(stdout);
		_exit(1);
	}
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 42)
		printf("execve: ok\n");

	int fd = open(path, O_RDONLY);
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	printf("mmap exec: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : "ok");
	if (p != MAP_FAILED)
		munmap(p, 4096);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("mmap read: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : "ok");
	if (p != MAP_FAILED)
		printf("mprotect exec: %s\n", mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0 ? strerrorname_np(errno) : "ok");
	close(fd);
	return 0;
}

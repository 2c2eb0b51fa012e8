// commit_reserve: CPython's and V8's pattern of a huge PROT_NONE
// reservation of which a small part is committed with mprotect, then
// fork. Under `litebox --memory 256M` only the committed part counts (as
// Linux's commit accounting). With an argument N it then tries to make N
// MiB more writable and prints the result (ENOMEM under litebox when N
// MiB do not fit the budget; a native host with the default overcommit
// says ok).
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"

#define MiB (1UL << 20)
#define GiB (1UL << 30)

int main(int argc, char **argv) {
	size_t reserve = 64 * GiB, commit = 16 * MiB;
	char *p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		printf("reserve 64 GiB: %s\n", strerrorname_np(errno));
		return 1;
	}
	printf("reserve 64 GiB: ok\n");
	printf("commit 16 MiB: %s\n", res(mprotect(p, commit, PROT_READ | PROT_WRITE)));
	memset(p, 'x', commit);
	pid_t pid = fork();
	if (pid < 0) {
		printf("fork: %s\n", strerrorname_np(errno));
		return 1;
	}
	if (pid == 0) {
		// The child's copy is its own: its stores leave the parent's alone.
		memset(p, 'y', commit);
		_exit(p[commit - 1] == 'y' ? 0 : 3);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	printf("parent still: %c\n", p[commit - 1]);
	printf("decommit: %s\n", res(mprotect(p, commit, PROT_NONE)));
	printf("recommit: %s\n", res(mprotect(p, commit, PROT_READ | PROT_WRITE)));
	if (argc > 1) {
		size_t more = strtoul(argv[1], NULL, 0) * MiB;
		int r = mprotect(p + commit, more, PROT_READ | PROT_WRITE);
		printf("commit %s MiB more: %s\n", argv[1], res(r));
		// After a refusal the range is still PROT_NONE: a smaller
		// commit still fits.
		printf("commit 1 MiB more: %s\n", res(mprotect(p + commit, MiB, PROT_READ | PROT_WRITE)));
	}
	printf("munmap: %s\n", res(munmap(p, reserve)));
	return 0;
}

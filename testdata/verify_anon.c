// verify_anon: anonymous executable memory, as a JIT makes it: mmap with
// PROT_EXEC (RWX, then RX), and mprotect adding PROT_EXEC to RW memory.
// Natively every call succeeds; under --no-exec-anon each is EACCES.
#define _GNU_SOURCE
#include <sys/mman.h>

#include "guest_util.h"

int main(void) {
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap rwx: %s\n", outcome(p == MAP_FAILED ? -1 : 0));
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("mmap shared rx: %s\n", outcome(p == MAP_FAILED ? -1 : 0));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap rw: %s\n", outcome(p == MAP_FAILED ? -1 : 0));
	printf("mprotect rx: %s\n", res(mprotect(p, 4096, PROT_READ | PROT_EXEC)));
	printf("mprotect r: %s\n", res(mprotect(p, 4096, PROT_READ)));
	return 0;
}

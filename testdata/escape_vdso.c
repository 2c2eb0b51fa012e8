// escape_vdso: the vDSO's `syscall` instructions (its fallbacks) are not
// the stub's: a guest that calls them with registers of its choosing gets
// what the same syscall gets from anywhere else in the guest, an answer of
// litebox's kernel, never the host's. For every `syscall; ret` in the
// vDSO's pages and each attack it prints
//   site +0xOFF ATTACK: vdso R, syscall S
// (R: the result through the vDSO's instruction, S: through syscall(2)),
// then "sites: N".
//   mprotect  make the stub's code page (0x7ff000000000) writable
//   write     write to the systrap stub's completion socket (host fd 6)
//   getpid    the host would answer with the stub's pid
//   add_key   a syscall litebox does not implement (the audit log shows it)
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STUB_BASE 0x7ff000000000UL

// call_site calls the instruction at site with the syscall registers; the
// `ret` after the vDSO's `syscall` comes back here. The red zone below the
// stack pointer is stepped over first, since `call` pushes onto it.
static long call_site(unsigned long site, long nr, long a1, long a2, long a3) {
	register long rax __asm__("rax") = nr;
	register long rdi __asm__("rdi") = a1;
	register long rsi __asm__("rsi") = a2;
	register long rdx __asm__("rdx") = a3;
	__asm__ volatile("sub $128, %%rsp\n\tcall *%[site]\n\tadd $128, %%rsp"
			 : "+r"(rax)
			 : [site] "r"(site), "r"(rdi), "r"(rsi), "r"(rdx)
			 : "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
	return rax;
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsigned long base = getauxval(AT_SYSINFO_EHDR), end = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s, e;
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &s, &e) == 2 && s == base)
			end = e;
	}
	if (!base || !end) {
		printf("no vDSO\n");
		return 1;
	}
	static const struct {
		const char *name;
		long nr, a1, a2, a3;
	} attacks[] = {
		{"mprotect", SYS_mprotect, STUB_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC},
		{"write", SYS_write, 6, (long)"x", 1},
		{"getpid", SYS_getpid, 0, 0, 0},
		{"add_key", SYS_add_key, 0, 0, 0},
	};
	int sites = 0;
	for (const unsigned char *p = (const unsigned char *)base; p + 3 <= (const unsigned char *)end; p++) {
		if (p[0] != 0x0f || p[1] != 0x05 || p[2] != 0xc3)
			continue;
		sites++;
		for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
			long r = call_site((unsigned long)p, attacks[i].nr, attacks[i].a1, attacks[i].a2, attacks[i].a3);
			long s = syscall(attacks[i].nr, attacks[i].a1, attacks[i].a2, attacks[i].a3);
			if (s == -1)
				s = -errno; // the raw result, as the vDSO's instruction returns it
			printf("site +%#lx %s: vdso %ld, syscall %ld\n", (unsigned long)p - base, attacks[i].name, r, s);
		}
	}
	printf("sites: %d\n", sites);
	return 0;
}

// args [ARG...]: prints what the program was started with, in a form that is
// identical natively and in the sandbox (no argv[0], no addresses):
//
//   argc=N
//   argv[i]=[...]             for i >= 1, except "--env NAME" pairs, which
//   env NAME=[value]|unset    print the value of environment variable NAME
//
// and then checks the initial process state the kernel built (auxiliary
// vector and argv/envp layout), printing "<check>: ok" or "<check>: FAIL".
// Exits 1 if any check failed.
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

// Both are defined by the linker for static and static-pie executables:
// _start is the entry point, __ehdr_start the mapped ELF header.
extern char _start[];
extern const Elf64_Ehdr __ehdr_start;

static int failed;

static void check(const char *name, int ok) {
	printf("%s: %s\n", name, ok ? "ok" : "FAIL");
	if (!ok)
		failed = 1;
}

// lookup returns getauxval(type) and whether the entry was present at all.
static unsigned long lookup(unsigned long type, int *present) {
	errno = 0;
	unsigned long v = getauxval(type);
	*present = errno == 0;
	return v;
}

int main(int argc, char **argv, char **envp) {
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
			const char *v = getenv(argv[++i]);
			if (v)
				printf("env %s=[%s]\n", argv[i], v);
			else
				printf("env %s unset\n", argv[i]);
			continue;
		}
		printf("argv[%d]=[%s]\n", i, argv[i]);
	}

	// Stack layout: argv[argc] is NULL and envp starts right after it.
	check("argv terminated", argv[argc] == NULL);
	check("envp follows argv", envp == argv + argc + 1);

	int present;
	unsigned long v;

	v = lookup(AT_PAGESZ, &present);
	check("AT_PAGESZ == 4096", present && v == 4096);

	const Elf64_Ehdr *eh = &__ehdr_start;
	v = lookup(AT_PHDR, &present);
	check("AT_PHDR == ELF header + e_phoff",
	      present && v == (unsigned long)eh + eh->e_phoff);
	v = lookup(AT_PHNUM, &present);
	check("AT_PHNUM == e_phnum", present && v == eh->e_phnum);
	v = lookup(AT_PHENT, &present);
	check("AT_PHENT == sizeof(Elf64_Phdr)", present && v == sizeof(Elf64_Phdr));

	v = lookup(AT_ENTRY, &present);
	check("AT_ENTRY == _start", present && v == (unsigned long)_start);

	// Static executables have no interpreter, so there is no interpreter base.
	v = lookup(AT_BASE, &present);
	check("AT_BASE == 0", v == 0);

	v = lookup(AT_RANDOM, &present);
	int random_ok = present && v != 0;
	if (random_ok) {
		// The 16 bytes must be readable; all-zero would mean nobody filled them.
		const unsigned char *r = (const unsigned char *)v;
		unsigned char acc = 0;
		for (int i = 0; i < 16; i++)
			acc |= r[i];
		random_ok = acc != 0;
	}
	check("AT_RANDOM points to 16 non-zero bytes", random_ok);

	v = lookup(AT_UID, &present);
	check("AT_UID consistent with getuid()", present && v == getuid());
	v = lookup(AT_EUID, &present);
	check("AT_EUID consistent with geteuid()", present && v == geteuid());
	v = lookup(AT_GID, &present);
	check("AT_GID consistent with getgid()", present && v == getgid());
	v = lookup(AT_EGID, &present);
	check("AT_EGID consistent with getegid()", present && v == getegid());

	v = lookup(AT_SECURE, &present);
	check("AT_SECURE == 0", present && v == 0);

	v = lookup(AT_EXECFN, &present);
	const char *execfn = (const char *)v;
	check("AT_EXECFN == argv[0]",
	      present && execfn != NULL && execfn[0] != '\0' && strcmp(execfn, argv[0]) == 0);

	lookup(AT_HWCAP, &present);
	check("AT_HWCAP present", present);

	v = lookup(AT_CLKTCK, &present);
	check("AT_CLKTCK == 100", present && v == 100);

	return failed;
}

// escape_stubpage: a guest that knows litebox's layout jumps into the
// stub's code page, onto every `syscall` instruction it finds there, with
// registers of its choosing, and checks whether the host carried the call
// out. Each attempt runs in a forked child; the parent prints one line per
// attempt:
//   site +0xOFF: killed by signal N      the stub refused by dying
//   site +0xOFF: trap S, rax R           the call came back (S: the signal
//                                        that returned control to us)
//   ESCAPED: ...                         the host did what we asked
// and finally "sites: N".
//
// Usage: escape_stubpage ATTACK, ATTACK one of
//   mprotect  make the code page writable, then patch it
//   mmap      map and touch 512 MiB (run under a smaller --memory)
//   write     write to the stub's completion pipe (fd 6)
//   clone     create a process behind the kernel's back
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define STUB_BASE 0x7ff000000000UL
#define BIG_ADDR 0x200000000UL
#define BIG_LEN (512UL << 20)

static sigjmp_buf jb;
static volatile long trap_rax;
static volatile int trap_sig;
static volatile int probing;

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

static void on_trap(int sig, siginfo_t *si, void *ucv) {
	(void)si;
	ucontext_t *uc = ucv;
	if (probing)
		siglongjmp(jb, 2);
	trap_rax = uc->uc_mcontext.gregs[REG_RAX];
	trap_sig = sig;
	siglongjmp(jb, 1);
}

// jump loads the syscall registers and jumps to site: what follows the
// syscall instruction there is stub code, which soon traps back to us.
static void __attribute__((noreturn)) jump(unsigned long site, long nr, long a1, long a2, long a3, long a4,
					    long a5, long a6) {
	register long rax __asm__("rax") = nr;
	register long rdi __asm__("rdi") = a1;
	register long rsi __asm__("rsi") = a2;
	register long rdx __asm__("rdx") = a3;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	register unsigned long r11 __asm__("r11") = site;
	__asm__ volatile("jmp *%%r11" ::"r"(rax), "r"(rdi), "r"(rsi), "r"(rdx), "r"(r10), "r"(r8), "r"(r9),
			 "r"(r11)
			 : "memory");
	__builtin_unreachable();
}

// readable reports whether a byte at p can be read (or written).
static int probe(volatile unsigned char *p, int write_it) {
	probing = 1;
	if (sigsetjmp(jb, 1)) {
		probing = 0;
		return 0;
	}
	unsigned char c = *p;
	if (write_it)
		*p = c;
	probing = 0;
	return 1;
}

static void attempt(const char *attack, unsigned long site) {
	char line[200];
	pid_t me = getpid();
	setpgid(0, 0); // the parent kills whatever a stub-page clone made
	alarm(2);
	if (sigsetjmp(jb, 1) == 0) {
		if (!strcmp(attack, "mprotect"))
			jump(site, 10, STUB_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0);
		if (!strcmp(attack, "mmap"))
			jump(site, 9, BIG_ADDR, BIG_LEN, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0);
		if (!strcmp(attack, "write"))
			jump(site, 1, 6, (long)"litebox-forged-completion", 16, 0, 0, 0);
		if (!strcmp(attack, "clone"))
			jump(site, 56, SIGCHLD, 0, 0, 0, 0, 0);
		say("unknown attack\n");
		_exit(2);
	}
	alarm(0);
	long rax = trap_rax;
	if (getpid() != me)
		_exit(0); // a child made from the stub page: leave quietly
	snprintf(line, sizeof line, "site +0x%lx: trap %d, rax %ld\n", site - STUB_BASE, trap_sig, rax);
	say(line);
	if (!strcmp(attack, "mprotect") && probe((volatile unsigned char *)site, 1)) {
		snprintf(line, sizeof line, "ESCAPED: the stub's code page is writable (site +0x%lx)\n", site - STUB_BASE);
		say(line);
	}
	if (!strcmp(attack, "mmap") && probe((volatile unsigned char *)BIG_ADDR + BIG_LEN - 1, 1)) {
		snprintf(line, sizeof line, "ESCAPED: 512 MiB mapped behind the kernel's back (site +0x%lx)\n",
			 site - STUB_BASE);
		say(line);
	}
	if (!strcmp(attack, "write") && rax == 16)
		say("ESCAPED: wrote to the stub's completion pipe\n");
	if (!strcmp(attack, "clone") && rax > 0) {
		snprintf(line, sizeof line, "clone from the stub page returned %ld\n", rax);
		say(line);
	}
	_exit(0);
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: escape_stubpage mprotect|mmap|write|clone\n");
		return 2;
	}
	struct sigaction sa = {0};
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	int sigs[] = {SIGTRAP, SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGALRM, SIGSYS};
	for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);

	static unsigned char page[4096];
	if (!probe((volatile unsigned char *)STUB_BASE, 0)) {
		say("stub page not readable\n");
		return 0;
	}
	memcpy(page, (void *)STUB_BASE, sizeof page);
	int sites = 0;
	char line[200];
	for (unsigned off = 0; off + 1 < sizeof page; off++) {
		if (page[off] != 0x0f || page[off + 1] != 0x05)
			continue;
		sites++;
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			attempt(argv[1], STUB_BASE + off);
		int st;
		if (waitpid(pid, &st, 0) != pid) {
			perror("waitpid");
			return 1;
		}
		kill(-pid, SIGKILL);
		while (wait(NULL) > 0) // orphans of the attempt are ours (pid 1)
			;
		if (WIFSIGNALED(st)) {
			snprintf(line, sizeof line, "site +0x%x: killed by signal %d\n", off, WTERMSIG(st));
			say(line);
		} else if (WEXITSTATUS(st) != 0) {
			snprintf(line, sizeof line, "site +0x%x: exit %d\n", off, WEXITSTATUS(st));
			say(line);
		}
	}
	snprintf(line, sizeof line, "sites: %d\n", sites);
	say(line);
	return 0;
}

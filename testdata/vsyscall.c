// vsyscall: the legacy vsyscall page at 0xffffffffff600000 (gettimeofday
// at +0, time at +0x400, getcpu at +0x800), called through function
// pointers as old static binaries do. Linux emulates each call and returns
// to the caller as a `ret` would, changing no register but rax. Output is
// identical natively (where the host has the page) and in the sandbox:
// results are compared with the plain syscalls, never printed.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VSYSCALL 0xffffffffff600000UL

typedef long (*gettimeofday_fn)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

static const char *yes(int b) { return b ? "yes" : "no"; }

static long labs_(long v) { return v < 0 ? -v : v; }

// regcheck calls time(NULL) at the vsyscall page with a known value in
// every register but rax and rsp, and stores the registers it finds after
// the return into out[0..13] (rbx rcx rdx rsi rdi rbp r8..r15) and the
// stack pointers before and after into out[14], out[15]. It returns rax.
long regcheck(unsigned long *out);
__asm__(".text\n"
        ".globl regcheck\n"
        "regcheck:\n"
        "\tpush %rbx\n\tpush %rbp\n\tpush %r12\n\tpush %r13\n\tpush %r14\n\tpush %r15\n"
        "\tpush %rdi\n"
        "\tmov %rsp, 14*8(%rdi)\n"
        "\tmov $0x1111, %rbx\n\tmov $0x2222, %rcx\n\tmov $0x3333, %rdx\n\tmov $0x4444, %rsi\n"
        "\tmov $0x5555, %rbp\n\tmov $0x8888, %r8\n\tmov $0x9999, %r9\n\tmov $0xaaaa, %r10\n"
        "\tmov $0xbbbb, %r11\n\tmov $0xcccc, %r12\n\tmov $0xdddd, %r13\n\tmov $0xeeee, %r14\n"
        "\tmov $0xffff, %r15\n"
        "\txor %edi, %edi\n"
        "\tmov $0xffffffffff600400, %rax\n"
        "\tcall *%rax\n"
        "\tpush %r15\n\tpush %r14\n\tpush %r13\n\tpush %r12\n\tpush %r11\n\tpush %r10\n\tpush %r9\n"
        "\tpush %r8\n\tpush %rbp\n\tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %rbx\n"
        "\tmov 14*8(%rsp), %rdi\n"
        "\tlea 14*8(%rsp), %rbx\n"
        "\tmov %rbx, 15*8(%rdi)\n"
        "\tpop 0*8(%rdi)\n\tpop 1*8(%rdi)\n\tpop 2*8(%rdi)\n\tpop 3*8(%rdi)\n\tpop 4*8(%rdi)\n"
        "\tpop 5*8(%rdi)\n\tpop 6*8(%rdi)\n\tpop 7*8(%rdi)\n\tpop 8*8(%rdi)\n\tpop 9*8(%rdi)\n"
        "\tpop 10*8(%rdi)\n\tpop 11*8(%rdi)\n\tpop 12*8(%rdi)\n\tpop 13*8(%rdi)\n"
        "\tpop %rdi\n"
        "\tpop %r15\n\tpop %r14\n\tpop %r13\n\tpop %r12\n\tpop %rbp\n\tpop %rbx\n"
        "\tret\n");

static void misaligned(void) {
	time_fn f = (time_fn)(VSYSCALL + 0x10);
	f(NULL);
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);

	gettimeofday_fn gtod = (gettimeofday_fn)(VSYSCALL + 0x000);
	struct timeval tv = {0}, ref;
	struct timezone tz = {-1, -1};
	long r = gtod(&tv, &tz);
	syscall(SYS_gettimeofday, &ref, NULL);
	printf("gettimeofday: %ld, within a second of the syscall's: %s, usec < 1e6: %s, timezone written: %s\n", r,
	       yes(labs_(tv.tv_sec - ref.tv_sec) <= 1), yes(tv.tv_usec >= 0 && tv.tv_usec < 1000000),
	       yes(tz.tz_minuteswest != -1));
	printf("gettimeofday(NULL, NULL): %ld\n", gtod(NULL, NULL));

	time_fn tm = (time_fn)(VSYSCALL + 0x400);
	long t = 0;
	r = tm(&t);
	long tref = syscall(SYS_time, NULL);
	printf("time: result == *tloc: %s, within a second of the syscall's: %s\n", yes(r == t), yes(labs_(r - tref) <= 1));
	r = tm(NULL);
	printf("time(NULL) within a second: %s\n", yes(labs_(r - tref) <= 1));

	getcpu_fn gc = (getcpu_fn)(VSYSCALL + 0x800);
	unsigned cpu = ~0u, node = ~0u, refcpu = ~0u, refnode = ~0u;
	r = gc(&cpu, &node, NULL);
	syscall(SYS_getcpu, &refcpu, &refnode, NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	printf("getcpu: %ld, cpu < CPUs configured: %s, node is the syscall's: %s\n", r, yes(cpu < (unsigned)ncpu),
	       yes(node == refnode));
	printf("getcpu(NULL, NULL, NULL): %ld\n", gc(NULL, NULL, NULL));

	unsigned long out[16];
	static const unsigned long want[14] = {0x1111, 0x2222, 0x3333, 0x4444, 0,      0x5555, 0x8888,
	                                       0x9999, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 0xffff};
	static const char *names[14] = {"rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8",
	                                "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
	r = regcheck(out);
	int changed = 0;
	for (int i = 0; i < 14; i++) {
		if (out[i] != want[i]) {
			printf("register %s changed by the call: %#lx\n", names[i], out[i]);
			changed++;
		}
	}
	printf("registers other than rax unchanged: %s, rsp back where it was: %s, rax is the time: %s\n",
	       yes(changed == 0), yes(out[14] == out[15]), yes(labs_(r - tref) <= 1));

	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];
	int listed = 0;
	while (maps && fgets(line, sizeof line, maps))
		if (strstr(line, "[vsyscall]") && strncmp(line, "ffffffffff600000-ffffffffff601000 ", 34) == 0 &&
		    line[36] == 'x')
			listed = 1;
	if (maps)
		fclose(maps);
	printf("listed in /proc/self/maps, executable: %s\n", yes(listed));

	// Only the three entry points exist: anything else in the page faults.
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		misaligned();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("call to vsyscall+0x10: %s\n",
	       WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? "killed by SIGSEGV" : "not killed by SIGSEGV");
	return 0;
}

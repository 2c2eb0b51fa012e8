// escape_fuzz SEED [CALLS]: issues CALLS (default 100000) random syscalls
// with random arguments, from a PRNG seeded with SEED, and prints "done".
//
// The calls run in child processes, a new one every 1000 calls, so that a
// call that crashes or stalls ends only that child: each child sets
// alarm(2), and the parent SIGKILLs a child still running after 5 s (the
// fuzzed calls may ignore, block or cancel SIGALRM). The parent counts how
// the children ended and reports the syscall each stuck or crashed child
// was in (recorded in a shared page before every call).
//
// Numbers that would end or stall the run, or reach the parent, are never
// issued (see denied); a few calls get one argument pinned (see sanitize):
// blocking timeouts become zero, prlimit64 acts on the caller only,
// arch_prctl may not replace the FS/GS base, mmap never gets MAP_FIXED.
// The children's stdin, stdout and stderr are /dev/null, so random writes
// cannot garble the output; a child that cannot set that up exits 120.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PER_CHILD 1000
#define MAX_NR 463 // first number past the x86-64 table (cachestat is 451)
#define X32_BIT 0x40000000u

static uint64_t state;

static uint64_t next(void) {
	// xorshift64*
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545F4914F6CDD1DULL;
}

static int denied(unsigned nr) {
	switch (nr) {
	// End the process or the run.
	case SYS_exit:
	case SYS_exit_group:
	case SYS_rt_sigreturn:
	case SYS_execve:
	case SYS_execveat:
	case SYS_reboot:
	// Signal other processes, e.g. the parent (pid 1).
	case SYS_kill:
	case SYS_tkill:
	case SYS_tgkill:
	case SYS_rt_sigqueueinfo:
	case SYS_rt_tgsigqueueinfo:
	case SYS_pidfd_send_signal:
	// Write into the parent's memory.
	case SYS_process_vm_writev:
	// Create processes.
	case SYS_fork:
	case SYS_vfork:
	case SYS_clone:
	case SYS_clone3:
	// Block until a signal or a long time.
	case SYS_pause:
	case SYS_rt_sigsuspend:
	case SYS_rt_sigtimedwait:
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_wait4:
	case SYS_waitid:
	case SYS_futex:
	case SYS_futex_waitv:
	case SYS_epoll_pwait2:
	// Change the child's own memory map under it.
	case SYS_munmap:
	case SYS_mremap:
	case SYS_mprotect:
	case SYS_madvise:
	case SYS_brk:
	// uretprobe and uprobe: host kernels since 6.11 / 6.16 let them pass
	// every seccomp filter, so under the systrap platform they reach the
	// host (uretprobe kills the caller with SIGILL). Tested on their own by
	// TestEscapeSeccompBypassSyscalls; here they would only end most
	// children early.
	case 335:
	case 336:
		return 1;
	}
	return 0;
}

static int sanitized(unsigned nr) {
	switch (nr) {
	case SYS_read:
	case SYS_readv:
	case SYS_pread64:
	case SYS_preadv:
	case SYS_preadv2:
	case SYS_select:
	case SYS_pselect6:
	case SYS_poll:
	case SYS_ppoll:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_prlimit64:
	case SYS_arch_prctl:
	case SYS_mmap:
		return 1;
	}
	return 0;
}

// Memory the arguments point into: a scratch area with a guard page after
// it (so an over-long write cannot reach the fuzzer's own data), and a few
// well-formed strings.
static char *scratch;
#define SCRATCH (64 << 10)
// /data and /data/f are a read-only host mount in the tests.
static const char *const strs[] = {"/tmp/fuzz", "/dev/null", "/proc/self/maps", "/", ".", "/etc/passwd",
				   "/tmp", "/proc/self/fd/0", "/dev/zero", "/tmp/fuzz/dir", "/proc/1/cmdline",
				   "/data", "/data/f", "..", "/proc/self/exe"};
static struct timespec zero_ts;
static struct {
	long tv_sec, tv_usec;
} zero_tv;

static long arg(void) {
	uint64_t r = next();
	switch (r % 16) {
	case 0:
		return 0;
	case 1:
		return -1;
	case 2:
	case 3:
		return (long)(next() % 64);
	case 4:
		return (long)(uint32_t)next();
	case 5:
		return (long)next();
	case 6:
	case 7:
		return (long)(scratch + next() % SCRATCH);
	case 8:
		return (long)scratch;
	case 9:
		return (long)strs[next() % (sizeof strs / sizeof strs[0])];
	case 10:
		return 0xffffffff81000000L; // kernel address
	case 11:
		return 0x1000; // never mapped
	case 12:
		return (long)(next() % 4096);
	case 13:
		return 1L << (next() % 64);
	case 14:
		return (long)(scratch + SCRATCH - next() % 64); // runs into the guard page
	default:
		return (long)(next() & 0xffff);
	}
}

static long raw(long nr, long a, long b, long c, long d, long e, long f) {
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

// shared[0] is the number of the call in progress, shared[1] its index.
static volatile long *shared;

// devnull is /dev/null, opened by the parent: a child cannot rely on
// opening it, since an earlier child may have made the path unreachable
// (e.g. chmod("..", 0) from "/": the guest user owns the sandbox's root).
static int devnull = -1;

static void child(uint64_t seed) {
	state = seed ? seed : 1;
	if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		raw(SYS_exit_group, 120, 0, 0, 0, 0, 0);
	close(devnull);
	alarm(2);
	for (int i = 0; i < PER_CHILD; i++) {
		if (next() % 8 == 0)
			for (int j = 0; j < 64; j++)
				scratch[next() % SCRATCH] = (char)next();
		long nr;
		unsigned eff;
		for (;;) {
			if (next() % 32 == 0) {
				nr = (long)next(); // out of the table, also x32 and huge numbers
				if (next() % 2)
					nr = (long)(next() % 2048);
			} else {
				nr = (long)(next() % MAX_NR);
			}
			// The kernel (and maybe the shim) looks at the low 32 bits,
			// perhaps without the x32 bit: never let those name a denied
			// or sanitized call, nor an x32-only one (512 to 547).
			eff = (unsigned)nr & ~X32_BIT;
			if (eff >= 512 && eff < 548)
				continue;
			if (eff < 512 && (denied(eff) || (sanitized(eff) && (unsigned long)nr != eff)))
				continue;
			break;
		}
		long a[6];
		for (int j = 0; j < 6; j++)
			a[j] = arg();
		switch (nr) {
		case SYS_read:
		case SYS_readv:
		case SYS_pread64:
		case SYS_preadv:
		case SYS_preadv2:
			if ((int)a[0] == 0)
				a[0] = 100; // never stdin
			break;
		case SYS_select:
			a[4] = (long)&zero_tv;
			break;
		case SYS_pselect6:
			a[4] = (long)&zero_ts;
			break;
		case SYS_poll:
			a[2] = 0;
			break;
		case SYS_ppoll:
			a[2] = (long)&zero_ts;
			break;
		case SYS_epoll_wait:
		case SYS_epoll_pwait:
			a[3] = 0;
			break;
		case SYS_prlimit64:
			a[0] = 0;
			break;
		case SYS_arch_prctl:
			if (a[0] == 0x1001 || a[0] == 0x1002) // ARCH_SET_GS, ARCH_SET_FS
				a[0] = 0x1003;                 // ARCH_GET_FS
			break;
		case SYS_mmap:
			a[3] &= ~(long)(MAP_FIXED | MAP_FIXED_NOREPLACE);
			break;
		}
		shared[0] = nr;
		shared[1] = i;
		raw(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
	raw(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: escape_fuzz SEED [CALLS]\n");
		return 2;
	}
	uint64_t seed = strtoull(argv[1], NULL, 0);
	long calls = argc > 2 ? atol(argv[2]) : 100000;
	scratch = mmap(NULL, SCRATCH + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED || shared == MAP_FAILED || mprotect(scratch + SCRATCH, 4096, PROT_NONE) < 0) {
		printf("setup: %s\n", strerrorname_np(errno));
		return 1;
	}
	memset(scratch, 0, SCRATCH);
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0) {
		printf("open /dev/null: %s\n", strerrorname_np(errno));
		return 1;
	}
	int children = (int)((calls + PER_CHILD - 1) / PER_CHILD);
	int exited = 0, alarmed = 0, signaled = 0, watchdog = 0, forkfail = 0;
	for (int c = 0; c < children; c++) {
		shared[0] = -1;
		shared[1] = -1;
		// The guest user owns / and /tmp, so a child may have chmodded
		// them (a mode without x locks every path out): undo that, so
		// that every child starts from the same file system view.
		chmod("/", 0755);
		chmod("/tmp", 01777);
		pid_t pid = fork();
		if (pid < 0) {
			forkfail++;
			sleep_ms(10);
			continue;
		}
		if (pid == 0)
			child(seed * 1000003ULL + (uint64_t)c);
		int st = 0, waited = 0;
		pid_t r;
		while ((r = waitpid(pid, &st, WNOHANG)) == 0 && waited < 5000) {
			sleep_ms(5);
			waited += 5;
		}
		if (r == 0) {
			kill(pid, SIGKILL);
			r = waitpid(pid, &st, 0);
			watchdog++;
			printf("child %d: stuck in syscall %ld (call %ld), killed\n", c, shared[0], shared[1]);
			continue;
		}
		if (r != pid) {
			printf("child %d: waitpid: %s\n", c, strerrorname_np(errno));
			return 1;
		}
		if (WIFEXITED(st)) {
			exited++;
			if (WEXITSTATUS(st) != 0)
				printf("child %d: exited %d in syscall %ld (call %ld)\n", c, WEXITSTATUS(st), shared[0],
				       shared[1]);
		} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
			alarmed++;
			printf("child %d: SIGALRM in syscall %ld (call %ld)\n", c, shared[0], shared[1]);
		} else if (WIFSIGNALED(st)) {
			signaled++;
			printf("child %d: signal %d in syscall %ld (call %ld)\n", c, WTERMSIG(st), shared[0], shared[1]);
		}
	}
	printf("children: %d exited, %d SIGALRM, %d other signal, %d killed by the watchdog, %d forks failed\n",
	       exited, alarmed, signaled, watchdog, forkfail);
	printf("done\n");
	return 0;
}

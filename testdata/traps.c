// traps MODE: breakpoints and single-steps, as a debugger-less program
// meets them.
//   int3          int3 with a SIGTRAP handler, before any thread exists
//   int3-thread   the same after a thread was created and joined
//   tf-handled    a signal handler sets the trap flag in the frame it
//                 returns through; a SIGTRAP handler counts the steps and
//                 clears the flag again
//   tf-default    the trap flag is set and SIGTRAP is left at its default:
//                 the process dies of SIGTRAP
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static volatile int traps, steps;

static void on_trap(int sig, siginfo_t *si, void *ucv) {
	ucontext_t *uc = ucv;
	(void)sig;
	if (uc->uc_mcontext.gregs[REG_EFL] & 0x100) {
		if (++steps >= 3)
			uc->uc_mcontext.gregs[REG_EFL] &= ~0x100L; // enough stepping
		return;
	}
	traps++;
	(void)si;
}

static void set_tf(int sig, siginfo_t *si, void *ucv) {
	ucontext_t *uc = ucv;
	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_EFL] |= 0x100;
}

static void *nothing(void *arg) { return arg; }

static void handle(int sig, void (*fn)(int, siginfo_t *, void *)) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
	if (argc != 2)
		return 2;
	const char *mode = argv[1];
	if (!strcmp(mode, "int3") || !strcmp(mode, "int3-thread")) {
		if (!strcmp(mode, "int3-thread")) {
			pthread_t t;
			pthread_create(&t, NULL, nothing, NULL);
			pthread_join(t, NULL);
		}
		handle(SIGTRAP, on_trap);
		__asm__ volatile("int3");
		__asm__ volatile("int3");
		printf("%s: %d traps caught\n", mode, traps);
		return 0;
	}
	if (!strcmp(mode, "tf-handled")) {
		handle(SIGTRAP, on_trap);
		handle(SIGUSR1, set_tf);
		raise(SIGUSR1);
		volatile int x = 0;
		x++;
		x++;
		x++;
		x++;
		printf("%s: steps %s\n", mode, steps >= 3 ? "seen" : "missing");
		return 0;
	}
	if (!strcmp(mode, "tf-default")) {
		handle(SIGUSR1, set_tf);
		raise(SIGUSR1);
		printf("%s: survived a single-step\n", mode);
		return 0;
	}
	return 2;
}

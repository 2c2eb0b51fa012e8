// procstatus: /proc/self/status fields after the process changed them
// (umask, signal dispositions, mask, pending signals, threads, a high
// descriptor, no_new_privs), printed as they are or compared with what
// the process knows of itself, so that the output is the same natively
// and in the sandbox, for any uid.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void on(int sig) { (void)sig; }

static void *idle(void *arg) {
	(void)arg;
	pause();
	return NULL;
}

static char status[16384];

static const char *field(const char *name) {
	static char val[256];
	size_t n = strlen(name);
	for (char *l = status; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, name, n) && l[n] == ':') {
			char *v = l + n + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			size_t k = strcspn(v, "\n");
			snprintf(val, sizeof val, "%.*s", (int)k, v);
			return val;
		}
	}
	return "(missing)";
}

static void load(void) {
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = fread(status, 1, sizeof status - 1, f);
	status[n] = 0;
	fclose(f);
}

// defaults resets every disposition: SIG_IGN survives execve, so a run
// would otherwise show whatever its parent ignored (a test runner may
// ignore glibc's reserved signal 32, which libc's sigaction refuses to
// touch; hence the raw system call).
static void defaults(void) {
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		unsigned long mask;
	} dfl = {SIG_DFL, 0, 0, 0};
	for (int s = 1; s <= 64; s++)
		if (s != SIGKILL && s != SIGSTOP)
			syscall(SYS_rt_sigaction, s, &dfl, NULL, 8);
}

int main(void) {
	defaults();
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	umask(027);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGUSR1, on);
	signal(SIGTERM, on);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGQUIT);     // pending for this thread
	kill(getpid(), SIGHUP); // pending for the process
	pthread_t t1, t2;
	pthread_create(&t1, NULL, idle, NULL);
	pthread_create(&t2, NULL, idle, NULL);
	dup2(1, 100);
	load();
	const char *plain[] = {"Name", "Umask", "State", "TracerPid", "Threads", "SigPnd",
			       "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapAmb", "NoNewPrivs",
			       "Seccomp", "Ngid"};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		printf("%s: %s\n", plain[i], field(plain[i]));
	char want[128];
	snprintf(want, sizeof want, "%d", getpid());
	printf("Tgid, Pid, NStgid are getpid(): %d %d %d\n", !strcmp(field("Tgid"), want), !strcmp(field("Pid"), want),
	       !strcmp(field("NStgid"), want));
	snprintf(want, sizeof want, "%d", getppid());
	printf("PPid is getppid(): %d\n", !strcmp(field("PPid"), want));
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	snprintf(want, sizeof want, "%u\t%u\t%u\t%u", r, e, s, e);
	printf("Uid is getresuid() and fsuid: %d\n", !strcmp(field("Uid"), want));
	gid_t gr, ge, gs;
	getresgid(&gr, &ge, &gs);
	snprintf(want, sizeof want, "%u\t%u\t%u\t%u", gr, ge, gs, ge);
	printf("Gid is getresgid() and fsgid: %d\n", !strcmp(field("Gid"), want));
	gid_t groups[64];
	int ng = getgroups(64, groups);
	char g[512] = "";
	for (int i = 0; i < ng; i++)
		snprintf(g + strlen(g), sizeof g - strlen(g), "%s%u", i ? " " : "", groups[i]);
	printf("Groups are getgroups(): %d\n", !strcmp(field("Groups"), g));
	cpu_set_t cpus;
	sched_getaffinity(0, sizeof cpus, &cpus);
	printf("Cpus_allowed_list counts sched_getaffinity's CPUs: %d\n",
	       CPU_COUNT(&cpus) == 1 + (int)(strchr(field("Cpus_allowed_list"), '-') ? atoi(strchr(field("Cpus_allowed_list"), '-') + 1) : 0));
	printf("VmPeak, VmSize, VmRSS present: %d %d %d\n", strcmp(field("VmPeak"), "(missing)") != 0,
	       strcmp(field("VmSize"), "(missing)") != 0, strcmp(field("VmRSS"), "(missing)") != 0);
	// FDSize depends on the table the process inherited; fd 100 needs 128.
	printf("FDSize holds fd 100: %d\n", atoi(field("FDSize")) >= 128);
	const char *q = field("SigQ");
	printf("SigQ has a limit: %d\n", strchr(q, '/') != NULL && atoi(strchr(q, '/') + 1) > 0);
	return 0;
}

// vdso: finds the vDSO through getauxval(AT_SYSINFO_EHDR), looks up its
// versioned symbols by parsing its dynamic section (DT_HASH, DT_SYMTAB,
// DT_VERSYM, DT_VERDEF), calls them and compares each answer with the
// syscall's, interleaved (syscall <= vDSO <= syscall for every clock the
// vDSO computes). It checks /proc/self/maps names the mapping [vdso] at
// the auxv's address and has a [vvar]. Then it does it all again in a
// forked child and in an execve'd copy of itself. The output is the same
// natively and under litebox.
//
// Usage: vdso [exec|loop N]
//   loop N: only N calls of the C library's clock_gettime(CLOCK_MONOTONIC)
//           (the tests count how many of them trapped)
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *names[] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
			      "__vdso_clock_getres", "__vdso_getcpu"};
enum { CLOCK_GETTIME, GETTIMEOFDAY, TIME, CLOCK_GETRES, GETCPU, NSYMS };
static void *syms[NSYMS];

// lookup fills syms with the LINUX_2.6 versions of names.
static int lookup(uintptr_t base) {
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
		printf("AT_SYSINFO_EHDR is not an ELF header\n");
		return -1;
	}
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	uintptr_t bias = 0;
	int have_load = 0;
	const Elf64_Dyn *dyn = NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			bias = base + ph[i].p_offset - ph[i].p_vaddr;
			have_load = 1;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
		}
	}
	if (!have_load || !dyn) {
		printf("no PT_LOAD or PT_DYNAMIC\n");
		return -1;
	}
	const Elf64_Sym *symtab = NULL;
	const char *strtab = NULL;
	const Elf64_Word *hash = NULL;
	const Elf64_Versym *versym = NULL;
	const Elf64_Verdef *verdef = NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t p = bias + dyn->d_un.d_ptr;
		switch (dyn->d_tag) {
		case DT_SYMTAB: symtab = (const void *)p; break;
		case DT_STRTAB: strtab = (const void *)p; break;
		case DT_HASH: hash = (const void *)p; break;
		case DT_VERSYM: versym = (const void *)p; break;
		case DT_VERDEF: verdef = (const void *)p; break;
		}
	}
	if (!symtab || !strtab || !hash || !versym || !verdef) {
		printf("dynamic section incomplete\n");
		return -1;
	}
	Elf64_Word nsyms = hash[1]; // nchain: one per symbol
	for (Elf64_Word i = 0; i < nsyms; i++) {
		const Elf64_Sym *s = &symtab[i];
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF)
			continue;
		// The symbol's version name, from its verdef entry.
		const char *ver = NULL;
		const Elf64_Verdef *d = verdef;
		for (;;) {
			if ((d->vd_ndx & 0x7fff) == (versym[i] & 0x7fff) && !(d->vd_flags & VER_FLG_BASE)) {
				const Elf64_Verdaux *aux = (const void *)((const char *)d + d->vd_aux);
				ver = strtab + aux->vda_name;
			}
			if (!d->vd_next)
				break;
			d = (const void *)((const char *)d + d->vd_next);
		}
		for (int n = 0; n < NSYMS; n++)
			if (ver && strcmp(ver, "LINUX_2.6") == 0 && strcmp(strtab + s->st_name, names[n]) == 0)
				syms[n] = (void *)(bias + s->st_value);
	}
	return 0;
}

static int64_t ns(struct timespec ts) { return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec; }

static const struct {
	clockid_t id;
	const char *name;
} clocks[] = {
	{CLOCK_REALTIME, "REALTIME"},	      {CLOCK_MONOTONIC, "MONOTONIC"},
	{CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"}, {CLOCK_REALTIME_COARSE, "REALTIME_COARSE"},
	{CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"}, {CLOCK_BOOTTIME, "BOOTTIME"},
	{CLOCK_TAI, "TAI"},
};

static int check(const char *who) {
	int bad = 0;
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);
	if (!base) {
		printf("%s: no AT_SYSINFO_EHDR\n", who);
		return 1;
	}
	memset(syms, 0, sizeof syms);
	if (lookup(base) < 0)
		return 1;
	for (int n = 0; n < NSYMS; n++)
		printf("%s: %s@LINUX_2.6: %s\n", who, names[n], syms[n] ? "found" : "missing");
	if (!syms[CLOCK_GETTIME] || !syms[GETTIMEOFDAY] || !syms[TIME] || !syms[CLOCK_GETRES] || !syms[GETCPU])
		return 1;

	long (*vgettime)(clockid_t, struct timespec *) = syms[CLOCK_GETTIME];
	long (*vgetres)(clockid_t, struct timespec *) = syms[CLOCK_GETRES];
	for (size_t c = 0; c < sizeof clocks / sizeof clocks[0]; c++) {
		int disorder = 0, fails = 0;
		for (int i = 0; i < 2000; i++) {
			struct timespec s1, v, s2;
			syscall(SYS_clock_gettime, clocks[c].id, &s1);
			if (vgettime(clocks[c].id, &v) != 0)
				fails++;
			syscall(SYS_clock_gettime, clocks[c].id, &s2);
			if (ns(s1) > ns(v) || ns(v) > ns(s2) || v.tv_nsec < 0 || v.tv_nsec >= 1000000000)
				disorder++;
		}
		struct timespec rs, rv;
		syscall(SYS_clock_getres, clocks[c].id, &rs);
		long r = vgetres(clocks[c].id, &rv);
		int same_res = r == 0 && rs.tv_sec == rv.tv_sec && rs.tv_nsec == rv.tv_nsec;
		printf("%s: clock_gettime(%s): failures %d, out of order %d; clock_getres same as the syscall's: %s\n",
		       who, clocks[c].name, fails, disorder, same_res ? "yes" : "no");
		bad |= fails || disorder || !same_res;
	}
	// The CPU clocks and unknown clocks: the vDSO asks the kernel.
	struct timespec ts;
	printf("%s: clock_gettime(PROCESS_CPUTIME_ID): %ld\n", who, vgettime(CLOCK_PROCESS_CPUTIME_ID, &ts));
	printf("%s: clock_gettime(THREAD_CPUTIME_ID): %ld\n", who, vgettime(CLOCK_THREAD_CPUTIME_ID, &ts));
	printf("%s: clock_gettime(1000): %ld (-EINVAL is %d)\n", who, vgettime(1000, &ts), -EINVAL);
	printf("%s: clock_gettime(-1): %ld\n", who, vgettime(-1, &ts));
	printf("%s: clock_getres(1000): %ld; clock_getres(MONOTONIC, NULL): %ld\n", who, vgetres(1000, &ts),
	       vgetres(CLOCK_MONOTONIC, NULL));

	long (*vgettimeofday)(struct timeval *, struct timezone *) = syms[GETTIMEOFDAY];
	int disorder = 0;
	for (int i = 0; i < 2000; i++) {
		struct timeval s1, v, s2;
		syscall(SYS_gettimeofday, &s1, NULL);
		vgettimeofday(&v, NULL);
		syscall(SYS_gettimeofday, &s2, NULL);
		int64_t a = s1.tv_sec * 1000000LL + s1.tv_usec, b = v.tv_sec * 1000000LL + v.tv_usec,
			c = s2.tv_sec * 1000000LL + s2.tv_usec;
		if (a > b || b > c || v.tv_usec < 0 || v.tv_usec >= 1000000)
			disorder++;
	}
	struct timezone tz = {123, 456};
	long r = vgettimeofday(NULL, &tz);
	printf("%s: gettimeofday: out of order %d; (NULL, tz): %ld, timezone %d %d\n", who, disorder, r,
	       tz.tz_minuteswest, tz.tz_dsttime);
	bad |= disorder;

	time_t (*vtime)(time_t *) = syms[TIME];
	disorder = 0;
	for (int i = 0; i < 2000; i++) {
		long s1 = syscall(SYS_time, NULL);
		time_t t1, t2 = vtime(&t1);
		long s2 = syscall(SYS_time, NULL);
		if (t1 != t2 || s1 > t2 || t2 > s2)
			disorder++;
	}
	printf("%s: time: out of order %d; time(NULL) > 0: %s\n", who, disorder, vtime(NULL) > 0 ? "yes" : "no");
	bad |= disorder;

	long (*vgetcpu)(unsigned *, unsigned *, void *) = syms[GETCPU];
	unsigned cpu = ~0u, node = ~0u;
	r = vgetcpu(&cpu, &node, NULL);
	printf("%s: getcpu: %ld, cpu < CPUs online: %s, node 0: %s\n", who, r,
	       cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF) ? "yes" : "no", node == 0 ? "yes" : "no");

	// The C library's own clock_gettime (which goes through the vDSO).
	struct timespec l1, l2;
	clock_gettime(CLOCK_MONOTONIC, &l1);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &l2);
	printf("%s: libc clock_gettime <= syscall: %s\n", who, ns(l1) <= ns(l2) ? "yes" : "no");

	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int vdso_at_auxv = 0, vvar = 0, vdso_lines = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long start;
		if (strstr(line, "[vdso]")) {
			vdso_lines++;
			if (sscanf(line, "%lx-", &start) == 1 && start == base && strstr(line, " r-xp "))
				vdso_at_auxv = 1;
		}
		if (strstr(line, "[vvar]"))
			vvar = 1;
	}
	if (f)
		fclose(f);
	printf("%s: maps: one [vdso] line: %s, r-xp at AT_SYSINFO_EHDR: %s, [vvar]: %s\n", who,
	       vdso_lines == 1 ? "yes" : "no", vdso_at_auxv ? "yes" : "no", vvar ? "yes" : "no");
	return bad;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "loop") == 0) {
		struct timespec ts, last = {0, 0};
		int n = atoi(argv[2]), back = 0;
		for (int i = 0; i < n; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			back += ns(ts) < ns(last);
			last = ts;
		}
		printf("%d calls, %d went back\n", n, back);
		return back != 0;
	}
	if (argc == 2 && strcmp(argv[1], "exec") == 0)
		return check("exec") ? 1 : 0;
	int bad = check("main");
	pid_t pid = fork();
	if (pid == 0)
		_exit(check("fork") ? 1 : 0);
	int st;
	waitpid(pid, &st, 0);
	printf("fork child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("exec child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return bad;
}

// shm_file: MAP_SHARED file mappings and POSIX shared memory.
//
//   shm_file DIR    in a file under DIR: stores seen by read(2) and writes
//                   by the mapping, msync, a parent and a forked child
//                   sharing the mapping (and a process-shared semaphore in
//                   it), a child mapping the file on its own, munmap then
//                   open again, mremap, the EACCES rules; then shm_open and
//                   sem_open in /dev/shm across fork.
//
// Everything printed is the same natively and in the sandbox.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

static const char *ename(int e) {
	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case ENOMEM: return "ENOMEM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	default: return "other";
	}
}

static void die(const char *what) {
	printf("%s: %s\n", what, ename(errno));
	exit(1);
}

// result prints the outcome of a call that returns -1 on error.
static void result(const char *what, long r) {
	printf("%s: %s\n", what, r == -1 ? ename(errno) : "ok");
}

static void wait_child(const char *what) {
	int st;
	if (wait(&st) < 0)
		die("wait");
	printf("%s: exit %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void file_mappings(const char *dir) {
	char path[4096];
	snprintf(path, sizeof path, "%s/shm_file.dat", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * PG) < 0)
		die("create");
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");

	// A store is the file's at once; a write is the mapping's.
	strcpy(p + 100, "stored");
	char buf[64] = {0};
	if (pread(fd, buf, 6, 100) != 6)
		die("pread");
	printf("read after store: %s\n", buf);
	if (pwrite(fd, "written", 7, PG + 5) != 7)
		die("pwrite");
	printf("mapping after write: %.7s\n", p + PG + 5);
	struct stat st;
	fstat(fd, &st);
	printf("size: %lld\n", (long long)st.st_size);

	result("msync MS_SYNC", msync(p, 2 * PG, MS_SYNC));
	result("msync MS_ASYNC", msync(p, PG, MS_ASYNC));
	result("msync MS_INVALIDATE", msync(p + PG, PG, MS_INVALIDATE));
	result("msync unaligned", msync(p + 1, PG, MS_SYNC));
	result("msync both", msync(p, PG, MS_SYNC | MS_ASYNC));

	// Parent and child share the pages: a process-shared semaphore in
	// the mapping orders them (a shared futex across processes).
	sem_t *sem = (sem_t *)(p + 1024);
	if (sem_init(sem, 1, 0) < 0)
		die("sem_init");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		strcpy(p + 200, "from the child");
		// The file mapped again, independently.
		int fd2 = open(path, O_RDWR);
		char *q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
		if (q == MAP_FAILED)
			_exit(2);
		printf("child sees: %s\n", q + 100);
		strcpy(q + 400, "child's own mapping");
		sem_post(sem);
		_exit(0);
	}
	if (sem_wait(sem) < 0)
		die("sem_wait");
	printf("parent after sem_wait: %s\n", p + 200);
	wait_child("child");
	printf("parent after exit: %s\n", p + 400);

	// munmap, close, open again: the stores stayed in the file.
	if (munmap(p, 2 * PG) < 0 || close(fd) < 0)
		die("munmap");
	fd = open(path, O_RDONLY);
	memset(buf, 0, sizeof buf);
	if (pread(fd, buf, 19, 400) != 19)
		die("pread again");
	printf("reopened: %s\n", buf);

	// A read-only descriptor: no writable shared mapping, and no
	// PROT_WRITE added later; a private one is fine.
	errno = 0;
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared rw of O_RDONLY: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("shared ro");
	printf("shared ro: %.6s\n", p + 100);
	result("mprotect PROT_WRITE", mprotect(p, PG, PROT_READ | PROT_WRITE));
	munmap(p, PG);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("private rw of O_RDONLY: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	munmap(p, PG);
	close(fd);

	// mremap keeps the mapping the file's, the grown part too.
	fd = open(path, O_RDWR);
	if (ftruncate(fd, 4 * PG) < 0)
		die("grow");
	p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *r = mremap(p, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	if (r == MAP_FAILED)
		die("mremap");
	strcpy(r + 3 * PG, "grown");
	memset(buf, 0, sizeof buf);
	pread(fd, buf, 5, 3 * PG);
	printf("after mremap: %s %.6s\n", buf, r + 100);
	munmap(r, 4 * PG);
	close(fd);
	unlink(path);
}

static void posix_shm(void) {
	struct stat st;
	if (stat("/dev/shm", &st) < 0)
		die("stat /dev/shm");
	printf("/dev/shm mode: %o\n", st.st_mode & 07777);

	char name[64];
	snprintf(name, sizeof name, "/litebox-shm-%d", getpid());
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, PG) < 0)
		die("shm_open");
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("shm mmap");
	char sname[64];
	snprintf(sname, sizeof sname, "/litebox-sem-%d", getpid());
	sem_t *sem = sem_open(sname, O_CREAT | O_EXCL, 0600, 0);
	if (sem == SEM_FAILED)
		die("sem_open");
	pid_t pid = fork();
	if (pid == 0) {
		// The child opens both by name, as an unrelated process would.
		int cfd = shm_open(name, O_RDWR, 0);
		char *q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		sem_t *cs = sem_open(sname, 0);
		if (cfd < 0 || q == MAP_FAILED || cs == SEM_FAILED)
			_exit(2);
		strcpy(q, "hello through /dev/shm");
		sem_post(cs);
		_exit(0);
	}
	if (sem_wait(sem) < 0)
		die("sem_wait named");
	printf("shm: %s\n", p);
	wait_child("shm child");
	result("sem_unlink", sem_unlink(sname));
	result("shm_unlink", shm_unlink(name));
	result("shm_unlink again", shm_unlink(name));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	file_mappings(argc > 1 ? argv[1] : "/tmp");
	posix_shm();
	return 0;
}

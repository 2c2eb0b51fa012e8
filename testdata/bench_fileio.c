// bench_fileio PATH MIB [BLOCK...]: for each block size (default 4096 and
// 1048576 bytes), writes a MIB-MiB file at PATH in blocks of that size, closes
// it, reads it back in blocks of the same size, then unlinks it. Used by
// bench/ to measure the throughput of the sandbox's in-memory /tmp. Prints
// one line per phase, timed inside the process with CLOCK_MONOTONIC from
// just before open to just after close:
//
//	write BLOCK NANOSECONDS
//	read BLOCK NANOSECONDS
//
// The first 8 bytes of every block hold its index, and the read phase checks
// them, so that a file system dropping or mixing up data cannot pass for a
// fast one. Exits 1 on any error or mismatch.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("clock_gettime");
		exit(1);
	}
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// full_write writes all n bytes of buf, retrying short writes.
static int full_write(int fd, const char *buf, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

// full_read reads exactly n bytes into buf, retrying short reads; it fails
// at end of file.
static int full_read(int fd, char *buf, size_t n) {
	while (n > 0) {
		ssize_t r = read(fd, buf, n);
		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static int run(const char *path, uint64_t total, size_t block) {
	char *buf = malloc(block);
	if (buf == NULL) {
		perror("malloc");
		return 1;
	}
	for (size_t i = 0; i < block; i++)
		buf[i] = (char)(i * 7 + 1);
	uint64_t blocks = total / block;

	int64_t start = now_ns();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror("open for writing");
		return 1;
	}
	for (uint64_t b = 0; b < blocks; b++) {
		memcpy(buf, &b, sizeof b);
		if (full_write(fd, buf, block) != 0) {
			perror("write");
			return 1;
		}
	}
	if (close(fd) != 0) {
		perror("close after writing");
		return 1;
	}
	int64_t written = now_ns();

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror("open for reading");
		return 1;
	}
	for (uint64_t b = 0; b < blocks; b++) {
		uint64_t got;
		if (full_read(fd, buf, block) != 0) {
			fprintf(stderr, "read of block %llu failed or hit end of file\n", (unsigned long long)b);
			return 1;
		}
		memcpy(&got, buf, sizeof got);
		if (got != b || buf[block - 1] != (char)((block - 1) * 7 + 1)) {
			fprintf(stderr, "block %llu: wrong contents (index %llu)\n", (unsigned long long)b,
				(unsigned long long)got);
			return 1;
		}
	}
	if (read(fd, buf, 1) != 0) {
		fprintf(stderr, "the file is longer than written\n");
		return 1;
	}
	if (close(fd) != 0) {
		perror("close after reading");
		return 1;
	}
	int64_t read_back = now_ns();

	if (unlink(path) != 0) {
		perror("unlink");
		return 1;
	}
	free(buf);
	printf("write %zu %lld\n", block, (long long)(written - start));
	printf("read %zu %lld\n", block, (long long)(read_back - written));
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: bench_fileio PATH MIB [BLOCK...]\n");
		return 2;
	}
	uint64_t total = strtoull(argv[2], NULL, 10) << 20;
	static const char *defaults[] = {"4096", "1048576"};
	const char **blocks = argc > 3 ? (const char **)argv + 3 : defaults;
	int nblocks = argc > 3 ? argc - 3 : 2;
	for (int i = 0; i < nblocks; i++) {
		size_t block = strtoull(blocks[i], NULL, 10);
		if (block < 8 || total % block != 0) {
			fprintf(stderr, "block size %s must be at least 8 and divide %llu\n", blocks[i],
				(unsigned long long)total);
			return 2;
		}
		if (run(argv[1], total, block) != 0)
			return 1;
	}
	return 0;
}

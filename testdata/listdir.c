// listdir DIR: prints the names readdir(3) returns for DIR (including "."
// and ".."), sorted, one per line, so that the order in which a file system
// returns entries does not matter. Exit 1 with an errno name on failure.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fputs("usage: listdir DIR\n", stderr);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (d == NULL) {
		printf("opendir: %s\n", strerrorname_np(errno));
		return 1;
	}
	size_t n = 0, cap = 64;
	char **names = malloc(cap * sizeof *names);
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (n == cap) {
			cap *= 2;
			names = realloc(names, cap * sizeof *names);
		}
		names[n++] = strdup(e->d_name);
	}
	if (errno != 0) {
		printf("readdir: %s\n", strerrorname_np(errno));
		return 1;
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp);
	for (size_t i = 0; i < n; i++)
		puts(names[i]);
	return 0;
}

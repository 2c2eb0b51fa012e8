// exitcode STATUS: exits with the given status via exit(3), so the value is
// truncated to 8 bits by the kernel (exitcode 256 exits 0).
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	if (argc != 2) {
		fputs("usage: exitcode STATUS\n", stderr);
		return 2;
	}
	exit(atoi(argv[1]));
}

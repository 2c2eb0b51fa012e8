#include <stdio.h>
#include "proj.h"

int main(int argc, char **argv) {
	printf("%s\n", greet(argc > 1 ? argv[1] : "world"));
	printf("sum(100) = %ld\n", sum(100));
	return 0;
}

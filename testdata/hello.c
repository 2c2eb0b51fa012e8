// hello: the smallest useful guest. Prints one line and exits 0.
#include <stdio.h>

int main(void) {
	puts("hello, world");
	return 0;
}

// uts: sethostname and setdomainname, whose results depend on the caller's
// capabilities (CAP_SYS_ADMIN over its UTS namespace). "unpriv" expects
// EPERM for every call (the capability check comes before the length
// check, as in Linux); "root" (natively in a UTS namespace of its own, in
// the sandbox as --user 0, whose names are the sandbox's) sets both names
// and reads them back through uname, and checks the length and pointer
// errors.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "guest_util.h"

static void names(void) {
	struct utsname u;
	if (uname(&u) != 0) {
		printf("uname: %s\n", outcome(-1));
		return;
	}
	printf("nodename=%s domainname=%s\n", u.nodename, u.domainname);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: uts unpriv|root\n");
		return 2;
	}
	char long_name[80];
	memset(long_name, 'x', sizeof long_name);
	printf("sethostname(guest-name): %s\n", outcome(sethostname("guest-name", 10)));
	printf("setdomainname(guest.dom): %s\n", outcome(setdomainname("guest.dom", 9)));
	printf("sethostname(65 bytes): %s\n", outcome(sethostname(long_name, 65)));
	printf("sethostname(64 bytes): %s\n", outcome(sethostname(long_name, 64)));
	printf("sethostname(bad pointer): %s\n", outcome(sethostname((char *)8, 4)));
	printf("setdomainname(-1): %s\n", outcome(setdomainname("x", (size_t)-1)));
	if (strcmp(argv[1], "root") == 0) {
		printf("sethostname(named): %s\n", outcome(sethostname("named\0tail", 10)));
		names();
		printf("sethostname(empty): %s\n", outcome(sethostname("", 0)));
		names();
	}
	return 0;
}

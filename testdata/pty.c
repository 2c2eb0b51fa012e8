// pty MODE: pseudo-terminals. Output is identical natively and in the
// sandbox: no pids or pty numbers, only what the terminal did. Every mode
// runs in a child that first makes a new session (setsid), so the caller's
// own terminal, if any, plays no part.
//
//   devices   /dev/ptmx, /dev/tty, /dev/pts/N: types, numbers, owners;
//             ttyname, TIOCGPTN, a locked slave (EIO), /dev/tty without a
//             controlling terminal (ENXIO)
//   termios   the default settings of a new pty; TCSETS round trips;
//             cfmakeraw; bad TCFLSH/TCXONC arguments
//   canon     canonical reads: erase, kill, word erase, EOF, line ends,
//             a line read in pieces, FIONREAD, echo (ECHO, ECHOE, ECHOK,
//             ECHOCTL, ECHONL), ICRNL/INLCR/IGNCR, OPOST/ONLCR, VLNEXT
//   raw       non-canonical reads: VMIN/VTIME, no echo, flush, flow
//             control (TCOOFF: a write waits; O_NONBLOCK: EAGAIN)
//   hangup    the slave closed: the master reads EIO and polls POLLHUP;
//             the master closed: the slave reads 0, writes EIO, polls
//             POLLHUP, and the session leader gets SIGHUP
//   signals   a controlling terminal (TIOCSCTTY, /dev/tty, TIOCGSID,
//             TIOCGPGRP); ^C, ^\ and ^Z signal the foreground group;
//             a window-size change sends SIGWINCH
//   ptmx DIR  a container's /dev layout (DIR is its /dev): DIR/ptmx a
//             link to pts/ptmx, a 5:2 device of mode 0666 on a devpts of
//             its own; opening the link (as a user other than root: the
//             mode matters) gives a master whose slave is DIR/pts/N and
//             carries data
//   jobs      job control: a background read stops with SIGTTIN (EIO with
//             SIGTTIN ignored), a background tcsetattr stops with SIGTTOU
//             (allowed with SIGTTOU ignored), a background write stops
//             with TOSTOP only; tcsetpgrp errors; TIOCNOTTY
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

// show prints bytes with control characters escaped.
static void show(const char *what, const char *b, ssize_t n) {
	printf("%s %zd \"", what, n);
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = b[i];
		if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
	fflush(stdout);
}

// drain reads what the master has for us now (echoes, output).
static void drain(int m, const char *what) {
	char b[256];
	ssize_t total = 0;
	char all[4096];
	struct pollfd p = {.fd = m, .events = POLLIN};
	// Linux echoes from a work queue: the first byte may take a while.
	for (int wait = 1000; poll(&p, 1, wait) == 1 && (p.revents & POLLIN); wait = 100) {
		ssize_t n = read(m, b, sizeof b);
		if (n <= 0)
			break;
		memcpy(all + total, b, n);
		total += n;
	}
	show(what, all, total);
}

static void sread(int s, const char *what) {
	char b[256];
	ssize_t n = read(s, b, sizeof b);
	if (n < 0)
		out("%s %s\n", what, strerror(errno));
	else
		show(what, b, n);
}

static void mkpty(int *m, int *s) {
	if (openpty(m, s, NULL, NULL, NULL) < 0) {
		perror("openpty");
		exit(1);
	}
}

static void devices(void) {
	struct stat st;
	// /dev/pts/ptmx's mode is a mount option (ptmxmode): not shown.
	const char *devs[] = {"/dev/ptmx", "/dev/tty", "/dev/pts/ptmx", "/dev/pts"};
	for (int i = 0; i < 4; i++) {
		if (stat(devs[i], &st) < 0) {
			out("stat %s: %s\n", devs[i], strerror(errno));
			continue;
		}
		out("%s chr=%d dir=%d %u:%u mode %o\n", devs[i], S_ISCHR(st.st_mode), S_ISDIR(st.st_mode),
		    major(st.st_rdev), minor(st.st_rdev), i == 2 ? 0 : st.st_mode & 07777);
	}
	int fd = open("/dev/tty", O_RDWR);
	out("open /dev/tty without a terminal: %s\n", err(fd));
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	out("posix_openpt: %s\n", err(m));
	char *name = ptsname(m);
	unsigned n = 99;
	int r = ioctl(m, TIOCGPTN, &n);
	char want[64];
	snprintf(want, sizeof want, "/dev/pts/%u", n);
	out("TIOCGPTN %s, ptsname matches %d\n", err(r), name && strcmp(name, want) == 0);
	int locked = -1;
	r = ioctl(m, TIOCGPTLCK, &locked);
	out("TIOCGPTLCK %s locked=%d\n", err(r), locked);
	fd = open(name, O_RDWR | O_NOCTTY);
	out("open locked slave: %s\n", err(fd));
	out("grantpt %d unlockpt %d\n", grantpt(m), unlockpt(m));
	fd = open(name, O_RDWR | O_NOCTTY);
	out("open unlocked slave: %s\n", err(fd));
	fstat(fd, &st);
	// The mode and group depend on devpts' mount options (Debian's gid=5,
	// mode=620; a container's may differ): only the owner is compared.
	out("slave chr=%d major=%u minor-matches=%d owner-rw %d uid=%u\n", S_ISCHR(st.st_mode), major(st.st_rdev),
	    minor(st.st_rdev) == n, (st.st_mode & 0600) == 0600, st.st_uid == getuid());
	out("isatty master %d slave %d stdin-devnull %d\n", isatty(m), isatty(fd), isatty(open("/dev/null", O_RDONLY)));
	char tn[64] = "";
	r = ttyname_r(fd, tn, sizeof tn);
	out("ttyname %d matches %d\n", r, strcmp(tn, want) == 0);
	r = ioctl(fd, TIOCGPTN, &n);
	out("TIOCGPTN on slave: %s\n", err(r));
	int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	out("TIOCGPTPEER %s, ttyname matches %d\n", err(peer), peer >= 0 && ttyname_r(peer, tn, sizeof tn) == 0 && strcmp(tn, want) == 0);
	struct stat a, b;
	stat(want, &a);
	fstat(peer, &b);
	out("peer is the slave %d\n", a.st_rdev == b.st_rdev && a.st_ino == b.st_ino);
	out("ioctl TIOCGPTN on /dev/null: %s\n", err(ioctl(open("/dev/null", O_RDONLY), TIOCGPTN, &n)));
	close(m);
	out("slave path after master close: %s\n", err(stat(want, &a)));
}

// ptmx_dir is the /dev of the ptmx mode (argv[2]).
static const char *ptmx_dir;

static void ptmx_open(const char *who) {
	char path[256], slave[256];
	snprintf(path, sizeof path, "%s/ptmx", ptmx_dir);
	int m = open(path, O_RDWR | O_NOCTTY);
	out("%s: open ptmx: %s\n", who, err(m));
	if (m < 0)
		return;
	struct stat st;
	fstat(m, &st);
	out("%s: master chr=%d %u:%u\n", who, S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
	unsigned n = 0;
	int r = ioctl(m, TIOCGPTN, &n);
	int unlock = 0;
	out("%s: TIOCGPTN %s unlock %s\n", who, err(r), err(ioctl(m, TIOCSPTLCK, &unlock)));
	snprintf(slave, sizeof slave, "%s/pts/%u", ptmx_dir, n);
	int s = open(slave, O_RDWR | O_NOCTTY);
	out("%s: open slave: %s\n", who, err(s));
	if (s < 0)
		return;
	fstat(s, &st);
	out("%s: slave chr=%d major %u minor-matches %d\n", who, S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev) == n);
	out("%s: write master %zd\n", who, write(m, "hi\n", 3));
	sread(s, "slave read");
	close(s);
	close(m);
}

static void ptmx_mode(void) {
	if (ptmx_dir == NULL) {
		out("usage: pty ptmx DIR\n");
		exit(2);
	}
	char link[256], node[256], target[256];
	snprintf(link, sizeof link, "%s/ptmx", ptmx_dir);
	snprintf(node, sizeof node, "%s/pts/ptmx", ptmx_dir);
	struct stat st, dir, pts;
	if (lstat(link, &st) < 0) {
		out("lstat ptmx: %s\n", strerror(errno));
		return;
	}
	ssize_t n = readlink(link, target, sizeof target - 1);
	target[n < 0 ? 0 : n] = 0;
	out("ptmx symlink=%d target %s\n", S_ISLNK(st.st_mode), n < 0 ? strerror(errno) : target);
	const char *nodes[] = {link, node};
	for (int i = 0; i < 2; i++) {
		if (stat(nodes[i], &st) < 0) {
			out("stat %s: %s\n", i ? "pts/ptmx" : "ptmx", strerror(errno));
			continue;
		}
		out("%s chr=%d %u:%u mode %o uid %u\n", i ? "pts/ptmx" : "ptmx", S_ISCHR(st.st_mode), major(st.st_rdev),
		    minor(st.st_rdev), st.st_mode & 07777, st.st_uid);
	}
	char ptsdir[256];
	snprintf(ptsdir, sizeof ptsdir, "%s/pts", ptmx_dir);
	stat(ptmx_dir, &dir);
	stat(ptsdir, &pts);
	stat(node, &st);
	out("pts/ptmx on its own file system %d, on pts %d\n", st.st_dev != dir.st_dev, st.st_dev == pts.st_dev);
	ptmx_open("caller");
}

static void termios_mode(void) {
	int m, s;
	mkpty(&m, &s);
	struct termios t;
	tcgetattr(s, &t);
	out("iflag %o oflag %o cflag %o lflag %o\n", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
	out("cc");
	for (int i = 0; i < NCCS && i < 17; i++)
		out(" %d", t.c_cc[i]);
	out("\nspeed %d %d\n", (int)cfgetispeed(&t), (int)cfgetospeed(&t));
	struct termios mt;
	tcgetattr(m, &mt);
	out("master shares the settings %d\n", memcmp(&mt, &t, sizeof t) == 0);
	struct termios r = t;
	cfmakeraw(&r);
	r.c_cc[VMIN] = 3;
	r.c_cc[VTIME] = 7;
	out("tcsetattr raw %s\n", err(tcsetattr(s, TCSANOW, &r)));
	struct termios g;
	tcgetattr(m, &g);
	out("round trip %d iflag %o oflag %o lflag %o min %d time %d\n", memcmp(&g, &r, sizeof g) == 0, g.c_iflag,
	    g.c_oflag, g.c_lflag, g.c_cc[VMIN], g.c_cc[VTIME]);
	out("TCSADRAIN %s TCSAFLUSH %s\n", err(tcsetattr(s, TCSADRAIN, &t)), err(tcsetattr(m, TCSAFLUSH, &t)));
	out("tcflush bad %s tcflow bad %s tcdrain %s tcsendbreak %s\n", err(tcflush(s, 7)), err(tcflow(s, 9)),
	    err(tcdrain(s)), err(tcsendbreak(s, 0)));
	int ld = -1;
	out("TIOCGETD %s %d\n", err(ioctl(s, TIOCGETD, &ld)), ld);
	int q = -1;
	out("TIOCOUTQ %s %d\n", err(ioctl(s, TIOCOUTQ, &q)), q);
}

static void canon(void) {
	int m, s;
	mkpty(&m, &s);
	struct {
		const char *name, *in;
	} cases[] = {
	    {"plain", "hello\n"},
	    {"erase", "abc\x7f\x7f" "d\n"},
	    {"kill", "junk\x15good\n"},
	    {"werase", "one two  \x17three\n"},
	    {"cr", "line\r"},
	    {"ctl", "a\x01" "b\x7f\n"},
	    {"tab", "a\tb\x7f\x7f\n"},
	    {"lnext", "x\x16\x7fy\n"},
	    {"eof-mid", "ab\x04"},
	    {"eof", "\x04"},
	    {"erase-empty", "\x7f\x7fz\n"},
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write(m, cases[i].in, strlen(cases[i].in));
		out("%s:\n", cases[i].name);
		sread(s, "  read");
		drain(m, "  echo");
	}
	// A line read in pieces; FIONREAD counts complete lines only.
	write(m, "abcdef\nxy", 9);
	usleep(50000);
	int n = -1;
	ioctl(s, FIONREAD, &n);
	out("FIONREAD %d\n", n);
	char b[4];
	ssize_t r = read(s, b, 4);
	show("piece", b, r);
	r = read(s, b, 4);
	show("piece", b, r);
	write(m, "\n", 1);
	sread(s, "rest");
	drain(m, "echo");
	struct termios t;
	tcgetattr(s, &t);
	struct {
		const char *name;
		tcflag_t iset, iclr, oset, oclr, lset, lclr;
		const char *in, *outp;
	} flags[] = {
	    {"noecho", 0, 0, 0, 0, 0, ECHO, "secret\n", NULL},
	    {"echonl", 0, 0, 0, 0, ECHONL, ECHO, "quiet\n", NULL},
	    {"noechoe", 0, 0, 0, 0, 0, ECHOE, "ab\x7f\n", NULL},
	    {"noechoke", 0, 0, 0, 0, 0, ECHOKE, "ab\x15" "c\n", NULL},
	    {"noechoctl", 0, 0, 0, 0, 0, ECHOCTL, "a\x01\n", NULL},
	    {"inlcr", INLCR, 0, 0, 0, 0, 0, "a\nb\r", NULL},
	    {"igncr", IGNCR, 0, 0, 0, 0, 0, "a\rb\n", NULL},
	    {"noicrnl", 0, ICRNL, 0, 0, 0, 0, "a\rb\n", NULL},
	    {"onlcr", 0, 0, 0, 0, 0, 0, NULL, "x\ny\n"},
	    {"noonlcr", 0, 0, 0, ONLCR, 0, 0, NULL, "x\ny\n"},
	    {"ocrnl", 0, 0, OCRNL, 0, 0, 0, NULL, "x\ry\n"},
	    {"noopost", 0, 0, 0, OPOST, 0, 0, NULL, "x\ny\n"},
	};
	for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		struct termios u = t;
		u.c_iflag = (u.c_iflag | flags[i].iset) & ~flags[i].iclr;
		u.c_oflag = (u.c_oflag | flags[i].oset) & ~flags[i].oclr;
		u.c_lflag = (u.c_lflag | flags[i].lset) & ~flags[i].lclr;
		tcsetattr(s, TCSANOW, &u);
		out("%s:\n", flags[i].name);
		if (flags[i].in) {
			write(m, flags[i].in, strlen(flags[i].in));
			sread(s, "  read");
		} else {
			write(s, flags[i].outp, strlen(flags[i].outp));
		}
		drain(m, "  master");
		tcsetattr(s, TCSANOW, &t);
	}
}

// wait_writable waits until fd's POLLOUT is want (1) or not (0).
static int wait_writable(int fd, int want) {
	for (int i = 0; i < 500; i++) {
		struct pollfd q = {.fd = fd, .events = POLLOUT};
		int r = poll(&q, 1, 0);
		if ((r == 1 && (q.revents & POLLOUT)) == want)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void raw(void) {
	int m, s;
	mkpty(&m, &s);
	struct termios t, r;
	tcgetattr(s, &t);
	r = t;
	cfmakeraw(&r);
	r.c_cc[VMIN] = 0;
	r.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &r);
	sread(s, "min0 time0 empty");
	write(m, "x\r\x03", 3);
	usleep(50000);
	sread(s, "min0 time0");
	drain(m, "echo");
	r.c_cc[VTIME] = 2;
	tcsetattr(s, TCSANOW, &r);
	sread(s, "min0 time2 empty");
	r.c_cc[VMIN] = 3;
	r.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &r);
	if (fork() == 0) {
		usleep(50000);
		write(m, "a", 1);
		usleep(50000);
		write(m, "bc", 2);
		_exit(0);
	}
	sread(s, "min3");
	wait(NULL);
	r.c_cc[VMIN] = 2;
	r.c_cc[VTIME] = 2;
	tcsetattr(s, TCSANOW, &r);
	write(m, "q", 1);
	sread(s, "min2 time2");
	// Switching back to canonical mode makes what is queued one line.
	write(m, "pend", 4);
	usleep(50000);
	tcsetattr(s, TCSANOW, &t);
	sread(s, "to canon");
	drain(m, "echo");
	// Flushing.
	write(m, "gone\n", 5);
	usleep(50000); // Linux echoes from a work queue: let the echo come first
	write(s, "gone too", 8);
	usleep(50000);
	out("tcflush %s\n", err(tcflush(s, TCIOFLUSH)));
	int n = -1;
	ioctl(s, FIONREAD, &n);
	int mn = -1;
	ioctl(m, FIONREAD, &mn);
	out("after flush slave %d master %d\n", n, mn);
	// Output flow control.
	out("tcflow TCOOFF %s\n", err(tcflow(s, TCOOFF)));
	int fl = fcntl(s, F_GETFL);
	fcntl(s, F_SETFL, fl | O_NONBLOCK);
	out("write while stopped: %s\n", err(write(s, "z", 1)));
	struct pollfd p = {.fd = s, .events = POLLOUT};
	int pr = poll(&p, 1, 0);
	out("poll while stopped: %d\n", pr);
	out("tcflow TCOON %s\n", err(tcflow(s, TCOON)));
	out("write after restart: %s\n", err(write(s, "z", 1)));
	fcntl(s, F_SETFL, fl);
	drain(m, "master");
	// ^S and ^Q from the master with IXON. Linux's line discipline takes
	// them from a work queue: wait (up to 5 s) for the slave's POLLOUT to
	// change rather than for a fixed time.
	write(m, "\x13", 1);
	out("^S stops output %d\n", wait_writable(s, 0));
	write(m, "\x11", 1);
	out("^Q restarts output %d\n", wait_writable(s, 1));
	fcntl(s, F_SETFL, fl | O_NONBLOCK);
	out("write after ^Q: %s\n", err(write(s, "w", 1)));
	drain(m, "master");
	out("tcflow TCIOFF %s\n", err(tcflow(s, TCIOFF)));
	drain(m, "master");
}

static volatile sig_atomic_t got[65];
static void handler(int sig) { got[sig]++; }

static void hangup(void) {
	int m, s;
	mkpty(&m, &s);
	write(s, "bye", 3);
	close(s);
	struct pollfd p = {.fd = m, .events = POLLIN};
	int r = poll(&p, 1, 1000);
	out("poll master: %d revents %x\n", r, p.revents);
	sread(m, "master read");
	sread(m, "master read");
	r = poll(&p, 1, 1000);
	out("poll master: %d revents %x\n", r, p.revents);
	out("write master: %s\n", err(write(m, "x", 1)));
	close(m);

	mkpty(&m, &s);
	int ready[2];
	pipe(ready);
	pid_t c = fork();
	if (c == 0) {
		close(m);
		signal(SIGHUP, handler);
		setsid();
		ioctl(s, TIOCSCTTY, 0);
		write(ready[1], "r", 1);
		while (!got[SIGHUP])
			usleep(1000);
		char b[8];
		ssize_t n = read(s, b, sizeof b);
		out("child: SIGHUP %d, read %zd %s\n", got[SIGHUP], n, n < 0 ? strerror(errno) : "");
		out("child: write %s\n", err(write(s, "x", 1)));
		struct pollfd q = {.fd = s, .events = POLLIN | POLLOUT};
		int r = poll(&q, 1, 0);
		out("child: poll %d revents %x\n", r, q.revents);
		struct termios t;
		out("child: tcgetattr %s\n", err(tcgetattr(s, &t)));
		out("child: open /dev/tty %s\n", err(open("/dev/tty", O_RDWR)));
		_exit(0);
	}
	char b;
	read(ready[0], &b, 1);
	close(m);
	int st;
	waitpid(c, &st, 0);
	out("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

// child_ctty makes the caller a session leader with slave s as its
// controlling terminal.
static void child_ctty(int s) {
	setsid();
	int r = ioctl(s, TIOCSCTTY, 0);
	if (r < 0)
		out("TIOCSCTTY %s\n", strerror(errno));
}

static void signals_mode(void) {
	int m, s;
	mkpty(&m, &s);
	int ready[2], done[2];
	pipe(ready);
	pipe(done);
	pid_t c = fork();
	if (c == 0) {
		close(m);
		int sigs[] = {SIGINT, SIGQUIT, SIGTSTP, SIGWINCH};
		for (int i = 0; i < 4; i++)
			signal(sigs[i], handler);
		int before = tcgetsid(s);
		out("child: tcgetsid before %s\n", err(before));
		child_ctty(s);
		out("child: TIOCSCTTY again %s\n", err(ioctl(s, TIOCSCTTY, 0)));
		out("child: tcgetsid is getsid %d, tcgetpgrp is getpgrp %d\n", tcgetsid(s) == getsid(0),
		    tcgetpgrp(s) == getpgrp());
		int t = open("/dev/tty", O_RDWR);
		struct stat a;
		fstat(t, &a);
		out("child: /dev/tty %s isatty %d rdev %u:%u\n", err(t), isatty(t), major(a.st_rdev), minor(a.st_rdev));
		out("child: write via /dev/tty %s\n", err(write(t, "via tty\n", 8)));
		write(ready[1], "r", 1);
		for (int i = 0; i < 4; i++) {
			while (!got[sigs[i]])
				usleep(1000);
			out("child: got %s\n", strsignal(sigs[i]));
		}
		struct winsize ws;
		ioctl(t, TIOCGWINSZ, &ws);
		out("child: winsize %dx%d\n", ws.ws_row, ws.ws_col);
		write(done[1], "d", 1);
		_exit(0);
	}
	close(s);
	char b;
	read(ready[0], &b, 1);
	drain(m, "master");
	out("master: tcgetpgrp is child %d, tcgetsid is child %d\n", tcgetpgrp(m) == c, tcgetsid(m) == c);
	const char *keys[] = {"\x03", "\x1c", "\x1a"};
	for (int i = 0; i < 3; i++) {
		write(m, keys[i], 1);
		usleep(100000);
		drain(m, "echo");
	}
	struct winsize ws = {.ws_row = 33, .ws_col = 99};
	int r = ioctl(m, TIOCSWINSZ, &ws);
	read(done[0], &b, 1);
	out("TIOCSWINSZ %s\n", err(r));
	int st;
	waitpid(c, &st, 0);
	out("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	struct winsize g;
	ioctl(m, TIOCGWINSZ, &g);
	out("master winsize %dx%d\n", g.ws_row, g.ws_col);
}

// bg runs fn in a background process group of the caller's session and
// reports how it ended or stopped.
static void bg(const char *what, int s, int (*fn)(int)) {
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		int r = fn(s);
		_exit(r < 0 ? 100 + errno : 0);
	}
	setpgid(c, c);
	int st;
	waitpid(c, &st, WUNTRACED);
	if (WIFSTOPPED(st)) {
		out("%s: stopped by %s\n", what, strsignal(WSTOPSIG(st)));
		kill(c, SIGKILL);
		waitpid(c, &st, 0);
	} else if (WIFEXITED(st)) {
		int e = WEXITSTATUS(st);
		out("%s: exited %s\n", what, e >= 100 ? strerror(e - 100) : "ok");
	} else {
		out("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
	}
}

static int do_read(int s) {
	char b[4];
	return read(s, b, 4);
}
static int do_read_ign(int s) {
	signal(SIGTTIN, SIG_IGN);
	return do_read(s);
}
static int do_setattr(int s) {
	struct termios t;
	tcgetattr(s, &t);
	return tcsetattr(s, TCSANOW, &t);
}
static int do_setattr_ign(int s) {
	signal(SIGTTOU, SIG_IGN);
	return do_setattr(s);
}
static int do_write(int s) { return write(s, "bg\n", 3); }
static int do_tcsetpgrp(int s) {
	signal(SIGTTOU, SIG_IGN);
	return tcsetpgrp(s, getpgrp());
}

static void jobs(void) {
	int m, s;
	mkpty(&m, &s);
	pid_t c = fork();
	if (c == 0) {
		close(m);
		child_ctty(s);
		bg("background read", s, do_read);
		bg("background read, SIGTTIN ignored", s, do_read_ign);
		bg("background tcsetattr", s, do_setattr);
		bg("background tcsetattr, SIGTTOU ignored", s, do_setattr_ign);
		bg("background write", s, do_write);
		struct termios t;
		tcgetattr(s, &t);
		t.c_lflag |= TOSTOP;
		tcsetattr(s, TCSANOW, &t);
		bg("background write, TOSTOP", s, do_write);
		bg("background tcsetpgrp, SIGTTOU ignored", s, do_tcsetpgrp);
		out("background tcsetpgrp took the terminal %d\n", tcgetpgrp(s) != getpgrp());
		out("tcsetpgrp from the background: %s\n", err(tcsetpgrp(s, getpgrp())));
		signal(SIGTTOU, SIG_IGN);
		out("tcsetpgrp with SIGTTOU ignored: %s\n", err(tcsetpgrp(s, getpgrp())));
		out("tcsetpgrp nonexistent: %s\n", err(tcsetpgrp(s, 999999)));
		out("tcsetpgrp negative: %s\n", err(tcsetpgrp(s, -5)));
		int m2, s2;
		mkpty(&m2, &s2);
		out("tcsetpgrp on another pty: %s\n", err(tcsetpgrp(s2, getpgrp())));
		out("tcgetpgrp on another pty: %s\n", err(tcgetpgrp(s2)));
		out("TIOCSCTTY on another pty: %s\n", err(ioctl(s2, TIOCSCTTY, 0)));
		// A process of another session cannot be made foreground.
		int ready[2];
		pipe(ready);
		pid_t o = fork();
		if (o == 0) {
			setsid();
			write(ready[1], "r", 1);
			pause();
			_exit(0);
		}
		char b;
		read(ready[0], &b, 1);
		out("tcsetpgrp other session: %s\n", err(tcsetpgrp(s, o)));
		kill(o, SIGKILL);
		waitpid(o, NULL, 0);
		signal(SIGHUP, SIG_IGN);
		out("TIOCNOTTY %s\n", err(ioctl(s, TIOCNOTTY)));
		out("open /dev/tty after TIOCNOTTY: %s\n", err(open("/dev/tty", O_RDWR)));
		out("tcgetpgrp after TIOCNOTTY: %s\n", err(tcgetpgrp(s)));
		out("TIOCNOTTY again %s\n", err(ioctl(s, TIOCNOTTY)));
		// An open without O_NOCTTY by a session leader acquires it.
		char name[64];
		ttyname_r(s2, name, sizeof name);
		int fd = open(name, O_RDWR);
		out("open acquires %d\n", tcgetsid(fd) == getsid(0));
		_exit(0);
	}
	close(s);
	int st;
	waitpid(c, &st, 0);
	drain(m, "master");
	out("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(int argc, char **argv) {
	if (argc == 3 && strcmp(argv[1], "ptmx") == 0)
		ptmx_dir = argv[2];
	else if (argc != 2) {
		fprintf(stderr, "usage: pty MODE | pty ptmx DIR\n");
		return 2;
	}
	struct {
		const char *name;
		void (*fn)(void);
	} modes[] = {{"devices", devices}, {"termios", termios_mode}, {"canon", canon}, {"raw", raw},
		     {"hangup", hangup},   {"signals", signals_mode}, {"jobs", jobs},
		     {"ptmx", ptmx_mode}};
	for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(argv[1], modes[i].name) != 0)
			continue;
		pid_t c = fork();
		if (c == 0) {
			setsid();
			modes[i].fn();
			_exit(0);
		}
		int st;
		waitpid(c, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}

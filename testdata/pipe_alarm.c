// pipe_alarm: a blocking pipe write interrupted by SIGALRM while another
// thread, with SIGALRM blocked, reads from the pipe: CPython's test_io
// check_interrupted_write, in C. The write must return the partial count
// (not EINTR: bytes went in) once the handler ran, the reader must get the
// first byte and the next read the second, and nobody may hang. A second
// case: a write that cannot put a single byte in (the pipe is full, nobody
// reads) ends with EINTR.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define BIG (4 << 20)

static int rfd;
static char got;
static volatile sig_atomic_t alarms;

static void on_alarm(int sig) { (void)sig; alarms++; }

static void *reader(void *arg) {
  (void)arg;
  if (read(rfd, &got, 1) != 1) {
    perror("read");
    exit(2);
  }
  return NULL;
}

static void arm(long usec) {
  struct itimerval it = {{0, 0}, {0, usec}};
  setitimer(ITIMER_REAL, &it, NULL);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; // no SA_RESTART, as CPython installs handlers
  sigaction(SIGALRM, &sa, NULL);
  static char big[BIG];
  for (int i = 0; i < BIG; i++)
    big[i] = i % 2 ? 'y' : 'x';

  for (int round = 0; round < 5; round++) {
    int p[2];
    if (pipe(p) != 0) {
      perror("pipe");
      return 1;
    }
    rfd = p[0];
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_t t;
    // The reader starts with SIGALRM blocked, so the signal can only
    // interrupt the writer.
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_create(&t, NULL, reader, NULL);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    alarms = 0;
    arm(100000);
    ssize_t n = write(p[1], big, BIG);
    int e = errno;
    pthread_join(t, NULL);
    char second = 0;
    ssize_t n2 = read(p[0], &second, 1);
    printf("round %d: write partial: %s (errno %s), handler ran: %d, reader got '%c', next read %zd '%c'\n",
           round, n > 0 && n < BIG ? "yes" : "no", n < 0 ? strerror(e) : "none", (int)alarms, got,
           n2, second);
    close(p[0]);
    close(p[1]);
  }

  // Nothing fits: the interrupted write fails with EINTR.
  int p[2];
  pipe(p);
  ssize_t filled = write(p[1], big, 65536);
  alarms = 0;
  arm(50000);
  ssize_t n = write(p[1], big, 1);
  int e = errno;
  printf("full pipe: filled %zd, write %zd (%s), handler ran: %d\n", filled, n, n < 0 ? strerror(e) : "none",
         (int)alarms);
  return 0;
}

package tests

// TestPosixTimers: POSIX timers, timerfd, signalfd and pidfds
// (testdata/posix_timers.c) as Linux runs them: errno for each refused
// call, timer signals with their value, id and overruns, CPU-clock timers,
// readiness through poll and epoll, and what fork and execve keep. The
// native run is held to the expected text and the guest's to the native
// run.

import "testing"

var posixTimerCases = []modeCase{
	{name: "timer", prog: "posix_timers", args: []string{"timer"}, want: `MONOTONIC_RAW: EOPNOTSUPP
clock 99: EINVAL
signal 0: EINVAL
signal 65: EINVAL
notify 7: EINVAL
SIGEV_THREAD_ID of another process: EINVAL
gettime of timer 12345: EINVAL
getoverrun of timer 12345: EINVAL
delete of timer 12345: EINVAL
bad timer_create address: EFAULT
first timer id: 5
settime with no value: EINVAL
settime with tv_nsec 1e9: EINVAL
NULL sigevent: Alarm clock, SI_TIMER: yes, si_value = id: yes, overrun 0
one-shot after firing: 0/0
absolute REALTIME timer: SIGRTMIN+1, SI_TIMER: yes, value 4242, si_timerid matches: yes
blocked periodic: pending yes, one signal, overrun >= 10: yes, getoverrun same: yes
old value within the interval: yes, old interval 10 ms
disarmed: 0/0
deleted timer: EINVAL
SIGEV_NONE: value in (4.5 s, 5 s]: yes, interval 1000 ms
SIGEV_NONE one-shot after expiry: 0/0
SIGEV_THREAD_ID timer: ok
SIGEV_THREAD_ID: the chosen thread took it: yes, value 99
SIGEV_THREAD timer: ok
SIGEV_THREAD function ran with 55
fork child: timer 0 EINVAL
after execve: timer 0 EINVAL
`},
	{name: "timerfd", prog: "posix_timers", args: []string{"timerfd"}, want: `timerfd_create clock 99: EINVAL
timerfd_create CLOCK_PROCESS_CPUTIME_ID: EINVAL
timerfd_create flags 1: EINVAL
timerfd_settime of fd 99: EBADF
timerfd_settime of stdin: EINVAL
timerfd_gettime of stdin: EINVAL
timerfd_settime flags 4: EINVAL
timerfd_settime tv_nsec -1: EINVAL
cloexec: yes
short read: EINVAL
poll before expiry: 0
poll after expiry: 1 revents POLLIN: yes
read counts the expiries (>= 10): yes
gettime: value <= interval: yes, interval 10 ms
disarm returns the old interval: 10 ms
nonblocking read with no expiry: EAGAIN
absolute, CANCEL_ON_SET: ok
epoll: 1 ready, data 77
read of a past absolute time: ok, count 1
one-shot after read: 0/0
fork child read the shared timerfd: ok, count 1
parent after the child read: EAGAIN
`},
	{name: "signalfd", prog: "posix_timers", args: []string{"signalfd"}, want: `signalfd flags 1: EINVAL
signalfd size 4: EINVAL
signalfd of fd 99: EBADF
signalfd of stdin: EINVAL
nonblocking, cloexec: yes yes
read with nothing pending: EAGAIN
read of 100 bytes: EINVAL
poll with nothing pending: 0
poll with signals pending: 1
read: 3 records
  signo USR1, code 0, pid is mine: yes, uid is mine: yes
  signo USR2, code 0, pid is mine: yes, uid is mine: yes
  signo SIGRTMIN, code -1, pid is mine: yes, uid is mine: yes
still pending: no
mask update returns the fd: yes
SIGUSR1 no longer in the mask: poll 0
read after update: 1 record(s), USR2
epoll on the signalfd: 1
timer via signalfd: 1 record, SI_TIMER: yes, ssi_int 808, ssi_tid matches: yes, overrun 0
blocking read: 1 record, USR2 from the child: yes
SIGCHLD: code CLD_EXITED: yes, status 7, pid matches: yes
`},
	{name: "cpu", prog: "posix_timers", args: []string{"cpu"}, want: `CLOCK_PROCESS_CPUTIME_ID timer: ok
fired while sleeping: no
fired once the process used its CPU: yes
one-shot after firing: 0/0
SI_TIMER: yes
CLOCK_THREAD_CPUTIME_ID timer: ok
fired after the thread used 50 ms: yes
timer on a pthread's CPU clock: ok
it fired after the thread used 50 ms: yes
`},
	{name: "pidfd", prog: "posix_timers", args: []string{"pidfd"}, want: `pidfd_open(-1): EINVAL
pidfd_open(0): EINVAL
pidfd_open flags 1: EINVAL
pidfd_open of no process: ESRCH
own pidfd: ok, cloexec: yes
read of a pidfd: EINVAL
send_signal on stdin: EBADF
send_signal on fd 99: EBADF
send_signal flags 8: EINVAL
send_signal flags 3: EINVAL
send_signal signal 0: ok
send_signal signal 99: EINVAL
SIGUSR1 to myself: code SI_USER: yes
with siginfo: ok, code SI_QUEUE: yes, value 1234
siginfo of another signal: EINVAL
via /proc/<pid>: ok, delivered: yes
child running: poll 0
waitid on a nonblocking pidfd of a running child: EAGAIN
siginfo to another process: ok
pidfd_getfd of the child's stdout: ok
pidfd_getfd flags 1: EINVAL
pidfd_getfd of fd 99: EBADF
child exited: poll 1, POLLIN: yes
waitid(P_PIDFD): ok, pid matches: yes, status 3
after reaping: poll 1, POLLHUP: yes
send_signal after reaping: ESRCH
waitid(P_PIDFD) again: ECHILD
waitid(P_PIDFD) of stdin: EBADF
waitid(P_PIDFD) of myself: ECHILD
pidfd_getfd of a sibling: ok
CLONE_PIDFD: a descriptor, poll 1
its child's status: 5, pid matches: yes
CLONE_PIDFD|CLONE_PARENT_SETTID: EINVAL
`},
}

func TestPosixTimers(t *testing.T) { runModeCases(t, posixTimerCases) }

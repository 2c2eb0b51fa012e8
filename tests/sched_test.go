package tests

// TestSchedAndUsage: the scheduler and priority calls by tid
// (testdata/sched.c: the JVM's pthread_getattr_np asks for another thread's
// affinity by tid), and resource usage, CPU clocks, clock setting and
// capabilities (testdata/rusage.c), ITIMER_VIRTUAL and ITIMER_PROF
// (testdata/itimer_cpu.c). The programs print only errno names,
// policies, nice values and booleans with generous bounds; the native run is
// held to the expected text and the guest run to the native one.

import "testing"

var schedCases = []modeCase{
	{name: "sched", prog: "sched", want: schedWant},
	{name: "rusage", prog: "rusage", want: rusageWant},
	{name: "itimer-cpu", prog: "itimer_cpu", want: itimerCPUWant},
}

const schedWant = `pthread_getattr_np(other thread): ok
getaffinity(other thread): ok, returns whole longs: yes, same CPUs as ours: yes
getaffinity(0): ok
getaffinity(no such tid): ESRCH
getaffinity(len 0): EINVAL
getaffinity(len 12): EINVAL
getaffinity(bad buffer): EFAULT
setaffinity(other thread, CPU 0): ok
its affinity: 1 CPU(s), CPU 0: yes
ours unchanged: yes
setaffinity(empty mask): EINVAL
setaffinity(len 0): EINVAL
setaffinity(no such tid): ESRCH
setaffinity(bad buffer): EFAULT
getscheduler(0) = 0
getscheduler(-1): EINVAL
getscheduler(no such tid): ESRCH
setscheduler(other thread, BATCH): ok
getscheduler(other thread) = 3, ours = 0
setscheduler(FIFO, 10): EPERM
setscheduler(RR, 100): EINVAL
setscheduler(FIFO, 0): EINVAL
setscheduler(OTHER, 5): EINVAL
setscheduler(OTHER, -1): EINVAL
setscheduler(DEADLINE): EINVAL
setscheduler(policy 42): EINVAL
setscheduler(policy -1): EINVAL
setscheduler(NULL param): EINVAL
setscheduler(bad param): EFAULT
setscheduler(no such tid): ESRCH
setscheduler(-1 tid): EINVAL
setscheduler(other thread, IDLE): ok
back to OTHER from IDLE: EPERM
getparam(other thread): ok, priority 0
getparam(NULL): EINVAL
getparam(-1): EINVAL
getparam(no such tid): ESRCH
getparam(bad buffer): EFAULT
setparam(0): ok
setparam(1): EINVAL
policy 0: max 0 (ok), min 0 (ok)
policy 1: max 99 (ok), min 1 (ok)
policy 2: max 99 (ok), min 1 (ok)
policy 3: max 0 (ok), min 0 (ok)
policy 5: max 0 (ok), min 0 (ok)
policy 42: max -1 (EINVAL), min -1 (EINVAL)
rr_get_interval(other thread): ok, under a second: yes
rr_get_interval(-1): EINVAL
rr_get_interval(no such tid): ESRCH
rr_get_interval(bad buffer): EFAULT
getpriority(self) = 20
setpriority(other thread, 5): ok
getpriority(other thread) = 15, self = 20
setpriority(other thread, 3): EACCES
setpriority(other thread, 100): ok
getpriority(other thread) = 1
setpriority(self, -1): EACCES
getpriority(own group) = 20
getpriority(which 3): EINVAL
getpriority(no such tid): ESRCH
getpriority(no such group): ESRCH
setpriority(no such tid): ESRCH
setpriority(which -1): EINVAL
setscheduler(OTHER|RESET_ON_FORK): ok
getscheduler(0) = 0x40000000
clearing it: EPERM
fork child: getscheduler(0) = 0, affinity = ours: yes
other thread: getcpu 0, its policy 5
getaffinity(exited thread): ESRCH
`

const rusageWant = `getrusage(SELF): ok
maxrss > 0: yes
getrusage(42): EINVAL
getrusage(bad buffer): EFAULT
after 300 ms of CPU: process clock +>= 250 ms: yes, thread clock +>= 250 ms: yes
RUSAGE_SELF +>= 250 ms: yes, below 30 s: yes
getrusage(THREAD): ok, >= 250 ms: yes
pthread_getcpuclockid: Success
other thread's clock >= 150 ms: yes, below ours: yes
clock_getres(thread clock): ok, 1 ns: yes
process clock >= both threads' 450 ms: yes
joined thread's clock: EINVAL
clock_getcpuclockid(getpid()): Success
its clock >= 450 ms: yes
thread clock of no such tid: EINVAL
CPU clock of kind 3: EINVAL
process clock of no such pid: EINVAL
times: ok, utime+stime >= 45 ticks: yes, children 0: yes
times(NULL): ok
times(bad buffer): EFAULT
RUSAGE_CHILDREN before any child: 0 ms: yes
wait4: ok, child's rusage >= 250 ms: yes, maxrss >= 64 MiB: yes
RUSAGE_CHILDREN >= 250 ms: yes, maxrss >= 64 MiB: yes
our maxrss below the child's: yes
times: children >= 25 ticks: yes
times across 100 ms: 8..100 ticks: yes
clock_settime(REALTIME): EPERM
clock_settime(REALTIME, bad nsec): EINVAL
clock_settime(REALTIME, bad pointer): EFAULT
clock_settime(MONOTONIC): EINVAL
clock_settime(BOOTTIME): EINVAL
clock_settime(PROCESS_CPUTIME_ID): EINVAL
clock_settime(THREAD_CPUTIME_ID): EINVAL
clock_settime(clock 100): EINVAL
clock_settime(clock_getcpuclockid clock): EPERM
clock_settime(thread clock of no such tid): EINVAL
settimeofday: EPERM
settimeofday(bad usec): EINVAL
settimeofday(bad pointer): EFAULT
capget(v3): ok, all sets empty: yes
capget(bad version): EINVAL, version now 0x20080522
capget(bad version, NULL data): ok, version now 0x20080522
capget(v1): ok
capget(no such pid): ESRCH
capget(pid -1): EINVAL
capget(own pid): ok
capget(bad header): EFAULT
capget(bad data): EFAULT
capset(nothing): ok
capset(CAP_SYS_ADMIN): EPERM
capset(inheritable cap 32): EPERM
capset(other pid): EPERM
capset(bad version): EINVAL
capset(bad data): EFAULT
`

const itimerCPUWant = `VIRTUAL armed: value in (0, 60 ms]: yes, interval 50 ms: yes
VIRTUAL 50 ms over 1 s of CPU: 10..30 signals: yes
disarmed: 0/0: yes
PROF 50 ms over 1 s of CPU: 10..30 signals: yes
one-shot VIRTUAL over 400 ms of CPU: 1 signal(s)
after it fired: 0/0: yes
VIRTUAL 50 ms while sleeping 300 ms: 0 signal(s)
setitimer returns the old one: interval 50 ms: yes, value in (0, 60 ms]: yes
fork child: PROF 0/0: yes
setitimer(which 3): EINVAL
getitimer(which -1): EINVAL
setitimer(usec 1000000): EINVAL
getitimer(bad pointer): EFAULT
`

func TestSchedAndUsage(t *testing.T) { runModeCases(t, schedCases) }

package tests

import "testing"

// The signal tests run the modes of testdata/signals.c and testdata/sigfpe.c
// natively and under litebox (see runModeCases in process_test.go): handlers
// with siginfo, synchronous faults recovered with siglongjmp, the alternate
// signal stack, default actions, masks and pending signals, sigsuspend and
// sigtimedwait, alarm and interval timers, SA_RESTART, SIGCHLD.

var signalsCases = []modeCase{
	{name: "siginfo", prog: "signals", args: []string{"siginfo"}, want: `sigaction reads back: SA_SIGINFO yes, handler yes, SIGWINCH in sa_mask yes
kill(getpid(), SIGUSR1): hits=1 si_signo=SIGUSR1 si_code=SI_USER si_pid==getpid(): yes si_uid==getuid(): yes
inside the handler: SIGUSR1 blocked yes, SIGWINCH (sa_mask) blocked yes
after the handler: SIGUSR1 blocked no, SIGWINCH blocked no
raise(SIGUSR1): hits=2 si_code=SI_TKILL si_pid==getpid(): yes
SA_NODEFER: SIGUSR1 blocked inside the handler: no
SA_RESETHAND: hits=1, disposition afterwards SIG_DFL: yes
`},
	{name: "raise", prog: "signals", args: []string{"raise"}, want: `raise: before usr2 after
raise from a handler: before usr1-start usr2 usr1-end after
same signal from its own handler:  first-start first-end second
child raise(SIGTERM): killed by SIGTERM
`},
	{name: "segv", prog: "signals", args: []string{"segv"}, want: `null write: SIGSEGV si_addr==0: yes si_code=SEGV_MAPERR
SIGSEGV blocked after siglongjmp: no
null write: SIGSEGV si_addr==0: yes si_code=SEGV_MAPERR
SIGSEGV blocked after siglongjmp: no
recovered 2 times
write to a read-only page: si_addr==page+100: yes si_code=SEGV_ACCERR
read of an unmapped page: si_addr==page+8: yes si_code=SEGV_MAPERR
`},
	{name: "altstack", prog: "signals", args: []string{"altstack"}, want: `sigaltstack reads back: base yes size yes flags 0
null write: handler on the alternate stack: yes, SS_ONSTACK inside: yes
after the handler: SS_ONSTACK no
without SA_ONSTACK: on the alternate stack: no
stack overflow caught on the alternate stack: yes, depth > 1000: yes
SS_DISABLE: 0, flags now SS_DISABLE: yes
tiny alternate stack: -1 ENOMEM
`},
	{name: "sigpipe", prog: "signals", args: []string{"sigpipe"}, want: `child writing to a pipe without readers: WIFSIGNALED yes WTERMSIG SIGPIPE
blocked writer when the reader closes: killed by SIGPIPE
with SIGPIPE ignored: write -1 EPIPE
with a SIGPIPE handler: write -1 EPIPE, handler ran: yes
`},
	{name: "alarm", prog: "signals", args: []string{"alarm"}, want: `alarm(5) with none pending: 0
alarm(0) returns the remaining seconds: 5
pause: -1 EINTR, alarms=1, waited >= 900ms: yes
getitimer: interval 20ms: yes, value <= 20ms: yes
itimer ticks: 5, none after disarming: yes
child with alarm(1) and no handler: killed by SIGALRM
`},
	{name: "sigsuspend", prog: "signals", args: []string{"sigsuspend"}, want: `after kill: handler ran no, SIGUSR2 pending yes, SIGUSR1 pending no
sigsuspend: -1 EINTR, handler trace: usr2
afterwards: SIGUSR2 pending no, still blocked yes
sigsuspend for a child's kill: -1 EINTR, handler trace: usr2
child: exited 0
SIG_SETMASK returned the old mask (SIGUSR2 in it): yes
after SIG_UNBLOCK: SIGHUP blocked no, SIGUSR2 blocked no
sigprocmask(bad how): -1 EINVAL
`},
	{name: "sigtimedwait", prog: "signals", args: []string{"sigtimedwait"}, want: `sigtimedwait: SIGUSR1 si_code=SI_USER si_pid==getpid(): yes
sigtimedwait with nothing pending: -1 EAGAIN, waited >= 90ms: yes
sigtimedwait with a zero timeout: -1 EAGAIN
SIGRTMIN sent 3 times, received 3 times
SIGUSR1 sent 3 times, received 1 time(s)
sigwaitinfo: SIGUSR1 from the child: yes si_code=SI_USER
child: exited 0
SIGRTMIN pending, waiting for SIGUSR1 only: -1 EAGAIN
sigwait: 0 SIGRTMIN
`},
	{name: "restart", prog: "signals", args: []string{"restart"}, want: `without SA_RESTART: read -1 EINTR, alarms=1, waited >= 900ms: yes
the handler's byte is read next: 1
with SA_RESTART: read 1 ok, alarms=1
nanosleep(5s) with SA_RESTART: -1 EINTR, remaining between 4s and 5s: yes
waitpid with SA_RESTART: returned the child yes, status 17, alarms=2
waitpid without SA_RESTART: -1 EINTR
child: exited 18
`},
	{name: "sigchld", prog: "signals", args: []string{"sigchld"}, want: `SIGCHLD handled 5 times, CLD_EXITED 5 times, status sum 15
killed child: killed by SIGKILL
SIGCHLD ignored: wait -1 ECHILD
SA_NOCLDWAIT: wait -1 ECHILD
`},
	{name: "mask", prog: "signals", args: []string{"mask"}, want: `block everything: SIGKILL blocked no, SIGSTOP blocked no, SIGTERM blocked yes
child with SIGTERM blocked sends itself SIGTERM: exited 0
child with everything blocked sends itself SIGKILL: killed by SIGKILL
sigaction(SIGKILL): -1 EINVAL
sigaction(SIGSTOP): -1 EINVAL
sigaction(0): -1 EINVAL
sigaction(65): -1 EINVAL
read SIGKILL disposition: 0 SIG_DFL yes
pending SIGUSR1 discarded when set to SIG_IGN: yes
`},
	{name: "kill", prog: "signals", args: []string{"kill"}, want: `kill(getpid(), 0): 0
kill(getpid(), 999): -1 EINVAL
kill(getpid(), -1): -1 EINVAL
child: exited 0
kill(reaped child, 0): -1 ESRCH
kill(zombie, 0): 0 ok
zombie: exited 0
child kill(0, SIGUSR2) with a handler: exited 0
child kill(0, SIGTERM): killed by SIGTERM
`},
	{name: "sigfpe", prog: "sigfpe", want: `10 / 0: SIGFPE si_code=FPE_INTDIV si_addr set: yes
10 / 0: SIGFPE si_code=FPE_INTDIV si_addr set: yes
INT_MIN / -1: SIGFPE si_code=FPE_INTDIV
10 % 0 (64-bit): SIGFPE si_code=FPE_INTDIV
1.0 / 0.0 is infinite without a signal: yes
child without a handler: killed by SIGFPE
`},
}

// TestSignals runs every signals/sigfpe mode natively and under litebox.
func TestSignals(t *testing.T) { runModeCases(t, signalsCases) }

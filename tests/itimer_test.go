package tests

// TestItimer: ITIMER_REAL re-armed as its SIGALRM is taken, as Linux does
// (testdata/itimer.c): what a program sees of a timer whose signal is
// blocked, ignored or waited for, and of one-shot and tiny timers, matches
// the native run, which is held to the expected text.

import "testing"

var itimerCases = []modeCase{
	{name: "blocked", prog: "itimer", args: []string{"blocked"}, want: `blocked 50 ms: value 0: yes, interval 200 ms: yes, SIGALRM pending: yes, ticks 0
unblocked: handler ran 1 time(s), re-armed: yes, on the 200 ms grid (value <= 151 ms): yes
`},
	{name: "ignored", prog: "itimer", args: []string{"ignored"}, want: `ignored 30 ms: value 0: yes, interval 1 ms: yes
with a handler 30 ms later: ticks 0, value still 0: yes
armed again: ticks > 0: yes
`},
	{name: "sigwait", prog: "itimer", args: []string{"sigwait"}, want: `sigwaitinfo took 5 SIGALRM (SI_KERNEL), armed after 5 of them
after disarming: sigtimedwait EAGAIN
`},
	{name: "oneshot", prog: "itimer", args: []string{"oneshot"}, want: `one-shot fired: 0/0
one-shot taken: 0/0
setitimer returns the old one: value in (4.9 s, 5 s]: yes, interval 250000
old value of a fired, untaken timer: 0/3000
fork child: 0/0
`},
	{name: "tiny", prog: "itimer", args: []string{"tiny"}, want: `1 us timer taken 200 times, value above the interval 0 times
`},
}

func TestItimer(t *testing.T) { runModeCases(t, itimerCases) }

package tests

// TestEpollNest: epoll instances in instances (testdata/epoll_nest.c). The
// self-add and the cycles that once deadlocked litebox get Linux's EINVAL
// and ELOOP, the depth and wakeup-path limits match Linux's, items live as
// long as their open file, and nested readiness works; compared with the
// native run, which is held to the expected text.

import "testing"

var epollNestCases = []modeCase{
	{name: "loops", prog: "epoll_nest", args: []string{"loops"}, want: `add a to itself: EINVAL
add a to itself through a dup: EINVAL
add b to a: ok
add a to b (cycle of two): ELOOP
add a's dup to b (cycle of two): ELOOP
add c to b: ok
add a to c (cycle of three): ELOOP
add a pipe to c: ok
ready before a write: a 0 b 0 c 0
ready after a write: a 1 b 1 c 1
poll(a): 1 revents POLLIN yes
remove b from a: ok; add a to c now: ok
add b to a again (cycle of three): ELOOP
`},
	{name: "depth", prog: "epoll_nest", args: []string{"depth"}, want: `chain bottom-up, links 1..6: ok ok ok ok ELOOP ok
chain top-down, links 1..6: ok ok ok ok ELOOP ok
join two 3-chains: ELOOP
join a 3-chain under a 2-chain: ok
and then the other 3-chain below it: ELOOP
a fresh instance below the 5-chain: ELOOP, above it: ELOOP
ELOOP without a cycle, through a dup: ELOOP
`},
	{name: "ready", prog: "epoll_nest", args: []string{"ready"}, want: `nothing written: a 0
blocking epoll_wait(a) woke: 1 event(s), data 22, EPOLLIN yes
epoll_wait(b): 1, data 11
poll(a): 1, POLLIN yes POLLRDNORM yes
after draining the pipe: a 0 b 0
edge-triggered q in one-shot c: 1, data 44
one-shot c again: 0
c itself (its edge not seen through c yet): 1, then 0
rearm c in a: ok, a 0 (c has nothing new)
`},
	{name: "errors", prog: "epoll_nest", args: []string{"errors"}, want: `bad epfd: EBADF
bad fd: EBADF
bad epfd and bad fd: EBADF
epfd is a pipe: EINVAL
epfd is a pipe, fd a regular file: EPERM
regular file: EPERM
add: ok, again: EEXIST
bad op: EINVAL
bad op, missing fd: EINVAL
mod missing: ENOENT
del missing: ENOENT
del with a NULL event: ok
add with a NULL event: EFAULT
mod with EPOLLEXCLUSIVE: EINVAL
EPOLLEXCLUSIVE|EPOLLONESHOT: EINVAL
EPOLLEXCLUSIVE on an instance: EINVAL
EPOLLEXCLUSIVE|EPOLLET: ok
mod of an exclusive item: EINVAL
del of an exclusive item: ok
epoll_wait on a pipe: EINVAL
epoll_wait maxevents 0: EINVAL
epoll_create(0): EINVAL
epoll_create1(bad flags): EINVAL
`},
	{name: "lifetime", prog: "epoll_nest", args: []string{"lifetime"}, want: `fd closed, dup open: a 1
re-add through the dup: ok
now two items: a 2
del through the dup: ok, a 1
del the closed fd's item through its number: EBADF
last fd closed, a child still has it: a 1
child gone too: a 0
instance closed while watched: b 0, add b to a: ok
`},
	{name: "paths", prog: "epoll_nest", args: []string{"paths"}, want: `instances watching the pipe from inside top: 500, then EINVAL
and adding the pipe to another instance inside top: EINVAL
or to a fresh, unwatched one: ok
`},
}

func TestEpollNest(t *testing.T) { runModeCases(t, epollNestCases) }

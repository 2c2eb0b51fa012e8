package kernel_test

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func mustEpoll(t *testing.T, p *kernel.Process) int {
	t.Helper()
	fd, err := p.EpollCreate(0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func epAdd(p *kernel.Process, ep, fd int) error {
	return p.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN, uint64(fd))
}

// readyNow returns EpollWait's events with a zero timeout.
func readyNow(t *testing.T, p *kernel.Process, ep int) []kernel.EpollEvent {
	t.Helper()
	evs, err := p.Leader().EpollWait(ep, 16, dur(0))
	if err != nil {
		t.Fatalf("EpollWait(%d): %v", ep, err)
	}
	return evs
}

// TestEpollCtlTopology builds graphs of instances and checks the error of
// one last EPOLL_CTL_ADD: Linux's rules (fs/eventpoll.c) are no instance in
// itself (EINVAL, also through a dup), no cycle and no chain of more than
// four links (ELOOP).
func TestEpollCtlTopology(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int      // instances e[0..n)
		link [][2]int // e[a] watches e[b], each must succeed
		last [2]int   // then e[a] watches e[b]...
		dup  bool     // ...through a dup of e[b]
		want error
	}{
		{name: "self", n: 1, last: [2]int{0, 0}, want: unix.EINVAL},
		{name: "self through a dup", n: 1, last: [2]int{0, 0}, dup: true, want: unix.EINVAL},
		{name: "nested", n: 2, last: [2]int{0, 1}, want: nil},
		{name: "cycle of two", n: 2, link: [][2]int{{0, 1}}, last: [2]int{1, 0}, want: unix.ELOOP},
		{name: "cycle of two through a dup", n: 2, link: [][2]int{{0, 1}}, last: [2]int{1, 0}, dup: true, want: unix.ELOOP},
		{name: "cycle of three", n: 3, link: [][2]int{{0, 1}, {1, 2}}, last: [2]int{2, 0}, want: unix.ELOOP},
		{name: "diamond is no cycle", n: 4, link: [][2]int{{0, 1}, {0, 2}, {1, 3}}, last: [2]int{2, 3}, want: nil},
		{name: "four links below", n: 5, link: [][2]int{{1, 2}, {2, 3}, {3, 4}}, last: [2]int{0, 1}, want: nil},
		{name: "five links, added on top", n: 6, link: [][2]int{{1, 2}, {2, 3}, {3, 4}, {4, 5}}, last: [2]int{0, 1}, want: unix.ELOOP},
		{name: "five links, added at the bottom", n: 6, link: [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}}, last: [2]int{4, 5}, want: unix.ELOOP},
		{name: "five links, joined in the middle", n: 6, link: [][2]int{{0, 1}, {1, 2}, {3, 4}, {4, 5}}, last: [2]int{2, 3}, want: unix.ELOOP},
		{name: "four links, joined in the middle", n: 5, link: [][2]int{{0, 1}, {1, 2}, {3, 4}}, last: [2]int{2, 3}, want: nil},
		{name: "five links through a side branch", n: 7, link: [][2]int{{0, 1}, {1, 2}, {0, 6}, {3, 4}, {4, 5}}, last: [2]int{2, 3}, want: unix.ELOOP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			e := make([]int, tc.n)
			for i := range e {
				e[i] = mustEpoll(t, p)
			}
			for _, l := range tc.link {
				if err := epAdd(p, e[l[0]], e[l[1]]); err != nil {
					t.Fatalf("link %d -> %d: %v", l[0], l[1], err)
				}
			}
			target := e[tc.last[1]]
			if tc.dup {
				var err error
				if target, err = p.Dup(target, 0, false); err != nil {
					t.Fatal(err)
				}
			}
			if err := epAdd(p, e[tc.last[0]], target); err != tc.want {
				t.Fatalf("add %d -> %d = %v, want %v", tc.last[0], tc.last[1], err, tc.want)
			}
			// Whatever happened, every instance still answers.
			for _, fd := range e {
				readyNow(t, p, fd)
			}
		})
	}
}

func TestEpollCtlErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		op     int
		events uint32
		setup  func(t *testing.T, p *kernel.Process, ep, r, w int) // before the call
		epfd   func(ep, r int) int
		fd     func(r, w int) int
		want   error
	}{
		{name: "bad epfd", op: unix.EPOLL_CTL_ADD, events: unix.EPOLLIN, epfd: func(int, int) int { return 99 }, want: unix.EBADF},
		{name: "bad fd", op: unix.EPOLL_CTL_ADD, events: unix.EPOLLIN, fd: func(int, int) int { return 99 }, want: unix.EBADF},
		{name: "epfd not an instance", op: unix.EPOLL_CTL_ADD, events: unix.EPOLLIN, epfd: func(_, r int) int { return r }, want: unix.EINVAL},
		{name: "bad op", op: 42, events: unix.EPOLLIN, want: unix.EINVAL},
		{name: "add twice", op: unix.EPOLL_CTL_ADD, events: unix.EPOLLIN, setup: func(t *testing.T, p *kernel.Process, ep, r, _ int) {
			if err := epAdd(p, ep, r); err != nil {
				t.Fatal(err)
			}
		}, want: unix.EEXIST},
		{name: "mod missing", op: unix.EPOLL_CTL_MOD, events: unix.EPOLLIN, want: unix.ENOENT},
		{name: "del missing", op: unix.EPOLL_CTL_DEL, want: unix.ENOENT},
		{name: "mod with EPOLLEXCLUSIVE", op: unix.EPOLL_CTL_MOD, events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, want: unix.EINVAL},
		{name: "EPOLLEXCLUSIVE with EPOLLONESHOT", op: unix.EPOLL_CTL_ADD, events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE | unix.EPOLLONESHOT, want: unix.EINVAL},
		{name: "EPOLLEXCLUSIVE with EPOLLET", op: unix.EPOLL_CTL_ADD, events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE | unix.EPOLLET, want: nil},
		{name: "EPOLLWAKEUP is dropped", op: unix.EPOLL_CTL_ADD, events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE | unix.EPOLLWAKEUP, want: nil},
		{name: "mod of an exclusive item", op: unix.EPOLL_CTL_MOD, events: unix.EPOLLIN, setup: func(t *testing.T, p *kernel.Process, ep, r, _ int) {
			if err := p.EpollCtl(ep, unix.EPOLL_CTL_ADD, r, unix.EPOLLIN|unix.EPOLLEXCLUSIVE, 0); err != nil {
				t.Fatal(err)
			}
		}, want: unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r, w := newPipe(t)
			ep := mustEpoll(t, p)
			if tc.setup != nil {
				tc.setup(t, p, ep, r, w)
			}
			epfd, fd := ep, r
			if tc.epfd != nil {
				epfd = tc.epfd(ep, r)
			}
			if tc.fd != nil {
				fd = tc.fd(r, w)
			}
			if err := p.EpollCtl(epfd, tc.op, fd, tc.events, 0); err != tc.want {
				t.Fatalf("EpollCtl = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestEpollExclusiveOnInstance: EPOLLEXCLUSIVE may not watch an instance.
func TestEpollExclusiveOnInstance(t *testing.T) {
	p := newProc(t)
	a, b := mustEpoll(t, p), mustEpoll(t, p)
	if err := p.EpollCtl(a, unix.EPOLL_CTL_ADD, b, unix.EPOLLIN|unix.EPOLLEXCLUSIVE, 0); err != unix.EINVAL {
		t.Fatalf("EpollCtl = %v, want EINVAL", err)
	}
}

// TestEpollNestedReadiness: a pipe in b in a makes a ready, for EpollWait
// (blocking and not) and for poll, and stops once drained.
func TestEpollNestedReadiness(t *testing.T) {
	p, r, w := newPipe(t)
	a, b := mustEpoll(t, p), mustEpoll(t, p)
	if err := epAdd(p, b, r); err != nil {
		t.Fatal(err)
	}
	if err := epAdd(p, a, b); err != nil {
		t.Fatal(err)
	}
	if evs := readyNow(t, p, a); len(evs) != 0 {
		t.Fatalf("a ready before any write: %+v", evs)
	}
	done := make(chan []kernel.EpollEvent, 1)
	go func() {
		evs, _ := p.Leader().EpollWait(a, 4, nil)
		done <- evs
	}()
	time.Sleep(10 * time.Millisecond)
	writeFD(t, p, w, "x")
	select {
	case evs := <-done:
		if len(evs) != 1 || evs[0].Data != uint64(b) || evs[0].Events&unix.EPOLLIN == 0 {
			t.Fatalf("EpollWait(a) = %+v, want b readable", evs)
		}
	case <-time.After(waitTimeout):
		t.Fatal("EpollWait(a) not woken by a write two levels down")
	}
	fds := []kernel.PollFd{{Fd: a, Events: unix.POLLIN}}
	if n, err := p.Leader().Poll(fds, dur(0)); n != 1 || err != nil || fds[0].Revents != unix.POLLIN {
		t.Fatalf("Poll(a) = %d, %v, revents %#x", n, err, fds[0].Revents)
	}
	f, _ := p.FDs.Get(r)
	if _, err := f.Read(make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if evs := readyNow(t, p, a); len(evs) != 0 {
		t.Fatalf("a ready after draining: %+v", evs)
	}
}

// TestEpollDiamond: an instance reachable along several paths counts once,
// and its readiness reaches the top along each.
func TestEpollDiamond(t *testing.T) {
	p, r, w := newPipe(t)
	top := mustEpoll(t, p)
	bottom := mustEpoll(t, p)
	if err := epAdd(p, bottom, r); err != nil {
		t.Fatal(err)
	}
	var mids []int
	for range 12 {
		m := mustEpoll(t, p)
		if err := epAdd(p, m, bottom); err != nil {
			t.Fatal(err)
		}
		if err := epAdd(p, top, m); err != nil {
			t.Fatal(err)
		}
		mids = append(mids, m)
	}
	writeFD(t, p, w, "x")
	if evs := readyNow(t, p, top); len(evs) != len(mids) {
		t.Fatalf("top reports %d ready instances, want %d", len(evs), len(mids))
	}
}

// TestEpollItemLifetime: an item goes with the open file's last reference,
// not with the descriptor it was added through (as on Linux).
func TestEpollItemLifetime(t *testing.T) {
	p, r, w := newPipe(t)
	ep := mustEpoll(t, p)
	writeFD(t, p, w, "x")
	d, err := p.Dup(r, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := epAdd(p, ep, r); err != nil {
		t.Fatal(err)
	}
	mustClose(t, p, r)
	if evs := readyNow(t, p, ep); len(evs) != 1 || evs[0].Data != uint64(r) {
		t.Fatalf("after closing the fd, a dup open: %+v, want the item", evs)
	}
	if err := p.EpollCtl(ep, unix.EPOLL_CTL_DEL, r, 0, 0); err != unix.EBADF {
		t.Fatalf("DEL through the closed fd = %v, want EBADF", err)
	}
	mustClose(t, p, d)
	if evs := readyNow(t, p, ep); len(evs) != 0 {
		t.Fatalf("after the last close: %+v, want nothing", evs)
	}
	// A closed instance leaves the instances watching it.
	a, b := mustEpoll(t, p), mustEpoll(t, p)
	if err := epAdd(p, a, b); err != nil {
		t.Fatal(err)
	}
	mustClose(t, p, b)
	c := mustEpoll(t, p) // may reuse b's number
	if err := epAdd(p, c, a); err != nil {
		t.Fatalf("adding a to c after b closed: %v", err)
	}
}

// TestEpollFairness: with maxevents 1 and two ready items, epoll_wait
// alternates between them.
func TestEpollFairness(t *testing.T) {
	p, ra, wa := newPipe(t)
	rb, wb, err := p.Pipe2(unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	ep := mustEpoll(t, p)
	for _, fd := range []int{ra, rb} {
		if err := epAdd(p, ep, fd); err != nil {
			t.Fatal(err)
		}
	}
	writeFD(t, p, wa, "x")
	writeFD(t, p, wb, "x")
	var seen []uint64
	for range 4 {
		evs, err := p.Leader().EpollWait(ep, 1, dur(0))
		if err != nil || len(evs) != 1 {
			t.Fatalf("EpollWait = %+v, %v", evs, err)
		}
		seen = append(seen, evs[0].Data)
	}
	if seen[0] == seen[1] || seen[1] == seen[2] || seen[2] == seen[3] {
		t.Fatalf("maxevents 1 reported %v: one item starves the other", seen)
	}
}

// TestEpollWaitInterrupted: a blocked EpollWait gives way to a signal and
// to the process's death.
func TestEpollWaitInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(p *kernel.Process)
	}{
		{"signal", func(p *kernel.Process) { _ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1}) }},
		{"killed", func(p *kernel.Process) { p.Kill(kernel.WaitStatusSignaled(unix.SIGKILL, false)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r, _ := newPipe(t)
			_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler})
			a, b := mustEpoll(t, p), mustEpoll(t, p)
			_ = epAdd(p, b, r)
			_ = epAdd(p, a, b)
			done := make(chan error, 1)
			go func() {
				_, err := p.Leader().EpollWait(a, 4, nil)
				done <- err
			}()
			time.Sleep(10 * time.Millisecond)
			tc.act(p)
			select {
			case err := <-done:
				if err != kernel.ERESTARTNOHAND {
					t.Fatalf("EpollWait = %v, want ERESTARTNOHAND", err)
				}
			case <-time.After(waitTimeout):
				t.Fatal("EpollWait not interrupted")
			}
		})
	}
}

// TestEpollRacingAdds: two threads adding a to b and b to a at once never
// both succeed (that would be a cycle), and nothing deadlocks.
func TestEpollRacingAdds(t *testing.T) {
	p := newProc(t)
	for range 200 {
		a, b := mustEpoll(t, p), mustEpoll(t, p)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() { defer wg.Done(); errs[0] = epAdd(p, a, b) }()
		go func() { defer wg.Done(); errs[1] = epAdd(p, b, a) }()
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("racing adds: %v, %v; want exactly one ELOOP", errs[0], errs[1])
		}
		// Polling either must terminate.
		readyNow(t, p, a)
		readyNow(t, p, b)
		mustClose(t, p, a)
		mustClose(t, p, b)
	}
}

package kernel_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func dur(d time.Duration) *time.Duration { return &d }

// newPipe returns a process with a non-blocking pipe.
func newPipe(t *testing.T) (*kernel.Process, int, int) {
	t.Helper()
	p := newProc(t)
	r, w, err := p.Pipe2(unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	return p, r, w
}

func writeFD(t *testing.T, p *kernel.Process, fd int, s string) {
	t.Helper()
	f, err := p.FDs.Get(fd)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write([]byte(s)); n != len(s) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
}

func TestPipe2Flags(t *testing.T) {
	p := newProc(t)
	if r, w, err := p.Pipe2(unix.O_APPEND); err != unix.EINVAL || r != -1 || w != -1 {
		t.Fatalf("Pipe2(O_APPEND) = %d, %d, %v; want EINVAL", r, w, err)
	}
	r, w, err := p.Pipe2(unix.O_CLOEXEC)
	if err != nil || r == w {
		t.Fatalf("Pipe2 = %d, %d, %v", r, w, err)
	}
}

func TestPollPipe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, p *kernel.Process, r, w int)
		fds     func(r, w int) []kernel.PollFd
		wantN   int
		wantRev []int16
	}{
		{"empty read end", func(*testing.T, *kernel.Process, int, int) {},
			func(r, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: r, Events: unix.POLLIN}} }, 0, []int16{0}},
		{"write end writable", func(*testing.T, *kernel.Process, int, int) {},
			func(_, w int) []kernel.PollFd { return []kernel.PollFd{{Fd: w, Events: unix.POLLOUT}} }, 1, []int16{unix.POLLOUT}},
		{"after write", func(t *testing.T, p *kernel.Process, _, w int) { writeFD(t, p, w, "x") },
			func(r, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: r, Events: unix.POLLIN}} }, 1, []int16{unix.POLLIN}},
		{"unrequested events hidden", func(t *testing.T, p *kernel.Process, _, w int) { writeFD(t, p, w, "x") },
			func(r, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: r, Events: unix.POLLOUT}} }, 0, []int16{0}},
		{"writer closed", func(t *testing.T, p *kernel.Process, _, w int) { mustClose(t, p, w) },
			func(r, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: r, Events: unix.POLLIN}} }, 1, []int16{unix.POLLHUP}},
		{"writer closed, no events asked", func(t *testing.T, p *kernel.Process, _, w int) { mustClose(t, p, w) },
			func(r, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: r}} }, 1, []int16{unix.POLLHUP}},
		{"data and writer closed", func(t *testing.T, p *kernel.Process, _, w int) { writeFD(t, p, w, "x"); mustClose(t, p, w) },
			func(r, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: r, Events: unix.POLLIN}} }, 1, []int16{unix.POLLIN | unix.POLLHUP}},
		{"reader closed", func(t *testing.T, p *kernel.Process, r, _ int) { mustClose(t, p, r) },
			func(_, w int) []kernel.PollFd { return []kernel.PollFd{{Fd: w, Events: unix.POLLOUT}} }, 1, []int16{unix.POLLOUT | unix.POLLERR}},
		{"bad fd", func(*testing.T, *kernel.Process, int, int) {},
			func(_, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: 99, Events: unix.POLLIN}} }, 1, []int16{unix.POLLNVAL}},
		{"negative fd ignored", func(*testing.T, *kernel.Process, int, int) {},
			func(_, _ int) []kernel.PollFd { return []kernel.PollFd{{Fd: -1, Events: unix.POLLIN, Revents: 7}} }, 0, []int16{0}},
		{"two entries", func(t *testing.T, p *kernel.Process, _, w int) { writeFD(t, p, w, "x") },
			func(r, w int) []kernel.PollFd {
				return []kernel.PollFd{{Fd: r, Events: unix.POLLIN}, {Fd: w, Events: unix.POLLOUT}}
			}, 2, []int16{unix.POLLIN, unix.POLLOUT}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r, w := newPipe(t)
			tc.setup(t, p, r, w)
			fds := tc.fds(r, w)
			n, err := p.Leader().Poll(fds, dur(0))
			if err != nil || n != tc.wantN {
				t.Fatalf("Poll = %d, %v; want %d", n, err, tc.wantN)
			}
			for i, want := range tc.wantRev {
				if fds[i].Revents != want {
					t.Errorf("fds[%d].Revents = %#x, want %#x", i, fds[i].Revents, want)
				}
			}
		})
	}
}

func mustClose(t *testing.T, p *kernel.Process, fd int) {
	t.Helper()
	if err := p.FDs.Close(fd); err != nil {
		t.Fatalf("Close(%d): %v", fd, err)
	}
}

func TestPollTimeout(t *testing.T) {
	p, r, _ := newPipe(t)
	start := time.Now()
	n, err := p.Leader().Poll([]kernel.PollFd{{Fd: r, Events: unix.POLLIN}}, dur(30*time.Millisecond))
	if n != 0 || err != nil {
		t.Fatalf("Poll = %d, %v; want 0, nil", n, err)
	}
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Fatalf("Poll returned after %v", el)
	}
}

type pollOut struct {
	n   int
	err error
	fds []kernel.PollFd
}

func startPoll(p *kernel.Process, fds []kernel.PollFd) <-chan pollOut {
	ch := make(chan pollOut, 1)
	go func() {
		n, err := p.Leader().Poll(fds, nil)
		ch <- pollOut{n, err, fds}
	}()
	return ch
}

func TestPollWakes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		act     func(t *testing.T, p *kernel.Process, w int)
		wantN   int
		wantErr error
		wantRev int16
	}{
		{"write", func(t *testing.T, p *kernel.Process, w int) { writeFD(t, p, w, "x") }, 1, nil, unix.POLLIN},
		{"writer closes", func(t *testing.T, p *kernel.Process, w int) { mustClose(t, p, w) }, 1, nil, unix.POLLHUP},
		{"signal to process", func(t *testing.T, p *kernel.Process, _ int) {
			_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
		}, 0, kernel.ERESTARTNOHAND, 0},
		{"signal to task", func(t *testing.T, p *kernel.Process, _ int) {
			_ = p.Leader().SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
		}, 0, kernel.ERESTARTNOHAND, 0},
		{"process killed", func(t *testing.T, p *kernel.Process, _ int) {
			p.Kill(kernel.WaitStatusSignaled(unix.SIGKILL, false))
		}, 0, kernel.ERESTARTNOHAND, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r, w := newPipe(t)
			_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler})
			ch := startPoll(p, []kernel.PollFd{{Fd: r, Events: unix.POLLIN}})
			select {
			case o := <-ch:
				t.Fatalf("Poll returned early: %+v", o)
			case <-time.After(20 * time.Millisecond):
			}
			tc.act(t, p, w)
			select {
			case o := <-ch:
				if o.n != tc.wantN || o.err != tc.wantErr {
					t.Fatalf("Poll = %d, %v; want %d, %v", o.n, o.err, tc.wantN, tc.wantErr)
				}
				if tc.wantErr == nil && o.fds[0].Revents != tc.wantRev {
					t.Fatalf("Revents = %#x, want %#x", o.fds[0].Revents, tc.wantRev)
				}
			case <-time.After(waitTimeout):
				t.Fatal("Poll not woken")
			}
		})
	}
}

func TestPollBlockedSignalDoesNotInterrupt(t *testing.T) {
	p, r, w := newPipe(t)
	_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler})
	p.Leader().SetMask(bit(unix.SIGUSR1))
	ch := startPoll(p, []kernel.PollFd{{Fd: r, Events: unix.POLLIN}})
	time.Sleep(10 * time.Millisecond)
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	select {
	case o := <-ch:
		t.Fatalf("Poll interrupted by a blocked signal: %+v", o)
	case <-time.After(30 * time.Millisecond):
	}
	writeFD(t, p, w, "x")
	select {
	case o := <-ch:
		if o.n != 1 || o.err != nil {
			t.Fatalf("Poll = %d, %v", o.n, o.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Poll not woken by the write")
	}
}

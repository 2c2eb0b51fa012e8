package kernel_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/pipe"
	"github.com/litebox-go/litebox/kernel/socket/unixsock"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// budgetProc returns the first process of a kernel whose objects are
// charged to a budget of limit bytes.
func budgetProc(t *testing.T, limit uint64) (*kernel.Process, *mm.Budget) {
	t.Helper()
	b := mm.NewBudget(limit)
	k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), Memory: b})
	p, err := k.NewProcess(newMM(), [3]*vfs.File{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.FDs.CloseAll() })
	return p, b
}

// TestKernelObjectCharges: each kernel object a guest creates takes its
// documented cost from the memory budget while it exists and gives it back
// when its last descriptor is closed; without room the creation fails with
// the errno Linux gives (ENFILE for pipes and sockets, ENOMEM for eventfd
// and epoll).
func TestKernelObjectCharges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cost    uint64
		make    func(p *kernel.Process) ([]int, error)
		wantErr unix.Errno
	}{
		{"pipe", kernel.PipeCost, func(p *kernel.Process) ([]int, error) {
			r, w, err := p.Pipe2(0)
			return []int{r, w}, err
		}, unix.ENFILE},
		{"socketpair", 2 * unixsock.SocketCost, func(p *kernel.Process) ([]int, error) {
			a, b, err := p.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			return []int{a, b}, err
		}, unix.ENFILE},
		{"eventfd", kernel.EventfdCost, func(p *kernel.Process) ([]int, error) {
			fd, err := p.Eventfd(0, 0)
			return []int{fd}, err
		}, unix.ENOMEM},
		{"epoll", kernel.EpollCost, func(p *kernel.Process) ([]int, error) {
			fd, err := p.EpollCreate(0)
			return []int{fd}, err
		}, unix.ENOMEM},
		{"timerfd", kernel.TimerCost, func(p *kernel.Process) ([]int, error) {
			fd, err := p.TimerfdCreate(unix.CLOCK_MONOTONIC, 0)
			return []int{fd}, err
		}, unix.ENOMEM},
		{"signalfd", kernel.SignalfdCost, func(p *kernel.Process) ([]int, error) {
			fd, err := p.Signalfd(-1, 1, 0)
			return []int{fd}, err
		}, unix.ENOMEM},
		{"pidfd", kernel.PidfdCost, func(p *kernel.Process) ([]int, error) {
			fd, err := p.Leader().PidfdOpen(p.PID, 0)
			return []int{fd}, err
		}, unix.ENOMEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, b := budgetProc(t, 1<<30)
			base := b.Kernel()
			fds, err := tc.make(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Kernel() - base; got != tc.cost {
				t.Errorf("charged %d, want %d", got, tc.cost)
			}
			for _, fd := range fds {
				if err := p.Close(fd); err != nil {
					t.Fatal(err)
				}
			}
			if b.Kernel() != base {
				t.Errorf("after close: %d still charged", b.Kernel()-base)
			}

			// A budget with room for nothing more than the first thread.
			p, b = budgetProc(t, kernel.TaskCost+tc.cost-1)
			if _, err := tc.make(p); err != tc.wantErr {
				t.Errorf("without room: %v, want %v", err, tc.wantErr)
			}
			if b.Kernel() != kernel.TaskCost {
				t.Errorf("a failed creation left %d charged", b.Kernel()-kernel.TaskCost)
			}
		})
	}
}

// TestPipeDataCharge: data buffered in a pipe is charged by the page while
// it waits to be read; a write that finds no room fails with ENOMEM.
func TestPipeDataCharge(t *testing.T) {
	p, b := budgetProc(t, kernel.TaskCost+kernel.PipeCost+2*pipe.PageCost)
	r, w, err := p.Pipe2(unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	task := p.Leader()
	if n, err := task.Write(w, make([]byte, 3*4096)); n != 2*4096 || err != nil {
		t.Fatalf("write of 3 pages with room for 2 = %d, %v; want a short write", n, err)
	}
	if _, err := task.Write(w, []byte("x")); err != unix.ENOMEM {
		t.Fatalf("write with no room = %v, want ENOMEM", err)
	}
	if n, err := task.Read(r, make([]byte, 4096)); n != 4096 || err != nil {
		t.Fatal(n, err)
	}
	if want := uint64(kernel.TaskCost + kernel.PipeCost + pipe.PageCost); b.Kernel() != want {
		t.Fatalf("after reading a page: %d charged, want %d", b.Kernel(), want)
	}
	// The freed page makes room for new data again.
	if n, err := task.Write(w, make([]byte, 4096)); n != 4096 || err != nil {
		t.Fatalf("write after a read freed a page = %d, %v", n, err)
	}
}

// TestEpollWatchLimit: epoll watches are capped sandbox-wide at 4% of the
// memory budget divided by their cost (ENOSPC beyond, as Linux past
// max_user_watches), and deleting one makes room.
func TestEpollWatchLimit(t *testing.T) {
	const watches = 12
	p, _ := budgetProc(t, 25*kernel.EpollItemCost*watches)
	ep, err := p.EpollCreate(0)
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for range watches + 1 {
		fd, err := p.Eventfd(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	for i, fd := range fds {
		err := p.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN, 0)
		if want := error(nil); i == watches {
			want = unix.ENOSPC
			if err != want {
				t.Fatalf("watch %d = %v, want %v", i, err, want)
			}
		} else if err != nil {
			t.Fatalf("watch %d = %v", i, err)
		}
	}
	if err := p.EpollCtl(ep, unix.EPOLL_CTL_DEL, fds[0], 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.EpollCtl(ep, unix.EPOLL_CTL_ADD, fds[watches], unix.EPOLLIN, 0); err != nil {
		t.Fatalf("watch after a delete: %v", err)
	}
}

// TestTaskCharge: every thread and process takes TaskCost while it lives;
// without room, fork and thread creation fail with ENOMEM.
func TestTaskCharge(t *testing.T) {
	p, b := budgetProc(t, 2*kernel.TaskCost)
	leader := p.Leader()
	th, err := leader.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	if b.Kernel() != 2*kernel.TaskCost {
		t.Fatalf("two threads: %d charged", b.Kernel())
	}
	if _, err := leader.NewThread(); err != unix.ENOMEM {
		t.Fatalf("third thread = %v, want ENOMEM", err)
	}
	if _, err := leader.Fork(kernel.ForkOptions{MM: newMM(), ExitSignal: unix.SIGCHLD}); err != unix.ENOMEM {
		t.Fatalf("fork = %v, want ENOMEM", err)
	}
	th.ExitTask(0)
	if b.Kernel() != kernel.TaskCost {
		t.Fatalf("after a thread exited: %d charged", b.Kernel())
	}
}

// TestSigPending: signals queued anywhere in the sandbox count against the
// target's RLIMIT_SIGPENDING; past it a real-time tgkill fails with EAGAIN,
// kill() marks the signal pending without its information, and standard
// signals are always delivered. Dequeued or discarded signals give their
// place back, also when the process exits.
func TestSigPending(t *testing.T) {
	p := newProc(t)
	if err := p.Setrlimit(unix.RLIMIT_SIGPENDING, unix.Rlimit{Cur: 3, Max: 3}); err != nil {
		t.Fatal(err)
	}
	task := p.Leader()
	task.Sigprocmask(unix.SIG_BLOCK, ptr(^uint64(0)))
	rt := unix.Signal(34)
	tkill := kernel.SigInfo{Signo: rt, Code: kernel.SITkill, Pid: 1}
	for i := range 3 {
		if err := task.SendSignal(tkill); err != nil {
			t.Fatalf("signal %d: %v", i, err)
		}
	}
	if err := task.SendSignal(tkill); err != unix.EAGAIN {
		t.Fatalf("tgkill past the limit = %v, want EAGAIN", err)
	}
	if err := p.SendSignal(kernel.SigInfo{Signo: rt, Code: kernel.SIUser, Pid: 1}); err != nil {
		t.Fatalf("kill past the limit = %v, want success", err)
	}
	if err := task.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1, Code: kernel.SITkill, Pid: 1}); err != nil {
		t.Fatalf("standard signal past the limit = %v", err)
	}
	var got []kernel.SigInfo
	for {
		info, ok := task.TakeSignal(^uint64(0))
		if !ok {
			break
		}
		got = append(got, info)
	}
	// SIGUSR1 (10) first: lower number. Its information and that of the
	// kill() are lost.
	want := []kernel.SigInfo{{Signo: unix.SIGUSR1, Code: kernel.SIUser},
		tkill, tkill, tkill, {Signo: rt, Code: kernel.SIUser}}
	if len(got) != len(want) {
		t.Fatalf("dequeued %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("signal %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if err := task.SendSignal(tkill); err != nil {
		t.Fatalf("after draining: %v", err)
	}
}

package kernel_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// fork makes a child of p's leader.
func fork(t *testing.T, p *kernel.Process) *kernel.Task {
	t.Helper()
	c, err := p.Leader().Fork(kernel.ForkOptions{MM: newMM(), ExitSignal: unix.SIGCHLD})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Proc.FDs.CloseAll() })
	return c
}

func TestWaitExited(t *testing.T) {
	for _, tc := range []struct {
		name string
		sel  func(child *kernel.Process) int
	}{
		{"any", func(*kernel.Process) int { return -1 }},
		{"pid", func(c *kernel.Process) int { return c.PID }},
		{"own group", func(*kernel.Process) int { return 0 }},
		{"group", func(c *kernel.Process) int { return -c.Pgid() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			ct := fork(t, p)
			c := ct.Proc
			if c.Parent() != p || c.Getppid() != p.PID || c.PID == p.PID {
				t.Fatalf("child %d of %v", c.PID, c.Parent())
			}
			sel := tc.sel(c)
			if !ct.ExitTask(7) {
				t.Fatal("ExitTask of the only thread not last")
			}
			if !c.Exiting() || c.Status() != kernel.WaitStatusExited(7) {
				t.Fatalf("child exiting %v status %#x", c.Exiting(), c.Status())
			}
			// Still in the table as a zombie until reaped.
			if _, ok := p.Kernel().Process(c.PID); !ok {
				t.Fatal("zombie not in the process table")
			}
			res, err := p.Leader().Wait(sel, kernel.WaitOptions{Exited: true})
			want := kernel.WaitResult{PID: c.PID, UID: kernel.GuestUID, Status: kernel.WaitStatusExited(7), Code: kernel.CLDExited, SigStatus: 7}
			if err != nil || res != want {
				t.Fatalf("Wait = %+v, %v; want %+v", res, err, want)
			}
			if _, ok := p.Kernel().Process(c.PID); ok {
				t.Fatal("reaped child still in the process table")
			}
			if _, err := p.Leader().Wait(-1, kernel.WaitOptions{Exited: true, NoHang: true}); err != unix.ECHILD {
				t.Fatalf("second Wait = %v, want ECHILD", err)
			}
		})
	}
}

func TestWaitNoWait(t *testing.T) {
	p := newProc(t)
	ct := fork(t, p)
	ct.ExitTask(3)
	o := kernel.WaitOptions{Exited: true, NoWait: true}
	for i := range 2 {
		res, err := p.Leader().Wait(-1, o)
		if err != nil || res.PID != ct.Proc.PID || res.Status != kernel.WaitStatusExited(3) {
			t.Fatalf("Wait(WNOWAIT) #%d = %+v, %v", i, res, err)
		}
	}
	if res, err := p.Leader().Wait(-1, kernel.WaitOptions{Exited: true}); err != nil || res.PID != ct.Proc.PID {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
}

func TestWaitKilledStatus(t *testing.T) {
	p := newProc(t)
	ct := fork(t, p)
	ct.Proc.Kill(kernel.WaitStatusSignaled(unix.SIGSEGV, true))
	ct.ExitTask(0)
	res, err := p.Leader().Wait(-1, kernel.WaitOptions{Exited: true})
	want := kernel.WaitResult{PID: ct.Proc.PID, UID: kernel.GuestUID, Status: int(unix.SIGSEGV) | 0x80, Code: kernel.CLDDumped, SigStatus: int32(unix.SIGSEGV)}
	if err != nil || res != want {
		t.Fatalf("Wait = %+v, %v; want %+v", res, err, want)
	}
}

func TestWaitErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		children int
		sel      func(p *kernel.Process, kids []*kernel.Task) int
		o        kernel.WaitOptions
		want     error
	}{
		{"no children", 0, func(*kernel.Process, []*kernel.Task) int { return -1 }, kernel.WaitOptions{Exited: true}, unix.ECHILD},
		{"no children nohang", 0, func(*kernel.Process, []*kernel.Task) int { return -1 }, kernel.WaitOptions{Exited: true, NoHang: true}, unix.ECHILD},
		{"not my child", 1, func(p *kernel.Process, _ []*kernel.Task) int { return p.PID + 100 }, kernel.WaitOptions{Exited: true}, unix.ECHILD},
		{"other group", 1, func(*kernel.Process, []*kernel.Task) int { return -999 }, kernel.WaitOptions{Exited: true}, unix.ECHILD},
		{"live child nohang", 1, func(*kernel.Process, []*kernel.Task) int { return -1 }, kernel.WaitOptions{Exited: true, NoHang: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			var kids []*kernel.Task
			for range tc.children {
				kids = append(kids, fork(t, p))
			}
			res, err := p.Leader().Wait(tc.sel(p, kids), tc.o)
			if err != tc.want || res != (kernel.WaitResult{}) {
				t.Fatalf("Wait = %+v, %v; want zero, %v", res, err, tc.want)
			}
		})
	}
}

func TestWaitBlocksUntilExit(t *testing.T) {
	p := newProc(t)
	ct := fork(t, p)
	type out struct {
		res kernel.WaitResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := p.Leader().Wait(-1, kernel.WaitOptions{Exited: true})
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		t.Fatalf("Wait returned with a live child: %+v", o)
	case <-time.After(20 * time.Millisecond):
	}
	ct.ExitTask(9)
	select {
	case o := <-done:
		if o.err != nil || o.res.PID != ct.Proc.PID || o.res.Status != kernel.WaitStatusExited(9) {
			t.Fatalf("Wait = %+v", o)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Wait not woken by the child's exit")
	}
}

func TestWaitInterrupted(t *testing.T) {
	p := newProc(t)
	fork(t, p)
	_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler})
	done := make(chan error, 1)
	go func() {
		_, err := p.Leader().Wait(-1, kernel.WaitOptions{Exited: true})
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	select {
	case err := <-done:
		if err != kernel.ERESTARTSYS {
			t.Fatalf("Wait = %v, want ERESTARTSYS", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Wait not interrupted")
	}
}

func TestSIGCHLDOnExit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		act         *kernel.SigAction
		block       bool
		wantPending bool
		wantReaped  bool
	}{
		{"handled", &kernel.SigAction{Handler: handler}, false, true, false},
		{"blocked default", nil, true, true, false},
		// SIG_DFL for SIGCHLD is "ignore": it is dropped when sent, but
		// the child stays a zombie.
		{"default", nil, false, false, false},
		// SIG_IGN (or SA_NOCLDWAIT): children are reaped at once.
		{"ignored", &kernel.SigAction{Handler: kernel.SigIgn}, false, false, true},
		{"nocldwait", &kernel.SigAction{Handler: handler, Flags: kernel.SANoCldWait}, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			if tc.act != nil {
				_, _ = p.Sigaction(int(unix.SIGCHLD), tc.act)
			}
			if tc.block {
				p.Leader().SetMask(bit(unix.SIGCHLD))
			}
			ct := fork(t, p)
			ct.ExitTask(5)
			pending := p.Leader().Pending()&bit(unix.SIGCHLD) != 0
			if pending != tc.wantPending {
				t.Fatalf("SIGCHLD pending = %v, want %v", pending, tc.wantPending)
			}
			if pending {
				info, ok := p.Leader().TakeSignal(bit(unix.SIGCHLD))
				want := kernel.SigInfo{Signo: unix.SIGCHLD, Code: kernel.CLDExited, Pid: int32(ct.Proc.PID),
					Uid: kernel.GuestUID, Status: 5}
				if !ok || info != want {
					t.Fatalf("siginfo = %+v, %v; want %+v", info, ok, want)
				}
			}
			_, err := p.Leader().Wait(-1, kernel.WaitOptions{Exited: true, NoHang: true})
			if reaped := err == unix.ECHILD; reaped != tc.wantReaped {
				t.Fatalf("Wait after exit = %v; want reaped %v", err, tc.wantReaped)
			}
		})
	}
}

func TestSetpgid(t *testing.T) {
	t.Run("session leader cannot move", func(t *testing.T) {
		p := newProc(t)
		c := fork(t, p)
		if err := p.Leader().Setpgid(0, c.Proc.PID); err != unix.EPERM {
			t.Fatalf("Setpgid = %v, want EPERM", err)
		}
		if err := p.Leader().Setpgid(0, 0); err != unix.EPERM {
			t.Fatalf("Setpgid(0, 0) = %v, want EPERM", err)
		}
	})
	t.Run("child into own group and back", func(t *testing.T) {
		p := newProc(t)
		c := fork(t, p)
		if c.Proc.Pgid() != p.PID || c.Proc.Sid() != p.PID {
			t.Fatalf("child pgid %d sid %d", c.Proc.Pgid(), c.Proc.Sid())
		}
		if err := p.Leader().Setpgid(c.Proc.PID, 0); err != nil || c.Proc.Pgid() != c.Proc.PID {
			t.Fatalf("Setpgid(child, 0) = %v, pgid %d", err, c.Proc.Pgid())
		}
		if err := c.Setpgid(0, p.PID); err != nil || c.Proc.Pgid() != p.PID {
			t.Fatalf("Setpgid(0, parent) = %v, pgid %d", err, c.Proc.Pgid())
		}
	})
	for _, tc := range []struct {
		name string
		pid  func(p, c *kernel.Process) int
		pgid func(p, c *kernel.Process) int
		want error
	}{
		{"negative pgid", func(_, c *kernel.Process) int { return c.PID }, func(*kernel.Process, *kernel.Process) int { return -1 }, unix.EINVAL},
		{"no such process", func(*kernel.Process, *kernel.Process) int { return 9999 }, func(*kernel.Process, *kernel.Process) int { return 0 }, unix.ESRCH},
		{"nonexistent group", func(_, c *kernel.Process) int { return c.PID }, func(*kernel.Process, *kernel.Process) int { return 9999 }, unix.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			c := fork(t, p).Proc
			if err := p.Leader().Setpgid(tc.pid(p, c), tc.pgid(p, c)); err != tc.want {
				t.Fatalf("Setpgid = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("not a child", func(t *testing.T) {
		p := newProc(t)
		c := fork(t, p)
		g := fork(t, c.Proc)
		if err := p.Leader().Setpgid(g.Proc.PID, 0); err != unix.ESRCH {
			t.Fatalf("Setpgid(grandchild) = %v, want ESRCH", err)
		}
	})
	t.Run("other session", func(t *testing.T) {
		p := newProc(t)
		c := fork(t, p)
		if _, err := c.Setsid(); err != nil {
			t.Fatal(err)
		}
		// The child is now a session leader in another session.
		if err := p.Leader().Setpgid(c.Proc.PID, p.PID); err != unix.EPERM {
			t.Fatalf("Setpgid(session leader child) = %v, want EPERM", err)
		}
	})
}

func TestSetsid(t *testing.T) {
	t.Run("group leader", func(t *testing.T) {
		p := newProc(t)
		if sid, err := p.Leader().Setsid(); err != unix.EPERM || sid != -1 {
			t.Fatalf("Setsid of a group leader = %d, %v; want EPERM", sid, err)
		}
	})
	t.Run("child twice", func(t *testing.T) {
		p := newProc(t)
		c := fork(t, p)
		sid, err := c.Setsid()
		if err != nil || sid != c.Proc.PID || c.Proc.Sid() != c.Proc.PID || c.Proc.Pgid() != c.Proc.PID {
			t.Fatalf("Setsid = %d, %v; sid %d pgid %d", sid, err, c.Proc.Sid(), c.Proc.Pgid())
		}
		if sid, err := c.Setsid(); err != unix.EPERM || sid != -1 {
			t.Fatalf("second Setsid = %d, %v; want EPERM", sid, err)
		}
	})
	t.Run("pid is someone's group", func(t *testing.T) {
		// The child moves its own child into a group numbered by the
		// child's pid, then leaves that group: setsid must fail, since the
		// new session's pgid would be taken.
		p := newProc(t)
		c := fork(t, p)
		g := fork(t, c.Proc)
		if err := c.Setpgid(0, 0); err != nil { // c leads group c.PID
			t.Fatal(err)
		}
		if err := c.Setpgid(g.Proc.PID, c.Proc.PID); err != nil {
			t.Fatal(err)
		}
		if err := c.Setpgid(0, p.PID); err != nil { // c back to p's group
			t.Fatal(err)
		}
		if sid, err := c.Setsid(); err != unix.EPERM || sid != -1 {
			t.Fatalf("Setsid = %d, %v; want EPERM", sid, err)
		}
	})
}

// TestWaitReapsOnce: two threads of the parent waiting for the same zombie
// at once: exactly one gets it, the other sees no child (ECHILD), and the
// child's PID is freed once (a double free would give the next two
// processes the same PID).
func TestWaitReapsOnce(t *testing.T) {
	for round := 0; round < 200; round++ {
		p := newProc(t)
		other, err := p.Leader().NewThread()
		if err != nil {
			t.Fatal(err)
		}
		ct := fork(t, p)
		ct.ExitTask(3)
		results := make(chan error, 2)
		pids := make(chan int, 2)
		for _, w := range []*kernel.Task{p.Leader(), other} {
			go func() {
				res, err := w.Wait(-1, kernel.WaitOptions{Exited: true, NoHang: true})
				pids <- res.PID
				results <- err
			}()
		}
		got := 0
		for range 2 {
			if pid := <-pids; pid != 0 {
				got++
			}
			if err := <-results; err != nil && err != unix.ECHILD {
				t.Fatalf("Wait: %v", err)
			}
		}
		if got != 1 {
			t.Fatalf("round %d: the zombie was reaped by %d waits, want 1", round, got)
		}
		a, b := fork(t, p), fork(t, p)
		if a.Proc.PID == b.Proc.PID {
			t.Fatalf("round %d: two live children share PID %d", round, a.Proc.PID)
		}
		other.ExitTask(0)
	}
}

package kernel_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestDying: the channel of killable waits closes when the process is
// killed, not for an ordinary signal; the job's Ending closes with its
// leader's death only.
func TestDying(t *testing.T) {
	for _, tc := range []struct {
		name      string
		act       func(p, child *kernel.Process)
		wantDying bool // pid 1's leader
		wantChild bool // the child's leader
		wantEnd   bool
	}{
		{name: "nothing", act: func(_, _ *kernel.Process) {}},
		{name: "handled signal", act: func(p, _ *kernel.Process) {
			_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler})
			_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
		}},
		{name: "SIGKILL to pid 1", act: func(p, _ *kernel.Process) {
			_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGKILL})
		}, wantDying: true, wantEnd: true},
		{name: "child killed", act: func(_, c *kernel.Process) {
			c.Kill(kernel.WaitStatusSignaled(unix.SIGKILL, false))
		}, wantChild: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			ct, err := p.Leader().Fork(kernel.ForkOptions{MM: newMM(), ExitSignal: unix.SIGCHLD})
			if err != nil {
				t.Fatal(err)
			}
			dying, childDying := p.Leader().Killable().Done(), ct.Killable().Done()
			tc.act(p, ct.Proc)
			if got := isClosed(dying); got != tc.wantDying {
				t.Errorf("pid 1 dying = %v, want %v", got, tc.wantDying)
			}
			if got := isClosed(childDying); got != tc.wantChild {
				t.Errorf("child dying = %v, want %v", got, tc.wantChild)
			}
			if got := isClosed(p.Job().Ending()); got != tc.wantEnd {
				t.Errorf("job ending = %v, want %v", got, tc.wantEnd)
			}
			// Asked afterwards, Dying agrees.
			if got := isClosed(p.Leader().Killable().Done()); got != tc.wantDying {
				t.Errorf("pid 1 Dying() afterwards = %v, want %v", got, tc.wantDying)
			}
		})
	}
}

// TestKillOthersKillable: execve's wait for the other threads gives up when
// the exec'ing thread's process is killed, even if another thread never
// leaves.
func TestKillOthersKillable(t *testing.T) {
	p := newProc(t)
	other, err := p.Leader().NewThread()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- p.Leader().KillOthers() }()
	select {
	case ok := <-done:
		t.Fatalf("KillOthers returned %v with the other thread still there", ok)
	case <-time.After(30 * time.Millisecond):
	}
	if !isClosed(other.Killable().Done()) || !other.Killed() {
		t.Error("the other thread was not told to die")
	}
	p.Kill(kernel.WaitStatusSignaled(unix.SIGKILL, false))
	select {
	case ok := <-done:
		if ok {
			t.Fatal("KillOthers reported success with the other thread still there")
		}
	case <-time.After(waitTimeout):
		t.Fatal("KillOthers did not give up when its process was killed")
	}
	// With the other thread gone, it succeeds.
	q := newProc(t)
	o2, _ := q.Leader().NewThread()
	go func() { time.Sleep(10 * time.Millisecond); o2.ExitTask(0) }()
	if !q.Leader().KillOthers() {
		t.Fatal("KillOthers failed although the other thread left")
	}
}

package kernel_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// waitFired polls until ITIMER_REAL has fired and waits for its signal to
// be taken (0 left, the interval kept).
func waitFired(t *testing.T, p *kernel.Process, interval time.Duration) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		left, iv := p.Alarm()
		if left == 0 && iv == interval {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alarm() = %v, %v; never fired", left, iv)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAlarmRearmedWhenTaken: a periodic ITIMER_REAL fires once and waits
// until its SIGALRM is taken, however small its interval, and is re-armed
// then; with SIGALRM ignored it never comes back.
func TestAlarmRearmedWhenTaken(t *testing.T) {
	for _, tc := range []struct {
		name string
		take func(t *testing.T, tk *kernel.Task)
	}{
		{"sigtimedwait", func(t *testing.T, tk *kernel.Task) {
			if info, ok := tk.TakeSignal(bit(unix.SIGALRM)); !ok || info.Signo != unix.SIGALRM || info.Code != kernel.SIKernel {
				t.Fatalf("TakeSignal = %+v, %v", info, ok)
			}
		}},
		{"delivery", func(t *testing.T, tk *kernel.Task) {
			tk.SetMask(0)
			if d, ok := tk.NextSignal(); !ok || d.Info.Signo != unix.SIGALRM {
				t.Fatalf("NextSignal = %+v, %v", d, ok)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			tk := p.Leader()
			_, _ = p.Sigaction(int(unix.SIGALRM), &kernel.SigAction{Handler: handler})
			tk.SetMask(bit(unix.SIGALRM))
			p.SetAlarm(time.Microsecond, time.Microsecond)
			defer p.SetAlarm(0, 0)
			waitFired(t, p, time.Microsecond)
			time.Sleep(20 * time.Millisecond)
			if left, _ := p.Alarm(); left != 0 {
				t.Fatalf("a 1 us timer whose signal waits re-armed itself: %v left", left)
			}
			if tk.Pending()&bit(unix.SIGALRM) == 0 {
				t.Fatal("SIGALRM not pending")
			}
			tc.take(t, tk)
			waitFired(t, p, time.Microsecond) // re-armed, and fired again
		})
	}
	t.Run("ignored", func(t *testing.T) {
		p := newProc(t)
		_, _ = p.Sigaction(int(unix.SIGALRM), &kernel.SigAction{Handler: kernel.SigIgn})
		p.SetAlarm(time.Microsecond, time.Microsecond)
		defer p.SetAlarm(0, 0)
		waitFired(t, p, time.Microsecond)
		_, _ = p.Sigaction(int(unix.SIGALRM), &kernel.SigAction{Handler: handler})
		time.Sleep(20 * time.Millisecond)
		if p.Leader().Pending() != 0 {
			t.Fatal("an ignored timer signal was queued")
		}
		if left, iv := p.Alarm(); left != 0 || iv != time.Microsecond {
			t.Fatalf("Alarm() = %v, %v; want the timer still waiting (0, 1us)", left, iv)
		}
	})
}

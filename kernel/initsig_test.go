package kernel_test

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// What a signal did to its target.
const (
	dropped = "dropped"
	handled = "handled"
	killed  = "killed"
	stopped = "stopped"
)

// deliver sends sig from src to p's leader thread (or to the process)
// and runs what NextSignal does with it.
func deliver(t *testing.T, p *kernel.Process, sig unix.Signal, src kernel.SigSource, toTask bool) string {
	t.Helper()
	info := kernel.SigInfo{Signo: sig, Code: kernel.SIUser}
	var err error
	if toTask {
		err = p.Leader().SendSignalFrom(info, src)
	} else {
		err = p.SendSignalFrom(info, src)
	}
	if err != nil {
		t.Fatalf("SendSignalFrom: %v", err)
	}
	return outcome(t, p)
}

func outcome(t *testing.T, p *kernel.Process) string {
	t.Helper()
	d, ok := p.Leader().NextSignal()
	switch {
	case ok:
		if d.Info.Signo == 0 {
			t.Fatalf("delivery without a signal: %+v", d)
		}
		return handled
	case p.Exiting():
		return killed
	case strings.Contains(p.StatusText(), "T (stopped)"):
		return stopped
	}
	return dropped
}

// The guest's init, pid 1, gets only the signals it has a handler for
// from its own namespace (SigFromGuest); SIGKILL and SIGSTOP too from the
// kernel and from outside; everything when the outside treats it as any
// process. Any other process gets everything from everyone.
func TestInitSignalSources(t *testing.T) {
	withHandler := &kernel.SigAction{Handler: handler}
	for _, tc := range []struct {
		name     string
		sig      unix.Signal
		act      *kernel.SigAction
		src      kernel.SigSource
		toTask   bool
		init     string // on pid 1
		ordinary string // on pid 2
	}{
		{"guest SIGTERM", unix.SIGTERM, nil, kernel.SigFromGuest, false, dropped, killed},
		{"guest SIGTERM tgkill", unix.SIGTERM, nil, kernel.SigFromGuest, true, dropped, killed},
		{"guest SIGTERM handled", unix.SIGTERM, withHandler, kernel.SigFromGuest, false, handled, handled},
		{"guest SIGTERM ignored", unix.SIGTERM, &kernel.SigAction{Handler: kernel.SigIgn}, kernel.SigFromGuest, false, dropped, dropped},
		{"guest SIGKILL", unix.SIGKILL, nil, kernel.SigFromGuest, false, dropped, killed},
		{"guest SIGKILL tgkill", unix.SIGKILL, nil, kernel.SigFromGuest, true, dropped, killed},
		{"guest SIGSTOP", unix.SIGSTOP, nil, kernel.SigFromGuest, false, dropped, stopped},
		{"guest SIGTSTP", unix.SIGTSTP, nil, kernel.SigFromGuest, false, dropped, stopped},
		{"guest SIGRTMIN", 34, nil, kernel.SigFromGuest, false, dropped, killed},
		{"kernel SIGPIPE", unix.SIGPIPE, nil, kernel.SigFromKernel, true, dropped, killed},
		{"kernel SIGINT handled", unix.SIGINT, withHandler, kernel.SigFromKernel, false, handled, handled},
		{"kernel SIGKILL", unix.SIGKILL, nil, kernel.SigFromKernel, false, killed, killed},
		{"kernel SIGSTOP", unix.SIGSTOP, nil, kernel.SigFromKernel, false, stopped, stopped},
		{"outside SIGTERM", unix.SIGTERM, nil, kernel.SigFromOutside, false, dropped, killed},
		{"outside SIGTERM handled", unix.SIGTERM, withHandler, kernel.SigFromOutside, false, handled, handled},
		{"outside SIGKILL", unix.SIGKILL, nil, kernel.SigFromOutside, false, killed, killed},
		{"outside SIGSTOP", unix.SIGSTOP, nil, kernel.SigFromOutside, false, stopped, stopped},
		{"outside SIGTSTP", unix.SIGTSTP, nil, kernel.SigFromOutside, false, dropped, stopped},
		{"unprotected SIGTERM", unix.SIGTERM, nil, kernel.SigFromOutsideUnprotected, false, killed, killed},
		{"unprotected SIGINT", unix.SIGINT, nil, kernel.SigFromOutsideUnprotected, false, killed, killed},
		{"unprotected SIGTSTP", unix.SIGTSTP, nil, kernel.SigFromOutsideUnprotected, false, stopped, stopped},
		{"unprotected SIGTERM handled", unix.SIGTERM, withHandler, kernel.SigFromOutsideUnprotected, false, handled, handled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), ContainerInit: true})
			init := newInit(t, k)
			other, err := k.NewProcess(newMM(), [3]*vfs.File{}, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.FDs.CloseAll() })
			// Without ContainerInit (litebox run), pid 1 is a process
			// like any other.
			plain := newInit(t, kernel.New(kernel.Config{FS: vfs.New(memfs.New(0))}))
			for _, c := range []struct {
				p    *kernel.Process
				want string
			}{{init, tc.init}, {other, tc.ordinary}, {plain, tc.ordinary}} {
				if tc.act != nil {
					if _, err := c.p.Sigaction(int(tc.sig), tc.act); err != nil {
						t.Fatal(err)
					}
				}
				if got := deliver(t, c.p, tc.sig, tc.src, tc.toTask); got != c.want {
					t.Errorf("pid %d: %s, want %s", c.p.PID, got, c.want)
				}
			}
		})
	}
}

// A signal init blocks is queued whatever its source (its handler may
// change); unblocked, it is dropped if init still has no handler, unless
// it came unprotected.
func TestInitBlockedSignals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		src       kernel.SigSource
		handleNow bool // a handler installed before unblocking
		want      string
	}{
		{"guest, still no handler", kernel.SigFromGuest, false, dropped},
		{"guest, handler installed", kernel.SigFromGuest, true, handled},
		{"outside, still no handler", kernel.SigFromOutside, false, dropped},
		{"unprotected, still no handler", kernel.SigFromOutsideUnprotected, false, killed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), ContainerInit: true})
			init := newInit(t, k)
			task := init.Leader()
			task.SetMask(bit(unix.SIGTERM))
			if err := init.SendSignalFrom(kernel.SigInfo{Signo: unix.SIGTERM}, tc.src); err != nil {
				t.Fatal(err)
			}
			if got := task.Pending(); got != bit(unix.SIGTERM) {
				t.Fatalf("Pending = %#x, want SIGTERM's bit", got)
			}
			if tc.handleNow {
				if _, err := init.Sigaction(int(unix.SIGTERM), &kernel.SigAction{Handler: handler}); err != nil {
					t.Fatal(err)
				}
			}
			task.SetMask(0)
			if got := outcome(t, init); got != tc.want {
				t.Errorf("after unblocking: %s, want %s", got, tc.want)
			}
			if got := task.Pending(); got != 0 {
				t.Errorf("Pending = %#x afterwards", got)
			}
		})
	}
}

// A fault kills init as any process when it has no handler (or blocks or
// ignores it): Linux's force_sig clears SIGNAL_UNKILLABLE. With a handler
// the handler runs and init stays protected.
func TestInitFault(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  *kernel.SigAction
		mask uint64
		want string
	}{
		{"no handler", nil, 0, killed},
		{"blocked", nil, bit(unix.SIGSEGV), killed},
		{"ignored", &kernel.SigAction{Handler: kernel.SigIgn}, 0, killed},
		{"handled", &kernel.SigAction{Handler: handler}, 0, handled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), ContainerInit: true})
			init := newInit(t, k)
			if tc.act != nil {
				if _, err := init.Sigaction(int(unix.SIGSEGV), tc.act); err != nil {
					t.Fatal(err)
				}
			}
			init.Leader().SetMask(tc.mask)
			init.Leader().ForceSignal(kernel.SigInfo{Signo: unix.SIGSEGV, Code: 1})
			if got := outcome(t, init); got != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
			if tc.want == killed {
				if got, want := init.Status(), kernel.WaitStatusSignaled(unix.SIGSEGV, true); got != want {
					t.Errorf("Status = %#x, want %#x", got, want)
				}
				return
			}
			// Still an init: a guest's SIGTERM is dropped.
			if got := deliver(t, init, unix.SIGTERM, kernel.SigFromGuest, false); got != dropped {
				t.Errorf("SIGTERM after a handled fault: %s, want dropped", got)
			}
		})
	}
}

// A signal sigtimedwait awaits is queued for it to take even when the
// target would drop it (SIG_DFL on init, SIG_IGN on any process): the
// mask sigtimedwait saved still blocks it (Linux's real_blocked).
func TestSigtimedwaitTakesDroppedSignals(t *testing.T) {
	for _, tc := range []struct {
		name string
		init bool
		act  *kernel.SigAction
	}{
		{"init, SIG_DFL", true, nil},
		{"any process, SIG_IGN", false, &kernel.SigAction{Handler: kernel.SigIgn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), ContainerInit: true})
			p := newInit(t, k)
			if !tc.init {
				var err error
				if p, err = k.NewProcess(newMM(), [3]*vfs.File{}, ""); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.FDs.CloseAll() })
			}
			if tc.act != nil {
				if _, err := p.Sigaction(int(unix.SIGUSR1), tc.act); err != nil {
					t.Fatal(err)
				}
			}
			task := p.Leader()
			task.SetMask(bit(unix.SIGUSR1))
			// sigsuspend's temporary mask does not keep it: dropped.
			task.SaveMask(0)
			_ = p.SendSignalFrom(kernel.SigInfo{Signo: unix.SIGUSR1}, kernel.SigFromGuest)
			task.RestoreMask()
			if got := task.Pending(); got != 0 {
				t.Fatalf("sent during sigsuspend: Pending = %#x, want 0", got)
			}
			task.SaveMaskWaiting(0)
			_ = p.SendSignalFrom(kernel.SigInfo{Signo: unix.SIGUSR1}, kernel.SigFromGuest)
			info, ok := task.TakeSignal(bit(unix.SIGUSR1))
			task.RestoreMask()
			if !ok || info.Signo != unix.SIGUSR1 {
				t.Fatalf("sent during sigtimedwait: TakeSignal = %+v, %v", info, ok)
			}
		})
	}
}

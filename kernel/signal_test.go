package kernel_test

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// fakeMapper is a platform address space that accepts everything: these
// tests never touch guest memory.
type fakeMapper struct{}

func (fakeMapper) Map(addr, length uint64, prot int) error       { return nil }
func (fakeMapper) MapShared(addr, length uint64, prot int) error { return nil }
func (fakeMapper) Unmap(addr, length uint64) error               { return nil }
func (fakeMapper) Protect(addr, length uint64, prot int) error   { return nil }
func (fakeMapper) Remap(oldAddr, oldLen, newAddr, newLen uint64) error {
	return nil
}
func (fakeMapper) Discard(addr, length uint64) error            { return nil }
func (fakeMapper) CopyIn(addr uint64, dst []byte) (int, error)  { return len(dst), nil }
func (fakeMapper) CopyOut(addr uint64, src []byte) (int, error) { return len(src), nil }

func newMM() *mm.MM { return mm.New(fakeMapper{}, nil, 0x7fe000000000) }

// newProc returns a process of a fresh kernel that is not its init: the
// kernel's pid 1 (newInit) drops the signals it has no handler for, and
// these tests are of any process's signals.
func newProc(t *testing.T) *kernel.Process {
	t.Helper()
	k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0))})
	newInit(t, k)
	p, err := k.NewProcess(newMM(), [3]*vfs.File{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.FDs.CloseAll() })
	return p
}

// newInit makes k's first process, pid 1, the guest's init.
func newInit(t *testing.T, k *kernel.Kernel) *kernel.Process {
	t.Helper()
	p, err := k.NewProcess(newMM(), [3]*vfs.File{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != 1 {
		t.Fatalf("the kernel's first process is pid %d", p.PID)
	}
	t.Cleanup(func() { p.FDs.CloseAll() })
	return p
}

func bit(sig unix.Signal) uint64 { return 1 << (uint(sig) - 1) }

const handler = 0x401000 // a guest handler address

func TestSigaction(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sig     int
		act     *kernel.SigAction
		wantErr error
	}{
		{"set SIGUSR1", int(unix.SIGUSR1), &kernel.SigAction{Handler: handler}, nil},
		{"query SIGKILL", int(unix.SIGKILL), nil, nil},
		{"set SIGKILL", int(unix.SIGKILL), &kernel.SigAction{Handler: handler}, unix.EINVAL},
		{"ignore SIGSTOP", int(unix.SIGSTOP), &kernel.SigAction{Handler: kernel.SigIgn}, unix.EINVAL},
		{"signal 0", 0, nil, unix.EINVAL},
		{"signal 65", 65, &kernel.SigAction{}, unix.EINVAL},
		{"signal 64", 64, &kernel.SigAction{Handler: handler}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			old, err := p.Sigaction(tc.sig, tc.act)
			if err != tc.wantErr || old != (kernel.SigAction{}) {
				t.Fatalf("Sigaction = %+v, %v; want zero, %v", old, err, tc.wantErr)
			}
			if err != nil || tc.act == nil {
				return
			}
			got, err := p.Sigaction(tc.sig, nil)
			if err != nil || got != *tc.act {
				t.Fatalf("query = %+v, %v; want %+v", got, err, *tc.act)
			}
		})
	}
	t.Run("old value and mask", func(t *testing.T) {
		p := newProc(t)
		a := kernel.SigAction{Handler: handler, Flags: kernel.SARestart, Restorer: 0x402000,
			Mask: bit(unix.SIGKILL) | bit(unix.SIGSTOP) | bit(unix.SIGINT)}
		if _, err := p.Sigaction(int(unix.SIGUSR2), &a); err != nil {
			t.Fatal(err)
		}
		old, err := p.Sigaction(int(unix.SIGUSR2), &kernel.SigAction{Handler: kernel.SigIgn})
		want := a
		want.Mask = bit(unix.SIGINT) // SIGKILL and SIGSTOP cannot be blocked by a handler
		if err != nil || old != want {
			t.Fatalf("old = %+v, %v; want %+v", old, err, want)
		}
	})
}

func TestSigprocmask(t *testing.T) {
	u1, u2, kill, stop := bit(unix.SIGUSR1), bit(unix.SIGUSR2), bit(unix.SIGKILL), bit(unix.SIGSTOP)
	for _, tc := range []struct {
		name     string
		initial  uint64
		how      int
		set      *uint64
		wantOld  uint64
		wantMask uint64
		wantErr  error
	}{
		{"block", u1, unix.SIG_BLOCK, ptr(u2), u1, u1 | u2, nil},
		{"unblock", u1 | u2, unix.SIG_UNBLOCK, ptr(u1), u1 | u2, u2, nil},
		{"setmask", u1, unix.SIG_SETMASK, ptr(u2), u1, u2, nil},
		{"query", u1, 12345, nil, u1, u1, nil},
		{"bad how", u1, 3, ptr(u2), 0, u1, unix.EINVAL},
		{"block SIGKILL SIGSTOP", 0, unix.SIG_BLOCK, ptr(kill | stop | u1), 0, u1, nil},
		{"setmask all", 0, unix.SIG_SETMASK, ptr(^uint64(0)), 0, ^uint64(0) &^ (kill | stop), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := newProc(t).Leader()
			task.SetMask(tc.initial)
			old, err := task.Sigprocmask(tc.how, tc.set)
			if old != tc.wantOld || err != tc.wantErr {
				t.Fatalf("Sigprocmask = %#x, %v; want %#x, %v", old, err, tc.wantOld, tc.wantErr)
			}
			if got := task.Mask(); got != tc.wantMask {
				t.Fatalf("Mask = %#x, want %#x", got, tc.wantMask)
			}
		})
	}
	t.Run("SetMask strips SIGKILL", func(t *testing.T) {
		task := newProc(t).Leader()
		task.SetMask(kill | stop)
		if got := task.Mask(); got != 0 {
			t.Fatalf("Mask = %#x, want 0", got)
		}
	})
}

func ptr(v uint64) *uint64 { return &v }

func TestDefault(t *testing.T) {
	for _, tc := range []struct {
		sig  unix.Signal
		want kernel.DefaultAction
	}{
		{unix.SIGCHLD, kernel.ActIgnore},
		{unix.SIGURG, kernel.ActIgnore},
		{unix.SIGWINCH, kernel.ActIgnore},
		{unix.SIGCONT, kernel.ActContinue},
		{unix.SIGSTOP, kernel.ActStop},
		{unix.SIGTSTP, kernel.ActStop},
		{unix.SIGTTIN, kernel.ActStop},
		{unix.SIGTTOU, kernel.ActStop},
		{unix.SIGSEGV, kernel.ActCore},
		{unix.SIGABRT, kernel.ActCore},
		{unix.SIGQUIT, kernel.ActCore},
		{unix.SIGSYS, kernel.ActCore},
		{unix.SIGTERM, kernel.ActTerminate},
		{unix.SIGKILL, kernel.ActTerminate},
		{unix.SIGPIPE, kernel.ActTerminate},
		{unix.SIGALRM, kernel.ActTerminate},
		{unix.SIGUSR1, kernel.ActTerminate},
		{unix.Signal(34), kernel.ActTerminate}, // SIGRTMIN
	} {
		if got := kernel.Default(tc.sig); got != tc.want {
			t.Errorf("Default(%v) = %v, want %v", tc.sig, got, tc.want)
		}
	}
}

func TestSendSignalNextSignal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sig        unix.Signal
		act        *kernel.SigAction
		toTask     bool
		wantDeliv  bool
		wantExit   bool
		wantStatus int
	}{
		{"handled", unix.SIGUSR1, &kernel.SigAction{Handler: handler, Flags: kernel.SASigInfo}, false, true, false, 0},
		{"handled tgkill", unix.SIGUSR1, &kernel.SigAction{Handler: handler}, true, true, false, 0},
		{"default ignore SIGCHLD", unix.SIGCHLD, nil, false, false, false, 0},
		{"default ignore SIGWINCH tgkill", unix.SIGWINCH, nil, true, false, false, 0},
		{"explicit ignore", unix.SIGTERM, &kernel.SigAction{Handler: kernel.SigIgn}, false, false, false, 0},
		{"default terminate", unix.SIGTERM, nil, false, false, true, kernel.WaitStatusSignaled(unix.SIGTERM, false)},
		{"default terminate tgkill", unix.SIGUSR2, nil, true, false, true, kernel.WaitStatusSignaled(unix.SIGUSR2, false)},
		{"default core", unix.SIGSEGV, nil, true, false, true, kernel.WaitStatusSignaled(unix.SIGSEGV, true)},
		{"SIGKILL", unix.SIGKILL, nil, false, false, true, kernel.WaitStatusSignaled(unix.SIGKILL, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			task := p.Leader()
			if tc.act != nil {
				if _, err := p.Sigaction(int(tc.sig), tc.act); err != nil {
					t.Fatal(err)
				}
			}
			info := kernel.SigInfo{Signo: tc.sig, Code: kernel.SIUser, Pid: 42, Uid: 1000}
			var err error
			if tc.toTask {
				err = task.SendSignal(info)
			} else {
				err = p.SendSignal(info)
			}
			if err != nil {
				t.Fatalf("SendSignal: %v", err)
			}
			d, ok := task.NextSignal()
			if ok != tc.wantDeliv {
				t.Fatalf("NextSignal ok = %v, want %v (%+v)", ok, tc.wantDeliv, d)
			}
			if ok {
				if d.Info != info || d.Action != *tc.act {
					t.Fatalf("Delivery = %+v, want info %+v action %+v", d, info, *tc.act)
				}
				if _, again := task.NextSignal(); again {
					t.Fatal("delivered twice")
				}
			}
			if got := p.Exiting(); got != tc.wantExit {
				t.Fatalf("Exiting = %v, want %v", got, tc.wantExit)
			}
			if tc.wantExit {
				if got := p.Status(); got != tc.wantStatus {
					t.Fatalf("Status = %#x, want %#x", got, tc.wantStatus)
				}
			}
			if got := task.Pending(); got != 0 {
				t.Fatalf("Pending = %#x after NextSignal", got)
			}
		})
	}
}

func TestSendSignalInvalid(t *testing.T) {
	p := newProc(t)
	for _, sig := range []unix.Signal{-1, 65} {
		if err := p.SendSignal(kernel.SigInfo{Signo: sig}); err != unix.EINVAL {
			t.Errorf("Process.SendSignal(%d) = %v, want EINVAL", sig, err)
		}
		if err := p.Leader().SendSignal(kernel.SigInfo{Signo: sig}); err != unix.EINVAL {
			t.Errorf("Task.SendSignal(%d) = %v, want EINVAL", sig, err)
		}
	}
	if err := p.SendSignal(kernel.SigInfo{Signo: 0}); err != nil || p.Leader().Pending() != 0 {
		t.Errorf("signal 0 = %v, pending %#x", err, p.Leader().Pending())
	}
}

// TestForceSignalInvalid: a fault number no genuine fault carries (a
// forged platform event) never indexes the signal tables; the thread gets
// SIGKILL instead.
func TestForceSignalInvalid(t *testing.T) {
	for _, sig := range []unix.Signal{-1, 0, 65, 1000, 1 << 30} {
		p := newProc(t)
		p.Leader().ForceSignal(kernel.SigInfo{Signo: sig})
		if got := p.Leader().Pending(); got != bit(unix.SIGKILL) {
			t.Errorf("ForceSignal(%d): pending %#x, want SIGKILL alone", sig, got)
		}
	}
}

func TestResetHand(t *testing.T) {
	p := newProc(t)
	task := p.Leader()
	act := kernel.SigAction{Handler: handler, Flags: kernel.SAResetHand}
	if _, err := p.Sigaction(int(unix.SIGUSR1), &act); err != nil {
		t.Fatal(err)
	}
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	if d, ok := task.NextSignal(); !ok || d.Action != act {
		t.Fatalf("NextSignal = %+v, %v", d, ok)
	}
	if got, _ := p.Sigaction(int(unix.SIGUSR1), nil); got != (kernel.SigAction{}) {
		t.Fatalf("after SA_RESETHAND the action is %+v, want SIG_DFL", got)
	}
}

func TestBlockedSignalsStayPending(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sig    unix.Signal
		act    *kernel.SigAction
		toTask bool
	}{
		{"handled", unix.SIGUSR1, &kernel.SigAction{Handler: handler}, false},
		{"handled tgkill", unix.SIGUSR1, &kernel.SigAction{Handler: handler}, true},
		{"default terminate", unix.SIGTERM, nil, false},
		// Blocked ignored signals are kept: the disposition may change.
		{"default ignore", unix.SIGCHLD, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			task := p.Leader()
			if tc.act != nil {
				_, _ = p.Sigaction(int(tc.sig), tc.act)
			}
			task.SetMask(bit(tc.sig))
			info := kernel.SigInfo{Signo: tc.sig}
			if tc.toTask {
				_ = task.SendSignal(info)
			} else {
				_ = p.SendSignal(info)
			}
			if got := task.Pending(); got != bit(tc.sig) {
				t.Fatalf("Pending = %#x, want %#x", got, bit(tc.sig))
			}
			if task.HasSignal() {
				t.Fatal("HasSignal with the signal blocked")
			}
			if d, ok := task.NextSignal(); ok || p.Exiting() {
				t.Fatalf("NextSignal delivered a blocked signal: %+v, exiting %v", d, p.Exiting())
			}
			if s, ok := task.PeekSignal(bit(tc.sig)); !ok || s != tc.sig {
				t.Fatalf("PeekSignal = %v, %v", s, ok)
			}
			// Unblocking makes it deliverable.
			if _, err := task.Sigprocmask(unix.SIG_UNBLOCK, ptr(bit(tc.sig))); err != nil {
				t.Fatal(err)
			}
			if !task.HasSignal() {
				t.Fatal("HasSignal false after unblocking")
			}
			d, ok := task.NextSignal()
			switch {
			case tc.act != nil:
				if !ok || d.Info.Signo != tc.sig {
					t.Fatalf("NextSignal = %+v, %v", d, ok)
				}
			case kernel.Default(tc.sig) == kernel.ActIgnore:
				if ok || p.Exiting() {
					t.Fatalf("ignored signal acted on: %+v %v exiting %v", d, ok, p.Exiting())
				}
			default:
				if ok || !p.Exiting() || p.Status() != kernel.WaitStatusSignaled(tc.sig, false) {
					t.Fatalf("NextSignal = %+v %v, exiting %v status %#x", d, ok, p.Exiting(), p.Status())
				}
			}
			if got := task.Pending(); got != 0 {
				t.Fatalf("Pending = %#x at the end", got)
			}
		})
	}
}

func TestIgnoringDiscardsPending(t *testing.T) {
	p := newProc(t)
	task := p.Leader()
	task.SetMask(bit(unix.SIGUSR1))
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	_ = task.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	if task.Pending() == 0 {
		t.Fatal("not pending")
	}
	_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: kernel.SigIgn})
	if got := task.Pending(); got != 0 {
		t.Fatalf("Pending = %#x after SIG_IGN", got)
	}
}

func TestSignalQueueing(t *testing.T) {
	rt := unix.Signal(34)
	for _, tc := range []struct {
		name   string
		sig    unix.Signal
		sends  int
		toTask bool
		want   int
	}{
		{"standard process", unix.SIGUSR1, 3, false, 1},
		{"standard thread", unix.SIGUSR1, 3, true, 1},
		{"realtime process", rt, 3, false, 3},
		{"realtime thread", rt, 3, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			task := p.Leader()
			_, _ = p.Sigaction(int(tc.sig), &kernel.SigAction{Handler: handler})
			task.SetMask(bit(tc.sig))
			for i := range tc.sends {
				info := kernel.SigInfo{Signo: tc.sig, Pid: int32(100 + i)}
				if tc.toTask {
					_ = task.SendSignal(info)
				} else {
					_ = p.SendSignal(info)
				}
			}
			task.SetMask(0)
			got := 0
			for {
				d, ok := task.NextSignal()
				if !ok {
					break
				}
				if d.Info.Pid != int32(100+got) {
					t.Fatalf("delivery %d from pid %d: out of order", got, d.Info.Pid)
				}
				got++
			}
			if got != tc.want {
				t.Fatalf("%d deliveries, want %d", got, tc.want)
			}
		})
	}
}

func TestNextSignalOrder(t *testing.T) {
	// Lowest signal first; the thread's own queue before the process's.
	p := newProc(t)
	task := p.Leader()
	for _, s := range []unix.Signal{unix.SIGUSR1, unix.SIGUSR2, unix.SIGINT, unix.SIGHUP} {
		_, _ = p.Sigaction(int(s), &kernel.SigAction{Handler: handler})
	}
	task.SetMask(^uint64(0))
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGHUP})
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR2})
	_ = task.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	_ = task.SendSignal(kernel.SigInfo{Signo: unix.SIGINT})
	task.SetMask(0)
	want := []unix.Signal{unix.SIGINT, unix.SIGUSR1, unix.SIGHUP, unix.SIGUSR2}
	for i, w := range want {
		d, ok := task.NextSignal()
		if !ok || d.Info.Signo != w {
			t.Fatalf("delivery %d = %v, %v; want %v", i, d.Info.Signo, ok, w)
		}
	}
}

func TestTakeSignal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending []unix.Signal // sent to the process, all blocked
		set     uint64
		want    unix.Signal
		wantOK  bool
		left    uint64
	}{
		{"one in set", []unix.Signal{unix.SIGUSR1}, bit(unix.SIGUSR1), unix.SIGUSR1, true, 0},
		{"not in set", []unix.Signal{unix.SIGUSR1}, bit(unix.SIGUSR2), 0, false, bit(unix.SIGUSR1)},
		{"lowest of set", []unix.Signal{unix.SIGUSR2, unix.SIGUSR1, unix.SIGHUP},
			bit(unix.SIGUSR1) | bit(unix.SIGUSR2), unix.SIGUSR1, true, bit(unix.SIGUSR2) | bit(unix.SIGHUP)},
		{"empty", nil, ^uint64(0), 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			task := p.Leader()
			task.SetMask(^uint64(0))
			for _, s := range tc.pending {
				_ = p.SendSignal(kernel.SigInfo{Signo: s, Pid: 7})
			}
			info, ok := task.TakeSignal(tc.set)
			if ok != tc.wantOK || info.Signo != tc.want {
				t.Fatalf("TakeSignal = %+v, %v; want %v, %v", info, ok, tc.want, tc.wantOK)
			}
			if ok && info.Pid != 7 {
				t.Fatalf("siginfo lost: %+v", info)
			}
			if got := task.Pending(); got != tc.left {
				t.Fatalf("Pending = %#x, want %#x", got, tc.left)
			}
		})
	}
	t.Run("thread queue first", func(t *testing.T) {
		p := newProc(t)
		task := p.Leader()
		task.SetMask(^uint64(0))
		_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGHUP})
		_ = task.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
		if info, ok := task.TakeSignal(^uint64(0)); !ok || info.Signo != unix.SIGUSR1 {
			t.Fatalf("TakeSignal = %+v, %v; want SIGUSR1", info, ok)
		}
	})
}

func TestInterruptedBySignal(t *testing.T) {
	p := newProc(t)
	task := p.Leader()
	ch := task.Interruptible().Done()
	select {
	case <-ch:
		t.Fatal("interrupted with nothing pending")
	default:
	}
	_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler})
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	select {
	case <-ch:
	default:
		t.Fatal("signal did not close Interrupted")
	}
}

// TestWaitContexts: the contexts blocking calls take are the task's wake
// channels: done by a deliverable signal (interruptible) or only by the
// process's death (killable), and free to make on the syscall path.
func TestWaitContexts(t *testing.T) {
	p := newProc(t)
	task := p.Leader()
	ctx, killable := task.Interruptible(), task.Killable()
	if ctx.Err() != nil || killable.Err() != nil {
		t.Fatalf("contexts done with nothing pending: %v, %v", ctx.Err(), killable.Err())
	}
	if _, ok := ctx.Deadline(); ok {
		t.Error("an interruptible wait has a deadline")
	}
	if n := testing.AllocsPerRun(100, func() { _ = task.Interruptible() }); n != 0 {
		t.Errorf("Interruptible allocates %v times per call", n)
	}
	_, _ = p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler})
	_ = p.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1})
	if ctx.Err() != context.Canceled {
		t.Errorf("interruptible Err after a signal = %v, want context.Canceled", ctx.Err())
	}
	if killable.Err() != nil {
		t.Errorf("a handled signal ended a killable wait: %v", killable.Err())
	}
	p.Kill(kernel.WaitStatusSignaled(unix.SIGKILL, false))
	select {
	case <-killable.Done():
	default:
		t.Error("the process's death did not end the killable wait")
	}
}

func TestSigAltStackFlags(t *testing.T) {
	const autoDisarm = -1 << 31
	cases := []struct {
		name      string
		flags     int32
		size      uint64
		onStack   bool
		wantErr   error
		wantFlags int32 // of the stack afterwards
		wantSize  uint64
	}{
		{name: "plain", flags: 0, size: 8192, wantSize: 8192},
		{name: "SS_ONSTACK is accepted and not kept", flags: 1, size: 8192, wantSize: 8192},
		{name: "SS_AUTODISARM is kept", flags: autoDisarm, size: 8192, wantFlags: autoDisarm, wantSize: 8192},
		{name: "SS_DISABLE", flags: 2, size: 8192, wantFlags: 2},
		{name: "SS_DISABLE|SS_ONSTACK", flags: 3, size: 8192, wantErr: unix.EINVAL},
		{name: "unknown flag", flags: 4, size: 8192, wantErr: unix.EINVAL},
		{name: "too small", flags: 0, size: 1024, wantErr: unix.ENOMEM},
		{name: "while on the stack", flags: 0, size: 8192, onStack: true, wantErr: unix.EPERM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := newProc(t).Leader()
			_, err := task.SigAltStack(&kernel.AltStack{Sp: 0x10000, Flags: c.flags, Size: c.size}, c.onStack)
			if err != c.wantErr {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			got := task.AltStackNow()
			if got.Flags != c.wantFlags || got.Size != c.wantSize {
				t.Errorf("stack %+v, want flags %#x size %d", got, c.wantFlags, c.wantSize)
			}
		})
	}
}

package kernel_test

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func TestTimerCreateChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock int32
		ev    *kernel.Sigevent
		want  error
	}{
		{"monotonic default", unix.CLOCK_MONOTONIC, nil, nil},
		{"realtime", unix.CLOCK_REALTIME, nil, nil},
		{"boottime", unix.CLOCK_BOOTTIME, nil, nil},
		{"tai", unix.CLOCK_TAI, nil, nil},
		{"process cpu", unix.CLOCK_PROCESS_CPUTIME_ID, nil, nil},
		{"thread cpu", unix.CLOCK_THREAD_CPUTIME_ID, nil, nil},
		{"own pid cpu clock", (^int32(2))<<3 | 2, nil, nil}, // (~pid 2, newProc's) << 3 | CPUCLOCK_SCHED
		{"realtime alarm", 8, nil, unix.EPERM},
		{"boottime alarm", 9, nil, unix.EPERM},
		{"monotonic raw", unix.CLOCK_MONOTONIC_RAW, nil, unix.EOPNOTSUPP},
		{"coarse", unix.CLOCK_REALTIME_COARSE, nil, unix.EOPNOTSUPP},
		{"unknown clock", 99, nil, unix.EINVAL},
		{"cpu clock kind 3", -1, nil, unix.EINVAL},
		{"signal 0", unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: kernel.SigevSignal}, unix.EINVAL},
		{"signal 65", unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: kernel.SigevSignal, Signo: 65}, unix.EINVAL},
		{"unknown notify", unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: 7, Signo: unix.SIGUSR1}, unix.EINVAL},
		{"thread id of nobody", unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: kernel.SigevThreadID, Signo: unix.SIGUSR1, TID: 4242}, unix.EINVAL},
		{"thread id of own thread", unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: kernel.SigevThreadID, Signo: unix.SIGUSR1, TID: 2}, nil},
		{"SIGEV_NONE ignores the signal", unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: kernel.SigevNone}, nil},
		{"SIGEV_THREAD takes a signal", unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: kernel.SigevThread, Signo: 34}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := newProc(t).Leader()
			id, err := tk.TimerCreate(tc.clock, tc.ev)
			if err != tc.want {
				t.Fatalf("TimerCreate = %d, %v; want %v", id, err, tc.want)
			}
			if err == nil && id != 0 {
				t.Errorf("the first timer's id is %d, want 0", id)
			}
		})
	}
}

// TestTimerIDsUsedUp: a timer refused for its sigevent still uses an id
// up, as on Linux; a deleted id is not handed out again at once.
func TestTimerIDsUsedUp(t *testing.T) {
	tk := newProc(t).Leader()
	var ids []int32
	for _, ev := range []*kernel.Sigevent{nil, {Notify: 7}, nil, nil} {
		if id, err := tk.TimerCreate(unix.CLOCK_MONOTONIC, ev); err == nil {
			ids = append(ids, id)
		}
	}
	if err := tk.TimerDelete(ids[1]); err != nil {
		t.Fatal(err)
	}
	id, _ := tk.TimerCreate(unix.CLOCK_MONOTONIC, nil)
	ids = append(ids, id)
	if want := []int32{0, 2, 3, 4}; len(ids) != 4 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] || ids[3] != want[3] {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	if err := tk.TimerDelete(ids[1]); err != unix.EINVAL {
		t.Fatalf("deleting twice: %v, want EINVAL", err)
	}
}

// TestTimerChargedToSigpending: each timer counts as a queued signal, so
// RLIMIT_SIGPENDING bounds the table (EAGAIN past it); deleting one makes
// room again.
func TestTimerChargedToSigpending(t *testing.T) {
	p := newProc(t)
	tk := p.Leader()
	if err := p.Setrlimit(unix.RLIMIT_SIGPENDING, unix.Rlimit{Cur: 3, Max: 3}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := tk.TimerCreate(unix.CLOCK_MONOTONIC, nil); err != nil {
			t.Fatalf("timer %d: %v", i, err)
		}
	}
	if _, err := tk.TimerCreate(unix.CLOCK_MONOTONIC, nil); err != unix.EAGAIN {
		t.Fatalf("a fourth timer: %v, want EAGAIN", err)
	}
	if err := tk.SendSignal(kernel.SigInfo{Signo: 40, Code: -1}); err != unix.EAGAIN {
		t.Fatalf("a queued real-time signal past the limit: %v, want EAGAIN", err)
	}
	_ = tk.TimerDelete(1)
	if _, err := tk.TimerCreate(unix.CLOCK_MONOTONIC, nil); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
}

// waitPending polls until sig is pending for tk.
func waitPending(t *testing.T, tk *kernel.Task, sig unix.Signal) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for tk.Pending()&bit(sig) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v never became pending", sig)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTimerOneSignalQueued: a periodic timer whose signal is blocked
// queues it once and waits; taking it reports the periods missed as
// si_overrun and re-arms the timer on its grid.
func TestTimerOneSignalQueued(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(tk *kernel.Task) *kernel.Sigevent
	}{
		{"process", func(*kernel.Task) *kernel.Sigevent {
			return &kernel.Sigevent{Notify: kernel.SigevSignal, Signo: 40, Value: 77}
		}},
		{"thread", func(tk *kernel.Task) *kernel.Sigevent {
			return &kernel.Sigevent{Notify: kernel.SigevThreadID, Signo: 40, Value: 77, TID: tk.TID}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := newProc(t).Leader()
			tk.SetMask(bit(40))
			id, err := tk.TimerCreate(unix.CLOCK_MONOTONIC, tc.target(tk))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tk.TimerDelete(id) }()
			if _, err := tk.TimerSettime(id, false, kernel.TimerSpec{Value: time.Millisecond, Interval: time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			waitPending(t, tk, 40)
			time.Sleep(30 * time.Millisecond)
			info, ok := tk.TakeSignal(bit(40))
			if !ok || info.Code != kernel.SITimer || info.Value != 77 || info.TimerID != id {
				t.Fatalf("TakeSignal = %+v, %v", info, ok)
			}
			if info.Overrun < 20 {
				t.Errorf("si_overrun %d after 30 periods, want >= 20", info.Overrun)
			}
			if n, _ := tk.TimerGetoverrun(id); n != info.Overrun {
				t.Errorf("timer_getoverrun %d, want %d", n, info.Overrun)
			}
			if _, ok := tk.TakeSignal(bit(40)); ok {
				t.Errorf("a second signal was queued")
			}
			if s, _ := tk.TimerGettime(id); s.Value <= 0 || s.Value > time.Millisecond || s.Interval != time.Millisecond {
				t.Errorf("after the take: %+v, want re-armed within one period", s)
			}
		})
	}
}

// TestTimerDeleteDropsQueued: deleting a timer drops its queued signal
// and gives back its charge.
func TestTimerDeleteDropsQueued(t *testing.T) {
	p := newProc(t)
	tk := p.Leader()
	tk.SetMask(bit(unix.SIGUSR1))
	id, _ := tk.TimerCreate(unix.CLOCK_REALTIME, &kernel.Sigevent{Notify: kernel.SigevSignal, Signo: unix.SIGUSR1})
	_, _ = tk.TimerSettime(id, false, kernel.TimerSpec{Value: time.Microsecond})
	waitPending(t, tk, unix.SIGUSR1)
	if err := tk.TimerDelete(id); err != nil {
		t.Fatal(err)
	}
	if tk.Pending()&bit(unix.SIGUSR1) != 0 {
		t.Fatalf("the deleted timer's signal is still pending")
	}
}

// TestTimerAbsoluteAndDisarm: TIMER_ABSTIME on the sandbox's monotonic
// clock, and the old setting returned by a disarm.
func TestTimerAbsoluteAndDisarm(t *testing.T) {
	tk := newProc(t).Leader()
	id, _ := tk.TimerCreate(unix.CLOCK_MONOTONIC, &kernel.Sigevent{Notify: kernel.SigevNone})
	now := time.Since(tk.Proc.Kernel().BootTime())
	if _, err := tk.TimerSettime(id, true, kernel.TimerSpec{Value: now + 10*time.Second, Interval: time.Second}); err != nil {
		t.Fatal(err)
	}
	old, _ := tk.TimerSettime(id, false, kernel.TimerSpec{})
	if old.Value <= 9*time.Second || old.Value > 10*time.Second || old.Interval != time.Second {
		t.Fatalf("old setting %+v", old)
	}
	if s, _ := tk.TimerGettime(id); s != (kernel.TimerSpec{}) {
		t.Fatalf("disarmed: %+v, want no value and no period", s)
	}
}

func TestSignalfdSiginfoLayout(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		info kernel.SigInfo
		want map[int]uint64 // offset -> value (4 bytes, or 8 at 48 and 72)
	}{
		{"kill", kernel.SigInfo{Signo: unix.SIGUSR1, Code: kernel.SIUser, Pid: 5, Uid: 1000},
			map[int]uint64{0: 10, 8: 0, 12: 5, 16: 1000}},
		{"timer", kernel.SigInfo{Signo: 34, Code: kernel.SITimer, TimerID: 3, Overrun: 9, Value: 0x1_0000_0007},
			map[int]uint64{0: 34, 8: 0xfffffffe, 12: 0, 24: 3, 32: 9, 44: 7, 48: 0x1_0000_0007}},
		{"sigqueue", kernel.SigInfo{Signo: 35, Code: -1, Pid: 4, Uid: 1000, Value: 31},
			map[int]uint64{12: 4, 16: 1000, 44: 31, 48: 31}},
		{"sigchld", kernel.SigInfo{Signo: unix.SIGCHLD, Code: kernel.CLDExited, Pid: 9, Status: 7},
			map[int]uint64{8: 1, 12: 9, 40: 7}},
		{"fault", kernel.SigInfo{Signo: unix.SIGSEGV, Code: 1, Addr: 0xdead},
			map[int]uint64{8: 1, 12: 0, 72: 0xdead}},
		{"kernel code is kill's layout", kernel.SigInfo{Signo: unix.SIGSEGV, Code: kernel.SIKernel, Addr: 0xdead},
			map[int]uint64{72: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := kernel.SignalfdSiginfo(tc.info)
			for off, want := range tc.want {
				var got uint64
				if off == 48 || off == 72 {
					got = le.Uint64(b[off:])
				} else {
					got = uint64(le.Uint32(b[off:]))
				}
				if got != want {
					t.Errorf("offset %d: %#x, want %#x", off, got, want)
				}
			}
		})
	}
}

func TestTimerfdChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock int32
		flags int
		want  error
	}{
		{"monotonic", unix.CLOCK_MONOTONIC, 0, nil},
		{"realtime nonblocking cloexec", unix.CLOCK_REALTIME, unix.TFD_NONBLOCK | unix.TFD_CLOEXEC, nil},
		{"boottime", unix.CLOCK_BOOTTIME, 0, nil},
		{"alarm", 8, 0, unix.EPERM},
		{"process cpu", unix.CLOCK_PROCESS_CPUTIME_ID, 0, unix.EINVAL},
		{"tai", unix.CLOCK_TAI, 0, unix.EINVAL},
		{"raw", unix.CLOCK_MONOTONIC_RAW, 0, unix.EINVAL},
		{"bad flags", unix.CLOCK_MONOTONIC, 1, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			fd, err := p.TimerfdCreate(tc.clock, tc.flags)
			if err != tc.want {
				t.Fatalf("TimerfdCreate = %d, %v; want %v", fd, err, tc.want)
			}
			if err != nil {
				return
			}
			if _, err := p.TimerfdSettime(fd, 4, kernel.TimerSpec{}, true); err != unix.EINVAL {
				t.Errorf("settime flags 4: %v", err)
			}
			if _, err := p.TimerfdSettime(fd+1, 0, kernel.TimerSpec{}, false); err != unix.EINVAL {
				t.Errorf("an invalid spec before a bad fd: %v, want EINVAL", err)
			}
			if _, err := p.TimerfdGettime(fd + 1); err != unix.EBADF {
				t.Errorf("gettime of a closed fd: %v, want EBADF", err)
			}
		})
	}
}

func TestPidfdSignalFlags(t *testing.T) {
	for _, tc := range []struct {
		flags int
		want  bool
	}{
		{0, true}, {kernel.PidfdSignalThread, true}, {kernel.PidfdSignalThreadGroup, true},
		{kernel.PidfdSignalProcessGroup, true}, {kernel.PidfdSignalThread | kernel.PidfdSignalThreadGroup, false},
		{8, false}, {-1, false},
	} {
		if got := kernel.PidfdSignalFlagsValid(tc.flags); got != tc.want {
			t.Errorf("PidfdSignalFlagsValid(%#x) = %v, want %v", tc.flags, got, tc.want)
		}
	}
}

// TestPidfdOpenChecks: pidfd_open's errors, and a pidfd of a live
// process that is not readable yet.
func TestPidfdOpenChecks(t *testing.T) {
	p := newProc(t)
	tk := p.Leader()
	for _, tc := range []struct {
		name  string
		pid   int
		flags int
		want  error
	}{
		{"self", p.PID, 0, nil},
		{"nonblocking", p.PID, kernel.PidfdNonblock, nil},
		{"pid 0", 0, 0, unix.EINVAL},
		{"pid -1", -1, 0, unix.EINVAL},
		{"unknown flag", p.PID, 1, unix.EINVAL},
		{"no such process", 4242, 0, unix.ESRCH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd, err := tk.PidfdOpen(tc.pid, tc.flags)
			if err != tc.want {
				t.Fatalf("PidfdOpen = %d, %v; want %v", fd, err, tc.want)
			}
			if err != nil {
				return
			}
			f, _ := p.FDs.Get(fd)
			if r := f.Readiness(); r != 0 {
				t.Errorf("a live process's pidfd: readiness %#x", r)
			}
			if got, nonblock, err := p.PidfdProcess(fd); err != nil || got != p || nonblock != (tc.flags != 0) {
				t.Errorf("PidfdProcess = %v, %v, %v", got, nonblock, err)
			}
		})
	}
	if _, _, err := p.PidfdProcess(99); err != unix.EBADF {
		t.Errorf("PidfdProcess of a closed fd: %v", err)
	}
}

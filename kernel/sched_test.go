package kernel_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// TestCheckSched: an unprivileged user's rules, with the guest's
// RLIMIT_NICE of 0 and with limits that allow lower nice values.
func TestCheckSched(t *testing.T) {
	for _, tc := range []struct {
		name      string
		niceLimit uint64 // RLIMIT_NICE (the guest's default: 0)
		cur, want kernel.SchedAttr
		err       error
	}{
		{"raise nice", 0, kernel.SchedAttr{}, kernel.SchedAttr{Nice: 5}, nil},
		{"same nice", 0, kernel.SchedAttr{Nice: 5}, kernel.SchedAttr{Nice: 5}, nil},
		{"lower nice", 0, kernel.SchedAttr{Nice: 5}, kernel.SchedAttr{Nice: 4}, unix.EACCES},
		{"negative nice", 0, kernel.SchedAttr{}, kernel.SchedAttr{Nice: -1}, unix.EACCES},
		{"lower within RLIMIT_NICE", 25, kernel.SchedAttr{Nice: 5}, kernel.SchedAttr{Nice: -5}, nil},
		{"lower past RLIMIT_NICE", 25, kernel.SchedAttr{}, kernel.SchedAttr{Nice: -6}, unix.EACCES},
		{"to SCHED_IDLE", 0, kernel.SchedAttr{}, kernel.SchedAttr{Policy: unix.SCHED_IDLE}, nil},
		{"leave SCHED_IDLE", 0, kernel.SchedAttr{Policy: unix.SCHED_IDLE}, kernel.SchedAttr{}, unix.EPERM},
		{"leave SCHED_IDLE within RLIMIT_NICE", 20, kernel.SchedAttr{Policy: unix.SCHED_IDLE}, kernel.SchedAttr{}, nil},
		{"SCHED_BATCH", 0, kernel.SchedAttr{}, kernel.SchedAttr{Policy: unix.SCHED_BATCH}, nil},
	} {
		if err := kernel.CheckSched(tc.cur, tc.want, tc.niceLimit, unix.EACCES); err != tc.err {
			t.Errorf("%s: CheckSched = %v, want %v", tc.name, err, tc.err)
		}
	}
}

// TestSchedInherited: new threads and processes inherit the attributes;
// SCHED_RESET_ON_FORK gives them a non-negative nice value and clears
// itself.
func TestSchedInherited(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent kernel.SchedAttr
		want   kernel.SchedAttr
	}{
		{"plain", kernel.SchedAttr{Policy: unix.SCHED_BATCH, Nice: 7, Affinity: []uint64{1}},
			kernel.SchedAttr{Policy: unix.SCHED_BATCH, Nice: 7, Affinity: []uint64{1}}},
		{"reset on fork, positive nice", kernel.SchedAttr{Nice: 3, ResetOnFork: true}, kernel.SchedAttr{Nice: 3}},
		{"reset on fork, negative nice", kernel.SchedAttr{Nice: -4, ResetOnFork: true}, kernel.SchedAttr{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProc(t)
			leader := p.Leader()
			leader.SetSched(tc.parent)
			th, err := leader.NewThread()
			if err != nil {
				t.Fatal(err)
			}
			child, err := leader.Fork(kernel.ForkOptions{MM: newMM(), ExitSignal: unix.SIGCHLD})
			if err != nil {
				t.Fatal(err)
			}
			for name, got := range map[string]kernel.SchedAttr{"thread": th.Sched(), "fork child": child.Sched()} {
				if got.Policy != tc.want.Policy || got.Nice != tc.want.Nice || got.ResetOnFork != tc.want.ResetOnFork ||
					len(got.Affinity) != len(tc.want.Affinity) || (len(got.Affinity) > 0 && got.Affinity[0] != tc.want.Affinity[0]) {
					t.Errorf("%s: %+v, want %+v", name, got, tc.want)
				}
			}
		})
	}
}

// TestFindTask: 0 and the caller's tid name the caller, any live thread of
// the sandbox is found by tid, others are ESRCH.
func TestFindTask(t *testing.T) {
	p := newProc(t)
	leader := p.Leader()
	th, err := leader.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	other, err := leader.Fork(kernel.ForkOptions{MM: newMM(), ExitSignal: unix.SIGCHLD})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tid  int
		want *kernel.Task
		err  error
	}{
		{0, leader, nil},
		{leader.TID, leader, nil},
		{th.TID, th, nil},
		{other.TID, other, nil},
		{-1, nil, unix.ESRCH},
		{999999, nil, unix.ESRCH},
	} {
		got, err := leader.FindTask(tc.tid)
		if got != tc.want || err != tc.err {
			t.Errorf("FindTask(%d) = %v, %v; want %v, %v", tc.tid, got, err, tc.want, tc.err)
		}
	}
}

// TestAllCPUs: nil and masks with every CPU of the guest are all CPUs;
// a missing CPU, a short or an empty mask are not.
func TestAllCPUs(t *testing.T) {
	n := kernel.NumCPU()
	full := make([]uint64, (n+63)/64)
	for i := range n {
		full[i/64] |= 1 << (i % 64)
	}
	extra := append(append([]uint64(nil), full...), ^uint64(0)) // bits past the CPUs do not matter
	for _, tc := range []struct {
		name string
		mask []uint64
		want bool
	}{
		{"nil", nil, true},
		{"every CPU", full, true},
		{"every CPU and more", extra, true},
		{"empty", []uint64{}, false},
		{"zero", make([]uint64, len(full)), false},
		{"the last CPU missing", func() []uint64 {
			m := append([]uint64(nil), full...)
			m[(n-1)/64] &^= 1 << ((n - 1) % 64)
			return m
		}(), false},
	} {
		if got := kernel.AllCPUs(tc.mask); got != tc.want {
			t.Errorf("%s: AllCPUs(%#x) = %v, want %v", tc.name, tc.mask, got, tc.want)
		}
	}
}

// TestSetSchedRestrictsVDSOGetcpu: a mask without every CPU makes the
// sandbox's vDSO getcpu the syscall; other attributes and a full mask do
// not.
func TestSetSchedRestrictsVDSOGetcpu(t *testing.T) {
	p := newProc(t)
	leader := p.Leader()
	clock := p.Kernel().Clock()
	leader.SetSched(kernel.SchedAttr{Nice: 3})
	full := make([]uint64, (kernel.NumCPU()+63)/64)
	for i := range kernel.NumCPU() {
		full[i/64] |= 1 << (i % 64)
	}
	leader.SetSched(kernel.SchedAttr{Affinity: full})
	if clock.CPUsRestricted() {
		t.Fatal("restricted after a nice value and a full mask")
	}
	if kernel.NumCPU() < 2 {
		t.Skip("one CPU: every mask is the full one")
	}
	leader.SetSched(kernel.SchedAttr{Affinity: []uint64{1}})
	if !clock.CPUsRestricted() {
		t.Fatal("a one-CPU mask left the vDSO's getcpu unrestricted")
	}
	leader.SetSched(kernel.SchedAttr{})
	if !clock.CPUsRestricted() {
		t.Error("the restriction was lifted (it is one-way)")
	}
}

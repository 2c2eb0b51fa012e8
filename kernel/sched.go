package kernel

import (
	"runtime"
	"slices"

	"golang.org/x/sys/unix"
)

// SchedAttr is a thread's scheduling attributes as the guest sees them:
// what sched_setscheduler, setpriority and sched_setaffinity set and their
// getters report. They are the guest's bookkeeping only: litebox does not
// apply them to the host threads that run the guest (a guest may not
// raise its priority on the host, and lowering it or pinning CPUs would
// not change what the guest can observe), which the syscall table notes.
type SchedAttr struct {
	Policy      int  // SCHED_NORMAL, SCHED_BATCH or SCHED_IDLE (the guest cannot get real-time ones)
	Nice        int  // -20..19
	ResetOnFork bool // SCHED_RESET_ON_FORK
	// Affinity is the CPU mask (bit i: CPU i), nil for every CPU.
	Affinity []uint64
}

// NumCPU is the number of CPUs the guest sees: the host's that litebox may
// use (its affinity mask when it started). kernel/vdso numbers the same
// CPUs 0..NumCPU()-1 for __vdso_getcpu.
func NumCPU() int { return runtime.NumCPU() }

// AllCPUs reports whether the affinity mask (bit i: CPU i; nil: every CPU)
// has each of the guest's CPUs.
func AllCPUs(mask []uint64) bool {
	if mask == nil {
		return true
	}
	for i := range NumCPU() {
		if i/64 >= len(mask) || mask[i/64]&(1<<(i%64)) == 0 {
			return false
		}
	}
	return true
}

// Sched returns the thread's scheduling attributes.
func (t *Task) Sched() SchedAttr {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.sched
	a.Affinity = slices.Clone(a.Affinity)
	return a
}

// SetSched replaces the thread's scheduling attributes; the shim has
// checked them against the guest's rights (CheckSched). An affinity mask
// without every CPU turns the vDSO's getcpu into the syscall for the whole
// sandbox (vdso.Clock.RestrictCPUs): only the kernel knows the caller's
// mask. That happens before the call returns, so the thread's next getcpu
// already honours its mask.
func (t *Task) SetSched(a SchedAttr) {
	a.Affinity = slices.Clone(a.Affinity)
	if !AllCPUs(a.Affinity) && t.Proc != nil && t.Proc.k != nil {
		t.Proc.k.clock.RestrictCPUs()
	}
	t.mu.Lock()
	t.sched = a
	t.mu.Unlock()
}

// schedForChild is what a new thread or process inherits from t, as on
// Linux: everything, except that SCHED_RESET_ON_FORK gives the child a
// non-negative nice value and clears the flag.
func (t *Task) schedForChild() SchedAttr {
	a := t.Sched()
	if a.ResetOnFork {
		a.Nice = max(a.Nice, 0)
		a.ResetOnFork = false
	}
	return a
}

// CheckSched reports whether a thread with attributes cur and RLIMIT_NICE
// niceLimit may be given the attributes want, with Linux's rules for an
// unprivileged user (sched_setscheduler, setpriority): lowering the nice
// value needs RLIMIT_NICE to allow it (EACCES from setpriority, EPERM from
// sched_setscheduler: errno), leaving SCHED_IDLE needs the same (EPERM);
// real-time policies need RLIMIT_RTPRIO, which the shim checks. Every task
// of the sandbox belongs to the one guest user, so none is another user's.
func CheckSched(cur, want SchedAttr, niceLimit uint64, errno unix.Errno) error {
	canNice := func(nice int) bool { return uint64(20-nice) <= niceLimit }
	if want.Nice < cur.Nice && !canNice(want.Nice) {
		return errno
	}
	if cur.Policy == unix.SCHED_IDLE && want.Policy != unix.SCHED_IDLE && !canNice(cur.Nice) {
		return unix.EPERM
	}
	return nil
}

// NiceLimit returns the soft RLIMIT_NICE of the thread's process.
func (t *Task) NiceLimit() uint64 {
	lim, _ := t.Proc.Getrlimit(unix.RLIMIT_NICE)
	return lim.Cur
}

// FindTask returns the live thread tid names for the sched and priority
// calls: 0 is the caller, any other number a thread of the sandbox (as on
// Linux, where these calls take thread ids).
func (t *Task) FindTask(tid int) (*Task, error) {
	if tid == 0 || tid == t.TID {
		return t, nil
	}
	if tid < 0 {
		return nil, unix.ESRCH
	}
	if o, ok := t.Proc.k.Task(tid); ok {
		return o, nil
	}
	return nil, unix.ESRCH
}

// AllTasks returns every live thread of the sandbox.
func (k *Kernel) AllTasks() []*Task {
	var out []*Task
	for _, p := range k.liveProcs() {
		out = append(out, p.Tasks()...)
	}
	return out
}

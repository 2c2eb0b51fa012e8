package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// The scheduler and priority calls. Their pid arguments are thread ids of
// the sandbox (0: the caller), as on Linux; the attributes they set are the
// guest's own bookkeeping (kernel.SchedAttr), checked with the rules Linux
// applies to an unprivileged user.

// schedTask finds the thread a sched_* call names: EINVAL for a negative
// pid (Linux checks that first), else ESRCH when no thread of the sandbox
// has it.
func schedTask(t *kernel.Task, pid int32) (*kernel.Task, error) {
	if pid < 0 {
		return nil, unix.EINVAL
	}
	return t.FindTask(int(pid))
}

// cpuMaskBytes is the size of the CPU mask the kernel reports: whole
// longs covering the CPUs (cpumask_size with nr_cpu_ids).
func cpuMaskBytes() int { return (kernel.NumCPU() + 63) / 64 * 8 }

// cpuMask returns a thread's affinity as bytes of cpuMaskBytes, every
// CPU when it never set one.
func cpuMask(a kernel.SchedAttr) []byte {
	mask := make([]byte, cpuMaskBytes())
	for i := range kernel.NumCPU() {
		if a.Affinity == nil || a.Affinity[i/64]&(1<<(i%64)) != 0 {
			mask[i/8] |= 1 << (i % 8)
		}
	}
	return mask
}

func sysSchedGetaffinity(t *kernel.Task, a args) (uint64, error) {
	pid, size := int32(a[0]), uint64(uint32(a[1]))
	if size*8 < uint64(kernel.NumCPU()) || size%8 != 0 {
		return 0, unix.EINVAL
	}
	target, err := t.FindTask(int(pid))
	if err != nil {
		return 0, err
	}
	mask := cpuMask(target.Sched())
	return uint64(len(mask)), t.CopyOut(a[2], mask)
}

func sysSchedSetaffinity(t *kernel.Task, a args) (uint64, error) {
	pid, size := int32(a[0]), int(uint32(a[1]))
	// A shorter mask means the CPUs past it are not wanted; a longer one
	// is read only as far as the kernel's mask goes (get_user_cpu_mask).
	b, err := t.CopyIn(a[2], min(size, cpuMaskBytes()))
	if err != nil {
		return 0, err
	}
	target, err := t.FindTask(int(pid))
	if err != nil {
		return 0, err
	}
	words := make([]uint64, (kernel.NumCPU()+63)/64)
	some := false
	for i := range kernel.NumCPU() {
		if i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0 {
			words[i/64] |= 1 << (i % 64)
			some = true
		}
	}
	if !some {
		return 0, unix.EINVAL // no CPU of the sandbox left
	}
	attr := target.Sched()
	attr.Affinity = words
	target.SetSched(attr)
	return 0, nil
}

// sysGetcpu reports a CPU of the thread's affinity mask, on node 0. The
// vDSO answers most calls from the host CPU (kernel/vdso/cpu.go); this is
// the answer when it cannot, above all once a guest thread has restricted
// its mask, which litebox does not apply on the host, so the host CPU
// could be outside it. The kernel does not know which host CPU the trapped
// thread ran on (and it would be stale at once); a fixed CPU per thread,
// spread over the allowed CPUs by thread id, keeps per-CPU caches in the
// guest spread as they would be, and is always below NumCPU. The third
// argument (a cache) has been unused since Linux 2.6.24.
func sysGetcpu(t *kernel.Task, a args) (uint64, error) {
	mask := cpuMask(t.Sched())
	var allowed []uint32
	for i := range kernel.NumCPU() {
		if mask[i/8]&(1<<(i%8)) != 0 {
			allowed = append(allowed, uint32(i))
		}
	}
	cpu := allowed[(t.TID-1)%len(allowed)]
	if a[0] != 0 {
		if err := t.WriteU32(a[0], cpu); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if err := t.WriteU32(a[1], 0); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func sysSchedGetscheduler(t *kernel.Task, a args) (uint64, error) {
	target, err := schedTask(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	attr := target.Sched()
	policy := uint64(attr.Policy)
	if attr.ResetOnFork {
		policy |= unix.SCHED_RESET_ON_FORK
	}
	return policy, nil
}

func sysSchedGetparam(t *kernel.Task, a args) (uint64, error) {
	if a[1] == 0 {
		return 0, unix.EINVAL
	}
	if _, err := schedTask(t, int32(a[0])); err != nil {
		return 0, err
	}
	// sched_priority is 0 for every policy the guest can have.
	return 0, t.WriteU32(a[1], 0)
}

func sysSchedSetscheduler(t *kernel.Task, a args) (uint64, error) {
	if int32(a[1]) < 0 {
		return 0, unix.EINVAL
	}
	return 0, setScheduler(t, int32(a[0]), int32(a[1]), a[2])
}

func sysSchedSetparam(t *kernel.Task, a args) (uint64, error) {
	return 0, setScheduler(t, int32(a[0]), -1, a[1])
}

// setScheduler is Linux's do_sched_setscheduler for an unprivileged user;
// policy -1 keeps the thread's policy (sched_setparam).
func setScheduler(t *kernel.Task, pid, policy int32, param uint64) error {
	if param == 0 || pid < 0 {
		return unix.EINVAL
	}
	b, err := t.CopyIn(param, 4) // struct sched_param
	if err != nil {
		return err
	}
	prio := binary.LittleEndian.Uint32(b)
	target, err := t.FindTask(int(pid))
	if err != nil {
		return err
	}
	cur := target.Sched()
	want := cur
	if policy >= 0 {
		want.ResetOnFork = policy&unix.SCHED_RESET_ON_FORK != 0
		want.Policy = int(policy &^ unix.SCHED_RESET_ON_FORK)
	}
	rt := want.Policy == unix.SCHED_FIFO || want.Policy == unix.SCHED_RR
	switch want.Policy {
	case unix.SCHED_NORMAL, unix.SCHED_BATCH, unix.SCHED_IDLE, unix.SCHED_FIFO, unix.SCHED_RR, unix.SCHED_DEADLINE:
	default:
		return unix.EINVAL
	}
	// Real-time priorities are 1..99, the others 0; SCHED_DEADLINE needs
	// sched_setattr's parameters, which sched_param lacks.
	if prio > 99 || rt != (prio != 0) || want.Policy == unix.SCHED_DEADLINE {
		return unix.EINVAL
	}
	if rt {
		// RLIMIT_RTPRIO is 0 and cannot be raised: no real-time policy.
		if lim, _ := target.Proc.Getrlimit(unix.RLIMIT_RTPRIO); lim.Cur < uint64(prio) {
			return unix.EPERM
		}
	}
	if err := kernel.CheckSched(cur, want, target.NiceLimit(), unix.EPERM); err != nil {
		return err
	}
	if cur.ResetOnFork && !want.ResetOnFork {
		return unix.EPERM // only privileged users may clear it
	}
	if rt {
		// Within the limit, yet litebox has no real-time scheduling to
		// give: refuse as a kernel without it would.
		t.Proc.Kernel().Unsupported("real-time scheduling policy", unix.SYS_SCHED_SETSCHEDULER, t.Proc.PID)
		return unix.EPERM
	}
	target.SetSched(want)
	return nil
}

func sysSchedGetPriorityMax(t *kernel.Task, a args) (uint64, error) {
	return schedPriorityBound(int32(a[0]), 99)
}

func sysSchedGetPriorityMin(t *kernel.Task, a args) (uint64, error) {
	return schedPriorityBound(int32(a[0]), 1)
}

// schedPriorityBound is the answer of sched_get_priority_max/min: rt for
// the real-time policies, 0 for the others.
func schedPriorityBound(policy int32, rt uint64) (uint64, error) {
	switch policy {
	case unix.SCHED_FIFO, unix.SCHED_RR:
		return rt, nil
	case unix.SCHED_NORMAL, unix.SCHED_BATCH, unix.SCHED_IDLE, unix.SCHED_DEADLINE:
		return 0, nil
	}
	return 0, unix.EINVAL
}

// schedSlice is the time slice sched_rr_get_interval reports for the
// policies the guest can have: Linux's CFS/EEVDF base slice is of this
// order and the value is advisory (no program depends on it).
const schedSlice = 4 * time.Millisecond

func sysSchedRrGetInterval(t *kernel.Task, a args) (uint64, error) {
	if _, err := schedTask(t, int32(a[0])); err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeTimespec(schedSlice))
}

// priorityTargets returns the threads getpriority/setpriority name: a
// thread (PRIO_PROCESS), the threads of a process group (PRIO_PGRP), or
// of a user (PRIO_USER: every thread of the sandbox is the guest user's);
// 0 names the caller, its group or its user.
func priorityTargets(t *kernel.Task, which, who int32) ([]*kernel.Task, error) {
	switch which {
	case unix.PRIO_PROCESS:
		target, err := t.FindTask(int(who))
		if err != nil {
			return nil, err
		}
		return []*kernel.Task{target}, nil
	case unix.PRIO_PGRP:
		pgid := int(who)
		if who == 0 {
			pgid = t.Proc.Pgid()
		}
		var out []*kernel.Task
		for _, o := range t.Proc.Kernel().AllTasks() {
			if o.Proc.Pgid() == pgid {
				out = append(out, o)
			}
		}
		return out, nil
	case unix.PRIO_USER:
		if who != 0 && who != kernel.GuestUID {
			return nil, nil
		}
		return t.Proc.Kernel().AllTasks(), nil
	}
	return nil, unix.EINVAL
}

// sysGetpriority returns 20 - nice of the highest-priority thread named,
// as the raw syscall does (glibc turns it back into a nice value).
func sysGetpriority(t *kernel.Task, a args) (uint64, error) {
	targets, err := priorityTargets(t, int32(a[0]), int32(a[1]))
	if err != nil {
		return 0, err
	}
	if len(targets) == 0 {
		return 0, unix.ESRCH
	}
	best := 0
	for _, o := range targets {
		best = max(best, 20-o.Sched().Nice)
	}
	return uint64(best), nil
}

func sysSetpriority(t *kernel.Task, a args) (uint64, error) {
	targets, err := priorityTargets(t, int32(a[0]), int32(a[1]))
	if err != nil {
		return 0, err
	}
	nice := min(max(int(int32(a[2])), -20), 19)
	// As set_one_prio: every thread named is tried; the call fails with
	// the last refusal, ESRCH if none was named.
	err = unix.ESRCH
	for _, o := range targets {
		attr := o.Sched()
		want := attr
		want.Nice = nice
		if e := kernel.CheckSched(attr, want, o.NiceLimit(), unix.EACCES); e != nil {
			err = e
			continue
		}
		if err == unix.ESRCH {
			err = nil
		}
		o.SetSched(want)
	}
	return 0, err
}

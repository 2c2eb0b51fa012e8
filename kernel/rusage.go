package kernel

import (
	"time"

	"github.com/litebox-go/litebox/kernel/mm"
)

// Rusage is the resource usage getrusage, times and wait4 report.
//
// CPU is the guest's own CPU time as the platform measures it (the stub's
// host CPU clock): all of it is user time, because the guest's system
// calls are served by litebox, whose CPU is litebox's (it counts for
// --cpu-time, not for the guest's clocks). MaxRSS is the peak of memory
// mapped by the address space (kernel/mm's accounting): an upper bound of
// the resident set, as litebox does not track which pages the host made
// resident.
type Rusage struct {
	CPU    time.Duration
	MaxRSS uint64 // bytes
}

func (r *Rusage) add(o Rusage) {
	r.CPU += o.CPU
	r.MaxRSS = max(r.MaxRSS, o.MaxRSS)
}

// procUsage is what a process keeps of its usage; guarded by Process.mu.
type procUsage struct {
	// done is what the images the process no longer runs used (execve
	// released them), and, once it is a zombie, everything.
	done Rusage
	// children is what its reaped children used, with their own reaped
	// children (RUSAGE_CHILDREN).
	children Rusage
}

// MemoryLimit is the sandbox's memory budget in bytes (--memory), 0 for
// none: the most memory the guest can have, which sysinfo reports as its
// RAM (the JVM sizes its heap from it).
func (k *Kernel) MemoryLimit() uint64 { return k.memory().Limit() }

// cpuNow reads the guest CPU time of the task's address space; 0 where
// there is none (unit tests) or the platform cannot tell.
func (t *Task) cpuNow() time.Duration {
	if t.CPUTime == nil {
		return 0
	}
	ns, err := t.CPUTime()
	if err != nil {
		return 0
	}
	return time.Duration(ns)
}

// imageDone records the usage of an image the process stops running
// (execve, or its last thread's exit): its peak mapped memory, and its CPU
// time when the address space was the process's own (a vfork child runs
// in its parent's, whose CPU is the parent's).
func (p *Process) imageDone(m *mm.MM, cpu time.Duration) {
	peak := m.Peak()
	p.mu.Lock()
	p.usage.done.CPU += cpu
	p.usage.done.MaxRSS = max(p.usage.done.MaxRSS, peak)
	p.mu.Unlock()
}

// sharesParentMM reports whether the process runs in its parent's address
// space (vfork, or CLONE_VM without CLONE_THREAD).
func (p *Process) sharesParentMM() bool {
	p.mu.Lock()
	parent, m := p.parent, p.MM
	p.mu.Unlock()
	if parent == nil {
		return false
	}
	parent.mu.Lock()
	defer parent.mu.Unlock()
	return parent.MM == m
}

// SelfUsage is RUSAGE_SELF for the calling thread's process.
func (t *Task) SelfUsage() Rusage {
	p := t.Proc
	p.mu.Lock()
	u := p.usage.done
	m := p.MM
	p.mu.Unlock()
	if !p.sharesParentMM() {
		u.CPU += t.cpuNow()
	}
	if m != nil {
		u.MaxRSS = max(u.MaxRSS, m.Peak())
	}
	return u
}

// ThreadUsage is RUSAGE_THREAD: the thread's own CPU time where the
// platform can measure it (else its process's), and its process's memory,
// as on Linux (threads share one address space).
func (t *Task) ThreadUsage() Rusage {
	u := t.SelfUsage()
	if cpu, ok := t.ThreadCPU(); ok {
		u.CPU = cpu
	}
	return u
}

// ChildrenUsage is RUSAGE_CHILDREN: the reaped children of the process and
// their reaped descendants.
func (p *Process) ChildrenUsage() Rusage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.usage.children
}

// exitUsage records, as the last thread leaves, what the process used
// (before its address space goes).
func (t *Task) exitUsage() {
	p := t.Proc
	var cpu time.Duration
	if !p.sharesParentMM() {
		cpu = t.cpuNow()
	}
	if p.MM != nil {
		p.imageDone(p.MM, cpu)
	}
}

// totalUsageLocked is what wait4 reports for a zombie, and what its
// parent adds to its children's usage when reaping it: its own usage and
// its children's. p.mu held.
func (p *Process) totalUsageLocked() Rusage {
	u := p.usage.done
	u.add(p.usage.children)
	return u
}

// addChildUsage counts a reaped child's usage in p's.
func (p *Process) addChildUsage(u Rusage) {
	p.mu.Lock()
	p.usage.children.add(u)
	p.mu.Unlock()
}

// threadCPU is implemented by platform threads that can read their own
// CPU clock (the host thread's).
type threadCPU interface {
	CPUTime() (time.Duration, error)
}

// ThreadCPU returns the CPU time of the thread alone, if the platform can
// measure it.
func (t *Task) ThreadCPU() (time.Duration, bool) {
	th, ok := t.Thread.(threadCPU)
	if !ok {
		return 0, false
	}
	d, err := th.CPUTime()
	if err != nil {
		return 0, false
	}
	return d, true
}

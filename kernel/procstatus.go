package kernel

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// StatusText is /proc/<pid>/status in Linux's format, with the fields
// programs read. What the kernel does not track is shown the way Linux
// shows its neutral value (no tracer, no locked pages), and two values
// are approximations: State is "R (running)" for every live process that
// is not stopped (sleeping is not tracked), and VmRSS/VmHWM are the memory
// mapped now and at most (an upper bound of the resident set, as
// getrusage's maxrss).
func (p *Process) StatusText() string {
	c, name := p.Creds(), p.Comm()
	p.mu.Lock()
	umask := p.umask
	state := "R (running)"
	switch {
	case p.zombie:
		state = "Z (zombie)"
	case p.stopped:
		state = "T (stopped)"
	}
	ppid := 0
	if p.parent != nil {
		ppid = p.parent.PID
	}
	pgid, sid, threads := p.pgid, p.sid, len(p.tasks)
	shdPnd := p.pending.set()
	leader := p.tasks[p.PID]
	mm := p.MM
	p.mu.Unlock()
	var sigPnd, sigBlk uint64
	affinity := []uint64(nil)
	if leader != nil {
		leader.mu.Lock()
		sigPnd, sigBlk = leader.pending.set(), leader.mask
		affinity = leader.sched.Affinity
		leader.mu.Unlock()
	}
	var ign, cgt uint64
	for sig := 1; sig <= 64; sig++ {
		switch h := p.sighand.get(unix.Signal(sig)).Handler; h {
		case SigIgn:
			ign |= sigBit(unix.Signal(sig))
		case SigDfl:
		default:
			cgt |= sigBit(unix.Signal(sig))
		}
	}
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	f("Name:\t%s\nUmask:\t%04o\nState:\t%s\n", escapeComm(name), umask, state)
	f("Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", p.PID, p.PID, ppid)
	f("Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n", c.UID, c.EUID, c.SUID, c.FSUID, c.GID, c.EGID, c.SGID, c.FSGID)
	f("FDSize:\t%d\nGroups:\t", fdSize(p))
	for i, g := range c.Groups() {
		if i > 0 {
			b.WriteByte(' ')
		}
		f("%d", g)
	}
	f(" \nNStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\nKthread:\t0\n", p.PID, p.PID, pgid, sid)
	if mm != nil {
		size, peak := mm.Mapped()/1024, mm.Peak()/1024
		f("VmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmLck:\t%8d kB\nVmPin:\t%8d kB\nVmHWM:\t%8d kB\nVmRSS:\t%8d kB\n",
			peak, size, 0, 0, peak, size)
	}
	f("Threads:\t%d\nSigQ:\t%d/%d\n", threads, p.k.sigPending.Load(), p.sigPendingLimit())
	f("SigPnd:\t%016x\nShdPnd:\t%016x\nSigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n", sigPnd, shdPnd, sigBlk, ign, cgt)
	f("CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\n",
		uint64(c.Inheritable), uint64(c.Permitted), uint64(c.Effective), uint64(c.Bounding), uint64(c.Ambient))
	// The guest always has no_new_privs (prctl says so too); its own
	// seccomp filters are not installed (the sandbox's are litebox's).
	f("NoNewPrivs:\t1\nSeccomp:\t0\nSeccomp_filters:\t0\n")
	mask, list := cpuList(affinity)
	f("Cpus_allowed:\t%s\nCpus_allowed_list:\t%s\nMems_allowed_list:\t0\n", mask, list)
	f("voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n")
	return b.String()
}

// escapeComm escapes a name as Linux's proc_task_name does: "\n" and "\\"
// so that the line stays one line.
func escapeComm(s string) string {
	return strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(s)
}

// fdSize is Linux's FDSize: the descriptor table's capacity, 64 until a
// descriptor needs more, then a power of two from 128.
func fdSize(p *Process) int {
	high := -1
	for _, fd := range p.FDs.FDs() {
		high = max(high, fd)
	}
	if high < 64 {
		return 64
	}
	n := 128
	for n <= high {
		n *= 2
	}
	return n
}

// cpuList renders an affinity mask (nil: every CPU) as Cpus_allowed (hex
// words, most significant first, comma-separated per 32 bits) and
// Cpus_allowed_list (ranges).
func cpuList(mask []uint64) (string, string) {
	n := NumCPU()
	on := func(i int) bool {
		if mask == nil {
			return true
		}
		return i/64 < len(mask) && mask[i/64]&(1<<(i%64)) != 0
	}
	words := (n + 31) / 32
	var hex []string
	for w := words - 1; w >= 0; w-- {
		var v uint32
		for bit := 0; bit < 32; bit++ {
			if i := w*32 + bit; i < n && on(i) {
				v |= 1 << bit
			}
		}
		if w == words-1 {
			hex = append(hex, fmt.Sprintf("%x", v))
		} else {
			hex = append(hex, fmt.Sprintf("%08x", v))
		}
	}
	var ranges []string
	for i := 0; i < n; {
		if !on(i) {
			i++
			continue
		}
		j := i
		for j+1 < n && on(j+1) {
			j++
		}
		if i == j {
			ranges = append(ranges, fmt.Sprint(i))
		} else {
			ranges = append(ranges, fmt.Sprintf("%d-%d", i, j))
		}
		i = j + 1
	}
	return strings.Join(hex, ","), strings.Join(ranges, ",")
}

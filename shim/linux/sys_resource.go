package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/cred"
)

// rusageSize is sizeof(struct rusage) on x86-64: two timevals and 14 longs.
const rusageSize = 144

// encodeRusage lays out a struct rusage: the CPU time as user time (see
// kernel.Rusage) and maxrss in KiB; the counters litebox does not keep
// (faults, block I/O, context switches) are 0.
func encodeRusage(u kernel.Rusage) []byte {
	b := make([]byte, rusageSize)
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(u.CPU/time.Second))
	le.PutUint64(b[8:], uint64(u.CPU%time.Second/time.Microsecond))
	le.PutUint64(b[32:], u.MaxRSS/1024)
	return b
}

func sysGetrusage(t *kernel.Task, a args) (uint64, error) {
	var u kernel.Rusage
	switch int32(a[0]) {
	case unix.RUSAGE_SELF:
		u = t.SelfUsage()
	case unix.RUSAGE_CHILDREN:
		u = t.Proc.ChildrenUsage()
	case unix.RUSAGE_THREAD:
		u = t.ThreadUsage()
	default:
		return 0, unix.EINVAL
	}
	return 0, t.CopyOut(a[1], encodeRusage(u))
}

// clockTicks is USER_HZ, the unit of times(2).
const clockTicks = 100

func ticks(d time.Duration) uint64 { return uint64(d / (time.Second / clockTicks)) }

// sysTimes reports the process's and its reaped children's CPU time in
// clock ticks (all user time, see kernel.Rusage) and returns the ticks
// since the sandbox booted, Linux's "arbitrary point in the past".
func sysTimes(t *kernel.Task, a args) (uint64, error) {
	if a[0] != 0 {
		b := make([]byte, 32) // struct tms
		binary.LittleEndian.PutUint64(b[0:], ticks(t.SelfUsage().CPU))
		binary.LittleEndian.PutUint64(b[16:], ticks(t.Proc.ChildrenUsage().CPU))
		if err := t.CopyOut(a[0], b); err != nil {
			return 0, err
		}
	}
	return ticks(time.Since(t.Proc.Kernel().BootTime())), nil
}

// Capability header versions (linux/capability.h).
const (
	capVersion1 = 0x19980330
	capVersion2 = 0x20071026
	capVersion3 = 0x20080522
)

// capHeader reads a capability header: the number of 32-bit data structs
// the version takes, and the pid. An unknown version is answered with the
// one the kernel prefers, written back into the header, and EINVAL.
func capHeader(t *kernel.Task, addr uint64) (int, int32, error) {
	b, err := t.CopyIn(addr, 8)
	if err != nil {
		return 0, 0, err
	}
	n := 0
	switch binary.LittleEndian.Uint32(b) {
	case capVersion1:
		n = 1
	case capVersion2, capVersion3:
		n = 2
	default:
		if err := t.WriteU32(addr, capVersion3); err != nil {
			return 0, 0, err
		}
		return 0, 0, unix.EINVAL
	}
	return n, int32(binary.LittleEndian.Uint32(b[4:])), nil
}

// sysCapget reports a sandbox thread's capabilities from its process's
// credentials (none for an ordinary guest user; a "root" guest's are the
// kernel's own checks, never the host's).
func sysCapget(t *kernel.Task, a args) (uint64, error) {
	n, pid, err := capHeader(t, a[0])
	if a[1] == 0 && (err == nil || err == unix.EINVAL) {
		return 0, nil // a probe for the preferred version
	}
	if err != nil {
		return 0, err
	}
	if pid < 0 {
		return 0, unix.EINVAL
	}
	target := t
	if pid != 0 {
		if target, err = t.FindTask(int(pid)); err != nil {
			return 0, err
		}
	}
	c := target.Proc.Creds()
	out := make([]byte, 12*n)
	for i := 0; i < n; i++ {
		// struct __user_cap_data_struct {effective, permitted, inheritable}:
		// word i holds capabilities 32*i to 32*i+31.
		binary.LittleEndian.PutUint32(out[12*i:], uint32(uint64(c.Effective)>>(32*i)))
		binary.LittleEndian.PutUint32(out[12*i+4:], uint32(uint64(c.Permitted)>>(32*i)))
		binary.LittleEndian.PutUint32(out[12*i+8:], uint32(uint64(c.Inheritable)>>(32*i)))
	}
	return 0, t.CopyOut(a[1], out)
}

// sysCapset changes the calling thread's process's capability sets within
// what it holds (kernel/cred's Capset: dropping is allowed, raising is
// EPERM). Only the caller's own sets: another pid is EPERM, as Linux.
func sysCapset(t *kernel.Task, a args) (uint64, error) {
	n, pid, err := capHeader(t, a[0])
	if err != nil {
		return 0, err
	}
	if pid != 0 && int(pid) != t.TID {
		return 0, unix.EPERM
	}
	b, err := t.CopyIn(a[1], 12*n)
	if err != nil {
		return 0, err
	}
	var eff, perm, inh cred.CapSet
	for i := 0; i < n; i++ {
		// Word i holds capabilities 32*i to 32*i+31 (version 1: the low
		// word only, the others cleared as Linux does).
		eff |= cred.CapSet(binary.LittleEndian.Uint32(b[12*i:])) << (32 * i)
		perm |= cred.CapSet(binary.LittleEndian.Uint32(b[12*i+4:])) << (32 * i)
		inh |= cred.CapSet(binary.LittleEndian.Uint32(b[12*i+8:])) << (32 * i)
	}
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
		return c.Capset(eff&cred.AllCaps, perm&cred.AllCaps, inh&cred.AllCaps)
	})
}

package linux

import (
	"encoding/binary"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/cred"
)

// sysXattr serves the extended-attribute calls: our file systems keep no
// extended attributes, which Linux reports the same way for file systems
// without xattr support.
func sysXattr(t *kernel.Task, a args) (uint64, error) { return 0, unix.EOPNOTSUPP }

func sysFadvise64(t *kernel.Task, a args) (uint64, error) {
	if _, err := t.Proc.FDs.Get(fdArg(a[0])); err != nil {
		return 0, err
	}
	if int64(a[2]) < 0 || a[3] > unix.FADV_NOREUSE {
		return 0, unix.EINVAL
	}
	return 0, nil // advice only: our files have no page cache to tune
}

func sysSysinfo(t *kernel.Task, a args) (uint64, error) {
	b := make([]byte, 112) // struct sysinfo on x86-64
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(time.Since(t.Proc.Kernel().BootTime())/time.Second))
	var host unix.Sysinfo_t
	if err := unix.Sysinfo(&host); err == nil {
		unit := uint64(host.Unit)
		if unit == 0 {
			unit = 1
		}
		total := host.Totalram * unit
		used := min(t.Proc.MM.Mapped(), total)
		le.PutUint64(b[32:], total)      // totalram
		le.PutUint64(b[40:], total-used) // freeram
	}
	le.PutUint16(b[80:], uint16(len(t.Proc.Kernel().PIDs()))) // procs
	le.PutUint32(b[104:], 1)                                  // mem_unit
	return 0, t.CopyOut(a[0], b)
}

func sysSchedGetaffinity(t *kernel.Task, a args) (uint64, error) {
	pid, size := int(int32(a[0])), a[1]
	if pid != 0 && pid != t.Proc.PID {
		return 0, unix.ESRCH
	}
	// The guest's threads run on the host's CPUs; report the ones this
	// process may use.
	n := runtime.NumCPU()
	bytes := (n + 63) / 64 * 8
	if size < uint64(bytes) || size%8 != 0 {
		return 0, unix.EINVAL
	}
	mask := make([]byte, bytes)
	for i := 0; i < n; i++ {
		mask[i/8] |= 1 << (i % 8)
	}
	return uint64(bytes), t.CopyOut(a[2], mask)
}

// sysGetcpu reports a CPU of the affinity mask sched_getaffinity gives, on
// node 0. Which host CPU a stub runs on is not the guest's business (and
// would be stale at once); a fixed CPU per thread, spread over the CPUs by
// thread id, keeps per-CPU caches in the guest spread as they would be.
// The third argument (a cache) has been unused since Linux 2.6.24.
func sysGetcpu(t *kernel.Task, a args) (uint64, error) {
	cpu := uint32((t.TID - 1) % runtime.NumCPU())
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

func sysPrctl(t *kernel.Task, a args) (uint64, error) {
	switch a[0] {
	case unix.PR_SET_NAME:
		name, err := readString(t, a[1], 4096)
		if err != nil {
			return 0, err
		}
		if len(name) > 15 {
			name = name[:15]
		}
		t.Proc.SetComm(name)
		return 0, nil
	case unix.PR_GET_NAME:
		b := make([]byte, 16)
		copy(b, t.Proc.Comm())
		return 0, t.CopyOut(a[1], b)
	case unix.PR_GET_DUMPABLE:
		return 1, nil
	case unix.PR_SET_DUMPABLE:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		return 1, nil // the guest can never gain privileges
	case unix.PR_SET_NO_NEW_PRIVS:
		if a[1] != 1 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case unix.PR_CAPBSET_READ:
		// The bounding set is full, as a Linux process's normally is (no
		// call lowers it); what a process holds is its permitted and
		// effective sets (kernel/cred), powers over the kernel's own
		// checks only.
		if a[1] > uint64(cred.CapLastCap) {
			return 0, unix.EINVAL
		}
		return 1, nil
	}
	t.Proc.Kernel().Unsupported("prctl option", unix.SYS_PRCTL, t.Proc.PID)
	return 0, unix.EINVAL
}

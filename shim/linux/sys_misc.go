package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/cred"
)

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
		if lim := t.Proc.Kernel().MemoryLimit(); lim > 0 {
			// The guest's RAM is what --memory lets it map.
			total = min(total, lim)
		}
		used := min(t.Proc.MM.Mapped(), total)
		le.PutUint64(b[32:], total)      // totalram
		le.PutUint64(b[40:], total-used) // freeram
	}
	le.PutUint16(b[80:], uint16(len(t.Proc.Kernel().PIDs()))) // procs
	le.PutUint32(b[104:], 1)                                  // mem_unit
	return 0, t.CopyOut(a[0], b)
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

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
		// The bounding set (full unless the sandbox's command set it, an
		// OCI spec's): capabilities are powers over the kernel's own
		// checks only (kernel/cred).
		if a[1] > uint64(cred.CapLastCap) {
			return 0, unix.EINVAL
		}
		if t.Proc.Creds().Bounding.Has(cred.Cap(a[1])) {
			return 1, nil
		}
		return 0, nil
	case unix.PR_CAPBSET_DROP:
		if a[1] > uint64(cred.CapLastCap) {
			return 0, unix.EINVAL
		}
		return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
			return c.DropBounding(cred.Cap(a[1]))
		})
	case unix.PR_CAP_AMBIENT:
		return prCapAmbient(t, a)
	}
	t.Proc.Kernel().Unsupported("prctl option", unix.SYS_PRCTL, t.Proc.PID)
	return 0, unix.EINVAL
}

// prCapAmbient is prctl(PR_CAP_AMBIENT, op, cap, 0, 0), as Linux: a
// capability may be raised only when it is permitted and inheritable.
func prCapAmbient(t *kernel.Task, a args) (uint64, error) {
	if a[1] == unix.PR_CAP_AMBIENT_CLEAR_ALL {
		if a[2]|a[3]|a[4] != 0 {
			return 0, unix.EINVAL
		}
		return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) { return c.ClearAmbient(), nil })
	}
	if a[2] > uint64(cred.CapLastCap) || a[3]|a[4] != 0 {
		return 0, unix.EINVAL
	}
	cp := cred.Cap(a[2])
	switch a[1] {
	case unix.PR_CAP_AMBIENT_IS_SET:
		if t.Proc.Creds().Ambient.Has(cp) {
			return 1, nil
		}
		return 0, nil
	case unix.PR_CAP_AMBIENT_RAISE, unix.PR_CAP_AMBIENT_LOWER:
		raise := a[1] == unix.PR_CAP_AMBIENT_RAISE
		return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) { return c.SetAmbient(cp, raise) })
	}
	return 0, unix.EINVAL
}

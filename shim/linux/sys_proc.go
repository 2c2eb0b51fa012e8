package linux

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/cred"
)

func sysExit(t *kernel.Task, a args) (uint64, error) { return 0, &kernel.Exit{Code: int(a[0] & 0xff)} }

func sysGetpid(t *kernel.Task, a args) (uint64, error) { return uint64(t.Proc.Getpid()), nil }

func sysGettid(t *kernel.Task, a args) (uint64, error) { return uint64(t.TID), nil }

func sysGetppid(t *kernel.Task, a args) (uint64, error) { return uint64(t.Proc.Getppid()), nil }

func sysSetTidAddress(t *kernel.Task, a args) (uint64, error) {
	t.SetClearTID(a[0])
	return uint64(t.TID), nil
}

// sysSetRobustList records the thread's robust list head; the kernel
// walks it when the thread exits or execs (kernel/robust.go).
func sysSetRobustList(t *kernel.Task, a args) (uint64, error) {
	if a[1] != kernel.RobustListHeadSize {
		return 0, unix.EINVAL
	}
	t.SetRobustList(a[0])
	return 0, nil
}

// sysGetRobustList stores a thread's robust list head and its size.
func sysGetRobustList(t *kernel.Task, a args) (uint64, error) {
	head, err := t.GetRobustList(int(int32(a[0])))
	if err != nil {
		return 0, err
	}
	if err := t.WriteU64(a[1], head); err != nil {
		return 0, err
	}
	return 0, t.WriteU64(a[2], kernel.RobustListHeadSize)
}

func sysGetrlimit(t *kernel.Task, a args) (uint64, error) {
	r, err := t.Proc.Getrlimit(int(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeRlimit(r))
}

func sysSetrlimit(t *kernel.Task, a args) (uint64, error) {
	r, err := readRlimit(t, a[1])
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Setrlimit(int(a[0]), r)
}

func sysSchedYield(t *kernel.Task, a args) (uint64, error) { runtime.Gosched(); return 0, nil }

func sysExitGroup(t *kernel.Task, a args) (uint64, error) {
	t.Proc.Kill(kernel.WaitStatusExited(int(a[0] & 0xff)))
	return 0, &kernel.Exit{Code: int(a[0] & 0xff)}
}

func sysArchPrctl(t *kernel.Task, a args) (uint64, error) {
	switch a[0] {
	case archSetFS:
		if a[1] >= 1<<47 {
			return 0, unix.EPERM
		}
		t.Regs.Fs_base = a[1]
		return 0, nil
	case archSetGS:
		if a[1] >= 1<<47 {
			return 0, unix.EPERM
		}
		t.Regs.Gs_base = a[1]
		return 0, nil
	case archGetFS:
		return 0, t.WriteU64(a[1], t.Regs.Fs_base)
	case archGetGS:
		return 0, t.WriteU64(a[1], t.Regs.Gs_base)
	}
	return 0, unix.EINVAL
}

func encodeRlimit(r unix.Rlimit) []byte {
	b := binary.LittleEndian.AppendUint64(nil, r.Cur)
	return binary.LittleEndian.AppendUint64(b, r.Max)
}

func readRlimit(t *kernel.Task, addr uint64) (unix.Rlimit, error) {
	b, err := t.CopyIn(addr, 16)
	if err != nil {
		return unix.Rlimit{}, err
	}
	return unix.Rlimit{Cur: binary.LittleEndian.Uint64(b), Max: binary.LittleEndian.Uint64(b[8:])}, nil
}

func sysPrlimit(t *kernel.Task, a args) (uint64, error) {
	pid, res := int(int32(a[0])), int(int32(a[1]))
	if pid != 0 && pid != t.Proc.PID {
		return 0, unix.ESRCH
	}
	old, err := t.Proc.Getrlimit(res)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		r, err := readRlimit(t, a[2])
		if err != nil {
			return 0, err
		}
		if err := t.Proc.Setrlimit(res, r); err != nil {
			return 0, err
		}
	}
	if a[3] != 0 {
		return 0, t.CopyOut(a[3], encodeRlimit(old))
	}
	return 0, nil
}

// Release is the kernel release the guest sees: our own answer, recent
// enough for glibc and musl.
const Release = "6.1.0-litebox"

func sysUname(t *kernel.Task, a args) (uint64, error) {
	b := make([]byte, 6*65)
	for i, s := range []string{"Linux", t.Proc.Kernel().Hostname(), Release,
		"#1 SMP LiteBox-Go", "x86_64", t.Proc.Kernel().Domainname()} {
		copy(b[i*65:i*65+64], s)
	}
	return 0, t.CopyOut(a[0], b)
}

// newUTSLen is __NEW_UTS_LEN: the longest host or domain name.
const newUTSLen = 64

// sysSetUTSName is sethostname and setdomainname: the sandbox is the
// guest's UTS namespace, so a caller with CAP_SYS_ADMIN (the guest's
// root, --user 0) renames it; anyone else gets EPERM, checked first as
// Linux does. The name is len bytes (a NUL among them is kept, as Linux
// copies len bytes; uname shows up to the first).
func sysSetUTSName(set func(*kernel.Kernel, string)) func(*kernel.Task, args) (uint64, error) {
	return func(t *kernel.Task, a args) (uint64, error) {
		if !t.Proc.Creds().Capable(cred.CapSysAdmin) {
			return 0, unix.EPERM
		}
		n := int32(a[1])
		if n < 0 || n > newUTSLen {
			return 0, unix.EINVAL
		}
		b, err := t.CopyIn(a[0], int(n))
		if err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		set(t.Proc.Kernel(), string(b))
		return 0, nil
	}
}

var (
	sysSethostname   = sysSetUTSName((*kernel.Kernel).SetHostname)
	sysSetdomainname = sysSetUTSName((*kernel.Kernel).SetDomainname)
)

func sysGetrandom(t *kernel.Task, a args) (uint64, error) {
	if a[2]&^(unix.GRND_NONBLOCK|unix.GRND_RANDOM|unix.GRND_INSECURE) != 0 ||
		a[2]&(unix.GRND_RANDOM|unix.GRND_INSECURE) == unix.GRND_RANDOM|unix.GRND_INSECURE {
		return 0, unix.EINVAL
	}
	n := min(a[1], 1<<25-1) // Linux returns at most 32 MiB - 1 per call
	buf := make([]byte, min(n, ioChunk))
	var done uint64
	for done < n {
		chunk := buf[:min(uint64(len(buf)), n-done)]
		if _, err := rand.Read(chunk); err != nil {
			return 0, err
		}
		if n, err := t.Mem.CopyOut(a[0]+done, chunk); err != nil {
			// Like Linux, report the bytes that landed before the fault.
			if done += uint64(n); done > 0 {
				return done, nil
			}
			return 0, unix.EFAULT
		}
		done += uint64(len(chunk))
	}
	return done, nil
}

// arch_prctl codes (asm/prctl.h).
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
	archGetFS = 0x1003
	archGetGS = 0x1004
)

package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func init() {
	register(unix.SYS_RT_SIGACTION, sysRtSigaction)
	register(unix.SYS_RT_SIGPROCMASK, sysRtSigprocmask)
	register(unix.SYS_KILL, func(t *Task, a args) (uint64, error) {
		pid := int(int32(a[0]))
		if pid != 0 && pid != -1 && pid != t.Proc.PID && pid != -t.Proc.PID {
			return 0, unix.ESRCH
		}
		return signalSelf(t, a[1])
	})
	register(unix.SYS_TGKILL, func(t *Task, a args) (uint64, error) {
		if int(int32(a[0])) <= 0 || int(int32(a[1])) <= 0 {
			return 0, unix.EINVAL
		}
		if int(int32(a[0])) != t.Proc.PID || int(int32(a[1])) != t.Proc.PID {
			return 0, unix.ESRCH
		}
		return signalSelf(t, a[2])
	})
	register(unix.SYS_TKILL, func(t *Task, a args) (uint64, error) {
		if int(int32(a[0])) <= 0 {
			return 0, unix.EINVAL
		}
		if int(int32(a[0])) != t.Proc.PID {
			return 0, unix.ESRCH
		}
		return signalSelf(t, a[1])
	})
}

// signalSelf applies a signal the process sent to itself.
func signalSelf(t *Task, sigArg uint64) (uint64, error) {
	sig := unix.Signal(int32(sigArg))
	outcome, err := t.Proc.SendSignal(sig)
	if err != nil {
		return 0, err
	}
	switch outcome {
	case kernel.SignalTerminates:
		return 0, &Exit{Signal: sig}
	case kernel.SignalHandled, kernel.SignalBlocked:
		// Running guest signal handlers (and keeping blocked signals
		// pending) is not built yet; say so rather than pretend.
		t.Proc.Kernel().Unsupported("signal delivery to a guest handler", unix.SYS_KILL, t.Proc.PID)
		return 0, unix.ENOSYS
	}
	return 0, nil
}

func sysRtSigaction(t *Task, a args) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	var act *kernel.SigAction
	if a[1] != 0 {
		b, err := t.copyIn(a[1], 32)
		if err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		act = &kernel.SigAction{Handler: le.Uint64(b), Flags: le.Uint64(b[8:]),
			Restorer: le.Uint64(b[16:]), Mask: le.Uint64(b[24:])}
	}
	old, err := t.Proc.Sigaction(int(int32(a[0])), act)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		b := binary.LittleEndian.AppendUint64(nil, old.Handler)
		b = binary.LittleEndian.AppendUint64(b, old.Flags)
		b = binary.LittleEndian.AppendUint64(b, old.Restorer)
		b = binary.LittleEndian.AppendUint64(b, old.Mask)
		return 0, t.copyOut(a[2], b)
	}
	return 0, nil
}

func sysRtSigprocmask(t *Task, a args) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	var set *uint64
	if a[1] != 0 {
		v, err := t.readU64(a[1])
		if err != nil {
			return 0, err
		}
		set = &v
	}
	old, err := t.Proc.Sigprocmask(int(int32(a[0])), set)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		return 0, t.writeU64(a[2], old)
	}
	return 0, nil
}

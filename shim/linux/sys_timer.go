package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// POSIX timers, timerfd, signalfd and pidfd (kernel/posixtimer.go,
// timerfd.go, signalfd.go, pidfd.go).

// sigeventSize is sizeof(struct sigevent).
const sigeventSize = 64

func sysTimerCreate(t *kernel.Task, a args) (uint64, error) {
	var ev *kernel.Sigevent
	if a[1] != 0 {
		b, err := t.CopyIn(a[1], sigeventSize)
		if err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		ev = &kernel.Sigevent{Value: le.Uint64(b), Signo: unix.Signal(int32(le.Uint32(b[8:]))),
			Notify: int32(le.Uint32(b[12:])), TID: int(int32(le.Uint32(b[16:])))}
	}
	id, err := t.TimerCreate(int32(a[0]), ev)
	if err != nil {
		return 0, err
	}
	if err := t.WriteU32(a[2], uint32(id)); err != nil {
		_ = t.TimerDelete(id)
		return 0, err
	}
	return 0, nil
}

// readItimerspec reads a struct itimerspec (interval, then value),
// EINVAL for an invalid timespec as Linux's itimerspec64_valid.
func readItimerspec(t *kernel.Task, addr uint64) (kernel.TimerSpec, error) {
	b, err := t.CopyIn(addr, 32)
	if err != nil {
		return kernel.TimerSpec{}, err
	}
	iv, ok1 := timespecDuration(b[0:16])
	v, ok2 := timespecDuration(b[16:32])
	if !ok1 || !ok2 {
		return kernel.TimerSpec{}, unix.EINVAL
	}
	return kernel.TimerSpec{Interval: iv, Value: v}, nil
}

// timespecDuration decodes a timespec, saturating far from overflow.
func timespecDuration(b []byte) (time.Duration, bool) {
	sec, nsec := int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, false
	}
	sec = min(sec, int64(1<<62)/1e9)
	return time.Duration(sec)*time.Second + time.Duration(nsec), true
}

func encodeItimerspec(s kernel.TimerSpec) []byte {
	return append(encodeTimespec(s.Interval), encodeTimespec(s.Value)...)
}

// writeOldSpec copies a previous setting out if the guest asked for it.
func writeOldSpec(t *kernel.Task, addr uint64, s kernel.TimerSpec) error {
	if addr == 0 {
		return nil
	}
	return t.CopyOut(addr, encodeItimerspec(s))
}

func sysTimerSettime(t *kernel.Task, a args) (uint64, error) {
	if a[2] == 0 {
		return 0, unix.EINVAL
	}
	spec, err := readItimerspec(t, a[2])
	if err != nil {
		return 0, err
	}
	old, err := t.TimerSettime(int32(a[0]), a[1]&unix.TIMER_ABSTIME != 0, spec)
	if err != nil {
		return 0, err
	}
	return 0, writeOldSpec(t, a[3], old)
}

func sysTimerGettime(t *kernel.Task, a args) (uint64, error) {
	s, err := t.TimerGettime(int32(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeItimerspec(s))
}

func sysTimerGetoverrun(t *kernel.Task, a args) (uint64, error) {
	n, err := t.TimerGetoverrun(int32(a[0]))
	return uint64(n), err
}

func sysTimerDelete(t *kernel.Task, a args) (uint64, error) {
	return 0, t.TimerDelete(int32(a[0]))
}

func sysTimerfdCreate(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Proc.TimerfdCreate(int32(a[0]), int(int32(a[1])))
	return uint64(fd), err
}

func sysTimerfdSettime(t *kernel.Task, a args) (uint64, error) {
	spec, err := readItimerspec(t, a[2])
	if err != nil && err != unix.EINVAL {
		return 0, err
	}
	old, serr := t.Proc.TimerfdSettime(fdArg(a[0]), int(int32(a[1])), spec, err == nil)
	if serr != nil {
		return 0, serr
	}
	return 0, writeOldSpec(t, a[3], old)
}

func sysTimerfdGettime(t *kernel.Task, a args) (uint64, error) {
	s, err := t.Proc.TimerfdGettime(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeItimerspec(s))
}

func sysSignalfd(t *kernel.Task, a args) (uint64, error) {
	return signalfd(t, a, 0)
}

func sysSignalfd4(t *kernel.Task, a args) (uint64, error) {
	return signalfd(t, a, int(int32(a[3])))
}

func signalfd(t *kernel.Task, a args, flags int) (uint64, error) {
	mask, err := readSigset(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	fd, err := t.Proc.Signalfd(fdArg(a[0]), mask, flags)
	return uint64(fd), err
}

func sysPidfdOpen(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.PidfdOpen(int(int32(a[0])), int(a[1]))
	return uint64(fd), err
}

// sysPidfdSendSignal checks as Linux's pidfd_send_signal, in its order:
// flags, descriptor, siginfo, signal. A caller-made siginfo must claim a
// negative si_code other than SI_TKILL unless it signals its own process.
func sysPidfdSendSignal(t *kernel.Task, a args) (uint64, error) {
	flags := int(a[3])
	if !kernel.PidfdSignalFlagsValid(flags) {
		return 0, unix.EINVAL
	}
	target, _, err := t.Proc.PidfdProcess(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	sig := unix.Signal(int32(a[1]))
	info := senderInfo(t, sig, kernel.SIUser)
	if a[2] != 0 {
		b, err := t.CopyIn(a[2], 128)
		if err != nil {
			return 0, err
		}
		if unix.Signal(int32(binary.LittleEndian.Uint32(b))) != sig {
			return 0, unix.EINVAL
		}
		if info, err = callerSiginfo(b, sig, target != t.Proc || flags == kernel.PidfdSignalProcessGroup); err != nil {
			return 0, err
		}
	}
	return 0, t.PidfdSignal(target, info, flags)
}

func sysPidfdGetfd(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.PidfdGetfd(fdArg(a[0]), fdArg(a[1]), int(a[2]))
	return uint64(fd), err
}

// callerSiginfo decodes a siginfo_t a caller made for sig (the _rt
// member: pid, uid, sigval). Not even root may claim the kernel or kill as
// its sender (si_code >= 0, SI_TKILL) towards anyone but itself (other).
func callerSiginfo(b []byte, sig unix.Signal, other bool) (kernel.SigInfo, error) {
	le := binary.LittleEndian
	code := int32(le.Uint32(b[8:]))
	if other && (code >= 0 || code == kernel.SITkill) {
		return kernel.SigInfo{}, unix.EPERM
	}
	return kernel.SigInfo{Signo: sig, Errno: int32(le.Uint32(b[4:])), Code: code,
		Pid: int32(le.Uint32(b[16:])), Uid: le.Uint32(b[20:]), Value: le.Uint64(b[24:])}, nil
}

// sysRtSigqueueinfo is sigqueue(3): a signal with the caller's siginfo to
// a process.
func sysRtSigqueueinfo(t *kernel.Task, a args) (uint64, error) {
	pid := int(int32(a[0]))
	b, err := t.CopyIn(a[2], 128)
	if err != nil {
		return 0, err
	}
	sig := unix.Signal(int32(a[1]))
	info, err := callerSiginfo(b, sig, pid != t.Proc.PID)
	if err != nil {
		return 0, err
	}
	target, ok := t.Proc.Kernel().Process(pid)
	if !ok || pid <= 0 {
		return 0, unix.ESRCH
	}
	if _, err := sigArg(a[1]); err != nil {
		return 0, err
	}
	return 0, t.Proc.SignalFrom(target, info)
}

// sysRtTgsigqueueinfo is rt_sigqueueinfo for one thread.
func sysRtTgsigqueueinfo(t *kernel.Task, a args) (uint64, error) {
	tgid, tid := int(int32(a[0])), int(int32(a[1]))
	if tgid <= 0 || tid <= 0 {
		return 0, unix.EINVAL
	}
	b, err := t.CopyIn(a[3], 128)
	if err != nil {
		return 0, err
	}
	sig := unix.Signal(int32(a[2]))
	info, err := callerSiginfo(b, sig, tid != t.TID)
	if err != nil {
		return 0, err
	}
	target, ok := t.Proc.Kernel().Task(tid)
	if !ok || target.Proc.PID != tgid {
		return 0, unix.ESRCH
	}
	if _, err := sigArg(a[2]); err != nil {
		return 0, err
	}
	return 0, t.Proc.SignalTaskFrom(target, info)
}

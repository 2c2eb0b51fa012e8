package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func sysRtSigpending(t *kernel.Task, a args) (uint64, error) {
	if a[1] > 8 {
		return 0, unix.EINVAL
	}
	return 0, t.WriteU64(a[0], t.Pending()&t.Mask())
}

func sysRtSigsuspend(t *kernel.Task, a args) (uint64, error) {
	m, err := readSigset(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	t.SaveMask(m)
	<-t.Interruptible().Done()
	return 0, kernel.ERESTARTNOHAND
}

func sysPause(t *kernel.Task, a args) (uint64, error) {
	<-t.Interruptible().Done()
	return 0, kernel.ERESTARTNOHAND
}

func sysTgkill(t *kernel.Task, a args) (uint64, error) {
	tgid, tid := int(int32(a[0])), int(int32(a[1]))
	if tgid <= 0 || tid <= 0 {
		return 0, unix.EINVAL
	}
	return 0, tkill(t, tid, tgid, a[2])
}

func sysTkill(t *kernel.Task, a args) (uint64, error) {
	tid := int(int32(a[0]))
	if tid <= 0 {
		return 0, unix.EINVAL
	}
	return 0, tkill(t, tid, 0, a[1])
}

func sysAlarm(t *kernel.Task, a args) (uint64, error) {
	left, _ := t.Proc.SetAlarm(time.Duration(uint32(a[0]))*time.Second, 0)
	secs := uint64((left + time.Second/2) / time.Second)
	if left > 0 && secs == 0 {
		secs = 1
	}
	return secs, nil
}

func sysGetitimer(t *kernel.Task, a args) (uint64, error) {
	var left, interval time.Duration
	if int32(a[0]) == unix.ITIMER_REAL {
		left, interval = t.Proc.Alarm()
	} else {
		var err error
		if left, interval, err = t.CPUItimer(int(int32(a[0]))); err != nil {
			return 0, err
		}
	}
	return 0, t.CopyOut(a[1], encodeItimerval(interval, left))
}

func encodeItimerval(interval, value time.Duration) []byte {
	b := make([]byte, 32)
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(interval/time.Second))
	le.PutUint64(b[8:], uint64(interval%time.Second/time.Microsecond))
	le.PutUint64(b[16:], uint64(value/time.Second))
	le.PutUint64(b[24:], uint64(value%time.Second/time.Microsecond))
	return b
}

func sysSetitimer(t *kernel.Task, a args) (uint64, error) {
	which := int(int32(a[0]))
	if which != unix.ITIMER_REAL && which != unix.ITIMER_VIRTUAL && which != unix.ITIMER_PROF {
		return 0, unix.EINVAL
	}
	var value, interval time.Duration
	if a[1] != 0 {
		b, err := t.CopyIn(a[1], 32)
		if err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		tv := func(off int) (time.Duration, error) {
			sec, usec := int64(le.Uint64(b[off:])), int64(le.Uint64(b[off+8:]))
			if sec < 0 || usec < 0 || usec >= 1e6 {
				return 0, unix.EINVAL
			}
			// Saturate like Linux's ktime conversion, far from overflow.
			sec = min(sec, int64(1<<62)/1e9)
			return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
		}
		if interval, err = tv(0); err != nil {
			return 0, err
		}
		if value, err = tv(16); err != nil {
			return 0, err
		}
	}
	var left, oldInterval time.Duration
	if which == unix.ITIMER_REAL {
		left, oldInterval = t.Proc.SetAlarm(value, interval)
	} else {
		left, oldInterval, _ = t.SetCPUItimer(which, value, interval)
	}
	if a[2] != 0 {
		return 0, t.CopyOut(a[2], encodeItimerval(oldInterval, left))
	}
	return 0, nil
}

// senderInfo is the siginfo of a signal sent by kill/tgkill.
func senderInfo(t *kernel.Task, sig unix.Signal, code int32) kernel.SigInfo {
	return kernel.SigInfo{Signo: sig, Code: code, Pid: int32(t.Proc.PID), Uid: t.Proc.Creds().UID}
}

func sigArg(v uint64) (unix.Signal, error) {
	s := int(int32(v))
	if s < 0 || s > 64 {
		return 0, unix.EINVAL
	}
	return unix.Signal(s), nil
}

func sysKill(t *kernel.Task, a args) (uint64, error) {
	pid := int(int32(a[0]))
	sig, err := sigArg(a[1])
	if err != nil {
		return 0, err
	}
	info := senderInfo(t, sig, kernel.SIUser)
	k := t.Proc.Kernel()
	switch {
	case pid > 0:
		p, ok := k.Process(pid)
		if !ok {
			return 0, unix.ESRCH
		}
		return 0, t.Proc.SignalFrom(p, info)
	case pid == 0:
		return 0, k.KillGroupFrom(t.Proc, t.Proc.Pgid(), info)
	case pid == -1:
		return 0, k.KillAllFrom(t.Proc, info)
	default:
		return 0, k.KillGroupFrom(t.Proc, -pid, info)
	}
}

func tkill(t *kernel.Task, tid, tgid int, sigv uint64) error {
	sig, err := sigArg(sigv)
	if err != nil {
		return err
	}
	target, ok := t.Proc.Kernel().Task(tid)
	if !ok || (tgid != 0 && target.Proc.PID != tgid) {
		return unix.ESRCH
	}
	return t.Proc.SignalTaskFrom(target, senderInfo(t, sig, kernel.SITkill))
}

func sysRtSigaction(t *kernel.Task, a args) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	var act *kernel.SigAction
	if a[1] != 0 {
		b, err := t.CopyIn(a[1], 32)
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
		return 0, t.CopyOut(a[2], b)
	}
	return 0, nil
}

func sysRtSigprocmask(t *kernel.Task, a args) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	var set *uint64
	if a[1] != 0 {
		v, err := t.ReadU64(a[1])
		if err != nil {
			return 0, err
		}
		set = &v
	}
	old, err := t.Sigprocmask(int(int32(a[0])), set)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		return 0, t.WriteU64(a[2], old)
	}
	return 0, nil
}

func sysSigaltstack(t *kernel.Task, a args) (uint64, error) {
	var set *kernel.AltStack
	if a[0] != 0 {
		b, err := t.CopyIn(a[0], 24)
		if err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		set = &kernel.AltStack{Sp: le.Uint64(b), Flags: int32(le.Uint32(b[8:])), Size: le.Uint64(b[16:])}
	}
	cur := t.AltStackNow()
	onStack := cur.Size != 0 && t.Regs.Rsp-cur.Sp < cur.Size
	old, err := t.SigAltStack(set, onStack)
	if a[1] != 0 {
		b := make([]byte, 24)
		le := binary.LittleEndian
		le.PutUint64(b[0:], old.Sp)
		le.PutUint32(b[8:], uint32(old.Flags))
		le.PutUint64(b[16:], old.Size)
		if cerr := t.CopyOut(a[1], b); cerr != nil {
			return 0, cerr
		}
	}
	return 0, err
}

func sysRtSigtimedwait(t *kernel.Task, a args) (uint64, error) {
	set, err := readSigset(t, a[0], a[3])
	if err != nil {
		return 0, err
	}
	timeout, err := optTimespec(t, a[2])
	if err != nil {
		return 0, err
	}
	var timer <-chan time.Time
	if timeout != nil {
		tm := time.NewTimer(*timeout)
		defer tm.Stop()
		timer = tm.C
	}
	// Wait with the awaited signals unblocked, so that their arrival wakes
	// us; they are taken here rather than delivered.
	old := t.Mask()
	for {
		if info, ok := t.TakeSignal(set); ok {
			if a[1] != 0 {
				if err := t.CopyOut(a[1], marshalSiginfo(info)); err != nil {
					return 0, err
				}
			}
			return uint64(info.Signo), nil
		}
		if timeout != nil && *timeout == 0 {
			return 0, unix.EAGAIN
		}
		t.SaveMaskWaiting(old &^ set)
		wake := t.Interruptible().Done()
		if info, ok := t.TakeSignal(set); ok {
			t.RestoreMask()
			if a[1] != 0 {
				if err := t.CopyOut(a[1], marshalSiginfo(info)); err != nil {
					return 0, err
				}
			}
			return uint64(info.Signo), nil
		}
		select {
		case <-wake:
			if _, ok := t.PeekSignal(set); !ok {
				return 0, kernel.ERESTARTNOHAND // another signal: deliver it
			}
			t.RestoreMask()
		case <-timer:
			t.RestoreMask()
			return 0, unix.EAGAIN
		}
	}
}

// sysRtSigreturn returns from a signal handler: the kernel restores what
// the frame saved, rax included (so Syscall writes the restored value).
func sysRtSigreturn(t *kernel.Task, _ args) (uint64, error) { return t.SignalReturn(), nil }

func marshalSiginfo(info kernel.SigInfo) []byte {
	b := info.Marshal()
	return b[:]
}

// readSigset reads a sigset_t argument of size bytes: the kernel's sigset
// is 8 bytes and any other size is EINVAL, as on Linux.
func readSigset(t *kernel.Task, addr, size uint64) (uint64, error) {
	if size != 8 {
		return 0, unix.EINVAL
	}
	return t.ReadU64(addr)
}

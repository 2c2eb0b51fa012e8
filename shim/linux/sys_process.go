package linux

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/arch"
	"github.com/litebox-go/litebox/kernel"
)

func sysClone(t *kernel.Task, a args) (uint64, error) {
	// x86-64 order: flags, stack, parent_tid, child_tid, tls.
	return clone(t, kernel.CloneArgs{Flags: a[0], Stack: a[1], ParentTID: a[2], ChildTID: a[3], TLS: a[4]})
}

func sysFork(t *kernel.Task, a args) (uint64, error) {
	return clone(t, kernel.CloneArgs{Flags: uint64(unix.SIGCHLD)})
}

func sysVfork(t *kernel.Task, a args) (uint64, error) {
	return clone(t, kernel.CloneArgs{Flags: unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)})
}

func sysExecve(t *kernel.Task, a args) (uint64, error) {
	return execve(t, unix.AT_FDCWD, a[0], a[1], a[2], 0)
}

func sysExecveat(t *kernel.Task, a args) (uint64, error) {
	return execve(t, fdArg(a[0]), a[1], a[2], a[3], int(a[4]))
}

func sysGetpgid(t *kernel.Task, a args) (uint64, error) {
	p, err := processArg(t, int(int32(a[0])))
	if err != nil {
		return 0, err
	}
	return uint64(p.Pgid()), nil
}

func sysGetpgrp(t *kernel.Task, a args) (uint64, error) { return uint64(t.Proc.Pgid()), nil }

func sysGetsid(t *kernel.Task, a args) (uint64, error) {
	p, err := processArg(t, int(int32(a[0])))
	if err != nil {
		return 0, err
	}
	return uint64(p.Sid()), nil
}

func sysSetpgid(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Setpgid(int(int32(a[0])), int(int32(a[1])))
}

func sysSetsid(t *kernel.Task, a args) (uint64, error) {
	sid, err := t.Setsid()
	return uint64(sid), err
}

func processArg(t *kernel.Task, pid int) (*kernel.Process, error) {
	if pid == 0 {
		return t.Proc, nil
	}
	if pid < 0 {
		return nil, unix.ESRCH
	}
	p, ok := t.Proc.Kernel().Process(pid)
	if !ok {
		return nil, unix.ESRCH
	}
	return p, nil
}

// clone serves clone, fork and vfork: the kernel makes and starts the
// child.
func clone(t *kernel.Task, c kernel.CloneArgs) (uint64, error) {
	tid, err := t.Clone(c)
	return uint64(tid), err
}

// maxArgBytes bounds argv+envp of an execve, like ARG_MAX.
const maxArgBytes = 2 << 20

func execve(t *kernel.Task, dirfd int, pathAddr, argvAddr, envpAddr uint64, flags int) (uint64, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	argv, err := readStringArray(t, argvAddr, maxArgBytes)
	if err != nil {
		return 0, err
	}
	envp, err := readStringArray(t, envpAddr, maxArgBytes)
	if err != nil {
		return 0, err
	}
	var abs string
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 && dirfd != unix.AT_FDCWD {
		f, err := t.Proc.FDs.Get(dirfd)
		if err != nil {
			return 0, err
		}
		abs = f.Path()
	} else if abs, err = t.Proc.Path(dirfd, path); err != nil {
		return 0, err
	}
	if err := t.Execve(abs, argv, envp); err != nil {
		return 0, err
	}
	// The new image's registers are in place; rax must stay as set.
	return t.Regs.Rax, nil
}

func sysWait4(t *kernel.Task, a args) (uint64, error) {
	opts := int(a[2])
	if opts&^(unix.WNOHANG|unix.WUNTRACED|unix.WCONTINUED|unix.WALL|unix.WCLONE|unix.WNOTHREAD) != 0 {
		return 0, unix.EINVAL
	}
	res, err := t.Wait(int(int32(a[0])), kernel.WaitOptions{Exited: true,
		Stopped: opts&unix.WUNTRACED != 0, Continued: opts&unix.WCONTINUED != 0, NoHang: opts&unix.WNOHANG != 0})
	if err != nil {
		return 0, err
	}
	if res.PID == 0 {
		return 0, nil
	}
	if a[1] != 0 {
		if err := t.WriteU32(a[1], uint32(res.Status)); err != nil {
			return 0, err
		}
	}
	if a[3] != 0 {
		if err := t.CopyOut(a[3], encodeRusage(res.Usage)); err != nil {
			return 0, err
		}
	}
	return uint64(res.PID), nil
}

func sysWaitid(t *kernel.Task, a args) (uint64, error) {
	idtype, id, opts := int(a[0]), int(int32(a[1])), int(a[3])
	if opts&^(unix.WNOHANG|unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED|unix.WNOWAIT|unix.WALL|unix.WCLONE|unix.WNOTHREAD) != 0 ||
		opts&(unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED) == 0 {
		return 0, unix.EINVAL
	}
	var sel int
	pidfdNonblock := false
	switch idtype {
	case unix.P_ALL:
		sel = -1
	case unix.P_PIDFD:
		target, nonblock, err := t.Proc.PidfdProcess(id)
		if err != nil {
			return 0, err
		}
		sel, pidfdNonblock = target.PID, nonblock
		if sel == 0 {
			return 0, unix.ECHILD
		}
	case unix.P_PID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		sel = id
	case unix.P_PGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		sel = -id
		if id == 0 {
			sel = 0
		}
	default:
		return 0, unix.EINVAL
	}
	noHang := opts&unix.WNOHANG != 0
	res, err := t.Wait(sel, kernel.WaitOptions{Exited: opts&unix.WEXITED != 0, Stopped: opts&unix.WSTOPPED != 0,
		Continued: opts&unix.WCONTINUED != 0, NoHang: noHang || pidfdNonblock, NoWait: opts&unix.WNOWAIT != 0})
	if err != nil {
		return 0, err
	}
	if pidfdNonblock && !noHang && res.PID == 0 {
		return 0, unix.EAGAIN // a nonblocking pidfd's child that has not changed state
	}
	if a[2] != 0 {
		var b [arch.SiginfoSize]byte // all zero when no child changed state
		if res.PID != 0 {
			b = arch.SigInfo{Signo: unix.SIGCHLD, Code: res.Code, Pid: int32(res.PID), Uid: res.UID,
				Status: res.SigStatus}.Marshal()
		}
		if err := t.CopyOut(a[2], b[:]); err != nil {
			return 0, err
		}
	}
	if a[4] != 0 { // the raw syscall's struct rusage
		if err := t.CopyOut(a[4], encodeRusage(res.Usage)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

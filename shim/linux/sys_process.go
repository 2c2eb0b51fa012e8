package linux

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/platform"
)

func sysClone(t *Task, a args) (uint64, error) {
	// x86-64 order: flags, stack, parent_tid, child_tid, tls.
	return t.clone(cloneArgs{flags: a[0], stack: a[1], parentTID: a[2], childTID: a[3], tls: a[4]})
}

func sysFork(t *Task, a args) (uint64, error) {
	return t.clone(cloneArgs{flags: uint64(unix.SIGCHLD)})
}

func sysVfork(t *Task, a args) (uint64, error) {
	return t.clone(cloneArgs{flags: unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)})
}

func sysExecve(t *Task, a args) (uint64, error) { return t.execve(unix.AT_FDCWD, a[0], a[1], a[2], 0) }

func sysExecveat(t *Task, a args) (uint64, error) {
	return t.execve(fdArg(a[0]), a[1], a[2], a[3], int(a[4]))
}

func sysGetpgid(t *Task, a args) (uint64, error) {
	p, err := t.processArg(int(int32(a[0])))
	if err != nil {
		return 0, err
	}
	return uint64(p.Pgid()), nil
}

func sysGetpgrp(t *Task, a args) (uint64, error) { return uint64(t.Proc.Pgid()), nil }

func sysGetsid(t *Task, a args) (uint64, error) {
	p, err := t.processArg(int(int32(a[0])))
	if err != nil {
		return 0, err
	}
	return uint64(p.Sid()), nil
}

func sysSetpgid(t *Task, a args) (uint64, error) {
	return 0, t.K.Setpgid(int(int32(a[0])), int(int32(a[1])))
}

func sysSetsid(t *Task, a args) (uint64, error) {
	sid, err := t.K.Setsid()
	return uint64(sid), err
}

func (t *Task) processArg(pid int) (*kernel.Process, error) {
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

type cloneArgs struct {
	flags                      uint64
	stack, parentTID, childTID uint64
	tls                        uint64
}

// supportedClone are the clone flags the kernel serves. Namespace flags and
// the like are refused rather than ignored.
const supportedClone = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID |
	unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | unix.CLONE_VFORK | unix.CLONE_DETACHED | 0xff

func (t *Task) clone(c cloneArgs) (uint64, error) {
	f := c.flags
	if f&^supportedClone != 0 {
		t.Proc.Kernel().Unsupported(fmt.Sprintf("clone flags %#x", f&^supportedClone), unix.SYS_CLONE, t.Proc.PID)
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0 || f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	if t.Hooks == nil || t.Hooks.Start == nil {
		return 0, unix.ENOSYS
	}
	var (
		kt     *kernel.Task
		as     platform.AddressSpace
		thread platform.Thread
		err    error
	)
	switch {
	case f&unix.CLONE_THREAD != 0:
		if kt, err = t.K.NewThread(); err != nil {
			return 0, err
		}
		as = t.AS
		if thread, err = as.NewThread(); err != nil {
			kt.ExitTask(0)
			return 0, fmt.Errorf("clone thread: %w", err)
		}
	case f&unix.CLONE_VM != 0:
		// A new process sharing the address space (vfork, posix_spawn):
		// a new host thread in the same stub, seen by the guest as a
		// separate process.
		as = t.AS
		if thread, err = as.NewThread(); err != nil {
			return 0, fmt.Errorf("clone vm: %w", err)
		}
		t.Proc.MM.Get()
		kt, err = t.K.Fork(kernel.ForkOptions{MM: t.Proc.MM, ShareFiles: f&unix.CLONE_FILES != 0,
			ExitSignal: unix.Signal(f & 0xff), Vfork: f&unix.CLONE_VFORK != 0})
		if err != nil {
			t.Proc.MM.Put()
			thread.Exit()
			return 0, err
		}
	default:
		if err := t.Proc.MM.CanFork(); err != nil {
			return 0, err
		}
		if as, err = t.AS.Fork(); err != nil {
			return 0, fmt.Errorf("fork: %w", err)
		}
		m := t.Proc.MM.Fork(as)
		kt, err = t.K.Fork(kernel.ForkOptions{MM: m, ShareFiles: f&unix.CLONE_FILES != 0,
			ExitSignal: unix.Signal(f & 0xff), Vfork: f&unix.CLONE_VFORK != 0})
		if err != nil {
			as.Release()
			return 0, err
		}
		if thread, err = as.NewThread(); err != nil {
			return 0, err
		}
	}
	tid := uint64(kt.TID)
	regs := *t.Regs
	regs.Rax = 0
	if c.stack != 0 {
		regs.Rsp = c.stack
	}
	if f&unix.CLONE_SETTLS != 0 {
		regs.Fs_base = c.tls
	}
	child := &Task{K: kt, Proc: kt.Proc, Mem: as, AS: as, Thread: thread, Regs: &regs,
		CPUTime: t.CPUTime, Log: t.Log, Usage: t.Usage, Hooks: t.Hooks}
	if as != t.AS {
		child.CPUTime = cpuTimeOf(as)
	}
	if f&unix.CLONE_PARENT_SETTID != 0 {
		_ = t.writeU32(c.parentTID, uint32(tid))
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		_ = child.writeU32(c.childTID, uint32(tid))
	}
	if f&unix.CLONE_CHILD_CLEARTID != 0 {
		kt.SetClearTID(c.childTID)
	}
	vforkDone := kt.Proc.VforkDone()
	t.Hooks.Start(child)
	if f&unix.CLONE_VFORK != 0 && vforkDone != nil && f&unix.CLONE_THREAD == 0 {
		// The parent sleeps until the child execs or exits. Like Linux's,
		// the wait is killable but not interruptible: an ordinary signal
		// waits for the child (it borrows our stack), a fatal one does not.
		select {
		case <-vforkDone:
		case <-t.K.Dying():
		}
	}
	return tid, nil
}

// cpuTimeOf returns the CPU-time reader of an address space.
func cpuTimeOf(as platform.AddressSpace) func() (int64, error) {
	return func() (int64, error) {
		d, err := as.CPUTime()
		return int64(d), err
	}
}

// maxArgBytes bounds argv+envp of an execve, like ARG_MAX.
const maxArgBytes = 2 << 20

func (t *Task) execve(dirfd int, pathAddr, argvAddr, envpAddr uint64, flags int) (uint64, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	path, err := t.readPath(pathAddr)
	if err != nil {
		return 0, err
	}
	argv, err := t.readStringArray(argvAddr, maxArgBytes)
	if err != nil {
		return 0, err
	}
	envp, err := t.readStringArray(envpAddr, maxArgBytes)
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
	if t.Hooks == nil || t.Hooks.Exec == nil {
		return 0, unix.ENOSYS
	}
	if err := t.Hooks.Exec(t, abs, argv, envp); err != nil {
		return 0, err
	}
	// The new image's registers are in place; rax must stay as set.
	return t.Regs.Rax, nil
}

// ParseShebang reads a "#!interpreter [arg]" line as Linux does: at most
// one argument, the rest of the line included, whitespace-trimmed.
func ParseShebang(head []byte) (interp, arg string, ok bool) {
	if len(head) < 2 || head[0] != '#' || head[1] != '!' {
		return "", "", false
	}
	line := string(head[2:])
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(strings.ReplaceAll(line, "\t", " "))
	if line == "" {
		return "", "", false
	}
	interp, arg, _ = strings.Cut(line, " ")
	return interp, strings.TrimSpace(arg), true
}

func sysWait4(t *Task, a args) (uint64, error) {
	opts := int(a[2])
	if opts&^(unix.WNOHANG|unix.WUNTRACED|unix.WCONTINUED|unix.WALL|unix.WCLONE|unix.WNOTHREAD) != 0 {
		return 0, unix.EINVAL
	}
	res, err := t.K.Wait(int(int32(a[0])), kernel.WaitOptions{Exited: true,
		Stopped: opts&unix.WUNTRACED != 0, Continued: opts&unix.WCONTINUED != 0, NoHang: opts&unix.WNOHANG != 0})
	if err != nil {
		return 0, err
	}
	if res.PID == 0 {
		return 0, nil
	}
	if a[1] != 0 {
		if err := t.writeU32(a[1], uint32(res.Status)); err != nil {
			return 0, err
		}
	}
	if a[3] != 0 {
		if err := t.copyOut(a[3], make([]byte, 144)); err != nil { // struct rusage
			return 0, err
		}
	}
	return uint64(res.PID), nil
}

func sysWaitid(t *Task, a args) (uint64, error) {
	idtype, id, opts := int(a[0]), int(int32(a[1])), int(a[3])
	if opts&^(unix.WNOHANG|unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED|unix.WNOWAIT|unix.WALL|unix.WCLONE|unix.WNOTHREAD) != 0 ||
		opts&(unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED) == 0 {
		return 0, unix.EINVAL
	}
	var sel int
	switch idtype {
	case unix.P_ALL:
		sel = -1
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
	res, err := t.K.Wait(sel, kernel.WaitOptions{Exited: opts&unix.WEXITED != 0, Stopped: opts&unix.WSTOPPED != 0,
		Continued: opts&unix.WCONTINUED != 0, NoHang: opts&unix.WNOHANG != 0, NoWait: opts&unix.WNOWAIT != 0})
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		b := make([]byte, siginfoSize)
		if res.PID != 0 {
			le := binary.LittleEndian
			le.PutUint32(b[0:], uint32(unix.SIGCHLD))
			le.PutUint32(b[8:], uint32(res.Code))
			le.PutUint32(b[16:], uint32(res.PID))
			le.PutUint32(b[20:], kernel.GuestUID)
			le.PutUint32(b[24:], uint32(res.SigStatus))
		}
		if err := t.copyOut(a[2], b); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

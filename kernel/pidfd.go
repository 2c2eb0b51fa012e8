package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// pidFD is a pidfd: a descriptor naming one process. It is readable (poll)
// once the process has exited, and hung up once it has been reaped; it
// cannot be read or written. The pidfd calls also take a descriptor of a
// /proc/<pid> directory as one, as Linux does.
type pidFD struct {
	anonInode
	k *Kernel
	p *Process
}

// pidfd_open's and pidfd_send_signal's flags (linux/pidfd.h).
const (
	PidfdNonblock           = unix.O_NONBLOCK
	pidfdThread             = unix.O_EXCL
	PidfdSignalThread       = 1
	PidfdSignalThreadGroup  = 2
	PidfdSignalProcessGroup = 4
	pidfdSignalFlags        = PidfdSignalThread | PidfdSignalThreadGroup | PidfdSignalProcessGroup
	pidfdName               = "anon_inode:[pidfd]"
)

// PidfdCost is charged per pidfd.
const PidfdCost = 256

// SetPidDir installs the function that tells the pid of a /proc/<pid>
// directory node (procfs).
func (k *Kernel) SetPidDir(f func(vfs.Node) (int, bool)) { k.pidDir = f }

// PidfdOpen returns a new pidfd (close-on-exec) for process pid.
func (t *Task) PidfdOpen(pid int, flags int) (int, error) {
	if flags&^(PidfdNonblock|pidfdThread) != 0 || pid <= 0 {
		return -1, unix.EINVAL
	}
	if flags&pidfdThread != 0 {
		t.Proc.k.Unsupported("pidfd_open PIDFD_THREAD", unix.SYS_PIDFD_OPEN, t.Proc.PID)
		return -1, unix.EINVAL
	}
	k := t.Proc.k
	p, ok := k.Process(pid)
	if !ok {
		if _, isThread := k.Task(pid); isThread {
			return -1, unix.ENOENT // a thread, not a thread-group leader
		}
		return -1, unix.ESRCH
	}
	return t.Proc.installPidfd(p, flags&PidfdNonblock)
}

// installPidfd makes a pidfd for target in p's table.
func (p *Process) installPidfd(target *Process, status int) (int, error) {
	if err := p.k.charge(PidfdCost); err != nil {
		return -1, err
	}
	pf := &pidFD{anonInode: newAnonInode(), k: p.k, p: target}
	return p.installAnon(pidfdName, pf, status, true)
}

// PidfdProcess resolves a pidfd (or /proc/<pid> directory) descriptor: the
// process, and whether the descriptor is nonblocking. EBADF when fd is not
// open or names something else, ESRCH when the process is gone.
func (p *Process) PidfdProcess(fd int) (*Process, bool, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, false, unix.EBADF
	}
	nonblock := f.Flags()&unix.O_NONBLOCK != 0
	if pf, ok := f.Ops().(*pidFD); ok {
		return pf.p, nonblock, nil
	}
	if p.k.pidDir != nil && f.Node() != nil {
		if pid, ok := p.k.pidDir(f.Node()); ok {
			target, ok := p.k.Process(pid)
			if !ok {
				return nil, false, unix.ESRCH
			}
			return target, nonblock, nil
		}
	}
	return nil, false, unix.EBADF
}

// reaped reports whether the process is gone from the process table.
func (pf *pidFD) reaped() bool {
	q, ok := pf.k.Process(pf.p.PID)
	return !ok || q != pf.p
}

// PidfdSignalFlagsValid checks pidfd_send_signal's flags: at most one
// of them.
func PidfdSignalFlagsValid(flags int) bool {
	return flags&^pidfdSignalFlags == 0 && flags&(flags-1) == 0
}

// PidfdSignal sends info to target, the process of a pidfd (flags: its
// thread group, by default; its leader thread; or its process group), with
// kill's permission rules. A reaped process is ESRCH.
func (t *Task) PidfdSignal(target *Process, info SigInfo, flags int) error {
	if q, ok := t.Proc.k.Process(target.PID); !ok || q != target {
		return unix.ESRCH
	}
	if info.Signo < 0 || info.Signo > 64 {
		return unix.EINVAL
	}
	switch flags {
	case PidfdSignalProcessGroup:
		return t.Proc.k.KillGroupFrom(t.Proc, target.Pgid(), info)
	case PidfdSignalThread:
		if err := t.Proc.MaySignal(target, info.Signo); err != nil {
			return err
		}
		leader := target.Leader()
		if leader == nil || target.zombieNow() {
			return nil
		}
		return leader.SendSignalFrom(info, SigFromGuest)
	}
	return t.Proc.SignalFrom(target, info)
}

func (p *Process) zombieNow() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.zombie }

// PidfdGetfd duplicates descriptor targetFD of the pidfd's process into
// the caller (close-on-exec). Linux allows it to whoever may
// ptrace-attach to the process (PTRACE_MODE_ATTACH_REALCREDS). litebox has
// no ptrace and no Yama, and applies that check's credential rule as a
// kernel without Yama does: the caller's process itself, a process whose
// real, effective and saved ids all equal the caller's real ids, or any
// process for a caller with CAP_SYS_PTRACE (a --user 0 guest). Else EPERM.
func (t *Task) PidfdGetfd(fd, targetFD, flags int) (int, error) {
	if flags != 0 {
		return -1, unix.EINVAL
	}
	target, _, err := t.Proc.PidfdProcess(fd)
	if err != nil {
		return -1, err
	}
	if q, ok := t.Proc.k.Process(target.PID); !ok || q != target || target.zombieNow() {
		return -1, unix.ESRCH
	}
	if !t.Proc.mayAttach(target) {
		return -1, unix.EPERM
	}
	f, err := target.FDs.Get(targetFD)
	if err != nil {
		return -1, unix.EBADF
	}
	f.IncRef()
	nfd, err := t.Proc.FDs.Install(f, 0, true)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return nfd, nil
}

// mayAttach is the ptrace-attach check PidfdGetfd uses.
func (p *Process) mayAttach(target *Process) bool {
	if p == target {
		return true
	}
	c, tc := p.Creds(), target.Creds()
	if c.Capable(capSysPtrace) {
		return true
	}
	return c.UID == tc.UID && c.UID == tc.EUID && c.UID == tc.SUID &&
		c.GID == tc.GID && c.GID == tc.EGID && c.GID == tc.SGID
}

// Close gives back the descriptor's charge.
func (pf *pidFD) Close() error { pf.k.uncharge(PidfdCost); return nil }

// Readiness: POLLIN once the process exited, POLLHUP too once reaped.
func (pf *pidFD) Readiness() int16 {
	if pf.reaped() {
		return unix.POLLIN | unix.POLLHUP
	}
	if pf.p.zombieNow() {
		return unix.POLLIN
	}
	return 0
}

// capSysPtrace is CAP_SYS_PTRACE (cred lists only the capabilities its
// own checks use).
const capSysPtrace cred.Cap = 19

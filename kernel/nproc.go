package kernel

import (
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
)

// RLIMIT_NPROC, as Linux's copy_process applies it: a new task (process
// or thread) fails with EAGAIN when the caller's real user already has
// RLIMIT_NPROC tasks in the sandbox, unless the caller has CAP_SYS_RESOURCE
// or CAP_SYS_ADMIN (a --user 0 guest). The sandbox's own --pids limit
// applies besides.

const (
	capSysAdmin    cred.Cap = 21
	capSysResource cred.Cap = 24
)

// checkNproc refuses a new task past the caller's RLIMIT_NPROC.
func (t *Task) checkNproc() error {
	p := t.Proc
	lim, _ := p.Getrlimit(unix.RLIMIT_NPROC)
	if lim.Cur == unix.RLIM_INFINITY {
		return nil
	}
	c := p.Creds()
	if c.Capable(capSysResource) || c.Capable(capSysAdmin) {
		return nil
	}
	if n := p.k.tasksOfUser(c.UID); uint64(n) >= lim.Cur {
		p.k.AuditEvent("limit_exceeded", slog.String("limit", "nproc"), slog.Int("pid", p.PID),
			slog.Uint64("max", lim.Cur))
		return unix.EAGAIN
	}
	return nil
}

// tasksOfUser counts the live tasks of the processes whose real uid is uid.
func (k *Kernel) tasksOfUser(uid uint32) int {
	k.mu.Lock()
	procs := make([]*Process, 0, len(k.procs))
	for _, p := range k.procs {
		procs = append(procs, p)
	}
	k.mu.Unlock()
	n := 0
	for _, p := range procs {
		if p.Creds().UID == uid {
			n += p.ThreadCount()
		}
	}
	return n
}

// fsOwner is the owner the anonymous files a process makes get: its fs
// uid and gid. (Linux's eventfd, epoll and inotify share one anonymous
// inode, root's; here each belongs to its creator, so that reopening one
// through /proc/self/fd answers ENXIO to any user, not EACCES.)
func fsOwner(p *Process) [2]uint32 {
	c := p.Creds()
	return [2]uint32{c.FSUID, c.FSGID}
}

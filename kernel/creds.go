package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
)

// Credentials are per process (a thread group), as the ids of every thread
// of a Linux process are kept equal by glibc's set*id broadcast: a set*id
// call by any thread changes them for the whole process. Each process holds
// one immutable *cred.Creds (Process.creds); a change publishes a new one,
// so readers (every path walk, through vfs.Loc.Cred) load one pointer.
//
// A process's supplementary groups are charged to the memory budget while
// a process holds them (cred.Creds.Hold): setgroups may store up to
// NGROUPS_MAX of them.

// defaultCreds are the credentials of a sandbox's first processes when
// Config.Creds is nil: the unprivileged guest user, no groups.
var defaultCreds = cred.New(GuestUID, GuestGID, nil)

// initialCreds are the credentials every command's first process starts
// with.
func (k *Kernel) initialCreds() *cred.Creds {
	if k.cfg.Creds != nil {
		return k.cfg.Creds
	}
	return defaultCreds
}

// Creds returns the process's credentials, which the caller must not
// modify.
func (p *Process) Creds() *cred.Creds { return p.creds.Load() }

// holdCreds makes p hold c and charges its groups if p is their first
// holder; force charges even past the budget (fork, exec: the process
// exists already).
func (p *Process) holdCreds(c *cred.Creds, force bool) error {
	n := c.Hold()
	if n == 0 {
		return nil
	}
	if err := p.k.charge(n); err != nil {
		if !force {
			p.k.uncharge(c.Release())
			return unix.ENOMEM
		}
		p.k.memory().Force(n)
	}
	return nil
}

// releaseCreds gives back what holding c cost.
func (p *Process) releaseCreds(c *cred.Creds) {
	if c != nil {
		p.k.uncharge(c.Release())
	}
}

// initCreds gives a new process its first credentials.
func (p *Process) initCreds(c *cred.Creds) {
	_ = p.holdCreds(c, true)
	p.creds.Store(c)
}

// ChangeCreds replaces the process's credentials with what change makes
// of them, atomically with respect to other threads' changes (change may
// be called again if another thread changed them meanwhile). change
// returning its argument changes nothing; an error from it is the call's.
func (p *Process) ChangeCreds(change func(*cred.Creds) (*cred.Creds, error)) error {
	for {
		old := p.creds.Load()
		n, err := change(old)
		if err != nil {
			return err
		}
		if n == old {
			return nil
		}
		if err := p.holdCreds(n, false); err != nil {
			return err
		}
		if p.creds.CompareAndSwap(old, n) {
			p.releaseCreds(old)
			return nil
		}
		p.releaseCreds(n)
	}
}

// execCreds publishes the credentials an execve computed (cred.Creds.Exec).
func (p *Process) execCreds(c *cred.Creds) {
	_ = p.holdCreds(c, true)
	p.releaseCreds(p.creds.Swap(c))
}

// dropCreds gives back the process's credentials' charge once it is a
// zombie (it keeps them: its parent's SIGCHLD and wait report its uid).
func (p *Process) dropCreds() { p.releaseCreds(p.creds.Load()) }

// Fchownat changes the owner and group of a path (cred.NoID: unchanged)
// under the caller's credentials; AT_SYMLINK_NOFOLLOW changes a symlink
// itself, AT_EMPTY_PATH with an empty path the file dirfd names.
func (p *Process) Fchownat(dirfd int, path string, uid, gid uint32, flags int) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 {
		if dirfd == unix.AT_FDCWD {
			at, err := p.fs.at(true)
			if err != nil {
				return err
			}
			defer at.Release()
			return p.k.cfg.FS.ChownDentry(p.Creds(), at.Dir, uid, gid)
		}
		return p.Fchown(dirfd, uid, gid)
	}
	at, err := p.at(dirfd, path)
	if err != nil {
		return err
	}
	defer at.Release()
	return p.k.cfg.FS.ChownAt(at, path, uid, gid, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

// Fchown changes the owner and group of an open file. A pipe or socket
// has no file-system node: Linux changes its anonymous inode; here its
// owner cannot change, so only a no-op succeeds.
func (p *Process) Fchown(fd int, uid, gid uint32) error {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return err
	}
	d := f.Dentry()
	if d == nil {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if (uid == cred.NoID || uid == st.Uid) && (gid == cred.NoID || gid == st.Gid) {
			return nil
		}
		return unix.EPERM
	}
	return p.k.cfg.FS.ChownDentry(p.Creds(), d, uid, gid)
}

// MaySignal is Linux's check_kill_permission for a signal p sends to
// target (signal 0 included): within a process always; else the sender's
// real or effective uid must be the target's real or saved uid, or the
// sender have CAP_KILL; SIGCONT may always go to a process of the
// sender's session. EPERM otherwise.
func (p *Process) MaySignal(target *Process, sig unix.Signal) error {
	if p == target || p.Creds().MayKill(target.Creds()) {
		return nil
	}
	if sig == unix.SIGCONT && p.Sid() == target.Sid() {
		return nil
	}
	return unix.EPERM
}

// SignalFrom sends info to target on behalf of p (kill(2) of one pid):
// EPERM when p may not (MaySignal).
func (p *Process) SignalFrom(target *Process, info SigInfo) error {
	if err := p.MaySignal(target, info.Signo); err != nil {
		return err
	}
	return target.SendSignalFrom(info, SigFromGuest)
}

// SignalTaskFrom sends info to the thread target on behalf of p (tgkill,
// rt_tgsigqueueinfo): EPERM when p may not signal its process.
func (p *Process) SignalTaskFrom(target *Task, info SigInfo) error {
	if err := p.MaySignal(target.Proc, info.Signo); err != nil {
		return err
	}
	return target.SendSignalFrom(info, SigFromGuest)
}

// KillGroupFrom is kill(-pgid) by sender: ESRCH when the group is empty,
// EPERM when sender may signal none of its processes, as Linux's
// __kill_pgrp_info.
func (k *Kernel) KillGroupFrom(sender *Process, pgid int, info SigInfo) error {
	err := error(unix.ESRCH)
	sent := false
	for _, p := range k.liveProcs() {
		if p.Pgid() != pgid {
			continue
		}
		if err = sender.SignalFrom(p, info); err == nil {
			sent = true
		}
	}
	if sent {
		return nil
	}
	return err
}

// KillAllFrom is kill(-1) by sender: every process but sender and pid 1
// that sender may signal. As Linux, it fails with ESRCH only when there is
// no other process at all; processes sender may not signal are skipped.
func (k *Kernel) KillAllFrom(sender *Process, info SigInfo) error {
	found := false
	for _, p := range k.liveProcs() {
		if p != sender && p.PID != 1 {
			found = true
			_ = sender.SignalFrom(p, info)
		}
	}
	if !found {
		return unix.ESRCH
	}
	return nil
}

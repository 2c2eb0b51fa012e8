package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
)

// What the sandbox sets on a command's first process before it runs, as a
// container runtime does on the host before its execve (runc's prlimit,
// capset, setgroups): the OCI spec's process settings. These change the
// guest's own limits and credentials only, never litebox's.

// nrOpen is Linux's default fs.nr_open: RLIMIT_NOFILE's ceiling.
const nrOpen = 1 << 20

// SetupRlimit sets a resource limit of a process that has not run yet,
// with the power of the one starting it: the hard limit may be raised.
// RLIMIT_NOFILE above nr_open is EPERM as on Linux; the descriptors the
// process may hold stay bounded by the sandbox's NoFile as well.
func (p *Process) SetupRlimit(resource int, r unix.Rlimit) error {
	if resource < 0 || resource >= rlimNLimits || r.Cur > r.Max {
		return unix.EINVAL
	}
	if resource == unix.RLIMIT_NOFILE && r.Max > nrOpen {
		return unix.EPERM
	}
	p.mu.Lock()
	p.rlimits[resource] = r
	p.mu.Unlock()
	switch resource {
	case unix.RLIMIT_NOFILE:
		p.FDs.SetLimit(int(min(r.Cur, uint64(p.k.cfg.Limits.NoFile))))
	case unix.RLIMIT_AS:
		if p.MM != nil {
			p.MM.SetLimit(p.asLimit())
		}
	}
	return nil
}

// SetupCreds replaces the credentials of a process that has not run yet
// (its user, groups and capability sets).
func (p *Process) SetupCreds(c *cred.Creds) error {
	return p.ChangeCreds(func(*cred.Creds) (*cred.Creds, error) { return c, nil })
}

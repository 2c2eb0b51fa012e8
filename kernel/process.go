package kernel

import (
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fdtable"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// The guest's credentials: it runs as an unprivileged user of its own.
const (
	GuestUID = 1000
	GuestGID = 1000
)

// Process is a guest process (a thread group).
type Process struct {
	k   *Kernel
	PID int
	MM  *mm.MM
	FDs *fdtable.Table[*vfs.File]

	mu      sync.Mutex
	cwd     string
	umask   uint32
	exe     string
	args    []string
	comm    string
	sig     SignalState
	rlimits map[int]unix.Rlimit
	tidAddr uint64
}

// NewProcess creates the first process of the sandbox with the given
// address space and standard streams on fds 0, 1 and 2.
func (k *Kernel) NewProcess(m *mm.MM, stdio [3]*vfs.File, cwd string) (*Process, error) {
	p := &Process{
		k:     k,
		PID:   k.allocPID(),
		MM:    m,
		FDs:   fdtable.New[*vfs.File](k.cfg.Limits.NoFile),
		cwd:   "/",
		umask: 0o022,
		rlimits: map[int]unix.Rlimit{
			unix.RLIMIT_STACK:  {Cur: 8 << 20, Max: unix.RLIM_INFINITY},
			unix.RLIMIT_NOFILE: {Cur: uint64(k.cfg.Limits.NoFile), Max: uint64(k.cfg.Limits.NoFile)},
			unix.RLIMIT_CORE:   {Cur: 0, Max: 0},
		},
	}
	k.mu.Lock()
	k.procs[p.PID] = p
	k.mu.Unlock()
	for fd, f := range stdio {
		if f == nil {
			continue
		}
		if err := p.FDs.InstallAt(fd, f, false); err != nil {
			return nil, err
		}
	}
	if cwd != "" {
		if err := p.Chdir(cwd); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Kernel returns the kernel the process belongs to.
func (p *Process) Kernel() *Kernel { return p.k }

// SetExe records the path of the running executable (/proc/self/exe).
func (p *Process) SetExe(path string) { p.mu.Lock(); p.exe = path; p.mu.Unlock() }

// SetArgs records the argument vector (/proc/self/cmdline).
func (p *Process) SetArgs(args []string) {
	p.mu.Lock()
	p.args = append([]string(nil), args...)
	p.mu.Unlock()
}

// SetComm sets the process name (prctl PR_SET_NAME).
func (p *Process) SetComm(name string) { p.mu.Lock(); p.comm = name; p.mu.Unlock() }

// Comm returns the process name: set by prctl, else the executable's base name.
func (p *Process) Comm() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.comm != "" {
		return p.comm
	}
	name := p.exe[strings.LastIndex(p.exe, "/")+1:]
	if len(name) > 15 {
		name = name[:15]
	}
	return name
}

// Args returns the argument vector.
func (p *Process) Args() []string { p.mu.Lock(); defer p.mu.Unlock(); return p.args }

// Exe returns the path of the running executable.
func (p *Process) Exe() string { p.mu.Lock(); defer p.mu.Unlock(); return p.exe }

// Getpid returns the process id in the sandbox's pid space.
func (p *Process) Getpid() int { return p.PID }

// Getppid returns the parent's pid; the first process's parent is outside
// the sandbox and shows as 0, as for pid 1 on Linux.
func (p *Process) Getppid() int { return 0 }

// SetTidAddress records the clear_child_tid address and returns the tid.
func (p *Process) SetTidAddress(addr uint64) int {
	p.mu.Lock()
	p.tidAddr = addr
	p.mu.Unlock()
	return p.PID
}

// Umask sets the file mode creation mask and returns the old one.
func (p *Process) Umask(mask uint32) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.umask
	p.umask = mask & 0o777
	return old
}

// Getrlimit returns a resource limit.
func (p *Process) Getrlimit(resource int) (unix.Rlimit, error) {
	if resource < 0 || resource >= rlimNLimits {
		return unix.Rlimit{}, unix.EINVAL
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.rlimits[resource]; ok {
		return r, nil
	}
	return unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}, nil
}

// Setrlimit lowers (or, below the hard limit, raises) a resource limit. The
// guest can never raise a hard limit: it is unprivileged.
func (p *Process) Setrlimit(resource int, r unix.Rlimit) error {
	if resource < 0 || resource >= rlimNLimits || r.Cur > r.Max {
		return unix.EINVAL
	}
	old, err := p.Getrlimit(resource)
	if err != nil {
		return err
	}
	if r.Max > old.Max {
		return unix.EPERM
	}
	p.mu.Lock()
	p.rlimits[resource] = r
	p.mu.Unlock()
	if resource == unix.RLIMIT_NOFILE {
		p.FDs.SetLimit(int(min(r.Cur, uint64(p.k.cfg.Limits.NoFile))))
	}
	return nil
}

// Exit releases the process's resources.
func (p *Process) Exit() {
	p.FDs.CloseAll()
	p.k.mu.Lock()
	delete(p.k.procs, p.PID)
	p.k.mu.Unlock()
}

// rlimNLimits is RLIM_NLIMITS on Linux: the number of resource limits.
const rlimNLimits = 16

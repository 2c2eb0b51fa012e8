package kernel

import (
	"context"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fdtable"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/tty"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform"
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

	sighand *sigHand
	job     *Job // the command the process belongs to

	// fs is the root and working directory (shared with CLONE_FS).
	fs *FSContext

	// plat makes the process's address spaces (execve); inherited.
	plat platform.Platform
	// ctx is the process as a caller of path walks: it carries p, so that
	// /proc/self names it (see CallerProcess). Made once, never per call.
	ctx context.Context
	// creds are the process's credentials (creds.go).
	creds atomic.Pointer[cred.Creds]

	mu       sync.Mutex
	umask    uint32
	exe      string
	args     []string
	comm     string
	rlimits  map[int]unix.Rlimit
	parent   *Process
	children map[int]*Process
	tasks    map[int]*Task
	pgid     int
	sid      int
	pending  sigQueue
	// exiting is set once the process must die (exit_group, fatal signal);
	// status is its wait status. zombie: every thread is gone.
	exiting bool
	zombie  bool
	// reaped is set, under mu, by the one wait that reaps the zombie: two
	// threads of the parent may find it at once, and a PID must be freed
	// once (a second free would hand a live process's PID out again).
	reaped     bool
	status     int
	exitSignal unix.Signal // sent to the parent at exit (SIGCHLD)
	// stopped by a stop signal; stopReported/contReported for waitpid.
	stopped      bool
	stopSig      unix.Signal
	stopReport   bool
	contReport   bool
	stateChanged notifier // children's state changes, for wait
	stopCh       chan struct{}
	itimer       *itimer
	vforkDone    chan struct{}
	usage        procUsage // getrusage, times, wait4 (rusage.go)
	cpuTimers    cpuTimers // ITIMER_VIRTUAL, ITIMER_PROF (cputimer.go)

	// timers are timer_create's (posixtimer.go): not inherited, deleted
	// at execve.
	timers posixTimers
	ctty   *tty.Pty // the controlling terminal (tty.go)

	// unkillable marks the guest's init, pid 1 of a container
	// (Config.ContainerInit), which drops the signals it has no handler
	// for (see SigSource), until a fault is forced on it (ForceSignal).
	// It outlives execve, as Linux's SIGNAL_UNKILLABLE.
	unkillable atomic.Bool
}

// NewProcess creates the first process of a new job (a command of the
// sandbox; the first one gets pid 1) with the given address space and
// standard streams on fds 0, 1 and 2, and its first thread. It leads a new
// session and process group, and its parent is the kernel's init, outside
// the guest's view (getppid 0).
func (k *Kernel) NewProcess(m *mm.MM, stdio [3]*vfs.File, cwd string) (*Process, error) {
	return k.NewProcessAs(nil, m, stdio, cwd)
}

// NewProcessAs is NewProcess with the given credentials instead of the
// sandbox's initial ones (nil: those): a command run as another user (an
// OCI exec's process.user), whose stdio it owns and whose working
// directory it must be allowed to enter.
func (k *Kernel) NewProcessAs(creds *cred.Creds, m *mm.MM, stdio [3]*vfs.File, cwd string) (*Process, error) {
	if creds == nil {
		creds = k.initialCreds()
	}
	pid := k.allocPID()
	p := &Process{
		k:       k,
		PID:     pid,
		MM:      m,
		FDs:     fdtable.New[*vfs.File](k.cfg.Limits.NoFile),
		sighand: &sigHand{},
		fs:      newFSContext(k.cfg.FS),
		umask:   0o022,
		rlimits: map[int]unix.Rlimit{
			unix.RLIMIT_STACK:  {Cur: 8 << 20, Max: unix.RLIM_INFINITY},
			unix.RLIMIT_NOFILE: {Cur: uint64(k.cfg.Limits.NoFile), Max: uint64(k.cfg.Limits.NoFile)},
			unix.RLIMIT_CORE:   {Cur: 0, Max: 0},
			unix.RLIMIT_FSIZE:  fsizeLimit(k.cfg.Limits.FileSize),
			unix.RLIMIT_SIGPENDING: {Cur: defaultSigPending(k.memory().Limit()),
				Max: defaultSigPending(k.memory().Limit())},
			// An unprivileged user's defaults: no real-time priority, no
			// nice value below 0 (the sched and priority calls obey them).
			unix.RLIMIT_RTPRIO: {Cur: 0, Max: 0},
			unix.RLIMIT_NICE:   {Cur: 0, Max: 0},
			// Unlimited, as Linux's default: --memory charges committed
			// memory (kernel/mm VMA.commits), not address space, so a
			// PROT_NONE reservation larger than the budget (CPython,
			// V8, the JVM's heap) is allowed as on Linux.
			unix.RLIMIT_AS: {Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY},
		},
		children:   map[int]*Process{},
		tasks:      map[int]*Task{},
		pgid:       pid,
		sid:        pid,
		exitSignal: unix.SIGCHLD,
		job:        newJob(k),
	}
	p.job.leader = p
	p.job.addTask()
	p.ctx = context.WithValue(context.Background(), callerKey{}, p)
	p.initCreds(creds)
	p.unkillable.Store(pid == 1 && k.cfg.ContainerInit)
	p.tasks[pid] = &Task{TID: pid, Proc: p}
	// The first thread is charged like any other (ExitTask gives it back),
	// whether or not it fits: the sandbox must be able to start.
	if k.charge(TaskCost) != nil {
		k.memory().Force(TaskCost)
	}
	k.mu.Lock()
	k.procs[p.PID] = p
	k.mu.Unlock()
	for fd, f := range stdio {
		if f == nil {
			continue
		}
		if err := p.FDs.InstallAt(fd, f, false); err != nil {
			p.Leader().ExitTask(127) // out of the process table again
			return nil, err
		}
		// The sandbox's own streams belong to the guest's user, as a
		// terminal or pipe belongs to whoever runs a program natively.
		c := p.Creds()
		f.SetOwner(c.FSUID, c.FSGID)
	}
	if cwd != "" {
		if err := p.Chdir(cwd); err != nil {
			p.Leader().ExitTask(127)
			return nil, err
		}
	}
	return p, nil
}

// callerKey is the context key of the calling process.
type callerKey struct{}

// CallerProcess returns the process whose path walk ctx belongs to (the
// caller /proc/self names), if any.
func CallerProcess(ctx context.Context) (*Process, bool) {
	p, ok := ctx.Value(callerKey{}).(*Process)
	return p, ok
}

// Context is the context the process's path walks carry: it names the
// process as the caller.
func (p *Process) Context() context.Context { return p.ctx }

// Leader returns the process's first thread.
func (p *Process) Leader() *Task {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tasks[p.PID]
}

// Tasks returns the live threads.
func (p *Process) Tasks() []*Task {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taskList()
}

func (p *Process) taskList() []*Task {
	out := make([]*Task, 0, len(p.tasks))
	for _, t := range p.tasks {
		out = append(out, t)
	}
	return out
}

// ForkOptions describes a new process made by clone without CLONE_THREAD.
type ForkOptions struct {
	MM         *mm.MM // the child's address space (shared with CLONE_VM)
	ShareFiles bool   // CLONE_FILES
	ShareFS    bool   // CLONE_FS: share the root and working directory
	ExitSignal unix.Signal
	Vfork      bool // CLONE_VFORK: the parent waits for exec or exit
}

// Fork creates a child process of t's process with one thread.
func (t *Task) Fork(o ForkOptions) (*Task, error) {
	p := t.Proc
	if err := p.k.checkTasks(); err != nil {
		return nil, err
	}
	if err := p.k.charge(TaskCost); err != nil {
		return nil, err
	}
	pid := p.k.allocPID()
	p.mu.Lock()
	c := &Process{
		k:          p.k,
		PID:        pid,
		MM:         o.MM,
		sighand:    p.sighand.clone(),
		fs:         p.fs.fork(o.ShareFS),
		plat:       p.plat,
		umask:      p.umask,
		exe:        p.exe,
		args:       p.args,
		comm:       p.comm,
		rlimits:    maps.Clone(p.rlimits),
		parent:     p,
		children:   map[int]*Process{},
		tasks:      map[int]*Task{},
		pgid:       p.pgid,
		sid:        p.sid,
		ctty:       p.ctty,
		exitSignal: o.ExitSignal,
		job:        p.job,
	}
	p.mu.Unlock()
	c.ctx = context.WithValue(context.Background(), callerKey{}, c)
	c.initCreds(p.Creds())
	if o.ShareFiles {
		c.FDs = p.FDs.Share()
	} else {
		c.FDs = p.FDs.Clone()
	}
	if o.Vfork {
		c.vforkDone = make(chan struct{})
	}
	ct := &Task{TID: pid, Proc: c, mask: t.Mask(), altStack: t.AltStackNow(), sched: t.schedForChild()}
	c.tasks[pid] = ct
	p.mu.Lock()
	p.children[pid] = c
	p.mu.Unlock()
	p.k.mu.Lock()
	p.k.procs[pid] = c
	p.k.mu.Unlock()
	p.job.addTask()
	return ct, nil
}

// NewThread creates a thread in t's process (clone with CLONE_THREAD).
func (t *Task) NewThread() (*Task, error) {
	p := t.Proc
	if err := p.k.checkTasks(); err != nil {
		return nil, err
	}
	if err := p.k.charge(TaskCost); err != nil {
		return nil, err
	}
	tid := p.k.allocPID()
	nt := &Task{TID: tid, Proc: p, mask: t.Mask(), sched: t.schedForChild()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exiting {
		p.k.uncharge(TaskCost)
		p.k.freePID(tid)
		return nil, unix.EAGAIN
	}
	p.tasks[tid] = nt
	p.job.addTask()
	return nt, nil
}

// VforkDone returns a channel closed when a vfork child execs or exits;
// nil for other processes.
func (p *Process) VforkDone() <-chan struct{} { return p.vforkDone }

func (p *Process) releaseVfork() {
	p.mu.Lock()
	ch := p.vforkDone
	p.vforkDone = nil
	p.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// execImage finishes an execve: the process has its new image in m. Other
// threads must already be gone.
func (t *Task) execImage(m *mm.MM, exe string, args []string) {
	p := t.Proc
	if t.TID != p.PID {
		// Like Linux's de_thread: a non-leader thread that execs takes
		// over the leader's id (the leader is gone by now).
		p.mu.Lock()
		old := t.TID
		delete(p.tasks, old)
		t.TID = p.PID
		p.tasks[p.PID] = t
		p.mu.Unlock()
		p.k.freePID(old)
	}
	p.unshareFiles() // as Linux's execve, before closing the close-on-exec ones
	p.FDs.CloseOnExecAll()
	p.sighand.resetForExec()
	p.deleteTimers()
	p.mu.Lock()
	p.MM = m
	p.exe, p.args, p.comm = exe, append([]string(nil), args...), ""
	p.mu.Unlock()
	t.mu.Lock()
	t.altStack = AltStack{Flags: ssDisable}
	t.clearTID = 0
	t.mu.Unlock()
	p.releaseVfork()
}

// Exiting reports whether the process is being torn down.
func (p *Process) Exiting() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.exiting }

// Kill ends the whole process with the given wait status (exit_group,
// fatal signals): every thread is woken to leave.
func (p *Process) Kill(status int) {
	p.mu.Lock()
	if p.exiting {
		p.mu.Unlock()
		return
	}
	p.exiting = true
	p.status = status
	if p.stopCh != nil {
		close(p.stopCh)
		p.stopCh = nil
	}
	tasks := p.taskList()
	p.mu.Unlock()
	if p.job.leader == p {
		p.job.end() // the leader is going: so is its job
	}
	for _, t := range tasks {
		t.markDying()
		t.wake()
	}
}

// Status returns the wait status the process exits with.
func (p *Process) Status() int { p.mu.Lock(); defer p.mu.Unlock(); return p.status }

// ExitTask removes t from its process. When it was the last thread the
// process becomes a zombie (its parent is told) and ExitTask returns true:
// the caller then releases the address space.
func (t *Task) ExitTask(code int) (last bool) {
	p := t.Proc
	p.mu.Lock()
	delete(p.tasks, t.TID)
	last = len(p.tasks) == 0
	p.stateChanged.notify()
	if last && !p.exiting {
		p.exiting = true
		p.status = WaitStatusExited(code)
	}
	p.mu.Unlock()
	p.k.uncharge(TaskCost)
	t.dropPending()
	if t.TID != p.PID {
		p.k.freePID(t.TID)
	}
	if last {
		p.dropPending()
		t.exitUsage() // before its parent can see the zombie
		p.becomeZombie()
	}
	// Counted last: the job is done only once its last process is a
	// zombie with everything released.
	p.job.taskExited()
	return last
}

// autoReaps reports whether p's children are reaped as they die (SIGCHLD
// ignored, or SA_NOCLDWAIT).
func (p *Process) autoReaps() bool {
	act := p.sighand.get(unix.SIGCHLD)
	return act.Handler == SigIgn || act.Flags&SANoCldWait != 0
}

// becomeZombie releases the process's resources and notifies its parent.
func (p *Process) becomeZombie() {
	p.k.locks.ReleaseAll(p)
	p.FDs.Release() // closes them unless a CLONE_FILES sibling still uses them
	p.exitTerminal()
	p.fs.release()
	p.releaseVfork()
	p.stopTimer()
	p.deleteTimers()
	k := p.k
	// A parent that ignores SIGCHLD or set SA_NOCLDWAIT never sees this
	// zombie: it leaves the parent's children before it becomes one, so
	// that a wait scanning them meanwhile cannot collect it (Linux decides
	// this atomically in exit_notify).
	p.mu.Lock()
	early := p.parent
	p.mu.Unlock()
	autoReap := early != nil && early.autoReaps()
	if autoReap {
		early.mu.Lock()
		delete(early.children, p.PID)
		early.mu.Unlock()
	}
	p.dropCreds()
	p.mu.Lock()
	p.zombie = true
	children := p.children
	p.children = map[int]*Process{}
	parent := p.parent
	status := p.status
	p.mu.Unlock()
	k.poll.notify() // its pidfds became readable
	// Orphans go to their reaper: the job's leader, or the kernel's init.
	k.reparent(p, children)
	if parent == nil {
		k.initChildExited(p)
		return
	}
	info := SigInfo{Signo: unix.SIGCHLD, Pid: int32(p.PID), Uid: p.Creds().UID}
	switch {
	case status&0x7f == 0:
		info.Code, info.Status = CLDExited, int32(status>>8&0xff)
	case status&0x80 != 0:
		info.Code, info.Status = CLDDumped, int32(status&0x7f)
	default:
		info.Code, info.Status = CLDKilled, int32(status&0x7f)
	}
	if parent == early && autoReap || parent.autoReaps() {
		// The parent asked not to keep zombies: reap at once.
		parent.reap(p)
	} else if p.exitSignal != 0 {
		info.Signo = p.exitSignal
		// The guest chose the number (clone's exit signal): Linux's
		// do_notify_parent does not force SIGKILL on an init either.
		_ = parent.SendSignalFrom(info, SigFromGuest)
	}
	parent.stateChanged.notify()
}

// Wait statuses as wait4 reports them.
func WaitStatusExited(code int) int { return (code & 0xff) << 8 }

// WaitStatusSignaled is the status of a process killed by sig.
func WaitStatusSignaled(sig unix.Signal, core bool) int {
	s := int(sig) & 0x7f
	if core {
		s |= 0x80
	}
	return s
}

// stop puts the process into the stopped state (SIGSTOP and friends).
func (p *Process) stop(sig unix.Signal) {
	p.mu.Lock()
	if p.stopped || p.exiting {
		p.mu.Unlock()
		return
	}
	p.stopped, p.stopSig, p.stopReport, p.contReport = true, sig, true, false
	p.stopCh = make(chan struct{})
	parent := p.parent
	p.mu.Unlock()
	if parent != nil {
		if parent.sighand.get(unix.SIGCHLD).Flags&SANoCldStop == 0 {
			_ = parent.SendSignal(SigInfo{Signo: unix.SIGCHLD, Code: CLDStopped, Pid: int32(p.PID),
				Uid: p.Creds().UID, Status: int32(sig)})
		}
		parent.stateChanged.notify()
	}
	for _, t := range p.Tasks() {
		t.wake()
	}
}

// continueStopped resumes a stopped process (SIGCONT).
func (p *Process) continueStopped() {
	p.mu.Lock()
	if !p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped, p.stopReport, p.contReport = false, false, true
	if p.stopCh != nil {
		close(p.stopCh)
		p.stopCh = nil
	}
	parent := p.parent
	p.mu.Unlock()
	if parent != nil {
		_ = parent.SendSignal(SigInfo{Signo: unix.SIGCHLD, Code: CLDContinued, Pid: int32(p.PID),
			Uid: p.Creds().UID, Status: int32(unix.SIGCONT)})
		parent.stateChanged.notify()
	}
}

// WaitWhileStopped blocks the thread while its process is stopped.
func (t *Task) WaitWhileStopped() {
	for {
		p := t.Proc
		p.mu.Lock()
		ch := p.stopCh
		stopped := p.stopped && !p.exiting
		p.mu.Unlock()
		if !stopped || ch == nil {
			return
		}
		<-ch
	}
}

// Parent returns the parent process (nil for a job's leader and for
// orphans of a dying job: their parent is the kernel's init).
func (p *Process) Parent() *Process { p.mu.Lock(); defer p.mu.Unlock(); return p.parent }

// Getppid returns the parent's pid; the kernel's init is outside the
// guest's view and shows as 0, as pid 1's parent does on Linux.
func (p *Process) Getppid() int {
	if pp := p.Parent(); pp != nil {
		return pp.PID
	}
	return 0
}

// Pgid returns the process group.
func (p *Process) Pgid() int { p.mu.Lock(); defer p.mu.Unlock(); return p.pgid }

// Sid returns the session.
func (p *Process) Sid() int { p.mu.Lock(); defer p.mu.Unlock(); return p.sid }

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
	if resource == unix.RLIMIT_AS && p.MM != nil {
		p.MM.SetLimit(p.asLimit())
	}
	return nil
}

// rlimNLimits is RLIM_NLIMITS on Linux: the number of resource limits.
const rlimNLimits = 16

// asLimit is the process's RLIMIT_AS in bytes for its address space's
// own limit (0: none; the sandbox's budget applies anyway).
func (p *Process) asLimit() uint64 {
	lim, _ := p.Getrlimit(unix.RLIMIT_AS)
	if lim.Cur == unix.RLIM_INFINITY {
		return 0
	}
	return lim.Cur
}

func fsizeLimit(n uint64) unix.Rlimit {
	if n == 0 {
		return unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	}
	return unix.Rlimit{Cur: n, Max: n}
}

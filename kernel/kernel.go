// Package kernel is the North: the library OS core. It owns the sandbox's
// file systems, processes and their resources, and offers a Go API shaped
// like golang.org/x/sys/unix. It knows nothing of how guest code runs; the
// shim translates guest syscalls into calls on this API.
package kernel

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/audit"
	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/lock"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/vdso"
	"github.com/litebox-go/litebox/kernel/verify"

	"github.com/litebox-go/litebox/kernel/socket/inet"
	"github.com/litebox-go/litebox/kernel/socket/unixsock"
	"github.com/litebox-go/litebox/kernel/tty"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Config is what a kernel is built from.
type Config struct {
	FS *vfs.VFS
	// Log receives diagnostics (unsupported syscalls when LogUnsupported).
	Log *slog.Logger
	// LogUnsupported reports each unsupported syscall once on Log.
	LogUnsupported bool
	// Audit receives structured audit events; nil means none.
	Audit *audit.Log
	// Hostname and domain name reported by uname.
	Hostname string
	// Limits are the sandbox's resource limits.
	Limits Limits
	// Memory is the sandbox's memory budget (--memory), which the kernel
	// objects a guest creates are charged to as well; nil: unlimited.
	Memory *mm.Budget
	// Serving, if set, is called on each goroutine that runs a task when it
	// starts serving, and the function it returns when it stops (the
	// sandbox counts their CPU time against --cpu-time).
	Serving func() (done func())
	// Throttle, if set, is called by each task before it resumes guest
	// code: it returns false at once when the sandbox may run, else
	// waits (a bounded while) and returns true if the sandbox is still
	// held back, and the task calls it again unless it was killed
	// meanwhile (the sandbox's CPU share; see KickAll).
	Throttle func() (held bool)
	// Creds are the credentials each command's first process starts with
	// (--user); nil: the unprivileged guest user GuestUID:GuestGID.
	Creds *cred.Creds
	// Net is the sandbox's network stack; nil: the kernel makes a loopback-only one on first use.
	Net *netstack.Stack
	// ContainerInit makes pid 1 a pid namespace's init, as a container's
	// first process is (see SigSource): it drops the signals it has no
	// handler for. Off, pid 1 is a process like any other, as a program
	// run natively is: a terminal's ^C, SIGPIPE, SIGXFSZ and its own
	// abort() end it as they would outside.
	ContainerInit bool
	// Verify, if set, is verified execution (kernel/verify, verified.go):
	// what may be executed or mapped executable, and the record of what
	// was. nil: everything may, and nothing is recorded.
	Verify *verify.Options
}

// Limits are the resource limits the kernel enforces; zero means the
// default.
type Limits struct {
	NoFile   int    // descriptors per process
	Tasks    int    // live threads and processes in the sandbox; 0: unlimited
	FileSize uint64 // largest file a process may write (RLIMIT_FSIZE); 0: unlimited
}

// Kernel is one sandbox's kernel.
type Kernel struct {
	cfg Config
	// verify is verified execution's policy; nil without Config.Verify.
	verify *verify.Policy
	boot   time.Time
	clock  *vdso.Clock // the guest's clocks and the vDSO's data page

	mu          sync.Mutex
	unsupported map[string]bool
	nextPID     int
	procs       map[int]*Process
	usedPIDs    map[int]bool

	// tasks counts the goroutines running tasks (Run, clone's start).
	tasks sync.WaitGroup

	// Futexes are the sandbox's futex wait queues.
	Futexes Futexes
	poll    notifier
	epoll   epollGraph
	locks   lock.Manager
	// sigPending counts the signals queued in the whole sandbox against
	// RLIMIT_SIGPENDING (one user's count, as on Linux); epollWatches the
	// descriptors watched by all epoll instances.
	sigPending   atomic.Int64
	epollWatches atomic.Int64
	signalFDs    atomic.Int64 // open signalfds (signalfd.go)
	// pidDir tells the pid of a /proc/<pid> directory, which pidfd calls
	// take as a pidfd (procfs sets it; pidfd.go).
	pidDir func(vfs.Node) (int, bool)

	// inotifyUsers counts each user's inotify instances and watches
	// (max_user_instances, max_user_watches), under inotifyMu.
	inotifyMu    sync.Mutex
	inotifyUsers map[uint32]*inotifyUsage
	dnotify      dnotifyTable

	// unixNS is the sandbox's AF_UNIX namespace (kernel/socket.go).
	unixOnce sync.Once
	unixNS   *unixsock.Namespace
	// utsMu guards the names sethostname and setdomainname set (nil:
	// never set).
	utsMu                sync.Mutex
	hostname, domainname *string

	// netlink is the interface side of the network (netdev.go,
	// netlink.go), on the stack inet.go's netStack returns.
	netlink netlinkState

	// inet is the sandbox's Internet family on its stack (inet.go); ownNet
	// is a stack the kernel made itself (and closes in CloseNet).
	inetMu  sync.Mutex
	inetFam *inet.Family
	ownNet  *netstack.Stack
	netDone bool

	// crash is the first kernel bug caught (see Crash); crashed is closed
	// once it is set.
	crashOnce sync.Once
	crash     *InternalError
	crashed   chan struct{}
	crashing  atomic.Bool

	// pts is the sandbox's terminals (tty.go), made by Devpts.
	ptsOnce sync.Once
	pts     *tty.FS
}

// New returns a kernel serving cfg.FS.
func New(cfg Config) *Kernel {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "litebox"
	}
	if cfg.Limits.NoFile == 0 {
		cfg.Limits.NoFile = 1024
	}
	k := &Kernel{cfg: cfg, boot: time.Now(), unsupported: map[string]bool{}, nextPID: 1,
		procs: map[int]*Process{}, usedPIDs: map[int]bool{},
		crashed: make(chan struct{})}
	k.clock = vdso.NewClock(k.boot)
	k.locks.Charge = k.chargeSigned
	if cfg.FS != nil {
		// What the guest makes the VFS hold (dentries) counts against the
		// sandbox's memory like any other kernel object.
		cfg.FS.SetCharge(k.chargeSigned)
	}
	if cfg.Verify != nil {
		o := *cfg.Verify
		o.Audit = k.AuditEvent
		k.verify = verify.New(o)
	}
	return k
}

// Log is the diagnostic log: internal errors (host failures), never guest
// data.
func (k *Kernel) Log() *slog.Logger { return k.cfg.Log }

// FS returns the sandbox's file system.
func (k *Kernel) FS() *vfs.VFS { return k.cfg.FS }

// Hostname returns the name uname reports: the sandbox's hostname, or
// what the guest's root set since (the sandbox is the guest's UTS
// namespace; /etc/hostname and /etc/hosts keep the name the sandbox
// started with, as files do on Linux).
func (k *Kernel) Hostname() string {
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	if k.hostname != nil {
		return *k.hostname
	}
	return k.cfg.Hostname
}

// Domainname returns the NIS domain name uname reports ("(none)" until
// set, as Linux).
func (k *Kernel) Domainname() string {
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	if k.domainname != nil {
		return *k.domainname
	}
	return "(none)"
}

// SetHostname and SetDomainname change the names uname reports; the
// caller has checked CAP_SYS_ADMIN and the length.
func (k *Kernel) SetHostname(name string) {
	k.utsMu.Lock()
	k.hostname = &name
	k.utsMu.Unlock()
}

// SetDomainname: see SetHostname.
func (k *Kernel) SetDomainname(name string) {
	k.utsMu.Lock()
	k.domainname = &name
	k.utsMu.Unlock()
}

// BootTime is when the kernel started; CLOCK_BOOTTIME counts from it.
func (k *Kernel) BootTime() time.Time { return k.boot }

// Clock is the guest's CLOCK_MONOTONIC and CLOCK_REALTIME, the same clocks
// the vDSO reads (kernel/vdso).
func (k *Kernel) Clock() *vdso.Clock { return k.clock }

// StopClock stops updating the vDSO's data page; the sandbox calls it
// before closing the platform whose memory holds the page.
func (k *Kernel) StopClock() { k.clock.Stop() }

// Unsupported records a syscall the kernel does not implement. The audit
// log gets every occurrence; the diagnostic log gets each name once.
func (k *Kernel) Unsupported(name string, nr uint64, pid int) {
	k.AuditEvent("unsupported_syscall", slog.String("syscall", name), slog.Uint64("nr", nr), slog.Int("pid", pid))
	if !k.cfg.LogUnsupported {
		return
	}
	k.mu.Lock()
	seen := k.unsupported[name]
	k.unsupported[name] = true
	k.mu.Unlock()
	if !seen {
		k.cfg.Log.Warn("unsupported syscall", "syscall", name, "nr", nr)
	}
}

// AuditEvent records one structured audit event. It never blocks: the
// audit log queues it for its writer, and identical events in a row are
// folded into one line with a count (see package audit).
func (k *Kernel) AuditEvent(event string, attrs ...slog.Attr) { k.cfg.Audit.Event(event, attrs...) }

// AuditCritical records an event that is never folded with others (the
// start and end of a run, kernel errors).
func (k *Kernel) AuditCritical(event string, attrs ...slog.Attr) {
	k.cfg.Audit.Critical(event, attrs...)
}

// maxPID bounds the sandbox's pid space, as pid_max does.
const maxPID = 1 << 22

// allocPID hands out the next free number of the sandbox's pid space
// (shared by processes and threads, as on Linux).
func (k *Kernel) allocPID() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		pid := k.nextPID
		k.nextPID++
		if k.nextPID >= maxPID {
			k.nextPID = 2
		}
		if !k.usedPIDs[pid] {
			k.usedPIDs[pid] = true
			return pid
		}
	}
}

func (k *Kernel) freePID(pid int) {
	k.mu.Lock()
	delete(k.usedPIDs, pid)
	k.mu.Unlock()
}

// checkTasks enforces the limit on live tasks (--pids).
func (k *Kernel) checkTasks() error {
	k.mu.Lock()
	full := k.cfg.Limits.Tasks > 0 && len(k.usedPIDs) >= k.cfg.Limits.Tasks
	k.mu.Unlock()
	if full {
		k.AuditEvent("limit_exceeded", slog.String("limit", "pids"), slog.Int("max", k.cfg.Limits.Tasks))
		return unix.EAGAIN
	}
	return nil
}

// groupExists reports whether a live process has process group pgid.
func (k *Kernel) groupExists(pgid int) bool {
	for _, p := range k.liveProcs() {
		if p.Pgid() == pgid {
			return true
		}
	}
	return false
}

func (k *Kernel) groupInSession(pgid, sid int) bool {
	for _, p := range k.liveProcs() {
		if p.Pgid() == pgid && p.Sid() == sid {
			return true
		}
	}
	return false
}

func (k *Kernel) liveProcs() []*Process {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*Process, 0, len(k.procs))
	for _, p := range k.procs {
		out = append(out, p)
	}
	return out
}

// Task returns the live thread with the given tid.
func (k *Kernel) Task(tid int) (*Task, bool) {
	for _, p := range k.liveProcs() {
		p.mu.Lock()
		t, ok := p.tasks[tid]
		p.mu.Unlock()
		if ok {
			return t, true
		}
	}
	return nil, false
}

// KillGroup sends a signal from src to every process in group pgid;
// ESRCH if none.
func (k *Kernel) KillGroup(pgid int, info SigInfo, src SigSource) error {
	found := false
	for _, p := range k.liveProcs() {
		if p.Pgid() == pgid {
			found = true
			_ = p.SendSignalFrom(info, src)
		}
	}
	if !found {
		return unix.ESRCH
	}
	return nil
}

// KillAll sends a signal to every process but sender (kill -1).
func (k *Kernel) KillAll(sender *Process, info SigInfo) error {
	found := false
	for _, p := range k.liveProcs() {
		if p != sender && p.PID != 1 {
			found = true
			_ = p.SendSignal(info)
		}
	}
	if !found {
		return unix.ESRCH
	}
	return nil
}

// dropProcess removes a reaped process from the table.
func (k *Kernel) dropProcess(pid int) {
	k.mu.Lock()
	delete(k.procs, pid)
	k.mu.Unlock()
	k.poll.notify() // its pidfds hung up
}

// Process returns the process (live or zombie) with the given pid.
func (k *Kernel) Process(pid int) (*Process, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.procs[pid]
	return p, ok
}

// PIDs returns the pids of the live processes.
func (k *Kernel) PIDs() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]int, 0, len(k.procs))
	for pid := range k.procs {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// SignalEverything sends sig from src to every process of the sandbox.
func (k *Kernel) SignalEverything(sig unix.Signal, src SigSource) {
	for _, p := range k.liveProcs() {
		_ = p.SendSignalFrom(SigInfo{Signo: sig, Code: SIKernel}, src)
	}
}

// KillEverything ends every process of the sandbox with sig.
func (k *Kernel) KillEverything(sig unix.Signal) {
	for _, p := range k.liveProcs() {
		p.Kill(WaitStatusSignaled(sig, false))
	}
}

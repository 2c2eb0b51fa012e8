// Package sandbox is the embedding API: a Config describes a sandbox, a
// Sandbox owns its kernel, file systems and pid space, and a Cmd runs one
// guest program in it, shaped like os/exec (Start, Wait, Run,
// CommandContext, Process, StdinPipe/StdoutPipe/StderrPipe, *ExitError).
//
// A Sandbox runs any number of commands, one after another and at the same
// time, sharing its file systems, like `docker exec` into a running
// container, until Close. The sandbox's pid space has one init that lives
// as long as the Sandbox: the kernel itself, with no guest code and no pid
// a guest can name (a command's first process has getppid 0). Each command
// is a job of the kernel: its first process leads a new session and process
// group (the first command of a sandbox gets pid 1) and adopts the orphans
// of its job, as a pid namespace's init does; when it ends, every other
// process of the job is killed with it, so Wait returning means nothing of
// the command runs any more. Commands see each other's processes (kill,
// /proc), as processes of one container do.
package sandbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/hostnet"
	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/audit"
	"github.com/litebox-go/litebox/kernel/fsimpl/cover"
	"github.com/litebox-go/litebox/kernel/fsimpl/devfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/procfs"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/verify"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/shim/linux"
)

// Mount makes a host directory visible in the sandbox, or, with Tmpfs,
// puts a new in-memory file system there (see oci.go).
type Mount struct {
	HostPath  string
	GuestPath string
	Writable  bool
	// Tmpfs, when set, makes this a tmpfs mount (HostPath is unused).
	Tmpfs *Tmpfs
	// NoExec mounts it noexec: nothing on it may be executed or mapped
	// executable (a directory or tmpfs mount; see vfs.NoExecer).
	NoExec bool
}

// ParseMount parses the CLI form HOSTDIR:GUESTDIR[:ro|:rw].
func ParseMount(spec string) (Mount, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Mount{}, fmt.Errorf("bad mount %q: want HOSTDIR:GUESTDIR[:ro|:rw]", spec)
	}
	m := Mount{HostPath: parts[0], GuestPath: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
		case "rw":
			m.Writable = true
		default:
			return Mount{}, fmt.Errorf("bad mount %q: mode must be ro or rw, not %q", spec, parts[2])
		}
	}
	if !strings.HasPrefix(m.GuestPath, "/") {
		return Mount{}, fmt.Errorf("bad mount %q: guest path must be absolute", spec)
	}
	return m, nil
}

// Config describes a sandbox.
type Config struct {
	// Platform selects the South: a registered platform's name ("systrap",
	// "ptrace") or "auto" (the default: the most preferred one the host
	// allows, systrap then ptrace).
	Platform string
	// Mounts are host directories added to the default view (or to the
	// image root).
	Mounts []Mount
	// MountLabels name litebox's own mounts in the guest's mount table as
	// a container's config named them (see MountLabel).
	MountLabels []MountLabel
	// Root, if set, is the guest's root instead of the default view: an
	// image's layers under a throw-away writable layer, with nothing of
	// the host visible but the Mounts (see Root).
	Root *Root
	// TmpSize caps the bytes stored in /tmp and the root directory, data
	// and metadata; 0 means unlimited.
	TmpSize int64
	// TmpInodes caps the files, directories and symlinks in /tmp and the
	// root directory; 0 means one per 4 KiB of TmpSize.
	TmpInodes int64
	// Limits are enforced by the kernel; zero fields mean no limit.
	Limits Limits
	// Harden, if set, is called once the guest's first address space
	// exists and before its first instruction runs: the moment to confine
	// the calling process itself (the CLI installs hostpolicy there:
	// hostpolicy.InstallFor(Network.HostPolicy()), since plain
	// hostpolicy.Install allows no socket call and so no network).
	Harden func() error
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
	// LogUnsupported reports every unsupported syscall once on Log.
	LogUnsupported bool
	// Audit receives JSON-lines audit events; nil disables the audit log.
	// It is written by one goroutine of the sandbox, never by a guest
	// thread, and repeated events are folded (see kernel/audit).
	Audit io.Writer
	// AuditMaxSize caps the audit log's size; 0 means no cap. When Audit
	// is an *os.File, the bytes already in it count (an appended file).
	// The line that would pass the cap is replaced by one audit_truncated
	// event and nothing is written after it.
	AuditMaxSize int64
	// PanicOnSyscall is a test hook: when a guest issues the syscall of
	// this name, the kernel panics as a bug would (the sandbox then ends
	// with an *InternalError). Empty outside tests.
	PanicOnSyscall string
	// Hostname is what uname reports ("litebox" by default).
	Hostname string
	// SyscallTrace, if not nil, receives the names of the syscalls each guest
	// run issued, one per line, sorted and unique, when the guest ends.
	SyscallTrace io.Writer
	// User is whom every command runs as (--user); nil: DefaultUser. The
	// ids are the guest's only (see User).
	User *User
	// Network is the sandbox's network: none (the zero value), egress,
	// published ports (see Network).
	Network Network
	// MountOwner, if set, is whom the files of the host user running
	// litebox show as in the Mounts (nil: User's ids, as --mount does). An
	// OCI runtime sets litebox's own ids: a bundle's binds keep their
	// owners, as under runc without a user namespace.
	MountOwner *User
	// Unapplied are settings of the sandbox's description (an OCI spec)
	// that litebox does not apply: New reports each in the audit log and
	// on Log (see Unapplied).
	Unapplied []Unapplied
	// ContainerInit makes the sandbox's pid 1 a container's init for the
	// signals sent from outside (Cmd.Signal, Process.Signal, SignalAll,
	// the CPU-time limit's SIGXCPU): it gets them only if it has a
	// handler, except SIGKILL and SIGSTOP, as Linux's init of a pid
	// namespace signalled from an ancestor namespace (runc's containers:
	// `kill ID TERM` leaves a handler-less sleep running). An OCI runtime
	// sets it (oci/spec does). It also makes pid 1 an init inside: it
	// drops the signals of guest processes and of the kernel (a
	// terminal's ^C, SIGPIPE, SIGXFSZ) it has no handler for, as Linux's
	// init does, and dies only of SIGKILL, SIGSTOP from outside, or a
	// fault. Off (litebox run), pid 1 is a process like any other, inside
	// and out, as the program is when run natively.
	ContainerInit bool
	// Verify, if set, is verified execution (kernel/verify): with a
	// Manifest (one verified against a trusted key: manifest.ReadVerified)
	// the kernel refuses with EACCES every program, interpreter, script
	// and executable file mapping whose content the manifest does not
	// list; NoExecAnon refuses anonymous executable memory; with Record
	// the sandbox remembers every file mapped executable (Mapped). Set,
	// the sandbox also counts its audit events (AuditCounts), with or
	// without Audit, for a record of the run. Its Audit is the sandbox's.
	Verify *verify.Options
}

// outside is the source of the signals sent from outside the sandbox
// (see Config.ContainerInit).
func (s *Sandbox) outside() kernel.SigSource {
	if s.cfg.ContainerInit {
		return kernel.SigFromOutside
	}
	return kernel.SigFromOutsideUnprotected
}

// Limits bound what a sandbox's guests may use.
type Limits struct {
	Memory   uint64        // bytes mapped across all guest processes plus the kernel objects they hold (--memory)
	Tasks    int           // live processes and threads (--pids)
	NoFile   int           // open descriptors per process (--nofile)
	FileSize uint64        // largest file a guest may write (--fsize)
	CPUTime  time.Duration // CPU time of all guest processes (--cpu-time)
	Timeout  time.Duration // wall-clock time of the run (--timeout)
	// CPUs is a CPU share: at most this many CPUs' worth of CPU time per
	// second for the whole sandbox, guest code and litebox's work for it
	// (Docker's --cpus, an OCI spec's cpu quota/period); 0: no share.
	// CPUPeriod is the period it is counted over (0: 100 ms). See
	// cpushare.go.
	CPUs      float64
	CPUPeriod time.Duration
}

// defaultHostDirs are the host directories of the default view, read-only.
var defaultHostDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"}

// hiddenEtc are files of /etc a guest never sees: secrets of the host.
var hiddenEtc = []string{"shadow", "shadow-", "gshadow", "gshadow-", "ssh", "sudoers", "sudoers.d",
	"ssl/private", "security/opasswd", "krb5.keytab", "machine-id"}

// Sandbox is a configured sandbox: its kernel, file systems, pid space and
// platform, shared by the commands it runs (see Cmd), until Close.
type Sandbox struct {
	runs   sync.WaitGroup // commands' run goroutines (loading, waiting for the end)
	budget *mm.Budget
	spaces spaceSet
	serve  serveCPU // litebox's CPU serving the guest's threads
	share  cpuShare // the CPU share's throttle (cpushare.go)
	cfg    Config
	fs     *vfs.VFS
	// hostFDs holds the host directories of fs (hostfs): closed with the
	// sandbox once its threads ended.
	hostFDs *hostfs.FDBudget
	kernel  *kernel.Kernel
	log     *slog.Logger
	audit   *audit.Log
	// gw and net are the gateway and the guest's stack, when the sandbox
	// has a network (Config.Network); closed by Close.
	gw  *hostnet.Gateway
	net *netstack.Stack

	// platMu guards plat: the first command's load picks it.
	platMu     sync.Mutex
	plat       platform.Platform
	hardenOnce sync.Once
	hardenErr  error

	mu         sync.Mutex
	closed     bool          // Close began, or a limit ended the sandbox
	running    map[*Cmd]bool // commands whose first process exists
	firstStart time.Time     // the first command's start: the limits count from it
	stopLimits func()
	limitHit   string // which limit ended the sandbox, if one did
	lastStatus int    // wait status of the latest command to end

	closeOnce  sync.Once
	finishOnce sync.Once
	finishErr  error
}

// New builds the sandbox's file system view and kernel.
func New(cfg Config) (_ *Sandbox, err error) {
	if err := checkPlatform(cfg.Platform); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c := cfg.Limits.CPUs; c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("bad CPU share %v: want a positive number of CPUs", c)
	}
	if p := cfg.Limits.CPUPeriod; p != 0 && (p < time.Millisecond || p > time.Second) {
		return nil, fmt.Errorf("bad CPU period %v: want 1ms to 1s", p)
	}
	if cfg.PanicOnSyscall != "" {
		if _, ok := linux.Number(cfg.PanicOnSyscall); !ok {
			return nil, fmt.Errorf("unknown syscall %q for the panic test hook", cfg.PanicOnSyscall)
		}
	}
	names := &nameFiles{}
	budget := mm.NewBudget(cfg.Limits.Memory)
	// Every host directory of the view (its root descriptor) is closed
	// with the sandbox, or now if it cannot be made.
	fds := &hostfs.FDBudget{Max: hostFDsCap()}
	defer func() {
		if err != nil {
			fds.Close()
		}
	}()
	fs, mountRest, grant, err := buildFS(cfg, names, budget, fds)
	if err != nil {
		return nil, err
	}
	var alog *audit.Log
	if cfg.Audit != nil {
		opts := audit.Options{MaxSize: cfg.AuditMaxSize}
		if f, ok := cfg.Audit.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				opts.Existing = fi.Size()
			}
		}
		alog = audit.New(cfg.Audit, opts)
	} else if cfg.Verify != nil {
		// A record of the run counts the audit events (AuditCounts),
		// written or not.
		alog = audit.New(io.Discard, audit.Options{})
	}
	creds := cfg.creds()
	s := &Sandbox{cfg: cfg, fs: fs, hostFDs: fds, log: log, audit: alog}
	s.budget = budget
	s.budget.MaxFiles = mappedFilesCap()
	if s.gw, s.net, err = newNetwork(cfg.Network, alog, s, s.budget, fs); err != nil {
		return nil, err
	}
	kcfg := kernel.Config{
		FS: fs, Log: log, LogUnsupported: cfg.LogUnsupported, Audit: alog, Hostname: cfg.Hostname,
		Limits: kernel.Limits{NoFile: cfg.Limits.NoFile, Tasks: cfg.Limits.Tasks, FileSize: cfg.Limits.FileSize},
		Memory: s.budget, Serving: s.serve.begin, Creds: creds, Net: s.net,
		ContainerInit: cfg.ContainerInit, Verify: cfg.Verify,
	}
	if cfg.Limits.CPUs > 0 {
		s.share.period = cfg.Limits.CPUPeriod
		if s.share.period <= 0 {
			s.share.period = defaultCPUPeriod
		}
		kcfg.Throttle = s.share.wait
	}
	s.kernel = kernel.New(kcfg)
	names.set(s.kernel)
	s.reportUnapplied()
	s.budget.OnExceeded = func(want uint64) {
		s.kernel.AuditEvent("limit_exceeded", slog.String("limit", "memory"),
			slog.Uint64("max", cfg.Limits.Memory), slog.Uint64("requested", want))
	}
	if err := mountRest(s.kernel); err != nil {
		s.closeNetwork()
		return nil, err
	}
	// From now on the sandbox resolves paths for its guest (PATH lookups)
	// as the guest's user; the view above was built as the default one.
	fs.SetCred(creds)
	grant()
	return s, nil
}

// nofileShare is a sandbox's share of litebox's RLIMIT_NOFILE, which every
// sandbox of the process shares: a quarter of it (at least 64), or
// fallback when the limit cannot be read. File mappings and open host
// files each get one share.
func nofileShare(fallback uint64) uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fallback
	}
	return max(64, lim.Cur/4)
}

// mappedFilesCap bounds the open files a sandbox's file mappings keep open
// after the guest closed their descriptors (ENFILE beyond): each is a host
// fd of litebox, so a sandbox gets one share of RLIMIT_NOFILE, and never
// more than mm.DefaultMaxFiles.
func mappedFilesCap() int {
	return int(min(uint64(mm.DefaultMaxFiles), nofileShare(mm.DefaultMaxFiles)))
}

// hostFDsCap bounds the host descriptors a sandbox's open host files hold
// at once (ENFILE beyond): one share of RLIMIT_NOFILE.
func hostFDsCap() int64 { return int64(nofileShare(256)) }

func buildFS(cfg Config, names *nameFiles, budget *mm.Budget, fds *hostfs.FDBudget) (_ *vfs.VFS, _ func(*kernel.Kernel) error, grant func(), _ error) {
	// The root directory is writable by the guest too, so it shares the
	// limits of /tmp; what the sandbox itself puts there (mount points,
	// host links) is granted on top once the view is built.
	tmp := memfs.New(cfg.TmpSize)
	if cfg.TmpInodes > 0 {
		tmp.SetInodeLimit(cfg.TmpInodes)
	}
	ownBytes, ownInodes := tmp.Used(), tmp.Inodes()
	var fs *vfs.VFS
	fms, err := fileMounts(cfg, hostfs.Options{OwnerAsGuest: true, Owner: cfg.hostOwner(), FDs: fds, Memory: budget})
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Root != nil {
		// An image root: its layers and nothing of the host's but the
		// mounts (root.go).
		host := hostfs.Options{FDs: fds, Memory: budget}
		if fs, err = rootFS(cfg.Root, tmp, names, fileCovers(fms), host); err != nil {
			return nil, nil, nil, err
		}
	} else {
		fs = vfs.New(memfs.Sharing(tmp))
		if err := mountDefaultHostDirs(fs, fds, names); err != nil {
			return nil, nil, nil, err
		}
	}
	// The rest is mounted once the kernel exists (its /proc and /dev/pts),
	// in the order container engines mount them (a container's mount
	// table lists /proc, /dev, /dev/pts, /dev/shm first, as Linux lists
	// mounts in the order they were made), then the Mounts in theirs.
	mountRest := func(k *kernel.Kernel) error {
		if err := installProc(fs, k); err != nil {
			return err
		}
		dev := devfs.New()
		if err := mountAt(fs, "/dev", dev); err != nil {
			return fmt.Errorf("mounting /dev: %w", err)
		}
		if err := installTerminals(fs, dev, k); err != nil {
			return err
		}
		// POSIX shared memory and named semaphores (shm_open, sem_open)
		// live in /dev/shm: a tmpfs like /tmp, drawing on /tmp's limits.
		if err := fs.Mount("/dev/shm", memfs.Sharing(tmp)); err != nil {
			return fmt.Errorf("mounting /dev/shm: %w", err)
		}
		if err := fs.Chmod("/dev/shm", 0o1777, true); err != nil {
			return fmt.Errorf("chmod /dev/shm: %w", err)
		}
		if cfg.Root == nil || cfg.Root.Dir == "" {
			// A directory root has its own /tmp, as runc's bundle rootfs.
			if err := mountAt(fs, "/tmp", tmp); err != nil {
				return fmt.Errorf("mounting /tmp: %w", err)
			}
			if err := fs.Chmod("/tmp", 0o1777, true); err != nil {
				return fmt.Errorf("chmod /tmp: %w", err)
			}
		}
		for _, m := range cfg.Mounts {
			if isFileMount(m) {
				continue // covering nodes of the root (filebind.go)
			}
			if m.Tmpfs != nil {
				if err := mountTmpfs(fs, tmp, m); err != nil {
					return err
				}
				continue
			}
			if err := mountHostAs(fs, m.HostPath, m.GuestPath, hostfs.Options{ReadOnly: !m.Writable, OwnerAsGuest: true,
				Owner: cfg.hostOwner(), FDs: fds, Memory: budget}, m.NoExec); err != nil {
				return err
			}
		}
		if err := checkFileMounts(fs, fms); err != nil {
			return err
		}
		return labelMounts(fs, cfg.MountLabels)
	}
	// Granted when the view is complete.
	return fs, mountRest, func() { tmp.RaiseLimits(tmp.Used()-ownBytes, tmp.Inodes()-ownInodes) }, nil
}

// mountDefaultHostDirs mounts the host's system directories of the
// default view, read-only.
func mountDefaultHostDirs(fs *vfs.VFS, fds *hostfs.FDBudget, names *nameFiles) error {
	for _, dir := range defaultHostDirs {
		fi, err := os.Lstat(dir)
		if err != nil {
			continue // the host does not have it: neither does the guest
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			// Merged-/usr hosts link /bin to usr/bin: mirror the link, which
			// the guest then resolves inside its own view.
			target, err := os.Readlink(dir)
			if err != nil {
				return fmt.Errorf("reading host link %s: %w", dir, err)
			}
			if err := fs.Symlink(target, dir); err != nil {
				return fmt.Errorf("linking %s: %w", dir, err)
			}
			continue
		}
		// System directories: the host does not change them under a
		// running sandbox, so their lookups are cached.
		opts := hostfs.Options{ReadOnly: true, Cache: true, FDs: fds}
		if dir == "/etc" {
			opts.Hide = hiddenEtc
			if err := mountEtc(fs, opts, names); err != nil {
				return err
			}
			continue
		}
		if err := mountHost(fs, dir, dir, opts); err != nil {
			return err
		}
	}
	return nil
}

// nameFiles are the guest's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, made by the kernel (its hostname, its network) once
// it exists: the host's would name the host's machines and resolver.
type nameFiles struct {
	mu sync.Mutex
	k  *kernel.Kernel
}

func (n *nameFiles) set(k *kernel.Kernel) {
	n.mu.Lock()
	n.k = k
	n.mu.Unlock()
}

// files maps each covered name of /etc to its content.
func (n *nameFiles) files() map[string]func() ([]byte, error) {
	from := func(get func(*kernel.Kernel) ([]byte, error)) func() ([]byte, error) {
		return func() ([]byte, error) {
			n.mu.Lock()
			k := n.k
			n.mu.Unlock()
			if k == nil {
				return nil, unix.ENOENT // before the kernel: nobody reads
			}
			return get(k)
		}
	}
	return map[string]func() ([]byte, error){
		"hosts":       from((*kernel.Kernel).EtcHosts),
		"hostname":    from((*kernel.Kernel).EtcHostname),
		"resolv.conf": from((*kernel.Kernel).ResolvConf),
	}
}

// mountEtc mounts the host's /etc, read-only, with the sandbox's name
// files over the host's.
func mountEtc(fs *vfs.VFS, opts hostfs.Options, names *nameFiles) error {
	hfs, err := hostfs.New("/etc", opts)
	if err != nil {
		return fmt.Errorf("mount /etc: %w", err)
	}
	if err := mountAt(fs, "/etc", cover.New(hfs, names.files())); err != nil {
		return fmt.Errorf("mount /etc: %w", err)
	}
	return nil
}

func mountHost(fs *vfs.VFS, hostPath, guestPath string, opts hostfs.Options) error {
	return mountHostAs(fs, hostPath, guestPath, opts, false)
}

// mountHostAs is mountHost, noexec if asked.
func mountHostAs(fs *vfs.VFS, hostPath, guestPath string, opts hostfs.Options, noExec bool) error {
	abs, err := filepath.Abs(hostPath)
	if err != nil {
		return fmt.Errorf("mount %s: %w", hostPath, err)
	}
	hfs, err := hostfs.New(abs, opts)
	if err != nil {
		return fmt.Errorf("mount %s: %w", hostPath, err)
	}
	var mfs vfs.FileSystem = hfs
	if noExec {
		mfs = noExecHost{hfs}
	}
	if err := mountAt(fs, filepath.Clean(guestPath), mfs); err != nil {
		return fmt.Errorf("mount %s at %s: %w", hostPath, guestPath, err)
	}
	return nil
}

// FS returns the sandbox's file system, for embedders that prepare files.
func (s *Sandbox) FS() *vfs.VFS { return s.fs }

// AuditCounts returns how many audit events of each kind the sandbox has
// had (see audit.Log.Counts); nil without Audit or Verify.
func (s *Sandbox) AuditCounts() map[string]int64 { return s.audit.Counts() }

// Usage is what a sandbox's guests used.
type Usage struct {
	// CPU is the CPU time of every guest process; LiteboxCPU that of
	// litebox's own work serving them (both count against --cpu-time).
	CPU, LiteboxCPU time.Duration
	// PeakMemory is the most memory charged to --memory at once.
	PeakMemory uint64
}

// Usage returns what the sandbox's guests have used so far (final once
// Close has returned).
func (s *Sandbox) Usage() Usage {
	return Usage{CPU: s.spaces.cpuTime(), LiteboxCPU: s.serve.total(), PeakMemory: s.budget.Peak()}
}

// PlatformName is the platform the sandbox's guests run on ("systrap",
// "ptrace"), once its first command has started; "" before.
func (s *Sandbox) PlatformName() string {
	s.platMu.Lock()
	defer s.platMu.Unlock()
	if s.plat == nil {
		return ""
	}
	return s.plat.Name()
}

// Mapped returns the files mapped executable so far, with their digests,
// and how many more were not remembered; nil without Config.Verify.
func (s *Sandbox) Mapped() ([]verify.Mapped, int) {
	p := s.kernel.Verify()
	if p == nil {
		return nil, 0
	}
	return p.Mapped()
}

// InternalError is returned by Cmd.Run and Cmd.Wait when a bug in litebox
// (a panic on any goroutine serving the sandbox) ended the sandbox. Its
// processes were killed; other sandboxes of the process are unaffected.
// The stack is also in the audit log (kernel_error).
type InternalError = kernel.InternalError

// Errors for programs that cannot be started.
var (
	ErrNotFound      = errors.New("program not found")
	ErrNotExecutable = errors.New("cannot execute program")
)

func installProc(fs *vfs.VFS, k *kernel.Kernel) error {
	if err := mountAt(fs, "/proc", procfs.New(k)); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	return nil
}

// installTerminals gives the guest its ptys: the devpts file system at
// /dev/pts, /dev/ptmx a link to its pts/ptmx (as in a container, whose
// devpts is a new instance: Docker, runc, the OCI spec's default links),
// and /dev/tty, all served by the kernel.
func installTerminals(fs *vfs.VFS, dev *devfs.FS, k *kernel.Kernel) error {
	pts := k.Devpts()
	if err := dev.AddSymlink("ptmx", "pts/ptmx"); err != nil {
		return fmt.Errorf("adding /dev/ptmx: %w", err)
	}
	if err := dev.Add("tty", pts.TTY()); err != nil {
		return fmt.Errorf("adding /dev/tty: %w", err)
	}
	if err := fs.Mount("/dev/pts", pts); err != nil {
		return fmt.Errorf("mounting /dev/pts: %w", err)
	}
	return nil
}

// mountAt mounts mfs at guestPath, creating the mount point (and its
// parents) in the guest's root first when it does not exist yet; on a
// read-only root (an image run --read-only) the VFS makes them implicit.
func mountAt(fs *vfs.VFS, guestPath string, mfs vfs.FileSystem) error {
	dir := ""
	for _, part := range strings.Split(strings.Trim(guestPath, "/"), "/") {
		if part == "" {
			continue
		}
		dir += "/" + part
		if _, err := fs.Stat(dir, true); err == nil {
			continue
		}
		if err := fs.Mkdir(dir, 0o755); err != nil {
			if errors.Is(err, unix.EROFS) {
				break // a read-only root: Mount makes implicit mount points
			}
			return fmt.Errorf("creating mount point %s: %w", dir, err)
		}
	}
	return fs.Mount(guestPath, mfs)
}

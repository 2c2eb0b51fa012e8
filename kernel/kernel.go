// Package kernel is the North: the library OS core. It owns the sandbox's
// file systems, processes and their resources, and offers a Go API shaped
// like golang.org/x/sys/unix. It knows nothing of how guest code runs; the
// shim translates guest syscalls into calls on this API.
package kernel

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

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
	Audit *slog.Logger
	// Hostname and domain name reported by uname.
	Hostname string
	// Limits are the sandbox's resource limits.
	Limits Limits
}

// Limits are the resource limits the kernel enforces; zero means the
// default.
type Limits struct {
	NoFile int // descriptors per process
}

// Kernel is one sandbox's kernel.
type Kernel struct {
	cfg  Config
	boot time.Time

	mu          sync.Mutex
	unsupported map[string]bool
	nextPID     int
	procs       map[int]*Process

	// Futexes are the sandbox's futex wait queues.
	Futexes Futexes
	poll    notifier
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
	return &Kernel{cfg: cfg, boot: time.Now(), unsupported: map[string]bool{}, nextPID: 1,
		procs: map[int]*Process{}}
}

// FS returns the sandbox's file system.
func (k *Kernel) FS() *vfs.VFS { return k.cfg.FS }

// Hostname returns the name uname reports.
func (k *Kernel) Hostname() string { return k.cfg.Hostname }

// BootTime is when the kernel started; CLOCK_BOOTTIME counts from it.
func (k *Kernel) BootTime() time.Time { return k.boot }

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

// AuditEvent writes one structured audit event.
func (k *Kernel) AuditEvent(event string, attrs ...slog.Attr) {
	if k.cfg.Audit == nil {
		return
	}
	k.cfg.Audit.LogAttrs(context.Background(), slog.LevelInfo, event, attrs...)
}

func (k *Kernel) allocPID() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	pid := k.nextPID
	k.nextPID++
	return pid
}

// Process returns the live process with the given pid.
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

// Package procfs is the sandbox's /proc: it shows only the sandbox's own
// processes and synthesized system files, never the host's.
package procfs

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/fsimpl/procfs/synth"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// New returns a /proc file system for k.
func New(k *kernel.Kernel) vfs.FileSystem {
	p := &procfs{k: k, pids: map[int]*synth.Dir{}}
	k.SetPidDir(p.pidOfDir) // a /proc/<pid> descriptor is a pidfd too
	cpuinfo := hostCPUInfo()
	static := map[string]vfs.Node{
		"self":    synth.NewCallerSymlink(p.self),
		"mounts":  synth.NewSymlink(func() (string, error) { return "self/mounts", nil }),
		"cpuinfo": synth.NewFile(0o444, func() ([]byte, error) { return cpuinfo, nil }),
		"meminfo": synth.NewFile(0o444, p.meminfo),
		"net": synth.NewDir(func() map[string]vfs.Node {
			return map[string]vfs.Node{"unix": synth.NewFile(0o444, k.ProcNetUnix),
				"dev": synth.NewFile(0o444, k.ProcNetDev), "route": synth.NewFile(0o444, k.ProcNetRoute),
				"if_inet6": synth.NewFile(0o444, k.ProcNetIfInet6)}
		}),
		"sys": sysDir(k),
		"version": synth.NewFile(0o444, func() ([]byte, error) {
			return []byte("Linux version 6.1.0-litebox (litebox@litebox) #1 SMP LiteBox-Go\n"), nil
		}),
	}
	root := synth.NewDir(func() map[string]vfs.Node {
		out := make(map[string]vfs.Node, len(static)+4)
		for name, n := range static {
			out[name] = n
		}
		for _, pid := range k.PIDs() {
			out[strconv.Itoa(pid)] = p.pidDir(pid)
		}
		return out
	})
	return synth.NewFS("proc", root)
}

type procfs struct {
	k    *kernel.Kernel
	mu   sync.Mutex
	pids map[int]*synth.Dir
}

// self names the calling process: the one whose path walk ctx belongs to
// (kernel.Process.Context); outside any process (the sandbox itself), the
// lowest live pid.
func (p *procfs) self(ctx context.Context) (string, error) {
	if caller, ok := kernel.CallerProcess(ctx); ok {
		return strconv.Itoa(caller.PID), nil
	}
	pids := p.k.PIDs()
	if len(pids) == 0 {
		return "", os.ErrNotExist
	}
	return strconv.Itoa(pids[0]), nil
}

// pidOfDir tells the pid whose /proc/<pid> directory n is.
func (p *procfs) pidOfDir(n vfs.Node) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pid, d := range p.pids {
		if vfs.Node(d) == n {
			return pid, true
		}
	}
	return 0, false
}

// pidDir builds (once) the directory of one process.
func (p *procfs) pidDir(pid int) *synth.Dir {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.pids[pid]; ok {
		return d
	}
	proc := func() (*kernel.Process, error) {
		pr, ok := p.k.Process(pid)
		if !ok {
			return nil, os.ErrNotExist
		}
		return pr, nil
	}
	fdDir := synth.NewDir(func() map[string]vfs.Node {
		pr, err := proc()
		if err != nil {
			return nil
		}
		out := map[string]vfs.Node{}
		for _, fd := range pr.FDs.FDs() {
			out[strconv.Itoa(fd)] = newFDLink(pr, fd)
		}
		return out
	})
	d := synth.NewStaticDir(map[string]vfs.Node{
		"mounts":    synth.NewFile(0o444, func() ([]byte, error) { return mounts(p.k.FS()), nil }),
		"mountinfo": synth.NewFile(0o444, func() ([]byte, error) { return mountinfo(p.k.FS()), nil }),
		"exe": synth.NewSymlink(func() (string, error) {
			pr, err := proc()
			if err != nil {
				return "", err
			}
			return pr.Exe(), nil
		}),
		"cwd": synth.NewSymlink(func() (string, error) {
			pr, err := proc()
			if err != nil {
				return "", err
			}
			return pr.CwdLink()
		}),
		"maps": synth.NewFile(0o444, func() ([]byte, error) {
			pr, err := proc()
			if err != nil {
				return nil, err
			}
			return []byte(pr.MM.Maps() + vsyscallMaps), nil
		}),
		"cmdline": synth.NewFile(0o444, func() ([]byte, error) {
			pr, err := proc()
			if err != nil {
				return nil, err
			}
			var b []byte
			for _, a := range pr.Args() {
				b = append(append(b, a...), 0)
			}
			return b, nil
		}),
		"fd": fdDir,
		// litebox's kernel has no user namespaces: the ids are unmapped,
		// as in Linux's initial namespace (whose maps these are).
		"uid_map":   synth.NewFile(0o444, identityMap),
		"gid_map":   synth.NewFile(0o444, identityMap),
		"setgroups": synth.NewFile(0o444, func() ([]byte, error) { return []byte("allow\n"), nil }),
		// No OOM killer chooses among guest processes (litebox refuses
		// memory past --memory with ENOMEM): no adjustment, 0.
		"oom_score_adj": synth.NewFile(0o444, func() ([]byte, error) { return []byte("0\n"), nil }),
		"status": synth.NewFile(0o444, func() ([]byte, error) {
			pr, err := proc()
			if err != nil {
				return nil, err
			}
			return []byte(pr.StatusText()), nil
		}),
	})
	p.pids[pid] = d
	return d
}

// identityMap is a uid_map or gid_map of Linux's initial user namespace:
// every id maps to itself.
func identityMap() ([]byte, error) {
	return []byte(fmt.Sprintf("%10d %10d %10d\n", 0, 0, uint64(1)<<32-1)), nil
}

// sysDir is /proc/sys: the few sysctls whose values litebox's kernel
// has, read-only (no sysctl is set, and the host's are never shown).
func sysDir(k *kernel.Kernel) *synth.Dir {
	value := func(v func() string) *synth.File {
		return synth.NewFile(0o444, func() ([]byte, error) { return []byte(v() + "\n"), nil })
	}
	return synth.NewStaticDir(map[string]vfs.Node{
		"kernel": synth.NewStaticDir(map[string]vfs.Node{
			"hostname": value(k.Hostname),
		}),
		"net": synth.NewStaticDir(map[string]vfs.Node{
			"ipv4": synth.NewStaticDir(map[string]vfs.Node{
				// The sandbox's netstack forwards nothing.
				"ip_forward": value(func() string { return "0" }),
			}),
		}),
	})
}

// meminfo reports the guest's view of memory: what is mapped now, out of
// the host's total or --memory, whichever is smaller (as sysinfo does:
// programs size caches and heaps from either).
func (p *procfs) meminfo() ([]byte, error) {
	total := hostMemTotalKB()
	if lim := p.k.MemoryLimit() / 1024; lim > 0 {
		total = min(total, lim)
	}
	var used uint64
	for _, pid := range p.k.PIDs() {
		if pr, ok := p.k.Process(pid); ok {
			used += pr.MM.Mapped() / 1024
		}
	}
	free := total - min(used, total)
	var b strings.Builder
	for _, kv := range []struct {
		k string
		v uint64
	}{{"MemTotal", total}, {"MemFree", free}, {"MemAvailable", free}, {"Buffers", 0}, {"Cached", 0},
		{"SwapCached", 0}, {"SwapTotal", 0}, {"SwapFree", 0}} {
		fmt.Fprintf(&b, "%-16s%8d kB\n", kv.k+":", kv.v)
	}
	return []byte(b.String()), nil
}

// hostCPUInfo is the host's /proc/cpuinfo, read once: the guest runs on
// these CPUs and programs size thread pools from it.
func hostCPUInfo() []byte {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil
	}
	return b
}

func hostMemTotalKB() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// vsyscallMaps is the line Linux shows for the legacy vsyscall page
// (vsyscall=xonly): execute-only, its calls served. Both platforms serve
// calls into it from the kernel, so every guest has it.
const vsyscallMaps = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"

// fdLink is /proc/<pid>/fd/N: its target reads as the open file's path
// ("pipe:[N]" for a pipe), and a walk that follows it reaches the open
// file itself (vfs.FDLink), as Linux's magic links do: opening it reopens
// the file, a pipe included.
type fdLink struct {
	*synth.Symlink
	pr *kernel.Process
	fd int
}

func newFDLink(pr *kernel.Process, fd int) *fdLink {
	l := &fdLink{pr: pr, fd: fd}
	l.Symlink = synth.NewSymlink(func() (string, error) {
		f, err := l.LinkedFile()
		if err != nil {
			return "", err
		}
		return f.Path(), nil
	})
	return l
}

// LinkedFile returns the file open as the descriptor now (ENOENT once it
// was closed, as Linux's fd entries vanish).
func (l *fdLink) LinkedFile() (*vfs.File, error) {
	f, err := l.pr.FDs.Get(l.fd)
	if err != nil {
		return nil, unix.ENOENT
	}
	return f, nil
}

// Package hostpolicy is the kernel process's own seccomp allowlist: once a
// sandbox is running, the litebox process may only make the host syscalls
// listed here. Everything else fails with EPERM (not a kill: a missed entry
// must degrade into an error message, never a dead sandbox).
package hostpolicy

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/seccomp"
)

// base is what litebox needs whichever platform runs the guest, grouped
// by who needs it; the platforms' own needs come from the registry.
var base = []seccomp.Rule{
	// The Go runtime: threads, memory, scheduling, signals, timers.
	{Name: "read", Nr: unix.SYS_READ, Why: "Go runtime and host stdin"},
	{Name: "write", Nr: unix.SYS_WRITE, Why: "host stdout/stderr, audit log"},
	{Name: "close", Nr: unix.SYS_CLOSE, Why: "closing host files"},
	{Name: "mmap", Nr: unix.SYS_MMAP, Why: "Go heap"},
	{Name: "munmap", Nr: unix.SYS_MUNMAP, Why: "Go heap"},
	{Name: "mprotect", Nr: unix.SYS_MPROTECT, Why: "Go runtime"},
	{Name: "madvise", Nr: unix.SYS_MADVISE, Why: "Go heap scavenger"},
	{Name: "futex", Nr: unix.SYS_FUTEX, Why: "Go scheduler"},
	{Name: "clone", Nr: unix.SYS_CLONE, Why: "Go runtime threads"},
	{Name: "clone3", Nr: unix.SYS_CLONE3, Why: "Go runtime threads"},
	{Name: "exit", Nr: unix.SYS_EXIT, Why: "thread exit"},
	{Name: "exit_group", Nr: unix.SYS_EXIT_GROUP, Why: "process exit"},
	{Name: "gettid", Nr: unix.SYS_GETTID, Why: "Go runtime; ptrace platform finds the calling tracer"},
	{Name: "getpid", Nr: unix.SYS_GETPID, Why: "Go runtime signals"},
	{Name: "tgkill", Nr: unix.SYS_TGKILL, Why: "Go preemption signals; interrupting stub threads"},
	{Name: "rt_sigaction", Nr: unix.SYS_RT_SIGACTION, Why: "Go signal handling"},
	{Name: "rt_sigprocmask", Nr: unix.SYS_RT_SIGPROCMASK, Why: "Go signal handling"},
	{Name: "rt_sigreturn", Nr: unix.SYS_RT_SIGRETURN, Why: "Go signal handling"},
	{Name: "sigaltstack", Nr: unix.SYS_SIGALTSTACK, Why: "Go signal handling"},
	{Name: "nanosleep", Nr: unix.SYS_NANOSLEEP, Why: "Go scheduler"},
	{Name: "sched_yield", Nr: unix.SYS_SCHED_YIELD, Why: "Go scheduler"},
	{Name: "sched_getaffinity", Nr: unix.SYS_SCHED_GETAFFINITY, Why: "Go runtime"},
	{Name: "clock_gettime", Nr: unix.SYS_CLOCK_GETTIME, Why: "time; CPU clocks of stubs (--cpu-time)"},
	{Name: "getrandom", Nr: unix.SYS_GETRANDOM, Why: "crypto/rand for AT_RANDOM, getrandom, /dev/urandom"},
	{Name: "epoll_create1", Nr: unix.SYS_EPOLL_CREATE1, Why: "Go netpoller"},
	{Name: "epoll_ctl", Nr: unix.SYS_EPOLL_CTL, Why: "Go netpoller"},
	{Name: "epoll_pwait", Nr: unix.SYS_EPOLL_PWAIT, Why: "Go netpoller"},
	{Name: "eventfd2", Nr: unix.SYS_EVENTFD2, Why: "Go netpoller"},
	{Name: "pipe2", Nr: unix.SYS_PIPE2, Why: "Go netpoller"},
	{Name: "fcntl", Nr: unix.SYS_FCNTL, Why: "Go os package"},
	{Name: "rseq", Nr: unix.SYS_RSEQ, Why: "glibc-free Go runtime probes it on new threads"},
	{Name: "set_robust_list", Nr: unix.SYS_SET_ROBUST_LIST, Why: "new threads"},
	{Name: "prlimit64", Nr: unix.SYS_PRLIMIT64, Why: "Go runtime"},
	// hostfs: host directories beneath their roots.
	{Name: "openat", Nr: unix.SYS_OPENAT, Why: "Go os package (audit file, /proc/self reads)"},
	{Name: "openat2", Nr: unix.SYS_OPENAT2, Why: "hostfs: every path RESOLVE_BENEATH|NO_SYMLINKS"},
	{Name: "fstat", Nr: unix.SYS_FSTAT, Why: "hostfs metadata"},
	{Name: "newfstatat", Nr: unix.SYS_NEWFSTATAT, Why: "hostfs metadata"},
	{Name: "statx", Nr: unix.SYS_STATX, Why: "hostfs metadata"},
	{Name: "fstatfs", Nr: unix.SYS_FSTATFS, Why: "hostfs: statfs of a mount's root (type and usage only)"},
	{Name: "getdents64", Nr: unix.SYS_GETDENTS64, Why: "hostfs directory listings"},
	{Name: "readlinkat", Nr: unix.SYS_READLINKAT, Why: "hostfs symlinks (resolved by our VFS)"},
	{Name: "pread64", Nr: unix.SYS_PREAD64, Why: "hostfs file reads"},
	{Name: "pwrite64", Nr: unix.SYS_PWRITE64, Why: "hostfs writes (:rw mounts only)"},
	{Name: "lseek", Nr: unix.SYS_LSEEK, Why: "hostfs"},
	{Name: "mkdirat", Nr: unix.SYS_MKDIRAT, Why: "hostfs (:rw mounts only)"},
	{Name: "unlinkat", Nr: unix.SYS_UNLINKAT, Why: "hostfs (:rw mounts only)"},
	{Name: "renameat2", Nr: unix.SYS_RENAMEAT2, Why: "hostfs (:rw mounts only)"},
	{Name: "renameat", Nr: unix.SYS_RENAMEAT, Why: "hostfs (:rw mounts only)"},
	{Name: "symlinkat", Nr: unix.SYS_SYMLINKAT, Why: "hostfs (:rw mounts only)"},
	{Name: "linkat", Nr: unix.SYS_LINKAT, Why: "hostfs (:rw mounts only)"},
	{Name: "fchmodat", Nr: unix.SYS_FCHMODAT, Why: "hostfs (:rw mounts only)"},
	{Name: "fchmod", Nr: unix.SYS_FCHMOD, Why: "hostfs (:rw mounts only)"},
	{Name: "utimensat", Nr: unix.SYS_UTIMENSAT, Why: "hostfs (:rw mounts only)"},
	{Name: "ftruncate", Nr: unix.SYS_FTRUNCATE, Why: "hostfs (:rw mounts only)"},
	{Name: "fsync", Nr: unix.SYS_FSYNC, Why: "hostfs (:rw mounts only)"},
	{Name: "fdatasync", Nr: unix.SYS_FDATASYNC, Why: "hostfs (:rw mounts only)"},
	{Name: "getuid", Nr: unix.SYS_GETUID, Why: "hostfs: files of the host user appear as the guest's"},
	{Name: "geteuid", Nr: unix.SYS_GETEUID, Why: "hostfs: files of the host user appear as the guest's"},
	{Name: "getgid", Nr: unix.SYS_GETGID, Why: "hostfs: files of the host user appear as the guest's"},
	{Name: "getegid", Nr: unix.SYS_GETEGID, Why: "hostfs: files of the host user appear as the guest's"},
	// Queries answered from the host.
	{Name: "ioctl", Nr: unix.SYS_IOCTL, Why: "TCGETS/TIOCGWINSZ on the host terminal; TCSETS for run -t's raw mode and its restore"},
	{Name: "sysinfo", Nr: unix.SYS_SYSINFO, Why: "total RAM for sysinfo and /proc/meminfo"},
}

// Options say which of litebox's optional host paths a sandbox uses: the
// allowlist grows with them, never beyond.
type Options struct {
	// Egress: hostnet opens host sockets for the guest's outbound flows
	// and DNS lookups (--net egress).
	Egress bool
	// Publish: hostnet accepts connections on published ports (-p). The
	// listeners are bound before the filter exists, so neither bind nor
	// listen is needed for them.
	Publish bool
	// Control: an OCI runtime's supervisor (oci/runtime) serves its
	// control socket: it accepts on a unix listener bound before the
	// filter, reads requests that carry descriptors (an exec's stdio, a
	// console socket connection) and sends a pty master on such a
	// connection. It makes no socket and connects nowhere after the filter.
	Control bool
}

// Network reports whether litebox makes host sockets at all.
func (o Options) Network() bool { return o.Egress || o.Publish }

// socketRule lets socket() through for IPv4 and IPv6 only: an AF_UNIX,
// AF_NETLINK or AF_PACKET socket (or any other family) fails with EPERM
// even in egress mode.
var socketRule = seccomp.Rule{Name: "socket", Nr: unix.SYS_SOCKET, Why: "hostnet: outbound flows and DNS lookups (AF_INET, AF_INET6 only)",
	Args: []seccomp.Cond{seccomp.ArgIn(0, unix.AF_INET, unix.AF_INET6)}}

// egressRules are what hostnet's host connections and UDP associations
// need (Go's net package: non-blocking connect, then SO_ERROR; address
// queries; keep-alive and no-delay options; half-close).
var egressRules = []seccomp.Rule{
	socketRule,
	{Name: "connect", Nr: unix.SYS_CONNECT, Why: "hostnet: outbound flows and DNS lookups"},
}

// sockRules are common to both modes (on sockets that exist: a published
// port's listener or accepted connection, or an egress socket).
var sockRules = []seccomp.Rule{
	{Name: "getsockopt", Nr: unix.SYS_GETSOCKOPT, Why: "hostnet: SO_ERROR of a connect"},
	{Name: "setsockopt", Nr: unix.SYS_SETSOCKOPT, Why: "hostnet: TCP_NODELAY, keep-alive, IPV6_V6ONLY"},
	{Name: "getsockname", Nr: unix.SYS_GETSOCKNAME, Why: "hostnet: connection addresses"},
	{Name: "getpeername", Nr: unix.SYS_GETPEERNAME, Why: "hostnet: connection addresses"},
	{Name: "shutdown", Nr: unix.SYS_SHUTDOWN, Why: "hostnet: half-close, when one side of a spliced connection ends"},
	{Name: "sendto", Nr: unix.SYS_SENDTO, Why: "hostnet: datagrams to a published UDP port's clients"},
	{Name: "recvfrom", Nr: unix.SYS_RECVFROM, Why: "hostnet: datagrams from a published UDP port's clients"},
}

// publishRules accept connections on the listeners bound before.
var publishRules = []seccomp.Rule{
	{Name: "accept4", Nr: unix.SYS_ACCEPT4, Why: "hostnet: connections to published ports"},
}

// controlRules serve the supervisor's control connections.
var controlRules = []seccomp.Rule{
	{Name: "accept4", Nr: unix.SYS_ACCEPT4, Why: "oci/runtime: control connections (a unix listener bound before the filter)"},
	{Name: "getsockname", Nr: unix.SYS_GETSOCKNAME, Why: "oci/runtime: Go's accept asks a connection's address"},
	{Name: "getsockopt", Nr: unix.SYS_GETSOCKOPT, Why: "oci/runtime: SO_PEERCRED of a control connection"},
	{Name: "recvmsg", Nr: unix.SYS_RECVMSG, Why: "oci/runtime: requests with descriptors (SCM_RIGHTS: an exec's stdio)"},
	{Name: "sendmsg", Nr: unix.SYS_SENDMSG, Why: "oci/runtime: a pty master to an exec's console socket (SCM_RIGHTS)"},
}

// Rules returns the allowlist of a sandbox without network: the base
// list, then what every registered platform needs to be driven, each
// number once; a reason is prefixed with the platforms that gave it
// ("systrap, ptrace: ...").
func Rules() ([]seccomp.Rule, error) { return RulesFor(Options{}) }

// RulesFor returns the allowlist for a sandbox with the given options.
func RulesFor(o Options) ([]seccomp.Rule, error) {
	rules := slices.Clone(base)
	if o.Egress {
		rules = append(rules, egressRules...)
	}
	if o.Publish {
		rules = append(rules, publishRules...)
	}
	if o.Network() {
		rules = append(rules, sockRules...)
	}
	if o.Control {
		for _, r := range controlRules {
			if !slices.ContainsFunc(rules, func(have seccomp.Rule) bool { return have.Nr == r.Nr }) {
				rules = append(rules, r)
			}
		}
	}
	return union(rules, platform.Registered())
}

func union(base []seccomp.Rule, platforms []platform.Info) ([]seccomp.Rule, error) {
	rules := slices.Clone(base)
	type reason struct {
		why   string
		users []string
	}
	reasons := map[uint32][]reason{} // per number, in order of appearance
	for _, p := range platforms {
		for _, r := range p.HostRules {
			why := r.Why
			i := slices.IndexFunc(rules, func(have seccomp.Rule) bool { return have.Nr == r.Nr })
			if i < 0 {
				r.Why = "" // the platforms' reasons are added below
				rules = append(rules, r)
			} else if !reflect.DeepEqual(rules[i].Args, r.Args) || rules[i].Action != r.Action {
				// A union of different conditions is not one rule: refuse
				// rather than widen one platform's rule to the other's.
				return nil, fmt.Errorf("hostpolicy: platform %s needs %s with other conditions than another rule", p.Name, r.Name)
			}
			rs := reasons[r.Nr]
			if j := slices.IndexFunc(rs, func(x reason) bool { return x.why == why }); j >= 0 {
				rs[j].users = append(rs[j].users, p.Name)
			} else {
				reasons[r.Nr] = append(rs, reason{why, []string{p.Name}})
			}
		}
	}
	for i := range rules {
		whys := []string{}
		if rules[i].Why != "" {
			whys = append(whys, rules[i].Why)
		}
		for _, x := range reasons[rules[i].Nr] {
			whys = append(whys, strings.Join(x.users, ", ")+": "+x.why)
		}
		rules[i].Why = strings.Join(whys, "; ")
	}
	return rules, nil
}

// filter is the seccomp program: allow the list, EPERM otherwise (x32
// calls included, and a socket() of another family than AF_INET/AF_INET6),
// and kill anything that is not x86-64. Without network it checks numbers
// only, so the host kernel's seccomp action cache answers every allowed
// call without running it (socket's argument check is the one exception).
func filter(o Options) (*seccomp.Filter, error) {
	rules, err := RulesFor(o)
	if err != nil {
		return nil, err
	}
	return &seccomp.Filter{Rules: rules, Mismatch: seccomp.Errno(unix.EPERM), Default: seccomp.Errno(unix.EPERM)}, nil
}

// Install applies the allowlist of a sandbox without network; see
// InstallFor.
func Install() error { return InstallFor(Options{}) }

// InstallFor applies the allowlist for o to every thread of the process.
// It cannot be undone: call it once the sandbox's start-up (stub
// creation, which needs execve and memfd_create; hostnet's listeners) is
// over.
func InstallFor(o Options) error {
	f, err := filter(o)
	if err != nil {
		return err
	}
	raw, err := f.Compile()
	if err != nil {
		return fmt.Errorf("hostpolicy: building the filter: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("hostpolicy: no_new_privs: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(raw)), Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0]))}
	const tsync = 1 // SECCOMP_FILTER_FLAG_TSYNC: all threads, now
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, tsync,
		uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("hostpolicy: installing the seccomp filter: %w", errno)
	}
	return nil
}

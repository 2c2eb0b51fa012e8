// Package hostpolicy is the kernel process's own seccomp allowlist: once a
// sandbox is running, the litebox process may only make the host syscalls
// listed here. Everything else fails with EPERM (not a kill: a missed entry
// must degrade into an error message, never a dead sandbox).
package hostpolicy

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Syscall is one allowed host syscall and the reason it is needed.
type Syscall struct {
	Name string
	Nr   uint32
	Why  string
}

// Allowed is the allowlist, grouped by who needs it.
var Allowed = []Syscall{
	// The Go runtime: threads, memory, scheduling, signals, timers.
	{"read", unix.SYS_READ, "Go runtime and host stdin"},
	{"write", unix.SYS_WRITE, "host stdout/stderr, audit log"},
	{"close", unix.SYS_CLOSE, "closing host files"},
	{"mmap", unix.SYS_MMAP, "Go heap"},
	{"munmap", unix.SYS_MUNMAP, "Go heap"},
	{"mprotect", unix.SYS_MPROTECT, "Go runtime"},
	{"madvise", unix.SYS_MADVISE, "Go heap scavenger"},
	{"futex", unix.SYS_FUTEX, "Go scheduler"},
	{"clone", unix.SYS_CLONE, "Go runtime threads"},
	{"clone3", unix.SYS_CLONE3, "Go runtime threads"},
	{"exit", unix.SYS_EXIT, "thread exit"},
	{"exit_group", unix.SYS_EXIT_GROUP, "process exit"},
	{"gettid", unix.SYS_GETTID, "Go runtime; ptrace platform finds the calling tracer"},
	{"getpid", unix.SYS_GETPID, "Go runtime signals"},
	{"tgkill", unix.SYS_TGKILL, "Go preemption signals; interrupting stub threads"},
	{"rt_sigaction", unix.SYS_RT_SIGACTION, "Go signal handling"},
	{"rt_sigprocmask", unix.SYS_RT_SIGPROCMASK, "Go signal handling"},
	{"rt_sigreturn", unix.SYS_RT_SIGRETURN, "Go signal handling"},
	{"sigaltstack", unix.SYS_SIGALTSTACK, "Go signal handling"},
	{"nanosleep", unix.SYS_NANOSLEEP, "Go scheduler"},
	{"sched_yield", unix.SYS_SCHED_YIELD, "Go scheduler"},
	{"sched_getaffinity", unix.SYS_SCHED_GETAFFINITY, "Go runtime"},
	{"clock_gettime", unix.SYS_CLOCK_GETTIME, "time; CPU clocks of stubs (--cpu-time)"},
	{"getrandom", unix.SYS_GETRANDOM, "crypto/rand for AT_RANDOM, getrandom, /dev/urandom"},
	{"epoll_create1", unix.SYS_EPOLL_CREATE1, "Go netpoller"},
	{"epoll_ctl", unix.SYS_EPOLL_CTL, "Go netpoller"},
	{"epoll_pwait", unix.SYS_EPOLL_PWAIT, "Go netpoller"},
	{"eventfd2", unix.SYS_EVENTFD2, "Go netpoller"},
	{"pipe2", unix.SYS_PIPE2, "Go netpoller"},
	{"fcntl", unix.SYS_FCNTL, "Go os package"},
	{"rseq", unix.SYS_RSEQ, "glibc-free Go runtime probes it on new threads"},
	{"set_robust_list", unix.SYS_SET_ROBUST_LIST, "new threads"},
	{"prlimit64", unix.SYS_PRLIMIT64, "Go runtime"},
	// The ptrace platform: running and inspecting stubs.
	{"ptrace", unix.SYS_PTRACE, "trace stub threads (PTRACE_SYSEMU, SEIZE, GETREGS...)"},
	{"wait4", unix.SYS_WAIT4, "stub stops and deaths"},
	{"kill", unix.SYS_KILL, "killing stubs (sandbox end, execve)"},
	{"process_vm_readv", unix.SYS_PROCESS_VM_READV, "checked copies from guest memory"},
	{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV, "checked copies to guest memory"},
	// hostfs: host directories beneath their roots.
	{"openat", unix.SYS_OPENAT, "Go os package (audit file, /proc/self reads)"},
	{"openat2", unix.SYS_OPENAT2, "hostfs: every path RESOLVE_BENEATH|NO_SYMLINKS"},
	{"fstat", unix.SYS_FSTAT, "hostfs metadata"},
	{"newfstatat", unix.SYS_NEWFSTATAT, "hostfs metadata"},
	{"statx", unix.SYS_STATX, "hostfs metadata"},
	{"getdents64", unix.SYS_GETDENTS64, "hostfs directory listings"},
	{"readlinkat", unix.SYS_READLINKAT, "hostfs symlinks (resolved by our VFS)"},
	{"pread64", unix.SYS_PREAD64, "hostfs file reads"},
	{"pwrite64", unix.SYS_PWRITE64, "hostfs writes (:rw mounts only)"},
	{"lseek", unix.SYS_LSEEK, "hostfs"},
	{"mkdirat", unix.SYS_MKDIRAT, "hostfs (:rw mounts only)"},
	{"unlinkat", unix.SYS_UNLINKAT, "hostfs (:rw mounts only)"},
	{"renameat2", unix.SYS_RENAMEAT2, "hostfs (:rw mounts only)"},
	{"renameat", unix.SYS_RENAMEAT, "hostfs (:rw mounts only)"},
	{"symlinkat", unix.SYS_SYMLINKAT, "hostfs (:rw mounts only)"},
	{"linkat", unix.SYS_LINKAT, "hostfs (:rw mounts only)"},
	{"fchmodat", unix.SYS_FCHMODAT, "hostfs (:rw mounts only)"},
	{"fchmod", unix.SYS_FCHMOD, "hostfs (:rw mounts only)"},
	{"utimensat", unix.SYS_UTIMENSAT, "hostfs (:rw mounts only)"},
	{"ftruncate", unix.SYS_FTRUNCATE, "hostfs (:rw mounts only)"},
	{"fsync", unix.SYS_FSYNC, "hostfs (:rw mounts only)"},
	{"fdatasync", unix.SYS_FDATASYNC, "hostfs (:rw mounts only)"},
	{"getuid", unix.SYS_GETUID, "hostfs: files of the host user appear as the guest's"},
	{"geteuid", unix.SYS_GETEUID, "hostfs: files of the host user appear as the guest's"},
	{"getgid", unix.SYS_GETGID, "hostfs: files of the host user appear as the guest's"},
	{"getegid", unix.SYS_GETEGID, "hostfs: files of the host user appear as the guest's"},
	// Queries answered from the host.
	{"ioctl", unix.SYS_IOCTL, "TCGETS/TIOCGWINSZ on the host terminal"},
	{"sysinfo", unix.SYS_SYSINFO, "total RAM for sysinfo and /proc/meminfo"},
}

// filter builds the seccomp program: allow the list, EPERM otherwise, and
// kill anything that is not x86-64.
func filter() ([]bpf.RawInstruction, error) {
	const (
		retKill  = 0x80000000 // SECCOMP_RET_KILL_PROCESS
		retAllow = 0x7fff0000
		retErrno = 0x00050000 // SECCOMP_RET_ERRNO
		archX86  = 0xc000003e
	)
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: archX86, SkipTrue: 1},
		bpf.RetConstant{Val: retKill},
		bpf.LoadAbsolute{Off: 0, Size: 4},
		// x32 syscall numbers have bit 30 set: never allowed.
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x40000000, SkipFalse: 1},
		bpf.RetConstant{Val: retErrno | uint32(unix.EPERM)},
	}
	for _, s := range Allowed {
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: s.Nr, SkipFalse: 1}, bpf.RetConstant{Val: retAllow})
	}
	prog = append(prog, bpf.RetConstant{Val: retErrno | uint32(unix.EPERM)})
	return bpf.Assemble(prog)
}

// Install applies the allowlist to every thread of the process. It cannot
// be undone: call it once the sandbox's start-up (stub creation, which
// needs execve and memfd_create) is over.
func Install() error {
	raw, err := filter()
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

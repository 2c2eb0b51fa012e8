package ptrace

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/internal/holder"
	"github.com/litebox-go/litebox/platform/internal/hostops"
	"github.com/litebox-go/litebox/platform/internal/pool"
	"github.com/litebox-go/litebox/platform/seccomp"
)

// The stub is the host process a guest address space lives in: the
// holder (platform/internal/holder) with one code page at stubBase, the
// shared-memory pool from fd 3, no other descriptor and no signal handler.
// The platform's injected calls run at the holder's inject sequence.
const (
	stubBase = 0x7ff000000000
	stubSize = 0x1000
	stubEnd  = stubBase + stubSize
)

// Clone flags for the stubs the platform makes. The holder's clones exit
// with SIGCHLD, which the holder ignores, so the host reaps dead stubs;
// forked stubs are children of the holder too (CLONE_PARENT, inheriting
// that exit signal).
const (
	holderFlags = uint64(unix.SIGCHLD)
	forkFlags   = unix.CLONE_PARENT
	threadFlags = unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND
)

// StubSyscalls are the only host syscalls a stub may make once its set-up
// is done; anything else kills it. Guest syscalls never get here: under
// PTRACE_SYSEMU they stop before seccomp runs and are emulated.
var StubSyscalls = []seccomp.Rule{
	{Name: "mmap", Nr: unix.SYS_MMAP, Why: "map guest memory (anonymous, fixed; checked by the platform)"},
	{Name: "munmap", Nr: unix.SYS_MUNMAP, Why: "unmap guest memory"},
	{Name: "mprotect", Nr: unix.SYS_MPROTECT, Why: "change guest memory protection"},
	{Name: "mremap", Nr: unix.SYS_MREMAP, Why: "move or resize guest memory (mremap)"},
	{Name: "madvise", Nr: unix.SYS_MADVISE, Why: "drop guest pages (MADV_DONTNEED)"},
	{Name: "clone", Nr: unix.SYS_CLONE, Why: "fork a stub or add a stub thread (only the platform's flag sets)",
		Args: []seccomp.Cond{seccomp.ArgIn(0, forkFlags, threadFlags, holderFlags)}},
	{Name: "exit", Nr: unix.SYS_EXIT, Why: "end one stub thread"},
	{Name: "pause", Nr: unix.SYS_PAUSE, Why: "a new stub thread waits to be seized"},
}

// stubFilter is the seccomp program of the stubs: StubSyscalls, clone only
// with the platform's flags (the whole 64-bit value), and a kill for
// anything else. A guest call into the legacy vsyscall page is emulated by
// the host kernel as a syscall checked by this filter, with the
// instruction pointer in that page (no stub code is there): it traps
// (SIGSYS, the call skipped) so the tracer serves it instead.
var stubFilter = seccomp.Filter{
	PC:       []seccomp.PCRule{{Start: vsyscallBase, End: vsyscallBase + vsyscallSize, Action: seccomp.Trap}},
	Rules:    StubSyscalls,
	Mismatch: seccomp.KillProcess,
	Default:  seccomp.KillProcess,
}

// holderStub returns the holder image, built once.
var holderStub = sync.OnceValue(func() *holder.Stub {
	s, err := holder.Build(holder.Spec{
		Base: stubBase,
		// The pool of shared memory (fd 3) every stub inherits; MAP_SHARED
		// guest memory is carved from it, so it stays shared across fork.
		// PROT_NONE: the guest reaches pool pages only where they are
		// mapped for it.
		Maps: []holder.SharedMap{{Addr: pool.Base, Len: pool.Size, Prot: unix.PROT_NONE, FD: 3}},
		// The page cache (fd 7, read-only), mapped MAP_PRIVATE per file
		// mapping by hostops.MapCache.
		KeepFDs: []int{hostops.CacheFD},
		Filter:  &stubFilter,
	})
	if err != nil {
		panic("ptrace: " + err.Error()) // a bug in the spec above, caught by every test
	}
	return s
})

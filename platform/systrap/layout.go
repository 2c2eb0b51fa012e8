package systrap

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/internal/holder"
	"github.com/litebox-go/litebox/platform/internal/hostops"
	"github.com/litebox-go/litebox/platform/internal/pool"
	"github.com/litebox-go/litebox/platform/seccomp"
)

//go:generate go run gen.go

// Layout of a stub's reserved part of the address space (see stub.S).
const (
	codeBase    = 0x7ff000000000
	ctrlBase    = 0x7ff000080000
	ctrlEntry   = 64
	ctrlSize    = 0x22000 // maxSlots entries, then room for the longest completion packet
	shmBase     = 0x7ff000100000
	slotSize    = 4096
	maxSlots    = 2048
	shmSize     = slotSize * maxSlots
	stacksBase  = 0x7ff010000000
	stackSize   = 0x10000
	reservedEnd = stacksBase + maxSlots*stackSize
	pageSize    = 4096

	// gfprogOff is where, in the code page, the guest threads' seccomp
	// filter (its sock_fprog, then the instructions) is written (GFPROG in
	// stub.S).
	gfprogOff = 0x300
	// completionFD is the stub's write end of the completion pipe.
	completionFD = 6
)

// CTRL entry fields (byte offsets; read-only in the stub).
const (
	ctrlSeq   = 0
	ctrlSlot  = 4
	ctrlNr    = 8
	ctrlArgs  = 16
	ctrlStack = 16 // a guest thread's stack_t
)

// Slot fields (byte offsets; see stub.S). Everything in a slot is
// guest-writable and read by litebox as untrusted data.
const (
	slotState          = 0
	slotStubSleeping   = 4
	slotKernelSleeping = 32
	slotSigno          = 8
	slotCode           = 16
	slotSiAddr         = 24
	slotFSBase         = 40
	slotContext        = 128 // struct sigcontext, 256 bytes
	slotHint           = 8   // in a hostcall thread's slot: the last seq it served
)

// Slot states.
const (
	stateIdle   = 0
	stateEvent  = 1
	stateResume = 2
	stateExit   = 5
	stateParked = 6 // litebox expects to take long: the stub sleeps at once
)

// Clone flags of the stubs the platform makes (see the ptrace platform):
// the holder's clones exit with SIGCHLD, which it ignores; forked stubs
// are children of the holder.
const (
	holderFlags = uint64(unix.SIGCHLD)
	forkFlags   = unix.CLONE_PARENT
	threadFlags = unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND
)

// StubSyscalls are the host syscalls the stubs' first filter allows from
// the stub's code page (every syscall from anywhere else traps into the
// stub's handler and reaches litebox; anything else from the code page
// kills the stub). Only hostcall threads and the holder, which never run
// guest code, can use all of them: guest threads add GuestSyscalls' filter.
// The ones every trap makes come first (each rule costs a comparison).
var StubSyscalls = []seccomp.Rule{
	{Name: "rt_sigreturn", Nr: unix.SYS_RT_SIGRETURN, Why: "return into the guest after a trap"},
	{Name: "futex", Nr: unix.SYS_FUTEX, Why: "wait for and wake litebox"},
	{Name: "arch_prctl", Nr: unix.SYS_ARCH_PRCTL, Why: "set the guest's fs_base"},
	{Name: "mmap", Nr: unix.SYS_MMAP, Why: "map guest memory, slots and signal stacks (hostcall thread)"},
	{Name: "munmap", Nr: unix.SYS_MUNMAP, Why: "unmap guest memory (hostcall thread)"},
	{Name: "mprotect", Nr: unix.SYS_MPROTECT, Why: "change guest memory protection (hostcall thread)"},
	{Name: "mremap", Nr: unix.SYS_MREMAP, Why: "move or resize guest memory (hostcall thread)"},
	{Name: "madvise", Nr: unix.SYS_MADVISE, Why: "drop guest pages (hostcall thread)"},
	{Name: "clone", Nr: unix.SYS_CLONE, Why: "fork a stub or add a thread (injected by ptrace into the holder or a hostcall thread)"},
	{Name: "write", Nr: unix.SYS_WRITE, Why: "report a hostcall's completion on fd 6 (hostcall thread)",
		Args: []seccomp.Cond{seccomp.ArgEq(0, completionFD)}},
	{Name: "seccomp", Nr: unix.SYS_SECCOMP, Why: "a new guest thread adds the guest filter"},
	{Name: "sigaltstack", Nr: unix.SYS_SIGALTSTACK, Why: "a new guest thread installs its signal stack"},
	{Name: "exit", Nr: unix.SYS_EXIT, Why: "end one stub thread"},
	{Name: "pause", Nr: unix.SYS_PAUSE, Why: "a new stub thread waits to be set up"},
}

// GuestSyscalls are what a guest thread may still do from the code page
// once its own filter is in place: everything the handler needs, nothing
// that changes memory, creates threads or processes, or writes to an fd.
var GuestSyscalls = []seccomp.Rule{
	{Name: "rt_sigreturn", Nr: unix.SYS_RT_SIGRETURN, Why: "return into the guest after a trap"},
	{Name: "futex", Nr: unix.SYS_FUTEX, Why: "FUTEX_WAIT and FUTEX_WAKE only: wait for and wake litebox through the slot",
		Args: []seccomp.Cond{seccomp.ArgIn(1, futexWait, futexWake)}},
	{Name: "arch_prctl", Nr: unix.SYS_ARCH_PRCTL, Why: "ARCH_SET_FS only: the guest's TLS base",
		Args: []seccomp.Cond{seccomp.ArgEq(0, archSetFS)}},
	{Name: "exit", Nr: unix.SYS_EXIT, Why: "end this thread"},
}

const (
	futexWait = 0      // FUTEX_WAIT
	futexWake = 1      // FUTEX_WAKE
	archSetFS = 0x1002 // ARCH_SET_FS
)

// codePage is the stub's code page: the only place its own syscalls may
// come from.
var codePage = seccomp.PCRule{Start: codeBase, End: codeBase + pageSize, Outside: true}

// stubFilter is the seccomp program every stub installs at set-up: any
// syscall from outside the code page traps; from the code page the
// StubSyscalls are allowed (write only to the completion pipe).
func stubFilter() *seccomp.Filter {
	outside := codePage
	outside.Action = seccomp.Trap
	return &seccomp.Filter{PC: []seccomp.PCRule{outside}, Rules: StubSyscalls,
		Mismatch: seccomp.KillProcess, Default: seccomp.KillProcess}
}

// guestFilter is the seccomp program a guest thread adds before it runs
// guest code. Syscalls from outside the code page are left to the first
// filter (which traps them); from the code page only GuestSyscalls pass,
// with futex limited to FUTEX_WAIT/FUTEX_WAKE and arch_prctl to
// ARCH_SET_FS; everything else kills the stub process.
func guestFilter() *seccomp.Filter {
	outside := codePage
	outside.Action = seccomp.Allow
	return &seccomp.Filter{PC: []seccomp.PCRule{outside}, Rules: GuestSyscalls,
		Mismatch: seccomp.KillProcess, Default: seccomp.KillProcess}
}

// holderStub builds the stub executable once: the holder
// (platform/internal/holder) whose code page starts with stub.S's code and
// the guest filter at gfprogOff (the page is r-x: no guest can change the
// filter a new guest thread installs), and whose set-up maps the pool
// (fd 4) and the requests (fd 5, read-only: not even mprotect can make it
// writable), keeps fd 3 (the slots, mapped per thread later) and fd 6 (the
// completion pipe), and installs the trap handler for SIGSYS, SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSTKFLT (litebox's interrupt).
var holderStub = sync.OnceValue(func() *holder.Stub {
	if len(stubCode) > gfprogOff {
		panic("systrap: stub code overlaps the guest filter") // caught by the tests
	}
	guest := guestFilter().MustCompile()
	runtime := make([]byte, gfprogOff+16, gfprogOff+16+8*len(guest))
	copy(runtime, stubCode)
	le := binary.LittleEndian
	le.PutUint16(runtime[gfprogOff:], uint16(len(guest))) // struct sock_fprog
	le.PutUint64(runtime[gfprogOff+8:], codeBase+gfprogOff+16)
	runtime = append(runtime, seccomp.Bytes(guest)...)
	// Every asynchronous signal blocked, inherited by every clone: a new
	// guest thread must not take litebox's interrupt in thread_start,
	// before its signal stack exists; its first rt_sigreturn sets the
	// guest's own mask. The fault signals stay unblocked: a blocked one
	// would be forced, and the kernel would reset its handler for the
	// whole process (the injection points' int3 raises SIGTRAP).
	var faults uint64
	for _, sig := range []unix.Signal{unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP} {
		faults |= 1 << (sig - 1)
	}
	s, err := holder.Build(holder.Spec{
		Base:    codeBase,
		Runtime: runtime,
		Maps: []holder.SharedMap{
			{Addr: pool.Base, Len: pool.Size, Prot: unix.PROT_NONE, FD: 4},
			{Addr: ctrlBase, Len: ctrlSize, Prot: unix.PROT_READ, FD: 5},
		},
		KeepFDs: []int{3, completionFD, hostops.CacheFD},
		Handler: &holder.Handler{Entry: codeBase + offHandler, Restorer: codeBase + offRestorer,
			Signals: []unix.Signal{unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSTKFLT}},
		Block:  ^faults,
		Filter: stubFilter(),
	})
	if err != nil {
		panic("systrap: " + err.Error()) // a bug in the spec above, caught by every test
	}
	return s
})

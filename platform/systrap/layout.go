package systrap

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

//go:generate go run gen.go

// Layout of a stub's reserved part of the address space (see stub.S).
const (
	codeBase    = 0x7ff000000000
	paramsBase  = 0x7ff000001000
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
	// filter (its sock_fprog, then the instructions) is written.
	gfprogOff = 0x9f0
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

// StubSyscall is one host syscall a stub may make from its code page.
type StubSyscall struct {
	Name string
	Nr   uint32
	Why  string
}

// StubSyscalls are the host syscalls the stubs' first filter allows from
// the stub's code page (every syscall from anywhere else traps into the
// stub's handler and reaches litebox; anything else from the code page
// kills the stub). Only hostcall threads and the holder, which never run
// guest code, can use all of them: guest threads add GuestSyscalls' filter.
var StubSyscalls = []StubSyscall{
	{"mmap", unix.SYS_MMAP, "map guest memory, slots and signal stacks (hostcall thread)"},
	{"munmap", unix.SYS_MUNMAP, "unmap guest memory (hostcall thread)"},
	{"mprotect", unix.SYS_MPROTECT, "change guest memory protection (hostcall thread)"},
	{"mremap", unix.SYS_MREMAP, "move or resize guest memory (hostcall thread)"},
	{"madvise", unix.SYS_MADVISE, "drop guest pages (hostcall thread)"},
	{"clone", unix.SYS_CLONE, "fork a stub or add a thread (injected by ptrace into the holder or a hostcall thread)"},
	{"write", unix.SYS_WRITE, "report a hostcall's completion on fd 6 (hostcall thread)"},
	{"seccomp", unix.SYS_SECCOMP, "a new guest thread adds the guest filter"},
	{"sigaltstack", unix.SYS_SIGALTSTACK, "a new guest thread installs its signal stack"},
	{"futex", unix.SYS_FUTEX, "wait for and wake litebox"},
	{"rt_sigreturn", unix.SYS_RT_SIGRETURN, "return into the guest after a trap"},
	{"arch_prctl", unix.SYS_ARCH_PRCTL, "set the guest's fs_base"},
	{"exit", unix.SYS_EXIT, "end one stub thread"},
	{"pause", unix.SYS_PAUSE, "a new stub thread waits to be set up"},
}

// GuestSyscalls are what a guest thread may still do from the code page
// once its own filter is in place: everything the handler needs, nothing
// that changes memory, creates threads or processes, or writes to an fd.
var GuestSyscalls = []StubSyscall{
	{"futex", unix.SYS_FUTEX, "FUTEX_WAIT and FUTEX_WAKE only: wait for and wake litebox through the slot"},
	{"rt_sigreturn", unix.SYS_RT_SIGRETURN, "return into the guest after a trap"},
	{"arch_prctl", unix.SYS_ARCH_PRCTL, "ARCH_SET_FS only: the guest's TLS base"},
	{"exit", unix.SYS_EXIT, "end this thread"},
}

const (
	futexWake = 1          // FUTEX_WAKE
	archSetFS = 0x1002     // ARCH_SET_FS
	retKill   = 0x80000000 // SECCOMP_RET_KILL_PROCESS
	retTrap   = 0x00030000 // SECCOMP_RET_TRAP: SIGSYS into the handler
	retAllow  = 0x7fff0000
	archX86   = 0xc000003e
)

// seccomp_data offsets: nr 0, arch 4, instruction_pointer 8, args 16 + 8*i.
func argLo(i int) uint32 { return uint32(16 + 8*i) }
func argHi(i int) uint32 { return uint32(16 + 8*i + 4) }

// fromCodePage jumps to the rest of the program for syscalls issued from
// the stub's code page and returns outside for every other one.
func fromCodePage(outside uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: archX86, SkipTrue: 1},
		bpf.RetConstant{Val: retKill},
		bpf.LoadAbsolute{Off: 12, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(codeBase >> 32), SkipTrue: 1},
		bpf.RetConstant{Val: outside},
		bpf.LoadAbsolute{Off: 8, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpLessThan, Val: uint32(codeBase&0xffffffff) + pageSize, SkipTrue: 1},
		bpf.RetConstant{Val: outside},
		bpf.LoadAbsolute{Off: 0, Size: 4},
	}
}

// argRule allows syscall nr when argument i, as a whole 64-bit value,
// passes cond against val, and kills the stub otherwise; any other syscall
// goes on to the next rule.
func argRule(nr uint32, i int, cond bpf.JumpTest, val uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 6},
		bpf.LoadAbsolute{Off: argHi(i), Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 2},
		bpf.LoadAbsolute{Off: argLo(i), Size: 4},
		bpf.JumpIf{Cond: cond, Val: val, SkipTrue: 1},
		bpf.RetConstant{Val: retKill},
		bpf.RetConstant{Val: retAllow},
	}
}

func assemble(prog []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic("systrap: stub seccomp filter: " + err.Error()) // a bug in the program
	}
	return raw
}

// stubFilter is the seccomp program every stub installs at set-up: any
// syscall from outside the code page traps; from the code page the
// StubSyscalls are allowed (write only to the completion pipe).
func stubFilter() []bpf.RawInstruction {
	prog := fromCodePage(retTrap)
	for _, s := range StubSyscalls {
		if s.Nr == unix.SYS_WRITE {
			prog = append(prog, argRule(s.Nr, 0, bpf.JumpEqual, completionFD)...)
			continue
		}
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: s.Nr, SkipFalse: 1}, bpf.RetConstant{Val: retAllow})
	}
	return assemble(append(prog, bpf.RetConstant{Val: retKill}))
}

// guestFilter is the seccomp program a guest thread adds before it runs
// guest code. Syscalls from outside the code page are left to the first
// filter (which traps them); from the code page only GuestSyscalls pass,
// with futex limited to FUTEX_WAIT/FUTEX_WAKE and arch_prctl to
// ARCH_SET_FS; everything else kills the stub process.
func guestFilter() []bpf.RawInstruction {
	prog := fromCodePage(retAllow)
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_RT_SIGRETURN, SkipFalse: 1},
		bpf.RetConstant{Val: retAllow},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_EXIT, SkipFalse: 1},
		bpf.RetConstant{Val: retAllow},
	)
	// futex(addr, op, ...): op is WAIT (0) or WAKE (1), high word included.
	prog = append(prog, argRule(unix.SYS_FUTEX, 1, bpf.JumpLessOrEqual, futexWake)...)
	// arch_prctl(ARCH_SET_FS, base).
	prog = append(prog, argRule(unix.SYS_ARCH_PRCTL, 0, bpf.JumpEqual, archSetFS)...)
	prog = append(prog,
		bpf.RetConstant{Val: retKill},
	)
	return assemble(prog)
}

// stubImage builds the stub executable: the code page (with the guest
// filter at gfprogOff) and the parameter page its set-up reads (handler
// sigaction, capability sets, the stub filter).
func stubImage() []byte {
	le := binary.LittleEndian
	const codeOff, paramsOff = 0x1000, 0x2000
	img := make([]byte, paramsOff+pageSize)
	copy(img, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(img[16:], 2)  // ET_EXEC
	le.PutUint16(img[18:], 62) // EM_X86_64
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], codeBase+offStart)
	le.PutUint64(img[32:], 64) // e_phoff
	le.PutUint16(img[52:], 64)
	le.PutUint16(img[54:], 56)
	le.PutUint16(img[56:], 2)
	for i, seg := range []struct {
		off, vaddr uint64
		size       uint64
		flags      uint32
	}{
		{codeOff, codeBase, pageSize, 4 | 1},
		{paramsOff, paramsBase, pageSize, 4},
	} {
		ph := img[64+56*i:]
		le.PutUint32(ph[0:], 1) // PT_LOAD
		le.PutUint32(ph[4:], seg.flags)
		le.PutUint64(ph[8:], seg.off)
		le.PutUint64(ph[16:], seg.vaddr)
		le.PutUint64(ph[24:], seg.vaddr)
		le.PutUint64(ph[32:], seg.size)
		le.PutUint64(ph[40:], seg.size)
		le.PutUint64(ph[48:], pageSize)
	}
	if len(stubCode) > gfprogOff {
		panic("systrap: stub code overlaps the guest filter") // caught by the tests
	}
	copy(img[codeOff:], stubCode)
	putFilter(img[codeOff+gfprogOff:], img[codeOff+gfprogOff+16:], codeBase+gfprogOff+16, guestFilter())
	p := img[paramsOff:]
	// The trap handler: SA_SIGINFO|SA_ONSTACK|SA_RESTORER, every signal
	// blocked while it runs.
	le.PutUint64(p[0x10:], codeBase+offHandler)
	le.PutUint64(p[0x18:], 0x4|0x08000000|0x04000000)
	le.PutUint64(p[0x20:], codeBase+offRestorer)
	le.PutUint64(p[0x28:], ^uint64(0))
	le.PutUint64(p[0x30:], 1) // SIGCHLD: SIG_IGN
	// The mask every stub thread starts with: all but the fault signals.
	var faults uint64
	for _, sig := range []unix.Signal{unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP} {
		faults |= 1 << (sig - 1)
	}
	le.PutUint64(p[0xa0:], ^faults)
	le.PutUint32(p[0x50:], unix.LINUX_CAPABILITY_VERSION_3)
	copy(p[0x80:], "none\x00")
	copy(p[0x88:], "/proc\x00")
	copy(p[0x90:], "tmpfs\x00")
	copy(p[0x98:], "/\x00")
	putFilter(p[0x70:], p[0x100:], paramsBase+0x100, stubFilter())
	return img
}

// putFilter writes a struct sock_fprog into hdr and its instructions into
// insns, which the stub sees at address at.
func putFilter(hdr, insns []byte, at uint64, prog []bpf.RawInstruction) {
	le := binary.LittleEndian
	if len(prog)*8 > len(insns) {
		panic("systrap: seccomp filter does not fit its page") // caught by the tests
	}
	le.PutUint16(hdr[0:], uint16(len(prog)))
	le.PutUint64(hdr[8:], at)
	for i, ins := range prog {
		o := insns[8*i:]
		le.PutUint16(o[0:], ins.Op)
		o[2], o[3] = ins.Jt, ins.Jf
		le.PutUint32(o[4:], ins.K)
	}
}

package systrap

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Layout of a stub's reserved part of the address space (see stub.S).
const (
	codeBase    = 0x7ff000000000
	paramsBase  = 0x7ff000001000
	shmBase     = 0x7ff000100000
	slotSize    = 4096
	maxSlots    = 2048
	shmSize     = slotSize * maxSlots
	stacksBase  = 0x7ff010000000
	stackSize   = 0x10000
	reservedEnd = stacksBase + maxSlots*stackSize
	pageSize    = 4096
)

// Slot fields (byte offsets; see stub.S).
const (
	slotState          = 0
	slotStubSleeping   = 4
	slotKernelSleeping = 32
	slotSigno          = 8
	slotCode           = 16
	slotSiAddr         = 24
	slotFSBase         = 40
	slotNr             = 48
	slotArgs           = 56
	slotResult         = 104
	slotContext        = 128 // struct sigcontext, 256 bytes
)

// Slot states.
const (
	stateIdle = iota
	stateEvent
	stateResume
	stateHostcall
	stateHostcallDone
	stateExit
	stateParked // litebox expects to take long: the stub sleeps at once
)

// Clone flags of the stubs the platform makes (see the ptrace platform):
// the holder's clones exit with SIGCHLD, which it ignores; forked stubs
// are children of the holder.
const (
	holderFlags = uint64(unix.SIGCHLD)
	forkFlags   = unix.CLONE_PARENT
	threadFlags = unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND
)

// StubSyscalls are the host syscalls a systrap stub may make, and only
// from its own code page; every other syscall (everything the guest
// issues) traps into the stub's handler, and anything else from the code
// page kills the stub.
var StubSyscalls = []struct {
	Name string
	Nr   uint32
	Why  string
}{
	{"mmap", unix.SYS_MMAP, "map guest memory and thread signal stacks"},
	{"munmap", unix.SYS_MUNMAP, "unmap guest memory"},
	{"mprotect", unix.SYS_MPROTECT, "change guest memory protection"},
	{"mremap", unix.SYS_MREMAP, "move or resize guest memory"},
	{"madvise", unix.SYS_MADVISE, "drop guest pages"},
	{"futex", unix.SYS_FUTEX, "wait for and wake litebox through the shared slot"},
	{"rt_sigreturn", unix.SYS_RT_SIGRETURN, "return into the guest after a trap"},
	{"sigaltstack", unix.SYS_SIGALTSTACK, "each stub thread's signal stack"},
	{"arch_prctl", unix.SYS_ARCH_PRCTL, "set the guest's fs_base"},
	{"exit", unix.SYS_EXIT, "end one stub thread"},
	{"pause", unix.SYS_PAUSE, "a new stub waits to be set up"},
	{"clone", unix.SYS_CLONE, "fork a stub or add a thread: only with the run's secret, which only ptrace injections carry"},
}

// filter is the seccomp program of systrap stubs.
func filter(secret uint64) []bpf.RawInstruction {
	const (
		retKill  = 0x80000000 // SECCOMP_RET_KILL_PROCESS
		retTrap  = 0x00030000 // SECCOMP_RET_TRAP: SIGSYS into the handler
		retAllow = 0x7fff0000
		archX86  = 0xc000003e
	)
	// seccomp_data: nr 0, arch 4, instruction_pointer 8, args 16 + 8*i.
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: archX86, SkipTrue: 1},
		bpf.RetConstant{Val: retKill},
		bpf.LoadAbsolute{Off: 12, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(codeBase >> 32), SkipTrue: 1},
		bpf.RetConstant{Val: retTrap},
		bpf.LoadAbsolute{Off: 8, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpLessThan, Val: uint32(codeBase&0xffffffff) + pageSize, SkipTrue: 1},
		bpf.RetConstant{Val: retTrap},
		bpf.LoadAbsolute{Off: 0, Size: 4},
	}
	for _, s := range StubSyscalls {
		if s.Nr == unix.SYS_CLONE {
			continue
		}
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: s.Nr, SkipFalse: 1}, bpf.RetConstant{Val: retAllow})
	}
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CLONE, SkipFalse: 5},
		bpf.LoadAbsolute{Off: 16 + 5*8, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(secret), SkipFalse: 3},
		bpf.LoadAbsolute{Off: 16 + 5*8 + 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(secret >> 32), SkipFalse: 1},
		bpf.RetConstant{Val: retAllow},
		bpf.RetConstant{Val: retKill},
	)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic("systrap: stub seccomp filter: " + err.Error()) // a bug in the program above
	}
	return raw
}

// stubImage builds the stub executable: the code page and the parameter
// page its set-up reads (handler sigaction, capability sets, the seccomp
// program with this run's secret).
func stubImage(secret uint64) []byte {
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
		{codeOff, codeBase, uint64(len(stubCode)), 4 | 1},
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
	copy(img[codeOff:], stubCode)
	p := img[paramsOff:]
	le.PutUint64(p[0x08:], shmSize)
	// The trap handler: SA_SIGINFO|SA_ONSTACK|SA_RESTORER, every signal
	// blocked while it runs.
	le.PutUint64(p[0x10:], codeBase+offHandler)
	le.PutUint64(p[0x18:], 0x4|0x08000000|0x04000000)
	le.PutUint64(p[0x20:], codeBase+offRestorer)
	le.PutUint64(p[0x28:], ^uint64(0))
	le.PutUint64(p[0x30:], 1) // SIGCHLD: SIG_IGN
	le.PutUint32(p[0x50:], unix.LINUX_CAPABILITY_VERSION_3)
	prog := filter(secret)
	le.PutUint16(p[0x70:], uint16(len(prog)))
	le.PutUint64(p[0x78:], paramsBase+0x100)
	copy(p[0x80:], "none\x00")
	copy(p[0x88:], "/proc\x00")
	copy(p[0x90:], "tmpfs\x00")
	copy(p[0x98:], "/\x00")
	for i, ins := range prog {
		o := p[0x100+8*i:]
		le.PutUint16(o[0:], ins.Op)
		o[2], o[3] = ins.Jt, ins.Jf
		le.PutUint32(o[4:], ins.K)
	}
	return img
}

package ptrace

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// The legacy vsyscall page: old static binaries call fixed addresses in it
// for three syscalls. The host has the page in one of three modes
// (vsyscall=xonly, emulate or none); litebox serves the calls in all of
// them, from its own kernel:
//
//   - xonly and emulate: executing the page faults and the host kernel
//     emulates the call as a syscall, after checking the stub's seccomp
//     filter with the instruction pointer still in the page (PTRACE_SYSEMU
//     never sees it). The filter traps it: the call is skipped, the host
//     has already done the `ret` (rip is the caller, rsp popped) and the
//     stub gets a SIGSYS whose siginfo names the entry and the syscall.
//   - none: the page does not exist and the call is a SIGSEGV at the entry
//     address; the platform pops the return address itself, as the host's
//     emulation would.
//
// Either way Switch reports an ordinary syscall at the caller; the kernel
// serves it and nothing of it runs on the host.
const (
	vsyscallBase = 0xffffffffff600000
	vsyscallSize = 0x1000
)

// vsyscallNr returns the syscall served at a vsyscall entry address.
func vsyscallNr(addr uint64) (uint64, bool) {
	switch addr {
	case vsyscallBase:
		return unix.SYS_GETTIMEOFDAY, true
	case vsyscallBase + 0x400:
		return unix.SYS_TIME, true
	case vsyscallBase + 0x800:
		return unix.SYS_GETCPU, true
	}
	return 0, false
}

// siginfo fields (x86-64 layout) used for vsyscall calls.
const (
	sysSeccomp = 1 // SYS_SECCOMP, si_code of a seccomp SIGSYS
)

// vsyscallFromSigsys recognizes the SIGSYS of a trapped vsyscall call
// (si_call_addr at 16, si_syscall at 24, si_arch at 28) and turns regs
// into the syscall it asked for. The host has already returned to the
// caller.
func vsyscallFromSigsys(info []byte, regs *platform.Regs) bool {
	le := binary.LittleEndian
	if int32(le.Uint32(info[8:])) != sysSeccomp || le.Uint32(info[28:]) != unix.AUDIT_ARCH_X86_64 {
		return false
	}
	nr, ok := vsyscallNr(le.Uint64(info[16:]))
	if !ok || uint64(int32(le.Uint32(info[24:]))) != nr {
		return false
	}
	regs.Orig_rax, regs.Rax = nr, nr
	return true
}

// vsyscallFromFault recognizes a call to a vsyscall entry that faulted
// because the host has no vsyscall page (the fetch of the entry itself:
// rip and the fault address are the entry) and emulates what the host
// would do first: pop the return address (read with readStack) and
// return to it. A stack it cannot read leaves the fault as it is, as the
// host's "vsyscall with bad stack" does.
func vsyscallFromFault(sig unix.Signal, addr uint64, regs *platform.Regs, readStack func(addr uint64, b []byte) error) bool {
	if sig != unix.SIGSEGV || addr != regs.Rip {
		return false
	}
	nr, ok := vsyscallNr(addr)
	if !ok {
		return false
	}
	var ret [8]byte
	if readStack(regs.Rsp, ret[:]) != nil {
		return false
	}
	regs.Rip = binary.LittleEndian.Uint64(ret[:])
	regs.Rsp += 8
	regs.Orig_rax, regs.Rax = nr, nr
	return true
}

// Package arch is the x86-64 machine state of a guest thread as the kernel
// and the ABI see it: the register file, the FP state image, and the
// signal frame the kernel builds on the guest stack (struct rt_sigframe,
// arch/x86/include/asm/sigframe.h) as typed Go structs. Signal delivery and
// rt_sigreturn both go through these types, so no offset is counted by hand.
//
// It imports nothing of litebox: the kernel, the shim and the platforms may
// all use it.
package arch

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Regs is the x86-64 general-purpose register file of a guest thread (the
// platform's platform.Regs is the same type).
type Regs = unix.PtraceRegs

// SigInfo is a signal's siginfo_t, in the fields the kernel fills.
type SigInfo struct {
	Signo  unix.Signal
	Code   int32
	Errno  int32
	Pid    int32  // sender (SI_USER, SIGCHLD)
	Uid    uint32 // sender's uid
	Status int32  // SIGCHLD: exit status or signal
	Addr   uint64 // faults: the faulting address
	// Value is the sigval of sigqueue and POSIX timer signals (si_value);
	// TimerID and Overrun are a timer's si_timerid and si_overrun.
	Value   uint64
	TimerID int32
	Overrun int32
}

// siTimer is SI_TIMER, whose union member is _timer (timerid, overrun,
// sigval); the other negative codes (SI_QUEUE...) use _rt.
const siTimer = -2

// SiginfoSize is sizeof(siginfo_t).
const SiginfoSize = 128

// siginfoHeader is the start of siginfo_t that every signal has.
type siginfoHeader struct {
	Signo, Errno, Code int32
	_                  int32 // the union is 8-byte aligned
}

// siginfoFault is the union member of a fault (_sigfault).
type siginfoFault struct {
	siginfoHeader
	Addr uint64
}

// siginfoKill is the union member of kill, sigqueue and SIGCHLD (_kill and
// _sigchld share pid and uid; status follows for SIGCHLD).
type siginfoKill struct {
	siginfoHeader
	Pid    int32
	Uid    uint32
	Status int32
}

// siginfoRT is the union member of sigqueue-style signals (_rt): every
// negative si_code but SI_TIMER, as Linux's siginfo_layout says.
type siginfoRT struct {
	siginfoHeader
	Pid   int32
	Uid   uint32
	Value uint64
}

// siginfoTimer is the union member of POSIX timer signals (_timer).
type siginfoTimer struct {
	siginfoHeader
	TimerID int32
	Overrun int32
	Value   uint64
}

// Marshal returns the siginfo_t bytes of info.
func (info SigInfo) Marshal() [SiginfoSize]byte {
	h := siginfoHeader{Signo: int32(info.Signo), Errno: info.Errno, Code: info.Code}
	var v any
	switch {
	case info.isFault():
		v = siginfoFault{siginfoHeader: h, Addr: info.Addr}
	case info.Code == siTimer:
		v = siginfoTimer{siginfoHeader: h, TimerID: info.TimerID, Overrun: info.Overrun, Value: info.Value}
	case info.Code < 0:
		v = siginfoRT{siginfoHeader: h, Pid: info.Pid, Uid: info.Uid, Value: info.Value}
	case info.Signo == unix.SIGCHLD:
		v = siginfoKill{siginfoHeader: h, Pid: info.Pid, Uid: info.Uid, Status: info.Status}
	default:
		v = siginfoKill{siginfoHeader: h, Pid: info.Pid, Uid: info.Uid}
	}
	var out [SiginfoSize]byte
	if _, err := binary.Encode(out[:], binary.LittleEndian, v); err != nil {
		panic("arch: siginfo does not fit: " + err.Error()) // fixed sizes: cannot happen
	}
	return out
}

// isFault reports a synchronous fault, whose siginfo carries an address
// instead of a sender.
func (info SigInfo) isFault() bool {
	switch info.Signo {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP:
		return info.Code > 0 // a fault, not a kill
	}
	return false
}

// StackT is stack_t: an alternate signal stack.
type StackT struct {
	Sp    uint64
	Flags int32
	_     int32
	Size  uint64
}

// SigContext is struct sigcontext (arch/x86/include/uapi/asm/sigcontext.h):
// the interrupted registers in a signal frame.
type SigContext struct {
	R8, R9, R10, R11, R12, R13, R14, R15 uint64
	Rdi, Rsi, Rbp, Rbx, Rdx, Rax, Rcx    uint64
	Rsp, Rip, Eflags                     uint64
	Cs, Gs, Fs, Ss                       uint16
	Err, Trapno, Oldmask, Cr2            uint64
	Fpstate                              uint64 // guest address of the XSAVE image
	_                                    [8]uint64
}

// UContext is struct ucontext as x86-64 signal frames hold it.
type UContext struct {
	Flags    uint64
	Link     uint64
	Stack    StackT
	MContext SigContext
	Sigmask  uint64
}

// UContextSize is sizeof(struct ucontext) in a frame.
var UContextSize = binary.Size(UContext{})

// RtSigframe is struct rt_sigframe: what the handler finds on its stack.
// Pretcode is the return address (the restorer, which calls rt_sigreturn).
type RtSigframe struct {
	Pretcode uint64
	UC       UContext
	Info     [SiginfoSize]byte
}

// FrameSize is sizeof(struct rt_sigframe).
var FrameSize = binary.Size(RtSigframe{})

// Offsets of the ucontext and siginfo in a frame: the handler's third and
// second arguments.
var (
	frameUCOff   = uint64(binary.Size(uint64(0)))
	frameInfoOff = frameUCOff + uint64(UContextSize)
)

// uc_flags: the FP state is in XSAVE format, the frame's SS is meaningful
// and sigreturn must restore it as is.
const (
	UCFPXState        = 0x1 // UC_FP_XSTATE
	UCSigcontextSS    = 0x2 // UC_SIGCONTEXT_SS
	UCStrictRestoreSS = 0x4 // UC_STRICT_RESTORE_SS
)

// Marshal returns the frame's bytes.
func (f *RtSigframe) Marshal() []byte {
	var b bytes.Buffer
	b.Grow(FrameSize)
	_ = binary.Write(&b, binary.LittleEndian, f) // fixed sizes: cannot fail
	return b.Bytes()
}

// UnmarshalUContext decodes a ucontext read from the guest; b must hold
// UContextSize bytes.
func UnmarshalUContext(b []byte) (UContext, bool) {
	var uc UContext
	_, err := binary.Decode(b, binary.LittleEndian, &uc)
	return uc, err == nil
}

// SaveRegs stores r in the sigcontext.
func (sc *SigContext) SaveRegs(r *Regs) {
	sc.R8, sc.R9, sc.R10, sc.R11, sc.R12, sc.R13, sc.R14, sc.R15 = r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15
	sc.Rdi, sc.Rsi, sc.Rbp, sc.Rbx, sc.Rdx, sc.Rax, sc.Rcx = r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx
	sc.Rsp, sc.Rip, sc.Eflags = r.Rsp, r.Rip, r.Eflags
	sc.Cs, sc.Ss = uint16(r.Cs), uint16(r.Ss)
}

// UserFlags are the RFLAGS bits a user program may change: only these come
// back from a frame (FIXABLE_X86_FLAGS).
const UserFlags = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x40000 | 0x200000

// RestoreRegs loads the general registers and the user-changeable flags of
// the sigcontext into r; segments, fs/gs bases and orig_rax are left.
func (sc *SigContext) RestoreRegs(r *Regs) {
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = sc.R8, sc.R9, sc.R10, sc.R11, sc.R12, sc.R13, sc.R14, sc.R15
	r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx = sc.Rdi, sc.Rsi, sc.Rbp, sc.Rbx, sc.Rdx, sc.Rax, sc.Rcx
	r.Rsp, r.Rip = sc.Rsp, sc.Rip
	r.Eflags = r.Eflags&^UserFlags | sc.Eflags&UserFlags
}

// Frame places a signal frame below sp (the stack pointer the handler's
// stack starts at: the alternate stack's top, or the interrupted code's
// stack pointer minus its red zone), with an FP image of fpLen bytes. It
// returns where the FP image and the frame go: the image 64-byte aligned,
// the frame so that the handler starts as if called (rsp+8 16-byte aligned).
func Frame(sp uint64, fpLen int) (fpAddr, frame uint64) {
	fpAddr = (sp - uint64(fpLen)) &^ 63
	frame = ((fpAddr - uint64(FrameSize)) &^ 15) - 8
	return fpAddr, frame
}

// HandlerArgs returns the addresses of the siginfo and ucontext of the
// frame at frame: a handler's second and third arguments.
func HandlerArgs(frame uint64) (info, uc uint64) { return frame + frameInfoOff, frame + frameUCOff }

// RedZone is the stack below rsp that the interrupted code may use.
const RedZone = 128

// Flags cleared for a signal handler.
const (
	EflagsTF = 1 << 8
	EflagsDF = 1 << 10
	EflagsRF = 1 << 16
)

// User segment selectors of 64-bit code (__USER_CS, __USER_DS).
const (
	UserCS = 0x33
	UserDS = 0x2b
)

// SegmentsOK checks the CS and SS a frame asks for. Linux loads them (with
// RPL 3) and an unusable selector faults on the return to user mode; SS is
// only taken from the frame with UC_STRICT_RESTORE_SS, otherwise an invalid
// one is replaced by __USER_DS. The guest has no LDT and no TLS
// descriptors, so the only usable data segment is __USER_DS; and litebox
// runs 64-bit code only, so the 32-bit __USER32_CS (which Linux would
// accept) is refused too. The thread keeps the platform's selectors: they
// are these values.
func (uc *UContext) SegmentsOK() bool {
	if uc.MContext.Cs|3 != UserCS {
		return false
	}
	return uc.Flags&UCStrictRestoreSS == 0 || uc.MContext.Ss|3 == UserDS
}

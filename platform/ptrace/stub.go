package ptrace

import (
	"encoding/binary"

	"github.com/litebox-go/litebox/platform/internal/pool"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The stub is the host process a guest address space lives in. It is a tiny
// static ELF we generate ourselves (not the litebox binary: the Go runtime
// would occupy the guest's address space). The first stub of a sandbox, the
// holder, is started in new user, mount, pid, net, ipc and uts namespaces;
// every other stub is a clone of the holder or of another stub and inherits
// all of its confinement. Its code:
//
//	_start:  mmap(pool, fd 3, MAP_SHARED)             ; shared guest memory
//	         close_range(0, ~0, 0)                    ; no host fds at all
//	         mount("none", "/proc", "tmpfs", nosuid|nodev|noexec)
//	         chroot("/proc"); chdir("/")              ; an empty root
//	         rt_sigaction(SIGCHLD, SIG_IGN)           ; dead stubs are reaped
//	         capset(all empty)                        ; no capabilities
//	         prctl(PR_SET_NO_NEW_PRIVS, 1)
//	         seccomp(SET_MODE_FILTER, stubFilter)     ; only the platform's calls
//	         munmap all but our page and the pool     ; stack, vdso, vvar
//	         int3                                     ; tell the tracer we are ready
//	inject:  syscall                                  ; the platform's injected calls
//	         int3
//	clone:   syscall                                  ; injected clone (fork, thread)
//	         test rax, rax ; jz child ; int3          ; the parent traps
//	child:   pause() ; jmp child                      ; the child waits to be seized
//	fail:    ud2                                      ; any set-up step failed
//
// followed by the data the set-up reads (strings, sigaction, capability
// structs, the BPF program).
const (
	stubBase = 0x7ff000000000
	stubSize = 0x1000
	stubEnd  = stubBase + stubSize
	maxUser  = 0x7ffffffff000 // TASK_SIZE on x86-64 with 4-level paging

	// The shared-memory pool (see the pool package).
	poolBase = pool.Base
	poolSize = pool.Size

	elfHeaderSize  = 64
	progHeaderSize = 56
	codeOffset     = elfHeaderSize + progHeaderSize
)

// Offsets within the inject sequence.
const (
	cloneOff     = 3                        // clone entry, relative to the inject address
	cloneTrapOff = cloneOff + 2 + 3 + 2 + 1 // where the parent stops after clone
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
var StubSyscalls = []struct {
	Name string
	Nr   uint32
	Why  string
}{
	{"mmap", unix.SYS_MMAP, "map guest memory (anonymous, fixed; checked by the platform)"},
	{"munmap", unix.SYS_MUNMAP, "unmap guest memory"},
	{"mprotect", unix.SYS_MPROTECT, "change guest memory protection"},
	{"mremap", unix.SYS_MREMAP, "move or resize guest memory (mremap)"},
	{"madvise", unix.SYS_MADVISE, "drop guest pages (MADV_DONTNEED)"},
	{"clone", unix.SYS_CLONE, "fork a stub or add a stub thread (only the platform's two flag sets)"},
	{"exit", unix.SYS_EXIT, "end one stub thread"},
	{"pause", unix.SYS_PAUSE, "a new stub thread waits to be seized"},
}

// stubFilter is the seccomp program of the stubs: StubSyscalls from the
// platform's own code, SECCOMP_RET_TRAP for the host's emulation of a
// vsyscall-page call, and a kill for anything else.
func stubFilter() []bpf.RawInstruction {
	const (
		retKill  = 0x80000000 // SECCOMP_RET_KILL_PROCESS
		retAllow = 0x7fff0000 // SECCOMP_RET_ALLOW
		retTrap  = 0x00030000 // SECCOMP_RET_TRAP: SIGSYS, the call is skipped
		archX86  = 0xc000003e // AUDIT_ARCH_X86_64
	)
	// seccomp_data: nr at 0, arch at 4, instruction_pointer at 8, args[0]
	// at 16.
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: archX86, SkipTrue: 1},
		bpf.RetConstant{Val: retKill},
		// A guest call into the legacy vsyscall page is emulated by the
		// host kernel as a syscall checked by this filter, with the
		// instruction pointer in that page (no stub code is there): trap
		// it (SIGSYS, the call skipped) so the tracer serves it instead.
		bpf.LoadAbsolute{Off: 12, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(vsyscallBase >> 32), SkipFalse: 4},
		bpf.LoadAbsolute{Off: 8, Size: 4},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ^uint32(vsyscallSize - 1)},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(vsyscallBase & 0xffffffff), SkipFalse: 1},
		bpf.RetConstant{Val: retTrap},
		bpf.LoadAbsolute{Off: 0, Size: 4},
	}
	for _, s := range StubSyscalls {
		if s.Nr == unix.SYS_CLONE {
			continue
		}
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: s.Nr, SkipFalse: 1}, bpf.RetConstant{Val: retAllow})
	}
	// clone: only the flag sets of forkFlags, threadFlags and holderFlags.
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CLONE, SkipFalse: 6},
		bpf.LoadAbsolute{Off: 16, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: forkFlags, SkipTrue: 3},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: threadFlags, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(holderFlags), SkipTrue: 1},
		bpf.RetConstant{Val: retKill},
		bpf.RetConstant{Val: retAllow},
		bpf.RetConstant{Val: retKill},
	)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic("ptrace: stub seccomp filter: " + err.Error()) // a bug in the table above
	}
	return raw
}

// asm is a minimal x86-64 assembler for the stub: bytes plus RIP-relative
// references to labels resolved at the end.
type asm struct {
	b      []byte
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at    int // offset of the rel32 field
	label string
	end   int // offset of the next instruction
}

func (a *asm) emit(b ...byte)    { a.b = append(a.b, b...) }
func (a *asm) label(name string) { a.labels[name] = len(a.b) }
func (a *asm) imm32(v uint32)    { a.b = binary.LittleEndian.AppendUint32(a.b, v) }

// movEAX loads a syscall number.
func (a *asm) movEAX(nr uint32) { a.emit(0xb8); a.imm32(nr) }

// lea loads the address of label into a register given by its ModRM
// byte (0x3d rdi, 0x35 rsi, 0x15 rdx).
func (a *asm) lea(modrm byte, label string) {
	a.emit(0x48, 0x8d, modrm)
	a.fixups = append(a.fixups, fixup{at: len(a.b), label: label, end: len(a.b) + 4})
	a.imm32(0)
}

// syscallOrFail issues a syscall and jumps to "fail" unless it returned 0.
func (a *asm) syscallOrFail() {
	a.emit(0x0f, 0x05)       // syscall
	a.emit(0x48, 0x85, 0xc0) // test rax, rax
	a.emit(0x0f, 0x85)       // jnz rel32 fail
	a.fixups = append(a.fixups, fixup{at: len(a.b), label: "fail", end: len(a.b) + 4})
	a.imm32(0)
}

func (a *asm) resolve() {
	for _, f := range a.fixups {
		rel := a.labels[f.label] - f.end
		binary.LittleEndian.PutUint32(a.b[f.at:], uint32(int32(rel)))
	}
}

// stubCode returns the machine code with its data, assembled for loading
// at codeAddr, and the offset of the inject sequence within it.
func stubCode(codeAddr uint64) (code []byte, injectOff int) {
	a := &asm{labels: map[string]int{}}
	movabs := func(op byte, v uint64) { // REX.W + B8+r imm64
		a.emit(0x48, op)
		a.b = binary.LittleEndian.AppendUint64(a.b, v)
	}
	syscall := []byte{0x0f, 0x05}

	// mmap(poolBase, poolSize, PROT_NONE, MAP_SHARED|MAP_FIXED, 3, 0): the
	// pool of shared memory (fd 3) every stub inherits; MAP_SHARED guest
	// memory is carved from it, so it stays shared across fork. PROT_NONE:
	// the guest reaches pool pages only where they are mapped for it.
	a.movEAX(unix.SYS_MMAP)
	movabs(0xbf, poolBase)
	movabs(0xbe, poolSize)
	a.emit(0xba)
	a.imm32(unix.PROT_NONE) // mov edx, prot
	a.emit(0x41, 0xba)
	a.imm32(unix.MAP_SHARED | unix.MAP_FIXED) // mov r10d, flags
	a.emit(0x41, 0xb8)
	a.imm32(3)               // mov r8d, 3
	a.emit(0x45, 0x31, 0xc9) // xor r9d, r9d
	a.emit(syscall...)
	a.emit(0x48, 0x39, 0xf8) // cmp rax, rdi
	a.emit(0x0f, 0x85)       // jne fail
	a.fixups = append(a.fixups, fixup{at: len(a.b), label: "fail", end: len(a.b) + 4})
	a.imm32(0)

	// close_range(0, ~0U, 0): the stub keeps no host file descriptor.
	a.movEAX(unix.SYS_CLOSE_RANGE)
	a.emit(0x31, 0xff)                   // xor edi, edi
	a.emit(0xbe, 0xff, 0xff, 0xff, 0xff) // mov esi, 0xffffffff
	a.emit(0x31, 0xd2)                   // xor edx, edx
	a.syscallOrFail()

	// An empty root: a fresh tmpfs over /proc, in our own mount namespace.
	a.movEAX(unix.SYS_MOUNT)
	a.lea(0x3d, "none")
	a.lea(0x35, "proc")
	a.lea(0x15, "tmpfs")
	a.emit(0x41, 0xba) // mov r10d, flags
	a.imm32(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	a.emit(0x45, 0x31, 0xc0) // xor r8d, r8d
	a.syscallOrFail()
	a.movEAX(unix.SYS_CHROOT)
	a.lea(0x3d, "proc")
	a.syscallOrFail()
	a.movEAX(unix.SYS_CHDIR)
	a.lea(0x3d, "root")
	a.syscallOrFail()

	// rt_sigaction(SIGCHLD, {SIG_IGN}, NULL, 8): stubs that die are reaped
	// by the kernel instead of lingering as zombies of the holder.
	a.movEAX(unix.SYS_RT_SIGACTION)
	a.emit(0xbf)
	a.imm32(uint32(unix.SIGCHLD)) // mov edi, SIGCHLD
	a.lea(0x35, "sigign")
	a.emit(0x31, 0xd2)                         // xor edx, edx
	a.emit(0x41, 0xba, 0x08, 0x00, 0x00, 0x00) // mov r10d, 8
	a.syscallOrFail()

	// capset(v3 header, all-zero sets): no capabilities, even in our own
	// user namespace.
	a.movEAX(unix.SYS_CAPSET)
	a.lea(0x3d, "caphdr")
	a.lea(0x35, "capdata")
	a.syscallOrFail()

	// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), then the seccomp filter.
	a.movEAX(unix.SYS_PRCTL)
	a.emit(0xbf)
	a.imm32(unix.PR_SET_NO_NEW_PRIVS)
	a.emit(0xbe, 0x01, 0x00, 0x00, 0x00) // mov esi, 1
	a.emit(0x31, 0xd2)                   // xor edx, edx
	a.emit(0x45, 0x31, 0xd2)             // xor r10d, r10d
	a.emit(0x45, 0x31, 0xc0)             // xor r8d, r8d
	a.syscallOrFail()
	a.movEAX(unix.SYS_SECCOMP)
	a.emit(0xbf, 0x01, 0x00, 0x00, 0x00) // mov edi, SECCOMP_SET_MODE_FILTER
	a.emit(0x31, 0xf6)                   // xor esi, esi
	a.lea(0x15, "fprog")
	a.syscallOrFail()

	// Drop everything but our page and the pool.
	a.movEAX(unix.SYS_MUNMAP)
	a.emit(0x31, 0xff) // xor edi, edi
	movabs(0xbe, stubBase)
	a.syscallOrFail()
	a.movEAX(unix.SYS_MUNMAP)
	movabs(0xbf, stubEnd)
	movabs(0xbe, poolBase-stubEnd)
	a.syscallOrFail()
	a.movEAX(unix.SYS_MUNMAP)
	movabs(0xbf, poolBase+poolSize)
	movabs(0xbe, maxUser-(poolBase+poolSize))
	a.syscallOrFail()
	a.emit(0xcc) // int3: ready

	injectOff = len(a.b)
	a.emit(syscall...)
	a.emit(0xcc)
	a.emit(syscall...)
	a.emit(0x48, 0x85, 0xc0)             // test rax, rax
	a.emit(0x74, 0x01)                   // jz child
	a.emit(0xcc)                         // int3
	a.emit(0xb8, 0x22, 0x00, 0x00, 0x00) // child: mov eax, SYS_pause
	a.emit(syscall...)
	a.emit(0xeb, 0xf7) // jmp child
	a.label("fail")
	a.emit(0x0f, 0x0b) // ud2

	// Data.
	for _, s := range []struct{ label, text string }{
		{"none", "none"}, {"proc", "/proc"}, {"tmpfs", "tmpfs"}, {"root", "/"},
	} {
		a.label(s.label)
		a.emit(append([]byte(s.text), 0)...)
	}
	for len(a.b)%8 != 0 {
		a.emit(0)
	}
	a.label("sigign") // struct k_sigaction {handler=SIG_IGN, flags, restorer, mask}
	a.b = binary.LittleEndian.AppendUint64(a.b, 1)
	a.b = append(a.b, make([]byte, 24)...)
	a.label("caphdr") // struct __user_cap_header_struct {version 3, pid 0}
	a.imm32(unix.LINUX_CAPABILITY_VERSION_3)
	a.imm32(0)
	a.label("capdata") // two struct __user_cap_data_struct, all zero
	a.b = append(a.b, make([]byte, 24)...)
	filter := stubFilter()
	a.label("filter")
	for _, ins := range filter {
		a.b = binary.LittleEndian.AppendUint16(a.b, ins.Op)
		a.b = append(a.b, ins.Jt, ins.Jf)
		a.imm32(ins.K)
	}
	a.label("fprog") // struct sock_fprog {len, filter pointer}
	a.b = binary.LittleEndian.AppendUint16(a.b, uint16(len(filter)))
	a.b = append(a.b, make([]byte, 6)...)
	a.b = binary.LittleEndian.AppendUint64(a.b, codeAddr+uint64(a.labels["filter"]))
	a.resolve()
	return a.b, injectOff
}

// stubELF builds the stub executable image and returns it with the guest
// address of the inject sequence.
func stubELF() (image []byte, injectAddr uint64) {
	code, injectOff := stubCode(stubBase + codeOffset)
	if codeOffset+len(code) > stubSize {
		panic("ptrace: stub image larger than its page") // a bug in stubCode
	}
	le := binary.LittleEndian
	img := make([]byte, codeOffset, codeOffset+len(code))

	copy(img, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le.PutUint16(img[16:], 2)  // ET_EXEC
	le.PutUint16(img[18:], 62) // EM_X86_64
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], stubBase+codeOffset) // e_entry
	le.PutUint64(img[32:], elfHeaderSize)       // e_phoff
	le.PutUint16(img[52:], elfHeaderSize)
	le.PutUint16(img[54:], progHeaderSize)
	le.PutUint16(img[56:], 1) // e_phnum

	ph := img[elfHeaderSize:]
	le.PutUint32(ph[0:], 1)   // PT_LOAD
	le.PutUint32(ph[4:], 4|1) // PF_R|PF_X
	le.PutUint64(ph[16:], stubBase)
	le.PutUint64(ph[24:], stubBase)
	total := uint64(codeOffset + len(code))
	le.PutUint64(ph[32:], total) // p_filesz
	le.PutUint64(ph[40:], total) // p_memsz
	le.PutUint64(ph[48:], stubSize)

	img = append(img, code...)
	return img, stubBase + codeOffset + uint64(injectOff)
}

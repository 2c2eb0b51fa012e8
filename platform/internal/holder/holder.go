// Package holder generates the holder stub of both platforms: the static
// ELF litebox executes (through stubexec) as the first stub process of a
// sandbox. Every other stub is a clone of the holder, or of another stub,
// and inherits everything its entry code did. That code is written once,
// here, parametrised by what the platforms need differently (the shared
// mappings and descriptors they keep, the signal handler systrap installs,
// the seccomp filter). Its steps, each checked (any failure is ud2, a
// SIGILL the tracer sees instead of the ready stop):
//
//	mmap(Maps[i], MAP_SHARED|MAP_FIXED, fd)           ; each shared mapping, from its fd
//	close_range around KeepFDs                        ; no other host fd
//	mount("none", "/proc", "tmpfs", nosuid|nodev|noexec)
//	chroot("/proc"); chdir("/")                       ; an empty root
//	rt_sigaction(SIGCHLD, SIG_IGN)                    ; dead stubs are reaped by the host
//	rt_sigaction(Handler.Signals[i], Handler)         ; systrap's trap handler
//	rt_sigprocmask(SIG_BLOCK, Block)                  ; inherited by every stub thread
//	capset(all empty)                                 ; no capabilities
//	prctl(PR_SET_NO_NEW_PRIVS, 1)
//	seccomp(SET_MODE_FILTER, Filter)
//	munmap everything but the code page and Maps      ; stack, vdso, vvar
//	int3                                              ; ready: the tracer takes over
//	inject:  syscall ; int3                           ; the platform's injected calls
//	clone:   syscall ; test rax, rax ; jz parked ; int3
//	parked:  pause() ; jmp parked                     ; a new thread waits to be seized
//
// The code page is r-x and holds, in this order, the platform's Runtime
// code, the sequence above, and its data (strings, sigaction and
// capability structs, the filter): nothing there is secret, and nothing a
// guest could write.
package holder

import (
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/seccomp"
)

const (
	pageSize = 4096
	maxUser  = 0x7ffffffff000 // TASK_SIZE on x86-64 with 4-level paging
)

// SharedMap is a MAP_SHARED mapping of an inherited descriptor that the
// holder makes first and every stub keeps.
type SharedMap struct {
	Addr, Len uint64
	Prot      int
	FD        int
}

// Handler is a signal handler installed in the holder (SA_SIGINFO |
// SA_ONSTACK | SA_RESTORER, every signal blocked while it runs).
type Handler struct {
	Entry, Restorer uint64
	Signals         []unix.Signal
}

// Spec is what differs between the platforms' holders.
type Spec struct {
	Base    uint64      // address of the code page
	Runtime []byte      // platform code at the start of the page (position independent)
	Maps    []SharedMap // made first, kept by every stub
	KeepFDs []int       // descriptors left open; every other one is closed
	Handler *Handler    // nil: no handler
	Block   uint64      // signal mask added with SIG_BLOCK; 0: none
	Filter  *seccomp.Filter
}

// Stub is a built holder.
type Stub struct {
	Image      []byte // the ELF file
	Entry      uint64 // the set-up sequence
	Inject     uint64 // syscall; int3: where the ready stop leaves the holder
	CloneEntry uint64 // syscall; test; jz parked; int3
	CloneTrap  uint64 // where the parent stops after an injected clone
	Filter     []bpf.RawInstruction
}

// Build generates the holder described by s.
func Build(s Spec) (*Stub, error) {
	filter, err := s.Filter.Compile()
	if err != nil {
		return nil, fmt.Errorf("holder: stub filter: %w", err)
	}
	a := &asm{labels: map[string]int{}}
	a.b = append(a.b, s.Runtime...)
	for len(a.b)%16 != 0 {
		a.emit(0xcc)
	}
	entry := len(a.b)

	for _, m := range s.Maps {
		a.call(unix.SYS_MMAP, mustBeArg0, imm(m.Addr), imm(m.Len), imm(uint64(m.Prot)),
			imm(unix.MAP_SHARED|unix.MAP_FIXED), imm(uint64(m.FD)), imm(0))
	}
	fds := slices.Sorted(slices.Values(s.KeepFDs))
	first := uint64(0)
	for _, fd := range fds {
		if uint64(fd) > first {
			a.call(unix.SYS_CLOSE_RANGE, mustBeZero, imm(first), imm(uint64(fd)-1), imm(0))
		}
		first = uint64(fd) + 1
	}
	a.call(unix.SYS_CLOSE_RANGE, mustBeZero, imm(first), imm(0xffffffff), imm(0))

	a.call(unix.SYS_MOUNT, mustBeZero, ref("none"), ref("proc"), ref("tmpfs"),
		imm(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), imm(0))
	a.call(unix.SYS_CHROOT, mustBeZero, ref("proc"))
	a.call(unix.SYS_CHDIR, mustBeZero, ref("root"))
	a.call(unix.SYS_RT_SIGACTION, mustBeZero, imm(uint64(unix.SIGCHLD)), ref("sigign"), imm(0), imm(8))
	if h := s.Handler; h != nil {
		for _, sig := range h.Signals {
			a.call(unix.SYS_RT_SIGACTION, mustBeZero, imm(uint64(sig)), ref("handler"), imm(0), imm(8))
		}
	}
	if s.Block != 0 {
		a.call(unix.SYS_RT_SIGPROCMASK, mustBeZero, imm(unix.SIG_BLOCK), ref("block"), imm(0), imm(8))
	}
	a.call(unix.SYS_CAPSET, mustBeZero, ref("caphdr"), ref("capdata"))
	a.call(unix.SYS_PRCTL, mustBeZero, imm(unix.PR_SET_NO_NEW_PRIVS), imm(1), imm(0), imm(0), imm(0))
	a.call(unix.SYS_SECCOMP, mustBeZero, imm(unix.SECCOMP_SET_MODE_FILTER), imm(0), ref("fprog"))
	for _, g := range gaps(s) {
		a.call(unix.SYS_MUNMAP, mustBeZero, imm(g[0]), imm(g[1]-g[0]))
	}
	a.emit(0xcc) // int3: ready

	inject := len(a.b)
	a.emit(0x0f, 0x05, 0xcc) // syscall; int3
	clone := len(a.b)
	a.emit(0x0f, 0x05)       // syscall
	a.emit(0x48, 0x85, 0xc0) // test rax, rax
	a.emit(0x74, 0x01)       // jz parked
	a.emit(0xcc)             // int3: the parent stops here
	cloneTrap := len(a.b)
	a.emit(0xb8)
	a.imm32(unix.SYS_PAUSE) // parked: mov eax, SYS_pause
	a.emit(0x0f, 0x05)      // syscall
	a.emit(0xeb, 0xf7)      // jmp parked
	a.label("fail")
	a.emit(0x0f, 0x0b) // ud2

	// Data.
	for _, str := range []struct{ label, text string }{
		{"none", "none"}, {"proc", "/proc"}, {"tmpfs", "tmpfs"}, {"root", "/"},
	} {
		a.label(str.label)
		a.emit(append([]byte(str.text), 0)...)
	}
	a.align(8)
	a.label("sigign") // struct kernel_sigaction {handler SIG_IGN, flags, restorer, mask}
	a.u64(1, 0, 0, 0)
	if h := s.Handler; h != nil {
		a.label("handler")
		a.u64(h.Entry, 0x4 /* SA_SIGINFO */ |0x08000000 /* SA_ONSTACK */ |0x04000000 /* SA_RESTORER */, h.Restorer, ^uint64(0))
	}
	a.label("block")
	a.u64(s.Block)
	a.label("caphdr") // struct __user_cap_header_struct {version 3, pid 0}
	a.imm32(unix.LINUX_CAPABILITY_VERSION_3)
	a.imm32(0)
	a.label("capdata") // two struct __user_cap_data_struct, all zero
	a.emit(make([]byte, 24)...)
	a.label("filter")
	a.emit(seccomp.Bytes(filter)...)
	a.label("fprog") // struct sock_fprog {len, filter pointer}
	a.u64(uint64(len(filter)), s.Base+uint64(a.labels["filter"]))
	if err := a.resolve(); err != nil {
		return nil, err
	}
	if len(a.b) > pageSize {
		return nil, fmt.Errorf("holder: code page overflows: %d bytes", len(a.b))
	}
	return &Stub{
		Image:      elfImage(s.Base, s.Base+uint64(entry), a.b),
		Entry:      s.Base + uint64(entry),
		Inject:     s.Base + uint64(inject),
		CloneEntry: s.Base + uint64(clone),
		CloneTrap:  s.Base + uint64(cloneTrap),
		Filter:     filter,
	}, nil
}

// gaps returns the ranges of user space outside the code page and the
// shared mappings, which the holder unmaps.
func gaps(s Spec) [][2]uint64 {
	keep := [][2]uint64{{s.Base, s.Base + pageSize}}
	for _, m := range s.Maps {
		keep = append(keep, [2]uint64{m.Addr, m.Addr + m.Len})
	}
	slices.SortFunc(keep, func(x, y [2]uint64) int { return int(int64(x[0]>>12) - int64(y[0]>>12)) })
	var out [][2]uint64
	at := uint64(0)
	for _, k := range keep {
		if k[0] > at {
			out = append(out, [2]uint64{at, k[0]})
		}
		at = max(at, k[1])
	}
	if at < maxUser {
		out = append(out, [2]uint64{at, maxUser})
	}
	return out
}

// elfImage wraps the code page into a static executable: the ELF header and
// one program header in the file's first page, the code page r-x at base.
func elfImage(base, entry uint64, code []byte) []byte {
	le := binary.LittleEndian
	img := make([]byte, 2*pageSize)
	copy(img, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le.PutUint16(img[16:], 2)  // ET_EXEC
	le.PutUint16(img[18:], 62) // EM_X86_64
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], entry)
	le.PutUint64(img[32:], 64) // e_phoff
	le.PutUint16(img[52:], 64) // e_ehsize
	le.PutUint16(img[54:], 56) // e_phentsize
	le.PutUint16(img[56:], 1)  // e_phnum
	ph := img[64:]
	le.PutUint32(ph[0:], 1)   // PT_LOAD
	le.PutUint32(ph[4:], 4|1) // PF_R|PF_X
	le.PutUint64(ph[8:], pageSize)
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], pageSize) // p_filesz
	le.PutUint64(ph[40:], pageSize) // p_memsz
	le.PutUint64(ph[48:], pageSize)
	copy(img[pageSize:], code)
	return img
}

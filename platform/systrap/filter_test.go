package systrap

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompData builds a struct seccomp_data for x/net/bpf's VM, which loads
// words in network byte order: each 32-bit field is stored big-endian at
// the offset the kernel's little-endian layout gives it.
func seccompData(arch, nr uint32, ip uint64, args ...uint64) []byte {
	b := make([]byte, 64)
	be := binary.BigEndian
	be.PutUint32(b[0:], nr)
	be.PutUint32(b[4:], arch)
	be.PutUint32(b[8:], uint32(ip))
	be.PutUint32(b[12:], uint32(ip>>32))
	for i, a := range args {
		be.PutUint32(b[16+8*i:], uint32(a))
		be.PutUint32(b[16+8*i+4:], uint32(a>>32))
	}
	return b
}

func runFilter(t *testing.T, raw []bpf.RawInstruction, data []byte) uint32 {
	t.Helper()
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(out)
}

const (
	inCode  = codeBase + 0x100
	outside = 0x400000
)

func TestStubFilter(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want uint32
	}{
		{"i386 arch", seccompData(0x40000003, unix.SYS_MMAP, inCode), retKill},
		{"guest getpid", seccompData(archX86, unix.SYS_GETPID, outside), retTrap},
		{"guest mmap", seccompData(archX86, unix.SYS_MMAP, outside), retTrap},
		{"guest near the code page", seccompData(archX86, unix.SYS_MMAP, codeBase+pageSize), retTrap},
		{"guest just below it", seccompData(archX86, unix.SYS_MMAP, codeBase-1), retTrap},
		{"stub mmap", seccompData(archX86, unix.SYS_MMAP, inCode), retAllow},
		{"stub clone", seccompData(archX86, unix.SYS_CLONE, inCode, unix.CLONE_PARENT), retAllow},
		{"stub write to the pipe", seccompData(archX86, unix.SYS_WRITE, inCode, completionFD), retAllow},
		{"stub write to fd 1", seccompData(archX86, unix.SYS_WRITE, inCode, 1), retKill},
		{"stub write to fd 6+2^32", seccompData(archX86, unix.SYS_WRITE, inCode, 1<<32|completionFD), retKill},
		{"stub getpid", seccompData(archX86, unix.SYS_GETPID, inCode), retKill},
		{"stub execve", seccompData(archX86, unix.SYS_EXECVE, inCode), retKill},
		{"stub ptrace", seccompData(archX86, unix.SYS_PTRACE, inCode), retKill},
	}
	f := stubFilter()
	for _, c := range cases {
		if got := runFilter(t, f, c.data); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}

// TestGuestFilter: from the code page a guest thread keeps only what the
// handler needs; everything that changes memory, makes threads or writes
// to an fd kills the stub. Outside the code page the filter stays out of
// the way (the stub filter traps those calls).
func TestGuestFilter(t *testing.T) {
	f := guestFilter()
	allowed := map[string][]byte{
		"futex wait":         seccompData(archX86, unix.SYS_FUTEX, inCode, shmBase, 0),
		"futex wake":         seccompData(archX86, unix.SYS_FUTEX, inCode, shmBase, 1),
		"rt_sigreturn":       seccompData(archX86, unix.SYS_RT_SIGRETURN, inCode),
		"arch_prctl SET_FS":  seccompData(archX86, unix.SYS_ARCH_PRCTL, inCode, archSetFS, 0x1234),
		"exit":               seccompData(archX86, unix.SYS_EXIT, inCode),
		"guest mmap":         seccompData(archX86, unix.SYS_MMAP, outside),
		"guest anything":     seccompData(archX86, 1000, outside),
		"guest below stub":   seccompData(archX86, unix.SYS_CLONE, codeBase-2),
		"guest above stub":   seccompData(archX86, unix.SYS_CLONE, codeBase+pageSize),
		"guest futex lockpi": seccompData(archX86, unix.SYS_FUTEX, outside, 0, 6),
	}
	for name, d := range allowed {
		if got := runFilter(t, f, d); got != retAllow {
			t.Errorf("%s: %#x, want allow", name, got)
		}
	}
	killed := map[string][]byte{
		"i386":                 seccompData(0x40000003, unix.SYS_EXIT, inCode),
		"futex lock_pi":        seccompData(archX86, unix.SYS_FUTEX, inCode, shmBase, 6),
		"futex wait private":   seccompData(archX86, unix.SYS_FUTEX, inCode, shmBase, 128),
		"futex requeue":        seccompData(archX86, unix.SYS_FUTEX, inCode, shmBase, 3),
		"futex op 2^32":        seccompData(archX86, unix.SYS_FUTEX, inCode, shmBase, 1<<32),
		"arch_prctl SET_GS":    seccompData(archX86, unix.SYS_ARCH_PRCTL, inCode, 0x1001),
		"arch_prctl SET_FS+hi": seccompData(archX86, unix.SYS_ARCH_PRCTL, inCode, 1<<32|archSetFS),
	}
	for _, s := range StubSyscalls {
		switch s.Nr {
		case unix.SYS_FUTEX, unix.SYS_RT_SIGRETURN, unix.SYS_ARCH_PRCTL, unix.SYS_EXIT:
			continue
		}
		killed[s.Name] = seccompData(archX86, s.Nr, inCode, completionFD)
	}
	for name, d := range killed {
		if got := runFilter(t, f, d); got != retKill {
			t.Errorf("%s from the code page: %#x, want kill", name, got)
		}
	}
	if len(killed) < 16 {
		t.Fatalf("only %d refused cases: the stub syscall list shrank?", len(killed))
	}
}

// TestImageLayout: the code fits before the guest filter, which fits in
// the code page, and the requests page leaves room for the longest
// completion packet after the last entry.
func TestImageLayout(t *testing.T) {
	if len(stubCode) > gfprogOff {
		t.Fatalf("stub code is %d bytes, past the guest filter at %#x", len(stubCode), gfprogOff)
	}
	if n := len(guestFilter()); gfprogOff+16+8*n > pageSize {
		t.Fatalf("guest filter of %d instructions does not fit the code page", n)
	}
	if n := len(stubFilter()); 0x100+8*n > pageSize {
		t.Fatalf("stub filter of %d instructions does not fit the parameter page", n)
	}
	if maxSlots*ctrlEntry+8+4088 > ctrlSize || ctrlBase+ctrlSize > shmBase {
		t.Fatal("requests page too small for the longest completion packet, or overlapping the slots")
	}
	img := stubImage()
	if len(img) != 0x3000 {
		t.Fatalf("image is %d bytes", len(img))
	}
}

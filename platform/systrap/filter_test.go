package systrap

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/seccomp"
)

// seccompData builds a struct seccomp_data.
func seccompData(arch, nr uint32, ip uint64, args ...uint64) seccomp.Data {
	d := seccomp.Data{Nr: nr, Arch: arch, IP: ip}
	copy(d.Args[:], args)
	return d
}

func runFilter(t *testing.T, f *seccomp.Filter, data seccomp.Data) seccomp.Action {
	t.Helper()
	prog, err := f.Compile()
	if err != nil {
		t.Fatal(err)
	}
	out, err := seccomp.Run(prog, data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	retKill  = seccomp.KillProcess
	retTrap  = seccomp.Trap
	retAllow = seccomp.Allow
	archX86  = seccomp.AuditArchX86_64
)

const (
	inCode  = codeBase + 0x100
	outside = 0x400000
)

func TestStubFilter(t *testing.T) {
	cases := []struct {
		name string
		data seccomp.Data
		want seccomp.Action
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
		{"stub x32 mmap", seccompData(archX86, 0x40000000|unix.SYS_MMAP, inCode), retKill},
		{"guest x32 mmap", seccompData(archX86, 0x40000000|unix.SYS_MMAP, outside), retTrap},
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
	allowed := map[string]seccomp.Data{
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
	killed := map[string]seccomp.Data{
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

// TestImageLayout: the code fits before the guest filter, and the holder
// (which checks that the whole page fits) builds around both; the
// requests page leaves room for the longest completion packet after the
// last entry.
func TestImageLayout(t *testing.T) {
	if len(stubCode) > gfprogOff {
		t.Fatalf("stub code is %d bytes, past the guest filter at %#x", len(stubCode), gfprogOff)
	}
	if maxSlots*ctrlEntry+8+4088 > ctrlSize || ctrlBase+ctrlSize > shmBase {
		t.Fatal("requests page too small for the longest completion packet, or overlapping the slots")
	}
	s := holderStub()
	if len(s.Image) != 0x2000 {
		t.Fatalf("image is %d bytes", len(s.Image))
	}
	// The guest filter the stub code installs is in the code page, r-x.
	page := s.Image[0x1000:]
	guest := guestFilter().MustCompile()
	if n := binary.LittleEndian.Uint16(page[gfprogOff:]); int(n) != len(guest) {
		t.Fatalf("guest sock_fprog says %d instructions, the filter has %d", n, len(guest))
	}
	if p := binary.LittleEndian.Uint64(page[gfprogOff+8:]); p != codeBase+gfprogOff+16 {
		t.Fatalf("guest sock_fprog points at %#x", p)
	}
	if !bytes.Equal(page[gfprogOff+16:gfprogOff+16+8*len(guest)], seccomp.Bytes(guest)) {
		t.Fatal("guest filter bytes differ from the compiled filter")
	}
	// thread_start loads the filter's address with movabs rdx, GFPROG.
	movabs := binary.LittleEndian.AppendUint64([]byte{0x48, 0xba}, codeBase+gfprogOff)
	if !bytes.Contains(stubCode, movabs) {
		t.Fatalf("stub.S's GFPROG is not codeBase+gfprogOff (%#x)", codeBase+gfprogOff)
	}
	if s.Entry < codeBase+gfprogOff+16+8*uint64(len(guest)) {
		t.Fatalf("holder set-up at %#x overlaps the guest filter", s.Entry)
	}
}

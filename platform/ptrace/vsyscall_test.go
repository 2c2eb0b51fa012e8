package ptrace

import (
	"encoding/binary"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/seccomp"
)

// TestVsyscallCalls calls each vsyscall entry from guest code in a real
// stub and checks that Switch reports the syscall at the caller with the
// return address popped, and that every other register is untouched. It
// holds in every host vsyscall mode: with the page (xonly, emulate) the
// stub's filter traps the host's emulation; without it (none) the call is
// a fault the platform emulates.
func TestVsyscallCalls(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	th, err := as.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Bind(); err != nil {
		t.Fatal(err)
	}
	const (
		code  = 0x30000000
		stack = 0x30010000
	)
	if err := as.Map(code, 0x1000, unix.PROT_READ|unix.PROT_EXEC); err != nil {
		t.Fatal(err)
	}
	if err := as.Map(stack-0x1000, 0x1000, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		entry uint64
		nr    uint64
	}{
		{vsyscallBase, unix.SYS_GETTIMEOFDAY},
		{vsyscallBase + 0x400, unix.SYS_TIME},
		{vsyscallBase + 0x800, unix.SYS_GETCPU},
	} {
		// movabs rax, entry; call rax; ud2
		prog := append([]byte{0x48, 0xb8}, binary.LittleEndian.AppendUint64(nil, c.entry)...)
		prog = append(prog, 0xff, 0xd0, 0x0f, 0x0b)
		if err := as.Protect(code, 0x1000, unix.PROT_READ|unix.PROT_WRITE); err != nil {
			t.Fatal(err)
		}
		if _, err := as.CopyOut(code, prog); err != nil {
			t.Fatal(err)
		}
		if err := as.Protect(code, 0x1000, unix.PROT_READ|unix.PROT_EXEC); err != nil {
			t.Fatal(err)
		}
		regs := platform.Regs{Rip: code, Rsp: stack - 64, Rdi: 0x1111, Rsi: 0x2222, Rdx: 0x3333, Rbx: 0x4444,
			R12: 0x5555, Rcx: 0x6666, R11: 0x7777}
		ev, err := th.Switch(&regs)
		if err != nil {
			t.Fatalf("%#x: Switch: %v", c.entry, err)
		}
		ret := uint64(code + 12) // after the call
		if ev.Kind != platform.EventSyscall || regs.Orig_rax != c.nr || regs.Rip != ret || regs.Rsp != stack-64 {
			t.Errorf("%#x: event %+v orig_rax %d rip %#x rsp %#x; want syscall %d at %#x, rsp %#x",
				c.entry, ev, regs.Orig_rax, regs.Rip, regs.Rsp, c.nr, ret, stack-64)
		}
		if regs.Rdi != 0x1111 || regs.Rsi != 0x2222 || regs.Rdx != 0x3333 || regs.Rbx != 0x4444 ||
			regs.R12 != 0x5555 || regs.Rcx != 0x6666 || regs.R11 != 0x7777 {
			t.Errorf("%#x: registers changed: %+v", c.entry, regs)
		}
		// Serving it and resuming goes on after the call (to the ud2).
		regs.Rax = 1234
		ev, err = th.Switch(&regs)
		if err != nil || ev.Kind != platform.EventFault || ev.Signal != unix.SIGILL || regs.Rip != ret || regs.Rax != 1234 {
			t.Errorf("%#x: after the call: %+v, %v, rip %#x rax %d; want SIGILL at %#x with rax 1234",
				c.entry, ev, err, regs.Rip, regs.Rax, ret)
		}
	}

	// Anything else in the page faults, as natively.
	regs := platform.Regs{Rip: vsyscallBase + 0x10, Rsp: stack - 64}
	if ev, err := th.Switch(&regs); err != nil || ev.Kind != platform.EventFault || ev.Signal != unix.SIGSEGV {
		t.Errorf("jump to vsyscall+0x10: %+v, %v; want SIGSEGV", ev, err)
	}
	// So does a vsyscall with no readable return address.
	regs = platform.Regs{Rip: vsyscallBase + 0x400, Rsp: stack + 0x1000}
	if ev, err := th.Switch(&regs); err != nil || ev.Kind != platform.EventFault || ev.Signal != unix.SIGSEGV {
		t.Errorf("vsyscall with a bad stack: %+v, %v; want SIGSEGV", ev, err)
	}
}

func TestVsyscallNr(t *testing.T) {
	for _, c := range []struct {
		addr uint64
		nr   uint64
		ok   bool
	}{
		{vsyscallBase, unix.SYS_GETTIMEOFDAY, true},
		{vsyscallBase + 0x400, unix.SYS_TIME, true},
		{vsyscallBase + 0x800, unix.SYS_GETCPU, true},
		{vsyscallBase + 0x1, 0, false},
		{vsyscallBase + 0xc00, 0, false},
		{vsyscallBase - 0x1000, 0, false},
		{0, 0, false},
	} {
		if nr, ok := vsyscallNr(c.addr); nr != c.nr || ok != c.ok {
			t.Errorf("vsyscallNr(%#x) = %d, %v; want %d, %v", c.addr, nr, ok, c.nr, c.ok)
		}
	}
}

func sigsysInfo(code int32, callAddr uint64, nr int32, arch uint32) []byte {
	b := make([]byte, 128)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(unix.SIGSYS))
	le.PutUint32(b[8:], uint32(code))
	le.PutUint64(b[16:], callAddr)
	le.PutUint32(b[24:], uint32(nr))
	le.PutUint32(b[28:], arch)
	return b
}

func TestVsyscallFromSigsys(t *testing.T) {
	const arch = unix.AUDIT_ARCH_X86_64
	for _, c := range []struct {
		name string
		info []byte
		ok   bool
	}{
		{"time", sigsysInfo(1, vsyscallBase+0x400, unix.SYS_TIME, arch), true},
		{"gettimeofday", sigsysInfo(1, vsyscallBase, unix.SYS_GETTIMEOFDAY, arch), true},
		{"getcpu", sigsysInfo(1, vsyscallBase+0x800, unix.SYS_GETCPU, arch), true},
		{"not from seccomp", sigsysInfo(0, vsyscallBase+0x400, unix.SYS_TIME, arch), false},
		{"not a vsyscall entry", sigsysInfo(1, stubBase, unix.SYS_TIME, arch), false},
		{"wrong syscall for the entry", sigsysInfo(1, vsyscallBase, unix.SYS_TIME, arch), false},
		{"i386", sigsysInfo(1, vsyscallBase+0x400, unix.SYS_TIME, 0x40000003), false},
	} {
		regs := platform.Regs{Rip: 0x401000, Rax: 7}
		ok := vsyscallFromSigsys(c.info, &regs)
		if ok != c.ok {
			t.Errorf("%s: %v, want %v", c.name, ok, c.ok)
		}
		if ok && (regs.Orig_rax != uint64(binary.LittleEndian.Uint32(c.info[24:])) || regs.Rip != 0x401000) {
			t.Errorf("%s: orig_rax %d rip %#x", c.name, regs.Orig_rax, regs.Rip)
		}
		if !ok && (regs.Rax != 7 || regs.Orig_rax != 0) {
			t.Errorf("%s: registers changed although not a vsyscall", c.name)
		}
	}
}

func TestVsyscallFromFault(t *testing.T) {
	const sp = 0x7000
	stack := func(addr uint64, b []byte) error {
		if addr != sp {
			return unix.EFAULT
		}
		binary.LittleEndian.PutUint64(b, 0x401234)
		return nil
	}
	for _, c := range []struct {
		name      string
		sig       unix.Signal
		addr, rip uint64
		rsp       uint64
		ok        bool
	}{
		{"time", unix.SIGSEGV, vsyscallBase + 0x400, vsyscallBase + 0x400, sp, true},
		{"gettimeofday", unix.SIGSEGV, vsyscallBase, vsyscallBase, sp, true},
		{"a read of the page, not a call", unix.SIGSEGV, vsyscallBase, 0x401000, sp, false},
		{"not an entry", unix.SIGSEGV, vsyscallBase + 8, vsyscallBase + 8, sp, false},
		{"not SIGSEGV", unix.SIGBUS, vsyscallBase, vsyscallBase, sp, false},
		{"bad stack", unix.SIGSEGV, vsyscallBase, vsyscallBase, sp + 0x1000, false},
	} {
		regs := platform.Regs{Rip: c.rip, Rsp: c.rsp}
		ok := vsyscallFromFault(c.sig, c.addr, &regs, stack)
		if ok != c.ok {
			t.Errorf("%s: %v, want %v", c.name, ok, c.ok)
		}
		if ok {
			nr, _ := vsyscallNr(c.addr)
			if regs.Rip != 0x401234 || regs.Rsp != c.rsp+8 || regs.Orig_rax != nr {
				t.Errorf("%s: rip %#x rsp %#x orig_rax %d", c.name, regs.Rip, regs.Rsp, regs.Orig_rax)
			}
		} else if regs.Rip != c.rip || regs.Rsp != c.rsp {
			t.Errorf("%s: registers changed although not emulated", c.name)
		}
	}
}

func TestStubFilter(t *testing.T) {
	prog, err := stubFilter.Compile()
	if err != nil {
		t.Fatal(err)
	}
	const (
		kill  = seccomp.KillProcess
		allow = seccomp.Allow
		trap  = seccomp.Trap
		x86   = unix.AUDIT_ARCH_X86_64
	)
	data := func(nr, arch uint32, ip uint64, arg0 uint64) seccomp.Data {
		return seccomp.Data{Nr: nr, Arch: arch, IP: ip, Args: [6]uint64{arg0}}
	}
	for _, c := range []struct {
		name string
		data seccomp.Data
		want seccomp.Action
	}{
		{"mmap from the stub", data(unix.SYS_MMAP, x86, stubBase+0x200, 0), allow},
		{"thread clone", data(unix.SYS_CLONE, x86, stubBase+0x200, threadFlags), allow},
		{"fork clone", data(unix.SYS_CLONE, x86, stubBase+0x200, forkFlags), allow},
		{"holder clone", data(unix.SYS_CLONE, x86, stubBase+0x200, holderFlags), allow},
		{"other clone", data(unix.SYS_CLONE, x86, stubBase+0x200, unix.CLONE_VM), kill},
		{"thread clone with high bits", data(unix.SYS_CLONE, x86, stubBase+0x200, 1<<32|threadFlags), kill},
		{"pause", data(unix.SYS_PAUSE, x86, stubBase+0x200, 0), allow},
		{"exit", data(unix.SYS_EXIT, x86, stubBase+0x200, 0), allow},
		{"exit_group", data(unix.SYS_EXIT_GROUP, x86, stubBase+0x200, 0), kill},
		{"x32 mmap", data(0x40000000|unix.SYS_MMAP, x86, stubBase+0x200, 0), kill},
		{"gettimeofday from the stub", data(unix.SYS_GETTIMEOFDAY, x86, stubBase+0x200, 0), kill},
		{"vsyscall time", data(unix.SYS_TIME, x86, vsyscallBase+0x400, 0), trap},
		{"vsyscall gettimeofday", data(unix.SYS_GETTIMEOFDAY, x86, vsyscallBase, 0), trap},
		{"vsyscall getcpu", data(unix.SYS_GETCPU, x86, vsyscallBase+0x800, 0), trap},
		{"mmap with ip in the vsyscall page", data(unix.SYS_MMAP, x86, vsyscallBase+0x10, 0), trap},
		{"ip just below the page", data(unix.SYS_GETTIMEOFDAY, x86, vsyscallBase-1, 0), kill},
		{"same low word, user half", data(unix.SYS_GETTIMEOFDAY, x86, vsyscallBase&0xffffffff, 0), kill},
		{"i386", data(unix.SYS_MMAP, 0x40000003, vsyscallBase, 0), kill},
	} {
		got, err := seccomp.Run(prog, c.data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: filter returns %#x, want %#x", c.name, got, c.want)
		}
	}
}

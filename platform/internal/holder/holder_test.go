package holder

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/seccomp"
)

const base = 0x7ff000000000

var spec = Spec{
	Base:    base,
	Runtime: []byte{0x90, 0x90, 0x90},
	Maps: []SharedMap{
		{Addr: 0x7ff100000000, Len: 4 << 30, Prot: unix.PROT_NONE, FD: 4},
		{Addr: 0x7ff000080000, Len: 0x22000, Prot: unix.PROT_READ, FD: 5},
	},
	KeepFDs: []int{6, 3},
	Handler: &Handler{Entry: base + 1, Restorer: base + 2, Signals: []unix.Signal{unix.SIGSYS, unix.SIGSEGV}},
	Block:   1 << 15,
	Filter:  &seccomp.Filter{Rules: []seccomp.Rule{{Name: "exit", Nr: unix.SYS_EXIT}}, Default: seccomp.KillProcess},
}

// TestSetupSequence disassembles the generated code with objdump and
// checks the syscalls it makes, in order, with their arguments.
func TestSetupSequence(t *testing.T) {
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump not installed")
	}
	s, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	page := s.Image[pageSize:]
	bin := filepath.Join(t.TempDir(), "code")
	if err := os.WriteFile(bin, page[s.Entry-base:s.Inject-base], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel",
		"--adjust-vma="+strconv.FormatUint(s.Entry, 10), bin).CombinedOutput()
	if err != nil {
		t.Fatalf("objdump: %v\n%s", err, out)
	}
	// Follow the registers through mov/xor/lea and record each syscall.
	name := map[string]string{"eax": "a", "edi": "di", "rdi": "di", "esi": "si", "rsi": "si", "edx": "dx", "rdx": "dx",
		"r10d": "10", "r10": "10", "r8d": "8", "r8": "8", "r9d": "9", "r9": "9"}
	regs := map[string]string{}
	var calls [][]string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			continue // not an instruction, or the rest of a long one's bytes
		}
		op, args, _ := strings.Cut(strings.TrimSpace(f[2]), " ")
		dst, src, _ := strings.Cut(strings.TrimSpace(args), ",")
		switch op {
		case "mov", "movabs":
			regs[name[dst]] = src
		case "xor":
			regs[name[dst]] = "0x0"
		case "lea": // lea rdi,[rip+0x..]        # 0x7ff0...
			_, target, _ := strings.Cut(src, "# ")
			regs[name[dst]] = target
		case "syscall":
			calls = append(calls, []string{regs["a"], regs["di"], regs["si"], regs["dx"], regs["10"], regs["8"], regs["9"]})
		}
	}
	nr := func(n int) string { return "0x" + strconv.FormatInt(int64(n), 16) }
	var got []string
	for _, c := range calls {
		got = append(got, c[0])
	}
	want := []string{
		nr(unix.SYS_MMAP), nr(unix.SYS_MMAP),
		nr(unix.SYS_CLOSE_RANGE), nr(unix.SYS_CLOSE_RANGE), nr(unix.SYS_CLOSE_RANGE),
		nr(unix.SYS_MOUNT), nr(unix.SYS_CHROOT), nr(unix.SYS_CHDIR),
		nr(unix.SYS_RT_SIGACTION), nr(unix.SYS_RT_SIGACTION), nr(unix.SYS_RT_SIGACTION),
		nr(unix.SYS_RT_SIGPROCMASK), nr(unix.SYS_CAPSET), nr(unix.SYS_PRCTL), nr(unix.SYS_SECCOMP),
		nr(unix.SYS_MUNMAP), nr(unix.SYS_MUNMAP), nr(unix.SYS_MUNMAP), nr(unix.SYS_MUNMAP),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("syscalls %v, want %v", got, want)
	}
	// Spot-check arguments: the mappings, the descriptors kept, the unmapped gaps.
	checks := []struct {
		call int
		args []string
	}{
		{0, []string{"0x7ff100000000", "0x100000000", "0x0", "0x11", "0x4", "0x0"}},
		{1, []string{"0x7ff000080000", "0x22000", "0x1", "0x11", "0x5", "0x0"}},
		{2, []string{"0x0", "0x2", "0x0"}},
		{3, []string{"0x4", "0x5", "0x0"}},
		{4, []string{"0x7", "0xffffffff", "0x0"}},
		{13, []string{"0x26", "0x1", "0x0", "0x0", "0x0"}},
		{15, []string{"0x0", "0x7ff000000000"}},
		{16, []string{"0x7ff000001000", "0x7f000"}},
		{17, []string{"0x7ff0000a2000", "0xfff5e000"}},
		{18, []string{"0x7ff200000000", "0xdfffff000"}},
	}
	for _, c := range checks {
		if g := calls[c.call][1 : 1+len(c.args)]; !slices.Equal(g, c.args) {
			t.Errorf("syscall %d (%s): args %v, want %v", c.call, calls[c.call][0], g, c.args)
		}
	}
	// Pointer arguments point at the right data in the page.
	at := func(call, arg int) []byte {
		a, err := strconv.ParseUint(strings.TrimPrefix(calls[call][1+arg], "0x"), 16, 64)
		if err != nil || a < base || a >= base+pageSize {
			t.Fatalf("syscall %d argument %d = %q, not an address in the page", call, arg, calls[call][1+arg])
		}
		return page[a-base:]
	}
	le := binary.LittleEndian
	for _, p := range []struct {
		call, arg int
		want      string
	}{{5, 0, "none\x00"}, {5, 1, "/proc\x00"}, {5, 2, "tmpfs\x00"}, {6, 0, "/proc\x00"}, {7, 0, "/\x00"}} {
		if got := at(p.call, p.arg); !bytes.HasPrefix(got, []byte(p.want)) {
			t.Errorf("syscall %d argument %d points at %q, want %q", p.call, p.arg, got[:8], p.want)
		}
	}
	if sa := at(8, 1); le.Uint64(sa) != 1 || !bytes.Equal(sa[8:32], make([]byte, 24)) {
		t.Errorf("SIGCHLD sigaction %x, want SIG_IGN", sa[:32])
	}
	if sa := at(9, 1); le.Uint64(sa) != base+1 || le.Uint64(sa[8:]) != 0x0c000004 || le.Uint64(sa[16:]) != base+2 || le.Uint64(sa[24:]) != ^uint64(0) {
		t.Errorf("handler sigaction %x", sa[:32])
	}
	if m := at(11, 1); le.Uint64(m) != spec.Block {
		t.Errorf("blocked mask %#x, want %#x", le.Uint64(m), spec.Block)
	}
	if h, d := at(12, 0), at(12, 1); le.Uint32(h) != unix.LINUX_CAPABILITY_VERSION_3 || le.Uint32(h[4:]) != 0 || !bytes.Equal(d[:24], make([]byte, 24)) {
		t.Errorf("capset header %x data %x", h[:8], d[:24])
	}
	if fp := at(14, 2); int(le.Uint16(fp)) != len(s.Filter) || !bytes.HasPrefix(page[le.Uint64(fp[8:])-base:], seccomp.Bytes(s.Filter)) {
		t.Errorf("sock_fprog %x does not point at the filter", fp[:16])
	}
}

// TestLayout checks the image: one r-x PT_LOAD of the code page, the
// runtime code at its start, the ready int3 right before the inject
// sequence, the clone sequence's shape, and the sock_fprog pointing at the
// compiled filter inside the page.
func TestLayout(t *testing.T) {
	s, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(s.Image))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Progs) != 1 || f.Progs[0].Type != elf.PT_LOAD || f.Progs[0].Flags != elf.PF_R|elf.PF_X ||
		f.Progs[0].Vaddr != base || f.Progs[0].Memsz != pageSize || f.Entry != s.Entry {
		t.Fatalf("program headers %+v, entry %#x", f.Progs, f.Entry)
	}
	page := s.Image[pageSize:]
	if !bytes.HasPrefix(page, spec.Runtime) || s.Entry-base < uint64(len(spec.Runtime)) {
		t.Fatal("runtime code not at the start of the page, before the set-up")
	}
	off := func(a uint64) []byte { return page[a-base:] }
	if page[s.Inject-base-1] != 0xcc {
		t.Fatal("the ready int3 does not precede the inject sequence")
	}
	if !bytes.HasPrefix(off(s.Inject), []byte{0x0f, 0x05, 0xcc}) ||
		!bytes.HasPrefix(off(s.CloneEntry), []byte{0x0f, 0x05, 0x48, 0x85, 0xc0, 0x74, 0x01, 0xcc}) ||
		s.CloneTrap != s.CloneEntry+8 {
		t.Fatal("inject or clone sequence malformed")
	}
	raw := seccomp.Bytes(s.Filter)
	at := bytes.Index(page, raw)
	if at < 0 {
		t.Fatal("filter not in the page")
	}
	fprog := binary.LittleEndian.AppendUint16(nil, uint16(len(s.Filter)))
	fprog = append(fprog, make([]byte, 6)...)
	fprog = binary.LittleEndian.AppendUint64(fprog, base+uint64(at))
	if !bytes.Contains(page, fprog) {
		t.Fatal("no sock_fprog pointing at the filter")
	}
}

func TestGaps(t *testing.T) {
	got := gaps(Spec{Base: 0x2000, Maps: []SharedMap{{Addr: 0x3000, Len: 0x1000}, {Addr: 0x10000, Len: 0x1000}}})
	want := [][2]uint64{{0, 0x2000}, {0x4000, 0x10000}, {0x11000, maxUser}}
	if !slices.Equal(got, want) {
		t.Fatalf("gaps %x, want %x", got, want)
	}
}

func TestPageOverflow(t *testing.T) {
	big := spec
	big.Runtime = make([]byte, pageSize-64)
	if _, err := Build(big); err == nil {
		t.Fatal("a holder larger than its page was built")
	}
}

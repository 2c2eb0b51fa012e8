package arch

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLayout pins the frame types to the sizes and offsets of Linux's
// x86-64 headers (struct sigcontext, ucontext, rt_sigframe, siginfo_t).
func TestLayout(t *testing.T) {
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"sizeof(struct sigcontext)", binary.Size(SigContext{}), 256},
		{"sizeof(stack_t)", binary.Size(StackT{}), 24},
		{"sizeof(struct ucontext)", UContextSize, 304},
		{"sizeof(struct rt_sigframe)", FrameSize, 440},
		{"siginfo in rt_sigframe", int(frameInfoOff), 312},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	// Field offsets, found by marshalling a frame with marker values.
	f := RtSigframe{Pretcode: 1}
	f.UC.Flags = 2
	f.UC.Stack.Size = 3
	f.UC.MContext.Rip = 4
	f.UC.MContext.Ss = 5
	f.UC.MContext.Oldmask = 6
	f.UC.MContext.Fpstate = 7
	f.UC.Sigmask = 8
	b := f.Marshal()
	le := binary.LittleEndian
	for _, c := range []struct {
		what string
		off  int
		want uint64
	}{
		{"pretcode", 0, 1},
		{"uc_flags", 8, 2},
		{"uc_stack.ss_size", 8 + 32, 3},
		{"rip", 8 + 40 + 16*8, 4},
		{"ss", 8 + 40 + 18*8 + 6, 5},
		{"oldmask", 8 + 40 + 21*8, 6},
		{"fpstate", 8 + 40 + 23*8, 7},
		{"uc_sigmask", 8 + 296, 8},
	} {
		var got uint64
		if c.what == "ss" {
			got = uint64(le.Uint16(b[c.off:]))
		} else {
			got = le.Uint64(b[c.off:])
		}
		if got != c.want {
			t.Errorf("%s at %d = %d, want %d", c.what, c.off, got, c.want)
		}
	}
}

func TestSiginfoMarshal(t *testing.T) {
	le := binary.LittleEndian
	fault := SigInfo{Signo: unix.SIGSEGV, Code: 1, Addr: 0xdead000}.Marshal()
	if le.Uint32(fault[0:]) != uint32(unix.SIGSEGV) || le.Uint32(fault[8:]) != 1 || le.Uint64(fault[16:]) != 0xdead000 {
		t.Errorf("fault siginfo % x", fault[:24])
	}
	// SIGSEGV sent by kill carries the sender, not an address.
	kill := SigInfo{Signo: unix.SIGSEGV, Code: 0, Pid: 7, Uid: 1000, Addr: 0xdead000}.Marshal()
	if le.Uint32(kill[16:]) != 7 || le.Uint32(kill[20:]) != 1000 {
		t.Errorf("kill siginfo % x", kill[:24])
	}
	chld := SigInfo{Signo: unix.SIGCHLD, Code: 1, Errno: 3, Pid: 9, Uid: 1000, Status: 42}.Marshal()
	if le.Uint32(chld[4:]) != 3 || le.Uint32(chld[16:]) != 9 || le.Uint32(chld[24:]) != 42 {
		t.Errorf("SIGCHLD siginfo % x", chld[:28])
	}
	if other := (SigInfo{Signo: unix.SIGUSR1, Status: 42}).Marshal(); le.Uint32(other[24:]) != 0 {
		t.Errorf("SIGUSR1 siginfo carries a status")
	}
}

func TestContextRoundTrip(t *testing.T) {
	r := Regs{R8: 8, R15: 15, Rdi: 1, Rax: 2, Rsp: 3, Rip: 4, Eflags: 0x202 | EflagsTF, Cs: UserCS, Ss: UserDS,
		Fs_base: 5, Orig_rax: 6}
	var sc SigContext
	sc.SaveRegs(&r)
	uc, ok := UnmarshalUContext((&RtSigframe{UC: UContext{MContext: sc}}).Marshal()[frameUCOff:])
	if !ok {
		t.Fatal("UnmarshalUContext failed")
	}
	// Bits outside UserFlags (here IF, 0x200) stay the current thread's.
	got := Regs{Eflags: 0x2, Fs_base: 55, Orig_rax: 66}
	uc.MContext.RestoreRegs(&got)
	want := r
	want.Eflags, want.Cs, want.Ss, want.Fs_base, want.Orig_rax = 0x2|EflagsTF, 0, 0, 55, 66
	if got != want {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, ok := UnmarshalUContext(make([]byte, UContextSize-1)); ok {
		t.Error("a short ucontext decoded")
	}
}

func TestFrame(t *testing.T) {
	fpAddr, frame := Frame(0x7ffff000-RedZone, 1000)
	if fpAddr%64 != 0 || fpAddr+1000 > 0x7ffff000-RedZone || (frame+8)%16 != 0 ||
		frame+uint64(FrameSize) > fpAddr {
		t.Errorf("Frame: fp %#x frame %#x", fpAddr, frame)
	}
	info, uc := HandlerArgs(frame)
	if info != frame+312 || uc != frame+8 {
		t.Errorf("HandlerArgs: %#x %#x", info-frame, uc-frame)
	}
}

func TestSegmentsOK(t *testing.T) {
	strict := uint64(UCFPXState | UCSigcontextSS | UCStrictRestoreSS)
	cases := []struct {
		flags  uint64
		cs, ss uint16
		want   bool
	}{
		{strict, UserCS, UserDS, true},
		{strict, UserCS &^ 3, UserDS &^ 3, true}, // RPL forced to 3
		{strict, 0x23, UserDS, false},            // 32-bit code: not served
		{strict, 0, UserDS, false},
		{strict, 0x1234, UserDS, false},
		{strict, UserCS, 0, false},
		{strict, UserCS, 0x1234, false},
		{0, UserCS, 0x1234, true}, // SS fixed up without UC_STRICT_RESTORE_SS
		{0, 0x1234, UserDS, false},
	}
	for _, c := range cases {
		uc := UContext{Flags: c.flags, MContext: SigContext{Cs: c.cs, Ss: c.ss}}
		if got := uc.SegmentsOK(); got != c.want {
			t.Errorf("SegmentsOK(%#x, cs %#x, ss %#x) = %v, want %v", c.flags, c.cs, c.ss, got, c.want)
		}
	}
}

// testFP is an XSAVE image of 1 KiB with a non-initial MXCSR and FCW.
func testFP() []byte {
	b := make([]byte, 1024)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0x0340)  // FCW: exceptions unmasked
	le.PutUint32(b[24:], 0x7f80) // MXCSR: round toward zero
	le.PutUint32(b[28:], 0xffff) // MXCSR mask
	le.PutUint64(b[512:], 0x7)   // xstate_bv: x87, SSE, AVX
	b[600] = 0xaa                // some AVX state
	return b
}

func TestInitFPState(t *testing.T) {
	le := binary.LittleEndian
	for _, n := range []int{512, 1024} {
		cur := testFP()[:n]
		cur[470] = 0x55 // software-reserved bytes (fpx_sw_bytes) are kept
		b := InitFPState(cur)
		if len(b) != n || le.Uint16(b[0:]) != 0x37f || le.Uint32(b[24:]) != 0x1f80 || le.Uint32(b[28:]) != 0xffff ||
			b[470] != 0x55 {
			t.Errorf("%d bytes: fcw %#x mxcsr %#x mask %#x", n, le.Uint16(b[0:]), le.Uint32(b[24:]), le.Uint32(b[28:]))
		}
		if n > 512 && (le.Uint64(b[512:]) != 3 || b[600] != 0xaa) {
			// Components past the header are left: xstate_bv says they
			// are in their init state, which is what XRSTOR loads.
			t.Errorf("xstate_bv %#x", le.Uint64(b[512:]))
		}
		if le.Uint16(cur[0:]) != 0x0340 {
			t.Error("InitFPState changed its argument")
		}
	}
	if b := InitFPState(make([]byte, 100)); len(b) != 100 {
		t.Errorf("short image: %d bytes", len(b))
	}
}

func TestCheckFPState(t *testing.T) {
	cur := testFP()
	ok := bytes.Clone(cur)
	bad := bytes.Clone(cur)
	binary.LittleEndian.PutUint32(bad[24:], 0xffffffff)
	if err := CheckFPState(cur, ok); err != nil {
		t.Errorf("valid image: %v", err)
	}
	if err := CheckFPState(cur, bad); err != unix.EINVAL {
		t.Errorf("reserved MXCSR bits: %v, want EINVAL", err)
	}
}

func TestFrameLayoutMatches(t *testing.T) {
	le := binary.LittleEndian
	cur := testFP()
	le.PutUint32(cur[464:], 0x46505853) // FP_XSTATE_MAGIC1
	le.PutUint32(cur[468:], uint32(len(cur)))
	same := bytes.Clone(cur[:512])
	legacy := bytes.Clone(cur[:512])
	clear(legacy[464:512])
	other := bytes.Clone(cur[:512])
	le.PutUint32(other[468:], 4096)
	tests := []struct {
		name      string
		cur, head []byte
		want      bool
	}{
		{"same layout", cur, same, true},
		{"legacy frame", cur, legacy, false},
		{"other size", cur, other, false},
		{"short head", cur, same[:100], false},
		{"legacy thread", cur[:512], legacy, true},
	}
	for _, tt := range tests {
		if got := FrameLayoutMatches(tt.cur, tt.head); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLegacyFPState(t *testing.T) {
	le := binary.LittleEndian
	cur := testFP()
	cur[470] = 0x55
	head := make([]byte, 512)
	le.PutUint16(head[0:], 0x27f)
	le.PutUint32(head[24:], 0x3f80)
	le.PutUint32(head[28:], 0x1234) // a frame's MXCSR mask is not taken
	head[200] = 0x99                // an XMM register
	b := LegacyFPState(cur, head)
	if len(b) != len(cur) || le.Uint16(b[0:]) != 0x27f || le.Uint32(b[24:]) != 0x3f80 || b[200] != 0x99 {
		t.Errorf("legacy registers not taken: fcw %#x mxcsr %#x", le.Uint16(b[0:]), le.Uint32(b[24:]))
	}
	if le.Uint32(b[28:]) != 0xffff || b[470] != 0x55 {
		t.Errorf("MXCSR mask %#x, sw byte %#x: want the thread's", le.Uint32(b[28:]), b[470])
	}
	if le.Uint64(b[512:]) != 3 {
		t.Errorf("xstate_bv %#x, want x87|SSE only", le.Uint64(b[512:]))
	}
}

package linux

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/platform"
)

// fakeFPThread is a platform thread that only holds an FP state; the host
// check of SetFPState is modelled by rejecting reserved xstate_bv bits.
type fakeFPThread struct {
	platform.Thread // nil: any other method panics
	fp              []byte
	sets            int
}

func (f *fakeFPThread) FPState() ([]byte, error) { return append([]byte(nil), f.fp...), nil }

func (f *fakeFPThread) SetFPState(b []byte) error {
	if len(b) != len(f.fp) || binary.LittleEndian.Uint64(b[512:])>>62 != 0 {
		return unix.EINVAL
	}
	f.fp = append(f.fp[:0], b...)
	f.sets++
	return nil
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

const (
	testHandler  = 0x401000
	testRestorer = 0x402000
)

// deliverTestFrame sets up a SIGUSR1 frame as the guest's handler would see
// it and returns the address of its ucontext (where rsp points when the
// handler's return reaches the restorer's rt_sigreturn).
func deliverTestFrame(t *testing.T, task *Task) uint64 {
	t.Helper()
	d := kernel.Delivery{
		Info:   kernel.SigInfo{Signo: unix.SIGUSR1, Code: kernel.SIKernel},
		Action: kernel.SigAction{Handler: testHandler, Flags: kernel.SASigInfo | kernel.SARestorer, Restorer: testRestorer},
	}
	if err := task.setupFrame(d); err != nil {
		t.Fatalf("setupFrame: %v", err)
	}
	if task.Regs.Rip != testHandler {
		t.Fatalf("rip %#x after setupFrame", task.Regs.Rip)
	}
	return task.Regs.Rdx
}

func TestRtSigreturn(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		name string
		// corrupt edits the frame (uc: the ucontext, fpAddr: its FP state)
		// before rt_sigreturn; rsp is where rt_sigreturn finds the frame.
		corrupt  func(m *fakeMem, task *Task, uc, fpAddr uint64) (rsp uint64)
		wantSEGV bool
		// restored: the frame's registers and mask were applied (even when
		// the frame fails later).
		restored bool
		wantRax  uint64 // after an intact restore; 0 means the frame's 42
		check    func(t *testing.T, task *Task, th *fakeFPThread)
	}{
		{name: "intact", restored: true, corrupt: func(_ *fakeMem, _ *Task, uc, _ uint64) uint64 { return uc },
			check: func(t *testing.T, task *Task, th *fakeFPThread) {
				if le.Uint32(th.fp[24:]) != 0x7f80 || th.fp[600] != 0xaa {
					t.Errorf("FP state not restored: mxcsr %#x", le.Uint32(th.fp[24:]))
				}
			}},
		{name: "unreadable", wantSEGV: true, corrupt: func(*fakeMem, *Task, uint64, uint64) uint64 { return noAccess + 64 }},
		{name: "fpstate unmapped", wantSEGV: true, restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU64(m, uc+mcontextOff+23*8, noAccess)
				return uc
			}},
		{name: "reserved MXCSR bits", wantSEGV: true, restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, fp uint64) uint64 {
				putU32(m, fp+24, 0xffffffff)
				return uc
			}},
		{name: "host rejects the XSAVE image", wantSEGV: true, restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, fp uint64) uint64 {
				putU64(m, fp+512, 1<<62|7)
				return uc
			}},
		{name: "bad CS", wantSEGV: true, restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcontextOff+18*8, 0x1234)
				return uc
			}},
		{name: "32-bit CS", wantSEGV: true, restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcontextOff+18*8, 0x23)
				return uc
			}},
		{name: "CS without RPL 3", restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcontextOff+18*8, 0x30)
				return uc
			}},
		{name: "bad SS, strict", wantSEGV: true, restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcontextOff+18*8+6, 0x1234)
				return uc
			}},
		{name: "bad SS, not strict", restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcontextOff+18*8+6, 0x1234)
				putU64(m, uc, ucFPXState|ucSigcontextSS)
				return uc
			}},
		{name: "NULL fpstate resets it", restored: true,
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU64(m, uc+mcontextOff+23*8, 0)
				return uc
			},
			check: func(t *testing.T, task *Task, th *fakeFPThread) {
				if le.Uint16(th.fp[0:]) != 0x37f || le.Uint32(th.fp[24:]) != 0x1f80 ||
					le.Uint32(th.fp[28:]) != 0xffff || le.Uint64(th.fp[512:]) != 3 {
					t.Errorf("FP state after a NULL fpstate: fcw %#x mxcsr %#x mask %#x xstate_bv %#x",
						le.Uint16(th.fp[0:]), le.Uint32(th.fp[24:]), le.Uint32(th.fp[28:]), le.Uint64(th.fp[512:]))
				}
			}},
		{name: "restart errno in rax is not a restart", restored: true, wantRax: negErrno(kernel.ERESTARTSYS),
			corrupt: func(m *fakeMem, _ *Task, uc, _ uint64) uint64 {
				putU64(m, uc+mcontextOff+13*8, negErrno(kernel.ERESTARTSYS))
				return uc
			},
			check: func(t *testing.T, task *Task, _ *fakeFPThread) {
				task.afterSyscall = true
				task.deliverSignals()
				if task.Regs.Rax != negErrno(kernel.ERESTARTSYS) || task.Regs.Rip != 0x400123 {
					t.Errorf("after delivery: rax %d rip %#x, want the frame's", int64(task.Regs.Rax), task.Regs.Rip)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newProcTask(t, nil)
			th := &fakeFPThread{fp: testFP()}
			task.Thread = th
			r := task.Regs
			r.Rip, r.Rsp, r.Rax, r.Rbx, r.Cs, r.Ss, r.Eflags = 0x400123, memEnd-16, 42, 7, userCS, userDS, 0x202
			task.K.SetMask(bit(unix.SIGUSR2))
			uc := deliverTestFrame(t, task)
			if le := binary.LittleEndian; le.Uint16(th.fp[0:]) != 0x37f || le.Uint32(th.fp[24:]) != 0x1f80 {
				t.Errorf("the handler does not start with the initial FP state")
			}
			fpAddr := getU64(t, mem, uc+mcontextOff+23*8)
			// The handler runs and changes things the frame must undo.
			task.K.SetMask(bit(unix.SIGHUP))
			r.Rbx, r.Rax = 99, 0xdead
			r.Rsp = tc.corrupt(mem, task, uc, fpAddr)
			r.Orig_rax = unix.SYS_RT_SIGRETURN
			if exit := Dispatch(task); exit != nil {
				t.Fatalf("rt_sigreturn ended the thread: %v", exit)
			}
			segv := task.K.Pending()&bit(unix.SIGSEGV) != 0
			if segv != tc.wantSEGV {
				t.Errorf("SIGSEGV pending %v, want %v", segv, tc.wantSEGV)
			}
			if tc.wantSEGV && r.Rax != 0 {
				t.Errorf("rax %d after a bad frame, want 0", int64(r.Rax))
			}
			restored := r.Rip == 0x400123 && r.Rbx == 7 && task.K.Mask() == bit(unix.SIGUSR2)
			if restored != tc.restored {
				t.Errorf("registers and mask restored %v (rip %#x rbx %d mask %#x), want %v",
					restored, r.Rip, r.Rbx, task.K.Mask(), tc.restored)
			}
			wantRax := tc.wantRax
			if wantRax == 0 {
				wantRax = 42
			}
			if tc.restored && !tc.wantSEGV && r.Rax != wantRax {
				t.Errorf("rax %d, want the frame's %d", int64(r.Rax), int64(wantRax))
			}
			if r.Cs != userCS || r.Ss != userDS {
				t.Errorf("segments changed to cs %#x ss %#x", r.Cs, r.Ss)
			}
			if tc.check != nil {
				tc.check(t, task, th)
			}
		})
	}
}

func TestFrameSegments(t *testing.T) {
	strict := uint64(ucFPXState | ucSigcontextSS | ucStrictRestoreSS)
	cases := []struct {
		flags  uint64
		cs, ss uint16
		want   bool
	}{
		{strict, userCS, userDS, true},
		{strict, userCS &^ 3, userDS &^ 3, true}, // RPL forced to 3
		{strict, 0x23, userDS, false},            // 32-bit code: not served
		{strict, 0, userDS, false},
		{strict, 0x1234, userDS, false},
		{strict, userCS, 0, false},
		{strict, userCS, 0x1234, false},
		{0, userCS, 0x1234, true}, // SS fixed up without UC_STRICT_RESTORE_SS
		{0, 0x1234, userDS, false},
	}
	for _, c := range cases {
		if got := frameSegmentsOK(c.flags, c.cs, c.ss); got != c.want {
			t.Errorf("frameSegmentsOK(%#x, cs %#x, ss %#x) = %v, want %v", c.flags, c.cs, c.ss, got, c.want)
		}
	}
}

func TestInitFPState(t *testing.T) {
	le := binary.LittleEndian
	for _, n := range []int{512, 1024} {
		cur := testFP()[:n]
		cur[470] = 0x55 // software-reserved bytes (fpx_sw_bytes) are kept
		b := initFPState(cur)
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
			t.Error("initFPState changed its argument")
		}
	}
	if b := initFPState(make([]byte, 100)); len(b) != 100 {
		t.Errorf("short image: %d bytes", len(b))
	}
}

func putU16(m *fakeMem, addr uint64, v uint16) {
	_, _ = m.CopyOut(addr, binary.LittleEndian.AppendUint16(nil, v))
}
func putU32(m *fakeMem, addr uint64, v uint32) {
	_, _ = m.CopyOut(addr, binary.LittleEndian.AppendUint32(nil, v))
}
func putU64(m *fakeMem, addr uint64, v uint64) {
	_, _ = m.CopyOut(addr, binary.LittleEndian.AppendUint64(nil, v))
}

func getU64(t *testing.T, m *fakeMem, addr uint64) uint64 {
	t.Helper()
	b := make([]byte, 8)
	if _, err := m.CopyIn(addr, b); err != nil {
		t.Fatalf("reading %#x: %v", addr, err)
	}
	return binary.LittleEndian.Uint64(b)
}

func bit(sig unix.Signal) uint64 { return 1 << (uint(sig) - 1) }

package kernel

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/arch"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform"
)

// flatMem is guest memory for the frame tests: [memBase, memEnd) is
// read-write, everything else faults.
type flatMem struct{ b []byte }

const (
	memBase  = 0x10000000
	memEnd   = memBase + 2*4096
	noAccess = memEnd + 4096
)

func (m *flatMem) at(addr uint64, n int) ([]byte, error) {
	if addr < memBase || addr+uint64(n) > memEnd || addr+uint64(n) < addr {
		return nil, unix.EFAULT
	}
	return m.b[addr-memBase : addr-memBase+uint64(n)], nil
}

func (m *flatMem) CopyIn(addr uint64, dst []byte) (int, error) {
	b, err := m.at(addr, len(dst))
	if err != nil {
		return 0, err
	}
	return copy(dst, b), nil
}

func (m *flatMem) CopyOut(addr uint64, src []byte) (int, error) {
	b, err := m.at(addr, len(src))
	if err != nil {
		return 0, err
	}
	return copy(b, src), nil
}

// newFrameTask returns the first task of a fresh kernel with flat memory.
func newFrameTask(t *testing.T) (*Task, *flatMem) {
	t.Helper()
	k := New(Config{FS: vfs.New(memfs.New(0))})
	p, err := k.NewProcess(nil, [3]*vfs.File{}, "")
	if err != nil {
		t.Fatal(err)
	}
	mem := &flatMem{b: make([]byte, memEnd-memBase)}
	task := p.Leader()
	task.Mem, task.Regs = mem, &platform.Regs{}
	return task, mem
}

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

// testFP is the thread's FP state before the signal, an XSAVE image of 1
// KiB that is not the initial one: FCW 0x0340 (exceptions unmasked), MXCSR
// 0x7f80 (round toward zero) with mask 0xffff, xstate_bv 7 (x87, SSE,
// AVX) and some AVX state.
func testFP() []byte {
	b := make([]byte, 1024)
	copy(b[0:], []byte{0x40, 0x03})
	copy(b[24:], []byte{0x80, 0x7f, 0, 0, 0xff, 0xff})
	b[512], b[600] = 0x7, 0xaa
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
	d := Delivery{
		Info:   SigInfo{Signo: unix.SIGUSR1, Code: SIKernel},
		Action: SigAction{Handler: testHandler, Flags: SASigInfo | SARestorer, Restorer: testRestorer},
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
		corrupt  func(m *flatMem, task *Task, uc, fpAddr uint64) (rsp uint64)
		wantSEGV bool
		// restored: the frame's registers and mask were applied (even when
		// the frame fails later).
		restored bool
		wantRax  uint64 // after an intact restore; 0 means the frame's 42
		check    func(t *testing.T, task *Task, th *fakeFPThread)
	}{
		{name: "intact", restored: true, corrupt: func(_ *flatMem, _ *Task, uc, _ uint64) uint64 { return uc },
			check: func(t *testing.T, task *Task, th *fakeFPThread) {
				if le.Uint32(th.fp[24:]) != 0x7f80 || th.fp[600] != 0xaa {
					t.Errorf("FP state not restored: mxcsr %#x", le.Uint32(th.fp[24:]))
				}
			}},
		{name: "unreadable", wantSEGV: true, corrupt: func(*flatMem, *Task, uint64, uint64) uint64 { return noAccess + 64 }},
		{name: "fpstate unmapped", wantSEGV: true, restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU64(m, uc+mcOff+23*8, noAccess)
				return uc
			}},
		{name: "reserved MXCSR bits", wantSEGV: true, restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, fp uint64) uint64 {
				putU32(m, fp+24, 0xffffffff)
				return uc
			}},
		{name: "host rejects the XSAVE image", wantSEGV: true, restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, fp uint64) uint64 {
				putU64(m, fp+512, 1<<62|7)
				return uc
			}},
		{name: "bad CS", wantSEGV: true, restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcOff+18*8, 0x1234)
				return uc
			}},
		{name: "32-bit CS", wantSEGV: true, restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcOff+18*8, 0x23)
				return uc
			}},
		{name: "CS without RPL 3", restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcOff+18*8, 0x30)
				return uc
			}},
		{name: "bad SS, strict", wantSEGV: true, restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcOff+18*8+6, 0x1234)
				return uc
			}},
		{name: "bad SS, not strict", restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU16(m, uc+mcOff+18*8+6, 0x1234)
				putU64(m, uc, arch.UCFPXState|arch.UCSigcontextSS)
				return uc
			}},
		{name: "NULL fpstate resets it", restored: true,
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU64(m, uc+mcOff+23*8, 0)
				return uc
			},
			check: func(t *testing.T, task *Task, th *fakeFPThread) {
				if le.Uint16(th.fp[0:]) != 0x37f || le.Uint32(th.fp[24:]) != 0x1f80 ||
					le.Uint32(th.fp[28:]) != 0xffff || le.Uint64(th.fp[512:]) != 3 {
					t.Errorf("FP state after a NULL fpstate: fcw %#x mxcsr %#x mask %#x xstate_bv %#x",
						le.Uint16(th.fp[0:]), le.Uint32(th.fp[24:]), le.Uint32(th.fp[28:]), le.Uint64(th.fp[512:]))
				}
			}},
		{name: "restart errno in rax is not a restart", restored: true, wantRax: negErrno(ERESTARTSYS),
			corrupt: func(m *flatMem, _ *Task, uc, _ uint64) uint64 {
				putU64(m, uc+mcOff+13*8, negErrno(ERESTARTSYS))
				return uc
			},
			check: func(t *testing.T, task *Task, _ *fakeFPThread) {
				task.afterSyscall = true
				task.deliverSignals()
				if task.Regs.Rax != negErrno(ERESTARTSYS) || task.Regs.Rip != 0x400123 {
					t.Errorf("after delivery: rax %d rip %#x, want the frame's", int64(task.Regs.Rax), task.Regs.Rip)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newFrameTask(t)
			th := &fakeFPThread{fp: testFP()}
			task.Thread = th
			r := task.Regs
			r.Rip, r.Rsp, r.Rax, r.Rbx, r.Cs, r.Ss, r.Eflags = 0x400123, memEnd-16, 42, 7, arch.UserCS, arch.UserDS, 0x202
			task.SetMask(bit(unix.SIGUSR2))
			uc := deliverTestFrame(t, task)
			if le := binary.LittleEndian; le.Uint16(th.fp[0:]) != 0x37f || le.Uint32(th.fp[24:]) != 0x1f80 {
				t.Errorf("the handler does not start with the initial FP state")
			}
			fpAddr := getU64(t, mem, uc+mcOff+23*8)
			// The handler runs and changes things the frame must undo.
			task.SetMask(bit(unix.SIGHUP))
			r.Rbx, r.Rax = 99, 0xdead
			r.Rsp = tc.corrupt(mem, task, uc, fpAddr)
			r.Orig_rax = unix.SYS_RT_SIGRETURN
			r.Rax = task.SignalReturn()
			segv := task.Pending()&bit(unix.SIGSEGV) != 0
			if segv != tc.wantSEGV {
				t.Errorf("SIGSEGV pending %v, want %v", segv, tc.wantSEGV)
			}
			if tc.wantSEGV && r.Rax != 0 {
				t.Errorf("rax %d after a bad frame, want 0", int64(r.Rax))
			}
			restored := r.Rip == 0x400123 && r.Rbx == 7 && task.Mask() == bit(unix.SIGUSR2)
			if restored != tc.restored {
				t.Errorf("registers and mask restored %v (rip %#x rbx %d mask %#x), want %v",
					restored, r.Rip, r.Rbx, task.Mask(), tc.restored)
			}
			wantRax := tc.wantRax
			if wantRax == 0 {
				wantRax = 42
			}
			if tc.restored && !tc.wantSEGV && r.Rax != wantRax {
				t.Errorf("rax %d, want the frame's %d", int64(r.Rax), int64(wantRax))
			}
			if r.Cs != arch.UserCS || r.Ss != arch.UserDS {
				t.Errorf("segments changed to cs %#x ss %#x", r.Cs, r.Ss)
			}
			if tc.check != nil {
				tc.check(t, task, th)
			}
		})
	}
}

func putU16(m *flatMem, addr uint64, v uint16) {
	_, _ = m.CopyOut(addr, binary.LittleEndian.AppendUint16(nil, v))
}
func putU32(m *flatMem, addr uint64, v uint32) {
	_, _ = m.CopyOut(addr, binary.LittleEndian.AppendUint32(nil, v))
}
func putU64(m *flatMem, addr uint64, v uint64) {
	_, _ = m.CopyOut(addr, binary.LittleEndian.AppendUint64(nil, v))
}

func getU64(t *testing.T, m *flatMem, addr uint64) uint64 {
	t.Helper()
	b := make([]byte, 8)
	if _, err := m.CopyIn(addr, b); err != nil {
		t.Fatalf("reading %#x: %v", addr, err)
	}
	return binary.LittleEndian.Uint64(b)
}

func bit(sig unix.Signal) uint64 { return 1 << (uint(sig) - 1) }

// mcOff is the offset of uc_mcontext in the ucontext: the tests corrupt
// the frame's registers through it (see arch.UContext).
const mcOff = 40

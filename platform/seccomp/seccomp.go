// Package seccomp builds the seccomp-BPF programs litebox installs (its own
// allowlist and the platforms' stub filters) from rules: a syscall number
// with optional conditions on its arguments, rules on the instruction
// pointer, and a default action. Every program starts with the same
// architecture check (x86-64 only, else the process is killed) and refuses
// x32 syscall numbers with the default action.
//
// golang.org/x/net/bpf is the assembler; jump offsets are computed here from
// labels, never counted by hand. Every jump is forward and local to one
// rule (each rule ends in its own return), so no offset can exceed the
// 255 a classic BPF conditional jump holds, however long the list.
package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Action is a seccomp return value (SECCOMP_RET_*).
type Action uint32

// The actions litebox's filters use. SECCOMP_RET_KILL_THREAD (whose value
// is 0) is deliberately absent: a killed thread leaves its process
// half-alive, and 0 marks an action left unset.
const (
	KillProcess Action = 0x80000000 // SECCOMP_RET_KILL_PROCESS
	Trap        Action = 0x00030000 // SECCOMP_RET_TRAP: SIGSYS, the call is skipped
	Allow       Action = 0x7fff0000 // SECCOMP_RET_ALLOW
)

// Errno is the action that fails the call with errno e (SECCOMP_RET_ERRNO).
func Errno(e unix.Errno) Action { return 0x00050000 | Action(e&0xffff) }

// AuditArchX86_64 is the only architecture a filter lets through.
const AuditArchX86_64 = 0xc000003e

// x32Bit marks x32 syscall numbers (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offIP   = 8
	offArgs = 16
)

// Cond is a condition on one 64-bit syscall argument: the argument, masked,
// equals one of Values. The whole 64-bit value is compared (both halves),
// so a value that differs only in its high word never passes.
type Cond struct {
	Arg    int      // 0..5
	Mask   uint64   // the bits compared
	Values []uint64 // accepted masked values (at least one)
}

// ArgEq holds when argument arg equals v.
func ArgEq(arg int, v uint64) Cond { return Cond{Arg: arg, Mask: ^uint64(0), Values: []uint64{v}} }

// ArgIn holds when argument arg equals one of vs.
func ArgIn(arg int, vs ...uint64) Cond { return Cond{Arg: arg, Mask: ^uint64(0), Values: vs} }

// ArgMaskedEq holds when argument arg, and-ed with mask, equals v.
func ArgMaskedEq(arg int, mask, v uint64) Cond {
	return Cond{Arg: arg, Mask: mask, Values: []uint64{v}}
}

// Rule is one syscall a filter lets through (or acts on).
type Rule struct {
	Name string // for listings: "mmap"
	Nr   uint32
	Why  string // who needs it, for listings and reviews
	// Args must all hold for Action; a call of this number whose arguments
	// fail gets the filter's Mismatch action.
	Args []Cond
	// Action is what a matching call gets; zero means Allow.
	Action Action
}

// PCRule acts on where a syscall was issued from, before its number is
// looked at: when the instruction pointer lies inside [Start, End) (or,
// with Outside, anywhere else), the call gets Action. The range may not
// cross a 4 GiB boundary (the pointer is compared in two 32-bit halves).
type PCRule struct {
	Start, End uint64
	Outside    bool
	Action     Action
}

// Filter is a whole program: the architecture check, the PC rules in
// order, the x32 check, the rules in order (put the hot syscalls first:
// each costs one comparison more than the one before it), then Default.
type Filter struct {
	PC       []PCRule
	Rules    []Rule
	Mismatch Action // a listed syscall whose argument conditions fail
	Default  Action // everything else, x32 numbers included
}

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

// Compile assembles the filter into the program the kernel loads.
func (f *Filter) Compile() ([]bpf.RawInstruction, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	var a asm
	// Architecture: anything but x86-64 dies (its numbers mean other calls).
	a.load(offArch)
	archOK := a.newLabel()
	a.jump(bpf.JumpEqual, AuditArchX86_64, archOK, fall)
	a.ret(KillProcess)
	a.bind(archOK)
	for _, r := range f.PC {
		a.pcRule(r)
	}
	a.load(offNr)
	notX32 := a.newLabel()
	a.jump(bpf.JumpBitsSet, x32Bit, fall, notX32)
	a.ret(f.Default)
	a.bind(notX32)
	// A holds the number at the start of every rule: only paths that end
	// in a return load anything else.
	for _, r := range f.Rules {
		next := a.newLabel()
		a.jump(bpf.JumpEqual, r.Nr, fall, next)
		if len(r.Args) > 0 {
			mismatch := a.newLabel()
			for _, c := range r.Args {
				a.cond(c, mismatch)
			}
			a.ret(actionOf(r))
			a.bind(mismatch)
			a.ret(f.Mismatch)
		} else {
			a.ret(actionOf(r))
		}
		a.bind(next)
	}
	a.ret(f.Default)
	raw, err := a.assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	if len(raw) > maxInsns {
		return nil, fmt.Errorf("seccomp: %d instructions, more than the kernel's %d", len(raw), maxInsns)
	}
	return raw, nil
}

// MustCompile is Compile for filters fixed at build time, where an error
// is a bug in the rule table.
func (f *Filter) MustCompile() []bpf.RawInstruction {
	raw, err := f.Compile()
	if err != nil {
		panic(err)
	}
	return raw
}

func actionOf(r Rule) Action {
	if r.Action == 0 {
		return Allow
	}
	return r.Action
}

// check rejects tables that would not mean what they say.
func (f *Filter) check() error {
	if f.Default == 0 {
		return fmt.Errorf("seccomp: no default action")
	}
	seen := map[uint32]string{}
	for _, r := range f.Rules {
		if r.Nr&x32Bit != 0 {
			return fmt.Errorf("seccomp: rule %s: number %#x has the x32 bit", r.Name, r.Nr)
		}
		if prev, ok := seen[r.Nr]; ok {
			// The second rule could never be reached.
			return fmt.Errorf("seccomp: syscall %d listed as %s and %s", r.Nr, prev, r.Name)
		}
		seen[r.Nr] = r.Name
		if len(r.Args) > 0 && f.Mismatch == 0 {
			return fmt.Errorf("seccomp: rule %s has argument conditions but the filter no mismatch action", r.Name)
		}
		for _, c := range r.Args {
			if c.Arg < 0 || c.Arg > 5 || len(c.Values) == 0 || c.Mask == 0 {
				return fmt.Errorf("seccomp: rule %s: bad condition %+v", r.Name, c)
			}
			for _, v := range c.Values {
				if v&^c.Mask != 0 {
					return fmt.Errorf("seccomp: rule %s: value %#x has bits outside mask %#x", r.Name, v, c.Mask)
				}
			}
		}
	}
	for _, r := range f.PC {
		if r.Start >= r.End || r.Start>>32 != (r.End-1)>>32 || r.Action == 0 {
			return fmt.Errorf("seccomp: bad instruction-pointer rule %#x-%#x", r.Start, r.End)
		}
	}
	return nil
}

// label names an instruction index; fall is the next instruction.
type label int

const fall label = -1

// asm collects instructions whose jumps name labels, resolved at the end.
type asm struct {
	ins    []bpf.Instruction
	jumps  []jumpRef
	labels []int // index of each bound label, -1 until bound
}

type jumpRef struct {
	at          int
	ifTrue, ifF label
}

func (a *asm) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

func (a *asm) bind(l label) { a.labels[l] = len(a.ins) }

func (a *asm) load(off uint32) { a.ins = append(a.ins, bpf.LoadAbsolute{Off: off, Size: 4}) }

func (a *asm) and(mask uint32) {
	a.ins = append(a.ins, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
}

func (a *asm) ret(act Action) { a.ins = append(a.ins, bpf.RetConstant{Val: uint32(act)}) }

func (a *asm) jump(cond bpf.JumpTest, val uint32, ifTrue, ifFalse label) {
	a.jumps = append(a.jumps, jumpRef{at: len(a.ins), ifTrue: ifTrue, ifF: ifFalse})
	a.ins = append(a.ins, bpf.JumpIf{Cond: cond, Val: val})
}

// jumpTo emits an unconditional jump to l.
func (a *asm) jumpTo(l label) {
	a.jumps = append(a.jumps, jumpRef{at: len(a.ins), ifTrue: l})
	a.ins = append(a.ins, bpf.Jump{})
}

// pcRule emits one instruction-pointer rule: the call gets r.Action when
// the pointer is (or, with Outside, is not) in [Start, End).
func (a *asm) pcRule(r PCRule) {
	out := a.newLabel()
	lo, hi := uint32(r.Start), uint32(r.End) // hi is 0 when End is a 4 GiB boundary
	a.load(offIP + 4)
	a.jump(bpf.JumpEqual, uint32(r.Start>>32), fall, out)
	a.load(offIP)
	if lo != 0 {
		a.jump(bpf.JumpGreaterOrEqual, lo, fall, out)
	}
	if hi != 0 {
		a.jump(bpf.JumpGreaterOrEqual, hi, out, fall)
	}
	// Inside the range.
	if !r.Outside {
		a.ret(r.Action)
		a.bind(out)
		return
	}
	done := a.newLabel()
	a.jumpTo(done)
	a.bind(out)
	a.ret(r.Action)
	a.bind(done)
}

// cond emits a check of one argument condition: on success control falls
// through, on failure it goes to mismatch.
func (a *asm) cond(c Cond, mismatch label) {
	ok := a.newLabel()
	mhi, mlo := uint32(c.Mask>>32), uint32(c.Mask)
	for i, v := range c.Values {
		next := mismatch
		if i < len(c.Values)-1 {
			next = a.newLabel()
		}
		if mhi != 0 {
			a.load(offArgs + 8*uint32(c.Arg) + 4)
			if mhi != ^uint32(0) {
				a.and(mhi)
			}
			a.jump(bpf.JumpEqual, uint32(v>>32), fall, next)
		}
		if mlo != 0 {
			a.load(offArgs + 8*uint32(c.Arg))
			if mlo != ^uint32(0) {
				a.and(mlo)
			}
			a.jump(bpf.JumpEqual, uint32(v), ok, next)
		} else {
			a.jumpTo(ok)
		}
		if next != mismatch {
			a.bind(next)
		}
	}
	a.bind(ok)
}

// assemble resolves the labels into skip counts and assembles.
func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(from int, l label) (uint32, error) {
		if l == fall {
			return 0, nil
		}
		to := a.labels[l]
		if to <= from {
			return 0, fmt.Errorf("jump at %d to unbound or backward label", from)
		}
		return uint32(to - from - 1), nil
	}
	for _, j := range a.jumps {
		t, err := skip(j.at, j.ifTrue)
		if err != nil {
			return nil, err
		}
		switch ins := a.ins[j.at].(type) {
		case bpf.Jump:
			ins.Skip = t
			a.ins[j.at] = ins
		case bpf.JumpIf:
			f, err := skip(j.at, j.ifF)
			if err != nil {
				return nil, err
			}
			if t > 255 || f > 255 {
				return nil, fmt.Errorf("jump at %d too long (%d, %d)", j.at, t, f)
			}
			ins.SkipTrue, ins.SkipFalse = uint8(t), uint8(f)
			a.ins[j.at] = ins
		}
	}
	return bpf.Assemble(a.ins)
}

// Data is a struct seccomp_data: what the kernel runs a filter on.
type Data struct {
	Nr   uint32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// Run executes prog on d in x/net/bpf's VM and returns the action, as the
// kernel would compute it: for tests and tools.
func Run(prog []bpf.RawInstruction, d Data) (Action, error) {
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		return 0, fmt.Errorf("seccomp: program does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		return 0, fmt.Errorf("seccomp: %w", err)
	}
	// The VM loads words in network byte order; the kernel reads seccomp_data
	// in host (little-endian) order: store each 32-bit field big-endian
	// where the kernel's layout puts it.
	b := make([]byte, 64)
	be := binary.BigEndian
	be.PutUint32(b[offNr:], d.Nr)
	be.PutUint32(b[offArch:], d.Arch)
	be.PutUint32(b[offIP:], uint32(d.IP))
	be.PutUint32(b[offIP+4:], uint32(d.IP>>32))
	for i, v := range d.Args {
		be.PutUint32(b[offArgs+8*i:], uint32(v))
		be.PutUint32(b[offArgs+8*i+4:], uint32(v>>32))
	}
	out, err := vm.Run(b)
	if err != nil {
		return 0, fmt.Errorf("seccomp: %w", err)
	}
	return Action(uint32(out)), nil
}

// Bytes encodes a program as struct sock_filter array, for a stub page.
func Bytes(prog []bpf.RawInstruction) []byte {
	b := make([]byte, 0, 8*len(prog))
	le := binary.LittleEndian
	for _, ins := range prog {
		b = le.AppendUint16(b, ins.Op)
		b = append(b, ins.Jt, ins.Jf)
		b = le.AppendUint32(b, ins.K)
	}
	return b
}

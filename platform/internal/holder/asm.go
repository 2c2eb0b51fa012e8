package holder

import (
	"encoding/binary"
	"fmt"
)

// asm is the few x86-64 instructions the holder's set-up needs: loading
// syscall arguments (constants or the addresses of data labels), the
// syscall, and a check of its result that jumps to "fail". References to
// labels are RIP-relative and resolved at the end.
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

// operand is a syscall argument: a constant or the address of a label.
type operand struct {
	v     uint64
	label string
}

func imm(v uint64) operand    { return operand{v: v} }
func ref(l string) operand    { return operand{label: l} }
func (a *asm) emit(b ...byte) { a.b = append(a.b, b...) }
func (a *asm) imm32(v uint32) { a.b = binary.LittleEndian.AppendUint32(a.b, v) }
func (a *asm) label(l string) { a.labels[l] = len(a.b) }

func (a *asm) u64(vs ...uint64) {
	for _, v := range vs {
		a.b = binary.LittleEndian.AppendUint64(a.b, v)
	}
}

func (a *asm) align(n int) {
	for len(a.b)%n != 0 {
		a.emit(0)
	}
}

// rel32 emits a 32-bit displacement to label, relative to the end of the
// instruction (which the field ends).
func (a *asm) rel32(label string) {
	a.fixups = append(a.fixups, fixup{at: len(a.b), label: label, end: len(a.b) + 4})
	a.imm32(0)
}

// Syscall argument registers in order: rdi, rsi, rdx, r10, r8, r9.
var argRegs = []byte{7, 6, 2, 10, 8, 9}

// set loads operand o into register r.
func (a *asm) set(r byte, o operand) {
	rex := byte(0)
	if r >= 8 {
		rex = 1
	}
	switch {
	case o.label != "": // lea r64, [rip + label]
		a.emit(0x48|rex<<2, 0x8d, 0x05|(r&7)<<3)
		a.rel32(o.label)
	case o.v == 0: // xor r32, r32
		if rex != 0 {
			a.emit(0x45)
		}
		a.emit(0x31, 0xc0|(r&7)<<3|r&7)
	case o.v <= 0xffffffff: // mov r32, imm32 (zero-extends)
		if rex != 0 {
			a.emit(0x41)
		}
		a.emit(0xb8 + r&7)
		a.imm32(uint32(o.v))
	default: // movabs r64, imm64
		a.emit(0x48|rex, 0xb8+r&7)
		a.u64(o.v)
	}
}

// A syscall's expected result.
type expect int

const (
	mustBeZero expect = iota
	mustBeArg0        // mmap: the fixed address asked for
)

// call issues syscall nr with args and jumps to "fail" unless the result
// is what want says.
func (a *asm) call(nr uint32, want expect, args ...operand) {
	for i, o := range args {
		a.set(argRegs[i], o)
	}
	a.emit(0xb8) // mov eax, nr
	a.imm32(nr)
	a.emit(0x0f, 0x05) // syscall
	if want == mustBeArg0 {
		a.emit(0x48, 0x39, 0xf8) // cmp rax, rdi
	} else {
		a.emit(0x48, 0x85, 0xc0) // test rax, rax
	}
	a.emit(0x0f, 0x85) // jnz/jne rel32 fail
	a.rel32("fail")
}

func (a *asm) resolve() error {
	for _, f := range a.fixups {
		at, ok := a.labels[f.label]
		if !ok {
			return fmt.Errorf("holder: no label %q", f.label) // a bug in Build
		}
		binary.LittleEndian.PutUint32(a.b[f.at:], uint32(int32(at-f.end)))
	}
	return nil
}

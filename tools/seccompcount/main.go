// Command seccompcount dumps the seccomp filter of a running process
// (PTRACE_SECCOMP_GET_FILTER; needs root) and counts the x86-64 syscall
// numbers for which some path through the filter returns ALLOW, treating
// syscall arguments and instruction pointers as unknown. It measures
// litebox's own allowlist and gVisor's Sentry side by side:
//
//	go run ./tools/seccompcount $(pgrep -f 'litebox run' | head -1)
//	go run ./tools/seccompcount $(pgrep -f runsc-sandbox | head -1)
//
// With -builtin it counts litebox's own filters as compiled from their
// rules (the allowlist and every registered platform's stub filters),
// without a running process:
//
//	go run ./tools/seccompcount -builtin
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/seccomp"
	_ "github.com/litebox-go/litebox/sandbox" // registers the platforms
	"github.com/litebox-go/litebox/sandbox/hostpolicy"
)

// ins is one classic BPF instruction as the kernel returns it.
type ins struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// val is a register or scratch value, known or not.
type val struct {
	known bool
	v     uint32
}

func main() {
	runtime.LockOSThread() // ptrace requests must come from one OS thread
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: seccompcount PID | -builtin")
		os.Exit(2)
	}
	if os.Args[1] == "-builtin" {
		if err := builtin(); err != nil {
			fmt.Fprintln(os.Stderr, "seccompcount:", err)
			os.Exit(1)
		}
		return
	}
	pid, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "seccompcount: bad pid %q\n", os.Args[1])
		os.Exit(2)
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, 0, 0, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "seccompcount: attaching to %d: %v\n", pid, e)
		os.Exit(1)
	}
	unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(pid), 0, 0, 0, 0)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, unix.WALL, nil)
	const PTRACE_SECCOMP_GET_FILTER = 0x420c
	buf := make([]ins, 65536)
	n, _, e := unix.Syscall6(unix.SYS_PTRACE, PTRACE_SECCOMP_GET_FILTER, uintptr(pid), 0, uintptr(unsafe.Pointer(&buf[0])), 0, 0)
	if e != 0 {
		fmt.Fprintf(os.Stderr, "seccompcount: reading the filter of %d: %v\n", pid, e)
		os.Exit(1)
	}
	prog := buf[:n]
	unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(pid), 0, 0, 0, 0)
	report("filter", prog)
}

// report prints how many syscall numbers have a path to ALLOW in prog.
func report(name string, prog []ins) {
	var names []int
	for nr := uint32(0); nr < 512; nr++ {
		if reach(prog, nr) {
			names = append(names, int(nr))
		}
	}
	fmt.Printf("%s: %d instructions; syscall numbers with a path to ALLOW: %d\n", name, len(prog), len(names))
	fmt.Println(names)
}

// builtin reports litebox's own filters, compiled from their rules.
func builtin() error {
	rules, err := hostpolicy.Rules()
	if err != nil {
		return err
	}
	netRules, err := hostpolicy.RulesFor(hostpolicy.Options{Egress: true, Publish: true})
	if err != nil {
		return err
	}
	filters := []struct {
		name string
		f    *seccomp.Filter
	}{
		{"litebox process", &seccomp.Filter{Rules: rules, Default: seccomp.Errno(unix.EPERM)}},
		{"litebox process with --net egress and -p", &seccomp.Filter{Rules: netRules,
			Mismatch: seccomp.Errno(unix.EPERM), Default: seccomp.Errno(unix.EPERM)}},
	}
	for _, p := range platform.Registered() {
		for _, sf := range p.StubFilters {
			filters = append(filters, struct {
				name string
				f    *seccomp.Filter
			}{sf.Title, sf.Filter})
		}
	}
	for _, f := range filters {
		raw, err := f.f.Compile()
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		report(f.name, fromRaw(raw))
	}
	return nil
}

func fromRaw(raw []bpf.RawInstruction) []ins {
	prog := make([]ins, len(raw))
	for i, r := range raw {
		prog[i] = ins{code: r.Op, jt: r.Jt, jf: r.Jf, k: r.K}
	}
	return prog
}

// reach explores every path (unknown argument values take both branches).
func reach(prog []ins, nr uint32) bool {
	type st struct {
		pc   int
		a, x val
		m    [16]val
	}
	var walk func(s st, depth int) bool
	walk = func(s st, depth int) bool {
		if depth > 4000 {
			return false
		}
		for s.pc < len(prog) {
			in := prog[s.pc]
			cls := in.code & 0x07
			switch cls {
			case 0x00: // LD
				mode := in.code & 0xe0
				if mode == 0x20 { // ABS
					switch in.k {
					case 0:
						s.a = val{true, nr}
					case 4:
						s.a = val{true, 0xc000003e}
					default:
						s.a = val{}
					}
				} else if mode == 0x00 { // IMM
					s.a = val{true, in.k}
				} else if mode == 0x60 { // MEM
					s.a = s.m[in.k&15]
				} else if mode == 0x80 { // LEN
					s.a = val{true, 64}
				} else {
					s.a = val{}
				}
			case 0x01: // LDX
				mode := in.code & 0xe0
				if mode == 0x00 {
					s.x = val{true, in.k}
				} else if mode == 0x60 {
					s.x = s.m[in.k&15]
				} else {
					s.x = val{}
				}
			case 0x02:
				s.m[in.k&15] = s.a
			case 0x03:
				s.m[in.k&15] = s.x
			case 0x04: // ALU
				src := val{true, in.k}
				if in.code&0x08 != 0 {
					src = s.x
				}
				if !s.a.known || !src.known {
					s.a = val{}
				} else {
					a, b := s.a.v, src.v
					switch in.code & 0xf0 {
					case 0x00:
						a += b
					case 0x10:
						a -= b
					case 0x20:
						a *= b
					case 0x30:
						if b != 0 {
							a /= b
						}
					case 0x40:
						a |= b
					case 0x50:
						a &= b
					case 0x60:
						a <<= b
					case 0x70:
						a >>= b
					case 0x80:
						a = -a
					case 0xa0:
						a ^= b
					}
					s.a = val{true, a}
				}
			case 0x05: // JMP
				op := in.code & 0xf0
				if op == 0x00 {
					s.pc += int(in.k) + 1
					continue
				}
				src := val{true, in.k}
				if in.code&0x08 != 0 {
					src = s.x
				}
				if !s.a.known || !src.known {
					t := s
					t.pc += int(in.jt) + 1
					if walk(t, depth+1) {
						return true
					}
					s.pc += int(in.jf) + 1
					continue
				}
				var c bool
				switch op {
				case 0x10:
					c = s.a.v == src.v
				case 0x20:
					c = s.a.v > src.v
				case 0x30:
					c = s.a.v >= src.v
				case 0x40:
					c = s.a.v&src.v != 0
				}
				if c {
					s.pc += int(in.jt) + 1
				} else {
					s.pc += int(in.jf) + 1
				}
				continue
			case 0x06: // RET
				k := in.k
				if in.code&0x18 == 0x10 && s.a.known {
					k = s.a.v
				}
				return k&0xffff0000 == 0x7fff0000 // SECCOMP_RET_ALLOW
			case 0x07: // MISC
				if in.code&0xf8 == 0x00 {
					s.x = s.a
				} else {
					s.a = s.x
				}
			}
			s.pc++
		}
		return false
	}
	return walk(struct {
		pc   int
		a, x val
		m    [16]val
	}{}, 0)
}

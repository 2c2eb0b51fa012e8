package vdso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loadedImage is the vDSO image mapped in the test's own memory below a
// data page the test writes, as a guest maps it.
type loadedImage struct {
	mem    []byte // the data page, then the image
	getcpu uintptr
}

func loadImage(t *testing.T) *loadedImage {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var off uint64
	for _, s := range syms {
		if s.Name == "__vdso_getcpu" {
			off = s.Value
		}
	}
	if off == 0 {
		t.Fatal("no __vdso_getcpu")
	}
	size := int(pageSize + imageSize())
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	copy(mem[pageSize:], image)
	if err := unix.Mprotect(mem[pageSize:], unix.PROT_READ|unix.PROT_EXEC); err != nil {
		t.Fatal(err)
	}
	return &loadedImage{mem: mem, getcpu: uintptr(unsafe.Pointer(&mem[pageSize])) + uintptr(off)}
}

// set writes the data page's getcpu fields: the word, and the table
// mapping host CPU i to base+i (base 0xffff: every entry unmapped).
func (l *loadedImage) set(word uint64, base int) {
	binary.LittleEndian.PutUint64(l.mem[vvCPU:], word)
	for i := range cpuMapLen {
		v := uint16(cpuUnmapped)
		if base != cpuUnmapped {
			v = uint16(base + i)
		}
		binary.LittleEndian.PutUint16(l.mem[vvCPUMap+2*i:], v)
	}
}

// call runs __vdso_getcpu with both pointers (or NULL ones) and returns
// its result and the host CPU before and after (the thread is locked, yet
// the host may move it).
func (l *loadedImage) call(null bool) (ret uintptr, cpu, node, before, after uint32) {
	cpu, node = 0xdead, 0xdead
	before, _ = hostGetcpu()
	if null {
		ret = callVDSO3(l.getcpu, 0, 0, 0)
	} else {
		ret = callVDSO3(l.getcpu, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	}
	after, _ = hostGetcpu()
	return
}

// TestVDSOGetcpuCode runs the image's __vdso_getcpu on this CPU with each
// method the CPU has: the answer is the table's entry for the host CPU
// (a table of 500+i tells it from the syscall's answer), on node 0, NULL
// pointers allowed; no method, the restricted bit, an unmapped entry and
// an unknown method make the syscall (the host's getcpu here: the raw CPU
// number).
func TestVDSOGetcpuCode(t *testing.T) {
	l := loadImage(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ecx7, edx81 := cpuidFeatures()
	const base = 500
	type want int
	const (
		table want = iota
		syscall
	)
	cases := []struct {
		name string
		word uint64
		base int
		want want
		have bool // the CPU can run the case
	}{
		{"RDPID", cpuRDPID, base, table, ecx7&cpuidRDPID != 0},
		{"RDTSCP", cpuRDTSCP, base, table, edx81&cpuidRDTSCP != 0},
		{"no method", cpuSyscall, base, syscall, true},
		{"unknown method", 7, base, syscall, true},
		{"RDPID restricted", cpuRDPID | cpuRestricted, base, syscall, true},
		{"RDTSCP restricted", cpuRDTSCP | cpuRestricted, base, syscall, true},
		{"RDPID unmapped", cpuRDPID, cpuUnmapped, syscall, ecx7&cpuidRDPID != 0},
		{"RDTSCP unmapped", cpuRDTSCP, cpuUnmapped, syscall, edx81&cpuidRDTSCP != 0},
	}
	for _, tc := range cases {
		if !tc.have {
			t.Logf("%s: not on this CPU", tc.name)
			continue
		}
		l.set(tc.word, tc.base)
		checked := 0
		for range 20 {
			ret, cpu, node, before, after := l.call(false)
			if before != after {
				continue // moved meanwhile
			}
			checked++
			w := before
			if tc.want == table {
				w += base
			}
			if ret != 0 || cpu != w || node != 0 {
				t.Errorf("%s: getcpu = %d, cpu %d, node %d; want 0, cpu %d, node 0 (host CPU %d)", tc.name, ret, cpu, node, w, before)
			}
			if ret, _, _, _, _ := l.call(true); ret != 0 {
				t.Errorf("%s: getcpu(NULL, NULL) = %d, want 0", tc.name, ret)
			}
		}
		if checked == 0 {
			t.Errorf("%s: the thread moved during every call", tc.name)
		}
	}
}

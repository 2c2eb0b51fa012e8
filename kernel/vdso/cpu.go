package vdso

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The data page's getcpu fields (vdso.S has the same numbers).
//
// The guest's CPUs 0..n-1 are the host CPUs of litebox's own affinity mask
// in ascending order (n is runtime.NumCPU, which kernel.NumCPU reports).
// __vdso_getcpu reads the host CPU it runs on (RDPID, or RDTSCP's TSC_AUX:
// Linux sets TSC_AUX to node<<12 | cpu on x86-64) and maps it through
// vvCPUMap; whatever it cannot answer that way (no usable instruction, a
// host CPU outside the table, a sandbox with a restricted affinity mask)
// it asks the kernel with the syscall.
const (
	vvCPU     = 48   // the method (cpuSyscall, cpuRDTSCP, cpuRDPID) | cpuRestricted
	vvCPUMap  = 2048 // cpuMapLen little-endian uint16: host CPU -> guest CPU, cpuUnmapped for none
	cpuMapLen = 1024 // host CPU ids past it make the syscall (the map fills the page's second half)

	cpuSyscall  = 0 // __vdso_getcpu always makes the syscall
	cpuRDTSCP   = 1 // it reads TSC_AUX with RDTSCP
	cpuRDPID    = 2 // it reads TSC_AUX with RDPID
	cpuMethod   = 0xff
	cpuUnmapped = 0xffff

	// cpuRestricted: some thread of the sandbox has had an affinity mask
	// other than every CPU. The guest's sched_setaffinity is bookkeeping
	// only (litebox never pins host threads), so a pinned guest thread
	// still runs on any host CPU; the host CPU could be one outside its
	// mask, which no Linux answers. With the bit set the vDSO makes the
	// syscall, whose answer comes from the calling thread's mask. The
	// vDSO cannot tell which thread calls it (the page is the sandbox's),
	// hence one bit for the sandbox; it is never cleared (see
	// Clock.RestrictCPUs).
	cpuRestricted = 1 << 8

	tscAuxCPUBits = 12 // TSC_AUX's low bits are the CPU, the rest the node
)

// cpuMap is the host CPU -> guest CPU table of the data page.
type cpuMap [cpuMapLen]uint16

// buildCPUMap numbers the host CPUs of mask (litebox's affinity mask) in
// ascending order. It reports false, and the vDSO then always makes the
// syscall, when the mask does not have exactly n CPUs (the guest's count,
// taken when litebox started: the mask changed since) or has a CPU the
// table cannot hold, so that every answer the table gives is below n.
func buildCPUMap(mask *unix.CPUSet, n int) (cpuMap, bool) {
	var m cpuMap
	for i := range m {
		m[i] = cpuUnmapped
	}
	if n <= 0 || n > cpuUnmapped || mask.Count() != n {
		return m, false
	}
	next := 0
	for cpu := range cpuMapLen {
		if mask.IsSet(cpu) {
			m[cpu] = uint16(next)
			next++
		}
	}
	return m, next == n
}

// cpuSetup is what every sandbox's data page gets: the table and the
// method, found once per litebox process.
type cpuSetup struct {
	table  cpuMap
	method uint64
}

var hostCPUSetup = sync.OnceValue(func() cpuSetup {
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mask); err != nil {
		return cpuSetup{method: cpuSyscall}
	}
	table, ok := buildCPUMap(&mask, runtime.NumCPU())
	if !ok {
		return cpuSetup{table: table, method: cpuSyscall}
	}
	flags := cpuinfoFlags()
	ecx7, edx81 := cpuidFeatures()
	return cpuSetup{table: table, method: checkMethod(pickMethod(ecx7, edx81, flags), &table)}
})

// CPUID feature bits: RDPID is leaf 7 (subleaf 0) ECX bit 22, RDTSCP leaf
// 0x80000001 EDX bit 27.
const (
	cpuidRDPID  = 1 << 22
	cpuidRDTSCP = 1 << 27
)

// pickMethod chooses the instruction the vDSO may use: one the CPU has
// (CPUID, so that it cannot fault) and the host kernel reports (its
// /proc/cpuinfo flag: a feature the kernel disabled may have no TSC_AUX
// programmed). RDPID first: it reads only TSC_AUX, not the TSC as well.
func pickMethod(ecx7, edx81 uint32, flags map[string]bool) uint64 {
	switch {
	case ecx7&cpuidRDPID != 0 && flags["rdpid"]:
		return cpuRDPID
	case edx81&cpuidRDTSCP != 0 && flags["rdtscp"]:
		return cpuRDTSCP
	}
	return cpuSyscall
}

// checkMethod confirms that method reads the CPU the host kernel says
// litebox runs on (TSC_AUX is the kernel's to program; a hypervisor or an
// unusual kernel may leave something else there): cpuSyscall otherwise.
// The thread may move between the reads, so a few tries are allowed.
func checkMethod(method uint64, table *cpuMap) uint64 {
	if method == cpuSyscall {
		return cpuSyscall
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for range 5 {
		before, err1 := hostGetcpu()
		aux := readTSCAux(method)
		after, err2 := hostGetcpu()
		if err1 != nil || err2 != nil {
			return cpuSyscall
		}
		if before != after {
			continue // migrated meanwhile: try again
		}
		cpu := aux & (1<<tscAuxCPUBits - 1)
		if cpu == before && cpu < cpuMapLen && table[cpu] != cpuUnmapped {
			return method
		}
		return cpuSyscall
	}
	return cpuSyscall
}

// hostGetcpu is the host kernel's getcpu for litebox's own thread.
func hostGetcpu() (uint32, error) {
	var cpu uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); e != 0 {
		return 0, e
	}
	return cpu, nil
}

func readTSCAux(method uint64) uint32 {
	if method == cpuRDPID {
		return uint32(rdpid())
	}
	return rdtscpAux()
}

// cpuinfoFlags returns the flags of /proc/cpuinfo's first CPU.
func cpuinfoFlags() map[string]bool {
	flags := map[string]bool{}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return flags
	}
	i := bytes.Index(b, []byte("\nflags\t"))
	if i < 0 {
		return flags
	}
	line := b[i+1:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	for _, f := range bytes.Fields(line) {
		flags[string(f)] = true
	}
	return flags
}

// writeCPU writes the table and then the flag word into the page; c.mu is
// held. The table is written before the page is mapped anywhere.
func (c *Clock) writeCPU(s cpuSetup) {
	for i, v := range s.table {
		binary.LittleEndian.PutUint16(c.page[vvCPUMap+2*i:], v)
	}
	flag := s.method
	if c.cpuRestricted {
		flag |= cpuRestricted
	}
	c.word(vvCPU).Store(flag)
}

// RestrictCPUs records that a thread of the sandbox has an affinity mask
// other than every CPU: from now on __vdso_getcpu makes the syscall, which
// answers from the calling thread's mask. It is one-way: clearing it again
// would need a count of the restricted threads kept right across clone,
// exec and exit, for a speed-up only programs that pin and then unpin
// every thread would see; a pinned program pays a trap per getcpu, the
// price it paid before the vDSO answered it.
func (c *Clock) RestrictCPUs() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cpuRestricted {
		return
	}
	c.cpuRestricted = true
	if c.page != nil {
		c.word(vvCPU).Or(cpuRestricted)
	}
}

// In tsc_amd64.s.
func rdpid() uint64
func rdtscpAux() uint32
func cpuidFeatures() (ecx7, edx81 uint32)

// callVDSO3 calls the vDSO code at fn with three arguments; the tests run
// the image's entries with it.
func callVDSO3(fn, a, b, c uintptr) uintptr

// CPUsRestricted reports whether RestrictCPUs was called.
func (c *Clock) CPUsRestricted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cpuRestricted
}

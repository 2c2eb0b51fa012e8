package vdso

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

func cpuSet(cpus ...int) *unix.CPUSet {
	var s unix.CPUSet
	for _, c := range cpus {
		s.Set(c)
	}
	return &s
}

// TestBuildCPUMap: the mask's CPUs numbered in ascending order, the others
// unmapped, and no table when the mask does not have the guest's n CPUs.
func TestBuildCPUMap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mask   *unix.CPUSet
		n      int
		ok     bool
		mapped map[int]uint16 // host CPU -> guest CPU; every other entry unmapped
	}{
		{"all of two", cpuSet(0, 1), 2, true, map[int]uint16{0: 0, 1: 1}},
		{"a sparse mask", cpuSet(2, 5, 7), 3, true, map[int]uint16{2: 0, 5: 1, 7: 2}},
		{"the table's last CPU", cpuSet(3, cpuMapLen-1), 2, true, map[int]uint16{3: 0, cpuMapLen - 1: 1}},
		{"more CPUs than the guest has", cpuSet(0, 1, 2), 2, false, nil},
		{"fewer CPUs than the guest has", cpuSet(0), 2, false, nil},
		{"no CPU", cpuSet(), 0, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := buildCPUMap(tc.mask, tc.n)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			for cpu, guest := range m {
				want, in := tc.mapped[cpu]
				if !in {
					want = cpuUnmapped
				}
				if guest != want {
					t.Errorf("host CPU %d -> %#x, want %#x", cpu, guest, want)
				}
				if guest != cpuUnmapped && int(guest) >= tc.n {
					t.Errorf("host CPU %d -> guest CPU %d, not below %d", cpu, guest, tc.n)
				}
			}
		})
	}
}

// TestPickMethod: an instruction only when CPUID and the host kernel both
// have it, RDPID before RDTSCP.
func TestPickMethod(t *testing.T) {
	both := map[string]bool{"rdpid": true, "rdtscp": true}
	for _, tc := range []struct {
		name        string
		ecx7, edx81 uint32
		flags       map[string]bool
		want        uint64
	}{
		{"both", cpuidRDPID, cpuidRDTSCP, both, cpuRDPID},
		{"RDTSCP only", 0, cpuidRDTSCP, both, cpuRDTSCP},
		{"RDPID disabled by the kernel", cpuidRDPID, cpuidRDTSCP, map[string]bool{"rdtscp": true}, cpuRDTSCP},
		{"neither in CPUID", 0, 0, both, cpuSyscall},
		{"neither in cpuinfo", cpuidRDPID, cpuidRDTSCP, map[string]bool{}, cpuSyscall},
		{"other bits", ^uint32(cpuidRDPID), ^uint32(cpuidRDTSCP), both, cpuSyscall},
	} {
		if got := pickMethod(tc.ecx7, tc.edx81, tc.flags); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestHostCPUSetup: on this host the method chosen reads the CPU the
// kernel says litebox runs on, through the table, below NumCPU.
func TestHostCPUSetup(t *testing.T) {
	s := hostCPUSetup()
	if s.method == cpuSyscall {
		t.Skip("no RDPID or RDTSCP the vDSO may use here: getcpu is the syscall")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for range 100 {
		before, err := hostGetcpu()
		if err != nil {
			t.Fatal(err)
		}
		aux := readTSCAux(s.method) & (1<<tscAuxCPUBits - 1)
		after, _ := hostGetcpu()
		if before != after {
			continue
		}
		if aux != before {
			t.Fatalf("TSC_AUX CPU %d, getcpu %d", aux, before)
		}
		if g := s.table[aux]; g == cpuUnmapped || int(g) >= runtime.NumCPU() {
			t.Fatalf("host CPU %d -> guest CPU %#x, want one below %d", aux, g, runtime.NumCPU())
		}
	}
}

// TestDataPageCPU: the page gets the table and the method, and
// RestrictCPUs sets the restricted bit, whether it comes before the page
// exists or after, keeping the method.
func TestDataPageCPU(t *testing.T) {
	newPage := func(c *Clock) *fakeMemory {
		page, _ := newFake(pageSize)
		if _, err := c.dataPage(func(uint64) (platform.Memory, error) { return page, nil }); err != nil {
			t.Fatal(err)
		}
		return page
	}
	s := hostCPUSetup()
	c := NewClock(time.Now())
	defer c.Stop()
	page := newPage(c)
	for i, want := range s.table {
		if got := binary.LittleEndian.Uint16(page.b[vvCPUMap+2*i:]); got != want {
			t.Fatalf("page's map: host CPU %d -> %#x, want %#x", i, got, want)
		}
	}
	if got := c.pageWord(vvCPU); got != s.method {
		t.Errorf("page's cpu word %#x, want the method %d", got, s.method)
	}
	if c.CPUsRestricted() {
		t.Error("restricted before RestrictCPUs")
	}
	c.RestrictCPUs()
	c.RestrictCPUs()
	if got := c.pageWord(vvCPU); got != s.method|cpuRestricted || !c.CPUsRestricted() {
		t.Errorf("after RestrictCPUs: cpu word %#x (restricted %v), want %#x", got, c.CPUsRestricted(), s.method|cpuRestricted)
	}

	early := NewClock(time.Now())
	defer early.Stop()
	early.RestrictCPUs()
	newPage(early)
	if got := early.pageWord(vvCPU); got != s.method|cpuRestricted {
		t.Errorf("RestrictCPUs before the page: cpu word %#x, want %#x", got, s.method|cpuRestricted)
	}
}

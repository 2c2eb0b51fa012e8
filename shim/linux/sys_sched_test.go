package linux

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// TestGetcpuFollowsAffinity: the getcpu syscall answers the one CPU a
// thread is pinned to, for each CPU, and a CPU of the mask below NumCPU
// for the full mask again; a full mask leaves the vDSO's getcpu alone, and
// the first restricted one turns it into the syscall for the sandbox.
func TestGetcpuFollowsAffinity(t *testing.T) {
	const buf, out = memBase + 0x100, memBase + 0x200
	task, mem := newProcTask(t, nil)
	clock := task.Proc.Kernel().Clock()
	n := kernel.NumCPU()
	size := uint64(cpuMaskBytes())
	full := make([]byte, size)
	for i := range n {
		full[i/8] |= 1 << (i % 8)
	}
	getcpu := func() uint32 {
		t.Helper()
		mem.poke(t, out, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		if rax := syscall(t, task, unix.SYS_GETCPU, out, out+4, 0); rax != 0 {
			t.Fatalf("getcpu = %#x", rax)
		}
		b := mem.peek(t, out, 8)
		if node := binary.LittleEndian.Uint32(b[4:]); node != 0 {
			t.Errorf("node %d, want 0", node)
		}
		return binary.LittleEndian.Uint32(b)
	}
	mem.poke(t, buf, full)
	if rax := syscall(t, task, unix.SYS_SCHED_SETAFFINITY, 0, size, buf); rax != 0 {
		t.Fatalf("sched_setaffinity(every CPU) = %#x", rax)
	}
	if clock.CPUsRestricted() {
		t.Error("the full mask restricted the vDSO's getcpu")
	}
	for c := range n {
		one := make([]byte, size)
		one[c/8] = 1 << (c % 8)
		mem.poke(t, buf, one)
		if rax := syscall(t, task, unix.SYS_SCHED_SETAFFINITY, 0, size, buf); rax != 0 {
			t.Fatalf("sched_setaffinity(CPU %d) = %#x", c, rax)
		}
		if got := getcpu(); got != uint32(c) {
			t.Errorf("pinned to CPU %d: getcpu says %d", c, got)
		}
		if n > 1 && !clock.CPUsRestricted() {
			t.Errorf("pinned to CPU %d: the vDSO's getcpu is not restricted", c)
		}
	}
	mem.poke(t, buf, full)
	if rax := syscall(t, task, unix.SYS_SCHED_SETAFFINITY, 0, size, buf); rax != 0 {
		t.Fatalf("sched_setaffinity(every CPU) = %#x", rax)
	}
	if got := getcpu(); got >= uint32(n) {
		t.Errorf("full mask: getcpu says %d, want one below %d", got, n)
	}
}

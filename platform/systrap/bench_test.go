package systrap

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkHostcall measures one memory operation on a stub (mprotect of
// one page), the unit of every guest mmap/mprotect/munmap.
func BenchmarkHostcall(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		b.Fatal(err)
	}
	defer as.Release()
	if err := as.Map(0x30000000, 0x1000, unix.PROT_READ); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := as.Protect(0x30000000, 0x1000, unix.PROT_READ|(i&1)*unix.PROT_WRITE); err != nil {
			b.Fatal(err)
		}
	}
}

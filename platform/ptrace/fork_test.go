package ptrace

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// onLockedThread runs fn on a fresh goroutine locked to its own OS thread,
// as each guest thread's driver is.
func onLockedThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		fn()
	}()
	<-done
}

func TestForkIsCopyOnWrite(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	main, err := as.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	if err := main.Bind(); err != nil {
		t.Fatal(err)
	}
	const addr = 0x20000000
	if err := as.Map(addr, 0x1000, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	if _, err := as.CopyOut(addr, []byte("before")); err != nil {
		t.Fatal(err)
	}
	child, err := as.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if _, err := as.CopyOut(addr, []byte("parent")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := child.CopyIn(addr, buf); err != nil || string(buf) != "before" {
		t.Fatalf("child sees %q, %v; want the pre-fork %q", buf, err, "before")
	}
	// The child's thread is driven by another OS thread, which must be
	// able to seize it and inject into it.
	onLockedThread(func() {
		th, err := child.NewThread()
		if err != nil {
			t.Error(err)
			return
		}
		if err := th.Bind(); err != nil {
			t.Error(err)
			return
		}
		if err := child.Map(addr+0x1000, 0x1000, unix.PROT_READ|unix.PROT_WRITE); err != nil {
			t.Errorf("Map in the child from its own driver: %v", err)
		}
		if _, err := child.CopyOut(addr, []byte("child!")); err != nil {
			t.Error(err)
		}
		child.Release()
	})
	if _, err := as.CopyIn(addr, buf); err != nil || string(buf) != "parent" {
		t.Fatalf("parent sees %q, %v after the child wrote; want %q", buf, err, "parent")
	}
}

// TestGuestThreads runs code in a second stub thread: a tiny guest loop
// that issues getpid through the syscall instruction, and checks that
// Switch reports the syscall from that thread and Interrupt stops a spin.
func TestGuestThreads(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	main, _ := as.NewThread()
	if err := main.Bind(); err != nil {
		t.Fatal(err)
	}
	const code = 0x30000000
	if err := as.Map(code, 0x1000, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC); err != nil {
		t.Fatal(err)
	}
	// 0: mov eax, 39; syscall; jmp $ (spin)
	prog := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe}
	if _, err := as.CopyOut(code, prog); err != nil {
		t.Fatal(err)
	}
	second, err := as.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	onLockedThread(func() {
		if err := second.Bind(); err != nil {
			t.Error(err)
			return
		}
		regs := platform.Regs{Rip: code}
		ev, err := second.Switch(&regs)
		if err != nil || ev.Kind != platform.EventSyscall || regs.Orig_rax != 39 {
			t.Errorf("Switch = %+v, %v, orig_rax %d; want the getpid syscall", ev, err, regs.Orig_rax)
			return
		}
		go second.Interrupt()
		ev, err = second.Switch(&regs)
		if err != nil || ev.Kind != platform.EventInterrupt {
			t.Errorf("Switch after Interrupt = %+v, %v; want EventInterrupt", ev, err)
		}
		second.Exit()
	})
}

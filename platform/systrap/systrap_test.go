package systrap

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/systrap/internal/stubgen"
)

// TestStubIsGenerated reassembles stub.S and compares with the committed
// stub_amd64.go, so the machine code always matches its source.
func TestStubIsGenerated(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("LITEBOX_REQUIRE_ALL") == "1" {
			t.Fatal("gcc is needed to reassemble stub.S")
		}
		t.Skip("gcc not installed")
	}
	want, err := stubgen.Generate("stub.S")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("stub_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("stub_amd64.go does not match stub.S: run go generate ./platform/systrap")
	}
}

// TestGuestLoop runs a tiny guest that issues getpid, then faults, and
// checks both come back as events with the right registers, then forks.
func TestGuestLoop(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	th, err := as.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Bind(); err != nil {
		t.Fatal(err)
	}
	const code = 0x30000000
	if err := as.Map(code, 0x1000, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC); err != nil {
		t.Fatal(err)
	}
	// mov eax, 39; syscall; mov eax, [0]; (fault)
	prog := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x8b, 0x04, 0x25, 0, 0, 0, 0}
	if _, err := as.CopyOut(code, prog); err != nil {
		t.Fatal(err)
	}
	regs := platform.Regs{Rip: code, Rbx: 0x1234}
	ev, err := th.Switch(&regs)
	if err != nil || ev.Kind != platform.EventSyscall || regs.Orig_rax != 39 || regs.Rip != code+7 || regs.Rbx != 0x1234 {
		t.Fatalf("first trap: %+v, %v, orig_rax %d rip %#x rbx %#x", ev, err, regs.Orig_rax, regs.Rip, regs.Rbx)
	}
	regs.Rax = 777
	ev, err = th.Switch(&regs)
	if err != nil || ev.Kind != platform.EventFault || ev.Signal != unix.SIGSEGV || regs.Rax != 777 {
		t.Fatalf("second trap: %+v, %v, rax %d; want SIGSEGV with rax 777", ev, err, regs.Rax)
	}
	// Fork: the child sees the parent's memory as of now.
	if _, err := as.CopyOut(code+0x800, []byte("before")); err != nil {
		t.Fatal(err)
	}
	child, err := as.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if _, err := as.CopyOut(code+0x800, []byte("parent")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := child.CopyIn(code+0x800, buf); err != nil || string(buf) != "before" {
		t.Fatalf("child memory %q, %v; want the pre-fork bytes", buf, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		cth, err := child.NewThread()
		if err != nil {
			t.Error(err)
			return
		}
		_ = cth.Bind()
		cregs := platform.Regs{Rip: code}
		ev, err := cth.Switch(&cregs)
		if err != nil || ev.Kind != platform.EventSyscall || cregs.Orig_rax != 39 {
			t.Errorf("child trap: %+v, %v", ev, err)
		}
	}()
	<-done
	// A second thread in the parent.
	th2, err := as.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	done2 := make(chan struct{})
	go func() {
		defer close(done2)
		runtime.LockOSThread()
		_ = th2.Bind()
		r := platform.Regs{Rip: code}
		ev, err := th2.Switch(&r)
		if err != nil || ev.Kind != platform.EventSyscall || r.Orig_rax != 39 {
			t.Errorf("thread trap: %+v, %v", ev, err)
		}
		th2.Exit()
	}()
	<-done2
}

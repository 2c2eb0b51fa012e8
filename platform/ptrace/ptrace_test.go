package ptrace

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/internal/hostops"
)

// TestStubOwnsOnlyItsPage checks that after start-up the stub has dropped
// its stack, vdso and vvar: the guest starts from an empty address space.
func TestStubOwnsOnlyItsPage(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	s := as.(*stub)
	maps, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(maps)), "\n")
	var user []string
	for _, l := range lines {
		if !strings.Contains(l, "[vsyscall]") {
			user = append(user, l)
		}
	}
	// The stub page, and the shared-memory pool, inaccessible (---s)
	// until pieces of it are mapped for the guest.
	if len(user) != 2 || !strings.HasPrefix(user[0], "7ff000000000-7ff000001000 r-xp") ||
		!strings.HasPrefix(user[1], "7ff100000000-7ff200000000 ---s") {
		t.Fatalf("stub maps = %q, want only the stub page and the PROT_NONE pool", user)
	}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(s.pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	// Only the page cache, read-only: the stub can map it MAP_PRIVATE
	// and nothing else.
	if len(fds) != 1 || fds[0].Name() != strconv.Itoa(hostops.CacheFD) {
		t.Fatalf("stub fds = %v, want only %d (the page cache)", fds, hostops.CacheFD)
	}
	dir := "/proc/" + strconv.Itoa(s.pid)
	if target, err := os.Readlink(dir + "/fd/7"); err != nil || !strings.Contains(target, "litebox-pagecache") {
		t.Fatalf("fd 7 is %q (%v), want the page cache memfd", target, err)
	}
	info, err := os.ReadFile(dir + "/fdinfo/7")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(info), "\n") {
		if f, ok := strings.CutPrefix(l, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(f), 8, 32)
			if err != nil || flags&unix.O_ACCMODE != unix.O_RDONLY {
				t.Fatalf("page cache fd flags %q, want read-only", f)
			}
		}
	}
}

func TestMapCopyProtect(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	const addr = 0x10000000
	if err := as.Map(addr, 0x2000, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	if n, err := as.CopyOut(addr+0xff0, []byte("hello, guest memory")); err != nil || n != 19 {
		t.Fatalf("CopyOut = %d, %v", n, err)
	}
	buf := make([]byte, 19)
	if n, err := as.CopyIn(addr+0xff0, buf); err != nil || n != 19 || string(buf) != "hello, guest memory" {
		t.Fatalf("CopyIn = %d, %v, %q", n, err, buf)
	}
	if err := as.Protect(addr, 0x1000, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if _, err := as.CopyOut(addr, []byte("x")); err != unix.EFAULT {
		t.Fatalf("CopyOut to read-only page: err = %v, want EFAULT", err)
	}
	if _, err := as.CopyIn(addr+0x2000, buf[:1]); err != unix.EFAULT {
		t.Fatalf("CopyIn from unmapped page: err = %v, want EFAULT", err)
	}
	for _, tc := range []struct {
		name       string
		addr, size uint64
	}{
		{"stub page", stubBase, 0x1000},
		{"overlapping stub", stubBase - 0x1000, 0x2000},
		{"page zero", 0, 0x1000},
		{"unaligned", addr + 1, 0x1000},
		{"beyond user space", 0x7ffffffff000, 0x2000},
	} {
		if err := as.Map(tc.addr, tc.size, unix.PROT_READ); err != unix.EINVAL {
			t.Errorf("Map(%s) err = %v, want EINVAL", tc.name, err)
		}
	}
}

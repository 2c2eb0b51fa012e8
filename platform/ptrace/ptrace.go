// Package ptrace is the portable South: each guest address space is a stub
// process traced with PTRACE_SYSEMU, so every guest syscall stops the stub
// before the host runs it. The few host operations the platform needs
// (mmap, munmap, mprotect, mremap, madvise) are injected at the stub's own
// syscall instruction.
package ptrace

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
)

// Platform is the ptrace South.
type Platform struct{}

// New returns the ptrace platform.
func New() *Platform { return &Platform{} }

// Name implements platform.Platform.
func (*Platform) Name() string { return "ptrace" }

var (
	stubOnce   sync.Once
	stubImage  []byte
	injectAddr uint64
)

// NewAddressSpace starts a stub process. The caller's goroutine must be
// locked to its OS thread and stay so for the life of the address space.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	stubOnce.Do(func() { stubImage, injectAddr = stubELF() })
	fd, err := unix.MemfdCreate("litebox-stub", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("ptrace: memfd for stub: %w", err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, stubImage); err != nil {
		return nil, fmt.Errorf("ptrace: writing stub: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return nil, fmt.Errorf("ptrace: sealing stub: %w", err)
	}
	pid, err := syscall.ForkExec(fmt.Sprintf("/proc/self/fd/%d", fd), []string{"litebox-stub"}, &syscall.ProcAttr{
		Env: []string{},
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Setpgid:   true, // terminal signals go to litebox, which decides
			Pdeathsig: syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("ptrace: starting stub: %w", err)
	}
	s := &stub{pid: pid}
	if err := s.start(); err != nil {
		s.Release()
		return nil, err
	}
	return s, nil
}

// stub is one traced stub process: an address space and, for now, its one
// thread.
type stub struct {
	pid        int
	base       platform.Regs // registers at the ready int3, used for injection
	threadUsed bool
	dead       bool
}

func (s *stub) start() error {
	if _, err := s.waitStop(); err != nil { // the exec SIGTRAP
		return fmt.Errorf("ptrace: stub exec: %w", err)
	}
	if err := unix.PtraceSetOptions(s.pid, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		return fmt.Errorf("ptrace: set options: %w", err)
	}
	if err := unix.PtraceCont(s.pid, 0); err != nil {
		return fmt.Errorf("ptrace: cont stub: %w", err)
	}
	sig, err := s.waitStop()
	if err != nil {
		return fmt.Errorf("ptrace: stub start-up: %w", err)
	}
	if err := unix.PtraceGetRegs(s.pid, &s.base); err != nil {
		return fmt.Errorf("ptrace: stub regs: %w", err)
	}
	if sig != unix.SIGTRAP || s.base.Rip != injectAddr {
		return fmt.Errorf("ptrace: stub stopped with %v at %#x, want SIGTRAP at %#x", sig, s.base.Rip, injectAddr)
	}
	return nil
}

// waitStop waits for the stub to stop and returns the stop signal (with
// 0x80 set for syscall stops).
func (s *stub) waitStop() (unix.Signal, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(s.pid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		break
	}
	switch {
	case ws.Stopped():
		return unix.Signal(int(ws) >> 8 & 0xff), nil
	case ws.Exited():
		s.dead = true
		return 0, fmt.Errorf("stub exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		s.dead = true
		return 0, fmt.Errorf("stub killed by %v", ws.Signal())
	}
	return 0, fmt.Errorf("unexpected wait status %#x", int(ws))
}

// inject runs one host syscall in the stub and returns its result.
func (s *stub) inject(nr uintptr, args ...uint64) (uint64, error) {
	if s.dead {
		return 0, unix.ESRCH
	}
	r := s.base
	r.Rip = injectAddr
	r.Rax = uint64(nr)
	r.Orig_rax = ^uint64(0)
	dst := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*dst[i] = a
	}
	if err := unix.PtraceSetRegs(s.pid, &r); err != nil {
		return 0, fmt.Errorf("ptrace: inject setregs: %w", err)
	}
	if err := unix.PtraceCont(s.pid, 0); err != nil {
		return 0, fmt.Errorf("ptrace: inject cont: %w", err)
	}
	sig, err := s.waitStop()
	if err != nil {
		return 0, fmt.Errorf("ptrace: inject: %w", err)
	}
	if err := unix.PtraceGetRegs(s.pid, &r); err != nil {
		return 0, fmt.Errorf("ptrace: inject getregs: %w", err)
	}
	if sig != unix.SIGTRAP || r.Rip != injectAddr+3 {
		return 0, fmt.Errorf("ptrace: injected syscall %d stopped with %v at %#x", nr, sig, r.Rip)
	}
	if ret := int64(r.Rax); ret < 0 && ret > -4096 {
		return 0, unix.Errno(-ret)
	}
	return r.Rax, nil
}

// checkRange refuses ranges outside the guest's part of the address space;
// it is the last line of defence for the stub's own page.
func (s *stub) checkRange(addr, length uint64) error {
	end := addr + length
	if addr%platform.PageSize != 0 || length == 0 || end < addr ||
		addr < platform.MinAddr || end > platform.MaxAddr {
		return unix.EINVAL
	}
	if addr < stubEnd && end > stubBase {
		return unix.EINVAL
	}
	return nil
}

func (s *stub) Map(addr, length uint64, prot int) error {
	if err := s.checkRange(addr, length); err != nil {
		return err
	}
	_, err := s.inject(unix.SYS_MMAP, addr, length, uint64(prot),
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE, ^uint64(0), 0)
	return err
}

func (s *stub) Unmap(addr, length uint64) error {
	if err := s.checkRange(addr, length); err != nil {
		return err
	}
	_, err := s.inject(unix.SYS_MUNMAP, addr, length)
	return err
}

func (s *stub) Protect(addr, length uint64, prot int) error {
	if err := s.checkRange(addr, length); err != nil {
		return err
	}
	_, err := s.inject(unix.SYS_MPROTECT, addr, length, uint64(prot))
	return err
}

func (s *stub) Remap(oldAddr, oldLen, newAddr, newLen uint64) error {
	if err := s.checkRange(oldAddr, oldLen); err != nil {
		return err
	}
	if err := s.checkRange(newAddr, newLen); err != nil {
		return err
	}
	_, err := s.inject(unix.SYS_MREMAP, oldAddr, oldLen, newLen,
		unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, newAddr)
	return err
}

func (s *stub) Discard(addr, length uint64) error {
	if err := s.checkRange(addr, length); err != nil {
		return err
	}
	_, err := s.inject(unix.SYS_MADVISE, addr, length, unix.MADV_DONTNEED)
	return err
}

func (s *stub) CopyIn(addr uint64, dst []byte) (int, error) {
	return s.copy(addr, dst, unix.SYS_PROCESS_VM_READV)
}

func (s *stub) CopyOut(addr uint64, src []byte) (int, error) {
	return s.copy(addr, src, unix.SYS_PROCESS_VM_WRITEV)
}

// copy moves bytes between our memory and the stub's with
// process_vm_readv/writev, which go through the stub's page tables and
// protections exactly as the guest's own accesses would.
func (s *stub) copy(addr uint64, buf []byte, nr uintptr) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	if addr+uint64(len(buf)) < addr || addr+uint64(len(buf)) > platform.MaxAddr {
		return 0, unix.EFAULT
	}
	done := 0
	for done < len(buf) {
		local := unix.Iovec{Base: &buf[done]}
		local.SetLen(len(buf) - done)
		// The remote address belongs to the stub; it is only a number here.
		remote := remoteIovec{base: addr + uint64(done), len: uint64(len(buf) - done)}
		n, _, errno := unix.Syscall6(nr, uintptr(s.pid),
			uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || n == 0 {
			return done, unix.EFAULT
		}
		done += int(n)
	}
	return done, nil
}

// CPUTime reads the stub's process CPU clock, which counts exactly the
// guest's instructions plus the host's syscall-entry work for it.
func (s *stub) CPUTime() (time.Duration, error) {
	var ts unix.Timespec
	clock := int32(^s.pid<<3 | 2) // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

func (s *stub) Reserved() []platform.Range {
	return []platform.Range{{Start: stubBase, End: stubEnd}}
}

func (s *stub) NewThread() (platform.Thread, error) {
	if s.threadUsed {
		return nil, fmt.Errorf("ptrace: more than one thread per address space: %w", unix.ENOSYS)
	}
	s.threadUsed = true
	return &thread{s: s}, nil
}

// Release kills the stub and reaps it, so no process outlives the sandbox.
func (s *stub) Release() {
	if s.pid <= 0 {
		return
	}
	_ = unix.Kill(s.pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(s.pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		break
	}
	s.pid = -1
	s.dead = true
}

type thread struct{ s *stub }

// Switch resumes the guest with PTRACE_SYSEMU until its next syscall or
// signal. Signals are never passed on to the stub: the kernel decides.
func (t *thread) Switch(regs *platform.Regs) (platform.Event, error) {
	s := t.s
	if s.dead {
		return platform.Event{}, unix.ESRCH
	}
	if regs.Cs == 0 {
		// A fresh register file: take the segment selectors and flags of a
		// normal 64-bit user thread from the stub.
		regs.Cs, regs.Ss, regs.Ds, regs.Es = s.base.Cs, s.base.Ss, s.base.Ds, s.base.Es
		regs.Eflags = s.base.Eflags
	}
	if err := unix.PtraceSetRegs(s.pid, regs); err != nil {
		return platform.Event{}, fmt.Errorf("ptrace: setregs: %w", err)
	}
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SYSEMU, uintptr(s.pid), 0, 0, 0, 0); errno != 0 {
		return platform.Event{}, fmt.Errorf("ptrace: sysemu: %w", errno)
	}
	sig, err := s.waitStop()
	if err != nil {
		return platform.Event{}, fmt.Errorf("ptrace: guest: %w", err)
	}
	if err := unix.PtraceGetRegs(s.pid, regs); err != nil {
		return platform.Event{}, fmt.Errorf("ptrace: getregs: %w", err)
	}
	if sig == unix.SIGTRAP|0x80 {
		return platform.Event{Kind: platform.EventSyscall}, nil
	}
	ev := platform.Event{Kind: platform.EventFault, Signal: sig}
	var info [128]byte
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(s.pid), 0,
		uintptr(unsafe.Pointer(&info[0])), 0, 0); errno == 0 {
		ev.Code = *(*int32)(unsafe.Pointer(&info[8]))
		ev.Addr = *(*uint64)(unsafe.Pointer(&info[16]))
	}
	return ev, nil
}

// remoteIovec is an iovec naming memory in another process; keeping the
// address as an integer stops Go from treating it as a pointer.
type remoteIovec struct{ base, len uint64 }

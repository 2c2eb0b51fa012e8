// Package ptrace is the portable South: each guest address space is a stub
// process traced with PTRACE_SYSEMU, so every guest syscall stops the stub
// before the host runs it. The few host operations the platform needs
// (mmap, munmap, mprotect, mremap, madvise) are injected at the stub's own
// syscall instruction.
package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/internal/hostcpu"
	"github.com/litebox-go/litebox/platform/internal/hostmem"
	"github.com/litebox-go/litebox/platform/internal/hostops"
	"github.com/litebox-go/litebox/platform/internal/lockedthread"
	"github.com/litebox-go/litebox/platform/internal/pool"
	"github.com/litebox-go/litebox/platform/internal/stubexec"
	"github.com/litebox-go/litebox/platform/pagecache"
)

// Platform is the ptrace South. Its first address space starts the
// holder: a stub in new namespaces that never runs guest code and whose
// clones become every address space of the sandbox, so all stubs share one
// set of namespaces and outlive each other freely.
type Platform struct {
	once   sync.Once
	err    error
	pool   *pool.Pool
	cache  *pagecache.Cache // shared by every platform of the process
	holder *stub
	// tracer is the holder's tracer thread: ptrace demands that one OS
	// thread issue every request for the holder.
	tracer *lockedthread.Thread
}

// New returns the ptrace platform.
func New() *Platform { return &Platform{} }

// Name implements platform.Platform.
func (*Platform) Name() string { return "ptrace" }

// startHolder starts the holder on its own tracer thread, once.
func (p *Platform) startHolder() error {
	p.once.Do(func() {
		if p.pool, p.err = pool.New(); p.err != nil {
			return
		}
		if p.cache, p.err = pagecache.Default(); p.err != nil {
			return
		}
		p.tracer, p.err = lockedthread.Start(func() error {
			var err error
			p.holder, err = execHolder(p.pool.FD(), p.cache.ReadOnlyFD())
			return err
		}, func() {
			// Not Release: a zombie stub still traced by another thread
			// of litebox would keep the holder from ever exiting.
			p.holder.markReleased()
			stubexec.ReapHolder(p.holder.pid, 10*time.Second)
		})
	})
	return p.err
}

// Close ends the holder, and with it every stub of the platform.
func (p *Platform) Close() {
	if p.tracer != nil {
		p.tracer.Stop()
	}
	if p.pool != nil {
		p.pool.Close()
	}
}

// execHolder starts the holder stub from a sealed memfd, in new
// namespaces, as an unprivileged user of its own user namespace.
func execHolder(poolFD, cacheFD int) (*stub, error) {
	pfd := uintptr(poolFD)
	// fd 3: the pool, mapped then closed by the stub; fd 7: the page
	// cache, read-only, kept.
	pid, err := stubexec.Exec(holderStub().Image, []uintptr{pfd, pfd, pfd, pfd, pfd, pfd, pfd, uintptr(cacheFD)})
	if err != nil {
		return nil, fmt.Errorf("ptrace: %w", err)
	}
	s := newStub(pid, platform.Regs{}, nil, nil)
	if err := s.start(); err != nil {
		s.Release()
		return nil, err
	}
	return s, nil
}

// NewAddressSpace returns a fresh, empty address space: a clone of the
// holder. Its initial thread is bound to the calling goroutine (Bind locks
// it to its OS thread).
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	if err := p.startHolder(); err != nil {
		return nil, err
	}
	var pid int
	var err error
	if !p.tracer.Do(func() {
		var t *thread
		if t, err = p.holder.caller(); err == nil {
			pid, err = t.cloneChild(holderFlags)
		}
	}) {
		return nil, unix.ESRCH
	}
	if err != nil {
		return nil, fmt.Errorf("ptrace: new stub: %w", err)
	}
	s := newStub(pid, p.holder.base, p.pool, p.cache)
	if err := s.initial.Bind(); err != nil {
		s.Release()
		return nil, err
	}
	return s, nil
}

// stub is one traced stub process: one guest address space. Each of its
// threads is traced by the OS thread of the goroutine that drives it, so
// ptrace calls never cross goroutines; operations on the address space are
// injected through the caller's own stopped thread.
type stub struct {
	hostops.Ops // memory operations, injected through the caller's thread

	pid  int
	base platform.Regs // registers at the ready int3, used for injection
	pool *pool.Pool

	mu      sync.Mutex
	threads map[int]*thread // by tracer tid
	initial *thread         // the first thread, until NewThread hands it out
	dead    bool
}

func newStub(pid int, base platform.Regs, p *pool.Pool, c *pagecache.Cache) *stub {
	s := &stub{pid: pid, base: base, pool: p, threads: map[int]*thread{}}
	s.Ops = hostops.Ops{Call: s.inject, Pool: p, Cache: c,
		Reserved: []platform.Range{{Start: stubBase, End: stubEnd}, {Start: pool.Base, End: pool.End}}}
	s.initial = &thread{s: s, tid: pid}
	return s
}

func (s *stub) start() error {
	t := s.initial
	s.initial = nil
	t.tracer = unix.Gettid()
	s.threads[t.tracer] = t
	if _, err := t.waitStop(); err != nil { // the exec SIGTRAP
		return fmt.Errorf("ptrace: stub exec: %w", err)
	}
	if err := unix.PtraceSetOptions(s.pid, ptraceOptions); err != nil {
		return fmt.Errorf("ptrace: set options: %w", err)
	}
	if err := unix.PtraceCont(s.pid, 0); err != nil {
		return fmt.Errorf("ptrace: cont stub: %w", err)
	}
	sig, err := t.waitStop()
	if err != nil {
		return fmt.Errorf("ptrace: stub start-up: %w", err)
	}
	if err := unix.PtraceGetRegs(s.pid, &s.base); err != nil {
		return fmt.Errorf("ptrace: stub regs: %w", err)
	}
	if sig != unix.SIGTRAP || s.base.Rip != holderStub().Inject {
		// rax holds the failed set-up call's result (see the holder).
		return fmt.Errorf("ptrace: stub set-up stopped with %v at %#x (rax %d), want SIGTRAP at %#x",
			sig, s.base.Rip, int64(s.base.Rax), holderStub().Inject)
	}
	return nil
}

// ptraceOptions: syscall stops are marked, a tracee never outlives its
// tracer, and clones made by injection report the new stub's host pid.
const ptraceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACECLONE |
	unix.PTRACE_O_TRACEFORK

// interruptSignal is the host signal Interrupt sends to a running stub
// thread to make Switch return; the guest can never send host signals.
const interruptSignal = unix.SIGSTKFLT

// caller returns the stub thread traced by the calling OS thread.
func (s *stub) caller() (*thread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return nil, unix.ESRCH
	}
	t := s.threads[unix.Gettid()]
	if t == nil {
		return nil, fmt.Errorf("ptrace: no thread of stub %d is traced by this OS thread", s.pid)
	}
	return t, nil
}

// inject runs one host syscall in the stub through the caller's thread.
func (s *stub) inject(nr uintptr, args ...uint64) (uint64, error) {
	t, err := s.caller()
	if err != nil {
		return 0, err
	}
	return t.inject(holderStub().Inject, holderStub().Inject+3, nr, args...)
}

// waitStop waits for the thread to stop and returns the stop signal (with
// 0x80 set for syscall stops and the event in bits 8-15 for ptrace events).
func (t *thread) waitStop() (unix.Signal, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(t.tid, &ws, unix.WALL, nil)
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
		return unix.Signal(int(ws) >> 8 & 0xffff), nil
	case ws.Exited():
		t.dead.Store(true)
		return 0, &DeadError{Status: ws.ExitStatus()}
	case ws.Signaled():
		t.dead.Store(true)
		return 0, &DeadError{Signal: ws.Signal()}
	}
	return 0, fmt.Errorf("unexpected wait status %#x", int(ws))
}

// DeadError reports a stub thread that is gone (killed or exited).
type DeadError struct {
	Status int
	Signal unix.Signal
}

func (e *DeadError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("stub killed by %v", e.Signal)
	}
	return fmt.Sprintf("stub exited with status %d", e.Status)
}

// Is makes errors.Is(err, unix.ESRCH) true for a dead stub.
func (e *DeadError) Is(target error) bool { return target == unix.ESRCH }

// inject runs one host syscall on thread t at the given entry and expects
// the stop at trapAt.
func (t *thread) inject(entry, trapAt uint64, nr uintptr, args ...uint64) (uint64, error) {
	if t.dead.Load() {
		return 0, unix.ESRCH
	}
	r := t.s.base
	r.Fs_base, r.Gs_base = t.fsBase, t.gsBase
	r.Rip = entry
	r.Rax = uint64(nr)
	r.Orig_rax = ^uint64(0)
	dst := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*dst[i] = a
	}
	if err := unix.PtraceSetRegs(t.tid, &r); err != nil {
		return 0, fmt.Errorf("ptrace: inject setregs: %w", err)
	}
	if err := unix.PtraceCont(t.tid, 0); err != nil {
		return 0, fmt.Errorf("ptrace: inject cont: %w", err)
	}
	sig, err := t.waitStop()
	if err != nil {
		return 0, fmt.Errorf("ptrace: inject: %w", err)
	}
	for sig == interruptSignal {
		// An Interrupt raced with the injection: drop it and go on.
		if err := unix.PtraceCont(t.tid, 0); err != nil {
			return 0, fmt.Errorf("ptrace: inject cont: %w", err)
		}
		if sig, err = t.waitStop(); err != nil {
			return 0, fmt.Errorf("ptrace: inject: %w", err)
		}
	}
	if err := unix.PtraceGetRegs(t.tid, &r); err != nil {
		return 0, fmt.Errorf("ptrace: inject getregs: %w", err)
	}
	if sig != unix.SIGTRAP || r.Rip != trapAt {
		return 0, fmt.Errorf("ptrace: injected syscall %d stopped with %v at %#x", nr, sig, r.Rip)
	}
	if ret := int64(r.Rax); ret < 0 && ret > -4096 {
		return 0, unix.Errno(-ret)
	}
	return r.Rax, nil
}

// cloneChild injects clone(flags) on t and returns the new stub thread's
// host tid. The child is traced automatically (PTRACE_O_TRACECLONE), which
// is how its host pid is learnt (the stub sees its own pid namespace); it
// is then detached and parks in pause() until its own tracer seizes it.
func (t *thread) cloneChild(flags uint64) (int, error) {
	if t.dead.Load() {
		return 0, unix.ESRCH
	}
	r := t.s.base
	r.Fs_base, r.Gs_base = t.fsBase, t.gsBase
	r.Rip = holderStub().CloneEntry
	r.Rax = unix.SYS_CLONE
	r.Orig_rax = ^uint64(0)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8 = flags, 0, 0, 0, 0
	if err := unix.PtraceSetRegs(t.tid, &r); err != nil {
		return 0, fmt.Errorf("ptrace: clone setregs: %w", err)
	}
	if err := unix.PtraceCont(t.tid, 0); err != nil {
		return 0, fmt.Errorf("ptrace: clone cont: %w", err)
	}
	child := 0
	for {
		sig, err := t.waitStop()
		if err != nil {
			return 0, fmt.Errorf("ptrace: clone: %w", err)
		}
		if sig == unix.SIGTRAP|unix.PTRACE_EVENT_CLONE<<8 || sig == unix.SIGTRAP|unix.PTRACE_EVENT_FORK<<8 {
			msg, err := unix.PtraceGetEventMsg(t.tid)
			if err != nil {
				return 0, fmt.Errorf("ptrace: clone event: %w", err)
			}
			child = int(msg)
			if err := unix.PtraceCont(t.tid, 0); err != nil {
				return 0, fmt.Errorf("ptrace: clone cont: %w", err)
			}
			continue
		}
		if sig == interruptSignal {
			if err := unix.PtraceCont(t.tid, 0); err != nil {
				return 0, err
			}
			continue
		}
		if err := unix.PtraceGetRegs(t.tid, &r); err != nil {
			return 0, fmt.Errorf("ptrace: clone getregs: %w", err)
		}
		if sig != unix.SIGTRAP || r.Rip != holderStub().CloneTrap {
			return 0, fmt.Errorf("ptrace: injected clone stopped with %v at %#x", sig, r.Rip)
		}
		break
	}
	if ret := int64(r.Rax); ret < 0 && ret > -4096 {
		return 0, unix.Errno(-ret)
	}
	if child == 0 {
		return 0, fmt.Errorf("ptrace: clone returned without a clone event")
	}
	// The child starts with an attach stop; hand it back to the host
	// untraced so that another OS thread can seize it.
	ct := &thread{s: t.s, tid: child}
	if _, err := ct.waitStop(); err != nil {
		return 0, fmt.Errorf("ptrace: clone child: %w", err)
	}
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(child), 0, 0, 0, 0); errno != 0 {
		return 0, fmt.Errorf("ptrace: detach clone child: %w", errno)
	}
	return child, nil
}

// Fork makes a copy-on-write copy of the address space: the host kernel
// forks the stub. The copy's only thread must be driven through NewThread.
func (s *stub) Fork() (platform.AddressSpace, error) {
	t, err := s.caller()
	if err != nil {
		return nil, err
	}
	pid, err := t.cloneChild(forkFlags)
	if err != nil {
		return nil, fmt.Errorf("ptrace: fork stub: %w", err)
	}
	return newStub(pid, s.base, s.pool, s.Cache), nil
}

func (s *stub) NewThread() (platform.Thread, error) {
	s.mu.Lock()
	if t := s.initial; t != nil {
		s.initial = nil
		s.mu.Unlock()
		return t, nil
	}
	s.mu.Unlock()
	t, err := s.caller()
	if err != nil {
		return nil, err
	}
	tid, err := t.cloneChild(threadFlags)
	if err != nil {
		return nil, fmt.Errorf("ptrace: new stub thread: %w", err)
	}
	return &thread{s: s, tid: tid}, nil
}

func (s *stub) CopyIn(addr uint64, dst []byte) (int, error) { return hostmem.Read(s.pid, addr, dst) }

func (s *stub) CopyOut(addr uint64, src []byte) (int, error) { return hostmem.Write(s.pid, addr, src) }

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

func (s *stub) Reserved() []platform.Range { return s.ReservedRanges() }

// Release kills the stub. Each thread's tracer reaps its own thread when
// its Switch sees the death; the process itself is reaped here.
// markReleased records that the stub is gone without touching it.
func (s *stub) markReleased() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
}

// Kill kills the stub from any goroutine; its tracer still releases and
// reaps it when it sees it gone.
func (s *stub) Kill() { _ = unix.Kill(s.pid, unix.SIGKILL) }

func (s *stub) Release() {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	s.dead = true
	mine := s.threads[unix.Gettid()]
	s.mu.Unlock()
	_ = unix.Kill(s.pid, unix.SIGKILL)
	if mine != nil && !mine.dead.Load() {
		mine.reap()
	}
	if mine != nil {
		mine.unlock()
	}
}

// unlock releases the OS thread Bind locked, once the thread is reaped: it
// traces nothing of the stub any more. Only t's tracer calls it.
func (t *thread) unlock() {
	if t.locked && t.dead.Load() {
		t.locked = false
		runtime.UnlockOSThread()
	}
}

// thread is one stub thread.
type thread struct {
	s      *stub
	tid    int
	tracer int // OS thread tracing it; 0 until Bind
	// dead is read by Interrupt from any goroutine.
	dead atomic.Bool
	// locked: Bind locked the tracer's goroutine to its OS thread, which
	// unlock undoes once the thread is gone (only the tracer touches it).
	locked bool
	// The guest's TLS bases, kept for injected calls (they run on the
	// guest's thread and must not lose them).
	fsBase, gsBase uint64
}

// reap waits until the killed thread is gone.
func (t *thread) reap() {
	for !t.dead.Load() {
		if _, err := t.waitStop(); err != nil {
			var dead *DeadError
			if !errors.As(err, &dead) {
				return
			}
		} else {
			_ = unix.PtraceCont(t.tid, 0)
		}
	}
}

// Bind makes the calling OS thread the tracer of t: it seizes the parked
// stub thread and stops it. It must be called by the goroutine that will
// call Switch. ptrace ties a tracee to the OS thread that seized it, so
// Bind locks the calling goroutine to its OS thread (this rule stays inside
// the platform): until the thread exits (Exit) or its stub is released by
// this goroutine (Release). A goroutine that ends while still tracing ends
// its OS thread with it, and the host then kills what it traced
// (PTRACE_O_EXITKILL).
func (t *thread) Bind() error {
	runtime.LockOSThread()
	me := unix.Gettid()
	if t.tracer == me {
		runtime.UnlockOSThread() // locked since the first Bind
		return nil
	}
	if t.tracer != 0 {
		runtime.UnlockOSThread()
		return fmt.Errorf("ptrace: thread %d is already traced by %d", t.tid, t.tracer)
	}
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(t.tid), 0,
		uintptr(ptraceOptions), 0, 0); errno != 0 {
		runtime.UnlockOSThread() // nothing is traced
		return fmt.Errorf("ptrace: seize %d: %w", t.tid, errno)
	}
	// From here on this OS thread traces the stub thread: it stays locked
	// even on failure.
	t.locked = true
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(t.tid), 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("ptrace: interrupt %d: %w", t.tid, errno)
	}
	if _, err := t.waitStop(); err != nil {
		return fmt.Errorf("ptrace: seizing %d: %w", t.tid, err)
	}
	t.tracer = me
	t.s.mu.Lock()
	t.s.threads[me] = t
	t.s.mu.Unlock()
	return nil
}

// Switch resumes the guest with PTRACE_SYSEMU until its next syscall or
// signal. Signals are never passed on to the stub: the kernel decides.
func (t *thread) Switch(regs *platform.Regs) (platform.Event, error) {
	if t.dead.Load() {
		return platform.Event{}, &DeadError{Signal: unix.SIGKILL}
	}
	if regs.Cs == 0 {
		// A fresh register file: take the segment selectors and flags of a
		// normal 64-bit user thread from the stub.
		b := t.s.base
		regs.Cs, regs.Ss, regs.Ds, regs.Es, regs.Eflags = b.Cs, b.Ss, b.Ds, b.Es, b.Eflags
	}
	// A thread stopped inside the parking pause() must not have it
	// restarted by the host on resume.
	regs.Orig_rax = ^uint64(0)
	if err := unix.PtraceSetRegs(t.tid, regs); err != nil {
		return platform.Event{}, t.deadOr(fmt.Errorf("ptrace: setregs: %w", err))
	}
	t.fsBase, t.gsBase = regs.Fs_base, regs.Gs_base
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SYSEMU, uintptr(t.tid), 0, 0, 0, 0); errno != 0 {
		return platform.Event{}, t.deadOr(fmt.Errorf("ptrace: sysemu: %w", errno))
	}
	sig, err := t.waitStop()
	if err != nil {
		return platform.Event{}, err
	}
	if err := unix.PtraceGetRegs(t.tid, regs); err != nil {
		return platform.Event{}, t.deadOr(fmt.Errorf("ptrace: getregs: %w", err))
	}
	t.fsBase, t.gsBase = regs.Fs_base, regs.Gs_base
	switch {
	case sig == unix.SIGTRAP|0x80:
		return platform.Event{Kind: platform.EventSyscall}, nil
	case sig == interruptSignal:
		return platform.Event{Kind: platform.EventInterrupt}, nil
	case sig>>8 != 0:
		// A ptrace event stop (group-stop after seize): nothing for the guest.
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	ev := platform.Event{Kind: platform.EventFault, Signal: sig}
	var info [128]byte
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(t.tid), 0,
		uintptr(unsafe.Pointer(&info[0])), 0, 0); errno == 0 {
		ev.Code = *(*int32)(unsafe.Pointer(&info[8]))
		ev.Addr = *(*uint64)(unsafe.Pointer(&info[16]))
		// A call into the legacy vsyscall page (see vsyscall.go): the
		// signal is dropped by the next resume like any other.
		if sig == unix.SIGSYS && vsyscallFromSigsys(info[:], regs) {
			return platform.Event{Kind: platform.EventSyscall}, nil
		}
		if vsyscallFromFault(sig, ev.Addr, regs, t.readStack) {
			return platform.Event{Kind: platform.EventSyscall}, nil
		}
	}
	return ev, nil
}

// readStack reads guest memory for the vsyscall emulation.
func (t *thread) readStack(addr uint64, b []byte) error {
	n, err := hostmem.Read(t.s.pid, addr, b)
	if err == nil && n != len(b) {
		err = unix.EFAULT
	}
	return err
}

// deadOr turns ESRCH from a vanished tracee into a DeadError after reaping.
func (t *thread) deadOr(err error) error {
	if !errors.Is(err, unix.ESRCH) {
		return err
	}
	t.reap()
	return &DeadError{Signal: unix.SIGKILL}
}

// Interrupt makes a concurrent Switch return EventInterrupt soon. It may be
// called from any goroutine.
func (t *thread) Interrupt() {
	if !t.dead.Load() {
		_ = unix.Tgkill(t.s.pid, t.tid, interruptSignal)
	}
}

// Exit ends this stub thread alone (the guest thread exited). Whatever
// happens, the thread is reaped by its tracer before Exit returns: an
// unreaped thread would keep its group leader's exit from ever being
// reported to the leader's tracer.
// CPUTime is the guest thread's own CPU time (its stub thread's), for the
// guest's thread CPU clocks and RUSAGE_THREAD.
func (t *thread) CPUTime() (time.Duration, error) { return hostcpu.Thread(t.s.pid, t.tid) }

func (t *thread) Exit() {
	defer t.unlock()
	if t.dead.Load() {
		return
	}
	if _, err := t.inject(holderStub().Inject, holderStub().Inject+3, unix.SYS_EXIT, 0); err != nil && !t.dead.Load() {
		// The thread is dying already (its process was killed) or cannot
		// be driven: make sure it dies, then reap it.
		_ = unix.Tgkill(t.s.pid, t.tid, unix.SIGKILL)
		t.reap()
	}
	t.dead.Store(true)
	t.s.mu.Lock()
	delete(t.s.threads, t.tracer)
	t.s.mu.Unlock()
}

// ntX86XState is NT_X86_XSTATE, the XSAVE register set.
const ntX86XState = 0x202

// FPState reads the thread's XSAVE area.
func (t *thread) FPState() ([]byte, error) {
	buf := make([]byte, 16384)
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(t.tid), ntX86XState,
		uintptr(unsafe.Pointer(&iov)), 0, 0); errno != 0 {
		return nil, fmt.Errorf("ptrace: getregset xstate: %w", errno)
	}
	return buf[:iov.Len], nil
}

// SetFPState writes the thread's XSAVE area.
func (t *thread) SetFPState(b []byte) error {
	if len(b) == 0 {
		return unix.EINVAL
	}
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(t.tid), ntX86XState,
		uintptr(unsafe.Pointer(&iov)), 0, 0); errno != 0 {
		return fmt.Errorf("ptrace: setregset xstate: %w", errno)
	}
	return nil
}

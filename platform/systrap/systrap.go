// Package systrap is the fast South: stub threads run guest code untraced
// under a seccomp filter that turns every syscall not issued from the
// stub's own code page into SIGSYS. The stub's handler (stub.S) copies the
// guest's registers into a slot of memory shared with litebox, wakes the
// kernel and waits (a short spin, then a futex) for the answer, then
// returns into the guest with rt_sigreturn. Faults and interrupts arrive
// the same way. No ptrace stop happens on this path; ptrace is used only
// to start stubs and to fork stubs or add threads, which needs a secret
// that never sits in guest-readable memory.
package systrap

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/internal/hostmem"
	"github.com/litebox-go/litebox/platform/internal/hostops"
	"github.com/litebox-go/litebox/platform/internal/lockedthread"
	"github.com/litebox-go/litebox/platform/internal/pool"
	"github.com/litebox-go/litebox/platform/internal/stubexec"
)

// Platform is the systrap South. Like the ptrace platform it starts a
// holder stub in new namespaces whose clones are the sandbox's stubs.
type Platform struct {
	once   sync.Once
	err    error
	secret uint64
	shm    []byte // the slots, shared with every stub
	shmFD  int
	pool   *pool.Pool

	slotMu sync.Mutex
	used   [maxSlots]bool
	// dying slots belong to stub threads told to exit or killed: a slot is
	// reused only once its thread is really gone, or the old thread could
	// still read the new one's states.
	dying []dyingSlot

	// tracer is the holder's tracer thread: ptrace demands that one OS
	// thread issue every request for the holder.
	tracer *lockedthread.Thread
	holder *traced
}

// New returns the systrap platform.
func New() *Platform { return &Platform{} }

// Name implements platform.Platform.
func (*Platform) Name() string { return "systrap" }

type dyingSlot struct{ slot, pid, tid int }

func (p *Platform) allocSlot() (int, error) {
	p.slotMu.Lock()
	defer p.slotMu.Unlock()
	still := p.dying[:0]
	for _, d := range p.dying {
		if unix.Tgkill(d.pid, d.tid, 0) == unix.ESRCH {
			p.used[d.slot] = false
		} else {
			still = append(still, d)
		}
	}
	p.dying = still
	for i := range p.used {
		if !p.used[i] {
			p.used[i] = true
			clear(p.shm[i*slotSize : (i+1)*slotSize])
			return i, nil
		}
	}
	return 0, unix.EAGAIN
}

func (p *Platform) freeSlot(i int) {
	p.slotMu.Lock()
	p.used[i] = false
	p.slotMu.Unlock()
}

// retireSlot frees slot i once host thread tid of pid is gone.
func (p *Platform) retireSlot(i, pid, tid int) {
	p.slotMu.Lock()
	p.dying = append(p.dying, dyingSlot{slot: i, pid: pid, tid: tid})
	p.slotMu.Unlock()
}

func slotAddr(i int) uint64  { return shmBase + uint64(i)*slotSize }
func stackTop(i int) uint64  { return stacksBase + uint64(i+1)*stackSize }
func stackBase(i int) uint64 { return stacksBase + uint64(i)*stackSize }

// start creates the shared slots and the holder, once.
func (p *Platform) start() error {
	p.once.Do(func() {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			p.err = err
			return
		}
		p.secret = binary.LittleEndian.Uint64(b[:])
		fd, err := unix.MemfdCreate("litebox-slots", unix.MFD_CLOEXEC)
		if err != nil {
			p.err = fmt.Errorf("systrap: memfd for slots: %w", err)
			return
		}
		p.shmFD = fd
		if err := unix.Ftruncate(fd, shmSize); err != nil {
			p.err = fmt.Errorf("systrap: sizing slots: %w", err)
			return
		}
		if p.shm, err = unix.Mmap(fd, 0, shmSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			p.err = fmt.Errorf("systrap: mapping slots: %w", err)
			return
		}
		if p.pool, p.err = pool.New(); p.err != nil {
			return
		}
		p.tracer, p.err = lockedthread.Start(func() error {
			var err error
			p.holder, err = p.execHolder()
			return err
		}, func() {
			_ = unix.Kill(p.holder.tid, unix.SIGKILL)
			p.holder.reap()
		})
	})
	return p.err
}

// Close ends the holder and with it every stub of the platform.
func (p *Platform) Close() {
	if p.tracer != nil {
		p.tracer.Stop()
	}
	if p.shm != nil {
		_ = unix.Munmap(p.shm)
		_ = unix.Close(p.shmFD)
		p.shm = nil
	}
	if p.pool != nil {
		p.pool.Close()
	}
}

// execHolder starts the holder from a sealed memfd in new namespaces with
// the slots memfd as its fd 3 (it maps it, then closes every fd).
func (p *Platform) execHolder() (*traced, error) {
	img := stubImage(p.secret)
	shm, pl := uintptr(p.shmFD), uintptr(p.pool.FD())
	// fd 3: the slots, fd 4: the pool; the stub maps both, then closes all.
	pid, err := stubexec.Exec(img, []uintptr{shm, shm, shm, shm, pl})
	if err != nil {
		return nil, fmt.Errorf("systrap: %w", err)
	}
	h := &traced{tid: pid}
	if _, err := h.waitStop(); err != nil {
		return nil, fmt.Errorf("systrap: stub exec: %w", err)
	}
	if err := unix.PtraceSetOptions(pid, tracedOptions); err != nil {
		return nil, fmt.Errorf("systrap: set options: %w", err)
	}
	if err := unix.PtraceCont(pid, 0); err != nil {
		return nil, err
	}
	sig, err := h.waitStop()
	if err != nil {
		return nil, fmt.Errorf("systrap: stub set-up: %w", err)
	}
	var r platform.Regs
	if err := unix.PtraceGetRegs(pid, &r); err != nil {
		return nil, err
	}
	if sig != unix.SIGTRAP || r.Rip != codeBase+offInject {
		_ = unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("systrap: stub set-up stopped with %v at %#x (rax %d)", sig, r.Rip, int64(r.Rax))
	}
	h.base = r
	return h, nil
}

// spawn clones the holder into a new stub, maps the signal stack of its
// first thread's slot, points it at thread_start and lets it go.
func (p *Platform) spawn(h *traced) (int, int, error) {
	slot, err := p.allocSlot()
	if err != nil {
		return 0, 0, err
	}
	child, err := h.clone(holderFlags, p.secret)
	if err != nil {
		p.freeSlot(slot)
		return 0, 0, err
	}
	c := &traced{tid: child, base: h.base}
	if err := c.startThread(slot, true); err != nil {
		_ = unix.Kill(child, unix.SIGKILL)
		p.freeSlot(slot)
		return 0, 0, err
	}
	return child, slot, nil
}

// NewAddressSpace returns a fresh, empty address space whose initial
// thread is driven by the calling goroutine (locked to its OS thread).
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	if err := p.start(); err != nil {
		return nil, err
	}
	var pid, slot int
	var err error
	if !p.tracer.Do(func() { pid, slot, err = p.spawn(p.holder) }) {
		return nil, unix.ESRCH
	}
	if err != nil {
		return nil, fmt.Errorf("systrap: new stub: %w", err)
	}
	s := p.newStub(pid)
	s.initial = s.newThread(pid, slot, stackTop(slot))
	// Like the ptrace platform: the caller drives the first thread, so
	// the loader's mappings go through it.
	_ = s.initial.Bind()
	return s, nil
}

// stub is one stub process: one guest address space.
type stub struct {
	hostops.Ops // memory operations, run by the caller's thread's handler

	p   *Platform
	pid int

	mu      sync.Mutex
	threads map[int]*thread // by the OS thread driving it
	all     []*thread
	initial *thread
	dead    bool
}

func (s *stub) newThread(tid, slot int, stack uint64) *thread {
	t := &thread{s: s, tid: tid, slot: slot, stack: stack,
		state:          (*uint32)(unsafe.Pointer(&s.p.shm[slot*slotSize+slotState])),
		stubSleeping:   (*uint32)(unsafe.Pointer(&s.p.shm[slot*slotSize+slotStubSleeping])),
		kernelSleeping: (*uint32)(unsafe.Pointer(&s.p.shm[slot*slotSize+slotKernelSleeping]))}
	s.mu.Lock()
	s.all = append(s.all, t)
	s.mu.Unlock()
	return t
}

// caller returns the stub thread driven by the calling OS thread.
func (s *stub) caller() (*thread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return nil, unix.ESRCH
	}
	t := s.threads[unix.Gettid()]
	if t == nil {
		return nil, fmt.Errorf("systrap: no thread of stub %d is driven by this OS thread", s.pid)
	}
	return t, nil
}

// guestRange cuts [addr, addr+n) at the first byte litebox must not touch
// on the guest's behalf: the stub's own memory and the pool, which are
// mapped in the guest's address space but are not the guest's memory.
func guestRange(addr uint64, n int) int {
	end := addr + uint64(n)
	for _, r := range [][2]uint64{{codeBase, reservedEnd}, {pool.Base, pool.End}} {
		if addr >= r[0] && addr < r[1] {
			return 0
		}
		if addr < r[0] && end > r[0] {
			n = int(r[0] - addr)
			end = r[0]
		}
	}
	return n
}

func (s *stub) hostcall(nr uintptr, args ...uint64) (uint64, error) {
	t, err := s.caller()
	if err != nil {
		return 0, err
	}
	return t.hostcall(nr, args...)
}

func (s *stub) CopyIn(addr uint64, dst []byte) (int, error) {
	n := guestRange(addr, len(dst))
	got, err := hostmem.Read(s.pid, addr, dst[:n])
	if err == nil && n < len(dst) {
		err = unix.EFAULT
	}
	return got, err
}

func (s *stub) CopyOut(addr uint64, src []byte) (int, error) {
	n := guestRange(addr, len(src))
	got, err := hostmem.Write(s.pid, addr, src[:n])
	if err == nil && n < len(src) {
		err = unix.EFAULT
	}
	return got, err
}

func (s *stub) CPUTime() (time.Duration, error) {
	var ts unix.Timespec
	clock := int32(^s.pid<<3 | 2) // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

func (s *stub) Reserved() []platform.Range { return s.ReservedRanges() }

// newStub records a stub process of the platform.
func (p *Platform) newStub(pid int) *stub {
	s := &stub{p: p, pid: pid, threads: map[int]*thread{}}
	s.Ops = hostops.Ops{Call: s.hostcall, Pool: p.pool,
		Reserved: []platform.Range{{Start: codeBase, End: reservedEnd}, {Start: pool.Base, End: pool.End}}}
	return s
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
	slot, err := s.p.allocSlot()
	if err != nil {
		return nil, err
	}
	tid, err := t.cloneUnderPtrace(threadFlags, slot, true)
	if err != nil {
		s.p.freeSlot(slot)
		return nil, fmt.Errorf("systrap: new stub thread: %w", err)
	}
	return s.newThread(tid, slot, stackTop(slot)), nil
}

func (s *stub) Fork() (platform.AddressSpace, error) {
	t, err := s.caller()
	if err != nil {
		return nil, err
	}
	slot, err := s.p.allocSlot()
	if err != nil {
		return nil, err
	}
	pid, err := t.cloneUnderPtrace(forkFlags, slot, false)
	if err != nil {
		s.p.freeSlot(slot)
		return nil, fmt.Errorf("systrap: fork stub: %w", err)
	}
	c := s.p.newStub(pid)
	c.initial = c.newThread(pid, slot, t.stack)
	return c, nil
}

// isDead reports whether the stub was released.
func (s *stub) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

// Release kills the stub; the holder reaps it.
func (s *stub) Release() {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	s.dead = true
	all := s.all
	s.mu.Unlock()
	_ = unix.Kill(s.pid, unix.SIGKILL)
	for _, t := range all {
		t.markDead()
	}
}

// thread is one stub thread and its slot.
type thread struct {
	s    *stub
	tid  int
	slot int
	// stack is the top of the thread's signal stack: its slot's, or for
	// the first thread of a forked stub, its copy of the forking thread's.
	stack uint64
	state *uint32
	// The sleeping flags of both sides: a wake is a syscall, made only
	// when the other side really sleeps in FUTEX_WAIT.
	stubSleeping, kernelSleeping *uint32
	// The guest's TLS base as litebox last set it.
	fsBase   uint64
	deadFlag atomic.Bool
}

func (t *thread) markDead() {
	if t.deadFlag.CompareAndSwap(false, true) {
		t.s.p.retireSlot(t.slot, t.s.pid, t.tid)
	}
}

func (t *thread) slotBytes() []byte {
	return t.s.p.shm[t.slot*slotSize : (t.slot+1)*slotSize]
}

// Bind records the calling OS thread as this thread's driver.
func (t *thread) Bind() error {
	t.s.mu.Lock()
	t.s.threads[unix.Gettid()] = t
	t.s.mu.Unlock()
	return nil
}

// alive reports whether the host thread still exists.
func (t *thread) alive() bool {
	return unix.Tgkill(t.s.pid, t.tid, 0) == nil
}

// spinLoops bounds the busy wait before sleeping: about 20-50 µs, longer
// than a typical trap round trip and much shorter than a time slice.
const spinLoops = 20000

// waitState waits until the slot holds one of the wanted states: a short
// spin (the guest often traps again within microseconds), then futex waits
// that check now and then that the stub is still alive.
func (t *thread) waitState(want ...uint32) (uint32, error) {
	wanted := func(v uint32) bool {
		for _, w := range want {
			if v == w {
				return true
			}
		}
		return false
	}
	for i := 0; i < spinLoops; i++ {
		if v := atomic.LoadUint32(t.state); wanted(v) {
			return v, nil
		}
	}
	timeout := unix.Timespec{Nsec: 50 * 1e6}
	// Announce that we sleep (the stub wakes us only then), look once
	// more, then wait; atomic stores are full barriers on amd64.
	atomic.StoreUint32(t.kernelSleeping, 1)
	defer atomic.StoreUint32(t.kernelSleeping, 0)
	for {
		v := atomic.LoadUint32(t.state)
		if wanted(v) {
			return v, nil
		}
		if t.deadFlag.Load() || t.s.isDead() {
			return 0, &DeadError{}
		}
		_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(t.state)), 0 /* FUTEX_WAIT */, uintptr(v),
			uintptr(unsafe.Pointer(&timeout)), 0, 0)
		if errno == unix.ETIMEDOUT && !t.alive() {
			t.markDead()
			return 0, &DeadError{}
		}
	}
}

// waitStopped waits until the thread is in its handler, waiting for
// litebox: it reported an event or a hostcall, or litebox parked it.
func (t *thread) waitStopped() (uint32, error) {
	return t.waitState(stateEvent, stateHostcallDone, stateParked)
}

// Park tells the stub thread, stopped in its handler, that litebox expects
// to take long (a syscall that may block): it sleeps at once instead of
// spinning, leaving the CPU to the threads that can run.
func (t *thread) Park() {
	atomic.CompareAndSwapUint32(t.state, stateEvent, stateParked)
}

// setState publishes a state to the stub, waking it only if it sleeps.
func (t *thread) setState(v uint32) {
	atomic.StoreUint32(t.state, v)
	if atomic.LoadUint32(t.stubSleeping) != 0 {
		_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(t.state)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
	}
}

// hostcall runs a syscall in the stub on this (stopped) thread.
func (t *thread) hostcall(nr uintptr, args ...uint64) (uint64, error) {
	if _, err := t.waitStopped(); err != nil {
		return 0, err
	}
	b := t.slotBytes()
	le := binary.LittleEndian
	le.PutUint64(b[slotNr:], uint64(nr))
	for i := 0; i < 6; i++ {
		var a uint64
		if i < len(args) {
			a = args[i]
		}
		le.PutUint64(b[slotArgs+8*i:], a)
	}
	t.setState(stateHostcall)
	if _, err := t.waitState(stateHostcallDone, stateHostcallDone); err != nil {
		return 0, err
	}
	ret := le.Uint64(b[slotResult:])
	if r := int64(ret); r < 0 && r > -4096 {
		return 0, unix.Errno(-r)
	}
	return ret, nil
}

// DeadError reports a stub thread that is gone.
type DeadError struct{}

func (*DeadError) Error() string { return "systrap: stub thread is gone" }

// Is makes errors.Is(err, unix.ESRCH) true.
func (*DeadError) Is(target error) bool { return target == unix.ESRCH }

// sigcontext order of the general registers (r8 ... rip), then eflags.
func gregs(r *platform.Regs) []*uint64 {
	return []*uint64{&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp, &r.Rip, &r.Eflags}
}

// Switch hands regs to the stub, lets the guest run, and waits for its
// next trap.
func (t *thread) Switch(regs *platform.Regs) (platform.Event, error) {
	if t.deadFlag.Load() {
		return platform.Event{}, &DeadError{}
	}
	if _, err := t.waitStopped(); err != nil {
		return platform.Event{}, err
	}
	b := t.slotBytes()
	le := binary.LittleEndian
	ctx := b[slotContext:]
	for i, p := range gregs(regs) {
		le.PutUint64(ctx[8*i:], *p)
	}
	// cs and ss of a 64-bit user thread; fs/gs selectors zero.
	le.PutUint64(ctx[18*8:], 0x33|0x2b<<48)
	le.PutUint64(b[slotFSBase:], regs.Fs_base)
	t.fsBase = regs.Fs_base
	t.setState(stateResume)
	if _, err := t.waitState(stateEvent, stateEvent); err != nil {
		return platform.Event{}, err
	}
	for i, p := range gregs(regs) {
		*p = le.Uint64(ctx[8*i:])
	}
	regs.Fs_base = t.fsBase
	regs.Cs, regs.Ss = 0x33, 0x2b
	signo := unix.Signal(le.Uint64(b[slotSigno:]))
	code := int32(le.Uint64(b[slotCode:]))
	switch {
	case signo == unix.SIGSYS && code == 1: // SYS_SECCOMP
		regs.Orig_rax = regs.Rax // the trap rolled rax back to the number
		return platform.Event{Kind: platform.EventSyscall}, nil
	case signo == unix.SIGSTKFLT, signo == 0:
		regs.Orig_rax = ^uint64(0)
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	regs.Orig_rax = ^uint64(0)
	return platform.Event{Kind: platform.EventFault, Signal: signo, Code: code, Addr: le.Uint64(b[slotSiAddr:])}, nil
}

// Interrupt makes a running Switch return EventInterrupt.
func (t *thread) Interrupt() {
	if !t.deadFlag.Load() {
		_ = unix.Tgkill(t.s.pid, t.tid, unix.SIGSTKFLT)
	}
}

// Exit ends this stub thread.
func (t *thread) Exit() {
	if t.deadFlag.Load() {
		return
	}
	if _, err := t.waitStopped(); err == nil {
		t.setState(stateExit)
	}
	t.s.mu.Lock()
	for k, v := range t.s.threads {
		if v == t {
			delete(t.s.threads, k)
		}
	}
	t.s.mu.Unlock()
	t.markDead()
}

// fpState locates the XSAVE area of the trapped guest: the host kernel
// saved it in the signal frame on the stub thread's signal stack.
func (t *thread) fpStateAddr() uint64 {
	return binary.LittleEndian.Uint64(t.slotBytes()[slotContext+23*8:])
}

// FPState reads the guest's floating-point state from the signal frame.
func (t *thread) FPState() ([]byte, error) {
	addr := t.fpStateAddr()
	if addr == 0 {
		// A thread that has not run yet: the default state (FCW 0x37f,
		// MXCSR 0x1f80) in the legacy FXSAVE layout.
		b := make([]byte, 512)
		binary.LittleEndian.PutUint16(b[0:], 0x37f)
		binary.LittleEndian.PutUint32(b[24:], 0x1f80)
		return b, nil
	}
	head := make([]byte, 512)
	if _, err := hostmem.Read(t.s.pid, addr, head); err != nil {
		return nil, err
	}
	size := 512
	// fpx_sw_bytes in the software-reserved part: magic1, extended_size.
	if binary.LittleEndian.Uint32(head[464:]) == 0x46505853 {
		size = int(binary.LittleEndian.Uint32(head[468:]))
		if size < 512 || size > 16384 {
			return nil, unix.EINVAL
		}
	}
	buf := make([]byte, size)
	if _, err := hostmem.Read(t.s.pid, addr, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// SetFPState writes the guest's floating-point state back into the signal
// frame; the host validates it at rt_sigreturn.
func (t *thread) SetFPState(b []byte) error {
	addr := t.fpStateAddr()
	if addr == 0 {
		return nil // nothing to restore into yet; the thread starts clean
	}
	cur, err := t.FPState()
	if err != nil {
		return err
	}
	if len(b) != len(cur) {
		return unix.EINVAL
	}
	_, err = hostmem.Write(t.s.pid, addr, b)
	return err
}

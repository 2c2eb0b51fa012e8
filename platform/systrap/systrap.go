// Package systrap is the fast South: stub threads run guest code untraced
// under a seccomp filter that turns every syscall not issued from the
// stub's own code page into SIGSYS. The stub's handler (stub.S) copies the
// guest's registers into a slot of memory shared with litebox, wakes the
// kernel and waits (a short spin, then a futex) for the answer, then
// returns into the guest with rt_sigreturn. Faults and interrupts arrive
// the same way. No ptrace stop happens on this path.
//
// Guest threads cannot change memory, create threads or write to any fd,
// even by jumping into the stub's code: a second seccomp filter forbids it.
// Memory operations run on a separate hostcall thread per stub, which never
// runs guest code, reads its requests from a page the guest cannot write
// and reports completions through a pipe the guest cannot write to. Threads
// and forks are made by ptrace injections into the hostcall thread.
package systrap

import (
	"encoding/binary"
	"fmt"
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

// Platform is the systrap South. Like the ptrace platform it starts a
// holder stub in new namespaces whose clones are the sandbox's stubs.
type Platform struct {
	once  sync.Once
	err   error
	shm   []byte // the slots, shared with every stub
	shmFD int
	// ctrl holds the requests to hostcall threads and the guest threads'
	// stack_t; stubs map it read-only.
	ctrl   []byte
	ctrlFD int
	// The completion socket pair (SOCK_SEQPACKET): hostcall threads write
	// to their end; litebox reads completions from complR, each waiter in
	// turn becoming the reader (see await).
	complR, complW int
	completions
	pool *pool.Pool
	// cache is the process's page cache, which every stub inherits
	// read-only at hostops.CacheFD.
	cache *pagecache.Cache

	slotMu sync.Mutex
	used   [maxSlots]bool
	// seq is each slot's last request number; it keeps counting across
	// owners so that a late completion of an old owner never matches.
	seq [maxSlots]uint32
	// dying slots belong to stub threads told to exit or killed: a slot is
	// reused only once its thread is really gone, or the old thread could
	// still read the new one's states.
	dying []dyingSlot

	// tracer is the holder's tracer thread: ptrace demands that one OS
	// thread issue every request for the holder.
	tracer *lockedthread.Thread
	holder *traced
}

// completion is one hostcall's result as its packet told it.
type completion struct {
	seq   uint32
	errno unix.Errno
	ok    bool
}

// completions hands completion packets to their waiters. There is no
// reader goroutine: a waiter whose completion has not arrived becomes the
// reader (leader) if nobody is, reads packets until its own arrives and
// stores the others for their waiters (followers), whom it wakes. That
// way the common case, one waiter, is woken by the host kernel directly
// when the hostcall thread writes its packet.
type completions struct {
	reader   sync.Mutex // held by the waiter reading the socket
	mu       sync.Mutex
	got      [maxSlots]completion
	wake     [maxSlots]chan struct{}
	leaderUp chan struct{} // the reader role is free
}

func (c *completions) init() {
	for i := range c.wake {
		c.wake[i] = make(chan struct{}, 1)
	}
	c.leaderUp = make(chan struct{}, 1)
}

// take returns slot's stored completion if it is request seq's.
func (c *completions) take(slot int, seq uint32) (completion, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got[slot]
	if !got.ok || got.seq != seq {
		return completion{}, false
	}
	c.got[slot] = completion{}
	return got, true
}

func (c *completions) store(slot int, got completion) {
	c.mu.Lock()
	c.got[slot] = got
	c.mu.Unlock()
	select {
	case c.wake[slot] <- struct{}{}:
	default:
	}
}

func (c *completions) freeLeader() {
	c.reader.Unlock()
	select {
	case c.leaderUp <- struct{}{}:
	default:
	}
}

// await waits for the completion of request seq on slot, whose stub is
// host process pid. A packet is (seq, slot) read by the host kernel from
// the read-only request page, and its length is 8 plus the errno: no byte
// of it can be forged by a guest, and only hostcall threads can write to
// the socket.
func (p *Platform) await(slot int, seq uint32, pid int) (unix.Errno, error) {
	var buf [8 + 4096]byte
	for {
		if got, ok := p.take(slot, seq); ok {
			return got.errno, nil
		}
		if !p.reader.TryLock() {
			select {
			case <-p.wake[slot]:
			case <-p.leaderUp:
			case <-time.After(50 * time.Millisecond):
				if unix.Kill(pid, 0) == unix.ESRCH {
					return 0, &DeadError{}
				}
			}
			continue
		}
		for {
			if got, ok := p.take(slot, seq); ok {
				p.freeLeader()
				return got.errno, nil
			}
			// A blocking read with SO_RCVTIMEO: EAGAIN every 50 ms to see
			// whether the stub died with our request.
			n, err := unix.Read(p.complR, buf[:])
			if err == unix.EAGAIN || err == unix.EINTR {
				if unix.Kill(pid, 0) == unix.ESRCH {
					p.freeLeader()
					return 0, &DeadError{}
				}
				continue
			}
			if err != nil || n == 0 {
				p.freeLeader()
				return 0, fmt.Errorf("systrap: completion socket: %w", err)
			}
			if n < 8 {
				continue
			}
			s := binary.LittleEndian.Uint32(buf[4:])
			if s >= maxSlots {
				continue
			}
			p.store(int(s), completion{seq: binary.LittleEndian.Uint32(buf[0:]), errno: unix.Errno(n - 8), ok: true})
		}
	}
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
			e := p.ctrl[i*ctrlEntry : (i+1)*ctrlEntry]
			clear(e[ctrlNr:])
			binary.LittleEndian.PutUint32(e[ctrlSlot:], uint32(i))
			atomic.StoreUint32(p.ctrlSeqWord(i), p.seq[i])
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
func ctrlAddr(i int) uint64  { return ctrlBase + uint64(i)*ctrlEntry }
func stackTop(i int) uint64  { return stacksBase + uint64(i+1)*stackSize }
func stackBase(i int) uint64 { return stacksBase + uint64(i)*stackSize }

// start creates the shared slots, the requests page, the completion pipe
// and the holder, once.
func (p *Platform) start() error {
	p.once.Do(func() { p.err = p.setUp() })
	return p.err
}

func (p *Platform) setUp() error {
	var err error
	if p.shmFD, p.shm, err = sharedMemfd("litebox-slots", shmSize); err != nil {
		return err
	}
	if p.ctrlFD, p.ctrl, err = sharedMemfd("litebox-ctrl", ctrlSize); err != nil {
		return err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("systrap: completion socket: %w", err)
	}
	p.complR, p.complW = fds[0], fds[1]
	// Completions only flow from the stubs to litebox.
	if err := unix.Shutdown(p.complR, unix.SHUT_WR); err != nil {
		return fmt.Errorf("systrap: completion socket: %w", err)
	}
	if err := unix.Shutdown(p.complW, unix.SHUT_RD); err != nil {
		return fmt.Errorf("systrap: completion socket: %w", err)
	}
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	if err := unix.SetsockoptTimeval(p.complR, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("systrap: completion socket: %w", err)
	}
	p.completions.init()
	if p.pool, err = pool.New(); err != nil {
		return err
	}
	if p.cache, err = pagecache.Default(); err != nil {
		return err
	}
	p.tracer, err = lockedthread.Start(func() error {
		var err error
		p.holder, err = p.execHolder()
		return err
	}, func() {
		// Also reaps the stubs still traced by this thread: all are the
		// holder's children.
		stubexec.ReapHolder(p.holder.tid, 10*time.Second)
	})
	// Only stubs hold the write end now.
	_ = unix.Close(p.complW)
	return err
}

// sharedMemfd creates a memfd of size bytes mapped shared into litebox.
func sharedMemfd(name string, size int) (int, []byte, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return -1, nil, fmt.Errorf("systrap: memfd %s: %w", name, err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("systrap: sizing %s: %w", name, err)
	}
	m, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("systrap: mapping %s: %w", name, err)
	}
	return fd, m, nil
}

func (p *Platform) ctrlSeqWord(slot int) *uint32 {
	return (*uint32)(unsafe.Pointer(&p.ctrl[slot*ctrlEntry+ctrlSeq]))
}

func (p *Platform) ctrlSeq(slot int) uint32 { return atomic.LoadUint32(p.ctrlSeqWord(slot)) }

// setStack writes a guest thread's stack_t into its slot's CTRL entry,
// where thread_start reads it.
func (p *Platform) setStack(slot int) {
	e := p.ctrl[slot*ctrlEntry:]
	le := binary.LittleEndian
	le.PutUint64(e[ctrlStack:], stackBase(slot))
	le.PutUint64(e[ctrlStack+8:], 0)
	le.PutUint64(e[ctrlStack+16:], stackSize)
}

// request runs syscall nr in the stub whose hostcall thread serves slot,
// and waits for its completion. The caller serialises requests per slot.
func (p *Platform) request(slot, pid int, nr uintptr, args []uint64) (uint64, error) {
	e := p.ctrl[slot*ctrlEntry : (slot+1)*ctrlEntry]
	le := binary.LittleEndian
	le.PutUint64(e[ctrlNr:], uint64(nr))
	for i := 0; i < 6; i++ {
		var a uint64
		if i < len(args) {
			a = args[i]
		}
		le.PutUint64(e[ctrlArgs+8*i:], a)
	}
	p.seq[slot]++
	seq := p.seq[slot]
	word := p.ctrlSeqWord(slot)
	atomic.StoreUint32(word, seq) // publishes the arguments (a full barrier on amd64)
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
	// Spin a little on the hostcall thread's hint before sleeping in the
	// socket read: most hostcalls take a few microseconds.
	hint := (*uint32)(unsafe.Pointer(&p.shm[slot*slotSize+slotHint]))
	for i := 0; i < hintSpinLoops && atomic.LoadUint32(hint) != seq; i++ {
	}
	errno, err := p.await(slot, seq, pid)
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return 0, nil
}

// Close ends the holder and with it every stub of the platform.
func (p *Platform) Close() {
	if p.tracer != nil {
		p.tracer.Stop()
	}
	for _, m := range []*[]byte{&p.shm, &p.ctrl} {
		if *m != nil {
			_ = unix.Munmap(*m)
			*m = nil
		}
	}
	for _, fd := range []*int{&p.shmFD, &p.ctrlFD, &p.complR} {
		if *fd > 0 {
			_ = unix.Close(*fd)
			*fd = -1
		}
	}
	if p.pool != nil {
		p.pool.Close()
	}
}

// execHolder starts the holder from a sealed memfd in new namespaces with
// fd 3 the slots, 4 the pool, 5 the requests (read-only: the stub cannot
// map them writable even with mprotect) and 6 the completion pipe.
func (p *Platform) execHolder() (*traced, error) {
	ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", p.ctrlFD), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("systrap: read-only requests fd: %w", err)
	}
	defer unix.Close(ro)
	shm := uintptr(p.shmFD)
	pid, err := stubexec.Exec(holderStub().Image, []uintptr{shm, shm, shm, shm, uintptr(p.pool.FD()), uintptr(ro), uintptr(p.complW), uintptr(p.cache.ReadOnlyFD())})
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
	if sig != unix.SIGTRAP || r.Rip != holderStub().Inject {
		_ = unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("systrap: stub set-up stopped with %v at %#x (rax %d)", sig, r.Rip, int64(r.Rax))
	}
	h.base = r
	return h, nil
}

// newProcess makes a stub process by injecting clone(flags) into parent
// (the holder, or a stub's hostcall thread), all on the calling OS thread:
// the child becomes the new stub's hostcall thread, and a first guest
// thread is added. inherited lists ranges of the parent's own (slots,
// signal stacks) that the child must not keep.
func (p *Platform) newProcess(parent *traced, flags uint64, inherited []platform.Range) (pid, hcSlot, tid, slot int, err error) {
	if hcSlot, err = p.allocSlot(); err != nil {
		return
	}
	if slot, err = p.allocSlot(); err != nil {
		p.freeSlot(hcSlot)
		return
	}
	fail := func(e error) (int, int, int, int, error) {
		if pid > 0 {
			// Still traced by this OS thread: kill and reap it here.
			(&traced{tid: pid}).abandon()
			p.retireSlot(hcSlot, pid, pid)
			p.retireSlot(slot, pid, pid)
		} else {
			p.freeSlot(hcSlot)
			p.freeSlot(slot)
		}
		return 0, 0, 0, 0, e
	}
	if pid, err = parent.clone(flags); err != nil {
		return fail(err)
	}
	c := &traced{tid: pid}
	if err = unix.PtraceGetRegs(pid, &c.base); err != nil {
		return fail(err)
	}
	for _, r := range inherited {
		if _, err = c.inject(unix.SYS_MUNMAP, r.Start, r.End-r.Start); err != nil {
			return fail(fmt.Errorf("systrap: dropping the parent's slots: %w", err))
		}
	}
	if tid, err = p.addGuestThread(c, slot); err != nil {
		return fail(err)
	}
	if err = p.startHostcall(c, hcSlot); err != nil {
		return fail(err)
	}
	return pid, hcSlot, tid, slot, nil
}

// NewAddressSpace returns a fresh, empty address space whose initial
// thread is driven by the calling goroutine (locked to its OS thread).
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	if err := p.start(); err != nil {
		return nil, err
	}
	var pid, hcSlot, tid, slot int
	var err error
	if !p.tracer.Do(func() { pid, hcSlot, tid, slot, err = p.newProcess(p.holder, holderFlags, nil) }) {
		return nil, unix.ESRCH
	}
	if err != nil {
		return nil, fmt.Errorf("systrap: new stub: %w", err)
	}
	s := p.newStub(pid, hcSlot)
	s.initial = s.newThread(tid, slot)
	// Like the ptrace platform: the caller drives the first thread.
	_ = s.initial.Bind()
	return s, nil
}

// stub is one stub process: one guest address space.
type stub struct {
	hostops.Ops // memory operations, run by the stub's hostcall thread

	p   *Platform
	pid int // the hostcall thread: the stub's first thread
	// hcSlot is the CTRL entry of the hostcall thread; hcMu serialises its
	// requests and the ptrace injections into it.
	hcSlot int
	hcMu   sync.Mutex

	mu      sync.Mutex
	threads map[int]*thread // by the OS thread driving it
	all     []*thread
	initial *thread
	dead    bool
}

func (s *stub) newThread(tid, slot int) *thread {
	t := &thread{s: s, tid: tid, slot: slot,
		state:          (*uint32)(unsafe.Pointer(&s.p.shm[slot*slotSize+slotState])),
		stubSleeping:   (*uint32)(unsafe.Pointer(&s.p.shm[slot*slotSize+slotStubSleeping])),
		kernelSleeping: (*uint32)(unsafe.Pointer(&s.p.shm[slot*slotSize+slotKernelSleeping]))}
	s.mu.Lock()
	s.all = append(s.all, t)
	s.mu.Unlock()
	return t
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

// memorySyscall reports the guest syscalls that usually make the kernel
// send requests to the hostcall thread.
func memorySyscall(nr uint64) bool {
	switch nr {
	case unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MREMAP, unix.SYS_BRK, unix.SYS_MADVISE,
		unix.SYS_EXECVE, unix.SYS_SHMAT:
		return true
	}
	return false
}

// prewake wakes the hostcall thread without a request: it spins for a
// while, so the requests the kernel is about to send find it awake
// instead of paying a scheduler wake-up each.
func (s *stub) prewake() {
	word := s.p.ctrlSeqWord(s.hcSlot)
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
}

// hostcall runs one syscall in the stub on its hostcall thread.
func (s *stub) hostcall(nr uintptr, args ...uint64) (uint64, error) {
	s.hcMu.Lock()
	defer s.hcMu.Unlock()
	if s.isDead() {
		return 0, &DeadError{}
	}
	return s.p.request(s.hcSlot, s.pid, nr, args)
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
func (p *Platform) newStub(pid, hcSlot int) *stub {
	s := &stub{p: p, pid: pid, hcSlot: hcSlot, threads: map[int]*thread{}}
	s.Ops = hostops.Ops{Call: s.hostcall, Pool: p.pool, Cache: p.cache,
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
	slot, err := s.p.allocSlot()
	if err != nil {
		return nil, err
	}
	s.hcMu.Lock()
	defer s.hcMu.Unlock()
	// The mappings go through the hostcall thread's request page (fast);
	// only the clone needs ptrace.
	call := func(nr uintptr, args ...uint64) (uint64, error) { return s.p.request(s.hcSlot, s.pid, nr, args) }
	var tid int
	err = mapThread(call, slot)
	if err == nil {
		err = s.seizeHostcall(func(tr *traced) error {
			var err error
			tid, err = s.p.cloneGuestThread(tr, slot)
			return err
		})
	}
	if err != nil {
		s.p.freeSlot(slot)
		return nil, fmt.Errorf("systrap: new stub thread: %w", err)
	}
	return s.newThread(tid, slot), nil
}

func (s *stub) Fork() (platform.AddressSpace, error) {
	s.hcMu.Lock()
	defer s.hcMu.Unlock()
	var pid, hcSlot, tid, slot int
	// The child must not keep the slot pages and signal stacks of this
	// stub's threads: they are not its own.
	inherited := []platform.Range{{Start: shmBase, End: shmBase + shmSize}, {Start: stacksBase, End: reservedEnd}}
	err := s.seizeHostcall(func(tr *traced) error {
		var err error
		pid, hcSlot, tid, slot, err = s.p.newProcess(tr, forkFlags, inherited)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("systrap: fork stub: %w", err)
	}
	c := s.p.newStub(pid, hcSlot)
	c.initial = c.newThread(tid, slot)
	return c, nil
}

// isDead reports whether the stub was released.
func (s *stub) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

// Kill kills the stub from any goroutine: for systrap that is Release.
func (s *stub) Kill() { s.Release() }

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
	s.p.retireSlot(s.hcSlot, s.pid, s.pid)
}

// thread is one stub thread and its slot.
type thread struct {
	s     *stub
	tid   int
	slot  int
	state *uint32
	// The sleeping flags of both sides: a wake is a syscall, made only
	// when the other side really sleeps in FUTEX_WAIT.
	stubSleeping, kernelSleeping *uint32
	// The guest's TLS base as litebox last set it.
	fsBase   uint64
	deadFlag atomic.Bool
	// interrupted is when Interrupt was last called without the thread
	// answering yet (0: none pending), in Unix nanoseconds.
	interrupted atomic.Int64
}

// wedgeGrace is how long a thread may leave an interrupt unanswered while
// litebox waits for it before its stub is presumed wedged (the guest wrote
// its slot state, so the handler and litebox each wait for the other) and
// killed: the sandbox's end must never depend on a guest thread.
const wedgeGrace = 3 * time.Second

// markDead retires the thread's slot: it is reused only once the whole
// stub process is gone, because the slot's page stays mapped there.
func (t *thread) markDead() {
	if t.deadFlag.CompareAndSwap(false, true) {
		t.s.p.retireSlot(t.slot, t.s.pid, t.s.pid)
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

// hintSpinLoops bounds litebox's busy wait for a hostcall's completion
// hint before it sleeps in the socket read.
const hintSpinLoops = 2000

// waitState waits until the slot holds one of the wanted states: a short
// spin (the guest often traps again within microseconds), then futex waits
// that check now and then that the stub is still alive.
func (t *thread) waitState(limit time.Duration, want ...uint32) (uint32, error) {
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
	// An interrupt counts as unanswered only while we wait.
	waitStart := time.Now().UnixNano()
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
		at := t.interrupted.Load()
		if limit > 0 && time.Since(time.Unix(0, waitStart)) > limit ||
			at != 0 && time.Since(time.Unix(0, max(at, waitStart))) > wedgeGrace {
			t.s.Release()
			return 0, &ForgedError{What: "slot state"}
		}
	}
}

// waitStopped waits until the thread is in its handler, waiting for
// litebox: it reported an event or a hostcall, or litebox parked it.
//
// A genuine thread is there already (litebox waits only after it reported
// a trap), so a thread that does not get there within wedgeGrace had its
// slot state written by the guest: its stub is killed.
func (t *thread) waitStopped() (uint32, error) {
	return t.waitState(wedgeGrace, stateEvent, stateParked)
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

// DeadError reports a stub thread that is gone.
type DeadError struct{}

func (*DeadError) Error() string { return "systrap: stub thread is gone" }

// Is makes errors.Is(err, unix.ESRCH) true.
func (*DeadError) Is(target error) bool { return target == unix.ESRCH }

// ForgedError reports a slot whose contents no stub handler can have
// written: the guest wrote its slot itself. The thread's process cannot
// be trusted to go on.
type ForgedError struct{ What string }

func (e *ForgedError) Error() string { return "systrap: forged slot: " + e.What }

// trapSignal reports the signals the stub's handler is installed for:
// the only ones a genuine event can carry (0 is a new thread's first
// report).
func trapSignal(sig unix.Signal) bool {
	switch sig {
	case 0, unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSTKFLT:
		return true
	}
	return false
}

// decodeEvent turns a slot's signal fields into an event, refusing what
// the handler cannot have written.
func decodeEvent(signo uint64, code int64) (platform.Event, error) {
	sig := unix.Signal(signo)
	if signo > 64 || !trapSignal(sig) {
		return platform.Event{}, &ForgedError{What: fmt.Sprintf("signal %d", signo)}
	}
	if code != int64(int32(code)) {
		return platform.Event{}, &ForgedError{What: fmt.Sprintf("si_code %d", code)}
	}
	switch {
	case sig == unix.SIGSYS && code == 1: // SYS_SECCOMP
		return platform.Event{Kind: platform.EventSyscall}, nil
	case sig == unix.SIGSYS:
		return platform.Event{}, &ForgedError{What: fmt.Sprintf("SIGSYS with si_code %d", code)}
	case sig == unix.SIGSTKFLT, sig == 0:
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	return platform.Event{Kind: platform.EventFault, Signal: sig, Code: int32(code)}, nil
}

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
	if _, err := t.waitState(0, stateEvent); err != nil {
		return platform.Event{}, err
	}
	t.interrupted.Store(0) // any trap answers an interrupt: litebox looks at its signals now
	for i, p := range gregs(regs) {
		*p = le.Uint64(ctx[8*i:])
	}
	// Everything read from the slot is guest-writable: the registers are
	// the guest's own anyway; segments and fs_base are ours, never its.
	regs.Fs_base = t.fsBase
	regs.Cs, regs.Ss = 0x33, 0x2b
	regs.Orig_rax = ^uint64(0)
	ev, err := decodeEvent(le.Uint64(b[slotSigno:]), int64(le.Uint64(b[slotCode:])))
	if err != nil {
		return platform.Event{}, err
	}
	switch ev.Kind {
	case platform.EventSyscall:
		regs.Orig_rax = regs.Rax // the trap rolled rax back to the number
		if memorySyscall(regs.Orig_rax) {
			t.s.prewake()
		}
	case platform.EventFault:
		ev.Addr = le.Uint64(b[slotSiAddr:])
	}
	return ev, nil
}

// Interrupt makes a running Switch return EventInterrupt.
func (t *thread) Interrupt() {
	t.interrupted.CompareAndSwap(0, time.Now().UnixNano())
	if !t.deadFlag.Load() {
		_ = unix.Tgkill(t.s.pid, t.tid, unix.SIGSTKFLT)
	}
}

// Exit ends this stub thread. Once it is gone its slot page and signal
// stack are unmapped from the stub, so the slot can serve another process
// without this one seeing it.
// CPUTime is the guest thread's own CPU time (its stub thread's), for the
// guest's thread CPU clocks and RUSAGE_THREAD.
func (t *thread) CPUTime() (time.Duration, error) { return hostcpu.Thread(t.s.pid, t.tid) }

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
	if !t.deadFlag.CompareAndSwap(false, true) {
		return
	}
	for i := 0; i < 1000 && t.alive(); i++ {
		time.Sleep(100 * time.Microsecond)
	}
	if !t.alive() {
		if _, err := t.s.hostcall(unix.SYS_MUNMAP, slotAddr(t.slot), slotSize); err == nil {
			if _, err := t.s.hostcall(unix.SYS_MUNMAP, stackBase(t.slot), stackSize); err == nil {
				t.s.p.freeSlot(t.slot)
				return
			}
		}
	}
	t.s.p.retireSlot(t.slot, t.s.pid, t.s.pid)
}

// fpStateAddr locates the XSAVE area of the trapped guest: the host kernel
// saved it in the signal frame on the thread's signal stack, and the
// frame's pointer to it is copied into the (guest-writable) slot. Only an
// area inside this thread's own signal stack is accepted.
func (t *thread) fpStateAddr(size uint64) (uint64, error) {
	addr := binary.LittleEndian.Uint64(t.slotBytes()[slotContext+23*8:])
	lo, hi := stackBase(t.slot), stackTop(t.slot)
	if addr == 0 {
		return 0, nil
	}
	if addr < lo || addr >= hi || size > hi-addr {
		return 0, &ForgedError{What: fmt.Sprintf("FP state at %#x", addr)}
	}
	return addr, nil
}

// maxXSave bounds the XSAVE area litebox reads (the largest on x86-64
// today is under 12 KiB, AMX included).
const maxXSave = 16384

// FPState reads the guest's floating-point state from the signal frame.
func (t *thread) FPState() ([]byte, error) {
	addr, err := t.fpStateAddr(512)
	if err != nil {
		return nil, err
	}
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
		if size < 512 || size > maxXSave {
			return nil, unix.EINVAL
		}
	}
	if _, err := t.fpStateAddr(uint64(size)); err != nil {
		return nil, err
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
	addr, err := t.fpStateAddr(uint64(len(b)))
	if err != nil {
		return err
	}
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

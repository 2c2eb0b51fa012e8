package vdso

import (
	"bytes"
	"errors"
	"math"
	"math/bits"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/litebox-go/litebox/platform"
)

// Offsets of the data page's fields (vdso.S has the same numbers).
const (
	vvSeq  = 0
	vvMode = 8
	vvTSC  = 16
	vvMult = 24
	vvMono = 32
	vvReal = 40

	multShift = 32 // fraction bits of vvMult
)

// How the clock follows the host's. Every period the updater compares the
// guest's clock with the host's (what Go's time.Now reads) and sets the
// rate for the next stretch so that the difference is gone in two periods,
// never changing the rate by more than maxSlew (NTP's bound is 500 ppm).
// A guest clock that fell more than maxLag behind is stepped forward;
// CLOCK_MONOTONIC never steps back. CLOCK_REALTIME keeps its distance to
// CLOCK_MONOTONIC unless the host's changes by more than realStep (the
// host's wall clock was set), then it follows, as Linux's does.
const (
	period      = 100 * time.Millisecond
	firstPeriod = 10 * time.Millisecond
	maxSlew     = 1e-3
	maxLag      = time.Millisecond
	realStep    = 20 * time.Microsecond
	minCalib    = time.Millisecond // TSC-to-host-clock span before the first rate estimate
	pageSize    = 4096
	sampleRuns  = 3
)

// params are the clock's parameters between two updates: the value of
// both clocks at TSC value tsc, and the rate.
type params struct {
	tsc, mult  uint64
	mono, real int64 // ns
}

// at returns the ns elapsed since p.tsc at TSC value tsc.
func (p *params) at(tsc uint64) int64 {
	if tsc < p.tsc {
		return 0 // another CPU's TSC a few ticks behind: the base
	}
	hi, lo := bits.Mul64(tsc-p.tsc, p.mult)
	return int64(hi<<(64-multShift) | lo>>multShift)
}

// Clock is one sandbox's guest clocks: CLOCK_MONOTONIC (and BOOTTIME, RAW,
// COARSE: the same clock) counting from the sandbox's boot, and
// CLOCK_REALTIME. When the host's TSC is usable (constant and nonstop),
// both are a function of the TSC whose parameters live in a data page
// every guest address space maps read-only below its vDSO, so the vDSO and
// the kernel's syscalls compute the same values from the same parameters:
// a clock read through one path is never ahead of a later read through
// the other. Without a usable TSC the data page says so (the vDSO then
// makes the syscall) and the kernel reads the host's clocks.
type Clock struct {
	boot   time.Time
	usable bool
	calTSC uint64
	calAt  time.Duration // host monotonic since boot at calTSC

	// seq is the kernel's own sequence count (the page's copy is never
	// read back: the page is the guest's to read, not the kernel's to
	// trust). cur is nil until the first publication.
	seq atomic.Uint64
	cur atomic.Pointer[params]

	mu      sync.Mutex
	mem     platform.Memory // the data page; nil until the first Map
	page    []byte
	stopped bool
	// cpuRestricted: RestrictCPUs was called (the page's cpuRestricted).
	cpuRestricted bool
	stop          chan struct{}
	done          chan struct{}
}

// NewClock returns the clocks of a sandbox that booted at boot. It takes
// the first TSC sample the rate is estimated from.
func NewClock(boot time.Time) *Clock {
	c := &Clock{boot: boot, usable: tscOK()}
	if c.usable {
		c.calTSC, c.calAt = c.sample()
	}
	return c
}

// tscOK is tscUsable, asked once per litebox process.
var tscOK = sync.OnceValue(tscUsable)

// tscUsable reports whether the TSC ticks at one rate on every CPU, in
// every power state (the flags Linux sets from CPUID), so that a TSC value
// read in a stub and one read in litebox are on one time line.
func tscUsable() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	i := bytes.Index(b, []byte("\nflags\t"))
	if i < 0 {
		return false
	}
	line := b[i+1:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	flags := map[string]bool{}
	for _, f := range bytes.Fields(line) {
		flags[string(f)] = true
	}
	return flags["constant_tsc"] && flags["nonstop_tsc"]
}

// sample reads the TSC and the host's monotonic clock (since boot) at one
// instant: the tightest of a few TSC brackets around time.Now.
func (c *Clock) sample() (tsc uint64, mono time.Duration) {
	tsc, mono, _ = c.sampleReal()
	return tsc, mono
}

func (c *Clock) sampleReal() (tsc uint64, mono time.Duration, real int64) {
	best := uint64(math.MaxUint64)
	for range sampleRuns {
		t1 := rdtsc()
		now := time.Now()
		t2 := rdtsc()
		if t2 >= t1 && t2-t1 < best {
			best = t2 - t1
			tsc, mono, real = t1+(t2-t1)/2, now.Sub(c.boot), now.UnixNano()
		}
	}
	return tsc, mono, real
}

// read returns both clocks now, from the published parameters.
func (c *Clock) read() (mono, real int64, ok bool) {
	for {
		s := c.seq.Load()
		if s&1 != 0 {
			runtime.Gosched() // an update is being written: a few instructions
			continue
		}
		p := c.cur.Load()
		if p == nil {
			return 0, 0, false
		}
		tsc := rdtsc()
		if c.seq.Load() == s {
			d := p.at(tsc)
			return p.mono + d, p.real + d, true
		}
	}
}

// Monotonic is CLOCK_MONOTONIC: the time since the sandbox booted.
func (c *Clock) Monotonic() time.Duration {
	if mono, _, ok := c.read(); ok {
		return time.Duration(mono)
	}
	return time.Since(c.boot)
}

// Realtime is CLOCK_REALTIME in ns since the epoch.
func (c *Clock) Realtime() int64 {
	if _, real, ok := c.read(); ok {
		return real
	}
	return time.Now().UnixNano()
}

// errStopped: the sandbox is closing; no new vDSO mappings.
var errStopped = errors.New("vdso: the clock is stopped")

// dataPage returns the data page, making it with newMemory (and starting
// the updater) the first time.
func (c *Clock) dataPage(newMemory func(uint64) (platform.Memory, error)) (platform.Memory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, errStopped
	}
	if c.mem != nil {
		return c.mem, nil
	}
	mem, err := newMemory(pageSize)
	if err != nil {
		return nil, err
	}
	if len(mem.Bytes()) < pageSize {
		return nil, errors.New("vdso: data page too small")
	}
	c.mem, c.page = mem, mem.Bytes()
	c.writeCPU(hostCPUSetup())
	if c.usable && c.publishFirst() {
		c.word(vvMode).Store(1)
		c.stop, c.done = make(chan struct{}), make(chan struct{})
		go c.updater()
	}
	return c.mem, nil
}

// word is the data page's 8-byte field at off.
func (c *Clock) word(off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&c.page[off]))
}

// publishFirst estimates the TSC rate from the calibration sample and
// publishes the first parameters, anchored at the host's clocks. It
// reports false when the rate is implausible (the TSC is then not used).
func (c *Clock) publishFirst() bool {
	if d := minCalib - (time.Since(c.boot) - c.calAt); d > 0 {
		time.Sleep(d)
	}
	tsc, mono, real := c.sampleReal()
	rate, ok := c.nominal(tsc, mono)
	if !ok {
		c.usable = false
		return false
	}
	c.publish(&params{tsc: tsc, mult: uint64(rate * (1 << multShift)), mono: int64(mono), real: real}, false)
	return true
}

// nominal is the TSC's rate in ns per tick, measured from the
// calibration sample: 10 MHz to 100 GHz is plausible.
func (c *Clock) nominal(tsc uint64, mono time.Duration) (float64, bool) {
	if tsc <= c.calTSC || mono <= c.calAt {
		return 0, false
	}
	rate := float64(mono-c.calAt) / float64(tsc-c.calTSC)
	return rate, rate > 0.01 && rate < 100
}

// publish makes p the clock's parameters. With rebase, p.tsc, p.mono and
// p.real are replaced by the TSC read inside the update and the current
// parameters' values there plus p.mono and p.real (the steps): readers
// whose TSC read came before that instant used the old parameters (the
// sequence count tells them to retry otherwise), so no clock goes back.
func (c *Clock) publish(p *params, rebase bool) {
	c.seq.Add(1)
	c.word(vvSeq).Add(1)
	if rebase {
		old := c.cur.Load()
		tsc := rdtsc()
		d := old.at(tsc)
		p.tsc, p.mono, p.real = tsc, old.mono+d+p.mono, old.real+d+p.real
	}
	c.word(vvTSC).Store(p.tsc)
	c.word(vvMult).Store(p.mult)
	c.word(vvMono).Store(uint64(p.mono))
	c.word(vvReal).Store(uint64(p.real))
	c.cur.Store(p)
	c.word(vvSeq).Add(1)
	c.seq.Add(1)
}

// updater keeps the parameters following the host's clocks until Stop.
// The first updates come sooner (from firstPeriod, doubling up to period):
// the first rate was measured over a short span only.
func (c *Clock) updater() {
	defer close(c.done)
	p := firstPeriod
	t := time.NewTimer(p)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.update(p)
			p = min(2*p, period)
			t.Reset(p)
		}
	}
}

// update sets the rate (and, rarely, steps) for the next stretch of
// about p.
func (c *Clock) update(p time.Duration) {
	tsc, hostMono, hostReal := c.sampleReal()
	rate, ok := c.nominal(tsc, hostMono)
	if !ok {
		return // keep the current rate
	}
	old := c.cur.Load()
	d := old.at(tsc)
	lag := int64(hostMono) - (old.mono + d) // > 0: the guest's clock is behind
	next := &params{}
	if lag > int64(maxLag) {
		next.mono = lag // step forward
	} else {
		adj := math.Max(-maxSlew, math.Min(maxSlew, float64(lag)/float64(2*p)))
		rate *= 1 + adj
	}
	next.mult = uint64(rate * (1 << multShift))
	next.real = next.mono // both clocks step together
	if off := (hostReal - int64(hostMono)) - (old.real - old.mono); off > int64(realStep) || off < -int64(realStep) {
		next.real += off
	}
	c.mu.Lock()
	if !c.stopped {
		c.publish(next, true)
	}
	c.mu.Unlock()
}

// Stop ends the updater and forgets the data page, before the platform
// that owns it goes away. The clocks keep working from the last
// parameters (the sandbox is ending).
func (c *Clock) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	stop, done := c.stop, c.done
	c.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	c.mu.Lock()
	c.page = nil
	c.mu.Unlock()
}

// rdtsc is in tsc_amd64.s.
func rdtsc() uint64

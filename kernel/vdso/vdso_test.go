package vdso

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/litebox-go/litebox/kernel/vdso/internal/vdsogen"
	"github.com/litebox-go/litebox/platform"
)

// TestImageIsGenerated rebuilds the vDSO from vdso.S and compares it with
// the committed vdso.so.
func TestImageIsGenerated(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is needed to rebuild the vDSO")
	}
	want, err := vdsogen.Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(image, want) {
		t.Fatal("vdso.so is stale: run `go generate ./kernel/vdso`")
	}
}

// TestImage checks what the C library and the Go runtime rely on: one r-x
// PT_LOAD from offset 0 linked at 0, a PT_DYNAMIC, the soname, no
// relocations, and each entry exported with version LINUX_2.6.
func TestImage(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 {
		t.Fatalf("type %v machine %v", f.Type, f.Machine)
	}
	var loads, dyns int
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			loads++
			if p.Off != 0 || p.Vaddr != 0 || p.Flags != elf.PF_R|elf.PF_X || p.Filesz > uint64(len(image)) {
				t.Errorf("PT_LOAD %+v: want offset 0 at 0, r-x, inside the image", p.ProgHeader)
			}
		case elf.PT_DYNAMIC:
			dyns++
		}
	}
	if loads != 1 || dyns != 1 {
		t.Fatalf("%d PT_LOAD and %d PT_DYNAMIC, want one each", loads, dyns)
	}
	if so, err := f.DynString(elf.DT_SONAME); err != nil || len(so) != 1 || so[0] != "linux-vdso.so.1" {
		t.Errorf("soname %q (%v), want linux-vdso.so.1", so, err)
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_RELA || s.Type == elf.SHT_REL {
			t.Errorf("relocation section %s: the vDSO is never relocated", s.Name)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			found[s.Name] = s.Version
		}
	}
	for _, name := range []string{"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_clock_getres",
		"__vdso_getcpu", "clock_gettime", "gettimeofday", "time", "clock_getres", "getcpu"} {
		if v, ok := found[name]; !ok || v != "LINUX_2.6" {
			t.Errorf("%s: version %q (exported: %v), want LINUX_2.6", name, v, ok)
		}
	}
	if imageSize() != pageSize {
		t.Logf("the image takes %d pages", imageSize()/pageSize)
	}
}

// fakeMemory is a data page in the test's own memory.
type fakeMemory struct{ b []byte }

func (m *fakeMemory) Bytes() []byte             { return m.b }
func (m *fakeMemory) Free(off, length uint64)   {}
func newFake(n uint64) (*fakeMemory, error)     { return &fakeMemory{b: make([]byte, n)}, nil }
func (c *Clock) pageWord(off int) uint64        { return c.word(off).Load() }
func abs(d time.Duration) time.Duration         { return max(d, -d) }
func hostMono(c *Clock) time.Duration           { return time.Since(c.boot) }
func hostReal() int64                           { return time.Now().UnixNano() }
func within(a, b int64, tol time.Duration) bool { return abs(time.Duration(a-b)) <= tol }

// TestClock publishes the parameters, checks that the page holds what the
// kernel uses, that both clocks follow the host's, and that they never go
// back across updates.
func TestClock(t *testing.T) {
	c := NewClock(time.Now())
	if !c.usable {
		t.Skip("the host's TSC is not constant and nonstop: the clock is the host's")
	}
	page, err := newFake(pageSize)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.mem, c.page = page, page.b
	if !c.publishFirst() {
		c.mu.Unlock()
		t.Fatal("the first rate estimate is implausible")
	}
	c.mu.Unlock()
	p := c.cur.Load()
	for off, want := range map[int]uint64{vvTSC: p.tsc, vvMult: p.mult, vvMono: uint64(p.mono), vvReal: uint64(p.real)} {
		if got := c.pageWord(off); got != want {
			t.Errorf("page word %d = %d, want the kernel's %d", off, got, want)
		}
	}
	if s := c.pageWord(vvSeq); s%2 != 0 || s == 0 {
		t.Errorf("page sequence %d after a publication, want even and non-zero", s)
	}
	var lastMono time.Duration
	var lastReal int64
	for i := range 20 {
		if i%4 == 3 {
			c.update(period)
		}
		for range 1000 {
			m := c.Monotonic()
			if m < lastMono {
				t.Fatalf("monotonic went back from %v to %v", lastMono, m)
			}
			lastMono = m
		}
		lastReal = c.Realtime()
		time.Sleep(2 * time.Millisecond)
	}
	// The rate came from a 1 ms calibration; the updates keep the error
	// to a few microseconds.
	if m, h := c.Monotonic(), hostMono(c); abs(m-h) > 100*time.Microsecond {
		t.Errorf("monotonic %v, host %v: off by %v", m, h, m-h)
	}
	if r, h := c.Realtime(), hostReal(); !within(r, h, 100*time.Microsecond) {
		t.Errorf("realtime %d, host %d: off by %v", r, h, time.Duration(r-h))
	}
	if lastReal == 0 {
		t.Error("no realtime read")
	}
	c.Stop()
	if c.page != nil {
		t.Error("Stop kept the page")
	}
	if _, err := c.dataPage(func(n uint64) (platform.Memory, error) { return newFake(n) }); err == nil {
		t.Error("a data page after Stop")
	}
}

// TestClockConcurrentUpdates reads both clocks from several goroutines
// while updates are published as fast as they can be: no reader may see
// monotonic time go back, and the page's sequence count ends even.
func TestClockConcurrentUpdates(t *testing.T) {
	c := NewClock(time.Now())
	if !c.usable {
		t.Skip("the host's TSC is not constant and nonstop: the clock is the host's")
	}
	page, _ := newFake(pageSize)
	if _, err := c.dataPage(func(uint64) (platform.Memory, error) { return page, nil }); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var last time.Duration
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				m := c.Monotonic()
				if m < last {
					errs <- fmt.Errorf("monotonic went back from %v to %v", last, m)
					return
				}
				last = m
			}
		}()
	}
	for range 2000 {
		c.update(firstPeriod)
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if s := page.b[vvSeq]; s%2 != 0 {
		t.Errorf("page sequence odd (%d) after the updates", s)
	}
}

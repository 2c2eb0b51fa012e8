package tty

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeHost records what a pty asks of the kernel.
type fakeHost struct {
	mu      sync.Mutex
	charged int64
	limit   int64
	sigs    []signal
}

func (h *fakeHost) Charge(n int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > 0 && h.limit > 0 && h.charged+n > h.limit {
		return errors.New("over")
	}
	h.charged += n
	return nil
}
func (h *fakeHost) Notify() {}
func (h *fakeHost) SignalGroup(pgid int, sig unix.Signal) {
	h.mu.Lock()
	h.sigs = append(h.sigs, signal{pgid: pgid, sig: sig})
	h.mu.Unlock()
}
func (h *fakeHost) SignalProcess(pid int, sig unix.Signal) {
	h.mu.Lock()
	h.sigs = append(h.sigs, signal{pid: pid, sig: sig})
	h.mu.Unlock()
}

func newTestPty(t *testing.T) (*Pty, *fakeHost) {
	t.Helper()
	h := &fakeHost{}
	fs := New(h, nil, 4)
	p, err := fs.alloc(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLocked(false)
	if _, err := p.openSlave(); err != nil {
		t.Fatal(err)
	}
	return p, h
}

var bg = context.Background()

// TestCanonical feeds input through the line discipline and checks what
// the slave reads and the master sees echoed, against Linux's N_TTY.
func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		name, in, read, echo string
		lflagOff             uint32
	}{
		{"plain", "hi\n", "hi\n", "hi\r\n", 0},
		{"erase", "ab\x7fc\n", "ac\n", "ab\b \bc\r\n", 0},
		{"erase ctl", "a\x01\x7f\n", "a\n", "a^A\b \b\b \b\r\n", 0},
		{"kill", "abc\x15d\n", "d\n", "abc\b \b\b \b\b \bd\r\n", 0},
		{"kill no echoke", "ab\x15d\n", "d\n", "ab^U\r\nd\r\n", ECHOKE},
		{"werase", "ab cd\x17e\n", "ab e\n", "ab cd\b \b\b \be\r\n", 0},
		{"cr", "x\r", "x\n", "x\r\n", 0},
		{"no echo", "pw\n", "pw\n", "", ECHO},
		{"eof ends line", "ab\x04", "ab", "ab", 0},
		{"eof alone", "\x04", "", "", 0},
		{"lnext", "\x16\x03\n", "\x03\n", "^\b^C\r\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newTestPty(t)
			tio := p.Termios()
			tio.Lflag &^= tc.lflagOff
			p.SetTermios(tio, false)
			if n, err := p.writeMaster([]byte(tc.in), false, bg); err != nil || n != len(tc.in) {
				t.Fatalf("writeMaster = %d, %v", n, err)
			}
			b := make([]byte, 100)
			n, err := p.readSlave(b, true, bg)
			if err != nil || string(b[:n]) != tc.read {
				t.Errorf("slave read %q, %v; want %q", b[:n], err, tc.read)
			}
			n, _ = p.readMaster(b, true, bg)
			if string(b[:n]) != tc.echo {
				t.Errorf("echo %q, want %q", b[:n], tc.echo)
			}
		})
	}
}

// TestSignalChars: ISIG characters signal the foreground group and flush
// the input; without ISIG they are data.
func TestSignalChars(t *testing.T) {
	p, h := newTestPty(t)
	p.Attach(7, 9, false)
	p.writeMaster([]byte("partial\x03\x1c\x1a"), false, bg)
	want := []signal{{pgid: 9, sig: unix.SIGINT}, {pgid: 9, sig: unix.SIGQUIT}, {pgid: 9, sig: unix.SIGTSTP}}
	if len(h.sigs) != 3 || h.sigs[0] != want[0] || h.sigs[1] != want[1] || h.sigs[2] != want[2] {
		t.Errorf("signals %v, want %v", h.sigs, want)
	}
	if q := p.Queued(false); q != 0 {
		t.Errorf("input after ^C: %d bytes queued, want 0", q)
	}
	tio := p.Termios()
	tio.Lflag &^= ISIG | ICANON
	p.SetTermios(tio, false)
	p.writeMaster([]byte{3}, false, bg)
	if q := p.Queued(false); q != 1 {
		t.Errorf("^C without ISIG: %d bytes queued, want 1", q)
	}
	p.SetWinsize(Winsize{Row: 5, Col: 6})
	p.SetWinsize(Winsize{Row: 5, Col: 6}) // no change: no signal
	if last := h.sigs[len(h.sigs)-1]; len(h.sigs) != 4 || last.sig != unix.SIGWINCH {
		t.Errorf("signals after resize %v, want one SIGWINCH more", h.sigs)
	}
}

// TestQueuesBounded: the input queue holds N_TTY_BUF_SIZE bytes; a full
// raw queue makes writers wait (EAGAIN), a full canonical line drops what
// cannot end it; output waits when the master does not read.
func TestQueuesBounded(t *testing.T) {
	p, _ := newTestPty(t)
	big := make([]byte, inCap+10)
	for i := range big {
		big[i] = 'a'
	}
	n, err := p.writeMaster(big, true, bg)
	if err != nil || n != len(big) {
		t.Errorf("canonical overlong line: wrote %d, %v; want all (extra dropped)", n, err)
	}
	if q := len(p.in); q != inCap-1 {
		t.Errorf("queued %d, want %d", q, inCap-1)
	}
	if n, err := p.writeMaster([]byte("\n"), true, bg); n != 1 || err != nil {
		t.Errorf("newline on a full line: %d, %v", n, err)
	}
	tio := p.Termios()
	tio.Lflag &^= ICANON | ECHO
	p.SetTermios(tio, true)
	if n, _ := p.writeMaster(big, true, bg); n != inCap-1 {
		t.Errorf("raw: wrote %d, want %d", n, inCap-1)
	}
	if _, err := p.writeMaster([]byte("x"), true, bg); err != unix.EAGAIN {
		t.Errorf("raw full: %v, want EAGAIN", err)
	}
	p.Flush(true, unix.TCIFLUSH) // the echoes of the canonical line
	out := make([]byte, outCap+1)
	if n, _ := p.writeSlave(out, true, bg); n != outCap {
		t.Errorf("output: wrote %d, want %d", n, outCap)
	}
	if _, err := p.writeSlave([]byte("x"), true, bg); err != unix.EAGAIN {
		t.Errorf("output full: %v, want EAGAIN", err)
	}
}

// TestChargeAndCount: each pty is charged Cost until both ends close, and
// a devpts holds at most its maximum.
func TestChargeAndCount(t *testing.T) {
	h := &fakeHost{}
	fs := New(h, nil, 2)
	a, err := fs.alloc(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.alloc(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.alloc(nil); err != unix.ENOSPC {
		t.Errorf("third pty: %v, want ENOSPC", err)
	}
	if h.charged != 2*Cost {
		t.Errorf("charged %d, want %d", h.charged, 2*Cost)
	}
	a.SetLocked(false)
	s, _ := a.openSlave()
	(&Master{p: a}).Close()
	if h.charged != 2*Cost {
		t.Errorf("after the master closed (slave open): charged %d, want %d", h.charged, 2*Cost)
	}
	if fs.entry(a.Index()) != nil {
		t.Errorf("/dev/pts/%d still listed after its master closed", a.Index())
	}
	s.Close()
	if h.charged != Cost {
		t.Errorf("after both closed: charged %d, want %d", h.charged, Cost)
	}
	lim := &fakeHost{limit: Cost - 1}
	if _, err := New(lim, nil, 2).alloc(nil); err != unix.ENOMEM {
		t.Errorf("over the memory limit: %v, want ENOMEM", err)
	}
}

// TestCostCoversHeap: a pty with both queues full takes no more of
// litebox's heap than Cost charges for it.
func TestCostCoversHeap(t *testing.T) {
	const n = 100
	h := &fakeHost{}
	fs := New(h, nil, n)
	fill := make([]byte, outCap)
	ptys := make([]*Pty, 0, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		m, err := fs.OpenMaster(nil)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Pty()
		p.SetLocked(false)
		if _, err := p.openSlave(); err != nil {
			t.Fatal(err)
		}
		tio := p.Termios()
		tio.Lflag &^= ICANON | ECHO
		p.SetTermios(tio, false)
		p.writeMaster(fill[:inCap], true, bg)
		p.writeSlave(fill, true, bg)
		if len(p.in) != inCap-1 || len(p.out) != outCap {
			t.Fatalf("queues %d and %d, want full", len(p.in), len(p.out))
		}
		ptys = append(ptys, p)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per full pty, %d charged", per, Cost)
	if per > Cost {
		t.Errorf("a full pty takes %d bytes of heap but is charged %d", per, Cost)
	}
	runtime.KeepAlive(ptys)
}

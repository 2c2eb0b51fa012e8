package pipe_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/pipe"
)

// lockedAccount is a Charge safe for the goroutines of a FIFO test.
type lockedAccount struct {
	mu   sync.Mutex
	held int64
}

func (a *lockedAccount) charge(n int64) error {
	a.mu.Lock()
	a.held += n
	a.mu.Unlock()
	return nil
}

func (a *lockedAccount) get() int64 { a.mu.Lock(); defer a.mu.Unlock(); return a.held }

// TestFIFONonblockingOpens: fifo(7)'s rules for opens that do not wait.
func TestFIFONonblockingOpens(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   int // flags of an open made before, -1: none
		flags   int
		wantErr error
	}{
		{"writer without reader", -1, unix.O_WRONLY | unix.O_NONBLOCK, unix.ENXIO},
		{"reader without writer", -1, unix.O_RDONLY | unix.O_NONBLOCK, nil},
		{"O_RDWR alone", -1, unix.O_RDWR, nil},
		{"writer with a reader", unix.O_RDONLY | unix.O_NONBLOCK, unix.O_WRONLY | unix.O_NONBLOCK, nil},
		{"writer with an O_RDWR end", unix.O_RDWR, unix.O_WRONLY | unix.O_NONBLOCK, nil},
		{"blocking reader with an O_RDWR end", unix.O_RDWR, unix.O_RDONLY, nil},
		{"blocking writer with an O_RDWR end", unix.O_RDWR, unix.O_WRONLY, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &lockedAccount{}
			f := pipe.NewFIFO(a.charge)
			var ends []*pipe.End
			if tc.first >= 0 {
				e, err := f.Open(tc.first, context.Background())
				if err != nil {
					t.Fatalf("first open: %v", err)
				}
				ends = append(ends, e)
			}
			e, err := f.Open(tc.flags, context.Background())
			if err != tc.wantErr {
				t.Fatalf("Open = %v, want %v", err, tc.wantErr)
			}
			if e != nil {
				ends = append(ends, e)
			}
			for _, e := range ends {
				_ = e.Close()
			}
			if got := a.get(); got != 0 {
				t.Fatalf("%d bytes still charged after every end closed", got)
			}
		})
	}
}

// TestFIFORendezvous: a blocking reader waits for a writer (and the other
// way round); data flows between them; the data of a FIFO whose ends are
// all closed is gone.
func TestFIFORendezvous(t *testing.T) {
	f := pipe.NewFIFO(nil)
	got := make(chan *pipe.End)
	go func() {
		e, err := f.Open(unix.O_RDONLY, context.Background())
		if err != nil {
			t.Errorf("reader open: %v", err)
		}
		got <- e
	}()
	select {
	case <-got:
		t.Fatal("a reader's open returned with no writer")
	case <-time.After(50 * time.Millisecond):
	}
	w, err := f.Open(unix.O_WRONLY, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var r *pipe.End
	select {
	case r = <-got:
	case <-time.After(waitTimeout):
		t.Fatal("reader still waiting after a writer opened")
	}
	if n, err := w.WriteCancel([]byte("hi"), 0, context.Background()); n != 2 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	b := make([]byte, 8)
	if n, err := r.ReadCancel(b, 0, context.Background()); n != 2 || err != nil || string(b[:2]) != "hi" {
		t.Fatalf("read = %d %q, %v", n, b[:n], err)
	}
	// Leave data behind, close everything, open again: it is gone.
	_, _ = w.WriteCancel([]byte("stale"), 0, context.Background())
	_, _ = w.Close(), r.Close()
	rw, err := f.Open(unix.O_RDWR, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rw.ReadCancel(b, unix.O_NONBLOCK, context.Background()); n != 0 || err != unix.EAGAIN {
		t.Fatalf("read of a new pipe = %d, %v; want EAGAIN", n, err)
	}
	_ = rw.Close()
}

// TestFIFOInterruptedOpen: a wait ended by its context returns
// ERESTARTSYS and leaves no end behind (a non-blocking writer then still
// sees no reader).
func TestFIFOInterruptedOpen(t *testing.T) {
	for _, flags := range []int{unix.O_RDONLY, unix.O_WRONLY} {
		a := &lockedAccount{}
		f := pipe.NewFIFO(a.charge)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		if _, err := f.Open(flags, ctx); err != errRestartSys {
			t.Fatalf("open %#x: %v, want ERESTARTSYS", flags, err)
		}
		if _, err := f.Open(unix.O_WRONLY|unix.O_NONBLOCK, context.Background()); err != unix.ENXIO {
			t.Fatalf("after the interrupted open %#x: %v, want ENXIO", flags, err)
		}
		if got := a.get(); got != 0 {
			t.Fatalf("%d bytes still charged", got)
		}
	}
}

// TestReopen: a pipe opened again through /proc/self/fd gets ends of the
// access mode asked for, which count as readers and writers.
func TestReopen(t *testing.T) {
	p := pipe.New()
	r, w := p.Ends()
	r2, err := p.Reopen(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	rw, err := p.Reopen(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	// rw still writes: no EOF, no EPIPE.
	if n, err := rw.WriteCancel([]byte("x"), 0, context.Background()); n != 1 || err != nil {
		t.Fatalf("write through the O_RDWR end = %d, %v", n, err)
	}
	b := make([]byte, 4)
	if n, err := r2.ReadCancel(b, 0, context.Background()); n != 1 || err != nil {
		t.Fatalf("read through the reopened end = %d, %v", n, err)
	}
	if ev := rw.Readiness(); ev&unix.POLLOUT == 0 || ev&(unix.POLLHUP|unix.POLLERR) != 0 {
		t.Fatalf("O_RDWR readiness = %#x", ev)
	}
	_ = rw.Close()
	if n, err := r.ReadCancel(b, unix.O_NONBLOCK, context.Background()); n != 0 || err != nil {
		t.Fatalf("read with no writer left = %d, %v; want EOF", n, err)
	}
	_, _ = r.Close(), r2.Close()
	if _, err := p.Reopen(unix.O_RDONLY); err != unix.ENOENT {
		t.Fatalf("Reopen of a closed pipe = %v, want ENOENT", err)
	}
}

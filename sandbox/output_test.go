package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// lockedBuffer is a bytes.Buffer safe for the pump and the test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	release chan struct{}
	lockedBuffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.lockedBuffer.Write(p)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, unix.EPIPE }

func sinkOf(t *testing.T, o *hostOutput, w io.Writer) vfs.CancelWriter {
	t.Helper()
	cw, ok := o.sink(w).(vfs.CancelWriter)
	if !ok {
		t.Fatal("sink is not a CancelWriter")
	}
	return cw
}

// TestHostOutputOrder: writes to two streams sharing one destination
// arrive in the order they were made, all of them by the time close
// returns.
func TestHostOutputOrder(t *testing.T) {
	var dst lockedBuffer
	o := newHostOutput()
	out, errs := sinkOf(t, o, &dst), sinkOf(t, o, &dst)
	var want bytes.Buffer
	for i := range 200 {
		s := []byte{byte('a' + i%26)}
		w := out
		if i%3 == 0 {
			w = errs
		}
		if n, err := w.WriteCancel(s, 0, context.Background()); n != 1 || err != nil {
			t.Fatalf("WriteCancel = %d, %v", n, err)
		}
		want.Write(s)
	}
	if !o.close(nil, 0) {
		t.Fatal("close did not drain")
	}
	if dst.String() != want.String() {
		t.Fatalf("host got %q, want %q", dst.String(), want.String())
	}
}

// TestHostOutputFull: with the host writer stuck, a guest write waits once
// the buffer is full, gives up when cancelled (ERESTARTSYS, or the count
// queued so far), fails with EAGAIN when non-blocking, and resumes when the
// host reads again.
func TestHostOutputFull(t *testing.T) {
	dst := &blockingWriter{release: make(chan struct{})}
	o := newHostOutput()
	w := sinkOf(t, o, dst)
	big := bytes.Repeat([]byte("x"), outputBuffer+10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		n, err = w.WriteCancel(big, 0, ctx)
	}()
	select {
	case <-done:
		t.Fatalf("a write larger than the buffer returned at once: %d, %v", n, err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	<-done
	if err != nil || n <= 0 || n >= len(big) {
		t.Fatalf("cancelled write = %d, %v; want the part queued", n, err)
	}
	if n2, err := w.WriteCancel([]byte("y"), 0, ctx); n2 != 0 || err != kernel.ERESTARTSYS {
		t.Fatalf("cancelled write with nothing queued = %d, %v; want ERESTARTSYS", n2, err)
	}
	if n2, err := w.WriteCancel([]byte("y"), unix.O_NONBLOCK, context.Background()); n2 != 0 || err != unix.EAGAIN {
		t.Fatalf("non-blocking write to a full buffer = %d, %v; want EAGAIN", n2, err)
	}
	close(dst.release)
	if n2, err := w.WriteCancel([]byte("z"), 0, context.Background()); n2 != 1 || err != nil {
		t.Fatalf("write after the host read = %d, %v", n2, err)
	}
	if !o.close(nil, 0) {
		t.Fatal("close did not drain")
	}
	if got := len(dst.String()); got != n+1 {
		t.Fatalf("host got %d bytes, want %d", got, n+1)
	}
}

// TestHostOutputError: the host stream's error reaches the guest on its
// next write.
func TestHostOutputError(t *testing.T) {
	o := newHostOutput()
	w := sinkOf(t, o, failingWriter{})
	if n, err := w.WriteCancel([]byte("a"), 0, context.Background()); n != 1 || err != nil {
		t.Fatalf("first write = %d, %v", n, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, err := w.WriteCancel([]byte("b"), 0, context.Background())
		if err == unix.EPIPE && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write after a host EPIPE = %d, %v; want EPIPE", n, err)
		}
		time.Sleep(time.Millisecond)
	}
	o.close(nil, 0)
}

// TestHostOutputCloseGivesUp: close stops waiting for a stuck host writer
// when told to.
func TestHostOutputCloseGivesUp(t *testing.T) {
	dst := &blockingWriter{release: make(chan struct{})}
	defer close(dst.release)
	o := newHostOutput()
	w := sinkOf(t, o, dst)
	if _, err := w.WriteCancel([]byte("stuck"), 0, context.Background()); err != nil {
		t.Fatal(err)
	}
	giveUp := make(chan struct{})
	close(giveUp)
	if o.close(giveUp, 0) {
		t.Fatal("close reported a drained output with the host writer stuck")
	}
	if o.close(nil, 10*time.Millisecond) {
		t.Fatal("close with a wait reported a drained output with the host writer stuck")
	}
	if _, err := w.WriteCancel([]byte("late"), 0, context.Background()); !errors.Is(err, unix.EPIPE) {
		t.Fatalf("write after close = %v, want EPIPE", err)
	}
}

// TestWatchEnd: the guest's threads are given up on only once the sandbox
// is ending or killed, and only if they are not gone within the grace.
func TestWatchEnd(t *testing.T) {
	closed := func() chan struct{} { c := make(chan struct{}); close(c); return c }
	for _, tc := range []struct {
		name           string
		ending, killed chan struct{}
		tasksDone      chan struct{}
		finishLater    bool // close tasksDone after a short while
		wantAbandon    bool
	}{
		{name: "tasks done first", ending: make(chan struct{}), killed: make(chan struct{}), tasksDone: closed()},
		{name: "ending, tasks go in time", ending: closed(), killed: make(chan struct{}), tasksDone: make(chan struct{}), finishLater: true},
		{name: "ending, tasks stuck", ending: closed(), killed: make(chan struct{}), tasksDone: make(chan struct{}), wantAbandon: true},
		{name: "killed, tasks stuck", ending: make(chan struct{}), killed: closed(), tasksDone: make(chan struct{}), wantAbandon: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			abandoned := make(chan struct{}, 1)
			ret := make(chan struct{})
			go func() {
				watchEnd(tc.ending, tc.killed, tc.tasksDone, 50*time.Millisecond, func() { abandoned <- struct{}{} })
				close(ret)
			}()
			if tc.finishLater {
				time.Sleep(5 * time.Millisecond)
				close(tc.tasksDone)
			}
			select {
			case <-ret:
			case <-time.After(5 * time.Second):
				t.Fatal("watchEnd did not return")
			}
			if got := len(abandoned) == 1; got != tc.wantAbandon {
				t.Fatalf("abandoned = %v, want %v", got, tc.wantAbandon)
			}
		})
	}
}

package pipe_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/pipe"
)

// errRestartSys is the kernel's ERESTARTSYS.
const errRestartSys = unix.Errno(512)

const waitTimeout = 2 * time.Second

type ioResult struct {
	n   int
	err error
	buf []byte
}

func TestReadWriteNonblock(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(p *pipe.Pipe, r, w *pipe.End)
		readLen   int
		wantN     int
		wantErr   error
		wantBytes string
	}{
		{"empty", func(*pipe.Pipe, *pipe.End, *pipe.End) {}, 8, 0, unix.EAGAIN, ""},
		{"zero-length read", func(*pipe.Pipe, *pipe.End, *pipe.End) {}, 0, 0, nil, ""},
		{"data", func(p *pipe.Pipe, _, _ *pipe.End) { mustWrite(p, "hello") }, 8, 5, nil, "hello"},
		{"short buffer", func(p *pipe.Pipe, _, _ *pipe.End) { mustWrite(p, "hello") }, 3, 3, nil, "hel"},
		{"EOF", func(_ *pipe.Pipe, _, w *pipe.End) { _ = w.Close() }, 8, 0, nil, ""},
		{"data then EOF", func(p *pipe.Pipe, _, w *pipe.End) { mustWrite(p, "ab"); _ = w.Close() }, 8, 2, nil, "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pipe.New()
			r, w := p.Ends()
			tc.setup(p, r, w)
			b := make([]byte, tc.readLen)
			n, err := p.Read(b, true, context.Background())
			if n != tc.wantN || err != tc.wantErr || string(b[:n]) != tc.wantBytes {
				t.Fatalf("Read = %d %q, %v; want %d %q, %v", n, b[:n], err, tc.wantN, tc.wantBytes, tc.wantErr)
			}
		})
	}
}

func mustWrite(p *pipe.Pipe, s string) {
	if n, err := p.Write([]byte(s), true, context.Background()); n != len(s) || err != nil {
		panic("write failed")
	}
}

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fill     int // bytes already buffered
		closeR   bool
		data     int
		nonblock bool
		wantN    int
		wantErr  error
	}{
		{"small", 0, false, 10, true, 10, nil},
		{"zero length", 0, false, 0, true, 0, nil},
		{"zero length no readers", 0, true, 0, true, 0, unix.EPIPE},
		{"no readers", 0, true, 10, true, 0, unix.EPIPE},
		{"no readers blocking", 0, true, 10, false, 0, unix.EPIPE},
		{"exactly fills", 0, false, pipe.Capacity, true, pipe.Capacity, nil},
		{"full", pipe.Capacity, false, 1, true, 0, unix.EAGAIN},
		// PIPE_BUF atomicity: 4096 bytes into 4095 free never write partially.
		{"atomic no room", pipe.Capacity - 4095, false, 4096, true, 0, unix.EAGAIN},
		{"atomic fits", pipe.Capacity - 4096, false, 4096, true, 4096, nil},
		{"small atomic no room", pipe.Capacity - 9, false, 10, true, 0, unix.EAGAIN},
		// Larger writes may be partial.
		{"large partial", pipe.Capacity - 100, false, 4097, true, 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pipe.New()
			r, _ := p.Ends()
			if tc.fill > 0 {
				mustWrite(p, string(make([]byte, tc.fill)))
			}
			if tc.closeR {
				_ = r.Close()
			}
			n, err := p.Write(make([]byte, tc.data), tc.nonblock, context.Background())
			if n != tc.wantN || err != tc.wantErr {
				t.Fatalf("Write = %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			if !tc.closeR {
				if got := p.Buffered(); got != tc.fill+tc.wantN {
					t.Fatalf("Buffered = %d, want %d", got, tc.fill+tc.wantN)
				}
			}
		})
	}
}

func TestBlockedReadWokenByWrite(t *testing.T) {
	p := pipe.New()
	done := make(chan ioResult, 1)
	go func() {
		b := make([]byte, 16)
		n, err := p.Read(b, false, context.Background())
		done <- ioResult{n, err, b[:n]}
	}()
	select {
	case r := <-done:
		t.Fatalf("Read returned before a write: %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
	mustWrite(p, "ping")
	select {
	case r := <-done:
		if r.n != 4 || r.err != nil || string(r.buf) != "ping" {
			t.Fatalf("Read = %d %q, %v", r.n, r.buf, r.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Read not woken by write")
	}
}

func TestBlockedReadWokenByClose(t *testing.T) {
	p := pipe.New()
	_, w := p.Ends()
	done := make(chan ioResult, 1)
	go func() {
		n, err := p.Read(make([]byte, 16), false, context.Background())
		done <- ioResult{n: n, err: err}
	}()
	time.Sleep(10 * time.Millisecond)
	_ = w.Close()
	select {
	case r := <-done:
		if r.n != 0 || r.err != nil {
			t.Fatalf("Read = %d, %v; want EOF", r.n, r.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Read not woken by close")
	}
}

func TestBlockedCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   func(p *pipe.Pipe, ctx context.Context) (int, error)
	}{
		{"read", func(p *pipe.Pipe, ctx context.Context) (int, error) {
			return p.Read(make([]byte, 4), false, ctx)
		}},
		{"write to full pipe", func(p *pipe.Pipe, ctx context.Context) (int, error) {
			mustWrite(p, string(make([]byte, pipe.Capacity)))
			return p.Write([]byte("x"), false, ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pipe.New()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan ioResult, 1)
			go func() {
				n, err := tc.op(p, ctx)
				done <- ioResult{n: n, err: err}
			}()
			select {
			case r := <-done:
				t.Fatalf("returned before cancel: %+v", r)
			case <-time.After(20 * time.Millisecond):
			}
			cancel()
			select {
			case r := <-done:
				if r.n != 0 || r.err != errRestartSys {
					t.Fatalf("got %d, %v; want 0, ERESTARTSYS", r.n, r.err)
				}
			case <-time.After(waitTimeout):
				t.Fatal("not woken by cancel")
			}
		})
	}
}

func TestBlockedWriteCompletesAfterRead(t *testing.T) {
	p := pipe.New()
	mustWrite(p, string(make([]byte, pipe.Capacity-10)))
	msg := bytes.Repeat([]byte("z"), 100) // atomic: must wait for 100 free bytes
	done := make(chan ioResult, 1)
	go func() {
		n, err := p.Write(msg, false, context.Background())
		done <- ioResult{n: n, err: err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Write returned early: %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
	if p.Buffered() != pipe.Capacity-10 {
		t.Fatalf("atomic write went in partially: Buffered = %d", p.Buffered())
	}
	if n, err := p.Read(make([]byte, 1000), true, context.Background()); n != 1000 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	select {
	case r := <-done:
		if r.n != 100 || r.err != nil {
			t.Fatalf("Write = %d, %v", r.n, r.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Write not woken by read")
	}
}

func TestBlockedWriteEPIPEWhenReaderCloses(t *testing.T) {
	p := pipe.New()
	r, _ := p.Ends()
	mustWrite(p, string(make([]byte, pipe.Capacity)))
	done := make(chan ioResult, 1)
	go func() {
		n, err := p.Write([]byte("x"), false, context.Background())
		done <- ioResult{n: n, err: err}
	}()
	time.Sleep(10 * time.Millisecond)
	_ = r.Close()
	select {
	case res := <-done:
		if res.n != 0 || res.err != unix.EPIPE {
			t.Fatalf("Write = %d, %v; want EPIPE", res.n, res.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Write not woken by reader close")
	}
}

func TestReadiness(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fill         int
		closeR       bool
		closeW       bool
		wantR, wantW int16
	}{
		{"empty", 0, false, false, 0, unix.POLLOUT},
		{"data", 1, false, false, unix.POLLIN, unix.POLLOUT},
		{"room for PIPE_BUF", pipe.Capacity - 4096, false, false, unix.POLLIN, unix.POLLOUT},
		{"less than PIPE_BUF free", pipe.Capacity - 4095, false, false, unix.POLLIN, 0},
		{"full", pipe.Capacity, false, false, unix.POLLIN, 0},
		{"writer gone", 0, false, true, unix.POLLHUP, unix.POLLOUT},
		{"writer gone with data", 3, false, true, unix.POLLIN | unix.POLLHUP, unix.POLLOUT},
		{"reader gone", 0, true, false, 0, unix.POLLERR | unix.POLLOUT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pipe.New()
			r, w := p.Ends()
			if tc.fill > 0 {
				mustWrite(p, string(make([]byte, tc.fill)))
			}
			if tc.closeR {
				_ = r.Close()
			}
			if tc.closeW {
				_ = w.Close()
			}
			if got := p.Readiness(false); got != tc.wantR {
				t.Errorf("read end = %#x, want %#x", got, tc.wantR)
			}
			if got := p.Readiness(true); got != tc.wantW {
				t.Errorf("write end = %#x, want %#x", got, tc.wantW)
			}
			if got := r.Readiness(); got != tc.wantR {
				t.Errorf("End(read).Readiness = %#x, want %#x", got, tc.wantR)
			}
			if got := w.Readiness(); got != tc.wantW {
				t.Errorf("End(write).Readiness = %#x, want %#x", got, tc.wantW)
			}
			if got := p.Buffered(); got != tc.fill {
				t.Errorf("Buffered = %d, want %d", got, tc.fill)
			}
		})
	}
}

func TestBufferedAndOrder(t *testing.T) {
	p := pipe.New()
	r, w := p.Ends()
	for _, s := range []string{"ab", "cde", "f"} {
		if n, err := w.WriteCancel([]byte(s), unix.O_NONBLOCK, context.Background()); n != len(s) || err != nil {
			t.Fatalf("WriteCancel(%q) = %d, %v", s, n, err)
		}
	}
	if got := r.Buffered(); got != 6 {
		t.Fatalf("Buffered = %d, want 6", got)
	}
	b := make([]byte, 4)
	if n, err := r.ReadCancel(b, unix.O_NONBLOCK, context.Background()); n != 4 || err != nil || string(b) != "abcd" {
		t.Fatalf("ReadCancel = %d %q, %v", n, b[:n], err)
	}
	if got := p.Buffered(); got != 2 {
		t.Fatalf("Buffered = %d, want 2", got)
	}
}

func TestEnds(t *testing.T) {
	p := pipe.New()
	r, w := p.Ends()
	if _, err := r.WriteCancel([]byte("x"), 0, context.Background()); err != unix.EBADF {
		t.Errorf("write on read end = %v, want EBADF", err)
	}
	if _, err := w.ReadCancel(make([]byte, 1), 0, context.Background()); err != unix.EBADF {
		t.Errorf("read on write end = %v, want EBADF", err)
	}
	if !r.IsStream() || r.Pipe() != p || w.Pipe() != p {
		t.Error("IsStream/Pipe")
	}
	st, err := r.Stat()
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("Stat = %+v, %v", st, err)
	}
	st2, _ := w.Stat()
	if st.Ino != st2.Ino {
		t.Errorf("ends have inodes %d and %d", st.Ino, st2.Ino)
	}
	if r.Truncate(0) != unix.EINVAL || r.Sync() != unix.EINVAL {
		t.Error("Truncate/Sync not EINVAL")
	}
	// Shutdown then Close counts the reader once: had it been released
	// twice, the count would be -1 and a write would not see EPIPE.
	_ = r.Shutdown()
	_ = r.Close()
	if n, err := p.Write([]byte("x"), true, context.Background()); n != 0 || err != unix.EPIPE {
		t.Fatalf("Write with the only reader gone = %d, %v; want EPIPE", n, err)
	}
}

func TestNotify(t *testing.T) {
	p := pipe.New()
	calls := make(chan struct{}, 16)
	p.SetNotify(func() { calls <- struct{}{} })
	mustWrite(p, "x")
	select {
	case <-calls:
	default:
		t.Fatal("no notify on write")
	}
	if _, err := p.Read(make([]byte, 1), true, context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-calls:
	default:
		t.Fatal("no notify on read")
	}
}

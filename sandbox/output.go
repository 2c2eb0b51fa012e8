package sandbox

import (
	"context"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// outputBuffer bounds the guest output accepted but not yet written to the
// host, for stdout and stderr together: what a pipe would buffer.
const outputBuffer = 64 << 10

// hostOutput carries the guest's writes to the host's stdout and stderr.
// A host write can block for as long as whoever reads litebox's output
// pleases, and a blocked host write cannot be interrupted; so guest writes
// only queue their bytes (waiting, interruptibly, while the queue is full,
// as on a full pipe) and one goroutine writes them out in the order they
// were made, across both streams, so that interleaved stdout and stderr
// keep their order when they reach the same terminal.
type hostOutput struct {
	mu      sync.Mutex
	queue   []outChunk
	queued  int
	changed chan struct{} // closed and replaced when the queue shrinks
	work    chan struct{} // one token: the pump has something to do
	closed  bool
	done    chan struct{} // the pump has written everything and stopped
}

type outChunk struct {
	sink *outSink
	b    []byte
}

// outSink is one host stream fed through a hostOutput.
type outSink struct {
	o *hostOutput
	w io.Writer
	// err is the first error the host stream gave; the guest sees it on
	// its next write, as a pipe whose reader left gives EPIPE. Guarded by
	// o.mu.
	err error
}

func newHostOutput() *hostOutput {
	o := &hostOutput{changed: make(chan struct{}), work: make(chan struct{}, 1), done: make(chan struct{})}
	go o.pump()
	return o
}

// sink returns the guest-side writer for w (nil stays nil: no stream).
func (o *hostOutput) sink(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return &outSink{o: o, w: w}
}

func (o *hostOutput) pump() {
	defer close(o.done)
	for {
		o.mu.Lock()
		for len(o.queue) == 0 {
			if o.closed {
				o.mu.Unlock()
				return
			}
			o.mu.Unlock()
			<-o.work
			o.mu.Lock()
		}
		c := o.queue[0]
		skip := c.sink.err != nil
		o.mu.Unlock()
		var err error
		if !skip {
			_, err = c.sink.w.Write(c.b)
		}
		o.mu.Lock()
		o.queue[0] = outChunk{}
		o.queue = o.queue[1:]
		o.queued -= len(c.b)
		if err != nil && c.sink.err == nil {
			c.sink.err = err
		}
		close(o.changed)
		o.changed = make(chan struct{})
		o.mu.Unlock()
	}
}

// Write is WriteCancel without a way to give up (the vfs calls it only for
// writers that cannot wait, which this one is not; kept for io.Writer).
func (s *outSink) Write(p []byte) (int, error) { return s.WriteCancel(p, 0, context.Background()) }

// WriteCancel queues p, waiting while the queue is full until there is
// room or ctx is done; it returns how much it queued (ERESTARTSYS if
// nothing, EAGAIN with O_NONBLOCK).
func (s *outSink) WriteCancel(p []byte, flags int, ctx context.Context) (int, error) {
	o := s.o
	done := 0
	o.mu.Lock()
	defer o.mu.Unlock()
	for done < len(p) {
		if s.err != nil || o.closed {
			if done > 0 {
				return done, nil
			}
			if s.err != nil {
				return 0, vfs.ErrnoOf(s.err)
			}
			return 0, unix.EPIPE
		}
		room := outputBuffer - o.queued
		if room <= 0 {
			if flags&unix.O_NONBLOCK != 0 {
				if done > 0 {
					return done, nil
				}
				return 0, unix.EAGAIN
			}
			ch := o.changed
			o.mu.Unlock()
			select {
			case <-ch:
				o.mu.Lock()
				continue
			case <-ctx.Done():
				o.mu.Lock()
				if done > 0 {
					return done, nil
				}
				return 0, kernel.ERESTARTSYS
			}
		}
		n := min(room, len(p)-done)
		o.queue = append(o.queue, outChunk{sink: s, b: append([]byte(nil), p[done:done+n]...)})
		o.queued += n
		done += n
		select {
		case o.work <- struct{}{}:
		default:
		}
	}
	return done, nil
}

// close stops taking writes and waits until everything queued reached the
// host, or until giveUp closes (nil: no limit) or wait passes (0: none);
// it reports whether the output drained.
func (o *hostOutput) close(giveUp <-chan struct{}, wait time.Duration) bool {
	o.mu.Lock()
	o.closed = true
	close(o.changed) // writers waiting for room see the close
	o.changed = make(chan struct{})
	o.mu.Unlock()
	select {
	case o.work <- struct{}{}:
	default:
	}
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-o.done:
		return true
	case <-giveUp:
	case <-timeout:
	}
	return false
}

// Package audit is the sandbox's audit log: JSON lines, one event per line,
// written by one goroutine so that a guest that provokes events as fast as
// it can (a loop of refused syscalls) can neither block itself on a slow
// writer nor make litebox hold or write without bound.
//
// Three bounds apply:
//   - Coalescing: an event identical to one written less than a window ago
//     (same message and the same attributes, values included) is only
//     counted; when the window ends, one line with the same fields plus
//     "count" says how many such events it stands for. A steady stream of
//     one event thus costs one line per key and window.
//   - A bounded queue between the guest threads and the writer: when it is
//     full the event is dropped and counted, and an "audit_dropped" line
//     later reports how many were lost.
//   - A size cap: the line that would take the file past it is replaced by
//     one final "audit_truncated" line (space for it is always kept), and
//     nothing is written after that.
package audit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero fields of Options.
const (
	DefaultWindow  = time.Second
	DefaultQueue   = 1024
	DefaultMaxKeys = 4096
)

// truncReserve is kept free below the size cap for the final
// audit_truncated line, which is far shorter (about 120 bytes).
const truncReserve = 256

// critQueue is the queue of events that are never coalesced (start, exit,
// kernel errors): few per run, so a small queue of their own means a flood
// of guest events cannot crowd them out.
const critQueue = 64

// Options tune a Log; zero fields get the defaults.
type Options struct {
	// MaxSize caps the bytes in the file, Existing included; 0: no cap.
	MaxSize int64
	// Existing is how many bytes the file already holds (an appended file).
	Existing int64
	// Window is the coalescing window.
	Window time.Duration
	// Queue is how many events may wait for the writer.
	Queue int
	// MaxKeys bounds the distinct events remembered for coalescing; an event
	// with a new key beyond it is dropped (and counted) until a window ends.
	MaxKeys int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Log is an audit log. A nil *Log discards everything.
type Log struct {
	w    io.Writer
	opts Options

	start sync.Once
	q     chan slog.Record
	crit  chan slog.Record
	stop  chan struct{}
	done  chan struct{}
	// sweepReq asks the writer for a sweep now (tests: with a fake clock
	// the ticker never sees a window end).
	sweepReq chan chan struct{}

	mu      sync.Mutex
	closed  bool
	final   *slog.Record // written last, by Finish
	recent  map[string]*entry
	dropped int64 // events lost since the last audit_dropped line
	// counts are the events recorded by message, folded, dropped and
	// truncated ones included (Counts).
	counts map[string]int64

	// Owned by the writer goroutine (and by Close once it has ended).
	buf       bytes.Buffer
	h         slog.Handler
	written   int64
	truncated bool
	err       error
}

// entry is an event written less than a window ago, and how many identical
// events came since.
type entry struct {
	msg   string
	attrs []slog.Attr
	since time.Time // when the window started
	last  time.Time // the latest occurrence
	count int64     // occurrences not yet written
}

// New returns a log writing to w.
func New(w io.Writer, opts Options) *Log {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{w: w, opts: opts, q: make(chan slog.Record, opts.Queue), crit: make(chan slog.Record, critQueue),
		stop: make(chan struct{}), done: make(chan struct{}), sweepReq: make(chan chan struct{}), recent: map[string]*entry{}, written: opts.Existing,
		counts: map[string]int64{}}
	l.h = slog.NewJSONHandler(&l.buf, nil)
	return l
}

// Counts returns how many events of each message were recorded, those
// folded into a count, dropped or cut off by the size cap included: what
// happened, not what was written. It may be called after Close.
func (l *Log) Counts() map[string]int64 {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// run starts the writer the first time an event arrives, so that a log
// that is never used never holds a goroutine.
func (l *Log) run() {
	l.start.Do(func() { go l.writer() })
}

// key identifies an event for coalescing: its message and every attribute.
func key(msg string, attrs []slog.Attr) string {
	var b strings.Builder
	b.WriteString(msg)
	for _, a := range attrs {
		b.WriteByte(0)
		b.WriteString(a.String())
	}
	return b.String()
}

// Event records an event, coalescing repeats. It never blocks on the writer.
func (l *Log) Event(msg string, attrs ...slog.Attr) {
	if l == nil {
		return
	}
	now := l.opts.Now()
	k := key(msg, attrs)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.counts[msg]++
	if e, ok := l.recent[k]; ok {
		e.count++
		e.last = now
		l.mu.Unlock()
		return
	}
	if len(l.recent) >= l.opts.MaxKeys {
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.recent[k] = &entry{msg: msg, attrs: append([]slog.Attr(nil), attrs...), since: now, last: now}
	l.mu.Unlock()
	l.run()
	l.send(l.q, record(now, msg, attrs))
}

// Critical records an event that is never coalesced, on a queue of its own.
func (l *Log) Critical(msg string, attrs ...slog.Attr) {
	if l == nil {
		return
	}
	now := l.opts.Now()
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.counts[msg]++
	}
	l.mu.Unlock()
	if closed {
		return
	}
	l.run()
	l.send(l.crit, record(now, msg, attrs))
}

func record(t time.Time, msg string, attrs []slog.Attr) slog.Record {
	r := slog.NewRecord(t, slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

// send queues r without waiting; a full queue costs the event, counted.
func (l *Log) send(q chan slog.Record, r slog.Record) {
	select {
	case q <- r:
	default:
		l.mu.Lock()
		l.dropped++
		l.mu.Unlock()
	}
}

// Close writes what is pending (queued events, counts of coalesced ones,
// drops) and stops the writer. Events after Close are discarded. It returns
// the first write error, if any.
func (l *Log) Close() error { return l.finish(nil) }

// Finish is Close with one last event, written after everything else (the
// end of a run, whose line must close the log).
func (l *Log) Finish(msg string, attrs ...slog.Attr) error {
	if l == nil {
		return nil
	}
	r := record(l.opts.Now(), msg, attrs)
	return l.finish(&r)
}

func (l *Log) finish(final *slog.Record) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return l.err
	}
	l.closed = true
	l.final = final
	if final != nil {
		l.counts[final.Message]++
	}
	l.mu.Unlock()
	l.run()
	close(l.stop)
	<-l.done
	return l.err
}

// writer is the one goroutine that writes: it drains the queues and, a few
// times per window, writes the counts of windows that ended.
func (l *Log) writer() {
	defer close(l.done)
	tick := time.NewTicker(max(l.opts.Window/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case r := <-l.crit:
			l.write(r)
		case r := <-l.q:
			l.write(r)
		case <-tick.C:
			l.sweep(false)
		case ack := <-l.sweepReq:
			l.sweep(false)
			close(ack)
		case <-l.stop:
			l.sweep(true)
			if l.final != nil { // set before stop was closed
				l.write(*l.final)
			}
			return
		}
	}
}

// drain writes every queued event, so that a sweep's count lines follow
// the first lines of their keys.
func (l *Log) drain() {
	for {
		select {
		case r := <-l.crit:
			l.write(r)
		case r := <-l.q:
			l.write(r)
		default:
			return
		}
	}
}

// sweep writes a "count" line for every key whose window ended with
// repeats (all of them when final) and forgets keys whose window ended
// without any; a key with repeats starts a new window, so a steady stream
// keeps being folded. It also reports dropped events.
func (l *Log) sweep(final bool) {
	l.drain()
	now := l.opts.Now()
	var out []slog.Record
	l.mu.Lock()
	for k, e := range l.recent {
		if !final && now.Sub(e.since) < l.opts.Window {
			continue
		}
		if e.count == 0 {
			delete(l.recent, k)
			continue
		}
		r := record(e.last, e.msg, e.attrs)
		r.AddAttrs(slog.Int64("count", e.count))
		out = append(out, r)
		e.count, e.since = 0, now
		if final {
			delete(l.recent, k)
		}
	}
	if l.dropped > 0 {
		r := record(now, "audit_dropped", nil)
		r.AddAttrs(slog.Int64("count", l.dropped))
		out = append(out, r)
		l.dropped = 0
	}
	l.mu.Unlock()
	// Oldest first, so the file stays in time order within a sweep.
	slices.SortStableFunc(out, func(a, b slog.Record) int { return a.Time.Compare(b.Time) })
	for _, r := range out {
		l.write(r)
	}
}

// write formats r and writes it unless that would pass the size cap; the
// first line that does not fit becomes the final audit_truncated line.
func (l *Log) write(r slog.Record) {
	if l.truncated || l.err != nil {
		return
	}
	line := l.format(r)
	if limit := l.opts.MaxSize; limit > 0 && l.written+int64(len(line))+truncReserve > limit {
		l.truncated = true
		t := record(l.opts.Now(), "audit_truncated", []slog.Attr{slog.Int64("max_size", limit)})
		if line = l.format(t); l.written+int64(len(line)) > limit {
			return // not even the final line fits: the cap wins
		}
	}
	n, err := l.w.Write(line)
	l.written += int64(n)
	if err != nil {
		l.err = err
	}
}

func (l *Log) format(r slog.Record) []byte {
	l.buf.Reset()
	_ = l.h.Handle(context.Background(), r)
	return l.buf.Bytes()
}

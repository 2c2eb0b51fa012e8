package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// syncBuf is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// sweepNow makes the writer sweep as the ticker would, and waits for it.
func (l *Log) sweepNow() {
	ack := make(chan struct{})
	l.sweepReq <- ack
	<-ack
}

func parse(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", i+1, err, line)
		}
		out = append(out, ev)
	}
	return out
}

// occurrences adds up the events a log stands for, per message and pid:
// a line without "count" is one event, a line with it is that many.
func occurrences(evs []map[string]any) map[string]int64 {
	n := map[string]int64{}
	for _, ev := range evs {
		k := fmt.Sprint(ev["msg"], "/", ev["pid"])
		if c, ok := ev["count"].(float64); ok {
			if ev["msg"] == "audit_dropped" {
				n["dropped"] += int64(c)
				continue
			}
			n[k] += int64(c)
		} else {
			n[k]++
		}
	}
	return n
}

func TestCoalesceCountsEveryEvent(t *testing.T) {
	clk := newClock()
	var buf syncBuf
	l := New(&buf, Options{Window: time.Hour, Now: clk.Now})
	for i := range 1000 {
		l.Event("denied", slog.String("op", "socket"), slog.Int("pid", 1))
		if i%10 == 0 {
			l.Event("denied", slog.String("op", "socket"), slog.Int("pid", 2))
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	evs := parse(t, buf.Bytes())
	if len(evs) != 4 {
		t.Fatalf("got %d lines, want 4 (first and count line for each pid):\n%s", len(evs), buf.Bytes())
	}
	got := occurrences(evs)
	if got["denied/1"] != 1000 || got["denied/2"] != 100 || len(got) != 2 {
		t.Errorf("occurrences = %v, want denied/1: 1000, denied/2: 100", got)
	}
	// The first line of a key carries no count; the count line carries
	// exactly the repeats and every other field of the event.
	if _, ok := evs[0]["count"]; ok {
		t.Errorf("first line has a count: %v", evs[0])
	}
	for _, ev := range evs {
		if ev["op"] != "socket" || ev["level"] != "INFO" || ev["time"] == nil {
			t.Errorf("line lost fields: %v", ev)
		}
	}
}

func TestDifferentAttributesAreNotCoalesced(t *testing.T) {
	var buf syncBuf
	l := New(&buf, Options{Window: time.Hour})
	for i := range 50 {
		l.Event("unsupported_syscall", slog.Int("nr", i), slog.Int("pid", 1))
	}
	l.Close()
	if evs := parse(t, buf.Bytes()); len(evs) != 50 {
		t.Errorf("got %d lines, want 50 distinct events", len(evs))
	}
}

// A steady stream of one event costs one line per window: after the first
// line, each window that saw repeats ends in one count line.
func TestSteadyStreamOneLinePerWindow(t *testing.T) {
	clk := newClock()
	var buf syncBuf
	l := New(&buf, Options{Window: time.Second, Now: clk.Now})
	const windows = 5
	for range windows {
		for range 100 {
			l.Event("denied", slog.Int("pid", 7))
			clk.Add(time.Millisecond)
		}
		clk.Add(time.Second)
		l.sweepNow()
	}
	// A window with no repeats forgets the key: the next event is written
	// at once again.
	clk.Add(2 * time.Second)
	l.sweepNow()
	l.Event("denied", slog.Int("pid", 7))
	l.Close()
	evs := parse(t, buf.Bytes())
	if want := 1 + windows + 1; len(evs) != want {
		t.Fatalf("got %d lines, want %d:\n%s", len(evs), want, buf.Bytes())
	}
	if got := occurrences(evs)["denied/7"]; got != windows*100+1 {
		t.Errorf("lines stand for %d events, want %d", got, windows*100+1)
	}
	if c, _ := evs[1]["count"].(float64); c != 99 {
		t.Errorf("first count line: count %v, want 99", evs[1]["count"])
	}
	for i, ev := range evs[2 : len(evs)-1] {
		if c, _ := ev["count"].(float64); c != 100 {
			t.Errorf("count line %d: count %v, want 100", i+2, ev["count"])
		}
	}
	if _, ok := evs[len(evs)-1]["count"]; ok {
		t.Errorf("event after a quiet window was coalesced: %v", evs[len(evs)-1])
	}
}

func TestCriticalIsNeverCoalesced(t *testing.T) {
	var buf syncBuf
	l := New(&buf, Options{Window: time.Hour})
	for range 3 {
		l.Critical("kernel_error", slog.String("panic", "x"))
	}
	l.Close()
	if evs := parse(t, buf.Bytes()); len(evs) != 3 {
		t.Errorf("got %d lines, want 3", len(evs))
	}
}

// The file never grows past MaxSize, whatever the cap: the line that would
// pass it becomes one audit_truncated line, and nothing follows.
func TestMaxSizeIsExact(t *testing.T) {
	// Uncapped, to know the size of the full log.
	var full syncBuf
	fill := func(l *Log) {
		for i := range 200 {
			l.Event("unsupported_syscall", slog.String("syscall", fmt.Sprintf("syscall_%d", 1000+i)), slog.Int("pid", 1))
		}
		l.Critical("sandbox_exit", slog.Int("wait_status", 0))
	}
	clk := newClock()
	l := New(&full, Options{Now: clk.Now})
	fill(l)
	l.Close()
	fullSize := int64(len(full.Bytes()))
	for _, tc := range []struct {
		max, existing int64
	}{
		{1, 0}, {100, 0}, {truncReserve, 0}, {truncReserve + 100, 0}, {1000, 0}, {4096, 0},
		{4096, 4000}, {4096, 4096}, {4096, 5000}, {fullSize - 1, 0}, {fullSize + truncReserve, 0},
		{fullSize + truncReserve + 1000, 0},
	} {
		t.Run(fmt.Sprintf("max%d_existing%d", tc.max, tc.existing), func(t *testing.T) {
			var buf syncBuf
			l := New(&buf, Options{MaxSize: tc.max, Existing: tc.existing, Now: clk.Now})
			fill(l)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			if got := tc.existing + int64(len(data)); got > tc.max && len(data) > 0 {
				t.Fatalf("file would hold %d bytes, cap %d", got, tc.max)
			}
			evs := parse(t, data)
			truncated := tc.existing+fullSize+truncReserve > tc.max
			if !truncated {
				if len(evs) != 201 || occurrences(evs)["sandbox_exit/<nil>"] != 1 {
					t.Fatalf("under the cap, got %d lines, want all 201", len(evs))
				}
				return
			}
			if len(data) == 0 {
				// Only when not even the final line fits.
				if room := tc.max - tc.existing; room >= truncReserve {
					t.Fatalf("wrote nothing with %d bytes of room", room)
				}
				return
			}
			last := evs[len(evs)-1]
			if last["msg"] != "audit_truncated" || last["max_size"] != float64(tc.max) {
				t.Fatalf("last line %v, want audit_truncated with max_size %d", last, tc.max)
			}
			for _, ev := range evs[:len(evs)-1] {
				if ev["msg"] == "audit_truncated" {
					t.Fatalf("audit_truncated twice")
				}
			}
			// Everything up to the cap (less the reserve) was used.
			if room := tc.max - tc.existing - int64(len(data)); room > truncReserve+200 {
				t.Errorf("stopped %d bytes short of the cap", room)
			}
		})
	}
}

// blockingWriter blocks every Write until released: a stuck disk.
type blockingWriter struct {
	release chan struct{}
	buf     syncBuf
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.buf.Write(p)
}

// A writer that does not move never blocks the callers: events beyond the
// queue are dropped and reported once the writer moves again.
func TestSlowWriterNeverBlocksEvents(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	l := New(w, Options{Queue: 8, MaxKeys: 100000, Window: time.Hour})
	const n = 10000
	finished := make(chan struct{})
	go func() {
		for i := range n {
			l.Event("unsupported_syscall", slog.Int("nr", i))
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(30 * time.Second): // a safety net, not a timing
		t.Fatal("Event blocked on a writer that does not return")
	}
	close(w.release)
	l.Close()
	evs := parse(t, w.buf.Bytes())
	got := occurrences(evs)
	if got["dropped"] == 0 {
		t.Fatalf("no audit_dropped line, though the writer was stuck: %d lines", len(evs))
	}
	written := int64(len(evs)) - 1
	if written+got["dropped"] != n {
		t.Errorf("%d written + %d dropped = %d, want %d", written, got["dropped"], written+got["dropped"], n)
	}
	// The queue holds 8, the writer one more: no more can have been written.
	if written > 9 {
		t.Errorf("%d events written, want at most 9", written)
	}
}

// Distinct keys beyond MaxKeys are dropped and counted, so the coalescing
// table cannot grow without bound.
func TestMaxKeysBoundsMemory(t *testing.T) {
	var buf syncBuf
	l := New(&buf, Options{MaxKeys: 10, Window: time.Hour})
	for i := range 100 {
		l.Event("e", slog.Int("i", i))
	}
	l.mu.Lock()
	keys := len(l.recent)
	l.mu.Unlock()
	if keys > 10 {
		t.Errorf("%d keys remembered, want at most 10", keys)
	}
	l.Close()
	got := occurrences(parse(t, buf.Bytes()))
	if got["dropped"] != 90 || got["e/<nil>"] != 10 {
		t.Errorf("occurrences %v, want 10 written, 90 dropped", got)
	}
}

func TestNilAndClosedLogsDiscard(t *testing.T) {
	var l *Log
	l.Event("x")
	l.Critical("x")
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	var buf syncBuf
	l = New(&buf, Options{})
	l.Close()
	l.Event("x")
	l.Critical("x")
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if len(buf.Bytes()) != 0 {
		t.Errorf("closed log wrote %q", buf.Bytes())
	}
}

// Finish's event is the last line: after queued events and the counts of
// coalesced ones.
func TestFinishIsLast(t *testing.T) {
	for range 20 {
		var buf syncBuf
		l := New(&buf, Options{Window: time.Hour})
		for i := range 50 {
			l.Event("denied", slog.Int("pid", i%5))
		}
		l.Critical("kernel_error", slog.String("panic", "x"))
		if err := l.Finish("sandbox_exit", slog.Int("wait_status", 0)); err != nil {
			t.Fatal(err)
		}
		evs := parse(t, buf.Bytes())
		if len(evs) != 5+5+1+1 || evs[len(evs)-1]["msg"] != "sandbox_exit" {
			t.Fatalf("%d lines, last %v; want 12 ending with sandbox_exit", len(evs), evs[len(evs)-1])
		}
		l.Event("late")
		if err := l.Finish("again"); err != nil || len(parse(t, buf.Bytes())) != 12 {
			t.Fatal("events after Finish were written")
		}
	}
}

// TestCounts: every event is counted by message, folded ones included,
// and the counts stay readable once the log is closed.
func TestCounts(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{})
	for range 5 {
		l.Event("denied", slog.String("syscall", "socket"))
	}
	l.Event("limit_exceeded")
	l.Critical("command_exit")
	if err := l.Finish("sandbox_exit"); err != nil {
		t.Fatal(err)
	}
	l.Event("late") // after Close: neither written nor counted
	want := map[string]int64{"denied": 5, "limit_exceeded": 1, "command_exit": 1, "sandbox_exit": 1}
	if got := l.Counts(); !maps.Equal(got, want) {
		t.Errorf("Counts() = %v, want %v", got, want)
	}
}

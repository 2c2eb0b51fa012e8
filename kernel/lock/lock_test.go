package lock

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// proc is a test owner. It has a field so that distinct owners are distinct
// pointers (pointers to zero-size values may compare equal).
type proc struct{ name string }

func (p *proc) String() string { return p.name }

var (
	kA = Key{Dev: 1, Ino: 10}
	kB = Key{Dev: 1, Ino: 11}
)

const (
	rd = unix.F_RDLCK
	wr = unix.F_WRLCK
	un = unix.F_UNLCK
)

func lk(typ int16, start, end int64) Lock { return Lock{Type: typ, Start: start, End: end} }

// held lists o's fcntl locks on k in Start order, Pid cleared.
func held(m *Manager, k Key, o Owner) []Lock {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Lock
	if f := m.files[k]; f != nil {
		for _, r := range f.posix.all() {
			if r.owner == o {
				l := r.Lock
				l.Pid = 0
				out = append(out, l)
			}
		}
	}
	return out
}

// sleepers reports how many goroutines are blocked on k.
func sleepers(m *Manager, k Key) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.files[k]; f != nil {
		return f.waiters
	}
	return 0
}

// waitSleepers waits until n goroutines are blocked on k.
func waitSleepers(t *testing.T, m *Manager, k Key, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for sleepers(m, k) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d sleepers on %v", n, k)
		}
		time.Sleep(time.Millisecond)
	}
}

// result waits for a blocked call's error.
func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("blocked call did not return")
		return nil
	}
}

// still asserts that a blocked call has not returned yet.
func still(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("call returned %v while it should block", err)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestSet(t *testing.T) {
	a, b := &proc{"A"}, &proc{"B"}
	type set struct {
		o   *proc
		l   Lock
		err error
	}
	tests := []struct {
		name  string
		steps []set
		wantA []Lock
		wantB []Lock
	}{
		{
			name:  "read locks shared by two owners",
			steps: []set{{a, lk(rd, 0, 99), nil}, {b, lk(rd, 50, 149), nil}},
			wantA: []Lock{lk(rd, 0, 99)},
			wantB: []Lock{lk(rd, 50, 149)},
		},
		{
			name:  "write over another's read",
			steps: []set{{a, lk(rd, 0, 99), nil}, {b, lk(wr, 99, 99), unix.EAGAIN}},
			wantA: []Lock{lk(rd, 0, 99)},
		},
		{
			name:  "read over another's write",
			steps: []set{{a, lk(wr, 10, 19), nil}, {b, lk(rd, 0, 10), unix.EAGAIN}},
			wantA: []Lock{lk(wr, 10, 19)},
		},
		{
			name: "writes on adjacent ranges",
			steps: []set{
				{a, lk(wr, 10, 19), nil}, {b, lk(wr, 20, 29), nil}, {b, lk(wr, 0, 9), nil},
			},
			wantA: []Lock{lk(wr, 10, 19)},
			wantB: []Lock{lk(wr, 0, 9), lk(wr, 20, 29)},
		},
		{
			name: "write to EOF conflicts with any later range",
			steps: []set{
				{a, lk(wr, 100, ToEOF), nil}, {b, lk(rd, 1<<40, 1<<40), unix.EAGAIN}, {b, lk(rd, 0, 99), nil},
			},
			wantA: []Lock{lk(wr, 100, ToEOF)},
			wantB: []Lock{lk(rd, 0, 99)},
		},
		{
			name: "partial unlock splits",
			steps: []set{
				{a, lk(wr, 0, 99), nil}, {a, lk(un, 40, 59), nil}, {b, lk(wr, 40, 59), nil},
				{b, lk(wr, 39, 40), unix.EAGAIN}, {b, lk(wr, 59, 60), unix.EAGAIN},
			},
			wantA: []Lock{lk(wr, 0, 39), lk(wr, 60, 99)},
			wantB: []Lock{lk(wr, 40, 59)},
		},
		{
			name:  "unlock across several locks and gaps",
			steps: []set{{a, lk(rd, 0, 9), nil}, {a, lk(wr, 20, 29), nil}, {a, lk(rd, 40, 49), nil}, {a, lk(un, 5, 44), nil}},
			wantA: []Lock{lk(rd, 0, 4), lk(rd, 45, 49)},
		},
		{
			name:  "unlock the tail of a lock to EOF",
			steps: []set{{a, lk(wr, 0, ToEOF), nil}, {a, lk(un, 100, ToEOF), nil}},
			wantA: []Lock{lk(wr, 0, 99)},
		},
		{
			name:  "unlock of nothing succeeds",
			steps: []set{{a, lk(un, 0, ToEOF), nil}},
		},
		{
			name:  "unlock leaves other owners alone",
			steps: []set{{a, lk(rd, 0, 9), nil}, {b, lk(rd, 0, 9), nil}, {b, lk(un, 0, ToEOF), nil}},
			wantA: []Lock{lk(rd, 0, 9)},
		},
		{
			name:  "upgrade own read",
			steps: []set{{a, lk(rd, 0, 99), nil}, {a, lk(wr, 0, 99), nil}, {b, lk(rd, 50, 50), unix.EAGAIN}},
			wantA: []Lock{lk(wr, 0, 99)},
		},
		{
			name:  "upgrade blocked by another reader keeps the read lock",
			steps: []set{{a, lk(rd, 0, 99), nil}, {b, lk(rd, 50, 50), nil}, {a, lk(wr, 0, 99), unix.EAGAIN}},
			wantA: []Lock{lk(rd, 0, 99)},
			wantB: []Lock{lk(rd, 50, 50)},
		},
		{
			name: "downgrade the middle of a write lock",
			steps: []set{
				{a, lk(wr, 0, 99), nil}, {a, lk(rd, 40, 59), nil},
				{b, lk(rd, 50, 50), nil}, {b, lk(rd, 30, 30), unix.EAGAIN},
			},
			wantA: []Lock{lk(wr, 0, 39), lk(rd, 40, 59), lk(wr, 60, 99)},
			wantB: []Lock{lk(rd, 50, 50)},
		},
		{
			name:  "upgrade back merges the pieces",
			steps: []set{{a, lk(wr, 0, 99), nil}, {a, lk(rd, 40, 59), nil}, {a, lk(wr, 40, 59), nil}},
			wantA: []Lock{lk(wr, 0, 99)},
		},
		{
			name:  "merge adjacent",
			steps: []set{{a, lk(rd, 0, 9), nil}, {a, lk(rd, 10, 19), nil}},
			wantA: []Lock{lk(rd, 0, 19)},
		},
		{
			name:  "merge overlapping",
			steps: []set{{a, lk(rd, 5, 14), nil}, {a, lk(rd, 0, 9), nil}},
			wantA: []Lock{lk(rd, 0, 14)},
		},
		{
			name:  "merge bridges a gap",
			steps: []set{{a, lk(wr, 0, 9), nil}, {a, lk(wr, 20, 29), nil}, {a, lk(wr, 10, 19), nil}},
			wantA: []Lock{lk(wr, 0, 29)},
		},
		{
			name:  "merge into a lock to EOF",
			steps: []set{{a, lk(wr, 100, ToEOF), nil}, {a, lk(wr, 0, 99), nil}},
			wantA: []Lock{lk(wr, 0, ToEOF)},
		},
		{
			name:  "no merge across types",
			steps: []set{{a, lk(rd, 0, 9), nil}, {a, lk(wr, 10, 19), nil}},
			wantA: []Lock{lk(rd, 0, 9), lk(wr, 10, 19)},
		},
		{
			name:  "no merge across owners",
			steps: []set{{a, lk(rd, 0, 9), nil}, {b, lk(rd, 10, 19), nil}},
			wantA: []Lock{lk(rd, 0, 9)},
			wantB: []Lock{lk(rd, 10, 19)},
		},
		{
			name: "invalid requests",
			steps: []set{
				{a, lk(rd, -1, 9), unix.EINVAL}, {a, lk(wr, 10, 9), unix.EINVAL},
				{a, lk(7, 0, 9), unix.EINVAL}, {a, lk(un, -5, 0), unix.EINVAL},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Manager
			for i, s := range tt.steps {
				if err := m.Set(kA, s.o, 100, s.l, false, context.Background()); err != s.err {
					t.Fatalf("step %d: %v Set(%+v) = %v, want %v", i, s.o, s.l, err, s.err)
				}
			}
			if got := held(&m, kA, a); !slices.Equal(got, tt.wantA) {
				t.Errorf("A holds %+v, want %+v", got, tt.wantA)
			}
			if got := held(&m, kA, b); !slices.Equal(got, tt.wantB) {
				t.Errorf("B holds %+v, want %+v", got, tt.wantB)
			}
			m.ReleaseAll(a)
			m.ReleaseAll(b)
			if len(m.files) != 0 {
				t.Errorf("state leaked after releasing everything: %v", m.files)
			}
		})
	}
}

func TestTest(t *testing.T) {
	a, b, ofd, d := &proc{"A"}, &proc{"B"}, &proc{"ofd"}, &proc{"D"}
	var m Manager
	for _, s := range []struct {
		o   *proc
		pid int32
		l   Lock
	}{
		{a, 100, lk(rd, 10, 19)},
		{b, 200, lk(wr, 30, 39)},
		{ofd, -7, lk(rd, 50, 59)}, // any negative pid marks an OFD owner
	} {
		if err := m.Set(kA, s.o, s.pid, s.l, false, context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		o    *proc
		l    Lock
		want Lock
	}{
		{"free range", d, lk(wr, 0, 9), lk(un, 0, 9)},
		{"read beside reads", d, lk(rd, 0, 29), lk(un, 0, 29)},
		{"first conflict by start", d, lk(wr, 15, 35), Lock{rd, 10, 19, 100}},
		{"read skips reads, meets the write", d, lk(rd, 15, 35), Lock{wr, 30, 39, 200}},
		{"own locks never conflict", a, lk(wr, 0, 29), lk(un, 0, 29)},
		{"own locks skipped, other found", a, lk(wr, 0, 100), Lock{wr, 30, 39, 200}},
		{"OFD lock reports pid -1", d, lk(wr, 55, 55), Lock{rd, 50, 59, -1}},
		{"to EOF", d, lk(rd, 0, ToEOF), Lock{wr, 30, 39, 200}},
		{"unlock request conflicts with nothing", d, lk(un, 0, ToEOF), lk(un, 0, ToEOF)},
		{"other key is free", d, lk(wr, 0, ToEOF), lk(un, 0, ToEOF)},
	}
	for _, tt := range tests {
		k := kA
		if tt.name == "other key is free" {
			k = kB
		}
		if got := m.Test(k, tt.o, tt.l); got != tt.want {
			t.Errorf("%s: Test(%v, %+v) = %+v, want %+v", tt.name, tt.o, tt.l, got, tt.want)
		}
	}
	// The pid reported is the pid the owner locked with, not the asker's.
	if got := m.Test(kA, d, lk(wr, 0, ToEOF)); got.Pid != 100 {
		t.Errorf("pid = %d, want 100", got.Pid)
	}
}

func TestRelease(t *testing.T) {
	a, b, desc := &proc{"A"}, &proc{"B"}, &proc{"desc"}
	var m Manager
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.Set(kA, a, 1, lk(wr, 0, 9), false, context.Background()))
	must(m.Set(kA, a, 1, lk(rd, 20, 29), false, context.Background()))
	must(m.Set(kB, a, 1, lk(wr, 0, ToEOF), false, context.Background()))
	must(m.Set(kA, b, 2, lk(rd, 20, 29), false, context.Background()))
	must(m.Set(kA, desc, -1, lk(rd, 40, 49), false, context.Background()))
	must(m.Flock(kA, desc, unix.LOCK_EX, context.Background()))

	steps := []struct {
		name string
		do   func()
		k    Key
		o    *proc
		want []Lock
	}{
		{"ReleaseOwner drops the key's locks", func() { m.ReleaseOwner(kA, a) }, kA, a, nil},
		{"ReleaseOwner keeps other keys", func() {}, kB, a, []Lock{lk(wr, 0, ToEOF)}},
		{"ReleaseOwner keeps other owners", func() {}, kA, b, []Lock{lk(rd, 20, 29)}},
		{"ReleaseAll drops every key", func() { m.ReleaseAll(a) }, kB, a, nil},
		{"ReleaseAll keeps other owners", func() {}, kA, b, []Lock{lk(rd, 20, 29)}},
		{"release of an owner without locks", func() { m.ReleaseAll(&proc{"none"}); m.ReleaseOwner(kB, b) }, kA, b, []Lock{lk(rd, 20, 29)}},
		{"ReleaseOwner drops an OFD's locks", func() { m.ReleaseOwner(kA, desc) }, kA, desc, nil},
	}
	for _, s := range steps {
		s.do()
		if got := held(&m, s.k, s.o); !slices.Equal(got, s.want) {
			t.Fatalf("%s: %v holds %+v on %v, want %+v", s.name, s.o, got, s.k, s.want)
		}
	}
	// The description's flock went with it: another description may lock.
	if err := m.Flock(kA, &proc{"other"}, unix.LOCK_EX|unix.LOCK_NB, context.Background()); err != nil {
		t.Fatalf("flock after ReleaseOwner of the holder: %v", err)
	}
	if _, ok := m.files[kB]; ok {
		t.Error("kB state kept after its last lock went")
	}
}

// TestSetWait checks that a blocked F_SETLKW is granted by each way the
// conflicting lock can go away.
func TestSetWait(t *testing.T) {
	a, b := &proc{"A"}, &proc{"B"}
	tests := []struct {
		name    string
		held    Lock
		want    Lock
		release func(m *Manager) error
	}{
		{"unlock", lk(wr, 0, 99), lk(wr, 50, 50), func(m *Manager) error { return m.Set(kA, a, 1, lk(un, 0, ToEOF), false, context.Background()) }},
		{"partial unlock", lk(wr, 0, 99), lk(wr, 50, 50), func(m *Manager) error { return m.Set(kA, a, 1, lk(un, 40, 59), false, context.Background()) }},
		{"downgrade", lk(wr, 0, 99), lk(rd, 50, 50), func(m *Manager) error { return m.Set(kA, a, 1, lk(rd, 0, 99), false, context.Background()) }},
		{"ReleaseOwner", lk(rd, 0, 99), lk(wr, 50, 50), func(m *Manager) error { m.ReleaseOwner(kA, a); return nil }},
		{"ReleaseAll", lk(rd, 0, 99), lk(wr, 50, 50), func(m *Manager) error { m.ReleaseAll(a); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Manager
			if err := m.Set(kA, a, 1, tt.held, false, context.Background()); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- m.Set(kA, b, 2, tt.want, true, context.Background()) }()
			waitSleepers(t, &m, kA, 1)
			still(t, done)
			if err := tt.release(&m); err != nil {
				t.Fatal(err)
			}
			if err := result(t, done); err != nil {
				t.Fatalf("woken Set = %v, want nil", err)
			}
			if got := held(&m, kA, b); !slices.Equal(got, []Lock{tt.want}) {
				t.Fatalf("B holds %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSetWaitCancel(t *testing.T) {
	a, b := &proc{"A"}, &proc{"B"}
	var m Manager
	if err := m.Set(kA, a, 1, lk(wr, 0, 9), false, context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Set(kA, b, 2, lk(rd, 0, 0), true, ctx) }()
	waitSleepers(t, &m, kA, 1)
	cancel()
	if err := result(t, done); err != restartSys {
		t.Fatalf("cancelled Set = %v, want ERESTARTSYS", err)
	}
	if got := held(&m, kA, b); got != nil {
		t.Fatalf("cancelled owner holds %+v", got)
	}
	if len(m.waiting) != 0 || sleepers(&m, kA) != 0 {
		t.Fatalf("cancelled waiter left behind: waiting=%v sleepers=%d", m.waiting, sleepers(&m, kA))
	}
	// A closed cancel does not stop a request that needs no wait.
	if err := m.Set(kA, b, 2, lk(rd, 10, 10), true, ctx); err != nil {
		t.Fatalf("uncontended Set with closed cancel = %v", err)
	}
	m.ReleaseAll(a)
	m.ReleaseAll(b)
	if len(m.files) != 0 {
		t.Fatalf("state leaked: %v", m.files)
	}
}

func TestDeadlock(t *testing.T) {
	tests := []struct {
		name  string
		n     int   // owners in the ring: owner i holds [10i, 10i+9]
		pid   int32 // negative: OFD owners, exempt from detection
		wantE error // what the owner closing the ring gets
	}{
		{"two POSIX owners", 2, 1, unix.EDEADLK},
		{"three POSIX owners", 3, 1, unix.EDEADLK},
		{"two OFD owners wait instead", 2, -1, restartSys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Manager
			owners := make([]*proc, tt.n)
			for i := range owners {
				owners[i] = &proc{fmt.Sprint(i)}
				if err := m.Set(kA, owners[i], tt.pid, lk(wr, int64(10*i), int64(10*i+9)), false, context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			// Owners 0..n-2 each wait for the next one's range.
			done := make([]chan error, tt.n-1)
			for i := range done {
				done[i] = make(chan error, 1)
				l := lk(wr, int64(10*(i+1)), int64(10*(i+1)))
				go func() { done[i] <- m.Set(kA, owners[i], tt.pid, l, true, context.Background()) }()
				waitSleepers(t, &m, kA, i+1)
			}
			// Without wait there is no deadlock to report, just a conflict.
			last := owners[tt.n-1]
			if err := m.Set(kA, last, tt.pid, lk(wr, 0, 0), false, context.Background()); err != unix.EAGAIN {
				t.Fatalf("non-blocking ring close = %v, want EAGAIN", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			closing := make(chan error, 1)
			go func() { closing <- m.Set(kA, last, tt.pid, lk(wr, 0, 0), true, ctx) }()
			if tt.wantE == restartSys {
				waitSleepers(t, &m, kA, tt.n)
				cancel()
			}
			if err := result(t, closing); err != tt.wantE {
				t.Fatalf("ring close = %v, want %v", err, tt.wantE)
			}
			for i := range done {
				still(t, done[i])
			}
			// Breaking the ring lets the waiters through, last first.
			m.ReleaseAll(last)
			for i := len(done) - 1; i >= 0; i-- {
				if err := result(t, done[i]); err != nil {
					t.Fatalf("owner %d = %v", i, err)
				}
				m.ReleaseAll(owners[i])
			}
			if len(m.files) != 0 || len(m.waiting) != 0 {
				t.Fatalf("state leaked: files=%v waiting=%v", m.files, m.waiting)
			}
		})
	}
}

// TestDeadlockNotFalse checks that waiting on an owner that waits for a third
// party, not for us, is no deadlock.
func TestDeadlockNotFalse(t *testing.T) {
	a, b, c := &proc{"A"}, &proc{"B"}, &proc{"C"}
	var m Manager
	_ = m.Set(kA, a, 1, lk(wr, 0, 9), false, context.Background())
	_ = m.Set(kB, b, 2, lk(rd, 0, 9), false, context.Background())
	_ = m.Set(kB, c, 3, lk(wr, 20, 29), false, context.Background())
	bDone := make(chan error, 1)
	go func() { bDone <- m.Set(kB, b, 2, lk(wr, 20, 20), true, context.Background()) }() // B waits for C
	waitSleepers(t, &m, kB, 1)
	aDone := make(chan error, 1)
	go func() { aDone <- m.Set(kB, a, 1, lk(wr, 5, 5), true, context.Background()) }() // A waits for B
	waitSleepers(t, &m, kB, 2)
	still(t, aDone)
	m.ReleaseAll(c)
	if err := result(t, bDone); err != nil {
		t.Fatalf("B = %v", err)
	}
	m.ReleaseAll(b)
	if err := result(t, aDone); err != nil {
		t.Fatalf("A = %v", err)
	}
}

func TestFlock(t *testing.T) {
	d1, d2, d3 := &proc{"d1"}, &proc{"d2"}, &proc{"d3"}
	const (
		sh = unix.LOCK_SH
		ex = unix.LOCK_EX
		nb = unix.LOCK_NB
		ul = unix.LOCK_UN
	)
	var m Manager
	steps := []struct {
		name string
		o    *proc
		op   int
		err  error
	}{
		{"shared", d1, sh, nil},
		{"shared twice", d2, sh | nb, nil},
		{"exclusive vs shared", d3, ex | nb, unix.EWOULDBLOCK},
		{"relock same type is a no-op", d1, sh | nb, nil},
		{"unlock", d1, ul, nil},
		{"unlock again", d1, ul | nb, nil},
		{"still one shared holder", d3, ex | nb, unix.EWOULDBLOCK},
		{"last unlock", d2, ul, nil},
		{"exclusive", d3, ex | nb, nil},
		{"shared vs exclusive", d1, sh | nb, unix.EWOULDBLOCK},
		{"exclusive vs exclusive", d2, ex | nb, unix.EWOULDBLOCK},
		{"downgrade", d3, sh | nb, nil},
		{"shared beside downgraded", d1, sh | nb, nil},
		{"failed upgrade", d3, ex | nb, unix.EWOULDBLOCK},
		{"exclusive vs remaining shared", d2, ex | nb, unix.EWOULDBLOCK},
		// Linux drops the old lock before converting: d3 lost its shared
		// lock, so d1 is now alone and may upgrade.
		{"upgrade when alone", d1, ex | nb, nil},
		{"others shut out", d3, sh | nb, unix.EWOULDBLOCK},
		{"op 0", d2, 0, unix.EINVAL},
		{"SH|EX", d2, sh | ex, unix.EINVAL},
		{"NB alone", d2, nb, unix.EINVAL},
		{"unknown bit", d2, sh | 64, unix.EINVAL},
	}
	for _, s := range steps {
		if err := m.Flock(kA, s.o, s.op, context.Background()); err != s.err {
			t.Fatalf("%s: %v Flock(%#x) = %v, want %v", s.name, s.o, s.op, err, s.err)
		}
	}

	// flock and fcntl locks live in separate namespaces.
	if err := m.Set(kA, d2, 2, lk(wr, 0, ToEOF), false, context.Background()); err != nil {
		t.Fatalf("fcntl lock under another's flock: %v", err)
	}
	if got := m.Test(kA, d3, lk(wr, 0, ToEOF)); got.Type != wr || got.Pid != 2 {
		t.Fatalf("Test sees %+v, want only d2's fcntl lock", got)
	}
	if err := m.Flock(kA, d3, ex|nb, context.Background()); err != unix.EWOULDBLOCK {
		t.Fatalf("flock blocked by d1 only: %v", err)
	}
	m.ReleaseAll(d1)
	if err := m.Flock(kA, d3, ex|nb, context.Background()); err != nil {
		t.Fatalf("flock under another's fcntl lock: %v", err)
	}
}

func TestFlockWait(t *testing.T) {
	d1, d2 := &proc{"d1"}, &proc{"d2"}
	tests := []struct {
		name    string
		held    int
		want    int
		release func(m *Manager) error
	}{
		{"unlock", unix.LOCK_EX, unix.LOCK_EX, func(m *Manager) error { return m.Flock(kA, d1, unix.LOCK_UN, context.Background()) }},
		{"downgrade", unix.LOCK_EX, unix.LOCK_SH, func(m *Manager) error { return m.Flock(kA, d1, unix.LOCK_SH, context.Background()) }},
		{"last close", unix.LOCK_SH, unix.LOCK_EX, func(m *Manager) error { m.ReleaseOwner(kA, d1); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Manager
			if err := m.Flock(kA, d1, tt.held, context.Background()); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- m.Flock(kA, d2, tt.want, context.Background()) }()
			waitSleepers(t, &m, kA, 1)
			still(t, done)
			if err := tt.release(&m); err != nil {
				t.Fatal(err)
			}
			if err := result(t, done); err != nil {
				t.Fatalf("woken Flock = %v", err)
			}
		})
	}

	t.Run("cancel", func(t *testing.T) {
		var m Manager
		if err := m.Flock(kA, d1, unix.LOCK_EX, context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Flock(kA, d2, unix.LOCK_SH, ctx) }()
		waitSleepers(t, &m, kA, 1)
		cancel()
		if err := result(t, done); err != restartSys {
			t.Fatalf("cancelled Flock = %v, want ERESTARTSYS", err)
		}
		m.ReleaseAll(d1)
		if len(m.files) != 0 {
			t.Fatalf("state leaked: %v", m.files)
		}
	})
}

// TestMutualExclusion hammers one range with blocking write locks from many
// owners and checks that holders never overlap; run with -race.
func TestMutualExclusion(t *testing.T) {
	var m Manager
	// inside counts current holders per namespace: flock and fcntl locks
	// are independent, so one of each may hold the "same" file at once.
	var (
		mu     sync.Mutex
		inside [2]int
	)
	var wg sync.WaitGroup
	for i := range 8 {
		o := &proc{fmt.Sprint(i)}
		wg.Go(func() {
			for range 200 {
				flock := i%2 == 0
				var err error
				if flock {
					err = m.Flock(kA, o, unix.LOCK_EX, context.Background())
				} else {
					err = m.Set(kA, o, int32(i), lk(wr, 0, 0), true, context.Background())
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inside[i%2]++
				if n := inside[i%2]; n > 1 {
					t.Errorf("%d exclusive holders at once", n)
				}
				mu.Unlock()
				time.Sleep(time.Microsecond) // let others contend while held
				mu.Lock()
				inside[i%2]--
				mu.Unlock()
				if flock {
					err = m.Flock(kA, o, unix.LOCK_UN, context.Background())
				} else {
					err = m.Set(kA, o, int32(i), lk(un, 0, 0), false, context.Background())
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(m.files) != 0 || len(m.waiting) != 0 {
		t.Fatalf("state leaked: files=%v waiting=%v", m.files, m.waiting)
	}
}

func TestEmpty(t *testing.T) {
	var m Manager
	if !m.Empty() {
		t.Fatal("a new manager is not empty")
	}
	k := Key{Dev: 1, Ino: 2}
	if err := m.Set(k, "a", 1, Lock{Type: unix.F_WRLCK, Start: 0, End: 9}, false, context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Empty() {
		t.Fatal("manager holding a lock reports empty")
	}
	m.ReleaseAll("a")
	if !m.Empty() {
		t.Fatal("manager not empty after the last lock went")
	}
}

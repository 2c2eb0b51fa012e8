package kernel_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// waitTimeout bounds every wait for something that should happen promptly.
const waitTimeout = 2 * time.Second

// constLoad returns a load function that always reads v.
func constLoad(v uint32) func() (uint32, error) {
	return func() (uint32, error) { return v, nil }
}

var (
	keyA = kernel.FutexKey{Space: "as", Addr: 0x1000}
	keyB = kernel.FutexKey{Space: "as", Addr: 0x2000}
)

// startWaiter runs FutexWait in a goroutine and returns the channel its
// result arrives on.
func startWaiter(f *kernel.Futexes, key kernel.FutexKey, bitset uint32, deadline *time.Time, ctx context.Context) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f.FutexWait(key, 0, constLoad(0), bitset, deadline, ctx) }()
	return ch
}

// wakeUntil retries FutexWake until it has woken want waiters in total:
// the waiters are goroutines, so they queue some time after starting.
func wakeUntil(t *testing.T, f *kernel.Futexes, key kernel.FutexKey, want int, bitset uint32) {
	t.Helper()
	total := 0
	deadline := time.Now().Add(waitTimeout)
	for total < want {
		n, err := f.FutexWake(key, want-total, bitset)
		if err != nil {
			t.Fatalf("FutexWake: %v", err)
		}
		total += n
		if time.Now().After(deadline) {
			t.Fatalf("woke %d of %d waiters", total, want)
		}
		if total < want {
			time.Sleep(time.Millisecond)
		}
	}
}

func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitTimeout):
		t.Fatal("waiter did not return")
		return nil
	}
}

func notReturned(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("waiter returned early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestFutexWaitImmediate(t *testing.T) {
	loadErr := errors.New("fault")
	past := time.Now().Add(-time.Second)
	for _, tc := range []struct {
		name   string
		val    uint32
		load   func() (uint32, error)
		bitset uint32
		dl     *time.Time
		want   error
	}{
		{"value differs", 1, constLoad(2), ^uint32(0), nil, unix.EAGAIN},
		{"zero bitset", 1, constLoad(1), 0, nil, unix.EINVAL},
		{"load fails", 1, func() (uint32, error) { return 0, loadErr }, ^uint32(0), nil, loadErr},
		{"deadline passed", 1, constLoad(1), ^uint32(0), &past, unix.ETIMEDOUT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f kernel.Futexes
			err := f.FutexWait(keyA, tc.val, tc.load, tc.bitset, tc.dl, context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("FutexWait = %v, want %v", err, tc.want)
			}
			// Nothing may be left queued.
			if n, _ := f.FutexWake(keyA, 10, ^uint32(0)); n != 0 {
				t.Fatalf("FutexWake after failed wait woke %d", n)
			}
		})
	}
}

func TestFutexWakeCount(t *testing.T) {
	for _, tc := range []struct {
		name          string
		waiters, wake int
		want          int
	}{
		{"none waiting", 0, 1, 0},
		{"one of one", 1, 1, 1},
		{"one of three", 3, 1, 1},
		{"two of three", 3, 2, 2},
		{"all of three", 3, 10, 3},
		{"zero", 2, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f kernel.Futexes
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var chs []<-chan error
			for range tc.waiters {
				chs = append(chs, startWaiter(&f, keyA, ^uint32(0), nil, ctx))
			}
			waitQueued(t, &f, keyA, tc.waiters)
			n, err := f.FutexWake(keyA, tc.wake, ^uint32(0))
			if err != nil || n != tc.want {
				t.Fatalf("FutexWake = %d, %v; want %d", n, err, tc.want)
			}
			woken := 0
			for _, ch := range chs {
				select {
				case err := <-ch:
					if err != nil {
						t.Fatalf("woken waiter returned %v", err)
					}
					woken++
				case <-time.After(50 * time.Millisecond):
				}
			}
			if woken != tc.want {
				t.Fatalf("%d waiters returned, want %d", woken, tc.want)
			}
		})
	}
}

// waitQueued waits until n waiters are queued on key, counting them with a
// requeue of key onto itself that wakes none and moves all (a no-op).
func waitQueued(t *testing.T, f *kernel.Futexes, key kernel.FutexKey, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got, err := f.FutexRequeue(key, key, 0, 1<<30, nil)
		if err != nil {
			t.Fatalf("FutexRequeue: %v", err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFutexWakeBitset(t *testing.T) {
	for _, tc := range []struct {
		name       string
		waitBits   uint32
		wakeBits   uint32
		wantWoken  int
		wantReturn bool
	}{
		{"match", 0b0101, 0b0100, 1, true},
		{"all bits", 0b0101, ^uint32(0), 1, true},
		{"disjoint", 0b0101, 0b1010, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f kernel.Futexes
			ctx, cancel := context.WithCancel(context.Background())
			ch := startWaiter(&f, keyA, tc.waitBits, nil, ctx)
			waitQueued(t, &f, keyA, 1)
			n, err := f.FutexWake(keyA, 1, tc.wakeBits)
			if err != nil || n != tc.wantWoken {
				t.Fatalf("FutexWake = %d, %v; want %d", n, err, tc.wantWoken)
			}
			if tc.wantReturn {
				if err := result(t, ch); err != nil {
					t.Fatalf("FutexWait = %v", err)
				}
			} else {
				notReturned(t, ch)
				cancel()
				if err := result(t, ch); err != kernel.ERESTARTSYS {
					t.Fatalf("FutexWait after cancel = %v", err)
				}
				return
			}
			cancel()
		})
	}
	t.Run("zero bitset", func(t *testing.T) {
		var f kernel.Futexes
		if _, err := f.FutexWake(keyA, 1, 0); err != unix.EINVAL {
			t.Fatalf("FutexWake(bitset 0) = %v, want EINVAL", err)
		}
	})
	t.Run("skips non-matching", func(t *testing.T) {
		// A waiter whose bitset does not match must not use up the count.
		var f kernel.Futexes
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		other := startWaiter(&f, keyA, 0b10, nil, ctx)
		waitQueued(t, &f, keyA, 1)
		mine := startWaiter(&f, keyA, 0b01, nil, ctx)
		waitQueued(t, &f, keyA, 2)
		if n, _ := f.FutexWake(keyA, 1, 0b01); n != 1 {
			t.Fatalf("FutexWake = %d, want 1", n)
		}
		if err := result(t, mine); err != nil {
			t.Fatalf("FutexWait = %v", err)
		}
		notReturned(t, other)
	})
}

func TestFutexWaitGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		dl   func() *time.Time
		stop bool
		want error
	}{
		{"deadline", func() *time.Time { d := time.Now().Add(30 * time.Millisecond); return &d }, false, unix.ETIMEDOUT},
		{"cancel", func() *time.Time { return nil }, true, kernel.ERESTARTSYS},
		{"cancel before deadline", func() *time.Time { d := time.Now().Add(time.Hour); return &d }, true, kernel.ERESTARTSYS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f kernel.Futexes
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := startWaiter(&f, keyA, ^uint32(0), tc.dl(), ctx)
			if tc.stop {
				waitQueued(t, &f, keyA, 1)
				cancel()
			}
			if err := result(t, ch); err != tc.want {
				t.Fatalf("FutexWait = %v, want %v", err, tc.want)
			}
			// The waiter left the queue.
			if n, _ := f.FutexWake(keyA, 1, ^uint32(0)); n != 0 {
				t.Fatalf("FutexWake after give-up woke %d", n)
			}
		})
	}
}

func TestFutexRequeue(t *testing.T) {
	for _, tc := range []struct {
		name         string
		waiters      int
		nWake, nMove int
		want         int // FutexRequeue's result
		woken, onB   int
		left         int // still waiting on A
	}{
		{"wake one move rest", 3, 1, 10, 3, 1, 2, 0},
		{"move only", 2, 0, 2, 2, 0, 2, 0},
		{"move some", 3, 0, 1, 1, 0, 1, 2},
		{"wake all", 2, 5, 5, 2, 2, 0, 0},
		{"nothing", 2, 0, 0, 0, 0, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f kernel.Futexes
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var chs []<-chan error
			for range tc.waiters {
				chs = append(chs, startWaiter(&f, keyA, ^uint32(0), nil, ctx))
			}
			waitQueued(t, &f, keyA, tc.waiters)
			n, err := f.FutexRequeue(keyA, keyB, tc.nWake, tc.nMove, func() (bool, error) { return true, nil })
			if err != nil || n != tc.want {
				t.Fatalf("FutexRequeue = %d, %v; want %d", n, err, tc.want)
			}
			returned := func() int {
				c := 0
				for _, ch := range chs {
					select {
					case err := <-ch:
						if err != nil {
							t.Fatalf("waiter returned %v", err)
						}
						c++
					case <-time.After(30 * time.Millisecond):
					}
				}
				return c
			}
			if got := returned(); got != tc.woken {
				t.Fatalf("%d waiters returned after requeue, want %d", got, tc.woken)
			}
			// A wake on the target wakes the moved waiters.
			if got, _ := f.FutexWake(keyB, 100, ^uint32(0)); got != tc.onB {
				t.Fatalf("FutexWake(B) = %d, want %d", got, tc.onB)
			}
			if got := returned(); got != tc.onB {
				t.Fatalf("%d waiters returned after wake on B, want %d", got, tc.onB)
			}
			if got, _ := f.FutexWake(keyA, 100, ^uint32(0)); got != tc.left {
				t.Fatalf("FutexWake(A) = %d, want %d", got, tc.left)
			}
			if got := returned(); got != tc.left {
				t.Fatalf("%d waiters returned after wake on A, want %d", got, tc.left)
			}
		})
	}
}

func TestFutexRequeueCheck(t *testing.T) {
	checkErr := errors.New("fault")
	for _, tc := range []struct {
		name  string
		check func() (bool, error)
		want  error
	}{
		{"value changed", func() (bool, error) { return false, nil }, unix.EAGAIN},
		{"load fails", func() (bool, error) { return false, checkErr }, checkErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f kernel.Futexes
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := startWaiter(&f, keyA, ^uint32(0), nil, ctx)
			waitQueued(t, &f, keyA, 1)
			n, err := f.FutexRequeue(keyA, keyB, 1, 1, tc.check)
			if n != 0 || !errors.Is(err, tc.want) {
				t.Fatalf("FutexRequeue = %d, %v; want 0, %v", n, err, tc.want)
			}
			notReturned(t, ch)
			// The waiter is still on A, untouched.
			if got, _ := f.FutexWake(keyB, 1, ^uint32(0)); got != 0 {
				t.Fatalf("FutexWake(B) = %d, want 0", got)
			}
			wakeUntil(t, &f, keyA, 1, ^uint32(0))
			if err := result(t, ch); err != nil {
				t.Fatalf("FutexWait = %v", err)
			}
		})
	}
}

// TestFutexRequeuedWaiterGivesUp: a waiter moved by a requeue that then
// times out or is cancelled must leave its new queue, or it would swallow
// a later wake meant for a real waiter there.
func TestFutexRequeuedWaiterGivesUp(t *testing.T) {
	var f kernel.Futexes
	a, b := kernel.FutexKey{Addr: 0x1000}, kernel.FutexKey{Addr: 0x2000}
	load := func() (uint32, error) { return 0, nil }
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- f.FutexWait(a, 0, load, ^uint32(0), nil, ctx) }()
	for {
		if n, _ := f.FutexRequeue(a, b, 0, 1, nil); n == 1 {
			break
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-gaveUp; err != kernel.ERESTARTSYS {
		t.Fatalf("cancelled wait: %v, want ERESTARTSYS", err)
	}
	if n, err := f.FutexWake(b, 1, ^uint32(0)); n != 0 || err != nil {
		t.Fatalf("wake on the requeue target after the waiter left: woke %d (%v), want 0", n, err)
	}
}

// TestFutexWaitTask: a guest thread's futex wait, sleeping on its OS
// thread (or, past the bound of such waits, parked), ends as FutexWait's
// does: a wake or a requeue then a wake returns nil, the deadline
// ETIMEDOUT, a signal sent during the wait or already pending ERESTARTSYS,
// a changed word EAGAIN; and a wait ended by a signal leaves the queue.
func TestFutexWaitTask(t *testing.T) {
	type outcome struct {
		err   error
		woken int // what a FutexWake after the wait ended wakes
	}
	cases := []struct {
		name     string
		val      uint32 // the waiter's expected value; the word holds 0
		deadline time.Duration
		pending  bool // SIGUSR1 is pending before the wait
		act      func(t *testing.T, f *kernel.Futexes, tk *kernel.Task)
		want     error
	}{
		{name: "woken", act: func(t *testing.T, f *kernel.Futexes, _ *kernel.Task) { wakeUntil(t, f, keyA, 1, ^uint32(0)) }},
		{name: "requeued then woken", act: func(t *testing.T, f *kernel.Futexes, _ *kernel.Task) {
			deadline := time.Now().Add(waitTimeout)
			for {
				n, err := f.FutexRequeue(keyA, keyB, 0, 1, nil)
				if err != nil {
					t.Fatalf("FutexRequeue: %v", err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the waiter never queued")
				}
				time.Sleep(time.Millisecond)
			}
			wakeUntil(t, f, keyB, 1, ^uint32(0))
		}},
		{name: "timeout", deadline: 20 * time.Millisecond, want: unix.ETIMEDOUT},
		{name: "signal during the wait", want: kernel.ERESTARTSYS, act: func(t *testing.T, _ *kernel.Futexes, tk *kernel.Task) {
			time.Sleep(20 * time.Millisecond)
			if err := tk.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1, Code: kernel.SIKernel}); err != nil {
				t.Fatalf("SendSignal: %v", err)
			}
		}},
		{name: "signal pending before", pending: true, want: kernel.ERESTARTSYS},
		{name: "word changed", val: 1, want: unix.EAGAIN},
	}
	for _, parked := range []bool{false, true} {
		for _, tc := range cases {
			name := tc.name
			if parked {
				name += " (parked)"
			}
			t.Run(name, func(t *testing.T) {
				p := newProc(t)
				tk := p.Leader()
				if _, err := p.Sigaction(int(unix.SIGUSR1), &kernel.SigAction{Handler: handler}); err != nil {
					t.Fatal(err)
				}
				tk.SetMask(0)
				if tc.pending {
					if err := tk.SendSignal(kernel.SigInfo{Signo: unix.SIGUSR1, Code: kernel.SIKernel}); err != nil {
						t.Fatal(err)
					}
				}
				var f kernel.Futexes
				if parked {
					f.SetThreadWaiters(kernel.MaxThreadWaiters)
				}
				var deadline *time.Time
				if tc.deadline != 0 {
					at := time.Now().Add(tc.deadline)
					deadline = &at
				}
				ch := make(chan error, 1)
				go func() { ch <- f.FutexWaitTask(tk, keyA, tc.val, constLoad(0), ^uint32(0), deadline) }()
				if tc.act != nil {
					tc.act(t, &f, tk)
				}
				if err := result(t, ch); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("FutexWaitTask = %v, want %v", err, tc.want)
				}
				for _, k := range []kernel.FutexKey{keyA, keyB} {
					if n, _ := f.FutexWake(k, 1, ^uint32(0)); n != 0 {
						t.Fatalf("a wait that ended was still queued on %v", k)
					}
				}
			})
		}
	}
}

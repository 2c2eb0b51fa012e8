package kernel

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// FutexKey names a futex word: private futexes by address space and
// address, shared ones in MAP_SHARED memory by that memory's object and
// offset (mm.MM.SharedKey), so every process mapping it meets there.
type FutexKey struct {
	Space any
	Addr  uint64
}

type futexWaiter struct {
	bitset uint32
	woken  chan struct{}
	// key is the queue the waiter is on now: a requeue moves it.
	key FutexKey
}

// Futexes is the kernel's futex wait queues.
type Futexes struct {
	mu      sync.Mutex
	waiters map[FutexKey][]*futexWaiter
}

// FutexWait blocks while load() returns val, until woken, the timeout (if
// non-nil) expires (ETIMEDOUT), ctx is done (ERESTARTSYS), or load fails. The value is read under the
// queue lock, so a wake between the check and the sleep is never lost.
func (f *Futexes) FutexWait(key FutexKey, val uint32, load func() (uint32, error), bitset uint32, deadline *time.Time, ctx context.Context) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	f.mu.Lock()
	cur, err := load()
	if err != nil {
		f.mu.Unlock()
		return err
	}
	if cur != val {
		f.mu.Unlock()
		return unix.EAGAIN
	}
	if f.waiters == nil {
		f.waiters = map[FutexKey][]*futexWaiter{}
	}
	w := &futexWaiter{bitset: bitset, woken: make(chan struct{}), key: key}
	f.waiters[key] = append(f.waiters[key], w)
	f.mu.Unlock()

	var timeout <-chan time.Time
	if deadline != nil {
		t := time.NewTimer(time.Until(*deadline))
		defer t.Stop()
		timeout = t.C
	}
	var result error
	select {
	case <-w.woken:
		return nil
	case <-timeout:
		result = unix.ETIMEDOUT
	case <-ctx.Done():
		result = ERESTARTSYS
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-w.woken: // woken while giving up: the wake counts
		return nil
	default:
	}
	f.remove(w.key, w) // where it is now, after any requeue
	return result
}

func (f *Futexes) remove(key FutexKey, w *futexWaiter) {
	ws := f.waiters[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(f.waiters, key)
	} else {
		f.waiters[key] = ws
	}
}

// FutexWake wakes up to n waiters whose bitset intersects bitset and
// returns how many it woke.
func (f *Futexes) FutexWake(key FutexKey, n int, bitset uint32) (int, error) {
	if bitset == 0 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	woken := 0
	for _, w := range append([]*futexWaiter(nil), f.waiters[key]...) {
		if woken >= n {
			break
		}
		if w.bitset&bitset == 0 {
			continue
		}
		close(w.woken)
		f.remove(key, w)
		woken++
	}
	return woken, nil
}

// FutexRequeue wakes up to nWake waiters on from and moves up to nMove of
// the rest to to. With check set, the word must still hold val (EAGAIN).
func (f *Futexes) FutexRequeue(from, to FutexKey, nWake, nMove int, check func() (bool, error)) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if check != nil {
		ok, err := check()
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, unix.EAGAIN
		}
	}
	done := 0
	for _, w := range append([]*futexWaiter(nil), f.waiters[from]...) {
		switch {
		case done < nWake:
			close(w.woken)
			f.remove(from, w)
		case done < nWake+nMove:
			f.remove(from, w)
			w.key = to
			f.waiters[to] = append(f.waiters[to], w)
		default:
			return done, nil
		}
		done++
	}
	return done, nil
}

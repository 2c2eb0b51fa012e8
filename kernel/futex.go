package kernel

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	// woken is closed by the wake of a waiter parked as a goroutine; nil
	// for one sleeping on its OS thread (word).
	woken chan struct{}
	// word is the host futex word an OS-thread waiter sleeps on:
	// waiterAsleep until a wake stores waiterWoken (under Futexes.mu) or
	// the task's wake interrupts it (waiterInterrupted).
	word atomic.Uint32
	// key is the queue the waiter is on now: a requeue moves it.
	key FutexKey
}

// States of futexWaiter.word.
const (
	waiterAsleep      = 0
	waiterWoken       = 1
	waiterInterrupted = 2
)

// wake wakes the waiter; Futexes.mu held, the waiter already off its queue.
func (w *futexWaiter) wake() {
	if w.woken != nil {
		close(w.woken)
		return
	}
	w.word.Store(waiterWoken)
	hostFutexWake(&w.word)
}

// interrupt ends an OS-thread wait early, unless a wake came first.
func (w *futexWaiter) interrupt() {
	if w.word.CompareAndSwap(waiterAsleep, waiterInterrupted) {
		hostFutexWake(&w.word)
	}
}

// Futexes is the kernel's futex wait queues.
type Futexes struct {
	mu      sync.Mutex
	waiters map[FutexKey][]*futexWaiter
	// threadWaiters counts the waits sleeping on their OS threads, which
	// maxThreadWaiters bounds.
	threadWaiters atomic.Int32
}

// maxThreadWaiters bounds the guest futex waits that sleep on their own
// OS threads (FutexWaitTask): each holds one, and Go ends the whole
// process past 10000 of them. The waits beyond it park their goroutines,
// which costs a Go scheduler hand-off at the wake-up (see FutexWaitTask).
const maxThreadWaiters = 256

// FutexWait blocks while load() returns val, until woken, the timeout (if
// non-nil) expires (ETIMEDOUT), ctx is done (ERESTARTSYS), or load fails. The value is read under the
// queue lock, so a wake between the check and the sleep is never lost.
func (f *Futexes) FutexWait(key FutexKey, val uint32, load func() (uint32, error), bitset uint32, deadline *time.Time, ctx context.Context) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	w := &futexWaiter{bitset: bitset, woken: make(chan struct{}), key: key}
	if err := f.enqueue(w, val, load); err != nil {
		return err
	}

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

// enqueue queues w if the word still holds val (EAGAIN if not), reading
// it under the queue lock so that no wake between the check and the
// sleep is lost.
func (f *Futexes) enqueue(w *futexWaiter, val uint32, load func() (uint32, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, err := load()
	if err != nil {
		return err
	}
	if cur != val {
		return unix.EAGAIN
	}
	if f.waiters == nil {
		f.waiters = map[FutexKey][]*futexWaiter{}
	}
	f.waiters[w.key] = append(f.waiters[w.key], w)
	return nil
}

// FutexWaitTask is FutexWait for guest thread t, interruptible as
// t.Interruptible() is (ERESTARTSYS when a signal or the process's end
// interrupts it).
//
// The wait sleeps on t's OS thread (a host futex on the waiter) instead of
// parking its goroutine. A parked goroutine costs a Go scheduler hand-off
// at its wake-up: the waker's readying it wakes an idle OS thread, which
// steals the goroutine and often wakes yet another to keep one spinning;
// only then can the goroutine resume its stub, so a cross-thread wake-up
// took three or four host wake-ups in a row (issue 16: 127-300 µs a futex
// round trip under systrap, 10-17x native). Sleeping on the OS thread, the
// waker's host FUTEX_WAKE reaches the waiting thread directly. Past
// maxThreadWaiters concurrent waits, it falls back to parking.
func (f *Futexes) FutexWaitTask(t *Task, key FutexKey, val uint32, load func() (uint32, error), bitset uint32, deadline *time.Time) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	if f.threadWaiters.Add(1) > maxThreadWaiters {
		f.threadWaiters.Add(-1)
		return f.FutexWait(key, val, load, bitset, deadline, t.Interruptible())
	}
	defer f.threadWaiters.Add(-1)
	w := &futexWaiter{bitset: bitset, key: key}
	// Registered before the word is checked: a signal sent from here on
	// interrupts the sleep (Task.wake), one sent before is seen now.
	if !t.setSleeper(w) {
		return ERESTARTSYS
	}
	defer t.setSleeper(nil)
	if err := f.enqueue(w, val, load); err != nil {
		return err
	}
	result := error(ERESTARTSYS)
	for w.word.Load() == waiterAsleep {
		var ts *unix.Timespec
		if deadline != nil {
			left := time.Until(*deadline)
			if left <= 0 {
				result = unix.ETIMEDOUT
				break
			}
			spec := unix.NsecToTimespec(int64(left))
			ts = &spec
		}
		hostFutexWait(&w.word, waiterAsleep, ts)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.word.Load() == waiterWoken { // a wake, even while giving up, counts
		return nil
	}
	f.remove(w.key, w) // where it is now, after any requeue
	return result
}

// hostFutexWait sleeps while *word holds val, until a wake or the
// relative timeout ts (nil: none). EINTR, EAGAIN and ETIMEDOUT all just
// return: the caller looks at the word and the clock.
func hostFutexWait(word *atomic.Uint32, val uint32, ts *unix.Timespec) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), hostFutexWaitPrivate,
		uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}

// FUTEX_WAIT and FUTEX_WAKE with FUTEX_PRIVATE_FLAG: the words are in
// litebox's own memory.
const (
	hostFutexWaitPrivate = 0 | 128
	hostFutexWakePrivate = 1 | 128
)

func hostFutexWake(word *atomic.Uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), hostFutexWakePrivate,
		1, 0, 0, 0)
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
		f.remove(key, w)
		w.wake()
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
			f.remove(from, w)
			w.wake()
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

// Package lockedthread runs functions on one goroutine locked to its OS
// thread. ptrace ties a tracee to the thread that attached it, so every
// request for a platform's holder stub must come from that one thread.
package lockedthread

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Panic is what Do re-panics with on the caller's goroutine when fn
// panicked on the thread: the caller (a guest thread's goroutine, which
// recovers) learns of the bug, and the thread keeps serving.
type Panic struct {
	Value any
	Stack []byte // the thread's stack at the panic
}

func (p *Panic) String() string { return fmt.Sprintf("%v (on the locked thread)", p.Value) }

// PanicStack returns the stack where the panic happened, for whoever
// records the re-raised one (the kernel's Crash).
func (p *Panic) PanicStack() []byte { return p.Stack }

// Thread is a goroutine locked to its OS thread, serving Do calls.
type Thread struct {
	work chan func()
	stop chan struct{}
	done chan struct{}
	// stopPanic is a panic of teardown, raised again by Stop.
	stopPanic *Panic
}

// catch runs fn and returns its panic, if any, with the stack.
func catch(fn func()) (p *Panic) {
	defer func() {
		if r := recover(); r != nil {
			p = &Panic{Value: r, Stack: debug.Stack()}
		}
	}()
	fn()
	return nil
}

// Start runs setup on a new locked thread and returns once it has run. If
// setup fails the thread ends (and with it, through PTRACE_O_EXITKILL,
// anything it traces). teardown runs on the thread when Stop is called.
func Start(setup func() error, teardown func()) (*Thread, error) {
	t := &Thread{work: make(chan func()), stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: tracees die with the thread
		defer close(t.done)
		var err error
		// A panic in setup or teardown must not end the process from a
		// goroutine nobody recovers on: it becomes an error of Start, or
		// a panic of Stop's caller.
		if p := catch(func() { err = setup() }); p != nil {
			err = fmt.Errorf("starting the locked thread: panic: %v", p.Value)
		}
		if err != nil {
			ready <- err
			return
		}
		ready <- nil
		for {
			select {
			case fn := <-t.work:
				fn() // Do's wrapper recovers
			case <-t.stop:
				t.stopPanic = catch(teardown)
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		<-t.done
		return nil, err
	}
	return t, nil
}

// Do runs fn on the thread and waits for it; it reports false, without
// running fn, once the thread is stopping. A panic in fn is caught on the
// thread (which must live on: it holds the holder's tracee) and raised
// again, as a *Panic, on the caller's goroutine.
func (t *Thread) Do(fn func()) bool {
	finished := make(chan *Panic, 1)
	run := func() { finished <- catch(fn) }
	select {
	case t.work <- run:
		if p := <-finished; p != nil {
			panic(p)
		}
		return true
	case <-t.stop:
		return false
	}
}

// Stop runs the teardown on the thread and waits until the thread ended;
// a panic of teardown is raised again here.
func (t *Thread) Stop() {
	close(t.stop)
	<-t.done
	if t.stopPanic != nil {
		panic(t.stopPanic)
	}
}

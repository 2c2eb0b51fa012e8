// Package lockedthread runs functions on one goroutine locked to its OS
// thread. ptrace ties a tracee to the thread that attached it, so every
// request for a platform's holder stub must come from that one thread.
package lockedthread

import "runtime"

// Thread is a goroutine locked to its OS thread, serving Do calls.
type Thread struct {
	work chan func()
	stop chan struct{}
	done chan struct{}
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
		if err := setup(); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for {
			select {
			case fn := <-t.work:
				fn()
			case <-t.stop:
				teardown()
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
// running fn, once the thread is stopping.
func (t *Thread) Do(fn func()) bool {
	finished := make(chan struct{})
	select {
	case t.work <- func() { fn(); close(finished) }:
		<-finished
		return true
	case <-t.stop:
		return false
	}
}

// Stop runs the teardown on the thread and waits until the thread ended.
func (t *Thread) Stop() {
	close(t.stop)
	<-t.done
}

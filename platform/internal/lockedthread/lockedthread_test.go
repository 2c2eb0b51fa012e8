package lockedthread

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDoRunsOnOneThread(t *testing.T) {
	var setupTid, teardownTid int
	th, err := Start(func() error { setupTid = unix.Gettid(); return nil }, func() { teardownTid = unix.Gettid() })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		var tid int
		if !th.Do(func() { tid = unix.Gettid() }) || tid != setupTid {
			t.Fatalf("Do ran on thread %d, want the setup thread %d", tid, setupTid)
		}
	}
	th.Stop()
	if teardownTid != setupTid {
		t.Fatalf("teardown ran on thread %d, want %d", teardownTid, setupTid)
	}
	if th.Do(func() { t.Error("ran after Stop") }) {
		t.Fatal("Do after Stop reported true")
	}
}

func TestSetupFailure(t *testing.T) {
	want := errors.New("no holder")
	th, err := Start(func() error { return want }, func() { t.Error("teardown after a failed setup") })
	if th != nil || err != want {
		t.Fatalf("Start = %v, %v; want nil, %v", th, err, want)
	}
}

// A panic in fn reaches the caller (whose goroutine recovers), and the
// locked thread, which holds the holder's tracee, keeps serving.
func TestDoPanicReachesTheCaller(t *testing.T) {
	th, err := Start(func() error { return nil }, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Stop()
	var tid int
	th.Do(func() { tid = unix.Gettid() })
	got := func() (r any) {
		defer func() { r = recover() }()
		th.Do(func() { panic("boom") })
		return nil
	}()
	p, ok := got.(*Panic)
	if !ok || p.Value != "boom" || !strings.Contains(string(p.Stack), "lockedthread") {
		t.Fatalf("caller recovered %#v, want a *Panic of \"boom\" with the thread's stack", got)
	}
	var again int
	if !th.Do(func() { again = unix.Gettid() }) || again != tid {
		t.Fatalf("after the panic Do ran on thread %d, want %d", again, tid)
	}
}

// Panics of setup and teardown reach Start's and Stop's callers.
func TestSetupAndTeardownPanics(t *testing.T) {
	th, err := Start(func() error { panic("no holder") }, func() {})
	if th != nil || err == nil || !strings.Contains(err.Error(), "no holder") {
		t.Fatalf("Start = %v, %v; want an error carrying the panic", th, err)
	}
	th, err = Start(func() error { return nil }, func() { panic("teardown") })
	if err != nil {
		t.Fatal(err)
	}
	got := func() (r any) {
		defer func() { r = recover() }()
		th.Stop()
		return nil
	}()
	if p, ok := got.(*Panic); !ok || p.Value != "teardown" {
		t.Fatalf("Stop's caller recovered %#v, want the teardown's panic", got)
	}
}

package lockedthread

import (
	"errors"
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

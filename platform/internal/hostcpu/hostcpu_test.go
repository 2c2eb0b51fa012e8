package hostcpu

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"123456789 42 7\n", 123456789, true},
		{"0 0 0\n", 0, true},
		{"", 0, false},
		{"-5 0 0\n", 0, false},
		{"abc 1 2\n", 0, false},
	} {
		got, err := parse([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parse(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestThreadCounts: the calling thread's count grows while it spins.
func TestThreadCounts(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, tid := os.Getpid(), syscall.Gettid()
	before, err := Thread(pid, tid)
	if err != nil {
		t.Skipf("no schedstat on this host: %v", err)
	}
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := Thread(pid, tid)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("run time did not grow while spinning: %v then %v", before, after)
	}
}

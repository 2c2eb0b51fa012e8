package sandbox

import (
	"runtime"
	"testing"
	"time"
)

// TestServeCPU: a serving thread's CPU counts while it serves (read from
// another thread through its tid) and stays counted once it stopped.
func TestServeCPU(t *testing.T) {
	var s serveCPU
	const burn = 30 * time.Millisecond
	serving := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		end := s.begin()
		start, err := threadCPU(0)
		if err != nil {
			t.Error(err)
			close(serving)
			return
		}
		for {
			now, _ := threadCPU(0)
			if now-start >= burn {
				break
			}
		}
		close(serving)
		<-stop
		end()
	}()
	<-serving
	if got := s.total(); got < burn {
		t.Fatalf("total while serving = %v, want >= %v", got, burn)
	}
	close(stop)
	<-done
	if got := s.total(); got < burn {
		t.Fatalf("total after serving = %v, want >= %v", got, burn)
	}
	if len(s.live) != 0 {
		t.Fatalf("%d threads still counted as serving", len(s.live))
	}
}

package kernel_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/audit"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// lockedBuf is written by the audit log's goroutine and read by the test.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// A panic on any goroutine that defers Recover ends the sandbox: recorded
// once (the first), audited with its stack, every process killed.
func TestRecoverEndsTheSandbox(t *testing.T) {
	var buf lockedBuf
	log := audit.New(&buf, audit.Options{})
	k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), Audit: log})
	p, err := k.NewProcess(newMM(), [3]*vfs.File{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.FDs.CloseAll() })
	if k.CrashError() != nil || k.Crashing() {
		t.Fatal("a fresh kernel reports a crash")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer k.Recover()
		var table [4]int
		i := 1000
		_ = table[i%len(table)+i] // index out of range, as a bad signal number was
	}()
	<-done
	select {
	case <-k.Crashed():
	case <-time.After(10 * time.Second): // safety net
		t.Fatal("Crashed not closed")
	}
	ie := k.CrashError()
	if ie == nil || !k.Crashing() {
		t.Fatal("no crash recorded")
	}
	if msg := ie.Error(); !strings.HasPrefix(msg, "internal error: runtime error: index out of range") {
		t.Errorf("Error() = %q", msg)
	}
	if !strings.Contains(string(ie.Stack), "crash_test.go") {
		t.Errorf("stack does not show the panicking function:\n%s", ie.Stack)
	}
	// The kill runs on its own goroutine: wait for it.
	for deadline := time.Now().Add(10 * time.Second); !p.Exiting(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sandbox's process was not killed")
		}
	}
	if got, want := p.Status(), kernel.WaitStatusSignaled(unix.SIGKILL, false); got != want {
		t.Errorf("status %#x, want %#x (SIGKILL)", got, want)
	}
	// A second crash is not recorded over the first.
	k.Crash("second", nil)
	if k.CrashError() != ie {
		t.Error("a later crash replaced the first")
	}
	log.Close()
	var kernelErrors int
	for _, line := range strings.Split(strings.TrimSpace(buf.b.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev["msg"] == "kernel_error" {
			kernelErrors++
			if s, _ := ev["stack"].(string); !strings.Contains(s, "crash_test.go") {
				t.Errorf("kernel_error without the stack: %v", ev)
			}
		}
	}
	if kernelErrors != 1 {
		t.Errorf("%d kernel_error events, want 1", kernelErrors)
	}
}

func TestInternalErrorIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  string
	}{
		{"plain", "internal error: plain"},
		{"two\nlines\n", "internal error: two lines"},
		{42, "internal error: 42"},
		{unix.EIO, "internal error: input/output error"},
	} {
		if got := (&kernel.InternalError{Value: tc.value}).Error(); got != tc.want {
			t.Errorf("Error() of %#v = %q, want %q", tc.value, got, tc.want)
		}
	}
}

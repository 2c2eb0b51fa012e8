package sandbox_test

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// netstackGoroutines counts the goroutines running gVisor's netstack code.
func netstackGoroutines() int {
	buf := make([]byte, 1<<22)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "gvisor.dev/gvisor/pkg/tcpip") {
			n++
		}
	}
	return n
}

// Closing a sandbox tears its network stack down: with a guest's TCP
// connection still open, netstack's goroutines run; after Close none is
// left (issue 12: the stack's goroutines are litebox's, never the guest's).
func TestCloseEndsNetstack(t *testing.T) {
	sb := newSandbox(t)
	script := `import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); s, _ = l.accept(); c.sendall(b"x" * 100000)
print("connected", flush=True); time.sleep(100)`
	c := sb.Command("/usr/bin/python3", "-c", script)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 10)
	if _, err := out.Read(line); err != nil || string(line) != "connected\n" {
		t.Fatalf("guest said %q, %v", line, err)
	}
	if n := netstackGoroutines(); n == 0 {
		t.Fatal("no netstack goroutine while the guest holds a connection: the test would prove nothing")
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
	deadline := time.Now().Add(time.Second)
	for netstackGoroutines() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := netstackGoroutines(); n > 0 {
		t.Errorf("%d netstack goroutines left after the sandbox closed", n)
	}
}

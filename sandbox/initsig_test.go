package sandbox_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/sandbox"
	"github.com/litebox-go/litebox/tests/harness"
)

// Signals from outside the sandbox to its pid 1: with ContainerInit (an
// OCI runtime's), a handler-less sleep survives SIGTERM and SIGINT sent
// every way (Process.Signal, Cmd.Signal, SignalAll) and dies of SIGKILL,
// as a container's init signalled by runc; another process dies of
// SIGTERM. Without it (litebox run), SIGTERM kills pid 1 as any process.
func TestContainerInitSignals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		send    func(sb *sandbox.Sandbox, c *sandbox.Cmd)
		init    bool
		wantSig syscall.Signal // 0: still running
	}{
		{"Process.Signal TERM", func(_ *sandbox.Sandbox, c *sandbox.Cmd) { _ = c.Process.Signal(syscall.SIGTERM) }, true, 0},
		{"Cmd.Signal INT", func(_ *sandbox.Sandbox, c *sandbox.Cmd) { c.Signal(unix.SIGINT) }, true, 0},
		{"SignalAll TERM", func(sb *sandbox.Sandbox, _ *sandbox.Cmd) { sb.SignalAll(unix.SIGTERM) }, true, 0},
		{"Process.Signal KILL", func(_ *sandbox.Sandbox, c *sandbox.Cmd) { _ = c.Process.Kill() }, true, syscall.SIGKILL},
		{"SignalAll KILL", func(sb *sandbox.Sandbox, _ *sandbox.Cmd) { sb.SignalAll(unix.SIGKILL) }, true, syscall.SIGKILL},
		{"not an init: Process.Signal TERM", func(_ *sandbox.Sandbox, c *sandbox.Cmd) { _ = c.Process.Signal(syscall.SIGTERM) }, false, syscall.SIGTERM},
		{"not an init: Cmd.Signal INT", func(_ *sandbox.Sandbox, c *sandbox.Cmd) { c.Signal(unix.SIGINT) }, false, syscall.SIGINT},
		{"not an init: SignalAll TERM", func(sb *sandbox.Sandbox, _ *sandbox.Cmd) { sb.SignalAll(unix.SIGTERM) }, false, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, err := sandbox.New(sandbox.Config{Platform: os.Getenv(harness.PlatformEnv), ContainerInit: tc.init})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sb.Close() })
			c := sb.Command("/bin/sleep", "100")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if c.Process.Pid != 1 {
				t.Fatalf("the first command is pid %d", c.Process.Pid)
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			tc.send(sb, c)
			if tc.wantSig != 0 {
				checkSignaled(t, <-done, tc.wantSig)
				return
			}
			select {
			case err := <-done:
				t.Fatalf("pid 1 ended: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			// Another process of the sandbox is no init.
			other := sb.Command("/bin/sleep", "100")
			if err := other.Start(); err != nil {
				t.Fatal(err)
			}
			if err := other.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			checkSignaled(t, other.Wait(), syscall.SIGTERM)
			if err := c.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			checkSignaled(t, <-done, syscall.SIGKILL)
		})
	}
}

// A container's init that handles SIGTERM gets it from outside.
func TestContainerInitHandler(t *testing.T) {
	sb, err := sandbox.New(sandbox.Config{Platform: os.Getenv(harness.PlatformEnv), ContainerInit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	c, out, _ := shell(t, sb, `trap 'echo term; exit 3' TERM; echo ready; while :; do sleep 0.05; done`)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(safety)
	for !strings.Contains(out.String(), "ready") {
		if time.Now().After(deadline) {
			t.Fatal("the shell did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = c.Wait()
	if ee, ok := err.(*sandbox.ExitError); !ok || !ee.Exited() || ee.ExitStatus() != 3 {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
	if got := out.String(); got != "ready\nterm\n" {
		t.Errorf("stdout %q", got)
	}
}

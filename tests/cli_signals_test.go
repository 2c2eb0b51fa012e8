package tests

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHostSignals sends litebox the signals a terminal or a supervisor
// would: SIGINT reaches the guest's foreground process group (a busybox
// trap runs and decides the status; without a handler, pid 1 dies of it,
// 128+2, as the program run natively from a terminal: litebox run does not
// make it a container's init, sandbox.Config.ContainerInit), SIGTERM
// ends the whole sandbox with 128+15. Either way no stub process of the
// run is left on the host.
func TestHostSignals(t *testing.T) {
	needBusybox(t)
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		script string
		status int
		want   string
	}{
		{"SIGINT", syscall.SIGINT, `trap 'echo got INT; exit 5' INT; echo ready; sleep 30 & wait; echo not reached`,
			5, "ready\ngot INT\n"},
		{"SIGINT no handler", syscall.SIGINT, `echo ready; exec sleep 30`, 128 + 2, "ready\n"},
		{"SIGTERM", syscall.SIGTERM, `sleep 30 & echo ready; sleep 30; echo not reached`,
			128 + 15, "ready\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "audit-"+tc.name)
			w := watchTree(marker)
			cmd := exec.Command(litebox(t), "run", "--audit", marker, "--", busyboxPath, "sh", "-c", tc.script)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(stdout)
			line, err := out.ReadString('\n')
			if err != nil || line != "ready\n" {
				_ = cmd.Process.Kill()
				t.Fatalf("first line %q, %v; want ready", line, err)
			}
			time.Sleep(200 * time.Millisecond) // let the shell reach its wait
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := readAll(out)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("litebox did not end after the signal")
			}
			_, stubs, _ := w.finish()
			if got := cmd.ProcessState.ExitCode(); got != tc.status {
				t.Errorf("exit status %d, want %d (stderr %q)", got, tc.status, stderr.String())
			}
			if got := line + rest; got != tc.want {
				t.Errorf("stdout %q, want %q", got, tc.want)
			}
			if strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr has a Go stack trace:\n%s", stderr.String())
			}
			if len(stubs) == 0 {
				t.Error("no stub process was seen during the run: the watch is broken")
			}
			checkStubsGone(t, stubs)
		})
	}
}

func readAll(r *bufio.Reader) (string, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.String(), err
}

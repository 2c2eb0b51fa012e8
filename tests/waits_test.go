package tests

// Waits: every wait the kernel makes gives way when the sandbox ends.
// TestBlockedWaitsEnd: a guest blocked in each kind of kernel wait
// (testdata/block.c) is ended by --timeout and by SIGTERM to litebox, with
// the documented status, by the sandbox itself (its sandbox_exit audit
// event, and no kernel_error: no thread had to be left behind).

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// blockModes are the waits of testdata/block.c; watch marks the ones whose
// runs are also watched for stub processes left behind (the watch polls
// the host's process table, so not every run has one).
var blockModes = []struct {
	mode  string
	watch bool
}{
	{"futex", false}, {"pipe", false}, {"epoll", false}, {"epoll-nest", false},
	{"epoll-loop", true}, {"wait4", false}, {"sigsuspend", false}, {"sigwait", false},
	{"poll", false}, {"select", false}, {"pause", false}, {"sleep", false},
	{"eventfd", false}, {"flock", false}, {"fcntl-lock", false}, {"vfork", true},
	{"threads", true}, {"stopped", false}, {"stdout", true},
}

// blockTimeout is the --timeout of the runs that end by it.
const blockTimeout = 2 * time.Second

func TestBlockedWaitsEnd(t *testing.T) {
	for _, bm := range blockModes {
		t.Run(bm.mode, func(t *testing.T) {
			t.Parallel()
			for _, how := range []string{"timeout", "SIGTERM"} {
				t.Run(how, func(t *testing.T) {
					t.Parallel()
					runBlocked(t, bm.mode, how, bm.watch)
				})
			}
		})
	}
}

// runBlocked runs block MODE and ends it by how, then checks the run.
func runBlocked(t *testing.T, mode, how string, watch bool) {
	program(t, "block", staticVariant)
	audit := filepath.Join(t.TempDir(), "audit-"+mode+"-"+how)
	flags := []string{"--audit", audit}
	wantStatus := 128 + int(syscall.SIGTERM)
	if how == "timeout" {
		flags = append(flags, "--timeout", blockTimeout.String())
		wantStatus = 128 + int(syscall.SIGKILL)
	}
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: flags, Test: t.Name()}
	argv := g.Argv(litebox(t), "/work/block", mode)
	var w *treeWatch
	if watch {
		w = watchTree(audit)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// stdout goes to a pipe nobody reads: a guest writing to it fills it
	// and then waits (mode "stdout").
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	cmd.Stdout = outW
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errLines := make(chan string, 16)
	go func() {
		defer close(errLines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errLines <- sc.Text()
		}
	}()
	var errText []string
	select {
	case line, ok := <-errLines:
		if !ok || line != "ready" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("first stderr line %q, want ready", line)
		}
		errText = append(errText, line)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the guest never got ready")
	}
	if how == "SIGTERM" {
		time.Sleep(200 * time.Millisecond) // let the guest reach its wait
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		for line := range errLines {
			errText = append(errText, line)
		}
		done <- cmd.Wait()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a safety net, far above any timing here
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("litebox did not end (%s); stderr so far: %q", how, errText)
	}
	if w != nil {
		_, stubs, _ := w.finish()
		if len(stubs) == 0 {
			t.Error("no stub process was seen during the run: the watch is broken")
		}
		checkStubsGone(t, stubs)
	}
	stderrAll := strings.Join(errText, "\n")
	if got := cmd.ProcessState.ExitCode(); got != wantStatus {
		t.Errorf("exit status %d, want %d; stderr:\n%s", got, wantStatus, stderrAll)
	}
	if how == "timeout" && !strings.Contains(stderrAll, "litebox: wall-clock limit (--timeout 2s) reached") {
		t.Errorf("stderr does not name the timeout:\n%s", stderrAll)
	}
	if strings.Contains(stderrAll, "goroutine ") || strings.Contains(stderrAll, "the wait returned") {
		t.Errorf("stderr:\n%s", stderrAll)
	}
	// The sandbox ended by itself, with every guest thread gone: not by
	// the CLI's last-resort exit (which writes no sandbox_exit) nor by
	// leaving stuck threads behind (kernel_error).
	var exit map[string]any
	for _, ev := range readAudit(t, audit) {
		switch ev["msg"] {
		case "sandbox_exit":
			exit = ev
		case "kernel_error":
			t.Errorf("audit: %v", ev)
		}
	}
	if exit == nil {
		t.Fatalf("audit log has no sandbox_exit event: the sandbox did not end by itself")
	}
	if how == "timeout" {
		// litebox's own measure of the run, free of process start-up:
		// the end comes within a second of the timeout.
		ns, _ := exit["wall"].(float64) // slog writes durations in nanoseconds
		if d := time.Duration(ns); d < blockTimeout || d > blockTimeout+time.Second {
			t.Errorf("sandbox wall time %v, want between %v and %v", d, blockTimeout, blockTimeout+time.Second)
		}
	}
}

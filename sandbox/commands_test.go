package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/sandbox"
	"github.com/litebox-go/litebox/tests/harness"
)

// safety is a generous bound on any one command of these tests, so that a
// hang fails the test instead of stalling the suite; none comes near it.
const safety = 60 * time.Second

// newSandbox makes a sandbox on the platform the tests run on, closed at
// the end of the test.
func newSandbox(t *testing.T, mounts ...sandbox.Mount) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.New(sandbox.Config{Platform: os.Getenv(harness.PlatformEnv), Mounts: mounts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

// shell returns a command running script with /bin/sh, its output
// collected, bounded by safety.
func shell(t *testing.T, sb *sandbox.Sandbox, script string) (*sandbox.Cmd, *lockedBuf, *lockedBuf) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	t.Cleanup(cancel)
	c := sb.CommandContext(ctx, "/bin/sh", "-c", script)
	var out, errOut lockedBuf
	c.Stdout, c.Stderr = &out, &errOut
	return c, &out, &errOut
}

// run runs script to completion and returns its stdout; it fails the test
// unless the command exits with status 0.
func run(t *testing.T, sb *sandbox.Sandbox, script string) string {
	t.Helper()
	c, out, errOut := shell(t, sb, script)
	if err := c.Run(); err != nil {
		t.Fatalf("%q: %v (stderr %q)", script, err, errOut.String())
	}
	return out.String()
}

// Two commands run at the same time in one sandbox and share its /tmp:
// each waits for what the other writes, so neither could finish alone.
// The first command of the sandbox is pid 1; the second has its own pid,
// leads its own session and has the kernel's init (0) as parent.
func TestConcurrentCommandsShareTmp(t *testing.T) {
	sb := newSandbox(t)
	a, aOut, aErr := shell(t, sb, `echo "written by A" > /tmp/part && mv /tmp/part /tmp/shared
while [ ! -e /tmp/ack ]; do sleep 0.01; done
echo "A saw: $(cat /tmp/ack)"`)
	b, bOut, bErr := shell(t, sb, `while [ ! -e /tmp/shared ]; do sleep 0.01; done
cat /tmp/shared
echo "pid $$ ppid $PPID" > /tmp/part2 && mv /tmp/part2 /tmp/ack`)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if a.Process.Pid != 1 || b.Process.Pid <= 1 {
		t.Errorf("pids %d and %d: want 1 for the first command, another for the second", a.Process.Pid, b.Process.Pid)
	}
	if err := b.Wait(); err != nil {
		t.Fatalf("B: %v (stderr %q)", err, bErr.String())
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("A: %v (stderr %q)", err, aErr.String())
	}
	if got := bOut.String(); got != "written by A\n" {
		t.Errorf("B read %q, want what A wrote", got)
	}
	if got, want := aOut.String(), fmt.Sprintf("A saw: pid %d ppid 0\n", b.Process.Pid); got != want {
		t.Errorf("A read %q, want %q", got, want)
	}
}

// Commands one after another in one sandbox: files persist from one to the
// next, each command's status is its own, and each is pid Process.Pid with
// getppid 0.
func TestCommandsOneAfterAnother(t *testing.T) {
	sb := newSandbox(t)
	run(t, sb, `echo one > /tmp/log`)
	c, _, _ := shell(t, sb, `echo two >> /tmp/log; exit 5`)
	err := c.Run()
	var ee *sandbox.ExitError
	if !errors.As(err, &ee) || !ee.Exited() || ee.ExitStatus() != 5 || ee.ExitCode() != 5 {
		t.Fatalf("second command: %v, want exit status 5", err)
	}
	third, out, _ := shell(t, sb, `echo "$$ $PPID"; cat /tmp/log`)
	if err := third.Run(); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d 0\none\ntwo\n", third.Process.Pid); out.String() != want {
		t.Errorf("third command printed %q, want %q", out.String(), want)
	}
}

// A command that leaves an orphan: the orphan is killed with the command
// (its job), so Wait returns at once and a later command no longer finds
// it, nor any other process but its own. Close then leaves no host process
// (stub) of the sandbox behind. The command is the sandbox's second: on
// the old code it was pid 1 of nothing and its orphans lived on.
func TestOrphanEndsWithItsCommand(t *testing.T) {
	sb := newSandbox(t)
	run(t, sb, `true`)
	c, out, _ := shell(t, sb, `sleep 100 & echo $!`)
	start := time.Now()
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > safety/2 {
		t.Fatalf("Wait took %v: it waited for the orphan instead of killing it", d)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("orphan pid %q: %v", out.String(), err)
	}
	got := run(t, sb, fmt.Sprintf(`kill -0 %d 2>/dev/null && echo "orphan alive"; ls /proc | grep '^[0-9]' | grep -vx $$ | tr '\n' ' '`, orphan))
	// What is left is the checker's own children (ls, grep, tr).
	for _, f := range strings.Fields(got) {
		if f == "orphan" || f == strconv.Itoa(orphan) {
			t.Fatalf("after the command ended: %q", got)
		}
	}
	if len(hostDescendants(t)) == 0 {
		t.Fatal("no host process below the test before Close: the check below cannot fail")
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	noHostProcessesLeft(t)
}

// Close ends the commands still running: Wait reports SIGKILL, and no
// host process is left.
func TestCloseEndsRunningCommands(t *testing.T) {
	sb := newSandbox(t)
	c, _, _ := shell(t, sb, `sleep 100 & sleep 100`)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	checkSignaled(t, c.Wait(), syscall.SIGKILL)
	if err := sb.Command("/bin/true").Start(); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
	noHostProcessesLeft(t)
}

func checkSignaled(t *testing.T, err error, sig syscall.Signal) *sandbox.ExitError {
	t.Helper()
	var ee *sandbox.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Wait = %v (%T), want an *ExitError", err, err)
	}
	if !ee.Signaled() || ee.Signal() != sig || ee.ExitCode() != -1 || ee.Exited() {
		t.Fatalf("Wait = %v: signaled %v signal %v exit code %d, want killed by %v", err, ee.Signaled(), ee.Signal(), ee.ExitCode(), sig)
	}
	return ee
}

// StdinPipe and StdoutPipe: what the caller writes reaches the guest's
// stdin, what it prints comes back on the pipe, as with the same program
// run natively through os/exec; StderrPipe likewise. Wait closes the pipes.
func TestPipesRoundTrip(t *testing.T) {
	sb := newSandbox(t)
	input := strings.Repeat("the quick brown fox\n", 5000) // more than the 64 KiB output buffer
	script := `tr a-z A-Z; echo done >&2`
	native := exec.Command("/bin/sh", "-c", script)
	native.Stdin = strings.NewReader(input)
	var nativeErr strings.Builder
	native.Stderr = &nativeErr
	want, err := native.Output()
	if err != nil {
		t.Fatal(err)
	}

	c := sb.Command("/bin/sh", "-c", script)
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StdoutPipe(); err == nil {
		t.Error("a second StdoutPipe did not fail")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StderrPipe(); err == nil {
		t.Error("StderrPipe after Start did not fail")
	}
	go func() {
		_, _ = io.WriteString(stdin, input)
		_ = stdin.Close()
	}()
	errc := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(stderr); errc <- b }()
	got, err := io.ReadAll(stdout)
	if err != nil {
		t.Fatal(err)
	}
	gotErr := <-errc
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("stdout: %d bytes, natively %d (first %q)", len(got), len(want), got[:min(len(got), 40)])
	}
	if string(gotErr) != nativeErr.String() {
		t.Errorf("stderr %q, natively %q", gotErr, nativeErr.String())
	}
	if _, err := stdout.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read after Wait = %v, want the pipe closed", err)
	}
}

// Wait does not wait for a caller that never reads its pipe: the command
// ended, so Wait closes the pipe, as os/exec does.
func TestWaitClosesUnreadPipe(t *testing.T) {
	sb := newSandbox(t)
	c := sb.Command("/bin/sh", "-c", "echo unread; exit 7")
	if _, err := c.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		var ee *sandbox.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != 7 {
			t.Fatalf("Wait = %v, want exit status 7", err)
		}
	case <-time.After(safety):
		t.Fatal("Wait blocked on an unread pipe")
	}
}

// CommandContext: the context's end kills the whole command (the orphan
// too) and Wait reports the kill with the context's error; a context done
// before Start fails Start.
func TestCommandContext(t *testing.T) {
	sb := newSandbox(t)
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancel", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 2*time.Second)
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			c := sb.CommandContext(ctx, "/bin/sh", "-c", "sleep 100 & echo $! > /tmp/orphan-"+tc.name+"; sleep 100")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			// The orphan is there before the context ends.
			for deadline := time.Now().Add(safety); ; time.Sleep(5 * time.Millisecond) {
				if st, err := sb.FS().Stat("/tmp/orphan-"+tc.name, true); err == nil && st.Size > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the command did not start its orphan")
				}
			}
			if tc.want == context.Canceled {
				cancel()
			}
			err := c.Wait()
			checkSignaled(t, err, syscall.SIGKILL)
			if !errors.Is(err, tc.want) {
				t.Errorf("Wait = %v, want it to wrap %v", err, tc.want)
			}
			got := run(t, sb, `kill -0 $(cat /tmp/orphan-`+tc.name+`) 2>/dev/null && echo alive || echo gone`)
			if got != "gone\n" {
				t.Errorf("the command's orphan after the kill: %q", got)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := sb.CommandContext(ctx, "/bin/true")
	if err := c.Start(); !errors.Is(err, context.Canceled) || c.Process != nil {
		t.Errorf("Start with a done context = %v (process %v), want context.Canceled", err, c.Process)
	}
}

// ExitError.Signal reports the signal a guest died of, as the same program
// dies natively (syscall.WaitStatus of os/exec's ExitError).
func TestExitErrorSignal(t *testing.T) {
	dir, prog := guestProgram(t, "killself")
	sb := newSandbox(t, sandbox.Mount{HostPath: dir, GuestPath: "/work"})
	for _, args := range [][]string{{"9"}, {"segv"}, {"15"}} {
		t.Run(args[0], func(t *testing.T) {
			nerr := exec.Command(prog, args...).Run()
			var nee *exec.ExitError
			if !errors.As(nerr, &nee) {
				t.Fatalf("native run: %v", nerr)
			}
			want := nee.Sys().(syscall.WaitStatus).Signal()
			c := sb.Command("/work/"+filepath.Base(prog), args...)
			var out lockedBuf
			c.Stdout = &out
			checkSignaled(t, c.Run(), want)
			if out.String() != "dying\n" {
				t.Errorf("stdout %q", out.String())
			}
		})
	}
}

// Process.Signal and Kill reach the guest process by its sandbox pid, and
// report os.ErrProcessDone once it ended.
func TestProcessSignal(t *testing.T) {
	sb := newSandbox(t)
	c := sb.Command("/bin/sleep", "100")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	checkSignaled(t, c.Wait(), syscall.SIGTERM)
	if err := c.Process.Kill(); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Kill after the end = %v, want os.ErrProcessDone", err)
	}
}

// The Cmd's life cycle errors, as os/exec's: Wait before Start, Start
// twice, Wait twice; a program that cannot be executed fails Start.
func TestCmdLifeCycleErrors(t *testing.T) {
	sb := newSandbox(t)
	c := sb.Command("/bin/true")
	if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("Wait before Start = %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Errorf("second Start = %v", err)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "Wait was already called") {
		t.Errorf("second Wait = %v", err)
	}
	bad := sb.Command("/etc/passwd")
	var pe *sandbox.ProgramError
	if err := bad.Start(); !errors.As(err, &pe) || !errors.Is(err, sandbox.ErrNotExecutable) {
		t.Errorf("Start of a non-executable = %v, want a *ProgramError (ErrNotExecutable)", err)
	}
	if err := bad.Wait(); err == nil {
		t.Error("Wait after a failed Start succeeded")
	}
}

// hostDescendants lists the live host processes below this test process
// (the stubs of its sandboxes), as "pid comm".
func hostDescendants(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	parent := map[int]int{}
	desc := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid] = ppid
		desc[pid] = s[:i+1]
	}
	me := os.Getpid()
	var out []string
	for pid := range parent {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == me {
				out = append(out, desc[pid])
				break
			}
		}
	}
	return out
}

// noHostProcessesLeft waits (a safety net, normally no wait at all) for
// every host process below the test to be gone.
func noHostProcessesLeft(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := hostDescendants(t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host processes left after Close: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

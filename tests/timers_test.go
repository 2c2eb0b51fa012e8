package tests

// Timer floods (testdata/itimer_flood.c: N processes with 1 us ITIMER_REAL
// timers) must not buy a guest litebox CPU that nobody accounts for:
//
//   - TestTimerFloodCharged: processes taking every tick in pause() cost
//     mostly litebox's CPU, not their own. --cpu-time counts litebox's work
//     for the sandbox, so the run ends by the CPU limit, and litebox's own
//     CPU time (its rusage) stays within the limit plus the second of grace
//     before SIGKILL and a second for start-up and teardown.
//   - TestTimerStormIdle: a timer whose signal is blocked or ignored fires
//     once and waits (as on Linux), so 32 such processes cost litebox less
//     than half a core over the run, whatever the interval. (The exact
//     property, no re-firing, is TestAlarmRearmedWhenTaken in the kernel.)

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// runFlood runs itimer_flood under litebox with flags and returns the exit
// status, stdout, stderr, litebox's CPU time and the wall time.
func runFlood(t *testing.T, flags []string, args ...string) (int, string, string, time.Duration, time.Duration) {
	t.Helper()
	program(t, "itimer_flood", staticVariant)
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: flags, Test: t.Name()}
	argv := g.Argv(litebox(t), "/work/itimer_flood", args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second): // a safety net: the runs have --timeout
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("litebox did not end; stderr: %s", stderr.String())
	}
	wall := time.Since(start)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var cpu time.Duration
	if ru != nil {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	checkNoGoTrace(t, stderr.String())
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String(), cpu, wall
}

func checkNoGoTrace(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "goroutine ") {
		t.Errorf("stderr has a Go stack trace:\n%s", stderr)
	}
}

func TestTimerFloodCharged(t *testing.T) {
	const limit = time.Second
	audit := filepath.Join(t.TempDir(), "audit")
	status, _, stderr, cpu, wall := runFlood(t, []string{"--cpu-time", limit.String(), "--timeout", "30s", "--audit", audit},
		"16", "60", "pause")
	t.Logf("litebox CPU %v over %v", cpu, wall)
	if want := 128 + int(syscall.SIGXCPU); status != want {
		t.Fatalf("exit status %d, want %d (ended by the CPU limit); stderr:\n%s", status, want, stderr)
	}
	if !strings.Contains(stderr, "litebox: CPU-time limit (--cpu-time 1s) reached: SIGXCPU sent") {
		t.Errorf("stderr does not name the CPU limit:\n%s", stderr)
	}
	checkAuditLimit(t, audit, "cpu-time")
	var exit map[string]any
	for _, ev := range readAudit(t, audit) {
		if ev["msg"] == "sandbox_exit" {
			exit = ev
		}
	}
	served, ok := exit["litebox_cpu"].(float64)
	if !ok || served <= 0 {
		t.Fatalf("sandbox_exit has no litebox_cpu figure: %v", exit)
	}
	if guest, _ := exit["cpu"].(float64); time.Duration(guest+served) < limit {
		t.Errorf("sandbox_exit cpu %v + litebox_cpu %v is below the limit it ended by", time.Duration(guest), time.Duration(served))
	}
	if max := limit + 2*time.Second; cpu > max {
		t.Errorf("litebox used %v of CPU, want at most %v (the limit, the grace before SIGKILL, start-up)", cpu, max)
	}
}

func TestTimerStormIdle(t *testing.T) {
	for _, mode := range []string{"block", "ignore"} {
		t.Run(mode, func(t *testing.T) {
			status, stdout, stderr, cpu, wall := runFlood(t, []string{"--timeout", "40s"}, "32", "2", mode)
			t.Logf("litebox CPU %v over %v", cpu, wall)
			if status != 0 || stdout != "32 processes ran\n" {
				t.Fatalf("exit status %d, stdout %q, stderr:\n%s", status, stdout, stderr)
			}
			if cpu > wall/2 {
				t.Errorf("litebox used %v of CPU over %v: more than half a core for timers nobody takes", cpu, wall)
			}
		})
	}
}

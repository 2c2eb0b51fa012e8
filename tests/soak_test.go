package tests

// The soak test (make soak; LITEBOX_SOAK=1): guests that churn through
// what litebox must give back (execs, forks, threads, refused syscalls with
// the audit log on) run for a while each, ended by --timeout. While they
// run, litebox's host fd count, thread count and RSS are sampled from
// /proc; they must stay under fixed bounds and must not creep up from the
// first part of the run to the last. Every run must end within its
// --timeout plus a second.
//
// Workloads are rows of soakWorkloads: add a row for a new kind of flood.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// soakEnv enables the soak test; soakSecondsEnv sets each run's --timeout
// (default 20 s).
const (
	soakEnv        = "LITEBOX_SOAK"
	soakSecondsEnv = "LITEBOX_SOAK_SECONDS"
)

// soakWorkload is one guest run of the soak test.
type soakWorkload struct {
	name  string
	prog  string   // testdata program, run from /work
	args  []string // its arguments: it must loop until --timeout ends it
	flags []string // further litebox flags
	audit bool     // run with --audit (checked by maxAudit)
	// Bounds; zero fields get the defaults below.
	maxFDs, maxThreads int
	maxRSSMiB          int64
	maxAudit           int64 // bytes of audit log at the end
}

const (
	defaultSoakFDs      = 64
	defaultSoakThreads  = 64
	defaultSoakRSSMiB   = 256
	defaultSoakAuditMax = 64 << 10
)

var soakWorkloads = []soakWorkload{
	// Failing (ENOEXEC) and succeeding execs, static and dynamic: every
	// exec used to leak host fds.
	{name: "exec churn", prog: "exec_churn", args: []string{"run", "1000000000"}},
	// Processes, and orphans reparented to pid 1.
	{name: "fork churn", prog: "soak_churn", args: []string{"fork"}},
	{name: "fork tree churn", prog: "soak_churn", args: []string{"tree"}},
	// Threads: each guest thread is a locked OS thread of litebox while it
	// lives.
	{name: "thread churn", prog: "soak_churn", args: []string{"threads"}},
	// Record locks taken and dropped by the thousand.
	{name: "lock flood", prog: "soak_churn", args: []string{"locks"}},
	// 16 processes with 1 µs interval timers whose SIGALRM wakes pause():
	// timers re-arm only as signals are taken.
	{name: "timer flood", prog: "itimer_flood", args: []string{"16", "1000000", "pause"}},
	// Refused syscalls, one identical audit event each: folded into counts.
	{name: "refused sockets, audited", prog: "audit_flood", args: []string{"socket", "1000000000000"}, audit: true},
	// Distinct audit events, nothing to fold: the size cap holds.
	{name: "distinct events, audit capped", prog: "audit_flood", args: []string{"distinct", "1000000000"},
		audit: true, flags: []string{"--audit-max-size", "256K"}, maxAudit: 256 << 10},
}

// soakSample is one look at the litebox process.
type soakSample struct {
	at             time.Duration
	fds, threads   int
	rssKiB         int64
	cpu            time.Duration // litebox's utime+stime so far
	fdErr, statErr error
}

func sampleLitebox(pid int, at time.Duration) soakSample {
	s := soakSample{at: at}
	s.fds, s.fdErr = hostFDs(pid)
	st, err := hostProcStatus(pid)
	if err != nil {
		s.statErr = err
		return s
	}
	s.threads, _ = strconv.Atoi(st["Threads"])
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name: utime and stime are the 12th and
		// 13th, in clock ticks (100 per second on Linux).
		if i := bytes.LastIndexByte(data, ')'); i >= 0 {
			if f := strings.Fields(string(data[i+1:])); len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				stt, _ := strconv.ParseInt(f[12], 10, 64)
				s.cpu = time.Duration(ut+stt) * 10 * time.Millisecond
			}
		}
	}
	if f := strings.Fields(st["VmRSS"]); len(f) > 0 {
		s.rssKiB, _ = strconv.ParseInt(f[0], 10, 64)
	}
	return s
}

func TestSoak(t *testing.T) {
	if os.Getenv(soakEnv) != "1" {
		t.Skipf("the soak test runs for minutes: %s=1 (make soak) runs it", soakEnv)
	}
	seconds := 20
	if v := os.Getenv(soakSecondsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			t.Fatalf("%s=%q: want a number of seconds, at least 2", soakSecondsEnv, v)
		}
		seconds = n
	}
	timeout := time.Duration(seconds) * time.Second
	for _, w := range soakWorkloads {
		t.Run(w.name, func(t *testing.T) { runSoak(t, w, timeout) })
	}
}

func runSoak(t *testing.T, w soakWorkload, timeout time.Duration) {
	program(t, w.prog, staticVariant)
	flags := append([]string{"--timeout", timeout.String()}, w.flags...)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	if w.audit {
		flags = append(flags, "--audit", audit)
	}
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: flags}
	argv := g.Argv(litebox(t), "/work/"+w.prog, w.args...)

	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// A safety net far beyond the bound checked below.
	net := time.AfterFunc(timeout+time.Minute, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	defer net.Stop()

	var (
		mu      sync.Mutex
		samples []soakSample
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			s := sampleLitebox(pid, time.Since(start))
			if s.fdErr != nil || s.statErr != nil {
				continue // exiting
			}
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(stop)
	<-sampled
	_ = syscall.Kill(-pid, syscall.SIGKILL) // stragglers of the group, if any

	// Ended by its --timeout, within a second of it, as litebox says.
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() || ws.ExitStatus() != 128+int(syscall.SIGKILL) {
		t.Errorf("litebox: %v, want exit status 137 (guest killed at --timeout); stdout %q stderr %q",
			err, stdout.Bytes(), stderr.Bytes())
	}
	wantErr := fmt.Sprintf("litebox: wall-clock limit (--timeout %v) reached: the sandbox was killed\n", timeout)
	if stderr.String() != wantErr {
		t.Errorf("stderr = %q, want %q", stderr.String(), wantErr)
	}
	if wall > timeout+time.Second {
		t.Errorf("run took %v, more than its --timeout %v plus a second", wall.Round(time.Millisecond), timeout)
	}

	maxFDs, maxThreads, maxRSS := w.maxFDs, w.maxThreads, w.maxRSSMiB
	if maxFDs == 0 {
		maxFDs = defaultSoakFDs
	}
	if maxThreads == 0 {
		maxThreads = defaultSoakThreads
	}
	if maxRSS == 0 {
		maxRSS = defaultSoakRSSMiB
	}
	if len(samples) < 10 {
		t.Fatalf("only %d samples of litebox in %v", len(samples), wall)
	}
	// Peaks over the whole run, and over its first and last quarters (the
	// first second is start-up): a leak shows as the last quarter above
	// the first.
	type peak struct {
		fds, threads int
		rssKiB       int64
	}
	var all, first, last peak
	n := len(samples)
	for i, s := range samples {
		grow := func(p *peak) {
			p.fds, p.threads, p.rssKiB = max(p.fds, s.fds), max(p.threads, s.threads), max(p.rssKiB, s.rssKiB)
		}
		grow(&all)
		if s.at > time.Second && i < n/4+10 {
			grow(&first)
		}
		if i >= n-n/4 {
			grow(&last)
		}
	}
	t.Logf("%d samples over %v: peak fds %d, threads %d, RSS %d MiB; first quarter %d/%d/%d MiB, last %d/%d/%d MiB",
		n, wall.Round(time.Millisecond), all.fds, all.threads, all.rssKiB>>10,
		first.fds, first.threads, first.rssKiB>>10, last.fds, last.threads, last.rssKiB>>10)
	if all.fds > maxFDs {
		t.Errorf("litebox had %d host fds open, bound %d", all.fds, maxFDs)
	}
	if all.threads > maxThreads {
		t.Errorf("litebox had %d threads, bound %d", all.threads, maxThreads)
	}
	if all.rssKiB > maxRSS<<10 {
		t.Errorf("litebox RSS reached %d MiB, bound %d MiB", all.rssKiB>>10, maxRSS)
	}
	// litebox's CPU rate (cores) over the first and the last quarter: work
	// that grows with what the run accumulated (a list scanned per call, a
	// leak) shows as the last above the first.
	rate := func(a, b soakSample) float64 {
		if b.at <= a.at {
			return 0
		}
		return float64(b.cpu-a.cpu) / float64(b.at-a.at)
	}
	q := n / 4
	firstRate, lastRate := rate(samples[0], samples[q]), rate(samples[n-1-q], samples[n-1])
	t.Logf("litebox CPU: %.2f cores in the first quarter, %.2f in the last", firstRate, lastRate)
	if lastRate > firstRate*1.5+0.25 {
		t.Errorf("litebox's CPU rate crept up: %.2f cores in the first quarter, %.2f in the last", firstRate, lastRate)
	}
	if last.fds > first.fds+8 {
		t.Errorf("host fds crept up: %d in the first quarter, %d in the last", first.fds, last.fds)
	}
	if last.threads > first.threads+8 {
		t.Errorf("threads crept up: %d in the first quarter, %d in the last", first.threads, last.threads)
	}
	if last.rssKiB > first.rssKiB*3/2+32<<10 {
		t.Errorf("RSS crept up: %d MiB in the first quarter, %d MiB in the last", first.rssKiB>>10, last.rssKiB>>10)
	}
	if w.audit {
		fi, err := os.Stat(audit)
		if err != nil {
			t.Fatal(err)
		}
		limit := w.maxAudit
		if limit == 0 {
			limit = defaultSoakAuditMax
		}
		t.Logf("audit log: %d bytes", fi.Size())
		if fi.Size() > limit {
			t.Errorf("audit log is %d bytes, bound %d", fi.Size(), limit)
		}
		if w.maxAudit == 0 { // a capped log may have stopped before the end
			checkAuditLimit(t, audit, "timeout")
		}
	}
}

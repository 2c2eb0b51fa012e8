package tests

// Host resources of litebox itself: what a guest makes litebox hold must
// be given back. These tests look at litebox's own /proc entries while a
// guest runs (see also the soak test, soak_test.go).

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// hostFDs is how many descriptors host process pid has open.
func hostFDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(entries), err
}

// pausedRun is a litebox run of a guest that stops at points where the
// test looks at litebox's resources: the guest prints a line and waits for
// a byte on stdin before it goes on.
type pausedRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Reader
	output strings.Builder
}

func startPaused(t *testing.T, argv []string) *pausedRun {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &pausedRun{t: t, cmd: cmd, stdin: stdin, lines: bufio.NewReader(stdout)}
	// A safety net, not a timing: a hung run fails the test.
	timer := time.AfterFunc(5*time.Minute, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	t.Cleanup(func() {
		timer.Stop()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return r
}

// expect reads the guest's next line, which must be want.
func (r *pausedRun) expect(want string) {
	r.t.Helper()
	line, err := r.lines.ReadString('\n')
	r.output.WriteString(line)
	if err != nil || line != want+"\n" {
		r.t.Fatalf("guest printed %q (%v), want %q", line, err, want)
	}
}

// resume lets the guest go on.
func (r *pausedRun) resume() {
	r.t.Helper()
	if _, err := r.stdin.Write([]byte{'\n'}); err != nil {
		r.t.Fatal(err)
	}
}

// finish reads the rest of the output and waits for litebox.
func (r *pausedRun) finish() (string, error) {
	rest, _ := io.ReadAll(r.lines)
	r.output.Write(rest)
	_ = r.stdin.Close()
	return r.output.String(), r.cmd.Wait()
}

// TestExecDoesNotLeakHostFDs: every execve opened the program (and its
// interpreter) in litebox and never closed them: two host fds per execve,
// even one failing with ENOEXEC, until litebox's RLIMIT_NOFILE ran out for
// every sandbox of the process. The guest does 1000 rounds of a failing
// exec (ENOEXEC) and a fork+exec of a static and of a dynamic program;
// litebox's host fd count, taken when the rounds start and when they end
// within the same run, must not grow (the old code grew by 2.5 per round).
func TestExecDoesNotLeakHostFDs(t *testing.T) {
	prog := program(t, "exec_churn", staticVariant)
	const rounds = 500
	native := runNative(t, "", nil, []byte("\n\n"), prog, "run", fmt.Sprint(rounds), "pause")
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
	r := startPaused(t, g.Argv(litebox(t), "/work/exec_churn", "run", fmt.Sprint(rounds), "pause"))
	pid := r.cmd.Process.Pid

	r.expect("ready")
	before, err := hostFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	r.resume()
	r.expect("done")
	after, err := hostFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	r.resume()
	out, err := r.finish()
	if err != nil {
		t.Fatalf("litebox: %v", err)
	}
	if out != string(native.Stdout) {
		t.Errorf("guest printed %q, natively %q", out, native.Stdout)
	}
	t.Logf("litebox host fds: %d when the %d rounds started, %d when they ended", before, rounds, after)
	// A few descriptors may come and go with the run's own activity (a
	// stub being reaped); a leak is thousands.
	if after > before+16 {
		t.Errorf("litebox holds %d host fds after %d exec rounds, %d before: %d leaked",
			after, rounds, before, after-before)
	}
}

// mmapFiles writes two one-page files, of 'A's and of 'B's, into a fresh
// directory and returns it.
func mmapFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, c := range map[string]string{"a": "A", "b": "B"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat(c, 4096)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMmapOutlivesItsDescriptor: a private file mapping reads its file
// again after MADV_DONTNEED, also once the guest closed the descriptor and
// opened another file. The mapping must hold the file open: reading
// through a closed host fd number that litebox has since reused would show
// another file's bytes.
func TestMmapOutlivesItsDescriptor(t *testing.T) {
	prog := program(t, "mmap_close", staticVariant)
	dir := mmapFiles(t)
	native := runNative(t, "", nil, nil, prog, "reread", filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	if string(native.Stdout) != "after MADV_DONTNEED: AAAAAAAA (B starts with B)\n" {
		t.Fatalf("native run printed %q", native.Stdout)
	}
	g := harness.Guest{Mounts: []string{workMount(staticVariant), dir + ":/data"}}
	got := runGuest(t, g, nil, "/work/mmap_close", "reread", "/data/a", "/data/b")
	checkResult(t, got, native, true)
}

// TestMmapDoesNotLeakHostFDs: mappings hold their files only while they
// exist: 2000 rounds of open, mmap, close, munmap leave litebox's host fd
// count where it was.
func TestMmapDoesNotLeakHostFDs(t *testing.T) {
	program(t, "mmap_close", staticVariant)
	dir := mmapFiles(t)
	g := harness.Guest{Mounts: []string{workMount(staticVariant), dir + ":/data"}}
	r := startPaused(t, g.Argv(litebox(t), "/work/mmap_close", "loop", "/data/a", "2000"))
	pid := r.cmd.Process.Pid
	r.expect("ready")
	before, err := hostFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	r.resume()
	r.expect("done")
	after, err := hostFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	r.resume()
	out, err := r.finish()
	if err != nil || out != "ready\ndone\nrounds ok 2000\n" {
		t.Fatalf("litebox: %v, output %q", err, out)
	}
	t.Logf("litebox host fds: %d before the rounds, %d after", before, after)
	if after > before+16 {
		t.Errorf("litebox holds %d host fds after 2000 mmap rounds, %d before", after, before)
	}
}

// TestMmapHeldFilesLimit: mappings kept after their descriptors are closed
// hold host fds of litebox, so the sandbox may keep only so many files open
// that way: the next mmap of a new file fails with ENFILE (Linux's "too many
// open files in the system"), audited, instead of litebox running out of
// descriptors. The cap is a quarter of litebox's RLIMIT_NOFILE, at most
// 8192; the program's own image holds one file.
func TestMmapHeldFilesLimit(t *testing.T) {
	program(t, "mmap_close", staticVariant)
	dir := mmapFiles(t)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// litebox, a Go program like this test, runs with its soft limit
	// raised to the hard one.
	limit := max(64, min(8192, int(lim.Max/4)))
	g, audit := escapeGuest(t)
	g.Mounts = append(g.Mounts, dir+":/data")
	w := watchTree(audit)
	got := runGuest(t, g, nil, "/work/mmap_close", "hold", "/data/a", "100000")
	litebox, _, _ := w.finish()
	checkResult(t, got, harness.Result{Stdout: []byte(fmt.Sprintf("mappings %d, then ENFILE\n", limit-1))}, true)
	checkAuditLimit(t, audit, "mapped-files")
	for _, p := range litebox {
		t.Logf("litebox peak RSS %d KiB", p.hwmKB)
	}
}

// TestMemoryViewFollowsLimit: with --memory, /proc/meminfo's MemTotal and
// sysinfo's totalram (os.sysconf's physical pages) both report the limit,
// not the host's RAM: programs size heaps and caches from either, and the
// two must agree.
func TestMemoryViewFollowsLimit(t *testing.T) {
	script := "import os\n" +
		"mt = int(open('/proc/meminfo').readline().split()[1])\n" +
		"print(mt, os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 1024)\n"
	got := runGuest(t, harness.Guest{Flags: []string{"--memory", "768M"}}, nil, pythonPath, "-c", script)
	checkExitedNormally(t, got)
	if want := "786432 786432\n"; string(got.Stdout) != want {
		t.Errorf("MemTotal and sysinfo totalram (KiB) = %q, want %q (the --memory limit); stderr %s", got.Stdout, want, got.Stderr)
	}
}

package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// Set up once per `go test` process by TestMain.
var (
	moduleRoot string
	// liteboxBin is the freshly built CLI; liteboxErr says why there is none.
	// A build failure fails every guest half but leaves the native halves
	// running, so the testdata programs can be checked on their own.
	liteboxBin string
	liteboxErr error
	programs   *harness.Programs
)

// requireAll is set in CI (make test): missing prerequisites such as gcc or
// busybox then fail the tests instead of skipping them.
var requireAll = os.Getenv("LITEBOX_REQUIRE_ALL") == "1"

// hostOnlyVar is put into the environment of every litebox process. The
// guest must never see it: litebox does not forward the host environment.
const hostOnlyVar = "LITEBOX_TEST_HOST_ONLY"

// busyboxPath is where Debian's busybox-static installs the binary; the
// guest sees host /bin read-only, so the same path works inside.
const busyboxPath = "/bin/busybox"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	moduleRoot, err = harness.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "litebox-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	// LITEBOX_BIN tests an existing binary (e.g. a release build) instead
	// of building ./cmd/litebox.
	if bin := os.Getenv("LITEBOX_BIN"); bin != "" {
		liteboxBin = bin
	} else {
		liteboxBin, liteboxErr = harness.BuildLitebox(moduleRoot, dir)
	}
	programs = harness.NewPrograms(moduleRoot, dir)
	return m.Run()
}

// skipOrFail skips the test because a prerequisite is missing, unless
// LITEBOX_REQUIRE_ALL=1, where a missing prerequisite is a failure: CI must
// never pass by silently skipping.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireAll {
		t.Fatalf("%s (LITEBOX_REQUIRE_ALL=1, so this is a failure, not a skip)", msg)
	}
	t.Skip(msg)
}

// program returns the host path of testdata/name.c built as variant v.
func program(t testing.TB, name string, v harness.Variant) string {
	t.Helper()
	if err := harness.HaveGCC(); err != nil {
		skipOrFail(t, "gcc is needed to build the guest programs: %v", err)
	}
	path, err := programs.Build(name, v)
	if err != nil {
		t.Fatalf("building %s (%s): %v", name, v.Name, err)
	}
	return path
}

// staticVariant is used by tests that need one guest program but are not
// about the loader.
var staticVariant = harness.Variants[0]

// workMount makes the programs of variant v visible as /work/NAME.
func workMount(v harness.Variant) string {
	return programs.Dir(v) + ":/work"
}

// needBusybox skips (or fails, in CI) when busybox-static is not installed.
func needBusybox(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(busyboxPath); err != nil {
		skipOrFail(t, "busybox-static is needed at %s: %v", busyboxPath, err)
	}
}

// litebox returns the path of the litebox binary or fails the test.
func litebox(t testing.TB) string {
	t.Helper()
	if liteboxErr != nil {
		t.Fatalf("litebox binary is not available: %v", liteboxErr)
	}
	return liteboxBin
}

// runNative runs argv on the host with the guest's default environment plus
// env, in dir ("" means a fresh empty directory, so that nothing, e.g. a
// core file, lands in the test's working directory).
func runNative(t testing.TB, dir string, env []string, stdin []byte, argv ...string) harness.Result {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	res := harness.Run(harness.Cmd{
		Argv:  argv,
		Env:   harness.MergeEnv(harness.MinimalEnv(), env),
		Dir:   dir,
		Stdin: stdin,
	})
	if res.Err != nil {
		t.Fatalf("native %q: %v", argv, res.Err)
	}
	return res
}

// runGuest runs prog under `litebox run` with the flags in g. The litebox
// process itself gets the full host environment plus hostOnlyVar.
func runGuest(t testing.TB, g harness.Guest, stdin []byte, prog string, args ...string) harness.Result {
	t.Helper()
	g.Test = t.Name() // names the syscall trace, when LITEBOX_SYSCALL_TRACE_DIR asks for one
	return runLitebox(t, stdin, g.Argv(litebox(t), prog, args...)[1:]...)
}

// A litebox that hangs would otherwise make every guest run wait for the
// full timeout and the package hit the `go test -timeout` long before all
// failures are reported: after maxSlowTimeouts timeouts, runs get only
// fastTimeout.
const (
	maxSlowTimeouts = 3
	fastTimeout     = 10 * time.Second
)

var liteboxTimeouts atomic.Int32

// runLitebox runs the litebox binary with exactly the given arguments.
func runLitebox(t testing.TB, stdin []byte, args ...string) harness.Result {
	t.Helper()
	argv := append([]string{litebox(t)}, args...)
	timeout := harness.DefaultTimeout
	if liteboxTimeouts.Load() >= maxSlowTimeouts {
		timeout = fastTimeout
	}
	res := harness.Run(harness.Cmd{
		Argv:    argv,
		Env:     append(os.Environ(), hostOnlyVar+"=leaked"),
		Dir:     t.TempDir(),
		Stdin:   stdin,
		Timeout: timeout,
	})
	if errors.Is(res.Err, harness.ErrTimeout) {
		liteboxTimeouts.Add(1)
	}
	if res.Err != nil {
		t.Fatalf("litebox %q: %v", args, res.Err)
	}
	checkNoPanic(t, res)
	return res
}

// checkNoPanic fails if litebox crashed with a Go panic or fatal error
// instead of reporting a proper error.
func checkNoPanic(t testing.TB, res harness.Result) {
	t.Helper()
	for _, marker := range []string{"goroutine ", "panic: ", "fatal error: "} {
		if bytes.Contains(res.Stderr, []byte(marker)) {
			t.Errorf("litebox stderr contains %q (a Go crash):\n%s", marker, res.Stderr)
			return
		}
	}
}

// checkExitedNormally asserts that litebox exited rather than died: for a
// guest killed by signal N it must exit with status 128+N itself.
func checkExitedNormally(t testing.TB, res harness.Result) {
	t.Helper()
	if res.Signaled {
		t.Errorf("litebox itself was killed by signal %d; it must exit with status 128+N instead", res.ExitCode-128)
	}
}

// checkResult compares a run with the expected result: exit code and stdout
// always, stderr if compareStderr.
func checkResult(t testing.TB, got, want harness.Result, compareStderr bool) {
	t.Helper()
	if got.ExitCode != want.ExitCode {
		t.Errorf("exit code = %d, want %d (stderr: %s)", got.ExitCode, want.ExitCode, harness.Abbrev(got.Stderr))
	}
	if !bytes.Equal(got.Stdout, want.Stdout) {
		t.Errorf("stdout differs\n%s", lineDiff(want.Stdout, got.Stdout))
	}
	if compareStderr && !bytes.Equal(got.Stderr, want.Stderr) {
		t.Errorf("stderr = %s, want %s", harness.Abbrev(got.Stderr), harness.Abbrev(want.Stderr))
	}
}

// checkOneLineError asserts the contract for litebox's own failures: exit
// code want, nothing on stdout, exactly one line on stderr that starts with
// "litebox: ".
func checkOneLineError(t testing.TB, res harness.Result, want int) {
	t.Helper()
	if res.Signaled || res.ExitCode != want {
		t.Errorf("exit code = %d, want %d\n%s", res.ExitCode, want, res)
	}
	if len(res.Stdout) != 0 {
		t.Errorf("stdout = %s, want nothing", harness.Abbrev(res.Stdout))
	}
	stderr := string(res.Stderr)
	if !strings.HasPrefix(stderr, "litebox: ") || !strings.HasSuffix(stderr, "\n") ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want exactly one line starting with \"litebox: \"", stderr)
	}
}

// lineDiff describes the first difference between two outputs.
func lineDiff(want, got []byte) string {
	wl := strings.SplitAfter(string(want), "\n")
	gl := strings.SplitAfter(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("first difference at line %d:\n  want %q\n   got %q\nfull want: %s\nfull got:  %s",
				i+1, w, g, harness.Abbrev(want), harness.Abbrev(got))
		}
	}
	return "(no difference)"
}

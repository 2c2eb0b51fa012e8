package sandbox_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/litebox-go/litebox/sandbox"
	"github.com/litebox-go/litebox/tests/harness"
)

// guestProgram builds testdata/name.c as a static executable and returns
// the host directory holding it (to mount at /work) and its host path.
func guestProgram(t *testing.T, name string) (dir, path string) {
	t.Helper()
	if err := harness.HaveGCC(); err != nil {
		if os.Getenv("LITEBOX_REQUIRE_ALL") == "1" {
			t.Fatalf("gcc is needed: %v", err)
		}
		t.Skipf("gcc is needed: %v", err)
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	progs := harness.NewPrograms(root, t.TempDir())
	v := harness.Variants[0]
	path, err = progs.Build(name, v)
	if err != nil {
		t.Fatal(err)
	}
	return progs.Dir(v), path
}

// lockedBuf collects output written from the sandbox's goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// One process, two sandboxes: a kernel bug in one ends that one with an
// *InternalError (its audit log holding the stack), and the other, running
// at the same time, completes with exactly the result it has natively.
func TestKernelPanicEndsOnlyItsSandbox(t *testing.T) {
	dir, prog := guestProgram(t, "kernel_panic")
	native, err := exec.Command(prog, "work", "100").Output()
	if err != nil {
		t.Fatalf("native run: %v", err)
	}
	mount := sandbox.Mount{HostPath: dir, GuestPath: "/work"}
	platform := os.Getenv(harness.PlatformEnv)

	var goodOut, goodErr lockedBuf
	good, err := sandbox.New(sandbox.Config{Platform: platform, Mounts: []sandbox.Mount{mount}})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	gc := good.Command("/work/kernel_panic", "work", "100")
	gc.Stdout, gc.Stderr = &goodOut, &goodErr

	var badOut, badAudit lockedBuf
	bad, err := sandbox.New(sandbox.Config{Platform: platform, Mounts: []sandbox.Mount{mount},
		PanicOnSyscall: "getppid", Audit: &badAudit})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bc := bad.Command("/work/kernel_panic", "child")
	bc.Stdout = &badOut

	// The good sandbox starts first and is busy forking when the bad one
	// crashes; both are waited for concurrently.
	if err := gc.Start(); err != nil {
		t.Fatal(err)
	}
	if err := bc.Start(); err != nil {
		t.Fatal(err)
	}
	goodDone := make(chan error, 1)
	go func() { goodDone <- gc.Wait() }()
	badErr := bc.Wait()
	select {
	case r := <-goodDone:
		t.Fatalf("the other sandbox ended (%v) before the crash: nothing was tested; give it more work", r)
	default:
	}
	goodResult := <-goodDone

	var ie *sandbox.InternalError
	if !errors.As(badErr, &ie) {
		t.Fatalf("crashed sandbox: Wait = %v (%T), want *sandbox.InternalError", badErr, badErr)
	}
	if ie.Value != "test hook: injected kernel panic in getppid" || !strings.Contains(string(ie.Stack), "shim/linux.(*ABI).Syscall(") {
		t.Errorf("InternalError value %q, stack:\n%s", ie.Value, ie.Stack)
	}
	if got := badOut.String(); got != "before\n" {
		t.Errorf("crashed sandbox printed %q, want %q", got, "before\n")
	}
	var kernelErrors int
	for _, line := range strings.Split(strings.TrimSpace(badAudit.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev["msg"] == "kernel_error" {
			kernelErrors++
			if s, _ := ev["stack"].(string); !strings.Contains(s, "shim/linux.(*ABI).Syscall(") {
				t.Errorf("kernel_error stack: %q", s)
			}
		}
	}
	if kernelErrors != 1 {
		t.Errorf("%d kernel_error events, want 1:\n%s", kernelErrors, badAudit.String())
	}

	if goodResult != nil {
		t.Fatalf("the other sandbox: Wait = %v, stderr %q", goodResult, goodErr.String())
	}
	if got := goodOut.String(); got != string(native) {
		t.Errorf("the other sandbox printed %q, natively %q", got, native)
	}
}

// TestCloseReleasesHostDirs: a sandbox's host directories (the default
// view's, --mount's) hold a host descriptor each while it lives; Close
// gives them back, so an embedder making sandbox after sandbox does not
// run out of descriptors.
func TestCloseReleasesHostDirs(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	dir := t.TempDir()
	const n = 20
	before := count()
	for range n {
		sb, err := sandbox.New(sandbox.Config{Mounts: []sandbox.Mount{{HostPath: dir, GuestPath: "/data"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := count(); after-before >= n {
		t.Errorf("%d sandboxes made and closed left %d more host descriptors open (%d before, %d after)", n, after-before, before, after)
	}
}

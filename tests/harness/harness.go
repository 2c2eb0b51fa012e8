// Package harness builds the litebox binary and the C guest programs in
// testdata/, and runs commands natively or under `litebox run`. It is shared
// by the integration tests in tests/ and the benchmarks in bench/, so it
// reports errors instead of depending on package testing.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// GuestPATH and GuestHOME are the only variables of the guest's default
// environment (see the CLI contract in README.md).
const (
	GuestPATH = "/usr/local/bin:/usr/bin:/bin"
	GuestHOME = "/tmp"
)

// MinimalEnv is the environment every guest starts with. Native runs get the
// same environment so their output can be compared with the guest's.
func MinimalEnv() []string {
	return []string{"PATH=" + GuestPATH, "HOME=" + GuestHOME}
}

// MergeEnv returns base with the KEY=VALUE entries of extra added; an entry
// of extra replaces an entry of base with the same key, as `-e` does.
func MergeEnv(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range extra {
		key, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if k, _, _ := strings.Cut(old, "="); k == key {
				out[i] = kv
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// ModuleRoot returns the directory holding go.mod, walking up from the
// working directory (go test runs in the package directory) and falling back
// to `go env GOMOD`.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("no go.mod found above %s", dir)
	}
	return filepath.Dir(gomod), nil
}

// BuildLitebox runs `go build -o outDir/litebox ./cmd/litebox` in the module
// root and returns the path of the binary.
func BuildLitebox(root, outDir string) (string, error) {
	bin := filepath.Join(outDir, "litebox")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/litebox")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/litebox: %v\n%s", err, out)
	}
	return bin, nil
}

// Variant is one way of linking a guest program. Every program is tested as
// a classic static executable (fixed addresses, ET_EXEC) and as a
// static-pie (ET_DYN, self-relocating), because the loader treats them
// differently.
type Variant struct {
	Name     string
	LinkFlag string
}

// Variants lists the link modes every guest program is built with.
var Variants = []Variant{
	{Name: "static", LinkFlag: "-static"},
	{Name: "static-pie", LinkFlag: "-static-pie"},
}

// HaveGCC reports whether a C compiler is available for the guest programs.
func HaveGCC() error {
	_, err := exec.LookPath("gcc")
	return err
}

// Programs compiles testdata/NAME.c on demand, once per (NAME, Variant), into
// Dir(variant). All programs of one variant share one directory so that a
// single `--mount Dir(v):/work` makes them all visible to the guest.
type Programs struct {
	root, dir string

	mu    sync.Mutex
	built map[string]*buildResult
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// NewPrograms returns a cache that compiles the testdata programs of the
// module at root into subdirectories of dir.
func NewPrograms(root, dir string) *Programs {
	return &Programs{root: root, dir: dir, built: map[string]*buildResult{}}
}

// Dir is the host directory holding the programs of variant v.
func (p *Programs) Dir(v Variant) string {
	return filepath.Join(p.dir, v.Name)
}

// Build compiles testdata/name.c for variant v (if not done yet) and returns
// the host path of the executable.
func (p *Programs) Build(name string, v Variant) (string, error) {
	key := v.Name + "/" + name
	p.mu.Lock()
	r, ok := p.built[key]
	if !ok {
		r = &buildResult{}
		p.built[key] = r
	}
	p.mu.Unlock()

	r.once.Do(func() {
		if err := HaveGCC(); err != nil {
			r.err = fmt.Errorf("gcc not found: %w", err)
			return
		}
		if err := os.MkdirAll(p.Dir(v), 0o755); err != nil {
			r.err = err
			return
		}
		src := filepath.Join(p.root, "testdata", name+".c")
		out := filepath.Join(p.Dir(v), name)
		// -Werror only for the warnings that hide real bugs in the guest
		// programs (a missing prototype truncates returned pointers).
		cmd := exec.Command("gcc", "-O1", v.LinkFlag, "-Wall",
			"-Werror=implicit-function-declaration", "-Werror=int-conversion",
			"-o", out, src)
		if msg, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("gcc %s %s: %v\n%s", v.LinkFlag, src, err, msg)
			return
		}
		r.path = out
	})
	return r.path, r.err
}

// Guest describes the `litebox run` flags of one guest invocation.
type Guest struct {
	Mounts []string // --mount specs, HOSTDIR:GUESTDIR[:ro|:rw]
	Env    []string // -e KEY=VALUE
	Cwd    string   // --cwd, if not empty
	Flags  []string // any further flags, placed before "--"
	// Test names the test running the guest. When the environment variable
	// SyscallTraceDirEnv is set, Argv adds --trace-syscalls so that the run
	// is counted in docs/syscalls.md (see `make syscalls-doc`).
	Test string
}

// PlatformEnv names the environment variable selecting the platform every
// guest run uses.
const PlatformEnv = "LITEBOX_PLATFORM"

func hasFlag(flags []string, name string) bool {
	for _, f := range flags {
		if f == name || strings.HasPrefix(f, name+"=") {
			return true
		}
	}
	return false
}

// Argv returns the command line running prog with args under litebox.
func (g Guest) Argv(litebox, prog string, args ...string) []string {
	argv := []string{litebox, "run"}
	for _, m := range g.Mounts {
		argv = append(argv, "--mount", m)
	}
	for _, e := range g.Env {
		argv = append(argv, "-e", e)
	}
	if g.Cwd != "" {
		argv = append(argv, "--cwd", g.Cwd)
	}
	argv = append(argv, g.Flags...)
	// LITEBOX_PLATFORM runs the whole suite on one platform (make test
	// runs it once per platform).
	if p := os.Getenv(PlatformEnv); p != "" && !hasFlag(g.Flags, "--platform") {
		argv = append(argv, "--platform", p)
	}
	if dir := os.Getenv(SyscallTraceDirEnv); dir != "" && g.Test != "" {
		argv = append(argv, "--trace-syscalls", SyscallTraceFile(dir, g.Test))
	}
	argv = append(argv, "--", prog)
	return append(argv, args...)
}

// Cmd is one process to run.
type Cmd struct {
	Argv    []string
	Env     []string // nil means the current process's environment
	Dir     string   // working directory; "" means the current one
	Stdin   []byte   // nil means /dev/null
	Timeout time.Duration
	// Cred, if set, runs the process as that user (the compat harness runs
	// native baselines as the guest's unprivileged ids).
	Cred *syscall.Credential
}

// Result is the outcome of running a Cmd.
type Result struct {
	Stdout, Stderr []byte
	// ExitCode follows the shell convention: the exit status, or 128+N when
	// the process was killed by signal N. It is -1 if Err is set.
	ExitCode int
	// Signaled is set when the process itself died of a signal (as opposed
	// to exiting with status 128+N, which is what litebox must do).
	Signaled bool
	// Err is set when the process could not be started or timed out.
	Err      error
	Duration time.Duration
	// CPU is the user plus system CPU time of the process itself and of
	// the children it waited for (getrusage), once it has exited.
	CPU time.Duration
}

// DefaultTimeout bounds every run, so that a hanging sandbox fails one test
// instead of the whole `go test` binary. The slowest guest run in the tests
// takes well under a second natively.
const DefaultTimeout = time.Minute

// ErrTimeout is wrapped by Result.Err when a run was killed for taking
// longer than its timeout.
var ErrTimeout = errors.New("timed out")

// Run runs c and waits for it.
func Run(c Cmd) Result {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Own process group, so a timeout kills litebox and anything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Cred}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 10 * time.Second

	start := time.Now()
	err := cmd.Run()
	res := Result{
		Stdout:   stdout.Bytes(),
		Stderr:   stderr.Bytes(),
		Duration: time.Since(start),
		ExitCode: -1,
	}
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.Err = fmt.Errorf("%w after %v", ErrTimeout, timeout)
	case err == nil:
		res.ExitCode = 0
	case errors.As(err, &exitErr):
		ws, ok := exitErr.Sys().(syscall.WaitStatus)
		switch {
		case ok && ws.Signaled():
			res.Signaled = true
			res.ExitCode = 128 + int(ws.Signal())
		case ok:
			res.ExitCode = ws.ExitStatus()
		default:
			res.ExitCode = exitErr.ExitCode()
		}
	default:
		res.Err = err
	}
	return res
}

// String summarises r for failure messages.
func (r Result) String() string {
	var b strings.Builder
	if r.Err != nil {
		fmt.Fprintf(&b, "error: %v\n", r.Err)
	}
	fmt.Fprintf(&b, "exit code: %d", r.ExitCode)
	if r.Signaled {
		b.WriteString(" (killed by a signal)")
	}
	fmt.Fprintf(&b, "\nstdout: %s\nstderr: %s", Abbrev(r.Stdout), Abbrev(r.Stderr))
	return b.String()
}

// Abbrev quotes b for a message, shortening it if it is long.
func Abbrev(b []byte) string {
	const max = 2000
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// SortedLines returns the lines of s sorted, for outputs whose order is not
// specified (environment listings).
func SortedLines(s []byte) []string {
	lines := strings.Split(strings.TrimSuffix(string(s), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	sort.Strings(lines)
	return lines
}

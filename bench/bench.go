// Package bench measures what the sandbox costs compared with running the
// same static program natively: the price of one trapped system call, and
// the start-up time of a small program. The measurements are shared by the
// Go benchmarks (bench_test.go) and the Markdown report (cmd/report).
package bench

import (
	"fmt"
	"os"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// GetppidIterations is the loop length of the per-syscall measurement:
// long enough that the loop, not process start-up, dominates the run.
const GetppidIterations = 100000

// Env holds a freshly built litebox binary (LITEBOX_BIN selects an existing
// one instead) and the guest programs.
type Env struct {
	Litebox    string
	liteboxErr error
	programs   *harness.Programs
	variant    harness.Variant
	dir        string
}

// Setup builds litebox and the benchmark programs into a temporary
// directory. Call Close to remove it.
func Setup() (*Env, error) {
	root, err := harness.ModuleRoot()
	if err != nil {
		return nil, err
	}
	if err := harness.HaveGCC(); err != nil {
		return nil, fmt.Errorf("gcc is needed to build the benchmark programs: %w", err)
	}
	dir, err := os.MkdirTemp("", "litebox-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{dir: dir, programs: harness.NewPrograms(root, dir), variant: harness.Variants[0]}
	// A litebox that does not build fails only the sandboxed measurements.
	if bin := os.Getenv("LITEBOX_BIN"); bin != "" {
		e.Litebox = bin
	} else {
		e.Litebox, e.liteboxErr = harness.BuildLitebox(root, dir)
	}
	for _, p := range []string{"getppid_loop", "hello"} {
		if _, err := e.programs.Build(p, e.variant); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close removes the temporary build directory.
func (e *Env) Close() { os.RemoveAll(e.dir) }

// Run runs a benchmark program once, natively or under litebox, and returns
// its wall-clock time. A non-zero exit is an error: a failing run must not
// be mistaken for a fast one.
func (e *Env) Run(sandbox bool, prog string, args ...string) (time.Duration, error) {
	path, err := e.programs.Build(prog, e.variant)
	if err != nil {
		return 0, err
	}
	argv := append([]string{path}, args...)
	if sandbox {
		if e.liteboxErr != nil {
			return 0, e.liteboxErr
		}
		g := harness.Guest{Mounts: []string{e.programs.Dir(e.variant) + ":/work"}}
		argv = g.Argv(e.Litebox, "/work/"+prog, args...)
	}
	res := harness.Run(harness.Cmd{Argv: argv, Env: harness.MinimalEnv(), Dir: os.TempDir()})
	if res.Err != nil || res.ExitCode != 0 {
		return 0, fmt.Errorf("%q failed:\n%s", argv, res)
	}
	return res.Duration, nil
}

// SyscallCost returns the cost in nanoseconds of one getppid system call,
// measured as the difference between a run making n calls and a run making
// none, divided by n, so that process start-up and exit cancel out.
func (e *Env) SyscallCost(sandbox bool, n int) (float64, error) {
	full, err := e.Run(sandbox, "getppid_loop", fmt.Sprint(n))
	if err != nil {
		return 0, err
	}
	empty, err := e.Run(sandbox, "getppid_loop", "0")
	if err != nil {
		return 0, err
	}
	return float64(full-empty) / float64(n), nil
}

// Startup returns the wall-clock time of one run of the static hello
// program: exec, loading, a write and exit.
func (e *Env) Startup(sandbox bool) (time.Duration, error) {
	return e.Run(sandbox, "hello")
}

// Package bench measures what the sandbox costs compared with running the
// same program natively: the price of one trapped system call, of a
// fork+exec+wait and of a futex round trip between two threads, the
// start-up time of a static program and of python3, and a CPU-bound Python
// workload. The measurements are shared by the Go benchmarks (bench_test.go)
// and the Markdown/JSON report (cmd/report).
//
// Every measurement is a wall-clock time taken from outside the measured
// process, so native and sandboxed runs are timed the same way. Per-operation
// figures are the difference between a run doing n operations and a run
// doing none, divided by n, so that process start-up and exit cancel out.
package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// GetppidIterations is the loop length of the per-syscall measurement:
// long enough that the loop, not process start-up, dominates the run.
const GetppidIterations = 100000

// ForkExecIterations is how many times bench_forkexec forks, execs
// /bin/true and waits for it in the per-process measurement.
const ForkExecIterations = 200

// FutexRoundTrips is how many ping-pong rounds the two threads of
// bench_futex play in the per-round-trip measurement.
const FutexRoundTrips = 20000

// PythonPrimesLimit is the argument of the CPU-bound Python workload
// (PythonPrimesScript): counting the primes below it by trial division takes
// about one second natively on a current x86-64 core.
const PythonPrimesLimit = 600000

// PythonPath is the interpreter of the Python measurements. It is an
// absolute path the guest also sees (the host's /usr is visible read-only),
// and not whatever python3 comes first in PATH, which on a developer machine
// may be a shim (pyenv) the sandbox hides.
const PythonPath = "/usr/bin/python3"

// PythonPrimesScript is the CPU-bound Python workload, run with `python3 -c`
// after formatting in the limit: pure-Python loops and integer arithmetic,
// no I/O or system calls besides the final print of the count.
const PythonPrimesScript = `
def count_primes(limit):
    count = 0
    for i in range(2, limit):
        j = 2
        while j * j <= i:
            if i %% j == 0:
                break
            j += 1
        else:
            count += 1
    return count

print(count_primes(%d))
`

// programs are the testdata C programs the measurements run.
var programs = []string{"getppid_loop", "hello", "bench_forkexec", "bench_futex"}

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
	for _, p := range programs {
		if _, err := e.programs.Build(p, e.variant); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close removes the temporary build directory.
func (e *Env) Close() { os.RemoveAll(e.dir) }

// Run runs a benchmark program of testdata/ once, natively or under litebox
// (which sees it under /work), and returns its wall-clock time. A non-zero
// exit is an error: a failing run must not be mistaken for a fast one.
func (e *Env) Run(sandbox bool, prog string, args ...string) (time.Duration, error) {
	path, err := e.programs.Build(prog, e.variant)
	if err != nil {
		return 0, err
	}
	g := harness.Guest{Mounts: []string{e.programs.Dir(e.variant) + ":/work"}}
	res, err := e.run(sandbox, g, path, "/work/"+prog, args...)
	return res.Duration, err
}

// RunHost runs a program of the host once, natively or under litebox, and
// returns the result. path must be visible at the same place in the guest
// (for example under /usr). A non-zero exit is an error.
func (e *Env) RunHost(sandbox bool, path string, args ...string) (harness.Result, error) {
	return e.run(sandbox, harness.Guest{}, path, path, args...)
}

// run runs hostPath natively, or guestPath under litebox with the flags of
// g, in the guests' minimal environment.
func (e *Env) run(sandbox bool, g harness.Guest, hostPath, guestPath string, args ...string) (harness.Result, error) {
	argv := append([]string{hostPath}, args...)
	if sandbox {
		if e.liteboxErr != nil {
			return harness.Result{}, e.liteboxErr
		}
		argv = g.Argv(e.Litebox, guestPath, args...)
	}
	res := harness.Run(harness.Cmd{Argv: argv, Env: harness.MinimalEnv(), Dir: os.TempDir()})
	if res.Err != nil || res.ExitCode != 0 {
		return res, fmt.Errorf("%q failed:\n%s", argv, res)
	}
	return res, nil
}

// perOperation returns the cost in nanoseconds of one operation of prog,
// which performs as many as its argument says: the difference between a
// run doing n of them and a run doing none, divided by n.
func (e *Env) perOperation(sandbox bool, prog string, n int) (float64, error) {
	if n < 1 {
		return 0, fmt.Errorf("%s: the number of operations must be positive, not %d", prog, n)
	}
	full, err := e.Run(sandbox, prog, strconv.Itoa(n))
	if err != nil {
		return 0, err
	}
	empty, err := e.Run(sandbox, prog, "0")
	if err != nil {
		return 0, err
	}
	return float64(full-empty) / float64(n), nil
}

// SyscallCost returns the cost in nanoseconds of one getppid system call,
// measured over a loop of n calls.
func (e *Env) SyscallCost(sandbox bool, n int) (float64, error) {
	return e.perOperation(sandbox, "getppid_loop", n)
}

// ForkExecCost returns the cost in nanoseconds of one fork, execve of
// /bin/true (a dynamically linked program) and waitpid, measured over n of
// them in a static driver program.
func (e *Env) ForkExecCost(sandbox bool, n int) (float64, error) {
	return e.perOperation(sandbox, "bench_forkexec", n)
}

// FutexRoundTrip returns the cost in nanoseconds of one round trip between
// two threads waking each other with FUTEX_WAKE and waiting with
// FUTEX_WAIT, measured over n round trips.
func (e *Env) FutexRoundTrip(sandbox bool, n int) (float64, error) {
	return e.perOperation(sandbox, "bench_futex", n)
}

// Startup returns the wall-clock time of one run of the static hello
// program: exec, loading, a write and exit.
func (e *Env) Startup(sandbox bool) (time.Duration, error) {
	return e.Run(sandbox, "hello")
}

// PythonStartup returns the wall-clock time of one `python3 -c pass`: a
// dynamically linked interpreter loading its shared libraries and the
// modules of its start-up, then exiting.
func (e *Env) PythonStartup(sandbox bool) (time.Duration, error) {
	res, err := e.RunHost(sandbox, PythonPath, "-c", "pass")
	return res.Duration, err
}

// PythonPrimes returns the wall-clock time of one run of the CPU-bound
// Python workload with the given limit (including the interpreter's
// start-up), after checking that it printed the right count.
func (e *Env) PythonPrimes(sandbox bool, limit int) (time.Duration, error) {
	res, err := e.RunHost(sandbox, PythonPath, "-c", fmt.Sprintf(PythonPrimesScript, limit))
	if err != nil {
		return 0, err
	}
	if got, want := string(bytes.TrimSpace(res.Stdout)), strconv.Itoa(countPrimes(limit)); got != want {
		return 0, fmt.Errorf("the Python workload printed %q, want %s (primes below %d)", got, want, limit)
	}
	return res.Duration, nil
}

// countPrimes returns the number of primes below limit (sieve of
// Eratosthenes), what PythonPrimesScript prints.
func countPrimes(limit int) int {
	if limit < 3 {
		return 0
	}
	composite := make([]bool, limit)
	count := 0
	for i := 2; i < limit; i++ {
		if composite[i] {
			continue
		}
		count++
		for j := i * i; j < limit; j += i {
			composite[j] = true
		}
	}
	return count
}

package bench

import (
	"os"
	"sync"
	"testing"
)

var (
	setupOnce sync.Once
	env       *Env
	setupErr  error
)

// TestMain only cleans up: the (slow) build happens lazily in the first
// benchmark, so `go test ./...` without -bench costs nothing here.
func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		env.Close()
	}
	os.Exit(code)
}

func setup(b *testing.B) *Env {
	b.Helper()
	setupOnce.Do(func() { env, setupErr = Setup() })
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return env
}

// needPython skips a benchmark when the host has no /usr/bin/python3.
func needPython(b *testing.B) {
	b.Helper()
	if _, err := os.Stat(PythonPath); err != nil {
		b.Skipf("no %s on this host: %v", PythonPath, err)
	}
}

var modes = []struct {
	name    string
	sandbox bool
}{
	{"native", false},
	{"litebox", true},
}

// benchPerOperation runs measure (which returns nanoseconds per operation)
// in each mode and reports the mean under the given unit; ns/op is then
// the time of one measurement, a full run plus an empty one.
func benchPerOperation(b *testing.B, unit string, measure func(e *Env, sandbox bool) (float64, error)) {
	e := setup(b)
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			var total float64
			n := 0
			for b.Loop() {
				ns, err := measure(e, m.sandbox)
				if err != nil {
					b.Fatal(err)
				}
				total += ns
				n++
			}
			b.ReportMetric(total/float64(n), unit)
		})
	}
}

// benchWholeRun runs run once per iteration in each mode (ns/op is the
// wall-clock time of one run).
func benchWholeRun(b *testing.B, run func(e *Env, sandbox bool) error) {
	e := setup(b)
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				if err := run(e, m.sandbox); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetppid reports the cost of one trapped system call (ns/syscall);
// ns/op is the time of a 100000-call run plus an empty run.
func BenchmarkGetppid(b *testing.B) {
	benchPerOperation(b, "ns/syscall", func(e *Env, sandbox bool) (float64, error) {
		return e.SyscallCost(sandbox, GetppidIterations)
	})
}

// BenchmarkStartup measures running the static hello program once (ns/op).
func BenchmarkStartup(b *testing.B) {
	benchWholeRun(b, func(e *Env, sandbox bool) error {
		_, err := e.Startup(sandbox)
		return err
	})
}

// BenchmarkPythonStartup measures one `/usr/bin/python3 -c pass` (ns/op).
func BenchmarkPythonStartup(b *testing.B) {
	needPython(b)
	benchWholeRun(b, func(e *Env, sandbox bool) error {
		_, err := e.PythonStartup(sandbox)
		return err
	})
}

// BenchmarkPythonCPU measures one run of the CPU-bound Python workload,
// counting the primes below PythonPrimesLimit (ns/op, about a second
// natively).
func BenchmarkPythonCPU(b *testing.B) {
	needPython(b)
	benchWholeRun(b, func(e *Env, sandbox bool) error {
		_, err := e.PythonPrimes(sandbox, PythonPrimesLimit)
		return err
	})
}

// BenchmarkForkExec reports the cost of one fork, execve("/bin/true") and
// waitpid (ns/fork-exec); ns/op is the time of a 200-iteration run plus an
// empty run.
func BenchmarkForkExec(b *testing.B) {
	benchPerOperation(b, "ns/fork-exec", func(e *Env, sandbox bool) (float64, error) {
		return e.ForkExecCost(sandbox, ForkExecIterations)
	})
}

// BenchmarkFutex reports the cost of one futex round trip between two
// threads (ns/round-trip); ns/op is the time of a 20000-round run plus an
// empty run.
func BenchmarkFutex(b *testing.B) {
	benchPerOperation(b, "ns/round-trip", func(e *Env, sandbox bool) (float64, error) {
		return e.FutexRoundTrip(sandbox, FutexRoundTrips)
	})
}

// TestCountPrimes checks the expected output of the Python workload.
func TestCountPrimes(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{
		{0, 0}, {2, 0}, {3, 1}, {10, 4}, {11, 4}, {12, 5}, {100, 25}, {PythonPrimesLimit, 49098},
	} {
		if got := countPrimes(tc.limit); got != tc.want {
			t.Errorf("countPrimes(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}

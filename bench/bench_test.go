package bench

import (
	"os"
	"strings"
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

// eachSystem runs bench as a sub-benchmark per system (native,
// litebox-ptrace, litebox-systrap, gvisor, bwrap), skipping those that
// cannot run here.
func eachSystem(b *testing.B, bench func(b *testing.B, e *Env, s *System)) {
	e := setup(b)
	for _, s := range e.Systems {
		b.Run(s.Name, func(b *testing.B) {
			if s.Unavailable != "" {
				b.Skipf("%s: %s", s.Name, s.Unavailable)
			}
			bench(b, e, s)
		})
	}
}

// benchPerOperation runs measure (which returns nanoseconds per operation)
// on each system and reports the mean under the given unit; ns/op is then
// the time of one measurement, a full run plus an empty one.
func benchPerOperation(b *testing.B, unit string, measure func(e *Env, s *System) (Sample, error)) {
	eachSystem(b, func(b *testing.B, e *Env, s *System) {
		var total float64
		n := 0
		for b.Loop() {
			sample, err := measure(e, s)
			if err != nil {
				b.Fatal(err)
			}
			total += sample.Ns
			n++
		}
		b.ReportMetric(total/float64(n), unit)
	})
}

// benchWholeRun runs run once per iteration on each system (ns/op is the
// wall-clock time of one run).
func benchWholeRun(b *testing.B, run func(e *Env, s *System) error) {
	eachSystem(b, func(b *testing.B, e *Env, s *System) {
		for b.Loop() {
			if err := run(e, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetppid reports the cost of one trapped system call (ns/syscall);
// ns/op is the time of a 100000-call run plus an empty run.
func BenchmarkGetppid(b *testing.B) {
	benchPerOperation(b, "ns/syscall", func(e *Env, s *System) (Sample, error) {
		return e.SyscallCost(s, GetppidIterations)
	})
}

// BenchmarkClockGettime reports the cost of one clock_gettime of the C
// library (ns/call): through the vDSO natively and under litebox.
func BenchmarkClockGettime(b *testing.B) {
	benchPerOperation(b, "ns/call", func(e *Env, s *System) (Sample, error) {
		return e.ClockCost(s, ClockIterations)
	})
}

// BenchmarkStartup measures running the static bench_true once (ns/op).
func BenchmarkStartup(b *testing.B) {
	benchWholeRun(b, func(e *Env, s *System) error {
		_, err := e.Startup(s)
		return err
	})
}

// BenchmarkPythonStartup measures one `/usr/bin/python3 -c pass` (ns/op).
func BenchmarkPythonStartup(b *testing.B) {
	needPython(b)
	benchWholeRun(b, func(e *Env, s *System) error {
		_, err := e.PythonStartup(s)
		return err
	})
}

// BenchmarkPythonCPU measures one run of the CPU-bound Python workload,
// counting the primes below PythonPrimesLimit (ns/op, about a second
// natively).
func BenchmarkPythonCPU(b *testing.B) {
	needPython(b)
	benchWholeRun(b, func(e *Env, s *System) error {
		_, err := e.PythonPrimes(s, PythonPrimesLimit)
		return err
	})
}

// BenchmarkForkExec reports the cost of one fork, execve("/bin/true") and
// waitpid (ns/fork-exec); ns/op is the time of a 200-iteration run plus an
// empty run.
func BenchmarkForkExec(b *testing.B) {
	benchPerOperation(b, "ns/fork-exec", func(e *Env, s *System) (Sample, error) {
		return e.ForkExecCost(s, ForkExecIterations)
	})
}

// BenchmarkFutex reports the cost of one futex round trip between two
// threads (ns/round-trip); ns/op is the time of a 20000-round run plus an
// empty run.
func BenchmarkFutex(b *testing.B) {
	benchPerOperation(b, "ns/round-trip", func(e *Env, s *System) (Sample, error) {
		return e.FutexRoundTrip(s, FutexRoundTrips)
	})
}

// BenchmarkFileIO reports the throughput of writing and reading back a
// FileIOMiB file in the system's /tmp, in 4 KiB and in 1 MiB blocks, as
// MB/s of each phase (write-4K-MB/s...); ns/op is the wall-clock time of
// the whole bench_fileio run.
func BenchmarkFileIO(b *testing.B) {
	eachSystem(b, func(b *testing.B, e *Env, s *System) {
		totals := map[string]float64{}
		var names []string
		n := 0
		for b.Loop() {
			phases, _, err := e.FileIO(s, FileIOMiB, FileIOBlocks)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range phases {
				if n == 0 {
					names = append(names, p.Name())
				}
				totals[p.Name()] += p.Ns
			}
			n++
		}
		for _, name := range names {
			b.ReportMetric(float64(FileIOMiB<<20)/(totals[name]/float64(n)/1e9)/1e6, name+"-MB/s")
		}
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

// TestParseFileIO checks the parsing of bench_fileio's output.
func TestParseFileIO(t *testing.T) {
	phases, err := parseFileIO([]byte("write 4096 1000\nread 4096 2000\n\nwrite 1048576 30\nread 1048576 40\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []FileIOPhase{{"write", 4096, 1000}, {"read", 4096, 2000}, {"write", 1 << 20, 30}, {"read", 1 << 20, 40}}
	if len(phases) != len(want) {
		t.Fatalf("got %v, want %v", phases, want)
	}
	for i := range want {
		if phases[i] != want[i] {
			t.Errorf("phase %d = %v, want %v", i, phases[i], want[i])
		}
	}
	if got := []string{phases[0].Name(), phases[3].Name()}; got[0] != "write-4K" || got[1] != "read-1M" {
		t.Errorf("names %q, want write-4K, read-1M", got)
	}
	for _, bad := range []string{"write 4096\n", "seek 4096 10\n", "read x 10\n", "read 4096 -1\n"} {
		if _, err := parseFileIO([]byte(bad)); err == nil {
			t.Errorf("parseFileIO(%q) succeeded", bad)
		}
	}
}

// TestFirstLine checks the shortening of error messages for table cells.
func TestFirstLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"\n  boom | bang \nmore", "boom / bang"},
		{strings.Repeat("é", 150), strings.Repeat("é", 100) + "…"},
		{strings.Repeat("é", 100), strings.Repeat("é", 100)},
	} {
		if got := firstLine(tc.in, 100); got != tc.want {
			t.Errorf("firstLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

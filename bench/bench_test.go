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

var modes = []struct {
	name    string
	sandbox bool
}{
	{"native", false},
	{"litebox", true},
}

// BenchmarkGetppid reports the cost of one trapped system call (ns/syscall);
// ns/op is the time of a 100000-call run plus an empty run.
func BenchmarkGetppid(b *testing.B) {
	e := setup(b)
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			var total float64
			n := 0
			for b.Loop() {
				ns, err := e.SyscallCost(m.sandbox, GetppidIterations)
				if err != nil {
					b.Fatal(err)
				}
				total += ns
				n++
			}
			b.ReportMetric(total/float64(n), "ns/syscall")
		})
	}
}

// BenchmarkStartup measures running the static hello program once (ns/op).
func BenchmarkStartup(b *testing.B) {
	e := setup(b)
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Startup(m.sandbox); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Command report runs the bench measurements several times natively and
// under litebox and prints the medians and the sandbox/native ratio as a
// Markdown table, optionally also writing them as JSON:
//
//	go run ./bench/cmd/report [-runs 7] [-json FILE]
//	    [-iterations 100000] [-forks 200] [-roundtrips 20000] [-primes 600000]
//
// Native and sandboxed runs alternate, so that a change in the machine's
// load affects both columns alike. A measurement that fails is reported as
// such (and makes the command exit 1) without stopping the others. With the
// defaults the whole report takes about a minute and a half on two cores.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/litebox-go/litebox/bench"
)

type config struct {
	runs       int
	iterations int // getppid calls per run
	forks      int // fork+exec+wait iterations per run
	roundTrips int // futex round trips per run
	primes     int // limit of the Python workload
	jsonFile   string
}

func main() {
	var c config
	flag.IntVar(&c.runs, "runs", 7, "measurements per row and mode; the median is reported")
	flag.IntVar(&c.iterations, "iterations", bench.GetppidIterations, "getppid calls per run")
	flag.IntVar(&c.forks, "forks", bench.ForkExecIterations, "fork+execve+waitpid iterations per run")
	flag.IntVar(&c.roundTrips, "roundtrips", bench.FutexRoundTrips, "futex round trips per run")
	flag.IntVar(&c.primes, "primes", bench.PythonPrimesLimit, "the CPU-bound Python workload counts the primes below this")
	flag.StringVar(&c.jsonFile, "json", "", "also write the results as JSON to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "report: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ok, err := report(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// row is one measurement: measure returns nanoseconds.
type row struct {
	id      string // stable key of the JSON output
	name    string // Markdown table label
	per     string // what one sample measures
	n       int    // operations per run, or the workload's size; 0 if none
	measure func(sandbox bool) (float64, error)
}

// Report is the JSON output.
type Report struct {
	Time         string        `json:"time"` // RFC 3339
	GOOS         string        `json:"goos"`
	GOARCH       string        `json:"goarch"`
	CPUs         int           `json:"cpus"`
	Runs         int           `json:"runs"`
	Measurements []Measurement `json:"measurements"`
}

// Measurement is one row of the report.
type Measurement struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Per     string `json:"per"`
	N       int    `json:"n,omitempty"`
	Native  Mode   `json:"native"`
	LiteBox Mode   `json:"litebox"`
	// Ratio is LiteBox.MedianNs / Native.MedianNs, absent if either failed.
	Ratio *float64 `json:"ratio,omitempty"`
}

// Mode holds the runs of one measurement natively or under litebox.
type Mode struct {
	MedianNs  *float64  `json:"median_ns,omitempty"`
	SamplesNs []float64 `json:"samples_ns"`
	Error     string    `json:"error,omitempty"`
}

func report(c config) (ok bool, err error) {
	if c.runs < 1 || c.iterations < 1 || c.forks < 1 || c.roundTrips < 1 || c.primes < 1 {
		return false, fmt.Errorf("-runs, -iterations, -forks, -roundtrips and -primes must be positive")
	}
	start := time.Now()
	e, err := bench.Setup()
	if err != nil {
		return false, err
	}
	defer e.Close()

	rows := []row{
		{"getppid", fmt.Sprintf("getppid system call (per call, %d-call loop)", c.iterations), "call", c.iterations,
			func(sandbox bool) (float64, error) { return e.SyscallCost(sandbox, c.iterations) }},
		{"static_startup", "start-up of static hello (whole run)", "run", 0,
			func(sandbox bool) (float64, error) { return duration(e.Startup(sandbox)) }},
		{"python_startup", "start-up of `python3 -c pass` (whole run)", "run", 0,
			func(sandbox bool) (float64, error) { return duration(e.PythonStartup(sandbox)) }},
		{"python_cpu", fmt.Sprintf("CPU-bound Python: count primes below %d (whole run)", c.primes), "run", c.primes,
			func(sandbox bool) (float64, error) { return duration(e.PythonPrimes(sandbox, c.primes)) }},
		{"fork_exec", fmt.Sprintf("fork + execve /bin/true + waitpid (per iteration, %d-iteration loop)", c.forks), "iteration", c.forks,
			func(sandbox bool) (float64, error) { return e.ForkExecCost(sandbox, c.forks) }},
		{"futex_pingpong", fmt.Sprintf("futex ping-pong between two threads (per round trip, %d round trips)", c.roundTrips), "round trip", c.roundTrips,
			func(sandbox bool) (float64, error) { return e.FutexRoundTrip(sandbox, c.roundTrips) }},
	}

	out := Report{
		Time:   start.Format(time.RFC3339),
		GOOS:   runtime.GOOS,
		GOARCH: runtime.GOARCH,
		CPUs:   runtime.NumCPU(),
		Runs:   c.runs,
	}
	for _, r := range rows {
		fmt.Fprintf(os.Stderr, "report: measuring %s...\n", r.id)
		out.Measurements = append(out.Measurements, measure(r, c.runs))
	}
	fmt.Fprintf(os.Stderr, "report: done in %v\n", time.Since(start).Round(time.Second))

	fmt.Printf("Medians of %d runs each, native and litebox runs alternating; %s/%s, %d CPUs, %s.\n\n",
		c.runs, out.GOOS, out.GOARCH, out.CPUs, start.Format(time.DateOnly))
	fmt.Println("| Measurement | Native | LiteBox | LiteBox / native |")
	fmt.Println("|---|---:|---:|---:|")
	ok = true
	var failures []string
	for _, m := range out.Measurements {
		ratio := "n/a"
		if m.Ratio != nil {
			ratio = formatRatio(*m.Ratio)
		}
		fmt.Printf("| %s | %s | %s | %s |\n", m.Name, formatMode(m.Native), formatMode(m.LiteBox), ratio)
		for _, f := range []struct {
			mode string
			m    Mode
		}{{"native", m.Native}, {"litebox", m.LiteBox}} {
			if f.m.Error != "" {
				ok = false
				failures = append(failures, fmt.Sprintf("%s, %s: %s", m.Name, f.mode, f.m.Error))
			}
		}
	}
	if len(failures) > 0 {
		fmt.Println("\nFailed measurements:")
		for _, f := range failures {
			fmt.Printf("\n- %s\n", strings.ReplaceAll(f, "\n", "\n  "))
		}
	}

	if c.jsonFile != "" {
		data, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return false, err
		}
		if err := os.WriteFile(c.jsonFile, append(data, '\n'), 0o644); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// duration adapts a time.Duration measurement to a row's measure.
func duration(d time.Duration, err error) (float64, error) {
	return float64(d), err
}

// measure runs r natively and under litebox, alternately, runs times each.
// A mode stops at its first failure; the other carries on.
func measure(r row, runs int) Measurement {
	m := Measurement{ID: r.id, Name: r.name, Per: r.per, N: r.n}
	modes := []struct {
		sandbox bool
		m       *Mode
	}{{false, &m.Native}, {true, &m.LiteBox}}
	for range runs {
		for _, mode := range modes {
			if mode.m.Error != "" {
				continue
			}
			v, err := r.measure(mode.sandbox)
			if err != nil {
				mode.m.Error = err.Error()
				continue
			}
			mode.m.SamplesNs = append(mode.m.SamplesNs, v)
		}
	}
	for _, mode := range modes {
		if mode.m.Error == "" {
			med := median(mode.m.SamplesNs)
			mode.m.MedianNs = &med
		}
	}
	if m.Native.MedianNs != nil && m.LiteBox.MedianNs != nil && *m.Native.MedianNs > 0 {
		ratio := *m.LiteBox.MedianNs / *m.Native.MedianNs
		m.Ratio = &ratio
	}
	return m
}

// median returns the median of vals, which must not be empty.
func median(vals []float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// formatMode prints the median of a mode, or that it failed.
func formatMode(m Mode) string {
	if m.MedianNs == nil {
		return "failed"
	}
	return formatNs(*m.MedianNs)
}

// formatRatio prints a ratio with two significant digits at least.
func formatRatio(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

// formatNs prints a duration in nanoseconds with a unit suited to its size.
func formatNs(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.1f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.2f s", ns/1e9)
	}
}

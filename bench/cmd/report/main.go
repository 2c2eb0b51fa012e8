// Command report runs the bench measurements several times natively and
// under litebox and prints the medians and the sandbox/native ratio as a
// Markdown table:
//
//	go run ./bench/cmd/report [-runs 7] [-iterations 100000]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/litebox-go/litebox/bench"
)

func main() {
	runs := flag.Int("runs", 7, "measurements per row and mode; the median is reported")
	iterations := flag.Int("iterations", bench.GetppidIterations, "getppid calls per run")
	flag.Parse()
	if err := report(*runs, *iterations); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// row is one measurement: measure returns nanoseconds.
type row struct {
	name    string
	measure func(sandbox bool) (float64, error)
}

func report(runs, iterations int) error {
	if runs < 1 || iterations < 1 {
		return fmt.Errorf("-runs and -iterations must be positive")
	}
	e, err := bench.Setup()
	if err != nil {
		return err
	}
	defer e.Close()

	rows := []row{
		{fmt.Sprintf("getppid system call (per call, %d-call loop)", iterations),
			func(sandbox bool) (float64, error) { return e.SyscallCost(sandbox, iterations) }},
		{"start-up of static hello (whole run)",
			func(sandbox bool) (float64, error) {
				d, err := e.Startup(sandbox)
				return float64(d), err
			}},
	}

	fmt.Printf("Medians of %d runs each; %s/%s, %d CPUs, %s.\n\n",
		runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().Format(time.DateOnly))
	fmt.Println("| Measurement | Native | LiteBox | LiteBox / native |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range rows {
		native, err := median(runs, func() (float64, error) { return r.measure(false) })
		if err != nil {
			return fmt.Errorf("%s, native: %w", r.name, err)
		}
		sandboxed, err := median(runs, func() (float64, error) { return r.measure(true) })
		if err != nil {
			return fmt.Errorf("%s, litebox: %w", r.name, err)
		}
		ratio := "n/a"
		if native > 0 {
			ratio = fmt.Sprintf("%.1f×", sandboxed/native)
		}
		fmt.Printf("| %s | %s | %s | %s |\n", r.name, formatNs(native), formatNs(sandboxed), ratio)
	}
	return nil
}

// median runs f n times and returns the median result.
func median(n int, f func() (float64, error)) (float64, error) {
	vals := make([]float64, 0, n)
	for range n {
		v, err := f()
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
	}
	slices.Sort(vals)
	if n%2 == 1 {
		return vals[n/2], nil
	}
	return (vals[n/2-1] + vals[n/2]) / 2, nil
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

package bench

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestPercentile checks the nearest-rank percentiles of the density rows.
func TestPercentile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(100 - i) // 100..1, unsorted
	}
	for _, tc := range []struct {
		vals []int64
		p    float64
		want int64
	}{
		{nil, 50, 0},
		{[]int64{7}, 50, 7},
		{[]int64{7}, 99, 7},
		{[]int64{3, 1, 2}, 50, 2},
		{[]int64{4, 1, 3, 2}, 50, 2}, // rank ceil(2) = 2
		{[]int64{4, 1, 3, 2}, 99, 4},
		{[]int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 50, 50},
		{[]int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 99, 100},
		{[]int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 90, 90},
		{hundred, 50, 50},
		{hundred, 99, 99},
		{hundred, 100, 100},
		{hundred, 0.1, 1},
	} {
		orig := slices.Clone(tc.vals)
		if got := Percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %d, want %d", tc.vals, tc.p, got, tc.want)
		}
		if !slices.Equal(orig, tc.vals) {
			t.Errorf("Percentile sorted its argument: %v", tc.vals)
		}
	}
}

// TestParseMultibox checks the parsing of multibox's output.
func TestParseMultibox(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		n     int
		want  []time.Duration // nil: an error
	}{
		{[]string{"start 1 20\n", "start 0 10\n", "ready 2\n"}, 2, []time.Duration{20, 10}},
		{[]string{"start 0 5\n", "ready 1\n"}, 1, []time.Duration{5}},
		{[]string{"start 0 5\n"}, 1, nil},                             // no ready
		{[]string{"start 0 5\n", "ready 2\n"}, 1, nil},                // wrong count
		{[]string{"start 0 5\n", "ready 1\n"}, 2, nil},                // a start missing
		{[]string{"start 0 5\n", "start 0 6\n", "ready 2\n"}, 2, nil}, // twice
		{[]string{"start 2 5\n", "ready 1\n"}, 1, nil},                // index out of range
		{[]string{"start 0 -5\n", "ready 1\n"}, 1, nil},               // negative time
		{[]string{"start 0 x\n", "ready 1\n"}, 1, nil},
		{[]string{"ready 1\n", "start 0 5\n"}, 1, nil}, // ready before the end
		{[]string{"hello\n", "ready 0\n"}, 0, nil},
		{nil, 1, nil},
	} {
		got, err := parseMultibox(tc.lines, tc.n)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseMultibox(%q, %d) = %v, want an error", tc.lines, tc.n, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseMultibox(%q, %d) = %v, %v; want %v", tc.lines, tc.n, got, err, tc.want)
		}
	}
}

// BenchmarkDensity runs DensityCounts idle python3 sandboxes on every
// density system and reports, per sandbox, the PSS of all their processes
// (PSS-MB/sandbox) and the start latencies with DensityInFlight in flight
// (start-p50-ms, start-p99-ms); ns/op is the whole measurement.
func BenchmarkDensity(b *testing.B) {
	needPython(b)
	e := setup(b)
	for _, name := range e.DensitySystems() {
		for _, n := range DensityCounts {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				if why := e.DensityUnavailable(name); why != "" {
					b.Skipf("%s: %s", name, why)
				}
				if name == LiteboxMulti {
					if _, err := e.multibox(); err != nil { // not in the first iteration's time
						b.Fatal(err)
					}
				}
				var pss, p50, p99 float64
				runs := 0
				for b.Loop() {
					d, err := e.MeasureDensity(name, n)
					if err != nil {
						b.Fatal(err)
					}
					pss += d.PSS
					p50 += float64(d.StartP50Ns)
					p99 += float64(d.StartP99Ns)
					runs++
				}
				b.ReportMetric(pss/float64(runs)/1e6, "PSS-MB/sandbox")
				b.ReportMetric(p50/float64(runs)/1e6, "start-p50-ms")
				b.ReportMetric(p99/float64(runs)/1e6, "start-p99-ms")
			})
		}
	}
}

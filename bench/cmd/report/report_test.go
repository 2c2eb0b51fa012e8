package main

import (
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/litebox-go/litebox/bench"
)

func ptr(v float64) *float64 { return &v }

// TestMeasure checks the per-round ratios, the medians and that a failing
// or unavailable system leaves the others alone.
func TestMeasure(t *testing.T) {
	systems := []*bench.System{
		{Name: bench.Native},
		{Name: bench.LiteboxPtrace},
		{Name: bench.GVisor, Peer: true},
		{Name: bench.Bwrap, Peer: true, Unavailable: bench.NotInstalled},
	}
	round := 0
	values := map[string][]float64{
		bench.Native:        {10, 20, 10},
		bench.LiteboxPtrace: {30, 40, 50},
	}
	g := group{
		rows: []row{{id: "a"}, {id: "b"}},
		measure: func(s *bench.System) ([]float64, []time.Duration, error) {
			if s.Name == bench.GVisor {
				return nil, nil, errTest
			}
			v := values[s.Name][round]
			return []float64{v, 2 * v}, []time.Duration{time.Duration(v)}, nil
		},
	}
	ms := measure(g, systems, 3, func(r int, _ string) { round = r })
	if len(ms) != 2 {
		t.Fatalf("%d measurements, want 2", len(ms))
	}
	for i, m := range ms {
		native, lb, gv, bw := m.Results[0], m.Results[1], m.Results[2], m.Results[3]
		scale := float64(i + 1)
		if native.MedianNs == nil || *native.MedianNs != 10*scale || native.Ratio != nil {
			t.Errorf("%s native: median %v, ratio %v; want %v, none", m.ID, native.MedianNs, native.Ratio, 10*scale)
		}
		// Ratios 3, 2, 5: median 3, while the medians' quotient is 4.
		if lb.MedianNs == nil || *lb.MedianNs != 40*scale || lb.Ratio == nil || *lb.Ratio != 3 {
			t.Errorf("%s litebox: median %v, ratio %v; want %v, 3", m.ID, lb.MedianNs, lb.Ratio, 40*scale)
		}
		if len(lb.Samples) != 3 || lb.Samples[2].RunsNs[0] != 50 {
			t.Errorf("%s litebox samples %+v", m.ID, lb.Samples)
		}
		if gv.Error == "" || gv.MedianNs != nil || len(gv.Samples) != 0 {
			t.Errorf("%s gvisor: %+v, want an error and no samples", m.ID, gv)
		}
		if bw.Unavailable != bench.NotInstalled || len(bw.Samples) != 0 {
			t.Errorf("%s bwrap: %+v, want not installed", m.ID, bw)
		}
	}
	if c := formatCell(ms[0], ms[0].Results[3]); c != bench.NotInstalled {
		t.Errorf("bwrap cell %q", c)
	}
	if c := formatCell(ms[0], ms[0].Results[2]); c != "failed" {
		t.Errorf("gvisor cell %q", c)
	}
	if c := formatCell(ms[0], ms[0].Results[1]); c != "40.0 ns (3.00×)" {
		t.Errorf("litebox cell %q", c)
	}
}

type testError struct{}

func (testError) Error() string { return "boom" }

var errTest = testError{}

// TestFormatCellThroughput checks that a throughput row shows MB/s.
func TestFormatCellThroughput(t *testing.T) {
	m := &Measurement{Bytes: 256 << 20}
	r := &Result{System: bench.LiteboxSystrap, MedianNs: ptr(1e9), Ratio: ptr(12.5)}
	if got, want := formatCell(m, r), "268 MB/s (12.5×)"; got != want {
		t.Errorf("formatCell = %q, want %q", got, want)
	}
}

// TestLogAxis checks the ends and ticks of the chart's scale.
func TestLogAxis(t *testing.T) {
	a := newLogAxis(0.63, 328, 100, 900)
	if a.lo != 0.5 || a.hi != 500 {
		t.Errorf("ends %v, %v; want 0.5, 500", a.lo, a.hi)
	}
	var ticks []string
	for _, v := range a.ticks() {
		ticks = append(ticks, formatTick(v))
	}
	if got := strings.Join(ticks, " "); got != "0.5x 1x 10x 100x 500x" {
		t.Errorf("ticks %s", got)
	}
	if a.x(0.5) != 100 || a.x(500) != 900 || a.x(1e6) != 900 {
		t.Errorf("x(0.5), x(500), x(1e6) = %d, %d, %d", a.x(0.5), a.x(500), a.x(1e6))
	}
	b := newLogAxis(1, 1, 0, 100)
	if b.lo != 1 || b.hi != 2 {
		t.Errorf("degenerate axis ends %v, %v; want 1, 2", b.lo, b.hi)
	}
}

// TestDrawChart draws a chart with every kind of cell.
func TestDrawChart(t *testing.T) {
	out := &Report{
		Runs: 1,
		Systems: []SystemInfo{{Name: bench.Native}, {Name: bench.LiteboxPtrace}, {Name: bench.GVisor},
			{Name: bench.Bwrap, Unavailable: bench.NotInstalled}},
		Measurements: []*Measurement{{Short: "x", Results: []*Result{
			{System: bench.Native, MedianNs: ptr(1)},
			{System: bench.LiteboxPtrace, MedianNs: ptr(-3), Ratio: ptr(-3)},
			{System: bench.GVisor, Error: "boom"},
			{System: bench.Bwrap, Unavailable: bench.NotInstalled},
		}}, {Short: "y", Results: []*Result{
			{System: bench.Native, MedianNs: ptr(1)},
			{System: bench.LiteboxPtrace, MedianNs: ptr(300), Ratio: ptr(300)},
			{System: bench.GVisor, MedianNs: ptr(0.5), Ratio: ptr(0.5)},
		}}, {Short: "net", Unit: "Gbit/s", Amount: 1, Results: []*Result{
			{System: bench.Native, MedianNs: ptr(1e8)},
			{System: bench.LiteboxPtrace, Unavailable: "unavailable: litebox: unknown flag: --net"},
			{System: bench.GVisor, MedianNs: ptr(5e8), Ratio: ptr(5)},
		}}},
	}
	img := drawChart(out)
	if b := img.Bounds(); b.Dx() != chartWidth || b.Dy() < plotTop+2*groupGap {
		t.Errorf("bounds %v", b)
	}
}

// TestFormatCellRate checks the rows shown as rates: the value is the time
// of Amount units, the ratio stays a slowdown.
func TestFormatCellRate(t *testing.T) {
	for _, c := range []struct {
		m    *Measurement
		ns   float64
		want string
	}{
		{&Measurement{Unit: "MB/s", Amount: float64(256<<20) / 1e6}, 1e9, "268 MB/s (2.00×)"},
		// 10^8 ns per Gbit: 10 Gbit/s.
		{&Measurement{Unit: "Gbit/s", Amount: 1}, 1e8, "10.0 Gbit/s (2.00×)"},
		{&Measurement{Unit: "Gbit/s", Amount: 1}, 4e8, "2.50 Gbit/s (2.00×)"},
		// 200 µs per request: 5000 requests/s.
		{&Measurement{Unit: "requests/s", Amount: 1}, 2e5, "5000 requests/s (2.00×)"},
	} {
		r := &Result{System: bench.GVisor, MedianNs: ptr(c.ns), Ratio: ptr(2)}
		if got := formatCell(c.m, r); got != c.want {
			t.Errorf("formatCell(%s, %v ns) = %q, want %q", c.m.Unit, c.ns, got, c.want)
		}
	}
}

// TestMeasureRowUnavailable checks that a group a system cannot run shows
// the reason in that system's cells, without measuring it or failing it.
func TestMeasureRowUnavailable(t *testing.T) {
	systems := []*bench.System{{Name: bench.Native}, {Name: bench.LiteboxPtrace}, {Name: bench.Bwrap, Peer: true}}
	measured := map[string]int{}
	g := group{
		rows: []row{{id: "net"}},
		measure: func(s *bench.System) ([]float64, []time.Duration, error) {
			measured[s.Name]++
			return []float64{100}, []time.Duration{1}, nil
		},
		unavailable: func(s *bench.System) string {
			if s.Name == bench.LiteboxPtrace {
				return "unavailable: litebox: unknown flag: --net"
			}
			return ""
		},
	}
	ms := measure(g, systems, 2, func(int, string) {})
	lb := ms[0].Results[1]
	if lb.Unavailable != "unavailable: litebox: unknown flag: --net" || lb.Error != "" || len(lb.Samples) != 0 || measured[bench.LiteboxPtrace] != 0 {
		t.Errorf("litebox: %+v, measured %d times; want unavailable, not measured", lb, measured[bench.LiteboxPtrace])
	}
	if c := formatCell(ms[0], lb); c != "unavailable: litebox: unknown flag: --net" {
		t.Errorf("litebox cell %q", c)
	}
	if bw := ms[0].Results[2]; bw.Ratio == nil || *bw.Ratio != 1 || measured[bench.Bwrap] != 2 {
		t.Errorf("bwrap: %+v, measured %d times; want ratio 1, measured twice", bw, measured[bench.Bwrap])
	}
	var buf strings.Builder
	out := &Report{Runs: 2, Measurements: ms}
	if !printMarkdown(&buf, out, systems, time.Now(), time.Second) {
		t.Errorf("an unavailable row failed the report:\n%s", buf.String())
	}
}

// TestDrawDensityChart draws the density section with every kind of cell
// and checks that each measured system's line is in it and that it goes
// under the bar chart.
func TestDrawDensityChart(t *testing.T) {
	d := func(n int, pss float64, p50 int64) *bench.Density {
		return &bench.Density{N: n, PSS: pss, StartP50Ns: p50, StartP99Ns: 2 * p50}
	}
	out := &Report{
		Systems: []SystemInfo{{Name: bench.Native}, {Name: bench.LiteboxPtrace}},
		Measurements: []*Measurement{{Short: "x", Results: []*Result{
			{System: bench.Native, MedianNs: ptr(1)},
			{System: bench.LiteboxPtrace, MedianNs: ptr(2), Ratio: ptr(2)},
		}}},
		Density: []*DensityResult{
			{System: bench.Native, N: 1, Density: d(1, 6e6, 16e6)},
			{System: bench.Native, N: 10, Density: d(10, 3e6, 50e6)},
			{System: bench.LiteboxMulti, N: 1, Density: d(1, 24e6, 50e6)},
			{System: bench.LiteboxMulti, N: 10, Density: d(10, 6e6, 300e6)},
			{System: bench.GVisor, N: 1, Error: "boom"},
			{System: bench.GVisor, N: 10, Unavailable: "unavailable: not run after N=1 failed"},
		},
	}
	img := drawDensityChart(out)
	if img == nil || img.Bounds().Dx() != chartWidth || img.Bounds().Dy() != densityHeight {
		t.Fatalf("density chart bounds %v", img.Bounds())
	}
	has := func(c color.RGBA) bool {
		for y := densityTop; y < densityTop+densityPlotH; y++ {
			for x := panelLefts[0]; x < panelLefts[1]+panelW; x++ {
				if img.RGBAAt(x, y) == c {
					return true
				}
			}
		}
		return false
	}
	for _, s := range []string{bench.Native, bench.LiteboxMulti} {
		if !has(lineColor(s)) {
			t.Errorf("no line of %s in the plots", s)
		}
	}
	if has(lineColor(bench.GVisor)) {
		t.Errorf("a line for gvisor, which has no figures")
	}
	bars := drawChart(out)
	both := stack(bars, img)
	if got, want := both.Bounds().Dy(), bars.Bounds().Dy()+densityHeight; got != want {
		t.Errorf("stacked height %d, want %d", got, want)
	}
	if stack(nil, nil) != nil || drawDensityChart(&Report{}) != nil {
		t.Errorf("an empty chart is not nil")
	}
}

// TestParseCounts checks the -density-n list.
func TestParseCounts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for an error
	}{
		{"1,10,50,100", "1,10,50,100"},
		{" 100, 1 ,10,10", "1,10,100"},
		{"5", "5"},
		{"", ""},
		{",", ""},
		{"0", ""},
		{"-1", ""},
		{"1,x", ""},
	} {
		got, err := parseCounts(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseCounts(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || joinInts(got) != tc.want {
			t.Errorf("parseCounts(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// TestPrintDensity checks the density table: ratios to native at the same
// N, failures and unavailable cells, and that only a litebox failure
// fails the report.
func TestPrintDensity(t *testing.T) {
	d := func(n int, pss, top float64, p50, p99 int64) *bench.Density {
		return &bench.Density{N: n, PSS: pss, SupervisorPSS: top, MemfdBytes: top / 2, Processes: 3 * n, StartP50Ns: p50, StartP99Ns: p99, WallNs: 2 * p99}
	}
	out := &Report{Density: []*DensityResult{
		{System: bench.Native, N: 10, Density: d(10, 3e6, 3e6, 50e6, 60e6)},
		{System: bench.LiteboxMulti, N: 10, Density: d(10, 6e6, 2.5e6, 300e6, 400e6)},
		{System: bench.GVisor, N: 10, Error: "runsc: boom\nmore", peer: true},
		{System: bench.Bwrap, N: 10, Unavailable: bench.NotInstalled, peer: true},
	}}
	var buf strings.Builder
	if !printDensity(&buf, out) {
		t.Errorf("a peer's failure failed the report")
	}
	for _, want := range []string{
		"| native | 10 | 3.0 MB | 3.0 MB | 1.5 MB | 30 | 50.00 ms | 60.00 ms | 120.00 ms |",
		"| litebox-multi | 10 | 6.0 MB (2.00×) | 2.5 MB | 1.2 MB | 30 | 300.00 ms (6.00×) | 400.00 ms | 800.00 ms |",
		"| gvisor | 10 | failed: runsc: boom | | | | | | |",
		"| bwrap | 10 | not installed | | | | | | |",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("no line %q in\n%s", want, buf.String())
		}
	}
	out.Density = append(out.Density, &DensityResult{System: bench.LiteboxPtrace, N: 10, Error: "boom"})
	if printDensity(&strings.Builder{}, out) {
		t.Errorf("a litebox failure did not fail the report")
	}
}

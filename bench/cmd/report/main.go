// Command report runs the bench measurements several times natively, under
// litebox on each platform (ptrace, systrap) and under the peer sandboxes
// gVisor (runsc, ptrace platform) and bubblewrap, and prints the medians and
// the ratios to native as a Markdown table on standard output. It can also
// write every raw run as JSON and the ratios as a PNG bar chart:
//
//	go run ./bench/cmd/report [-runs 5] [-net-runs 3] [-json FILE] [-png FILE]
//	    [-systems native,litebox-ptrace,litebox-systrap,gvisor,bwrap]
//	    [-rows getppid,...,net] [-iterations 100000] [-forks 200]
//	    [-roundtrips 20000] [-mib 256] [-primes 600000]
//	    [-iperf-seconds 1] [-iperf-omit 1] [-wrk-seconds 1] [-connections 1000]
//	    [-density-n 1,10,50,100]
//
// The command line of `make bench` is
//
//	go run ./bench/cmd/report -json bench/results.json -png bench/results.png
//
// Each round measures every row on every system one after the other, native
// first, so that a change in the machine's load affects all columns alike;
// a ratio is taken between the sandbox's and native's figures of the same
// round, and the table shows the median over the rounds of each. A peer
// sandbox that is not installed or cannot run here is reported as such in
// its column. A measurement that fails is reported without stopping the
// others; the command then exits 1 if it was native's or litebox's (or if
// litebox-ptrace cannot run at all), not for a peer's. A row that a system
// cannot run for want of a feature (the network rows on a sandbox without
// a network, or without port publishing) shows "unavailable: REASON" in
// that system's cell, and does not fail the command either. Progress goes
// to standard error. With the defaults the whole report takes about five
// minutes on two cores, most of it in the sandboxes on ptrace.
//
// The density rows (-rows density, issue 15; bench/density.go) run once:
// for each N of -density-n, N idle python3 sandboxes at once on each
// system, and on litebox-multi, one process hosting all N sandboxes
// (bench/cmd/multibox); they get a table of their own (PSS per sandbox,
// start latency percentiles) and a section of the PNG under the bar chart.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/litebox-go/litebox/bench"
)

type config struct {
	runs       int
	netRuns    int // rounds of the network rows
	iterations int // getppid calls per run
	forks      int // fork+exec+wait iterations per run
	roundTrips int // futex round trips per run
	mib        int // size of the file of the throughput rows
	primes     int // limit of the Python workload
	iperfSecs  int // seconds of each iperf3 run
	iperfOmit  int // seconds of warm-up before them
	wrkSecs    int // seconds of each wrk run
	conns      int // connections per bench_connect run
	densityN   string
	groups     string
	systems    string
	jsonFile   string
	pngFile    string
}

var allSystems = []string{bench.Native, bench.LiteboxPtrace, bench.LiteboxSystrap, bench.GVisor, bench.Bwrap}

func main() {
	var c config
	flag.IntVar(&c.runs, "runs", 5, "rounds of measurements; the medians are reported")
	flag.IntVar(&c.netRuns, "net-runs", 3, "rounds of the network rows, which take seconds each (0: as many as -runs)")
	flag.IntVar(&c.iterations, "iterations", bench.GetppidIterations, "getppid calls per run")
	flag.IntVar(&c.forks, "forks", bench.ForkExecIterations, "fork+execve+waitpid iterations per run")
	flag.IntVar(&c.roundTrips, "roundtrips", bench.FutexRoundTrips, "futex round trips per run")
	flag.IntVar(&c.mib, "mib", bench.FileIOMiB, "MiB written and read back in each block size by the /tmp throughput rows")
	flag.IntVar(&c.primes, "primes", bench.PythonPrimesLimit, "the CPU-bound Python workload counts the primes below this")
	flag.IntVar(&c.iperfSecs, "iperf-seconds", bench.IperfSeconds, "seconds each iperf3 client sends in the TCP throughput rows")
	flag.IntVar(&c.iperfOmit, "iperf-omit", bench.IperfOmitSeconds, "seconds of warm-up each iperf3 client sends before it measures (iperf3 -O)")
	flag.IntVar(&c.wrkSecs, "wrk-seconds", bench.WrkSeconds, "seconds wrk loads the HTTP server in the requests-per-second row")
	flag.IntVar(&c.conns, "connections", bench.ConnectIterations, "TCP connections set up and torn down per run of the connection-rate row")
	flag.StringVar(&c.groups, "rows", "", "comma-separated groups of rows to measure (default all): "+strings.Join(groupNames, ", "))
	flag.StringVar(&c.densityN, "density-n", joinInts(bench.DensityCounts), "comma-separated numbers of sandboxes of the density rows")
	flag.StringVar(&c.systems, "systems", strings.Join(append(allSystems, bench.LiteboxMulti), ","),
		"comma-separated systems to measure (native is always measured; "+bench.LiteboxMulti+" has only the density rows)")
	flag.StringVar(&c.jsonFile, "json", "", "also write the results, with every run, as JSON to this file")
	flag.StringVar(&c.pngFile, "png", "", "also draw the ratios to native as a PNG bar chart in this file")
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

// row is one line of the table.
type row struct {
	id    string // stable key of the JSON output
	name  string // Markdown table label
	short string // chart label
	per   string // what one value measures
	n     int    // operations per run, or the workload's size; 0 if none
	bytes int64  // for a /tmp throughput row, the bytes of the phase
	rate         // for a row shown as a rate: its unit and amount
}

// rate describes a row whose cells show a rate, higher is better, rather
// than a time: the value is still the time, in nanoseconds, of amount
// units (a lower value is better and a ratio to native above 1 a
// slowdown, as in every row), and the cell shows amount / time in unit per
// second.
type rate struct {
	unit   string  // "MB/s", "Gbit/s", "requests/s", "connections/s"; "" for a time
	amount float64 // units the value's time moves
}

// Names of the groups of rows, for -rows.
var groupNames = []string{"getppid", "clock_gettime", "static_startup", "python_startup", "python_startup_verify", "fork_exec", "tmp_io",
	"python_cpu", "futex_pingpong", "net", "image", "image_memory", "engines", "density"}

// group is one or more rows measured by the same runs: measure returns one
// value, in nanoseconds, per row, and the wall-clock times of the process
// runs they come from.
type group struct {
	name    string // one of groupNames
	rows    []row
	measure func(s *bench.System) (values []float64, runs []time.Duration, err error)
	// unavailable, if set, tells whether a system can run the group: ""
	// or "unavailable: REASON", which the group's cells then show (the
	// network rows on a sandbox without the network features they need).
	unavailable func(s *bench.System) string
}

// single adapts a measurement of one row to a group's measure.
func single(f func(s *bench.System) (bench.Sample, error)) func(s *bench.System) ([]float64, []time.Duration, error) {
	return func(s *bench.System) ([]float64, []time.Duration, error) {
		sample, err := f(s)
		if err != nil {
			return nil, nil, err
		}
		return []float64{sample.Ns}, sample.Runs, nil
	}
}

// Report is the JSON output.
type Report struct {
	Time         string         `json:"time"` // RFC 3339
	DurationS    float64        `json:"duration_s"`
	GOOS         string         `json:"goos"`
	GOARCH       string         `json:"goarch"`
	Kernel       string         `json:"kernel,omitempty"`
	CPUs         int            `json:"cpus"`
	Runs         int            `json:"runs"`
	NetRuns      int            `json:"net_runs,omitempty"` // the rounds of the network rows, if measured
	Systems      []SystemInfo   `json:"systems"`
	Measurements []*Measurement `json:"measurements"`
	// ImageMemory is the memory of one sandbox with bench.ImageSandboxes
	// of them running python3 on one image, per system (image.go).
	ImageMemory []*MemoryResult `json:"image_memory,omitempty"`
	// Density is the density rows (issue 15): per system and number of
	// sandboxes, the memory and start latencies of that many idle python3
	// sandboxes at once, in column order then by N (bench/density.go).
	Density []*DensityResult `json:"density,omitempty"`
}

// DensityResult is the density measurement of N sandboxes on one system.
type DensityResult struct {
	System      string         `json:"system"`
	N           int            `json:"n"`
	Density     *bench.Density `json:"density,omitempty"`
	Error       string         `json:"error,omitempty"`
	Unavailable string         `json:"unavailable,omitempty"`
	peer        bool
}

// MemoryResult is the image memory measurement on one system.
type MemoryResult struct {
	System      string        `json:"system"`
	Memory      *bench.Memory `json:"memory,omitempty"`
	Error       string        `json:"error,omitempty"`
	Unavailable string        `json:"unavailable,omitempty"`
	peer        bool
}

// SystemInfo describes one column.
type SystemInfo struct {
	Name        string   `json:"name"`
	Command     []string `json:"command,omitempty"`
	Unavailable string   `json:"unavailable,omitempty"`
	Peer        bool     `json:"peer,omitempty"`
	TmpDir      string   `json:"tmp_dir"`
	TmpNote     string   `json:"tmp_note"`
	// NetNote says how the system runs the network rows.
	NetNote string `json:"net_note,omitempty"`
}

// Measurement is one row of the report.
type Measurement struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Short string `json:"short"`
	Per   string `json:"per"`
	N     int    `json:"n,omitempty"`
	// Bytes is set for the /tmp throughput rows: the value is the time of
	// moving that many bytes, shown as MB/s (10^6 bytes per second).
	Bytes int64 `json:"bytes,omitempty"`
	// Unit is set for the rows shown as a rate (MB/s, Gbit/s,
	// requests/s, connections/s): the value is the time of moving Amount
	// of the unit, and a cell shows Amount divided by that time in
	// seconds. Values and ratios stay times, lower is better.
	Unit    string    `json:"unit,omitempty"`
	Amount  float64   `json:"amount,omitempty"`
	Results []*Result `json:"results"` // one per system, in column order
}

// Result holds the runs of one measurement on one system.
type Result struct {
	System string `json:"system"`
	// MedianNs is the median of the samples' values.
	MedianNs *float64 `json:"median_ns,omitempty"`
	// Ratio is the median of the samples' ratios to native; absent natively.
	Ratio       *float64 `json:"ratio,omitempty"`
	Samples     []Sample `json:"samples"`
	Error       string   `json:"error,omitempty"`
	Unavailable string   `json:"unavailable,omitempty"`
	peer        bool
}

// Sample is one round of one measurement on one system.
type Sample struct {
	Round   int     `json:"round"`
	ValueNs float64 `json:"value_ns"`
	// Ratio is ValueNs over native's value of the same round.
	Ratio *float64 `json:"ratio,omitempty"`
	// RunsNs are the wall-clock times of the process runs of the sample:
	// the full and the empty run of a per-operation row, the one run
	// otherwise (for the throughput rows, the whole bench_fileio run, which
	// gives all four).
	RunsNs []int64 `json:"runs_ns"`
}

func report(c config) (ok bool, err error) {
	if c.netRuns == 0 {
		c.netRuns = c.runs
	}
	if c.runs < 1 || c.netRuns < 1 || c.iterations < 1 || c.forks < 1 || c.roundTrips < 1 || c.mib < 1 || c.primes < 1 ||
		c.iperfSecs < 1 || c.iperfOmit < 0 || c.wrkSecs < 1 || c.conns < 1 {
		return false, fmt.Errorf("-runs, -iterations, -forks, -roundtrips, -mib, -primes, -iperf-seconds, -wrk-seconds and -connections must be positive")
	}
	groupSel := map[string]bool{}
	for name := range strings.SplitSeq(c.groups, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if !slices.Contains(groupNames, name) {
			return false, fmt.Errorf("-rows: unknown group %q (known: %s)", name, strings.Join(groupNames, ", "))
		}
		groupSel[name] = true
	}
	selected := map[string]bool{bench.Native: true}
	for name := range strings.SplitSeq(c.systems, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allSystems, name) && name != bench.LiteboxMulti {
			return false, fmt.Errorf("-systems: unknown system %q (known: %s, %s)", name, strings.Join(allSystems, ", "), bench.LiteboxMulti)
		}
		selected[name] = true
	}

	densityN, err := parseCounts(c.densityN)
	if err != nil {
		return false, fmt.Errorf("-density-n: %w", err)
	}

	start := time.Now()
	fmt.Fprintln(os.Stderr, "report: building litebox and the programs, probing the sandboxes...")
	e, err := bench.Setup()
	if err != nil {
		return false, err
	}
	defer e.Close()

	out := Report{
		Time:   start.Format(time.RFC3339),
		GOOS:   runtime.GOOS,
		GOARCH: runtime.GOARCH,
		Kernel: kernelRelease(),
		CPUs:   runtime.NumCPU(),
		Runs:   c.runs,
	}
	var systems []*bench.System
	for _, s := range e.Systems {
		if !selected[s.Name] {
			continue
		}
		systems = append(systems, s)
		out.Systems = append(out.Systems, SystemInfo{Name: s.Name, Command: s.Command, Unavailable: s.Unavailable,
			Peer: s.Peer, TmpDir: s.TmpDir, TmpNote: s.TmpNote})
		state := "ok"
		if s.Unavailable != "" {
			state = s.Unavailable
		}
		fmt.Fprintf(os.Stderr, "report: %s: %s\n", s.Name, state)
	}

	fileBytes := int64(c.mib) << 20
	var ioRows []row
	for _, b := range bench.FileIOBlocks {
		for _, op := range []string{"write", "read"} {
			name := op + "-" + bench.BlockName(b)
			ioRows = append(ioRows, row{"tmp_" + strings.ReplaceAll(name, "-", "_"),
				fmt.Sprintf("/tmp %s: %d MiB in %s blocks (MB/s)", op, c.mib, bench.BlockName(b)),
				"/tmp " + name, "phase", c.mib, fileBytes, rate{"MB/s", float64(fileBytes) / 1e6}})
		}
	}
	gbit := rate{"Gbit/s", 1}
	groups := []group{
		{"getppid", []row{{"getppid", fmt.Sprintf("getppid system call (per call, %d-call loop)", c.iterations),
			"getppid syscall", "call", c.iterations, 0, rate{}}},
			single(func(s *bench.System) (bench.Sample, error) { return e.SyscallCost(s, c.iterations) }), nil},
		{"clock_gettime", []row{{"clock_gettime", fmt.Sprintf("clock_gettime(CLOCK_MONOTONIC) of the C library (per call, %d-call loop)", bench.ClockIterations),
			"clock_gettime", "call", bench.ClockIterations, 0, rate{}}},
			single(func(s *bench.System) (bench.Sample, error) { return e.ClockCost(s, bench.ClockIterations) }), nil},
		{"static_startup", []row{{"static_startup", "start-up of a static `true` (whole run)", "start static true", "run", 0, 0, rate{}}},
			single(e.Startup), nil},
		{"python_startup", []row{{"python_startup", "start-up of `python3 -c pass` (whole run)", "start python3", "run", 0, 0, rate{}}},
			single(e.PythonStartup), nil},
		// Verified execution (issue 17): the same run under --verify.
		{"python_startup_verify", []row{{"python_startup_verify", "start-up of `python3 -c pass` under `--verify` (a signed manifest of python's directories; native: the plain run) (whole run; compare with python_startup)",
			"start python3 --verify", "run", 0, 0, rate{}}},
			single(e.PythonStartupVerify), e.VerifyUnavailable},
		{"fork_exec", []row{{"fork_exec", fmt.Sprintf("fork + execve /bin/true + waitpid (per iteration, %d-iteration loop)", c.forks),
			"fork+exec+wait", "iteration", c.forks, 0, rate{}}},
			single(func(s *bench.System) (bench.Sample, error) { return e.ForkExecCost(s, c.forks) }), nil},
		{"tmp_io", ioRows, func(s *bench.System) ([]float64, []time.Duration, error) {
			phases, run, err := e.FileIO(s, c.mib, bench.FileIOBlocks)
			if err != nil {
				return nil, nil, err
			}
			values := make([]float64, len(phases))
			for i, p := range phases {
				values[i] = p.Ns
			}
			return values, []time.Duration{run}, nil
		}, nil},
		{"python_cpu", []row{{"python_cpu", fmt.Sprintf("CPU-bound Python: count primes below %d (whole run)", c.primes),
			"Python CPU", "run", c.primes, 0, rate{}}},
			single(func(s *bench.System) (bench.Sample, error) { return e.PythonPrimes(s, c.primes) }), nil},
		{"futex_pingpong", []row{{"futex_pingpong", fmt.Sprintf("futex ping-pong between two threads (per round trip, %d round trips)", c.roundTrips),
			"futex ping-pong", "round trip", c.roundTrips, 0, rate{}}},
			single(func(s *bench.System) (bench.Sample, error) { return e.FutexRoundTrip(s, c.roundTrips) }), nil},
		// The network rows, each its own group: each needs something else
		// of a sandbox's network, and a system may have one and not another.
		{"net", []row{{"tcp_loopback_iperf3", fmt.Sprintf("TCP throughput on the sandbox's loopback, iperf3 server and client inside (%d s after %d s of warm-up; Gbit/s)", c.iperfSecs, c.iperfOmit),
			"iperf3 in sandbox", "Gbit", c.iperfSecs, 0, gbit}},
			single(func(s *bench.System) (bench.Sample, error) { return e.IperfLoopback(s, c.iperfSecs, c.iperfOmit) }),
			func(s *bench.System) string { return e.RowUnavailable(s, "loopback-iperf3") }},
		{"net", []row{{"tcp_to_host_iperf3", fmt.Sprintf("TCP throughput sandbox → host, iperf3 client inside, server on the host (%d s after %d s of warm-up; Gbit/s)", c.iperfSecs, c.iperfOmit),
			"iperf3 to host", "Gbit", c.iperfSecs, 0, gbit}},
			single(func(s *bench.System) (bench.Sample, error) { return e.IperfToHost(s, c.iperfSecs, c.iperfOmit) }),
			func(s *bench.System) string { return e.RowUnavailable(s, "egress") }},
		{"net", []row{{"http_wrk", fmt.Sprintf("HTTP requests/s: busybox httpd inside, published, wrk -t1 -c%d on the host (%d s)", bench.WrkConnections, c.wrkSecs),
			"HTTP req/s (wrk)", "request", c.wrkSecs, 0, rate{"requests/s", 1}}},
			single(func(s *bench.System) (bench.Sample, error) {
				return e.HTTPRequests(s, c.wrkSecs, bench.WrkConnections)
			}),
			func(s *bench.System) string { return e.RowUnavailable(s, "publish") }},
		{"net", []row{{"tcp_connect", fmt.Sprintf("TCP connection set-up on the loopback: connect + accept + close (%d-connection loop)", c.conns),
			"TCP connect rate", "connection", c.conns, 0, rate{"connections/s", 1}}},
			single(func(s *bench.System) (bench.Sample, error) { return e.ConnectCost(s, c.conns) }),
			func(s *bench.System) string { return e.RowUnavailable(s, "loopback") }},
		// The image rows (issue 13): python3 from the Debian test image,
		// its layers cached, then the first start with a fresh store and
		// the second with that store.
		{"image", []row{{"image_python_startup", "start-up of `python3 -c pass` from a Debian image, layers cached (whole run; compare with the host view's row)",
			"start python3 (image)", "run", 0, 0, rate{}}},
			single(e.ImagePythonStartup), e.ImageUnavailable},
		{"image", []row{
			{"image_first_start", "first start of a 210 MB image, fresh store: digests, gunzip, tar index, then `python3 -c pass` (whole run)",
				"image first start", "run", 0, 0, rate{}},
			{"image_second_start", "second start of that image, same store (whole run)", "image second start", "run", 0, 0, rate{}}},
			func(s *bench.System) ([]float64, []time.Duration, error) {
				first, second, err := e.ImageStarts(s)
				if err != nil {
					return nil, nil, err
				}
				return []float64{first.Ns, second.Ns}, append(first.Runs, second.Runs...), nil
			}, e.ImageUnavailable},
		// The engine row (issue 14): Podman with each OCI runtime.
		{"engines", []row{{"podman_run_true", "`podman run --rm IMAGE true`, a busybox image, each column's OCI runtime (native: crun/runc; litebox: litebox-runtime; gvisor: runsc) (whole run)",
			"podman run true", "run", 0, 0, rate{}}},
			single(e.PodmanRunTrue), e.EngineUnavailable},
	}
	if len(groupSel) > 0 {
		groups = slices.DeleteFunc(groups, func(g group) bool { return !groupSel[g.name] })
	}
	if slices.ContainsFunc(groups, func(g group) bool { return g.name == "net" }) {
		out.NetRuns = c.netRuns
	}

	for i, g := range groups {
		label := g.rows[0].id
		if len(g.rows) > 1 {
			label = g.name
		}
		t0 := time.Now()
		lastRound := -1
		runs := c.runs
		if g.name == "net" {
			runs = c.netRuns
		}
		out.Measurements = append(out.Measurements, measure(g, systems, runs,
			func(round int, system string) {
				if round != lastRound {
					if lastRound >= 0 {
						fmt.Fprintln(os.Stderr)
					}
					fmt.Fprintf(os.Stderr, "report: [%d/%d] %s: round %d/%d:", i+1, len(groups), label, round+1, runs)
					lastRound = round
				}
				fmt.Fprintf(os.Stderr, " %s", system)
			})...)
		if lastRound >= 0 {
			fmt.Fprintln(os.Stderr)
		}
		fmt.Fprintf(os.Stderr, "report: [%d/%d] %s done in %v\n", i+1, len(groups), label, time.Since(t0).Round(100*time.Millisecond))
	}
	if len(groupSel) == 0 || groupSel["image_memory"] {
		// One round: each runs bench.ImageSandboxes sandboxes at once.
		for _, s := range systems {
			r := &MemoryResult{System: s.Name, Unavailable: e.ImageUnavailable(s), peer: s.Peer}
			if r.Unavailable == "" {
				fmt.Fprintf(os.Stderr, "report: image memory, %d sandboxes: %s\n", bench.ImageSandboxes, s.Name)
				m, err := e.ImageMemory(s)
				if err != nil {
					r.Error = err.Error()
				} else {
					r.Memory = &m
				}
			}
			out.ImageMemory = append(out.ImageMemory, r)
		}
	}
	if len(groupSel) == 0 || groupSel["density"] {
		out.Density = measureDensity(e, selected, densityN)
	}
	for i := range out.Systems {
		out.Systems[i].NetNote = e.NetNote(e.System(out.Systems[i].Name))
	}
	elapsed := time.Since(start)
	out.DurationS = elapsed.Seconds()
	fmt.Fprintf(os.Stderr, "report: done in %v\n", elapsed.Round(time.Second))

	ok = printMarkdown(os.Stdout, &out, systems, start, elapsed)

	if c.jsonFile != "" {
		data, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return false, err
		}
		if err := os.WriteFile(c.jsonFile, append(data, '\n'), 0o644); err != nil {
			return false, err
		}
		fmt.Fprintf(os.Stderr, "report: wrote %s\n", c.jsonFile)
	}
	if c.pngFile != "" {
		if err := writeChart(c.pngFile, &out); err != nil {
			return false, err
		}
		fmt.Fprintf(os.Stderr, "report: wrote %s\n", c.pngFile)
	}
	return ok, nil
}

// kernelRelease returns the host kernel's release, or "".
func kernelRelease() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// measure runs g runs times on every system, native first in each round.
// A system stops at its first failure in g; the others carry on. progress
// is called before each measurement.
func measure(g group, systems []*bench.System, runs int, progress func(round int, system string)) []*Measurement {
	ms := make([]*Measurement, len(g.rows))
	for i, r := range g.rows {
		ms[i] = &Measurement{ID: r.id, Name: r.name, Short: r.short, Per: r.per, N: r.n, Bytes: r.bytes,
			Unit: r.unit, Amount: r.amount}
		for _, s := range systems {
			ms[i].Results = append(ms[i].Results, &Result{System: s.Name, Unavailable: s.Unavailable, peer: s.Peer})
		}
	}
	if g.unavailable != nil {
		for si, s := range systems {
			if s.Unavailable != "" {
				continue
			}
			if why := g.unavailable(s); why != "" {
				for _, m := range ms {
					m.Results[si].Unavailable = why
				}
			}
		}
	}
	for round := range runs {
		var native []float64 // this round's native values, nil if native failed
		for si, s := range systems {
			if ms[0].Results[si].Unavailable != "" || ms[0].Results[si].Error != "" {
				continue
			}
			progress(round, s.Name)
			values, runTimes, err := g.measure(s)
			if err == nil && len(values) != len(g.rows) {
				err = fmt.Errorf("%d values for %d rows", len(values), len(g.rows))
			}
			if err != nil {
				for _, m := range ms {
					m.Results[si].Error = err.Error()
				}
				continue
			}
			if s.Name == bench.Native {
				native = values
			}
			runsNs := make([]int64, len(runTimes))
			for i, d := range runTimes {
				runsNs[i] = d.Nanoseconds()
			}
			for i, m := range ms {
				sample := Sample{Round: round + 1, ValueNs: values[i], RunsNs: runsNs}
				if s.Name != bench.Native && native != nil && native[i] > 0 {
					ratio := values[i] / native[i]
					sample.Ratio = &ratio
				}
				m.Results[si].Samples = append(m.Results[si].Samples, sample)
			}
		}
	}
	for _, m := range ms {
		for _, r := range m.Results {
			if r.Error != "" || r.Unavailable != "" || len(r.Samples) == 0 {
				continue
			}
			var values, ratios []float64
			for _, s := range r.Samples {
				values = append(values, s.ValueNs)
				if s.Ratio != nil {
					ratios = append(ratios, *s.Ratio)
				}
			}
			med := median(values)
			r.MedianNs = &med
			if len(ratios) > 0 {
				ratio := median(ratios)
				r.Ratio = &ratio
			}
		}
	}
	return ms
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

// measureDensity runs the density rows: for each N, each selected system
// in column order. A system that fails at one N is not tried at the larger
// ones (their cells say so).
func measureDensity(e *bench.Env, selected map[string]bool, counts []int) []*DensityResult {
	var names []string
	for _, name := range e.DensitySystems() {
		if selected[name] {
			names = append(names, name)
		}
	}
	failedAt := map[string]int{}
	byKey := map[string]*DensityResult{}
	for _, n := range counts {
		for _, name := range names {
			peer := name == bench.GVisor || name == bench.Bwrap
			r := &DensityResult{System: name, N: n, Unavailable: e.DensityUnavailable(name), peer: peer}
			byKey[fmt.Sprint(name, n)] = r
			if r.Unavailable != "" {
				continue
			}
			if at, ok := failedAt[name]; ok {
				r.Unavailable = fmt.Sprintf("unavailable: not run after N=%d failed", at)
				continue
			}
			fmt.Fprintf(os.Stderr, "report: density, %d sandboxes: %s\n", n, name)
			t0 := time.Now()
			d, err := e.MeasureDensity(name, n)
			if err != nil {
				failedAt[name] = n
				if msg := err.Error(); strings.Contains(msg, "unavailable: ") {
					// The host's memory floor: not a failure of the system.
					r.Unavailable = msg[strings.Index(msg, "unavailable: "):]
				} else {
					r.Error = msg
				}
				fmt.Fprintf(os.Stderr, "report: density, %d sandboxes: %s: %s\n", n, name, firstLineOf(err.Error()))
				continue
			}
			r.Density = &d
			fmt.Fprintf(os.Stderr, "report: density, %d sandboxes: %s: %.1f MB/sandbox, start p50 %s p99 %s (%v)\n", n, name,
				d.PSS/1e6, formatNs(float64(d.StartP50Ns)), formatNs(float64(d.StartP99Ns)), time.Since(t0).Round(100*time.Millisecond))
		}
	}
	var out []*DensityResult
	for _, name := range names {
		for _, n := range counts {
			out = append(out, byKey[fmt.Sprint(name, n)])
		}
	}
	return out
}

// parseCounts parses a comma-separated list of positive integers, which it
// returns sorted and without repeats.
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no number of sandboxes in %q", s)
	}
	slices.Sort(out)
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

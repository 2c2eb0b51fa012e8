package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/litebox-go/litebox/bench"
)

// printMarkdown writes the table, the systems' command lines and the
// failures. It returns false if native or litebox failed a measurement, or
// if litebox-ptrace, which must run anywhere, could not run at all.
func printMarkdown(w io.Writer, out *Report, systems []*bench.System, start time.Time, elapsed time.Duration) (ok bool) {
	kernel := ""
	if out.Kernel != "" {
		kernel = ", kernel " + out.Kernel
	}
	rounds := fmt.Sprintf("%d rounds", out.Runs)
	if out.NetRuns != 0 && out.NetRuns != out.Runs {
		rounds += fmt.Sprintf(" (the network rows: %d)", out.NetRuns)
	}
	fmt.Fprintf(w, "Medians of %s; %s/%s%s, %d CPUs, %s, %v in all.\n",
		rounds, out.GOOS, out.GOARCH, kernel, out.CPUs, start.Format(time.DateOnly), elapsed.Round(time.Second))
	fmt.Fprintln(w, "A sandbox's cell is its median and, in parentheses, the median over the rounds of its time")
	fmt.Fprintln(w, "divided by native's in the same round (for the rows measuring a rate, MB/s, Gbit/s, requests/s")
	fmt.Fprintln(w, "or connections/s, native's rate ÷ the sandbox's): above 1× is slower than native.")
	fmt.Fprintln(w)

	ok = true
	var failures []string
	if len(out.Measurements) > 0 { // not with only the density rows
		fmt.Fprint(w, "| Measurement |")
		for _, s := range systems {
			fmt.Fprintf(w, " %s |", s.Name)
		}
		fmt.Fprint(w, "\n|---|")
		for range systems {
			fmt.Fprint(w, "---:|")
		}
		fmt.Fprintln(w)
	}
	for _, m := range out.Measurements {
		fmt.Fprintf(w, "| %s |", m.Name)
		for _, r := range m.Results {
			fmt.Fprintf(w, " %s |", formatCell(m, r))
			if r.Error != "" {
				if !r.peer {
					ok = false
				}
				failures = append(failures, fmt.Sprintf("%s, %s: %s", m.Name, r.System, r.Error))
			}
		}
		fmt.Fprintln(w)
	}

	if !printImageNotes(w, out) {
		ok = false
	}
	if !printDensity(w, out) {
		ok = false
	}

	fmt.Fprintln(w, "\nSystems (PROGRAM is the program and its arguments):")
	fmt.Fprintln(w)
	for _, s := range systems {
		cmd := "PROGRAM, directly"
		if len(s.Command) > 0 {
			cmd = "`" + strings.Join(s.Command, " ") + " PROGRAM`"
		}
		fmt.Fprintf(w, "- %s: %s; /tmp rows in %s", s.Name, cmd, s.TmpNote)
		for _, info := range out.Systems {
			if info.Name == s.Name && info.NetNote != "" {
				fmt.Fprintf(w, "; %s", info.NetNote)
			}
		}
		if s.Unavailable != "" {
			fmt.Fprintf(w, "; %s", s.Unavailable)
			if s.Name == bench.LiteboxPtrace {
				ok = false
			}
		}
		fmt.Fprintln(w, ".")
	}
	if len(out.Density) > 0 {
		argv := bench.DensityMultiCommand(0)
		argv[2] = "N"
		argv[len(argv)-1] = "'" + argv[len(argv)-1] + "'"
		fmt.Fprintf(w, "- %s (density rows only): `%s`, one process for all N sandboxes (bench/cmd/multibox).\n",
			bench.LiteboxMulti, strings.Join(argv, " "))
	}

	if len(failures) > 0 {
		fmt.Fprintln(w, "\nFailed measurements:")
		for _, f := range failures {
			fmt.Fprintf(w, "\n- %s\n", strings.ReplaceAll(strings.TrimSpace(f), "\n", "\n  "))
		}
	}
	return ok
}

// maxCellReason bounds the length of an unavailable system's cells.
const maxCellReason = 80

// formatCell prints the median of a result with its ratio to native, or
// why there is none.
func formatCell(m *Measurement, r *Result) string {
	switch {
	case r.Unavailable != "":
		// The whole reason is in the list of systems below the table.
		if u := []rune(r.Unavailable); len(u) > maxCellReason {
			return string(u[:maxCellReason]) + "…"
		}
		return r.Unavailable
	case r.Error != "":
		return "failed"
	case r.MedianNs == nil:
		return "n/a"
	}
	v := formatNs(*r.MedianNs)
	switch {
	case m.Unit != "" && m.Amount > 0:
		v = formatRate(m.Amount/(*r.MedianNs/1e9), m.Unit)
	case m.Bytes > 0: // a report of before Unit
		v = formatRate(float64(m.Bytes)/(*r.MedianNs/1e9)/1e6, "MB/s")
	}
	if r.System == bench.Native {
		return v
	}
	ratio := "n/a"
	if r.Ratio != nil {
		ratio = formatRatio(*r.Ratio)
	}
	return fmt.Sprintf("%s (%s)", v, ratio)
}

// formatRatio prints a ratio with two significant digits at least.
func formatRatio(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

// formatRate prints a rate: a throughput or a number of operations per
// second, with three significant digits at least.
func formatRate(v float64, unit string) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f %s", v, unit)
	case v < 100:
		return fmt.Sprintf("%.1f %s", v, unit)
	default:
		return fmt.Sprintf("%.0f %s", v, unit)
	}
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

// printImageNotes writes, when the image rows were measured, the ratio of
// python3's start-up from the image to its start-up from the host's view
// per system, and the memory table of the many-sandboxes measurement. It
// returns false if litebox failed the memory measurement.
func printImageNotes(w io.Writer, out *Report) (ok bool) {
	ok = true
	byID := map[string]*Measurement{}
	for _, m := range out.Measurements {
		byID[m.ID] = m
	}
	img, host := byID["image_python_startup"], byID["python_startup"]
	if img != nil && host != nil {
		var parts []string
		for i, r := range img.Results {
			if i < len(host.Results) && r.MedianNs != nil && host.Results[i].MedianNs != nil {
				parts = append(parts, fmt.Sprintf("%s %s", r.System, formatRatio(*r.MedianNs / *host.Results[i].MedianNs)))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "\n`python3 -c pass` from the image ÷ from the host's view (medians): %s.\n", strings.Join(parts, ", "))
		}
	}
	if ver, host := byID["python_startup_verify"], byID["python_startup"]; ver != nil && host != nil {
		var parts []string
		for i, r := range ver.Results {
			if i < len(host.Results) && r.MedianNs != nil && host.Results[i].MedianNs != nil && r.System != bench.Native {
				parts = append(parts, fmt.Sprintf("%s %s", r.System, formatRatio(*r.MedianNs / *host.Results[i].MedianNs)))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "\n`python3 -c pass` with `--verify` ÷ without (medians): %s.\n", strings.Join(parts, ", "))
		}
	}
	if len(out.ImageMemory) == 0 {
		return ok
	}
	fmt.Fprintf(w, "\nMemory of one sandbox with %d of them running `python3` at once on one image (MB, 10^6 bytes):\n\n", bench.ImageSandboxes)
	fmt.Fprintln(w, "| System | litebox RSS | PSS of the sandbox's processes |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, r := range out.ImageMemory {
		switch {
		case r.Unavailable != "":
			fmt.Fprintf(w, "| %s | %s | |\n", r.System, r.Unavailable)
		case r.Error != "":
			fmt.Fprintf(w, "| %s | failed: %s | |\n", r.System, firstLineOf(r.Error))
			if !r.peer {
				ok = false
			}
		default:
			rss := "–"
			if r.Memory.LiteboxRSS > 0 {
				rss = fmt.Sprintf("%.1f", r.Memory.LiteboxRSS/1e6)
			}
			fmt.Fprintf(w, "| %s | %s | %.1f |\n", r.System, rss, r.Memory.PSS/1e6)
		}
	}
	return ok
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.ReplaceAll(line, "|", "/")
}

// printDensity writes the density table: per system and N, the PSS of one
// idle sandbox, its ratio to native's at the same N, the supervisors' part
// of it, the processes, the start latencies. It returns false if a litebox
// column failed.
func printDensity(w io.Writer, out *Report) (ok bool) {
	ok = true
	if len(out.Density) == 0 {
		return ok
	}
	native := map[int]*bench.Density{}
	for _, r := range out.Density {
		if r.System == bench.Native && r.Density != nil {
			native[r.N] = r.Density
		}
	}
	fmt.Fprintf(w, "\nDensity: N idle `python3 -c '%s'` at once, started %d at a time (one round). PSS (MB, 10^6 bytes) of every\n", bench.DensityScript, bench.DensityInFlight)
	fmt.Fprintln(w, "process of every sandbox summed and divided by N, and its part in the top process of each sandbox (litebox,")
	fmt.Fprintln(w, "runsc, bwrap; multibox's one for all N; natively python3 itself); start latency from starting a sandbox to its")
	fmt.Fprintln(w, "guest printing ready (nearest-rank percentiles); ratios are to native at the same N. memfds: the allocated")
	fmt.Fprintln(w, "memory of the memory files the processes hold (litebox's page cache and pool, gVisor's memory file), each once,")
	fmt.Fprintln(w, "divided by N: in PSS where mapped, a check that nothing is left out where not:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| System | N | PSS per sandbox | of which top process | memfds | processes | start p50 | start p99 | all ready after |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range out.Density {
		switch {
		case r.Unavailable != "":
			fmt.Fprintf(w, "| %s | %d | %s | | | | | | |\n", r.System, r.N, firstLineOf(r.Unavailable))
		case r.Error != "":
			fmt.Fprintf(w, "| %s | %d | failed: %s | | | | | | |\n", r.System, r.N, firstLineOf(r.Error))
			if !r.peer {
				ok = false
			}
		case r.Density != nil:
			d := r.Density
			pss, p50 := fmt.Sprintf("%.1f MB", d.PSS/1e6), formatNs(float64(d.StartP50Ns))
			if nd := native[r.N]; nd != nil && r.System != bench.Native && nd.PSS > 0 && nd.StartP50Ns > 0 {
				pss += " (" + formatRatio(d.PSS/nd.PSS) + ")"
				p50 += " (" + formatRatio(float64(d.StartP50Ns)/float64(nd.StartP50Ns)) + ")"
			}
			fmt.Fprintf(w, "| %s | %d | %s | %.1f MB | %.1f MB | %d | %s | %s | %s |\n", r.System, r.N, pss, d.SupervisorPSS/1e6,
				d.MemfdBytes/1e6, d.Processes, p50, formatNs(float64(d.StartP99Ns)), formatNs(float64(d.WallNs)))
		}
	}
	return ok
}

// Command compat runs CPython's regression tests (Debian's
// libpython3.11-testsuite) natively and under litebox on each platform, one
// module at a time, and prints which modules and test cases differ from the
// native run. It is `make compat`; the results go to -out as results.json
// (every case of every run) and results.md, and with -doc into the
// generated section of docs/compatibility.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/litebox-go/litebox/tests/compat"
	"github.com/litebox-go/litebox/tests/harness"
)

// slow are the modules that take minutes natively.
var slow = map[string]bool{
	"test_multiprocessing_fork": true, "test_concurrent_futures": true, "test_subprocess": true,
	"test_io": true, "test_signal": true, "test_threading": true,
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		bin      = flag.String("litebox", "", "litebox binary to test (default: build ./cmd/litebox)")
		set      = flag.String("set", compat.DefaultSet, "module set: "+setNames()+"; each has its own default -out (the other sets' results are left alone)")
		modules  = flag.String("modules", "", "comma-separated regrtest modules (default: those of -set)")
		configs  = flag.String("configs", compat.NativeConfig+","+strings.Join(compat.Platforms, ","), "comma-separated configurations: native and litebox platforms")
		outDir   = flag.String("out", "", "directory for logs, XML files, results.json and results.md (default: bin/compat, bin/compat-SET for another -set)")
		timeout  = flag.Duration("timeout", 15*time.Minute, "regrtest's --timeout for one module (modules in compat.ModuleTimeouts get at least theirs)")
		parallel = flag.Int("parallel", 1, "module runs at once (more than 1 makes timing-sensitive tests flakier)")
		doc      = flag.String("doc", "", "also replace the generated section of this Markdown file (docs/compatibility.md)")
		merge    = flag.Bool("merge", false, "run only -modules x -configs again and merge them into the last run's results in -out (a re-run of a flaky module)")
		retry    = flag.Bool("retry", true, "run a module once more, alone, when a platform differs from native in a way tests/compat/known.go does not classify (a flaky test on a loaded machine), and report the second run")
		reparse  = flag.Bool("reparse", false, "run nothing: rebuild the report from the logs and XML files of the last run in -out (after editing the parser or tests/compat/known.go)")
	)
	flag.Parse()
	setMods, ok := compat.ModuleSets[*set]
	if !ok {
		return fmt.Errorf("-set %q: no such module set (the sets: %s)", *set, setNames())
	}
	if *modules == "" {
		*modules = strings.Join(setMods, ",")
	}
	if *outDir == "" {
		*outDir = "bin/compat"
		if *set != compat.DefaultSet {
			*outDir += "-" + *set
		}
	}
	if *doc != "" && *set != compat.DefaultSet {
		// docs/compatibility.md has one generated section, the issue-11
		// table's; another set's table is results.md in -out.
		return fmt.Errorf("-doc is for the %s set only; the %s set's table is written to %s/results.md", compat.DefaultSet, *set, *outDir)
	}
	if *reparse {
		rep, err := reparseRun(*outDir, setMods)
		if err != nil {
			return err
		}
		return write(rep, *outDir, *doc)
	}
	if err := compat.HaveTestsuite(); err != nil {
		return err
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	out, err := filepath.Abs(*outDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if *bin == "" {
		if *bin, err = harness.BuildLitebox(root, out); err != nil {
			return err
		}
	}
	if *bin, err = filepath.Abs(*bin); err != nil { // runs start in other directories
		return err
	}
	r := &compat.Runner{Litebox: *bin, OutDir: out, Timeout: *timeout, NativeCred: compat.DefaultNativeCred()}
	mods, cfgs := strings.Split(*modules, ","), strings.Split(*configs, ",")
	rep := compat.NewReport(mods, cfgs)
	rep.Setup = setup(r, mods[0], cfgs)
	for _, s := range rep.Setup {
		fmt.Println(s)
	}
	if *merge {
		if rep, err = reparseRun(out, setMods); err != nil {
			return err
		}
		rep.Setup = append(rep.Setup, "", fmt.Sprintf("Re-run on %s (-merge): %s in %s.",
			time.Now().UTC().Format("15:04 MST"), strings.Join(mods, ", "), strings.Join(cfgs, ", ")))
	}

	type job struct{ module, config string }
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(*parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				mr, err := r.Run(j.module, j.config)
				if err != nil {
					slog.Error("compat run", "module", j.module, "config", j.config, "err", err)
				}
				mu.Lock()
				if mr.Module != "" {
					rep.Add(mr)
				}
				fmt.Printf("%-28s %-8s %-12s %s (%.0fs)\n", j.module, j.config, mr.Outcome, mr.Counts, mr.Seconds)
				mu.Unlock()
			}
		}()
	}
	// A re-run replaces the module's earlier result in that config.
	// The slowest modules first, so that the pool's last runs are short.
	order := append([]string(nil), mods...)
	sort.SliceStable(order, func(i, j int) bool { return slow[order[i]] && !slow[order[j]] })
	for _, m := range order {
		for _, c := range cfgs {
			jobs <- job{m, c}
		}
	}
	close(jobs)
	wg.Wait()
	if *retry {
		retryUnexplained(r, rep, mods)
	}

	return write(rep, out, *doc)
}

// retryUnexplained runs each module and platform whose difference from
// native no entry of tests/compat/known.go classifies once more, one at a
// time (nothing else of the harness runs meanwhile), and keeps the second
// run: a flaky timing test then matches, a real defect shows twice. A
// native run that failed is run again first. The setup lines say what was
// re-run and what the first run gave.
func retryUnexplained(r *compat.Runner, rep *compat.Report, mods []string) {
	var notes []string
	for _, m := range mods {
		// Every module of the list passes natively on an idle machine: a
		// native run that did not is the load's doing, and a bad baseline
		// would make every platform differ. Run it again first.
		if n, ok := rep.Results[m][compat.NativeConfig]; ok && n.Outcome != "SUCCESS" {
			if mr, err := r.Run(m, compat.NativeConfig); err == nil && mr.Module != "" {
				rep.Add(mr)
				fmt.Printf("%-28s %-8s %-12s %s (%.0fs, re-run)\n", m, compat.NativeConfig, mr.Outcome, mr.Counts, mr.Seconds)
				notes = append(notes, fmt.Sprintf("%s natively (first run %s %s; the re-run %s %s)",
					m, n.Outcome, n.Counts, mr.Outcome, mr.Counts))
			} else {
				slog.Error("compat re-run", "module", m, "config", compat.NativeConfig, "err", err)
			}
		}
		for _, p := range rep.Platforms() {
			if !rep.Unexplained(m, p) {
				continue
			}
			first := rep.Results[m][p]
			mr, err := r.Run(m, p)
			if err != nil || mr.Module == "" {
				slog.Error("compat re-run", "module", m, "config", p, "err", err)
				continue
			}
			rep.Add(mr)
			fmt.Printf("%-28s %-8s %-12s %s (%.0fs, re-run)\n", m, p, mr.Outcome, mr.Counts, mr.Seconds)
			verdict := "differs again"
			if rep.Same(m, p) {
				verdict = "matches native"
			}
			notes = append(notes, fmt.Sprintf("%s in %s (first run %s %s; the re-run %s)",
				m, p, first.Outcome, first.Counts, verdict))
		}
	}
	if len(notes) > 0 {
		rep.Setup = append(rep.Setup, "", fmt.Sprintf("Re-run automatically on %s (an unclassified difference in the first run): %s.",
			time.Now().UTC().Format("15:04 MST"), strings.Join(notes, "; ")))
	}
}

// write prints the table and writes results.json, results.md and, if doc
// is set, the generated section of doc.
func write(rep *compat.Report, out, doc string) error {
	fmt.Println()
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	if err := rep.WriteJSON(filepath.Join(out, "results.json")); err != nil {
		return err
	}
	md := rep.Markdown()
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s and %s (logs: %s/CONFIG/MODULE.log)\n",
		filepath.Join(out, "results.json"), filepath.Join(out, "results.md"), out)
	if doc != "" {
		old, err := os.ReadFile(doc)
		if err != nil {
			return err
		}
		updated, err := compat.ReplaceGenerated(string(old), md)
		if err != nil {
			return fmt.Errorf("%s: %w", doc, err)
		}
		if err := os.WriteFile(doc, []byte(updated), 0o644); err != nil {
			return err
		}
		fmt.Println("updated", doc)
	}
	return nil
}

// setup describes the machine and the command lines, so that a table can
// be reproduced and its differences judged.
func setup(r *compat.Runner, module string, configs []string) []string {
	cmdOut := func(name string, args ...string) string {
		b, err := exec.Command(name, args...).Output()
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(string(b))
	}
	native := "the invoking user"
	if c := r.NativeCred; c != nil {
		native = fmt.Sprintf("uid %d gid %d, no supplementary groups (the guest's identity; the harness runs as root)", c.Uid, c.Gid)
	}
	lines := []string{
		fmt.Sprintf("Run on %s: Linux %s, %s, libpython3.11-testsuite %s.",
			time.Now().UTC().Format("2006-01-02 15:04 MST"), cmdOut("uname", "-r"),
			cmdOut(compat.Python, "--version"), cmdOut("dpkg-query", "-W", "-f=${Version}", "libpython3.11-testsuite")),
		"",
		"Native runs as " + native + ", in an empty directory, with the guest's environment (PATH, HOME=/tmp).",
		"",
		"Command lines (for " + module + "; the per-module timeout is regrtest's own `--timeout`):",
		"",
	}
	for _, c := range configs {
		line := strings.Join(r.CommandLine(module, c), " ")
		// Stable names in the document: the binary is a fresh build, OUT is -out.
		line = strings.ReplaceAll(strings.ReplaceAll(line, r.Litebox, "litebox"), r.OutDir, "OUT")
		lines = append(lines, fmt.Sprintf("- %s: `%s`", c, line))
	}
	return lines
}

// reparseRun reads the last run's results.json in out for what the logs do
// not record (exit codes, durations, runs ended by a timeout) and parses
// every log and XML file again; without results.json, the logs of the
// modules of mods there are.
func reparseRun(out string, mods []string) (*compat.Report, error) {
	var old compat.Report
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A run still going (or killed): take whatever logs there are.
		old = *partialRun(out, mods)
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(data, &old); err != nil {
			return nil, fmt.Errorf("results.json: %w", err)
		}
	}
	rep := compat.NewReport(old.Modules, old.Configs)
	rep.Setup = old.Setup
	for _, m := range old.Modules {
		for _, c := range old.Configs {
			prev, ok := old.Results[m][c]
			if !ok {
				continue
			}
			log, err := os.ReadFile(filepath.Join(out, c, m+".log"))
			if err != nil {
				return nil, err
			}
			junit, _ := os.ReadFile(filepath.Join(out, c, m+".xml"))
			mr, err := compat.Parse(m, log, junit, prev.ExitCode)
			if err != nil {
				slog.Error("reparse", "module", m, "config", c, "err", err)
			}
			mr.Config, mr.Seconds = c, prev.Seconds
			if prev.Outcome == "timeout" {
				mr.Outcome = "timeout"
			}
			rep.Add(mr)
		}
	}
	return rep, nil
}

// partialRun lists the logs of the modules of modules that a run that
// wrote no results.json left, with unknown exit codes.
func partialRun(out string, modules []string) *compat.Report {
	cfgs := []string{compat.NativeConfig}
	cfgs = append(cfgs, compat.Platforms...)
	var mods []string
	for _, m := range modules {
		if _, err := os.Stat(filepath.Join(out, compat.NativeConfig, m+".log")); err == nil {
			mods = append(mods, m)
		}
	}
	rep := compat.NewReport(mods, cfgs)
	rep.Setup = []string{"(partial run: no results.json)"}
	for _, m := range mods {
		for _, c := range cfgs {
			if _, err := os.Stat(filepath.Join(out, c, m+".log")); err == nil {
				rep.Add(compat.ModuleResult{Module: m, Config: c, ExitCode: -1})
			}
		}
	}
	return rep
}

// setNames lists the module sets, sorted, for -help and errors.
func setNames() string {
	names := make([]string, 0, len(compat.ModuleSets))
	for n := range compat.ModuleSets {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

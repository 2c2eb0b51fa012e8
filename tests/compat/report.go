package compat

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report holds the results of one compat run: every module in every
// configuration (NativeConfig first).
type Report struct {
	Modules []string `json:"modules"`
	Configs []string `json:"configs"`
	// Results[module][config].
	Results map[string]map[string]ModuleResult `json:"results"`
	// Setup describes how the runs were made (flags, identities), printed
	// above the table.
	Setup []string `json:"setup"`
}

// NewReport returns an empty report for modules in configs.
func NewReport(modules, configs []string) *Report {
	r := &Report{Modules: modules, Configs: configs, Results: map[string]map[string]ModuleResult{}}
	for _, m := range modules {
		r.Results[m] = map[string]ModuleResult{}
	}
	return r
}

// Add records one result, replacing an earlier one of that module and
// configuration.
func (r *Report) Add(mr ModuleResult) {
	if r.Results[mr.Module] == nil {
		r.Modules = append(r.Modules, mr.Module)
		r.Results[mr.Module] = map[string]ModuleResult{}
	}
	if !slices.Contains(r.Configs, mr.Config) {
		r.Configs = append(r.Configs, mr.Config)
	}
	r.Results[mr.Module][mr.Config] = mr
}

// CaseDiff is a test case whose outcome under some platform differs from
// the native run's.
type CaseDiff struct {
	Module string            `json:"module"`
	Case   string            `json:"case"` // the unittest id
	Native Status            `json:"native"`
	Got    map[string]Status `json:"got"` // per platform, also those that agree
	// Reasons are the exception lines or skip reasons, per configuration.
	Reasons map[string]string `json:"reasons,omitempty"`
	Known   *Known            `json:"known,omitempty"`
}

// reason returns a platform's reason, else the native one, naming the
// configuration: what the document shows beside a differing case.
func (cd CaseDiff) reason(platforms []string) string {
	for _, c := range append(platforms, NativeConfig) {
		if why := cd.Reasons[c]; why != "" {
			return c + ": " + why
		}
	}
	return ""
}

// ModuleDiff is what differs for one module.
type ModuleDiff struct {
	Cases []CaseDiff `json:"cases"`
	// NotRun[platform] counts native cases a platform never reached
	// (its run ended early, or a fixture skipped the class), and
	// NotRun[NativeConfig] cases a platform ran that native did not;
	// they are not listed one by one.
	NotRun map[string]int `json:"not_run,omitempty"`
	// ModuleKnown classifies a module-level difference (outcome or a
	// counts difference no case explains), if one is listed.
	ModuleKnown *Known `json:"module_known,omitempty"`
}

// Platforms returns the report's non-native configurations.
func (r *Report) Platforms() []string {
	var ps []string
	for _, c := range r.Configs {
		if c != NativeConfig {
			ps = append(ps, c)
		}
	}
	return ps
}

// Same reports whether module gave the native outcome and counts under
// config.
func (r *Report) Same(module, config string) bool {
	n, ok1 := r.Results[module][NativeConfig]
	g, ok2 := r.Results[module][config]
	return ok1 && ok2 && n.Outcome == g.Outcome && n.Counts == g.Counts
}

// Diff compares each platform's cases of module with the native run's.
func (r *Report) Diff(module string) ModuleDiff {
	native := r.Results[module][NativeConfig]
	platforms := r.Platforms()
	ids := map[string]bool{}
	for _, c := range r.Configs {
		for id := range r.Results[module][c].Cases {
			ids[id] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	d := ModuleDiff{NotRun: map[string]int{}}
	for _, id := range sorted {
		// A case missing from a run (it crashed, timed out, or a fixture
		// skipped the whole class) is counted, not listed: there is
		// nothing to compare. One a platform did not pass is listed even
		// when native lacks it (a skipped setUpClass names the class).
		want, ok := native.Cases[id]
		if !ok {
			want = NotReached
			d.NotRun[NativeConfig]++
		}
		cd := CaseDiff{Module: module, Case: id, Native: want, Got: map[string]Status{}}
		differs := false
		for _, p := range platforms {
			got, ok := r.Results[module][p].Cases[id]
			if !ok {
				got = NotReached
				if want != NotReached {
					d.NotRun[p]++
				}
			}
			cd.Got[p] = got
			if got != NotReached && got != want && (want != NotReached || got != OK) {
				differs = true
			}
		}
		if differs {
			cd.Known = Classify(module, id)
			cd.Reasons = map[string]string{}
			for _, c := range r.Configs {
				if why := r.Results[module][c].Reasons[id]; why != "" {
					cd.Reasons[c] = why
				}
			}
			d.Cases = append(d.Cases, cd)
		}
	}
	for _, p := range platforms {
		if !r.Same(module, p) {
			d.ModuleKnown = Classify(module, "")
		}
	}
	if len(d.NotRun) == 0 {
		d.NotRun = nil
	}
	return d
}

// Unexplained reports whether module under platform differs from native
// in a way KnownDifferences does not classify: a differing case without an
// entry, or a different outcome or counts that neither a case nor a module
// entry explains. Such a difference may be a flaky test on a loaded
// machine, so tools/compat runs the module once more before reporting it.
func (r *Report) Unexplained(module, platform string) bool {
	if r.Same(module, platform) {
		return false
	}
	d := r.Diff(module)
	explained := false
	for _, cd := range d.Cases {
		if cd.Got[platform] == cd.Native || cd.Got[platform] == NotReached {
			continue
		}
		if cd.Known == nil {
			return true
		}
		explained = true
	}
	if d.ModuleKnown != nil {
		return false
	}
	g := r.Results[module][platform]
	return !explained || (g.Outcome != "SUCCESS" && g.Outcome != "FAILURE")
}

// cell is a table cell: counts, or the outcome when the run ended early.
func cell(mr ModuleResult, ok bool) string {
	if !ok {
		return "-"
	}
	s := mr.Counts.String()
	switch mr.Outcome {
	case "SUCCESS":
	case "FAILURE":
		s += " F"
	default:
		s += " " + mr.Outcome
	}
	if mr.EnvChanged {
		s += " env"
	}
	return s
}

// shortID drops the "test.MODULE." prefix every case of module has.
func shortID(module, id string) string {
	return strings.TrimPrefix(id, "test."+module+".")
}

// WriteText prints the table for a terminal: per module the counts of each
// configuration and the cases that differ (the first few; the Markdown and
// JSON files list all).
func (r *Report) WriteText(w io.Writer) error {
	const maxCases = 8
	for _, s := range r.Setup {
		fmt.Fprintln(w, s)
	}
	fmt.Fprintln(w, "\ncounts are run/failures/errors/skipped; F: regrtest failed the module")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "module\t%s\tdiffering cases\n", strings.Join(r.Configs, "\t"))
	for _, m := range r.Modules {
		row := []string{m}
		for _, c := range r.Configs {
			mr, ok := r.Results[m][c]
			row = append(row, cell(mr, ok))
		}
		d := r.Diff(m)
		var notes []string
		for i, cd := range d.Cases {
			if i == maxCases {
				notes = append(notes, fmt.Sprintf("... %d more", len(d.Cases)-maxCases))
				break
			}
			notes = append(notes, fmt.Sprintf("%s(%s)", shortID(m, cd.Case), cd.statuses(r.Platforms())))
		}
		for _, p := range r.Platforms() {
			if n := d.NotRun[p]; n > 0 {
				notes = append(notes, fmt.Sprintf("%s: %d cases not reached", p, n))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", strings.Join(row, "\t"), strings.Join(notes, " "))
	}
	return tw.Flush()
}

// statuses summarises a differing case: "native ok; systrap FAIL, ptrace FAIL".
func (cd CaseDiff) statuses(platforms []string) string {
	parts := make([]string, 0, len(platforms))
	for _, p := range platforms {
		parts = append(parts, p+" "+string(cd.Got[p]))
	}
	return "native " + string(cd.Native) + "; " + strings.Join(parts, ", ")
}

// Markdown returns the generated section of docs/compatibility.md: the
// table, then every differing case with its classification.
func (r *Report) Markdown() string {
	var b strings.Builder
	for _, s := range r.Setup {
		fmt.Fprintf(&b, "%s\n", s)
	}
	b.WriteString("\nCounts are unittest's run/failures/errors/skipped; **F**: regrtest failed the module;" +
		" **=** the platform matches native exactly (outcome and counts).\n\n")
	b.WriteString("| module | " + strings.Join(r.Configs, " | ") + " | differing cases |\n")
	b.WriteString("|---" + strings.Repeat("|---", len(r.Configs)) + "|---|\n")
	for _, m := range r.Modules {
		row := []string{"`" + m + "`"}
		for _, c := range r.Configs {
			mr, ok := r.Results[m][c]
			s := cell(mr, ok)
			s = strings.Replace(s, " F", " **F**", 1)
			if c != NativeConfig && r.Same(m, c) {
				s += " **=**"
			}
			row = append(row, s)
		}
		d := r.Diff(m)
		row = append(row, fmt.Sprint(len(d.Cases)))
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\n### Differences\n\n")
	for _, m := range r.Modules {
		d := r.Diff(m)
		same := true
		for _, p := range r.Platforms() {
			same = same && r.Same(m, p)
		}
		if same && len(d.Cases) == 0 {
			continue
		}
		fmt.Fprintf(&b, "#### %s\n\n", m)
		for _, c := range r.Configs {
			mr := r.Results[m][c]
			if mr.Outcome != "SUCCESS" && mr.Outcome != "FAILURE" {
				fmt.Fprintf(&b, "- %s: module %s", c, mr.Outcome)
				if mr.SkipReason != "" {
					fmt.Fprintf(&b, " (%s)", mr.SkipReason)
				}
				if mr.Outcome == "crashed" || mr.Outcome == "timeout" {
					fmt.Fprintf(&b, ", exit %d; last line: `%s`", mr.ExitCode, strings.ReplaceAll(lastLine(mr.Tail), "`", "'"))
				}
				b.WriteString("\n")
			}
		}
		for _, p := range r.Platforms() {
			if n := d.NotRun[p]; n > 0 {
				fmt.Fprintf(&b, "- %s: %d native cases not reached\n", p, n)
			}
		}
		if n := d.NotRun[NativeConfig]; n > 0 {
			fmt.Fprintf(&b, "- native: %d cases a platform ran were not reached natively\n", n)
		}
		if k := d.ModuleKnown; k != nil {
			fmt.Fprintf(&b, "- module: %s\n", k.Why)
		}
		for _, g := range groupDiffs(m, d.Cases, r.Platforms()) {
			b.WriteString(g)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// WriteJSON writes the whole report, with every case of every run.
func (r *Report) WriteJSON(path string) error {
	type out struct {
		*Report
		Diffs map[string]ModuleDiff `json:"diffs"`
	}
	o := out{Report: r, Diffs: map[string]ModuleDiff{}}
	for _, m := range r.Modules {
		o.Diffs[m] = r.Diff(m)
	}
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// The generated part of docs/compatibility.md lies between these lines;
// everything outside them is written by hand.
const (
	BeginMarker = "<!-- BEGIN GENERATED by `make compat` (tools/compat); do not edit by hand -->"
	EndMarker   = "<!-- END GENERATED -->"
)

// ReplaceGenerated returns doc with the text between the markers replaced
// by section.
func ReplaceGenerated(doc, section string) (string, error) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("the markers %q and %q are missing or out of order", BeginMarker, EndMarker)
	}
	return doc[:i+len(BeginMarker)] + "\n" + section + doc[j:], nil
}

// groupDiffs renders the differing cases of module, one line per case,
// except that cases that differ the same way for the same reason and
// classification share a line (a missing feature can fail a hundred
// cases).
func groupDiffs(module string, cases []CaseDiff, platforms []string) []string {
	var lines []string
	cases = append([]CaseDiff(nil), cases...)
	for i := 0; i < len(cases); {
		cd := cases[i]
		why := "**unclassified**"
		if cd.Known != nil {
			why = cd.Known.Why
		}
		// Cases of any class that differ the same way for the same reason
		// and classification share a line.
		key := func(c CaseDiff) string {
			k := ""
			if c.Known != nil {
				k = c.Known.Why
			}
			return c.statuses(platforms) + "\x00" + c.reason(platforms) + "\x00" + k
		}
		var group []CaseDiff
		rest := cases[i+1:]
		cases = cases[:i+1]
		for _, c := range rest {
			if key(c) == key(cd) {
				group = append(group, c)
			} else {
				cases = append(cases, c)
			}
		}
		j := i + 1
		name := "`" + shortID(module, cd.Case) + "`"
		if len(group) > 0 {
			const maxNames = 8
			names := []string{shortID(module, cd.Case)}
			for _, c := range group {
				names = append(names, shortID(module, c.Case))
			}
			n := len(names)
			if n > maxNames {
				names = append(names[:maxNames], fmt.Sprintf("and %d more (bin/compat/results.json)", n-maxNames))
			}
			name = fmt.Sprintf("%d cases (%s)", n, strings.Join(names, ", "))
		}
		line := fmt.Sprintf("- %s: %s — %s", name, cd.statuses(platforms), why)
		if rs := cd.reason(platforms); rs != "" {
			line += fmt.Sprintf(" (%s)", strings.ReplaceAll(rs, "`", "'"))
		}
		lines = append(lines, line+"\n")
		i = j
	}
	return lines
}

// Package compat runs CPython's own regression tests (`python3 -m test
// MODULE`, from Debian's libpython3.11-testsuite) natively and under litebox,
// and compares the outcomes test case by test case. tools/compat is the
// command behind `make compat`; tests/compat_test.go runs a fast subset in
// `make test`.
//
// Results come from two sources that regrtest writes in one run: the
// --junit-xml file (one element per test case with its outcome; absent when
// the interpreter dies or regrtest's --timeout fires) and the -v text output
// (unittest's "Ran N tests" / "FAILED (...)" summaries, the "FAIL: ..."
// headers, which also name failing subtests and class fixtures that the XML
// leaves unnamed, and the per-test progress lines, used when there is no XML).
package compat

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Status is the outcome of one test case, as unittest names it.
type Status string

// The outcomes of a test case, from best to worst (see rank).
const (
	OK         Status = "ok"
	Skipped    Status = "skipped"
	XFail      Status = "expected failure"
	UXPass     Status = "unexpected success"
	Fail       Status = "FAIL"
	Error      Status = "ERROR"
	NotReached Status = "not run" // only in comparisons: the case is missing from one run
)

// rank orders statuses so that a case reported twice (a failing subtest and
// its parent, a progress line and the XML) keeps the worst outcome.
func rank(s Status) int {
	switch s {
	case OK:
		return 0
	case Skipped:
		return 1
	case XFail:
		return 2
	case UXPass:
		return 3
	case Fail:
		return 4
	case Error:
		return 5
	}
	return -1
}

// Counts are unittest's totals for a module: Run counts skipped tests too,
// as unittest's "Ran N tests" does.
type Counts struct {
	Run                 int `json:"run"`
	Failures            int `json:"failures"`
	Errors              int `json:"errors"`
	Skipped             int `json:"skipped"`
	ExpectedFailures    int `json:"expected_failures,omitempty"`
	UnexpectedSuccesses int `json:"unexpected_successes,omitempty"`
}

// String is the table form: run/failures/errors/skipped.
func (c Counts) String() string {
	s := fmt.Sprintf("%d/%d/%d/%d", c.Run, c.Failures, c.Errors, c.Skipped)
	if c.ExpectedFailures != 0 || c.UnexpectedSuccesses != 0 {
		s += fmt.Sprintf(" (xf %d, us %d)", c.ExpectedFailures, c.UnexpectedSuccesses)
	}
	return s
}

// ModuleResult is one module's run in one configuration.
type ModuleResult struct {
	Module string `json:"module"`
	Config string `json:"config"`
	// Outcome is regrtest's verdict ("SUCCESS", "FAILURE", "NO TEST RUN",
	// ...), "skipped" for a module-level skip, "timeout" when regrtest's
	// own --timeout or the sandbox's ended the run, or "crashed" when the
	// interpreter died before regrtest printed a verdict.
	Outcome    string `json:"outcome"`
	SkipReason string `json:"skip_reason,omitempty"`
	EnvChanged bool   `json:"env_changed,omitempty"`
	ExitCode   int    `json:"exit_code"`
	// CountsFromSummary is false when unittest printed no summary (a
	// crash or timeout): Counts were then added up from the cases seen.
	CountsFromSummary bool              `json:"counts_from_summary"`
	Counts            Counts            `json:"counts"`
	Cases             map[string]Status `json:"cases"`
	// Reasons holds, for cases that did not pass, the final exception
	// line or the skip reason: what a developer reads first.
	Reasons map[string]string `json:"reasons,omitempty"`
	Seconds float64           `json:"seconds"`
	// Tail is the end of the output when the run did not finish normally.
	Tail string `json:"tail,omitempty"`
}

var (
	ranRe     = regexp.MustCompile(`^Ran (\d+) tests? in [0-9.]+s$`)
	summaryRe = regexp.MustCompile(`^(OK|FAILED)(?: \((.*)\))?$`)
	verdictRe = regexp.MustCompile(`^== Tests result: (.+) ==$`)
	// "FAIL: test_x (test.test_os.C.test_x) (sub=1)" after a line of '='.
	headerRe = regexp.MustCompile(`^(FAIL|ERROR|UNEXPECTED SUCCESS): (\w+) \(([\w.]+)\)`)
	// A verbose progress line starts with "test_x (test.mod.C.test_x)";
	// its " ... status" ends it or the docstring line after it.
	progressRe = regexp.MustCompile(`^\s*(\w+) \(([\w.]+)\)`)
	timeoutRe  = regexp.MustCompile(`Timeout \(\d+:\d\d:\d\d\)!$`)
	envRe      = regexp.MustCompile(`^\d+ tests? altered the execution environment`)
	// The final line of a traceback: "PermissionError: [Errno 13] ...".
	excRe = regexp.MustCompile(`^[A-Za-z_][\w.]*(: |$)`)
)

// Parse reads one regrtest run of module: out is its stdout followed by its
// stderr, junit the --junit-xml file (nil if regrtest did not write it).
// exitCode is the process's exit status. The error reports malformed XML;
// the text results are returned regardless.
func Parse(module string, out, junit []byte, exitCode int) (ModuleResult, error) {
	r := ModuleResult{Module: module, ExitCode: exitCode, Cases: map[string]Status{}, Reasons: map[string]string{}}
	set := func(id string, s Status) {
		if old, ok := r.Cases[id]; !ok || rank(s) > rank(old) {
			r.Cases[id] = s
		}
	}
	reason := func(id, why string) {
		why = strings.TrimSpace(why)
		if _, ok := r.Reasons[id]; !ok && why != "" {
			if len(why) > 200 {
				why = why[:200] + "..."
			}
			r.Reasons[id] = why
		}
	}
	// The error listing: after a header, the traceback up to the next
	// separator; its last unindented "Name: message" line is the exception.
	block, blockExc, blockDash, blockDone := "", "", false, false
	var timedOut, moduleSkipped bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	prevSeparator := false
	pending := "" // the id of a progress line whose status is on a later line
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		separator := len(line) >= 20 && strings.Trim(line, "=") == ""
		if block != "" {
			dash := len(line) >= 20 && strings.Trim(line, "-") == ""
			switch {
			case dash && !blockDash:
				blockDash = true
			case separator || dash:
				reason(block, blockExc)
				block = ""
			case line == "Stdout:" || line == "Stderr:":
				blockDone = true // the test's captured output follows
			case !blockDone && excRe.MatchString(line):
				blockExc = line
			}
		}
		switch {
		case ranRe.MatchString(line):
			n, _ := strconv.Atoi(ranRe.FindStringSubmatch(line)[1])
			r.Counts.Run += n
			r.CountsFromSummary = true
		case summaryRe.MatchString(line) && r.CountsFromSummary:
			addSummary(&r.Counts, summaryRe.FindStringSubmatch(line)[2])
		case verdictRe.MatchString(line):
			r.Outcome = verdictRe.FindStringSubmatch(line)[1]
		case strings.HasPrefix(line, module+" skipped"):
			// "MODULE skipped -- reason", then a bare "MODULE skipped".
			moduleSkipped = true
			if why := strings.TrimPrefix(strings.TrimPrefix(line, module+" skipped"), " -- "); r.SkipReason == "" {
				r.SkipReason = why
			}
		case envRe.MatchString(line):
			r.EnvChanged = true
		case timeoutRe.MatchString(line):
			// faulthandler's dump_traceback_later, often right after the
			// " ... " of the case that hung.
			timedOut = true
			if m := progressRe.FindStringSubmatch(line); m != nil {
				pending = caseID(m[1], m[2])
			}
			if pending != "" && strings.Contains(line, " ... ") {
				set(pending, Error)
				reason(pending, "hung: regrtest's --timeout fired in this case")
			}
			pending = ""
		case prevSeparator && headerRe.MatchString(line):
			m := headerRe.FindStringSubmatch(line)
			st := map[string]Status{"FAIL": Fail, "ERROR": Error, "UNEXPECTED SUCCESS": UXPass}[m[1]]
			set(caseID(m[2], m[3]), st)
			block, blockExc, blockDash, blockDone = caseID(m[2], m[3]), "", false, false
		default:
			if m := progressRe.FindStringSubmatch(line); m != nil {
				pending = caseID(m[1], m[2])
			}
			if i := strings.LastIndex(line, " ... "); i >= 0 && pending != "" {
				if st, ok := progressStatus(line[i+len(" ... "):]); ok {
					set(pending, st)
					if st == Skipped {
						reason(pending, line[i+len(" ... "):])
					}
					pending = ""
				}
			}
		}
		prevSeparator = separator
	}
	var xmlErr error
	if block != "" {
		reason(block, blockExc)
	}
	if len(junit) > 0 {
		xmlErr = parseJUnit(junit, set, reason)
	}
	switch {
	case timedOut:
		r.Outcome = "timeout"
	case moduleSkipped && r.Counts.Run == 0:
		r.Outcome = "skipped"
	case r.Outcome == "":
		r.Outcome = "crashed"
	}
	if !r.CountsFromSummary {
		r.Counts = countCases(r.Cases)
	}
	if r.Outcome == "timeout" || r.Outcome == "crashed" {
		r.Tail = tail(out, 15)
	}
	return r, xmlErr
}

// caseID names a case by its unittest id. A class or module fixture
// ("setUpClass (test.test_os.C)") gets its fixture name appended.
func caseID(name, id string) string {
	if name == id[strings.LastIndex(id, ".")+1:] {
		return id
	}
	return id + "." + name
}

func progressStatus(s string) (Status, bool) {
	switch {
	case s == "ok":
		return OK, true
	case s == "FAIL":
		return Fail, true
	case s == "ERROR":
		return Error, true
	case strings.HasPrefix(s, "skipped"):
		return Skipped, true
	case s == "expected failure":
		return XFail, true
	case s == "unexpected success":
		return UXPass, true
	}
	return "", false
}

// addSummary adds "failures=1, errors=2, skipped=3, expected failures=4,
// unexpected successes=5" to c.
func addSummary(c *Counts, s string) {
	for _, part := range strings.Split(s, ", ") {
		key, val, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil {
			continue
		}
		switch key {
		case "failures":
			c.Failures += n
		case "errors":
			c.Errors += n
		case "skipped":
			c.Skipped += n
		case "expected failures":
			c.ExpectedFailures += n
		case "unexpected successes":
			c.UnexpectedSuccesses += n
		}
	}
}

func countCases(cases map[string]Status) Counts {
	var c Counts
	for _, s := range cases {
		c.Run++
		switch s {
		case Fail:
			c.Failures++
		case Error:
			c.Errors++
		case Skipped:
			c.Skipped++
		case XFail:
			c.ExpectedFailures++
		case UXPass:
			c.UnexpectedSuccesses++
		}
	}
	return c
}

// The --junit-xml file of CPython 3.11's test.support.testresult.
type junitCase struct {
	Name    string      `xml:"name,attr"`
	Skipped *junitText  `xml:"skipped"`
	Failure *junitError `xml:"failure"`
	Error   *junitError `xml:"error"`
	Output  *struct{}   `xml:"output"`  // an expected failure
	Outcome string      `xml:"outcome"` // "UNEXPECTED_SUCCESS"
}

type junitText struct {
	Text string `xml:",chardata"`
}

// junitError's message is the formatted exception, without traceback.
type junitError struct {
	Message string `xml:"message,attr"`
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	return s
}

type junitSuites struct {
	Suites []struct {
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(data []byte, set func(string, Status), reason func(string, string)) error {
	var doc junitSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parsing junit xml: %w", err)
	}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			// A case whose subtests failed has no name (unittest never
			// reports its end); the FAIL: headers of the text name it.
			if c.Name == "" {
				continue
			}
			st := OK
			switch {
			case c.Error != nil:
				st = Error
				reason(c.Name, firstLine(c.Error.Message))
			case c.Failure != nil:
				st = Fail
				reason(c.Name, firstLine(c.Failure.Message))
			case c.Outcome == "UNEXPECTED_SUCCESS":
				st = UXPass
			case c.Output != nil:
				st = XFail
			case c.Skipped != nil:
				st = Skipped
				reason(c.Name, "skipped '"+c.Skipped.Text+"'") // as unittest prints it
			}
			set(c.Name, st)
		}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// SortedCases returns the case ids of r in order.
func (r ModuleResult) SortedCases() []string {
	ids := make([]string, 0, len(r.Cases))
	for id := range r.Cases {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

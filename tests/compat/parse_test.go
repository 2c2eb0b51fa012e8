package compat

import (
	"maps"
	"reflect"
	"strings"
	"testing"
)

// sampleOut has the shapes of CPython 3.11's `python3 -m test -v` output:
// progress lines (one with a docstring line, one subtest), a class fixture
// skip, the error listing and unittest's and regrtest's summaries.
const sampleOut = `== CPython 3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]
0:00:00 load avg: 0.50 Run tests sequentially
0:00:00 load avg: 0.50 [1/1] test_demo
test_a (test.test_demo.A.test_a) ... ok
test_b (test.test_demo.A.test_b)
Check b. ... FAIL
test_c (test.test_demo.A.test_c) ... skipped 'no c here'
  test_d (test.test_demo.A.test_d) (i=2) ... ERROR
test_e (test.test_demo.A.test_e) ... expected failure
setUpClass (test.test_demo.B) ... skipped 'no B'

======================================================================
ERROR: test_d (test.test_demo.A.test_d) (i=2)
----------------------------------------------------------------------
Traceback (most recent call last):
OSError: [Errno 38] Function not implemented

======================================================================
FAIL: test_b (test.test_demo.A.test_b)
Check b.
----------------------------------------------------------------------
AssertionError: 1 != 2

----------------------------------------------------------------------
Ran 5 tests in 0.012s

FAILED (failures=1, errors=1, skipped=2, expected failures=1)
test test_demo failed
test_demo failed (1 error, 1 failure)

== Tests result: FAILURE ==

1 test failed:
    test_demo

Total duration: 120 ms
Tests result: FAILURE
`

// sampleXML is the matching --junit-xml file: test_d (failed subtest) has
// an unnamed element, as CPython writes it.
const sampleXML = `<testsuites tests="5" errors="1" failures="1"><testsuite start="2026-12-01 00:00:00" tests="5" errors="1" failures="1">` +
	`<testcase name="test.test_demo.A.test_a" status="run" result="completed" time="0.001" />` +
	`<testcase name="test.test_demo.A.test_b" status="run" result="completed" time="0.001"><failure type="AssertionError" message="1 != 2">tb</failure></testcase>` +
	`<testcase name="test.test_demo.A.test_c" status="run" result="completed" time="0.0"><skipped>no c here</skipped></testcase>` +
	`<testcase />` +
	`<testcase name="test.test_demo.A.test_e" status="run" result="completed" time="0.0"><output type="AssertionError" message="x">tb</output></testcase>` +
	`</testsuite></testsuites>`

func TestParse(t *testing.T) {
	wantCases := map[string]Status{
		"test.test_demo.A.test_a":     OK,
		"test.test_demo.A.test_b":     Fail,
		"test.test_demo.A.test_c":     Skipped,
		"test.test_demo.A.test_d":     Error,
		"test.test_demo.A.test_e":     XFail,
		"test.test_demo.B.setUpClass": Skipped,
	}
	wantCounts := Counts{Run: 5, Failures: 1, Errors: 1, Skipped: 2, ExpectedFailures: 1}
	// The XML's test_b is FAIL, the progress line's is too; with a
	// different progress status the worse one would win.
	for _, tc := range []struct {
		name  string
		out   string
		junit string
		// outcome and counts expected
		outcome    string
		fromSum    bool
		counts     Counts
		cases      map[string]Status
		skipReason string
	}{
		{name: "text and xml", out: sampleOut, junit: sampleXML, outcome: "FAILURE", fromSum: true, counts: wantCounts, cases: wantCases},
		{name: "text only", out: sampleOut, outcome: "FAILURE", fromSum: true, counts: wantCounts, cases: wantCases},
		{
			name: "crash after two cases",
			out: "test_a (test.test_demo.A.test_a) ... ok\n" +
				"test_b (test.test_demo.A.test_b) ... Fatal Python error: Segmentation fault\n",
			outcome: "crashed",
			counts:  Counts{Run: 1},
			cases:   map[string]Status{"test.test_demo.A.test_a": OK},
		},
		{
			name: "regrtest timeout",
			out: "test_a (test.test_demo.A.test_a) ... ok\n" +
				"test_b (test.test_demo.A.test_b) ... Timeout (0:00:05)!\nThread 0x00007f (most recent call first):\n",
			outcome: "timeout",
			counts:  Counts{Run: 2, Errors: 1},
			cases:   map[string]Status{"test.test_demo.A.test_a": OK, "test.test_demo.A.test_b": Error},
		},
		{
			name: "module skipped",
			out: "0:00:00 load avg: 0.50 [1/1] test_demo\n" +
				"test_demo skipped -- No module named '_demo'\ntest_demo skipped\n\n== Tests result: SUCCESS ==\n",
			outcome:    "skipped",
			cases:      map[string]Status{},
			skipReason: "No module named '_demo'",
		},
		{
			name: "ok with skips, two suites",
			out: "Ran 3 tests in 0.1s\n\nOK (skipped=1)\n" +
				"Ran 2 tests in 0.1s\n\nOK\n== Tests result: SUCCESS ==\n",
			outcome: "SUCCESS", fromSum: true,
			counts: Counts{Run: 5, Skipped: 1},
			cases:  map[string]Status{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("test_demo", []byte(tc.out), []byte(tc.junit), 2)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tc.outcome || got.CountsFromSummary != tc.fromSum || got.Counts != tc.counts || got.SkipReason != tc.skipReason {
				t.Errorf("outcome %q, from summary %v, counts %+v, skip %q; want %q, %v, %+v, %q",
					got.Outcome, got.CountsFromSummary, got.Counts, got.SkipReason, tc.outcome, tc.fromSum, tc.counts, tc.skipReason)
			}
			if !reflect.DeepEqual(got.Cases, tc.cases) {
				t.Errorf("cases = %v, want %v", got.Cases, tc.cases)
			}
			if tc.out == sampleOut {
				wantReasons := map[string]string{
					"test.test_demo.A.test_b":     "AssertionError: 1 != 2",
					"test.test_demo.A.test_c":     "skipped 'no c here'",
					"test.test_demo.A.test_d":     "OSError: [Errno 38] Function not implemented",
					"test.test_demo.B.setUpClass": "skipped 'no B'",
				}
				if !reflect.DeepEqual(got.Reasons, wantReasons) {
					t.Errorf("reasons = %q, want %q", got.Reasons, wantReasons)
				}
			}
		})
	}
}

func TestParseBadXML(t *testing.T) {
	if _, err := Parse("test_demo", []byte(sampleOut), []byte("<testsuites><testsuite>"), 2); err == nil {
		t.Error("truncated XML: no error")
	}
}

func TestXMLStatusesWinOverProgress(t *testing.T) {
	// A child process wrote into the progress line, so the text saw no
	// status for test_a; the XML has it.
	out := "test_a (test.test_demo.A.test_a) ... child says hi\nok-ish\n"
	xml := `<testsuites><testsuite><testcase name="test.test_demo.A.test_a"><error type="E" message="OSError: boom&#10;">tb</error></testcase></testsuite></testsuites>`
	got, err := Parse("test_demo", []byte(out), []byte(xml), 2)
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Cases["test.test_demo.A.test_a"]; s != Error {
		t.Errorf("test_a = %q, want %q", s, Error)
	}
	if r := got.Reasons["test.test_demo.A.test_a"]; r != "OSError: boom" {
		t.Errorf("test_a reason = %q, want the XML message", r)
	}
}

func TestDiffAndClassify(t *testing.T) {
	rep := NewReport([]string{"test_demo"}, []string{NativeConfig, "systrap", "ptrace"})
	base := map[string]Status{"test.test_demo.A.test_a": OK, "test.test_demo.A.test_b": OK, "test.test_demo.A.test_c": Skipped}
	with := func(id string, s Status) map[string]Status { return withCase(base, id, s) }
	rep.Add(ModuleResult{Module: "test_demo", Config: NativeConfig, Outcome: "SUCCESS", Counts: Counts{Run: 3, Skipped: 1}, Cases: base})
	rep.Add(ModuleResult{Module: "test_demo", Config: "systrap", Outcome: "FAILURE", Counts: Counts{Run: 3, Errors: 1, Skipped: 1}, Cases: with("test.test_demo.A.test_b", Error)})
	rep.Add(ModuleResult{Module: "test_demo", Config: "ptrace", Outcome: "crashed", Counts: Counts{Run: 1}, Cases: map[string]Status{"test.test_demo.A.test_a": OK}})

	old := KnownDifferences
	defer func() { KnownDifferences = old }()
	KnownDifferences = []Known{
		{Module: "test_demo", Case: "A.test_b", Why: "defect (issue 11: Files)"},
		{Module: "test_demo", Case: "A.test", Why: "must not match: a prefix ends at a dot"},
		{Module: "test_demo", Why: "module entry"},
	}
	d := rep.Diff("test_demo")
	if len(d.Cases) != 1 || d.Cases[0].Case != "test.test_demo.A.test_b" {
		t.Fatalf("diff cases = %+v, want only A.test_b", d.Cases)
	}
	cd := d.Cases[0]
	if cd.Native != OK || cd.Got["systrap"] != Error || cd.Got["ptrace"] != NotReached {
		t.Errorf("A.test_b: %+v", cd)
	}
	if cd.Known == nil || cd.Known.Why != "defect (issue 11: Files)" {
		t.Errorf("A.test_b classified as %+v", cd.Known)
	}
	if d.NotRun["ptrace"] != 2 || d.NotRun["systrap"] != 0 {
		t.Errorf("not run = %v, want ptrace 2 (test_b, test_c)", d.NotRun)
	}
	if d.ModuleKnown == nil || d.ModuleKnown.Why != "module entry" {
		t.Errorf("module classification = %+v", d.ModuleKnown)
	}
	if rep.Same("test_demo", "systrap") || rep.Same("test_demo", "ptrace") {
		t.Error("Same is true for differing runs")
	}
	md := rep.Markdown()
	for _, want := range []string{"| `test_demo` | 3/0/0/1 | 3/0/1/1 **F** | 1/0/0/0 crashed | 1 |", "`A.test_b`: native ok; systrap ERROR, ptrace not run — defect (issue 11: Files)", "ptrace: 2 native cases not reached"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestReplaceGenerated(t *testing.T) {
	doc := "# Title\nhand\n" + BeginMarker + "\nold table\n" + EndMarker + "\nmore hand\n"
	got, err := ReplaceGenerated(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Title\nhand\n" + BeginMarker + "\nnew table\n" + EndMarker + "\nmore hand\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := ReplaceGenerated("no markers", "x"); err == nil {
		t.Error("no markers: no error")
	}
}

// TestUnexplained: which platform runs tools/compat re-runs — those whose
// difference from native no known.go entry classifies.
func TestUnexplained(t *testing.T) {
	old := KnownDifferences
	defer func() { KnownDifferences = old }()
	KnownDifferences = []Known{
		{Module: "test_demo", Case: "A.test_b", Why: "known"},
		{Module: "test_env", Why: "module entry"},
	}
	base := map[string]Status{"test.test_demo.A.test_a": OK, "test.test_demo.A.test_b": OK}
	with := func(id string, s Status) map[string]Status { return withCase(base, id, s) }
	native := ModuleResult{Outcome: "SUCCESS", Counts: Counts{Run: 2}, Cases: base}
	tests := []struct {
		name   string
		module string
		got    ModuleResult
		want   bool
	}{
		{"same", "test_demo", native, false},
		{"known case", "test_demo", ModuleResult{Outcome: "FAILURE", Counts: Counts{Run: 2, Errors: 1}, Cases: with("test.test_demo.A.test_b", Error)}, false},
		{"unknown case", "test_demo", ModuleResult{Outcome: "FAILURE", Counts: Counts{Run: 2, Errors: 1}, Cases: with("test.test_demo.A.test_a", Error)}, true},
		{"known case, then a timeout", "test_demo", ModuleResult{Outcome: "timeout", Counts: Counts{Run: 2, Errors: 1}, Cases: with("test.test_demo.A.test_b", Error)}, true},
		{"counts differ, no case does", "test_demo", ModuleResult{Outcome: "SUCCESS", Counts: Counts{Run: 2, Skipped: 1}, Cases: base}, true},
		{"module entry", "test_env", ModuleResult{Outcome: "ENV CHANGED", Counts: Counts{Run: 2}, Cases: base}, false},
		{"module entry, unknown case", "test_env", ModuleResult{Outcome: "ENV CHANGED", Counts: Counts{Run: 2, Errors: 1}, Cases: with("test.test_demo.A.test_a", Error)}, true},
	}
	for _, tt := range tests {
		rep := NewReport([]string{tt.module}, []string{NativeConfig, "systrap"})
		n := native
		n.Module, n.Config = tt.module, NativeConfig
		rep.Add(n)
		g := tt.got
		g.Module, g.Config = tt.module, "systrap"
		rep.Add(g)
		if got := rep.Unexplained(tt.module, "systrap"); got != tt.want {
			t.Errorf("%s: Unexplained = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// withCase returns a copy of cases with id's status set to s.
func withCase(cases map[string]Status, id string, s Status) map[string]Status {
	m := maps.Clone(cases)
	m[id] = s
	return m
}

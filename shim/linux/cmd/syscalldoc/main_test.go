package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/shim/linux"
)

// docPath is the committed document, relative to this package's directory
// (where go test runs).
var docPath = filepath.Join("..", "..", "..", "..", "docs", "syscalls.md")

// TestDocMatchesTable keeps docs/syscalls.md from going stale: a syscall
// added to (or removed from) the shim's table must show up in the
// "implemented" column. The tests column is not checked, since it depends
// on an integration-test run.
func TestDocMatchesTable(t *testing.T) {
	f, err := os.Open(docPath)
	if err != nil {
		t.Fatalf("%v; run `make syscalls-doc` to create it", err)
	}
	defer f.Close()
	doc, err := parseImplemented(f)
	if err != nil {
		t.Fatalf("parsing %s: %v", docPath, err)
	}
	var stale []string
	for nr := range linux.NumSyscalls() {
		want := linux.Implemented(uint64(nr))
		got, ok := doc[nr]
		switch {
		case !ok:
			stale = append(stale, fmt.Sprintf("%d (%s) has no row", nr, linux.Name(uint64(nr))))
		case got != want:
			stale = append(stale, fmt.Sprintf("%d (%s) is implemented=%v in the shim but %v in the doc",
				nr, linux.Name(uint64(nr)), want, got))
		}
	}
	for nr := range doc {
		if nr >= linux.NumSyscalls() {
			stale = append(stale, fmt.Sprintf("%d has a row but the shim knows no such number", nr))
		}
	}
	if len(stale) > 0 {
		t.Errorf("docs/syscalls.md is out of date with the shim's syscall table; run `make syscalls-doc`:\n  %s",
			strings.Join(stale, "\n  "))
	}
}

// TestRenderRoundTrip checks that parseImplemented reads what render writes,
// so that TestDocMatchesTable cannot pass by failing to see rows.
func TestRenderRoundTrip(t *testing.T) {
	uses := map[string]map[string]bool{
		"read":       {"TestA": true, "TestB": true},
		"syscall_99": {"TestA": true}, // no such row: reported back
	}
	var buf bytes.Buffer
	unknown := render(&buf, uses)
	if len(unknown) != 1 || unknown[0] != "syscall_99" {
		t.Errorf("render unknown = %q, want [syscall_99]", unknown)
	}
	if !strings.Contains(buf.String(), "| 0 | `read` | ") || !strings.Contains(buf.String(), "| TestA, TestB |") ||
		!strings.Contains(buf.String(), "| 9 | `mmap` | yes | "+linux.Note(unix.SYS_MMAP)+" |") {
		t.Errorf("render output lacks the read row:\n%s", buf.String())
	}
	doc, err := parseImplemented(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) != linux.NumSyscalls() {
		t.Fatalf("parsed %d rows, want %d", len(doc), linux.NumSyscalls())
	}
	for nr, got := range doc {
		if want := linux.Implemented(uint64(nr)); got != want {
			t.Errorf("row %d: implemented = %v, want %v", nr, got, want)
		}
	}
}

func TestTopLevelTest(t *testing.T) {
	for file, want := range map[string]string{
		"TestPrograms.static-pie.hello.litebox": "TestPrograms",
		"TestLogFlag":                           "TestLogFlag",
		"TestAuditFlag.denied-write":            "TestAuditFlag",
		"Test_x.y":                              "Test_x",
		".hidden":                               "",
	} {
		if got := topLevelTest(file); got != want {
			t.Errorf("topLevelTest(%q) = %q, want %q", file, got, want)
		}
	}
}

func TestTestList(t *testing.T) {
	tests := map[string]bool{}
	for _, name := range []string{"TestH", "TestG", "TestF", "TestE", "TestD", "TestC", "TestB", "TestA"} {
		tests[name] = true
	}
	want := "TestA, TestB, TestC, TestD, TestE, TestF and 2 more"
	if got := testList(tests); got != want {
		t.Errorf("testList = %q, want %q", got, want)
	}
	if got := testList(nil); got != "" {
		t.Errorf("testList(nil) = %q, want empty", got)
	}
}

// parseImplemented reads the table rows of the document: for each syscall
// number, whether the "implemented" column says yes.
func parseImplemented(r io.Reader) (map[int]bool, error) {
	rows := map[int]bool{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		cells := strings.Split(sc.Text(), "|")
		// "| nr | name | implemented | notes | tests |" splits into 7 cells.
		if len(cells) != 7 || strings.TrimSpace(cells[0]) != "" {
			continue
		}
		nr, err := strconv.Atoi(strings.TrimSpace(cells[1]))
		if err != nil {
			continue // the header and separator rows
		}
		if _, dup := rows[nr]; dup {
			return nil, fmt.Errorf("line %d: second row for syscall %d", line, nr)
		}
		if note := strings.TrimSpace(cells[4]); note != linux.Note(uint64(nr)) {
			return nil, fmt.Errorf("line %d: notes column is %q, the table says %q", line, note, linux.Note(uint64(nr)))
		}
		switch impl := strings.TrimSpace(cells[3]); impl {
		case implementedYes:
			rows[nr] = true
		case implementedNo:
			rows[nr] = false
		default:
			return nil, fmt.Errorf("line %d: implemented column is %q, want %q or %q",
				line, impl, implementedYes, implementedNo)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}

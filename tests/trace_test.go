package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTraceSyscallsFlag checks the hidden development flag behind
// docs/syscalls.md: the guest runs as usual, FILE gets the names of the
// syscalls it used (sorted, unique), later runs append, an unusable FILE is a
// usage error, and --help does not advertise the flag.
func TestTraceSyscallsFlag(t *testing.T) {
	program(t, "hello", staticVariant)
	trace := filepath.Join(t.TempDir(), "trace.txt")
	// runLitebox, not runGuest: the harness adds its own --trace-syscalls
	// under `make syscalls-doc`, which would override this one.
	args := []string{"run", "--mount", workMount(staticVariant), "--trace-syscalls", trace, "--", "/work/hello"}
	for range 2 {
		got := runLitebox(t, nil, args...)
		if got.ExitCode != 0 || string(got.Stdout) != "hello, world\n" || len(got.Stderr) != 0 {
			t.Fatalf("hello with --trace-syscalls:\n%s", got)
		}
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines)%2 != 0 {
		t.Fatalf("trace has %d lines, want two equal runs:\n%s", len(lines), data)
	}
	first, second := lines[:len(lines)/2], lines[len(lines)/2:]
	if !slices.Equal(first, second) {
		t.Errorf("the two runs traced differently (the second must append):\n%s", data)
	}
	if !slices.IsSorted(first) || len(slices.Compact(slices.Clone(first))) != len(first) {
		t.Errorf("trace of one run is not sorted and unique: %q", first)
	}
	for _, want := range []string{"write", "exit_group"} {
		if !slices.Contains(first, want) {
			t.Errorf("trace lacks %q: %q", want, first)
		}
	}

	// Like --audit, an unusable FILE is a usage error before the guest runs.
	bad := runLitebox(t, nil, "run", "--trace-syscalls", "/nonexistent-dir/trace.txt", "--", "/bin/true")
	checkOneLineError(t, bad, 125)

	help := runLitebox(t, nil, "run", "--help")
	if strings.Contains(string(help.Stdout)+string(help.Stderr), "trace-syscalls") {
		t.Errorf("run --help mentions the hidden --trace-syscalls:\n%s", help.Stdout)
	}
}

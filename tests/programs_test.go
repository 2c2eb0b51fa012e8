package tests

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.out from the native runs")

// progCase is one run of a testdata program. The same expectation is checked
// twice: once for the program run natively (the "native" subtest, which
// validates the test itself) and once under litebox (the "litebox" subtest).
type progCase struct {
	name string
	prog string   // testdata/<prog>.c
	args []string // arguments, unless setup provides them
	env  []string // extra KEY=VALUE, set natively and passed with -e

	// setup, if set, prepares host state and returns the arguments for the
	// native and guest runs and additional --mount specs for the guest.
	setup func(t *testing.T) (nativeArgs, guestArgs, mounts []string)

	wantExit   int
	wantStdout string // exact stdout, unless golden is set
	golden     string // exact stdout is testdata/golden/<golden>.out
	// stderr is always expected to be empty: none of these programs writes
	// to it, and litebox must not add anything without --log.
}

var programCases = []progCase{
	{name: "hello", prog: "hello", wantStdout: "hello, world\n"},

	{name: "exit0", prog: "exitcode", args: []string{"0"}, wantExit: 0},
	{name: "exit1", prog: "exitcode", args: []string{"1"}, wantExit: 1},
	{name: "exit42", prog: "exitcode", args: []string{"42"}, wantExit: 42},
	{name: "exit255", prog: "exitcode", args: []string{"255"}, wantExit: 255},
	// The kernel keeps only the low 8 bits of the exit status.
	{name: "exit256", prog: "exitcode", args: []string{"256"}, wantExit: 0},

	// Signal deaths: 128+N, and output flushed before the death arrives.
	{name: "sigabrt", prog: "killself", wantStdout: "dying\n", wantExit: 128 + 6},
	{name: "sigsegv", prog: "killself", args: []string{"segv"}, wantStdout: "dying\n", wantExit: 128 + 11},
	{name: "sigterm", prog: "killself", args: []string{"15"}, wantStdout: "dying\n", wantExit: 128 + 15},
	{name: "sigkill", prog: "killself", args: []string{"9"}, wantStdout: "dying\n", wantExit: 128 + 9},

	{name: "args", prog: "args", golden: "args",
		args: []string{"one", "two words", "", "--env", "HOME", "--env", "PATH",
			"--env", "LB_VAR", "--env", "LB_EMPTY", "--env", "USER", "--env", hostOnlyVar, "last"},
		env: []string{"LB_VAR=x y=z", "LB_EMPTY="}},
	{name: "args-none", prog: "args", golden: "args-none"},
	// -e overrides the default HOME and PATH.
	{name: "args-override", prog: "args", golden: "args-override",
		args: []string{"--env", "HOME", "--env", "PATH"},
		env:  []string{"HOME=/home/guest", "PATH=/bin"}},

	// Natively in a fresh host directory; in the guest in the in-memory /tmp.
	{name: "files-tmp", prog: "files", golden: "files",
		setup: func(t *testing.T) ([]string, []string, []string) {
			return []string{t.TempDir()}, nil, nil
		}},

	{name: "listdir-mount", prog: "listdir",
		setup: func(t *testing.T) ([]string, []string, []string) {
			dir := listdirFixture(t)
			return []string{dir}, []string{"/data"}, []string{dir + ":/data"}
		},
		wantStdout: ".\n..\n.hidden\na.txt\nb.txt\nlink\nsub\n"},
	{name: "listdir-missing", prog: "listdir", args: []string{"/nonexistent-litebox"},
		wantStdout: "opendir: ENOENT\n", wantExit: 1},

	{name: "errno", prog: "errno", golden: "errno"},
}

// listdirFixture creates a host directory with a known set of entries.
func listdirFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"b.txt", "a.txt", ".hidden"} {
		writeFile(t, filepath.Join(dir, name), name+"\n")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectedStdout returns the exact stdout tc must produce.
func (tc progCase) expectedStdout(t *testing.T) []byte {
	t.Helper()
	if tc.golden == "" {
		return []byte(tc.wantStdout)
	}
	b, err := os.ReadFile(goldenPath(tc.golden))
	if err != nil {
		t.Fatalf("reading golden file (run `go test ./tests -run TestPrograms -update` to create it): %v", err)
	}
	return b
}

func goldenPath(name string) string {
	return filepath.Join(moduleRoot, "testdata", "golden", name+".out")
}

// TestPrograms runs every testdata program, linked as static and as
// static-pie, natively and under litebox, and requires both runs to produce
// exactly the expected stdout, empty stderr and the expected exit code.
func TestPrograms(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range programCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					bin := program(t, tc.prog, v)
					nativeArgs, guestArgs, mounts := tc.args, tc.args, []string(nil)
					if tc.setup != nil {
						nativeArgs, guestArgs, mounts = tc.setup(t)
					}

					if *update && tc.golden != "" && v == staticVariant {
						res := runNative(t, "", tc.env, nil, append([]string{bin}, nativeArgs...)...)
						if err := os.WriteFile(goldenPath(tc.golden), res.Stdout, 0o644); err != nil {
							t.Fatal(err)
						}
					}
					want := harness.Result{ExitCode: tc.wantExit, Stdout: tc.expectedStdout(t)}

					t.Run("native", func(t *testing.T) {
						got := runNative(t, "", tc.env, nil, append([]string{bin}, nativeArgs...)...)
						checkResult(t, got, want, true)
					})
					t.Run("litebox", func(t *testing.T) {
						g := harness.Guest{Mounts: append([]string{workMount(v)}, mounts...), Env: tc.env}
						got := runGuest(t, g, nil, "/work/"+tc.prog, guestArgs...)
						checkExitedNormally(t, got)
						checkResult(t, got, want, true)
					})
				})
			}
		})
	}
}

package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// bbData is the content of f.txt in the busybox fixture directory.
const bbData = "alpha beta\ngamma\ndelta epsilon zeta\n"

// bigInput returns 1 MiB of deterministic pseudo-random bytes: large enough
// that stdin and file reads need many read calls, and a checksum over it
// catches any lost or reordered chunk.
func bigInput() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha256Line(data []byte, name string) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]) + "  " + name + "\n"
}

// busyboxFixture creates the host directory mounted at /data.
func busyboxFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f.txt"), bbData)
	writeFile(t, filepath.Join(dir, "big.bin"), string(bigInput()))
	return dir
}

// bbCase is one busybox invocation. "@DATA@" in args stands for the fixture
// directory: its host path natively, /data in the guest.
type bbCase struct {
	name  string
	args  []string
	env   []string
	stdin []byte
	// inData runs the command with the fixture directory as working
	// directory (natively) and --cwd /data (guest), so that file names in
	// the output are identical.
	inData bool
	// sortLines compares stdout as a sorted set of lines, for output whose
	// order the contract does not fix (the environment).
	sortLines bool

	wantExit   int
	wantStdout *string // exact stdout; nil means "same as native"
	// compareStderr is set where busybox's stderr is deterministic.
	compareStderr bool
}

func ptr(s string) *string { return &s }

var busyboxCases = []bbCase{
	{name: "echo", args: []string{"echo", "hello", "world"}, wantStdout: ptr("hello world\n"), compareStderr: true},
	{name: "cat-file", args: []string{"cat", "@DATA@/f.txt"}, wantStdout: ptr(bbData), compareStderr: true},
	{name: "cat-stdin", args: []string{"cat"}, stdin: []byte("line1\nline2\n"), wantStdout: ptr("line1\nline2\n"), compareStderr: true},
	{name: "sha256sum-stdin", args: []string{"sha256sum"}, stdin: bigInput(),
		wantStdout: ptr(sha256Line(bigInput(), "-")), compareStderr: true},
	{name: "sha256sum-file", args: []string{"sha256sum", "big.bin", "f.txt"}, inData: true,
		wantStdout: ptr(sha256Line(bigInput(), "big.bin") + sha256Line([]byte(bbData), "f.txt")), compareStderr: true},
	{name: "wc-file", args: []string{"wc", "f.txt"}, inData: true, compareStderr: true},
	{name: "wc-stdin", args: []string{"wc", "-c"}, stdin: bigInput(), wantStdout: ptr("1048576\n"), compareStderr: true},
	{name: "ls-1-usr", args: []string{"ls", "-1", "/usr"}, compareStderr: true},
	{name: "seq", args: []string{"seq", "1", "20000"}, compareStderr: true},
	{name: "head-dev-zero", args: []string{"head", "-c", "4096", "/dev/zero"},
		wantStdout: ptr(string(make([]byte, 4096))), compareStderr: true},
	{name: "cat-dev-null", args: []string{"cat", "/dev/null"}, wantStdout: ptr(""), compareStderr: true},
	{name: "cat-missing", args: []string{"cat", "missing.txt"}, inData: true, wantExit: 1,
		wantStdout: ptr(""), compareStderr: true},
	{name: "false", args: []string{"false"}, wantExit: 1, wantStdout: ptr("")},
	{name: "sh-exit", args: []string{"sh", "-c", "exit 7"}, wantExit: 7, wantStdout: ptr("")},
	{name: "env", args: []string{"env"}, env: []string{"FOO=bar baz"}, sortLines: true,
		wantStdout: ptr("FOO=bar baz\nHOME=/tmp\nPATH=/usr/local/bin:/usr/bin:/bin\n"), compareStderr: true},
}

// TestBusybox runs busybox-static applets natively and under litebox. The
// native subtest checks the exact expectation where one is given (and the
// exit code); the litebox subtest requires exactly the native stdout, exit
// code and, where deterministic, stderr.
func TestBusybox(t *testing.T) {
	needBusybox(t)
	for _, tc := range busyboxCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := busyboxFixture(t)
			subst := func(dir string) []string {
				out := make([]string, len(tc.args))
				for i, a := range tc.args {
					out[i] = strings.ReplaceAll(a, "@DATA@", dir)
				}
				return out
			}
			normalize := func(b []byte) []byte {
				if !tc.sortLines {
					return b
				}
				return []byte(strings.Join(harness.SortedLines(b), "\n") + "\n")
			}

			nativeDir := ""
			g := harness.Guest{Mounts: []string{data + ":/data"}, Env: tc.env}
			if tc.inData {
				nativeDir = data
				g.Cwd = "/data"
			}
			native := runNative(t, nativeDir, tc.env, tc.stdin, append([]string{busyboxPath}, subst(data)...)...)
			native.Stdout = normalize(native.Stdout)

			t.Run("native", func(t *testing.T) {
				if native.ExitCode != tc.wantExit {
					t.Errorf("exit code = %d, want %d\n%s", native.ExitCode, tc.wantExit, native)
				}
				if tc.wantStdout != nil && string(native.Stdout) != *tc.wantStdout {
					t.Errorf("stdout differs\n%s", lineDiff([]byte(*tc.wantStdout), native.Stdout))
				}
			})
			t.Run("litebox", func(t *testing.T) {
				got := runGuest(t, g, tc.stdin, busyboxPath, subst("/data")...)
				got.Stdout = normalize(got.Stdout)
				checkExitedNormally(t, got)
				checkResult(t, got, native, tc.compareStderr)
			})
		})
	}
}

// TestBusyboxLsLong checks `ls -l /usr` in the guest: it must succeed and
// list exactly the names native `ls -1 /usr` lists. Owners, sizes and times
// are not compared because the guest's view of them is litebox's choice.
func TestBusyboxLsLong(t *testing.T) {
	needBusybox(t)
	native := runNative(t, "", nil, nil, busyboxPath, "ls", "-1", "/usr")
	want := strings.Fields(string(native.Stdout))

	// stderr is compared with the native run: ls -l reads /etc/passwd,
	// and a host whose passwd file busybox cannot parse warns in both.
	nativeLong := runNative(t, "", nil, nil, busyboxPath, "ls", "-l", "/usr")
	got := runGuest(t, harness.Guest{}, nil, busyboxPath, "ls", "-l", "/usr")
	if got.ExitCode != 0 || string(got.Stderr) != string(nativeLong.Stderr) {
		t.Fatalf("ls -l /usr failed (native stderr %q):\n%s", nativeLong.Stderr, got)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(got.Stdout)), "\n") {
		if strings.HasPrefix(line, "total ") {
			continue
		}
		// mode links owner group size month day time|year name [-> target]
		f := strings.Fields(line)
		if len(f) < 9 {
			t.Fatalf("unexpected ls -l line %q", line)
		}
		names = append(names, f[8])
	}
	if !slices.Equal(names, want) {
		t.Errorf("ls -l /usr names = %q, want %q", names, want)
	}
}

// TestBusyboxUname checks that uname works in the guest. The answer is
// litebox's own, so it is not compared with the host; only facts that any
// x86-64 Linux answer must have are checked.
func TestBusyboxUname(t *testing.T) {
	needBusybox(t)
	cases := []struct {
		args       []string
		wantStdout string // exact, unless wantPrefix
		wantPrefix bool
	}{
		{args: []string{"uname", "-s"}, wantStdout: "Linux\n"},
		{args: []string{"uname", "-m"}, wantStdout: "x86_64\n"},
		{args: []string{"uname", "-a"}, wantStdout: "Linux ", wantPrefix: true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			got := runGuest(t, harness.Guest{}, nil, busyboxPath, tc.args...)
			if got.ExitCode != 0 || len(got.Stderr) != 0 {
				t.Fatalf("%q failed:\n%s", tc.args, got)
			}
			ok := string(got.Stdout) == tc.wantStdout
			if tc.wantPrefix {
				ok = bytes.HasPrefix(got.Stdout, []byte(tc.wantStdout)) && bytes.HasSuffix(got.Stdout, []byte("\n"))
			}
			if !ok {
				t.Errorf("stdout = %q, want %q (prefix: %v)", got.Stdout, tc.wantStdout, tc.wantPrefix)
			}
		})
	}
}

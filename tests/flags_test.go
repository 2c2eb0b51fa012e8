package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestLogFlag checks --log: the guest behaves exactly as without it (same
// stdout and exit code; unknown syscalls still fail with ENOSYS), and the
// unsupported syscall errno.c issues (number 100000, which has no name) is
// reported on stderr. Without --log, stderr stays empty (TestPrograms).
func TestLogFlag(t *testing.T) {
	program(t, "errno", staticVariant)
	want, err := os.ReadFile(goldenPath("errno"))
	if err != nil {
		t.Fatal(err)
	}
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--log"}}
	got := runGuest(t, g, nil, "/work/errno")
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: want}, false)
	if !bytes.Contains(got.Stderr, []byte("100000")) {
		t.Errorf("--log stderr does not mention unsupported syscall 100000:\n%s", got.Stderr)
	}
}

// TestAuditFlag checks --audit FILE: the run is unaffected, and FILE is
// created on the host as JSON lines (every line one JSON object), also when
// the guest is denied access to something.
func TestAuditFlag(t *testing.T) {
	program(t, "hello", staticVariant)
	program(t, "writefile", staticVariant)
	cases := []struct {
		name string
		args []string
		want harness.Result
		// event must appear with these fields (beyond start and exit).
		event map[string]any
	}{
		{"hello", []string{"/work/hello"}, harness.Result{Stdout: []byte("hello, world\n")}, nil},
		{"denied-write", []string{"/work/writefile", "/etc/passwd", "x"},
			harness.Result{ExitCode: 1, Stdout: []byte("open: EROFS\n")},
			map[string]any{"msg": "denied", "syscall": "openat", "errno": "EROFS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
			g := harness.Guest{
				Mounts: []string{workMount(staticVariant)},
				Flags:  []string{"--audit", auditFile},
			}
			got := runGuest(t, g, nil, tc.args[0], tc.args[1:]...)
			checkResult(t, got, tc.want, true)

			data, err := os.ReadFile(auditFile)
			if err != nil {
				t.Fatalf("audit file: %v", err)
			}
			if !bytes.HasSuffix(data, []byte("\n")) {
				t.Fatalf("audit file does not end with a newline: %q", data)
			}
			var events []map[string]any
			for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				var obj map[string]any
				if err := json.Unmarshal([]byte(line), &obj); err != nil {
					t.Fatalf("audit line %d is not a JSON object: %v\n%s", i+1, err, line)
				}
				events = append(events, obj)
			}
			has := func(want map[string]any) bool {
				for _, ev := range events {
					ok := true
					for k, v := range want {
						if ev[k] != v {
							ok = false
						}
					}
					if ok {
						return true
					}
				}
				return false
			}
			if !has(map[string]any{"msg": "sandbox_start", "pid": float64(1)}) {
				t.Errorf("no sandbox_start event for pid 1:\n%s", data)
			}
			exit := events[len(events)-1]
			wantStatus := float64(tc.want.ExitCode << 8)
			if exit["msg"] != "sandbox_exit" || exit["wait_status"] != wantStatus {
				t.Errorf("last event %v, want sandbox_exit with wait_status %v", exit, wantStatus)
			}
			for _, k := range []string{"wall", "cpu", "peak_mapped_bytes"} {
				if v, ok := exit[k].(float64); !ok || v <= 0 {
					t.Errorf("sandbox_exit %s = %v, want a positive resource figure", k, exit[k])
				}
			}
			if tc.event != nil && !has(tc.event) {
				t.Errorf("no event %v in:\n%s", tc.event, data)
			}
		})
	}
}

// TestPlatformFlag checks that the explicit --platform ptrace (the default)
// runs guests normally.
func TestPlatformFlag(t *testing.T) {
	program(t, "hello", staticVariant)
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--platform", "ptrace"}}
	got := runGuest(t, g, nil, "/work/hello")
	checkResult(t, got, harness.Result{Stdout: []byte("hello, world\n")}, true)
}

// TestStdio checks that the guest's stdin, stdout and stderr are litebox's
// own: data flows both ways unchanged, stdout and stderr stay separate, and
// a guest that does not read stdin does not block on it.
func TestStdio(t *testing.T) {
	needBusybox(t)
	input := bigInput()
	cases := []struct {
		name  string
		args  []string
		stdin []byte
		want  harness.Result
	}{
		{"cat-binary-stdin", []string{"cat"}, input, harness.Result{Stdout: input}},
		{"stderr-separate", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, nil,
			harness.Result{ExitCode: 3, Stdout: []byte("out\n"), Stderr: []byte("err\n")}},
		{"stdin-eof", []string{"cat"}, []byte{}, harness.Result{}},
		{"stdin-unread", []string{"echo", "done"}, input, harness.Result{Stdout: []byte("done\n")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := runGuest(t, harness.Guest{}, tc.stdin, busyboxPath, tc.args...)
			checkResult(t, got, tc.want, true)
		})
	}
}

// TestTimeLimits checks that a wall-clock or CPU-time limit ends the guest
// with the Linux status (SIGKILL, SIGXCPU) and one line saying which limit.
func TestTimeLimits(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		skipOrFail(t, "python3 is needed: %v", err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		line   string
	}{
		{"timeout", []string{"--timeout", "1s", "--", "/bin/sleep", "30"}, 128 + 9,
			"litebox: wall-clock limit (--timeout 1s) reached: the sandbox was killed\n"},
		{"cpu-time", []string{"--cpu-time", "300ms", "--", "/usr/bin/python3", "-c", "while True: pass"}, 128 + 24,
			"litebox: CPU-time limit (--cpu-time 300ms) reached: SIGXCPU sent\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := runLitebox(t, nil, append([]string{"run"}, tc.args...)...)
			checkNoPanic(t, got)
			checkResult(t, got, harness.Result{ExitCode: tc.status, Stderr: []byte(tc.line)}, true)
		})
	}
}

package tests

// Limit tests: what a guest can make litebox itself hold or spend (kernel
// objects, file-system metadata, lock records) is charged to a limit, the
// guest gets the errno Linux gives, and litebox stays within a bound on the
// host. Guest programs: testdata/escape_{truncate,tmpfs,pipes,locks}.c.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestEscapeTruncateFileSize: under --fsize 1M, growing a file with
// ftruncate or truncate past 1 MiB (to 1 TiB, and to 1 MiB + 1) raises
// SIGXFSZ and fails with EFBIG exactly as natively under RLIMIT_FSIZE
// (same program, same output, same signal count, same death by SIGXFSZ
// when it is not handled), in /tmp and in a :rw host mount, and the host
// file never grows beyond the limit.
func TestEscapeTruncateFileSize(t *testing.T) {
	prog := program(t, "escape_truncate", staticVariant)
	const limit = "1048576"
	for _, where := range []string{"tmp", "host-mount"} {
		for _, mode := range []string{"count-xfsz", "ignore-xfsz", "default"} {
			t.Run(where+"/"+mode, func(t *testing.T) {
				t.Parallel()
				args := []string{limit}
				if mode != "default" {
					args = append(args, mode)
				}
				nativeDir := t.TempDir()
				want := runNative(t, nativeDir, nil, nil, append([]string{prog, filepath.Join(nativeDir, "f")}, args...)...)
				if mode == "default" && (!want.Signaled || want.ExitCode != 128+25) {
					t.Fatalf("native run was not killed by SIGXFSZ:\n%s", want)
				}
				want.Signaled = false
				dir := t.TempDir()
				g, audit := escapeGuest(t, "--fsize", "1M")
				g.Mounts = append(g.Mounts, dir+":/data:rw")
				path := "/tmp/f"
				if where == "host-mount" {
					path = "/data/f"
				}
				got := runGuest(t, g, nil, "/work/escape_truncate", append([]string{path}, args...)...)
				checkExitedNormally(t, got)
				checkResult(t, got, want, true)
				checkAuditLimit(t, audit, "fsize")
				if where != "host-mount" {
					checkHostDir(t, dir, map[string]string{})
					return
				}
				st, err := os.Stat(filepath.Join(dir, "f"))
				if err != nil {
					t.Fatalf("host file: %v", err)
				}
				// The program ends by truncating to 0 (or dies at the first
				// growth): the file is empty and never took blocks.
				if st.Size() != 0 {
					t.Errorf("host file has %d bytes, want 0", st.Size())
				}
			})
		}
	}
}

// lines splits output into lines without the final newline.
func lines(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

var _ = harness.Result{}

package tests

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// badProgramsFixture creates a host directory (mounted at /bad) holding
// files that exist but are not runnable x86-64 ELF executables. All are
// mode 0755, so the only reason they cannot run is their content.
func badProgramsFixture(t *testing.T) string {
	t.Helper()
	hello, err := os.ReadFile(program(t, "hello", staticVariant))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	put := func(name string, content []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	patched := func(patch func(b []byte)) []byte {
		b := append([]byte(nil), hello...)
		patch(b)
		return b
	}
	put("text", []byte("just text, not a program\n"))
	put("empty", nil)
	// A valid ELF header whose program headers are cut off.
	put("truncated", hello[:100])
	// e_machine (offset 18) = EM_AARCH64: a well-formed ELF for another CPU.
	put("aarch64", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[18:], 183) }))
	// e_ident[EI_CLASS] = ELFCLASS32 and e_machine = EM_386: a 32-bit header.
	put("elf32", patched(func(b []byte) {
		b[4] = 1
		binary.LittleEndian.PutUint16(b[18:], 3)
	}))
	// A core file type (e_type = ET_CORE) is an ELF, but not an executable.
	put("core", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[16:], 4) }))
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCannotExecute checks exit status 126 and the one-line "litebox: "
// message for programs that exist but cannot be executed. The native
// subtest confirms that Linux itself refuses each file, so the fixtures
// really are broken in the intended way.
func TestCannotExecute(t *testing.T) {
	dir := badProgramsFixture(t)
	cases := []struct {
		name        string
		nativeErrno syscall.Errno
	}{
		{"text", syscall.ENOEXEC},
		{"empty", syscall.ENOEXEC},
		{"truncated", syscall.ENOEXEC},
		{"aarch64", syscall.ENOEXEC},
		{"elf32", syscall.ENOEXEC},
		{"core", syscall.ENOEXEC},
		{"dir", syscall.EACCES},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("native", func(t *testing.T) {
				res := harness.Run(harness.Cmd{Argv: []string{filepath.Join(dir, tc.name)}, Dir: t.TempDir()})
				if !errors.Is(res.Err, tc.nativeErrno) {
					t.Errorf("native exec error = %v, want %v", res.Err, tc.nativeErrno)
				}
			})
			t.Run("litebox", func(t *testing.T) {
				got := runGuest(t, harness.Guest{Mounts: []string{dir + ":/bad"}}, nil, "/bad/"+tc.name)
				checkOneLineError(t, got, 126)
			})
		})
	}
}

// TestLauncherErrors checks litebox's own failures: the exit code of the
// contract (127 program not found, 125 usage or configuration error) and
// exactly one "litebox: " line on stderr, never a Go panic.
func TestLauncherErrors(t *testing.T) {
	okDir := t.TempDir()
	notDir := filepath.Join(okDir, "file")
	writeFile(t, notDir, "x\n")
	cases := []struct {
		name string
		args []string
		want int
		line string // the exact error line, where the test pins it
	}{
		{"missing-absolute", []string{"run", "--", "/nonexistent/prog"}, 127, ""},
		{"missing-in-mount", []string{"run", "--mount", okDir + ":/data", "--", "/data/missing"}, 127, ""},
		{"missing-dir-component", []string{"run", "--", "/usr/nonexistent-dir/prog"}, 127, ""},
		{"missing-cwd", []string{"run", "--cwd", "/nonexistent-dir", "--", "/bin/true"}, 127,
			"litebox: /nonexistent-dir: cannot be the working directory: no such file or directory\n"},
		{"cwd-not-dir", []string{"run", "--cwd", "/etc/passwd", "--", "/bin/true"}, 127,
			"litebox: /etc/passwd: cannot be the working directory: not a directory\n"},

		{"mount-missing-host-dir", []string{"run", "--mount", "/nonexistent:/x", "--", "/bin/true"}, 125, ""},
		{"mount-host-not-dir", []string{"run", "--mount", notDir + ":/x", "--", "/bin/true"}, 125, ""},
		{"mount-no-guest-dir", []string{"run", "--mount", okDir, "--", "/bin/true"}, 125, ""},
		{"mount-empty-host-dir", []string{"run", "--mount", ":/x", "--", "/bin/true"}, 125, ""},
		{"mount-empty-guest-dir", []string{"run", "--mount", okDir + ":", "--", "/bin/true"}, 125, ""},
		{"mount-relative-guest-dir", []string{"run", "--mount", okDir + ":x", "--", "/bin/true"}, 125, ""},
		{"mount-bad-mode", []string{"run", "--mount", okDir + ":/x:rx", "--", "/bin/true"}, 125, ""},
		{"mount-too-many-fields", []string{"run", "--mount", okDir + ":/x:ro:rw", "--", "/bin/true"}, 125, ""},

		{"unknown-flag", []string{"run", "--no-such-flag", "--", "/bin/true"}, 125, ""},
		{"flag-missing-value", []string{"run", "--mount"}, 125, ""},
		{"no-program", []string{"run"}, 125, ""},
		{"no-program-after-dashes", []string{"run", "--"}, 125, ""},
		{"unknown-platform", []string{"run", "--platform", "nosuch", "--", "/bin/true"}, 125, ""},
		{"unknown-subcommand", []string{"frobnicate"}, 125, ""},
		{"audit-unwritable", []string{"run", "--audit", "/nonexistent-dir/audit.jsonl", "--", "/bin/true"}, 125, ""},
		{"user-name", []string{"run", "--user", "root", "--", "/bin/true"}, 125, ""},
		{"user-minus-one", []string{"run", "--user", "4294967295", "--", "/bin/true"}, 125, ""},
		{"user-negative", []string{"run", "--user", "-1", "--", "/bin/true"}, 125, ""},
		{"user-empty-gid", []string{"run", "--user", "1000:", "--", "/bin/true"}, 125, ""},
		{"user-too-many-fields", []string{"run", "--user", "1:2:3", "--", "/bin/true"}, 125, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := runLitebox(t, nil, tc.args...)
			checkOneLineError(t, got, tc.want)
			if tc.line != "" && string(got.Stderr) != tc.line {
				t.Errorf("stderr = %q, want %q", got.Stderr, tc.line)
			}
		})
	}
}

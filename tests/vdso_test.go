package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestVDSO runs testdata/vdso.c natively and under litebox: it finds the
// vDSO from AT_SYSINFO_EHDR, resolves its LINUX_2.6 symbols from the
// dynamic section, compares every clock it answers with the syscall's
// (interleaved: syscall <= vDSO <= syscall), checks the fallbacks' errors
// and /proc/self/maps ([vdso] at the auxv's address, a [vvar]), in the
// process, a forked child and an execve'd image. The outputs must match.
func TestVDSO(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "vdso", v)
			native := runNative(t, "", nil, nil, bin)
			if native.ExitCode != 0 {
				t.Fatalf("native run failed:\n%s", native)
			}
			got := runGuest(t, harness.Guest{Mounts: []string{workMount(v)}}, nil, "/work/vdso")
			checkExitedNormally(t, got)
			checkResult(t, got, native, true)
		})
	}
}

// TestVDSOClockDoesNotTrap runs 10000 calls of the C library's
// clock_gettime(CLOCK_MONOTONIC) with litebox's syscall trace: none of
// them may reach litebox's kernel (the vDSO answers), and the clock never
// goes back.
func TestVDSOClockDoesNotTrap(t *testing.T) {
	program(t, "vdso", staticVariant)
	trace := filepath.Join(t.TempDir(), "trace")
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--trace-syscalls", trace}}
	got := runLitebox(t, nil, g.Argv(litebox(t), "/work/vdso", "loop", "10000")[1:]...)
	checkExitedNormally(t, got)
	if got.ExitCode != 0 || string(got.Stdout) != "10000 calls, 0 went back\n" {
		t.Fatalf("exit %d, want 0 and \"10000 calls, 0 went back\":\n%s", got.ExitCode, got)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	used := strings.Fields(string(data))
	if len(used) == 0 {
		t.Fatal("empty syscall trace")
	}
	if slices.Contains(used, "clock_gettime") {
		t.Errorf("clock_gettime trapped into litebox's kernel; syscalls used: %v", used)
	}
}

// TestVDSOLdd compares `ldd /bin/ls` in the guest with the host's: the
// same objects, a linux-vdso.so.1 line among them.
func TestVDSOLdd(t *testing.T) {
	const ls = "/bin/ls"
	native := runNative(t, "", nil, nil, "/usr/bin/ldd", ls)
	if native.ExitCode != 0 {
		t.Skipf("native ldd failed:\n%s", native)
	}
	got := runGuest(t, harness.Guest{}, nil, "/usr/bin/ldd", ls)
	checkExitedNormally(t, got)
	if got.ExitCode != 0 {
		t.Fatalf("ldd in the guest: exit %d\n%s", got.ExitCode, got)
	}
	want, have := lddObjects(t, native.Stdout), lddObjects(t, got.Stdout)
	if !slices.Equal(want, have) {
		t.Errorf("guest's ldd lists %q, the host's %q\n%s", have, want, got.Stdout)
	}
	if !slices.Contains(have, "linux-vdso.so.1") {
		t.Errorf("no linux-vdso.so.1 line:\n%s", got.Stdout)
	}
}

// lddLine is one line of ldd's output: NAME [=> PATH] (0xADDRESS).
var lddLine = regexp.MustCompile(`^\t(\S+)( => \S+)? \(0x[0-9a-f]+\)$`)

// lddObjects returns the names and paths ldd printed, without addresses
// (which differ from run to run), in order.
func lddObjects(t *testing.T, out []byte) []string {
	t.Helper()
	var objs []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		m := lddLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unexpected ldd line %q", l)
		}
		objs = append(objs, m[1]+m[2])
	}
	return objs
}

var vdsoSiteLine = regexp.MustCompile(`^site \+0x[0-9a-f]+ (\w+): vdso (-?\d+), syscall (-?\d+)$`)

// TestEscapeVDSO runs testdata/escape_vdso.c: the guest calls each
// `syscall` instruction of the vDSO (its fallbacks) with an attack's
// registers. Every call must come back with what the same syscall gets
// from the guest's own code (litebox's answer: the stub page stays
// r-x, fd 6 is not the stub's socket, getpid is the guest's pid), and the
// unimplemented add_key must reach litebox's kernel each time (the audit
// log counts it), so nothing went to the host.
func TestEscapeVDSO(t *testing.T) {
	program(t, "escape_vdso", staticVariant)
	g, audit := escapeGuest(t)
	got := runGuest(t, g, nil, "/work/escape_vdso")
	checkExitedNormally(t, got)
	if got.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0:\n%s", got.ExitCode, got)
	}
	lines := strings.Split(strings.TrimSuffix(string(got.Stdout), "\n"), "\n")
	var sites int
	if _, err := fmt.Sscanf(lines[len(lines)-1], "sites: %d", &sites); err != nil || sites < 5 {
		t.Fatalf("last line %q: want \"sites: N\" with N >= 5 (one fallback per entry)\n%s", lines[len(lines)-1], got.Stdout)
	}
	want := map[string]string{"mprotect": "-12", "write": "-9", "getpid": "1", "add_key": "-38"}
	calls := 0
	for _, l := range lines[:len(lines)-1] {
		m := vdsoSiteLine.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("unexpected line %q", l)
			continue
		}
		calls++
		if m[2] != m[3] || m[2] != want[m[1]] {
			t.Errorf("%s: want %s from both paths (litebox's ENOMEM, EBADF, pid 1, ENOSYS)", l, want[m[1]])
		}
	}
	if calls != 4*sites {
		t.Errorf("%d attack lines for %d sites, want %d", calls, sites, 4*sites)
	}
	var served int64
	for _, ev := range readAudit(t, audit) {
		if ev["msg"] == "unsupported_syscall" && ev["syscall"] == "add_key" {
			served += auditCount(t, ev)
		}
	}
	if served != int64(2*sites) {
		t.Errorf("litebox's kernel saw add_key %d times, want %d (each site's and each syscall(2)'s)", served, 2*sites)
	}
}

// TestVDSOGetcpu runs testdata/getcpu.c natively and under litebox: every
// sched_getcpu and getcpu answer is a CPU of the thread's mask below
// sysconf(_SC_NPROCESSORS_ONLN) on node 0, NULL pointers are allowed, a
// thread pinned to one CPU is told that CPU, and RDTSCP/RDPID run
// unprivileged (what makes the vDSO's host CPU number no news to the
// guest, docs/SECURITY.md). The outputs must match.
func TestVDSOGetcpu(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "getcpu", v)
			native := runNative(t, "", nil, nil, bin)
			if native.ExitCode != 0 {
				t.Fatalf("native run failed:\n%s", native)
			}
			got := runGuest(t, harness.Guest{Mounts: []string{workMount(v)}}, nil, "/work/getcpu")
			checkExitedNormally(t, got)
			checkResult(t, got, native, true)
		})
	}
}

// TestVDSOGetcpuDoesNotTrap runs testdata/getcpu.c's loops with litebox's
// syscall trace: 1000 calls each of sched_getcpu and getcpu with the
// default affinity make no getcpu syscall (the vDSO answers from the host
// CPU), while after sched_setaffinity to one CPU they do (the kernel
// answers from the mask) and every answer is the pinned CPU. The outputs
// match the native runs'.
func TestVDSOGetcpuDoesNotTrap(t *testing.T) {
	bin := program(t, "getcpu", staticVariant)
	for _, tc := range []struct {
		mode      string
		wantTrap  bool
		wantState string
	}{
		{"loop", false, "the vDSO answers"},
		{"pinloop", true, "the kernel answers for a pinned thread"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			native := runNative(t, "", nil, nil, bin, tc.mode, "1000")
			if native.ExitCode != 0 {
				t.Fatalf("native run failed:\n%s", native)
			}
			trace := filepath.Join(t.TempDir(), "trace")
			g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--trace-syscalls", trace}}
			got := runLitebox(t, nil, g.Argv(litebox(t), "/work/getcpu", tc.mode, "1000")[1:]...)
			checkExitedNormally(t, got)
			checkResult(t, got, native, true)
			data, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			used := strings.Fields(string(data))
			if len(used) == 0 {
				t.Fatal("empty syscall trace")
			}
			if trapped := slices.Contains(used, "getcpu"); trapped != tc.wantTrap {
				t.Errorf("getcpu trapped into litebox's kernel: %v, want %v (%s); syscalls used: %v",
					trapped, tc.wantTrap, tc.wantState, used)
			}
		})
	}
}

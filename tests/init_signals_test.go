package tests

import (
	"os/exec"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestInitSignals runs testdata/init_signals.c as pid 1: natively in a
// pid namespace of its own (unshare -pf, as uid 1000), and as the first
// process of an OCI bundle in litebox (uid 1000), a container's init.
// Linux's init drops the signals of its own namespace it has no handler
// for (kill, tgkill, sigqueue, pidfd_send_signal, its group's, its own,
// SIGKILL and SIGSTOP included; a pipe's SIGPIPE, RLIMIT_FSIZE's SIGXFSZ,
// a timer's SIGALRM, a terminal's ^C, ^\ and hangup), runs its handlers,
// and still dies of a fault (mode fault, and abort's fallback). Output
// and exit code must match the native run exactly.
func TestInitSignals(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("unshare"); err != nil {
		skipOrFail(t, "unshare (util-linux) is needed for the native run: %v", err)
	}
	built := program(t, "init_signals", staticVariant)
	prog, dir := unprivCopy(t, built, "init_signals")
	for _, tc := range []struct {
		mode     string
		wantExit int // of the native run: 128+SIGSEGV for the faults
	}{
		{"guest", 0},
		{"tty", 0},
		{"fault", 128 + 11},
		{"abort", 128 + 11},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			// init_signals refuses to run unless it is pid 1: kill(-1)
			// must never reach the host's processes.
			argv := append([]string{"unshare", "-pf", "--mount-proc"}, append(asUser, prog, tc.mode)...)
			want := runNative(t, dir, nil, nil, argv...)
			if want.ExitCode != tc.wantExit || len(want.Stdout) == 0 {
				t.Fatalf("native run: %s, want exit %d", want, tc.wantExit)
			}
			// The guest side is a container's first process (an OCI
			// bundle, Config.ContainerInit): litebox run's pid 1 is a
			// process like any other, as a program run natively is.
			s := withTmpfsTmp(runcDefault(t))
			s.Process.Args = []string{"/init_signals", tc.mode}
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Env = []string{"PATH=/"}
			bundle := ociBundle(t, s, map[string]string{"init_signals": prog})
			stdout, stderr, code := runBundle(t, bundle)
			if code != want.ExitCode || stdout != string(want.Stdout) {
				t.Errorf("guest differs from native: exit %d (native %d)\n%s\nstderr:\n%s", code, want.ExitCode, lineDiff(want.Stdout, []byte(stdout)), stderr)
			}
		})
	}
}

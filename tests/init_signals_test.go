package tests

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestInitSignals runs testdata/init_signals.c as pid 1: natively in a
// pid namespace of its own (unshare -pf, as the sandbox's default user),
// and as litebox's first guest process, whose pid space is its own too.
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
			g := harness.Guest{Mounts: []string{dir + ":/work"}}
			got := runGuest(t, g, nil, "/work/init_signals", tc.mode)
			checkNoPanic(t, got)
			if got.ExitCode != want.ExitCode || !bytes.Equal(got.Stdout, want.Stdout) {
				t.Errorf("guest differs from native\nguest: %s\n%s", got, lineDiff(want.Stdout, got.Stdout))
			}
		})
	}
}

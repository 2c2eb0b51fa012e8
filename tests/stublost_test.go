package tests

// TestStubLostAudited: a stub that the host kills behind the kernel's back
// (here: its own seccomp filter under systrap, when the guest jumps onto a
// syscall instruction of the stub's code page) ends the guest process with
// SIGKILL, as before, and now leaves a stub_lost audit event naming the
// process, so that such a death is never unexplained (issue 11: a JVM under
// ptrace died of a silent SIGKILL).

import (
	"strings"
	"testing"
)

func TestStubLostAudited(t *testing.T) {
	if !onSystrap() {
		t.Skip("under ptrace the stub page's syscalls are trapped like the guest's own: no stub dies")
	}
	program(t, "escape_stubpage", staticVariant)
	g, audit := escapeGuest(t, "--memory", "64M")
	got := runGuest(t, g, nil, "/work/escape_stubpage", "mprotect")
	checkExitedNormally(t, got)
	killed := strings.Count(string(got.Stdout), "killed by signal 9")
	if got.ExitCode != 0 || killed == 0 {
		t.Fatalf("want some attempts killed by SIGKILL and exit 0:\n%s", got)
	}
	lost := 0
	for _, ev := range readAudit(t, audit) {
		if ev["msg"] != "stub_lost" {
			continue
		}
		if _, ok := ev["pid"].(float64); !ok || ev["err"] == nil {
			t.Errorf("stub_lost event without pid or err: %v", ev)
		}
		n := 1
		if c, ok := ev["count"].(float64); ok {
			n = int(c)
		}
		lost += n
	}
	if lost != killed {
		t.Errorf("%d stub_lost audit events, want one per stub killed (%d)", lost, killed)
	}
}

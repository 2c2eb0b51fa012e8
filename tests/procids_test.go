package tests

import (
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestProcIDMapsAndOOM: /proc/self/uid_map, gid_map and setgroups are those
// of Linux's initial user namespace (litebox's kernel has no user
// namespaces: ids are unmapped), and oom_score_adj is 0 (no OOM killer
// picks among guest processes), as a process shows them natively; the
// OCI runtime-tools' runtimetest read them and stopped at their absence.
func TestProcIDMapsAndOOM(t *testing.T) {
	needBusybox(t)
	argv := []string{busyboxPath, "cat", "/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups", "/proc/self/oom_score_adj"}
	want := runNativeAsGuest(t, nil, argv...)
	if want.ExitCode != 0 {
		t.Fatalf("native: %s", want)
	}
	got := runGuest(t, harness.Guest{}, nil, argv[0], argv[1:]...)
	checkResult(t, got, want, false)
}

// TestProcSys: the sysctls /proc/sys has are litebox's own values: the
// sandbox's hostname (as uname shows it), no IP forwarding by its netstack
// (the host's may forward: never shown); they are read-only, and a sysctl
// litebox has none of is absent.
func TestProcSys(t *testing.T) {
	needBusybox(t)
	got := runGuest(t, harness.Guest{}, nil, busyboxPath, "sh", "-c",
		"cat /proc/sys/kernel/hostname; uname -n; cat /proc/sys/net/ipv4/ip_forward; "+
			"cat /proc/sys/vm/swappiness 2>/dev/null || echo none; echo 1 2>/dev/null > /proc/sys/net/ipv4/ip_forward || echo refused")
	lines := strings.Split(string(got.Stdout), "\n")
	if got.ExitCode != 0 || len(lines) != 6 || lines[0] != lines[1] || lines[0] == "" ||
		strings.Join(lines[2:], "\n") != "0\nnone\nrefused\n" {
		t.Errorf("exit %d, stdout %q, want the hostname twice, then 0, none, refused (stderr %q)", got.ExitCode, got.Stdout, got.Stderr)
	}
}

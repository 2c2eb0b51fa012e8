package tests

// Audit-log bounds: a guest provoking events as fast as it can must not make
// litebox write without bound (identical events are folded into one line
// with a count), and --audit-max-size caps the file exactly.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// auditCount is how many events an audit line stands for: 1, or its count.
func auditCount(t *testing.T, ev map[string]any) int64 {
	t.Helper()
	c, ok := ev["count"]
	if !ok {
		return 1
	}
	n, ok := c.(float64)
	if !ok || n < 1 || n != float64(int64(n)) {
		t.Fatalf("bad count in %v", ev)
	}
	return int64(n)
}

// TestAuditFloodIsCoalesced: 200,000 refused socket() calls under --audit.
// Before the log was bounded this wrote one line (two, with the shim's
// errno event) per call, over 40 MB; now every repeat within a window is
// folded into a count, the file stays a few KiB, and the counts add up to
// exactly the number of calls. The kernel's event has exactly its
// documented fields.
func TestAuditFloodIsCoalesced(t *testing.T) {
	program(t, "audit_flood", staticVariant)
	const n = 200000
	g, audit := escapeGuest(t)
	got := runGuest(t, g, nil, "/work/audit_flood", "socket", fmt.Sprint(n))
	checkResult(t, got, harness.Result{Stdout: []byte(fmt.Sprintf("socket: EACCES x %d\n", n))}, true)

	fi, err := os.Stat(audit)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("audit log: %d bytes for %d refused sockets", fi.Size(), n)
	if fi.Size() > 64<<10 {
		t.Errorf("audit log is %d bytes, want at most 64 KiB", fi.Size())
	}
	var socketEvents, errnoEvents, coalesced int64
	for _, ev := range readAudit(t, audit) {
		switch {
		case ev["msg"] == "audit_dropped":
			t.Errorf("events were dropped: %v", ev)
		case ev["msg"] == "denied" && ev["operation"] == "socket":
			// Exactly these fields, with these values.
			want := map[string]any{"msg": "denied", "level": "INFO", "operation": "socket",
				"domain": float64(17), "reason": "the sandbox has no network", "pid": float64(1)}
			for k, v := range want {
				if ev[k] != v {
					t.Errorf("socket event field %q = %v, want %v (event %v)", k, ev[k], v, ev)
				}
			}
			keys := slices.Sorted(maps.Keys(ev))
			wantKeys := []string{"domain", "level", "msg", "operation", "pid", "reason", "time"}
			if _, ok := ev["count"]; ok {
				wantKeys = []string{"count", "domain", "level", "msg", "operation", "pid", "reason", "time"}
				coalesced++
			}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("socket event has fields %v, want %v", keys, wantKeys)
			}
			socketEvents += auditCount(t, ev)
		case ev["msg"] == "denied" && ev["syscall"] == "socket":
			if ev["errno"] != "EACCES" {
				t.Errorf("errno event %v", ev)
			}
			errnoEvents += auditCount(t, ev)
		}
	}
	if socketEvents != n || errnoEvents != n {
		t.Errorf("the log stands for %d socket and %d errno events, want %d each", socketEvents, errnoEvents, n)
	}
	if coalesced == 0 {
		t.Error("no socket event carries a count")
	}
}

// TestAuditMaxSize: thousands of distinct events (nothing to fold) under
// --audit-max-size 8K: the file never holds more than 8192 bytes, bytes
// already in it included; the last line is the one audit_truncated event;
// the guest is unaffected.
func TestAuditMaxSize(t *testing.T) {
	program(t, "audit_flood", staticVariant)
	const limit = 8192
	for _, existing := range []int{0, 5000} {
		t.Run(fmt.Sprintf("existing%d", existing), func(t *testing.T) {
			g, audit := escapeGuest(t, "--audit-max-size", "8K")
			old := strings.Repeat(`{"msg":"earlier run"}`+"\n", existing/22)
			if err := os.WriteFile(audit, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			got := runGuest(t, g, nil, "/work/audit_flood", "distinct", "3000")
			checkResult(t, got, harness.Result{Stdout: []byte("enosys x 3000\n")}, true)
			data, err := os.ReadFile(audit)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("audit log: %d bytes", len(data))
			if len(data) > limit {
				t.Fatalf("audit log is %d bytes, over --audit-max-size %d", len(data), limit)
			}
			if !strings.HasPrefix(string(data), old) {
				t.Fatal("the earlier content of the file changed")
			}
			// It was filled: the cap, not something else, stopped it.
			if len(data) < limit-512 {
				t.Errorf("audit log is only %d bytes: stopped well before the cap", len(data))
			}
			evs := readAudit(t, audit)
			last := evs[len(evs)-1]
			if last["msg"] != "audit_truncated" || last["max_size"] != float64(limit) {
				t.Errorf("last line %v, want audit_truncated with max_size %d", last, limit)
			}
			var truncated, unsupported int
			for _, ev := range evs {
				switch ev["msg"] {
				case "audit_truncated":
					truncated++
				case "unsupported_syscall":
					unsupported++
				}
			}
			if truncated != 1 || unsupported == 0 {
				t.Errorf("%d audit_truncated, %d unsupported_syscall lines", truncated, unsupported)
			}
		})
	}
}

// An unusable --audit-max-size is a usage error.
func TestAuditMaxSizeFlag(t *testing.T) {
	dir := t.TempDir()
	res := runLitebox(t, nil, "run", "--audit", filepath.Join(dir, "a"), "--audit-max-size", "lots", "--", "/bin/true")
	checkOneLineError(t, res, 125)
}

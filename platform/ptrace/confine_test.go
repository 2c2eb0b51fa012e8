package ptrace

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestStubConfinement checks what a stub is allowed on the host: its own
// namespaces, no capabilities, no_new_privs, a seccomp filter, an empty
// root, and an unprivileged host user.
func TestStubConfinement(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := New()
	defer p.Close()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	pid := strconv.Itoa(as.(*stub).pid)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	want := map[string]string{
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	}
	if os.Getuid() == 0 {
		want["Uid"] = "65534 65534 65534 65534"
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("stub %s = %q, want %q", k, fields[k], v)
		}
	}
	if n := len(strings.Fields(fields["NSpid"])); n != 2 {
		t.Errorf("stub NSpid = %q, want a pid in a nested pid namespace", fields["NSpid"])
	}
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts"} {
		ours, err1 := os.Readlink("/proc/self/ns/" + ns)
		theirs, err2 := os.Readlink("/proc/" + pid + "/ns/" + ns)
		if err1 != nil || err2 != nil || ours == theirs {
			t.Errorf("%s namespace: ours %q (%v), stub's %q (%v); want different", ns, ours, err1, theirs, err2)
		}
	}
	entries, err := os.ReadDir("/proc/" + pid + "/root/")
	if err != nil {
		t.Fatalf("reading the stub's root: %v", err)
	}
	if len(entries) != 0 {
		t.Errorf("stub root holds %d entries, want an empty root", len(entries))
	}
}

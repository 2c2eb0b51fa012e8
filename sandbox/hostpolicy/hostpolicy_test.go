package hostpolicy

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	_ "github.com/litebox-go/litebox/platform/ptrace"
	"github.com/litebox-go/litebox/platform/seccomp"
	_ "github.com/litebox-go/litebox/platform/systrap"
)

// TestInstall runs itself in a child process (a filter cannot be removed),
// installs the allowlist there and checks that listed syscalls work and
// others fail with EPERM.
func TestInstall(t *testing.T) {
	if os.Getenv("HOSTPOLICY_CHILD") == "1" {
		if err := Install(); err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			name string
			err  func() error
			want error
		}{
			{"socket", func() error { _, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); return err }, unix.EPERM},
			{"execve", func() error { return unix.Exec("/bin/true", []string{"true"}, nil) }, unix.EPERM},
			{"mount", func() error { return unix.Mount("none", "/tmp", "tmpfs", 0, "") }, unix.EPERM},
			{"memfd_create", func() error { _, err := unix.MemfdCreate("x", 0); return err }, unix.EPERM},
			{"openat2 allowed", func() error {
				fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH})
				if err == nil {
					unix.Close(fd)
				}
				return err
			}, nil},
			{"getpid allowed", func() error { unix.Getpid(); return nil }, nil},
		}
		for _, c := range checks {
			if err := c.err(); err != c.want {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		status, _ := os.ReadFile("/proc/self/status")
		if !strings.Contains(string(status), "Seccomp:\t2") {
			t.Errorf("process not in seccomp filter mode:\n%s", status)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstall$", "-test.v")
	cmd.Env = append(os.Environ(), "HOSTPOLICY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestInstall") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestFilter runs the compiled allowlist on sample calls: listed numbers
// pass whatever their arguments, the rest (x32 included) get EPERM, other
// architectures die.
func TestFilter(t *testing.T) {
	f, err := filter()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := f.Compile()
	if err != nil {
		t.Fatal(err)
	}
	eperm := seccomp.Errno(unix.EPERM)
	for _, c := range []struct {
		name string
		d    seccomp.Data
		want seccomp.Action
	}{
		{"futex", seccomp.Data{Nr: unix.SYS_FUTEX, Arch: seccomp.AuditArchX86_64, Args: [6]uint64{1, 2, 3}}, seccomp.Allow},
		{"ptrace (platforms)", seccomp.Data{Nr: unix.SYS_PTRACE, Arch: seccomp.AuditArchX86_64}, seccomp.Allow},
		{"process_vm_writev (platforms)", seccomp.Data{Nr: unix.SYS_PROCESS_VM_WRITEV, Arch: seccomp.AuditArchX86_64}, seccomp.Allow},
		{"sysinfo (last)", seccomp.Data{Nr: unix.SYS_SYSINFO, Arch: seccomp.AuditArchX86_64}, seccomp.Allow},
		{"socket", seccomp.Data{Nr: unix.SYS_SOCKET, Arch: seccomp.AuditArchX86_64}, eperm},
		{"execve", seccomp.Data{Nr: unix.SYS_EXECVE, Arch: seccomp.AuditArchX86_64}, eperm},
		{"x32 read", seccomp.Data{Nr: 0x40000000 | unix.SYS_READ, Arch: seccomp.AuditArchX86_64}, eperm},
		{"i386 read", seccomp.Data{Nr: unix.SYS_READ, Arch: 0x40000003}, seccomp.KillProcess},
	} {
		if got, err := seccomp.Run(prog, c.d); err != nil || got != c.want {
			t.Errorf("%s: %#x, %v; want %#x", c.name, got, err, c.want)
		}
	}
}

// TestRulesIncludePlatforms: the allowlist is the base list plus every
// registered platform's host rules, each number once, with the reasons of
// all platforms that need it.
func TestRulesIncludePlatforms(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	byNr := map[uint32]seccomp.Rule{}
	for _, r := range rules {
		if _, dup := byNr[r.Nr]; dup {
			t.Errorf("syscall %d (%s) listed twice", r.Nr, r.Name)
		}
		byNr[r.Nr] = r
	}
	if len(platform.Registered()) < 2 {
		t.Fatalf("platforms registered: %v", platform.Names())
	}
	for _, p := range platform.Registered() {
		for _, hr := range p.HostRules {
			if r, ok := byNr[hr.Nr]; !ok || !strings.Contains(r.Why, hr.Why) || !strings.Contains(r.Why, p.Name) {
				t.Errorf("%s's %s missing from the allowlist (%+v)", p.Name, hr.Name, r)
			}
		}
	}
	for _, r := range base {
		if byNr[r.Nr].Why != r.Why {
			t.Errorf("base rule %s changed to %q", r.Name, byNr[r.Nr].Why)
		}
	}
}

func TestUnion(t *testing.T) {
	base := []seccomp.Rule{{Name: "read", Nr: 0, Why: "runtime"}}
	a := platform.Info{Name: "a", HostRules: []seccomp.Rule{{Name: "ptrace", Nr: 101, Why: "trace"}, {Name: "read", Nr: 0, Why: "completions"}}}
	b := platform.Info{Name: "b", HostRules: []seccomp.Rule{{Name: "ptrace", Nr: 101, Why: "inject"}, {Name: "ioctl", Nr: 16, Why: "kvm"}}}
	c := platform.Info{Name: "c", HostRules: []seccomp.Rule{{Name: "ptrace", Nr: 101, Why: "trace"}}}
	got, err := union(base, []platform.Info{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	want := []seccomp.Rule{
		{Name: "read", Nr: 0, Why: "runtime; a: completions"},
		{Name: "ptrace", Nr: 101, Why: "a, c: trace; b: inject"},
		{Name: "ioctl", Nr: 16, Why: "b: kvm"},
	}
	if len(got) != len(want) {
		t.Fatalf("union %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Nr != want[i].Nr || got[i].Why != want[i].Why {
			t.Errorf("rule %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Conditions that differ cannot be joined into one rule.
	d := platform.Info{Name: "d", HostRules: []seccomp.Rule{{Name: "ioctl", Nr: 16, Args: []seccomp.Cond{seccomp.ArgEq(1, 5)}}}}
	if _, err := union(base, []platform.Info{b, d}); err == nil {
		t.Fatal("rules with different argument conditions were merged")
	}
}

package hostpolicy

import (
	"net"
	"os"
	"os/exec"
	"slices"
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
	f, err := filter(Options{})
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
		{"socket", seccomp.Data{Nr: unix.SYS_SOCKET, Arch: seccomp.AuditArchX86_64, Args: [6]uint64{unix.AF_INET}}, eperm},
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

// netCalls are the socket syscalls hostnet may need.
var netCalls = []struct {
	name string
	nr   uint32
}{
	{"connect", unix.SYS_CONNECT}, {"bind", unix.SYS_BIND}, {"listen", unix.SYS_LISTEN},
	{"accept4", unix.SYS_ACCEPT4}, {"accept", unix.SYS_ACCEPT}, {"getsockopt", unix.SYS_GETSOCKOPT},
	{"setsockopt", unix.SYS_SETSOCKOPT}, {"getsockname", unix.SYS_GETSOCKNAME}, {"getpeername", unix.SYS_GETPEERNAME},
	{"shutdown", unix.SYS_SHUTDOWN}, {"sendto", unix.SYS_SENDTO}, {"recvfrom", unix.SYS_RECVFROM},
	{"sendmsg", unix.SYS_SENDMSG}, {"recvmsg", unix.SYS_RECVMSG}, {"socketpair", unix.SYS_SOCKETPAIR},
}

// TestFilterNetwork: the allowlist is a function of the network mode.
// Without network no socket call passes; egress lets socket through for
// AF_INET and AF_INET6 only (the whole 64-bit argument compared), plus
// connect; publish adds accept4 (never listen: listeners exist before).
func TestFilterNetwork(t *testing.T) {
	eperm := seccomp.Errno(unix.EPERM)
	allowed := map[string][]string{
		"none":    nil,
		"egress":  {"connect", "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown", "sendto", "recvfrom"},
		"publish": {"accept4", "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown", "sendto", "recvfrom"},
		"both":    {"connect", "accept4", "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown", "sendto", "recvfrom"},
		"control": {"accept4", "getsockname", "getsockopt", "recvmsg", "sendmsg"},
		"control+egress": {"connect", "accept4", "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown",
			"sendto", "recvfrom", "recvmsg", "sendmsg"},
	}
	opts := map[string]Options{"none": {}, "egress": {Egress: true}, "publish": {Publish: true}, "both": {Egress: true, Publish: true},
		"control": {Control: true}, "control+egress": {Control: true, Egress: true}}
	for mode, o := range opts {
		t.Run(mode, func(t *testing.T) {
			f, err := filter(o)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := f.Compile()
			if err != nil {
				t.Fatal(err)
			}
			run := func(nr uint32, args ...uint64) seccomp.Action {
				d := seccomp.Data{Nr: nr, Arch: seccomp.AuditArchX86_64}
				copy(d.Args[:], args)
				got, err := seccomp.Run(prog, d)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			for _, c := range netCalls {
				want := eperm
				if slices.Contains(allowed[mode], c.name) {
					want = seccomp.Allow
				}
				if got := run(c.nr, 3); got != want {
					t.Errorf("%s: %#x, want %#x", c.name, got, want)
				}
			}
			for _, c := range []struct {
				name   string
				domain uint64
				ok     bool
			}{
				{"AF_INET", unix.AF_INET, true}, {"AF_INET6", unix.AF_INET6, true},
				{"AF_UNIX", unix.AF_UNIX, false}, {"AF_NETLINK", unix.AF_NETLINK, false},
				{"AF_PACKET", unix.AF_PACKET, false}, {"AF_INET in the low word only", 1<<32 | unix.AF_INET, false},
			} {
				want := eperm
				if c.ok && o.Egress {
					want = seccomp.Allow
				}
				if got := run(unix.SYS_SOCKET, c.domain, unix.SOCK_STREAM); got != want {
					t.Errorf("socket(%s): %#x, want %#x", c.name, got, want)
				}
			}
		})
	}
}

// TestInstallEgress installs the egress allowlist in a child process and
// checks it for real: an AF_INET connection to a loopback listener works,
// AF_UNIX and AF_NETLINK sockets fail with EPERM.
func TestInstallEgress(t *testing.T) {
	if os.Getenv("HOSTPOLICY_CHILD") == "egress" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if c, err := l.Accept(); err == nil {
				c.Write([]byte("ok"))
				c.Close()
			}
		}()
		if err := InstallFor(Options{Egress: true, Publish: true}); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("dial after install: %v", err)
		}
		buf := make([]byte, 2)
		if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
			t.Fatalf("read %q, %v", buf, err)
		}
		c.Close()
		for _, d := range []struct {
			name   string
			domain int
		}{{"AF_UNIX", unix.AF_UNIX}, {"AF_NETLINK", unix.AF_NETLINK}} {
			if _, err := unix.Socket(d.domain, unix.SOCK_DGRAM, 0); err != unix.EPERM {
				t.Errorf("socket(%s): %v, want EPERM", d.name, err)
			}
		}
		if _, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			t.Errorf("bind and listen worked under the allowlist")
		}
		// What hostnet's DNS does: a connected UDP socket, no bind.
		u, err := net.Dial("udp", "127.0.0.1:9")
		if err != nil {
			t.Errorf("udp dial after install: %v", err)
		} else {
			u.Close()
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstallEgress$", "-test.v")
	cmd.Env = append(os.Environ(), "HOSTPOLICY_CHILD=egress")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestInstallEgress") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

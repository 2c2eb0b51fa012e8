package tests

// The interface side of the network (issue 12, point 2): netlink
// NETLINK_ROUTE, getifaddrs, the SIOCGIF* ioctls, /proc/net, and the
// synthesized /etc/hosts, /etc/hostname and /etc/resolv.conf. Without
// --net the sandbox's stack has the loopback interface only, so what the
// guest lists is what Linux shows of its own lo (compared with a native
// run as an unprivileged user), and nothing else.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// unprivCopy copies a built program into a directory every user may
// read (the test directories are root's, mode 0700), for native runs as
// another user with setpriv.
func unprivCopy(t *testing.T, built, name string) (prog, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "the native runs switch users with setpriv, which needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		skipOrFail(t, "setpriv (util-linux) is needed for the native runs: %v", err)
	}
	dir, err := os.MkdirTemp("", "litebox-netdev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	prog = filepath.Join(dir, name)
	if err := os.WriteFile(prog, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, dir
}

// asUser is setpriv's switch to the sandbox's default user, 1000:1000:
// the setter cases must fail with EPERM natively too (and must never run
// as root on a real machine: testdata/ifaddrs.c refuses to).
var asUser = []string{"setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"}

// TestIfaddrs runs testdata/ifaddrs.c: getifaddrs, if_nametoindex and
// if_nameindex, the SIOCGIF* ioctls on AF_UNIX and AF_NETLINK sockets
// (setters EPERM, unknown devices ENODEV, hostile SIOCGIFCONF lengths and
// pointers) and a raw NETLINK_ROUTE client (dumps, acks, errors, port
// ids, truncation). "lo" mode must match the native run exactly; "all"
// mode in the sandbox must show nothing but lo: the same lines, plus
// SIOCGIFCONF's size for its one IPv4 address.
func TestIfaddrs(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			prog, dir := unprivCopy(t, program(t, "ifaddrs", v), "ifaddrs")
			native := runNative(t, dir, nil, nil, append(asUser, prog, "lo")...)
			if native.ExitCode != 0 || len(native.Stdout) == 0 {
				t.Fatalf("native run failed: %s", native)
			}
			g := harness.Guest{Mounts: []string{dir + ":/work:ro"}}
			got := runGuest(t, g, nil, "/work/ifaddrs", "lo")
			checkExitedNormally(t, got)
			checkResult(t, got, native, true)

			var want []byte
			for _, line := range bytes.SplitAfter(native.Stdout, []byte("\n")) {
				want = append(want, line...)
				for _, fam := range []string{"unix", "netlink"} {
					if string(line) == fam+" SIOCGIFCONF bad pointer: EFAULT\n" {
						want = append(want, fam+" SIOCGIFCONF size: 0 40\n"...)
					}
				}
			}
			all := runGuest(t, g, nil, "/work/ifaddrs", "all")
			checkExitedNormally(t, all)
			checkResult(t, all, harness.Result{Stdout: want}, true)
		})
	}
}

// TestIfNameindexPython: Python's socket.if_nameindex (glibc's, over
// netlink) and if_nametoindex (SIOCGIFINDEX on a netlink socket).
func TestIfNameindexPython(t *testing.T) {
	t.Parallel()
	got := runGuest(t, harness.Guest{}, nil, pythonPath, "-c",
		`import socket; print(socket.if_nameindex()); print(socket.if_nametoindex("lo")); print(socket.if_indextoname(1))`)
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte("[(1, 'lo')]\n1\nlo\n")}, true)
}

// TestNetInterfacesGo: a static Go program using net.Interfaces,
// Interface.Addrs, InterfaceByName/ByIndex and net.InterfaceAddrs
// (testdata/gonetif): lo as natively, and nothing else in the sandbox.
func TestNetInterfacesGo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gonetif")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/gonetif")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	native := runNative(t, "", nil, nil, bin, "lo")
	if native.ExitCode != 0 {
		t.Fatalf("native run failed:\n%s", native)
	}
	g := harness.Guest{Mounts: []string{dir + ":/gobin:ro"}}
	for _, mode := range []string{"lo", "all"} {
		got := runGuest(t, g, nil, "/gobin/gonetif", mode)
		checkExitedNormally(t, got)
		checkResult(t, got, native, true)
	}
}

// TestEtcNameFiles: /etc/hosts, /etc/hostname and /etc/resolv.conf are
// the sandbox's, not the host's (whose hosts file may name internal
// machines): glibc's resolver reads them through nsswitch ("files"), the
// hostname is on 127.0.1.1 as Debian writes it, and without an uplink
// there is no nameserver. The host's own entries are not visible.
func TestEtcNameFiles(t *testing.T) {
	t.Parallel()
	const script = `getent hosts localhost; getent hosts litebox; getent hosts ip6-loopback; ` +
		`cat /etc/hostname /etc/resolv.conf /etc/hosts; ls /etc | grep -x -e hosts -e hostname -e resolv.conf; ` +
		`stat -c '%s %a %u' /etc/hosts; echo x >> /etc/hosts || echo write refused`
	got := runGuest(t, harness.Guest{}, nil, "/bin/sh", "-c", script)
	const hosts = "# Written by litebox for this sandbox.\n127.0.0.1\tlocalhost\n127.0.1.1\tlitebox\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n"
	want := "::1             localhost ip6-localhost ip6-loopback\n" +
		"127.0.1.1       litebox\n" +
		"::1             localhost ip6-localhost ip6-loopback\n" +
		"litebox\n" +
		"# Written by litebox for this sandbox.\n" +
		hosts +
		"hostname\nhosts\nresolv.conf\n" +
		"118 644 0\n" +
		"write refused\n"
	if string(got.Stdout) != want {
		t.Errorf("name files:\n%s\nwant stdout:\n%s\ndiff:\n%s", got, want, lineDiff([]byte(want), got.Stdout))
	}
	host, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Skipf("the host has no /etc/hosts: %v", err)
	}
	for _, line := range strings.Split(string(host), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") && !strings.Contains(hosts, line) {
			if bytes.Contains(got.Stdout, []byte(line)) {
				t.Errorf("the host's /etc/hosts line %q is visible in the guest", line)
			}
		}
	}
}

// TestProcNet: /proc/net/dev, /proc/net/route and /proc/net/if_inet6 in
// Linux's formats, from the sandbox's stack: lo with no traffic, no IPv4
// route in the main table (127.0.0.0/8 is in the local table, as on
// Linux), ::1 with lo's index, its prefix, host scope and the permanent
// flag.
func TestProcNet(t *testing.T) {
	t.Parallel()
	got := runGuest(t, harness.Guest{}, nil, "/bin/cat", "/proc/net/dev", "/proc/net/route", "/proc/net/if_inet6")
	checkExitedNormally(t, got)
	pad := func(s string) string { return s + strings.Repeat(" ", 127-len(s)) + "\n" }
	want := "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
		"    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n" +
		pad("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT") +
		"00000000000000000000000000000001 01 80 10 80       lo\n"
	checkResult(t, got, harness.Result{Stdout: []byte(want)}, true)
	// The formats are the host's own: its headers are the same lines.
	for _, f := range []string{"/proc/net/dev", "/proc/net/route"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		first := strings.SplitAfter(string(b), "\n")[0]
		if !strings.Contains(want, first) {
			t.Errorf("%s: the host's header %q differs from the guest's", f, first)
		}
	}
}

// TestIPRoute2: iproute2's `ip` (netlink dumps with its own options:
// NETLINK_GET_STRICT_CHK, which the sandbox refuses and ip does without)
// shows lo exactly as on the host.
func TestIPRoute2(t *testing.T) {
	t.Parallel()
	const ip = "/usr/sbin/ip"
	if _, err := os.Stat(ip); err != nil {
		skipOrFail(t, "iproute2 is needed: %v", err)
	}
	for _, args := range [][]string{{"addr", "show", "lo"}, {"link", "show", "lo"}, {"-6", "addr", "show", "lo"}} {
		native := runNative(t, "", nil, nil, append([]string{ip}, args...)...)
		if native.ExitCode != 0 {
			t.Fatalf("native ip %v: %s", args, native)
		}
		got := runGuest(t, harness.Guest{}, nil, ip, args...)
		checkExitedNormally(t, got)
		checkResult(t, got, native, true)
	}
}

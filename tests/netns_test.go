package tests

// Issue 14: --net netns:PATH. The test plays the container engine: it
// makes a network namespace with a veth pair (the root side 10.199.X.1/24,
// the namespace's side "eth0" 10.199.X.2/24 with a default route through
// the root side), and the guest's netstack takes the namespace's eth0
// over (package hostnet/netns). Reaching the guest over the veth from the
// root namespace is what an engine's port mapping does.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// testNetNS is a namespace made by makeNetNS.
type testNetNS struct {
	Name, Path string
	HostIf     string // the root side of the veth
	HostIP     string // 10.199.X.1
	GuestIP    string // 10.199.X.2, on the namespace's eth0
	HostIP6    string // fd00:199:X::1
	GuestIP6   string // fd00:199:X::2
	MTU        int
}

// ipCmd runs iproute2's ip and fails the test on an error.
func ipCmd(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeNetNS makes a namespace as an engine would (the veth inside named
// eth0, up, with an address and a default route); t.Cleanup deletes it,
// which deletes the veth pair with it.
func makeNetNS(t *testing.T, mtu int) *testNetNS {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "--net netns: tests make network namespaces: they need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "iproute2's ip is needed: %v", err)
	}
	var n *big.Int
	var err error
	var ns *testNetNS
	for try := 0; ; try++ {
		if n, err = rand.Int(rand.Reader, big.NewInt(250)); err != nil {
			t.Fatal(err)
		}
		x := int(n.Int64()) + 2
		ns = &testNetNS{Name: fmt.Sprintf("lbtest-%d-%d", os.Getpid(), x), HostIf: fmt.Sprintf("lbv%d", x),
			HostIP: fmt.Sprintf("10.199.%d.1", x), GuestIP: fmt.Sprintf("10.199.%d.2", x),
			HostIP6: fmt.Sprintf("fd00:199:%x::1", x), GuestIP6: fmt.Sprintf("fd00:199:%x::2", x), MTU: mtu}
		ns.Path = "/run/netns/" + ns.Name
		// Another test (or test binary) may hold this subnet.
		if out, _ := exec.Command("ip", "-o", "addr", "show", "to", ns.HostIP+"/24").Output(); len(out) == 0 {
			break
		}
		if try > 20 {
			t.Fatal("no free 10.199.X.0/24")
		}
	}
	ipCmd(t, "netns", "add", ns.Name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", ns.HostIf).Run()
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", ns.Name, err, out)
		}
	})
	ipCmd(t, "link", "add", ns.HostIf, "mtu", strconv.Itoa(mtu), "type", "veth", "peer", "name", "eth0", "mtu", strconv.Itoa(mtu), "netns", ns.Name)
	ipCmd(t, "addr", "add", ns.HostIP+"/24", "dev", ns.HostIf)
	ipCmd(t, "link", "set", ns.HostIf, "up")
	ipCmd(t, "-n", ns.Name, "link", "set", "lo", "up")
	ipCmd(t, "-n", ns.Name, "addr", "add", ns.GuestIP+"/24", "dev", "eth0")
	ipCmd(t, "-n", ns.Name, "link", "set", "eth0", "up")
	ipCmd(t, "-n", ns.Name, "route", "add", "default", "via", ns.HostIP)
	ipCmd(t, "addr", "add", ns.HostIP6+"/64", "dev", ns.HostIf, "nodad")
	ipCmd(t, "-n", ns.Name, "addr", "add", ns.GuestIP6+"/64", "dev", "eth0", "nodad")
	return ns
}

// inetAddrs are the IPv4 addresses the host kernel has on the
// namespace's eth0.
func (ns *testNetNS) inetAddrs(t testing.TB) []string {
	t.Helper()
	out := ipCmd(t, "-n", ns.Name, "-j", "addr", "show", "dev", "eth0")
	var ifs []struct {
		AddrInfo []struct {
			Family, Local string
			Prefixlen     int
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &ifs); err != nil {
		t.Fatalf("ip -j addr: %v\n%s", err, out)
	}
	var addrs []string
	for _, i := range ifs {
		for _, a := range i.AddrInfo {
			if a.Family == "inet" {
				addrs = append(addrs, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
			}
		}
	}
	return addrs
}

// native runs argv natively inside the namespace (ip netns exec), the
// reference for a guest run.
func (ns *testNetNS) native(t *testing.T, argv ...string) harness.Result {
	t.Helper()
	return runNative(t, "", nil, nil, append([]string{"ip", "netns", "exec", ns.Name}, argv...)...)
}

// startGuest starts a long-running guest in the namespace; the returned
// func stops it (SIGTERM) and waits, once.
func startGuest(t *testing.T, g harness.Guest, prog string, args ...string) (stderr *bytes.Buffer, stop func()) {
	t.Helper()
	argv := g.Argv(litebox(t), prog, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("litebox did not end on SIGTERM")
		}
	}
	t.Cleanup(stop)
	return stderr, stop
}

// TestNetNSServer: a guest HTTP server (busybox httpd) in the namespace
// serves a file to a Go client in the root namespace over the veth, byte
// for byte (bigger than the TCP windows, frames at the veth's MTU both
// ways); the root side pings the guest's address (the netstack answers
// ICMP echo); the guest's eth0 has the namespace's address, MAC, MTU and
// default route (as the namespace showed them natively); the host kernel
// has no address left on the interface while the sandbox runs, and has
// them and the default route back once it ended.
func TestNetNSServer(t *testing.T) {
	needBusybox(t)
	for _, mtu := range []int{1500, 9000} {
		t.Run(fmt.Sprintf("mtu%d", mtu), func(t *testing.T) { testNetNSServer(t, mtu) })
	}
}

func testNetNSServer(t *testing.T, mtu int) {
	ns := makeNetNS(t, mtu)
	nativeLink := ns.native(t, busyboxPath, "ip", "-o", "link", "show", "dev", "eth0")
	nativeRoute := ns.native(t, busyboxPath, "ip", "route", "show", "default")
	if nativeLink.ExitCode != 0 || nativeRoute.ExitCode != 0 {
		t.Fatalf("native ip: %s\n%s", nativeLink, nativeRoute)
	}

	dir := t.TempDir()
	content := make([]byte, 3<<20+123)
	rand.Read(content)
	if err := os.WriteFile(filepath.Join(dir, "file.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	g := harness.Guest{Mounts: []string{dir + ":/www"}, Flags: []string{"--audit", auditPath, "--net", "netns:" + ns.Path}}
	stderr, stop := startGuest(t, g, busyboxPath, "httpd", "-f", "-p", "80", "-h", "/www")

	url := "http://" + ns.GuestIP + "/file.bin"
	client := &http.Client{Timeout: 20 * time.Second}
	var got []byte
	var err error
	for deadline := time.Now().Add(60 * time.Second); ; {
		var resp *http.Response
		if resp, err = client.Get(url); err == nil {
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the guest server is starting
	}
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("GET %s: %v, %d bytes (want %d)\nlitebox stderr: %s", url, err, len(got), len(content), stderr)
	}

	// The same file over IPv6 (neighbour discovery by the netstack).
	url6 := "http://[" + ns.GuestIP6 + "]/file.bin"
	if resp, err := client.Get(url6); err != nil {
		t.Errorf("GET %s: %v", url6, err)
	} else {
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("GET %s: %v, %d bytes (want %d)", url6, err, len(got), len(content))
		}
	}
	if addrs := ns.inetAddrs(t); len(addrs) != 0 {
		t.Errorf("while the sandbox runs the host kernel still has %v on the namespace's eth0", addrs)
	}
	if v6 := ipCmd(t, "-n", ns.Name, "-6", "-o", "addr", "show", "dev", "eth0"); v6 != "" {
		t.Errorf("while the sandbox runs the host kernel still has IPv6 addresses on eth0: %s", v6)
	}
	ping := runNative(t, "", nil, nil, busyboxPath, "ping", "-c", "2", "-W", "5", ns.GuestIP)
	if ping.ExitCode != 0 || !strings.Contains(string(ping.Stdout), "2 packets received") {
		t.Errorf("ping %s from the root namespace: %s", ns.GuestIP, ping)
	}
	stop()
	if addrs := ns.inetAddrs(t); len(addrs) != 1 || addrs[0] != ns.GuestIP+"/24" {
		t.Errorf("after the sandbox ended the host kernel has %v on eth0, want %s/24 given back", addrs, ns.GuestIP)
	}
	if v6 := ipCmd(t, "-n", ns.Name, "-6", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(v6, ns.GuestIP6+"/64") {
		t.Errorf("after the sandbox ended eth0's IPv6 addresses are %q, want %s/64 given back", v6, ns.GuestIP6)
	}
	if route := ns.native(t, busyboxPath, "ip", "route", "show", "default"); !bytes.Equal(route.Stdout, nativeRoute.Stdout) {
		t.Errorf("after the sandbox ended the default route is %q, want %q given back", route.Stdout, nativeRoute.Stdout)
	}
	starts := auditEvents(t, auditPath, "sandbox_start")
	if len(starts) != 1 || starts[0]["net"] != "netns" || starts[0]["netns"] != ns.Path {
		t.Errorf("sandbox_start %v, want net=netns netns=%s", starts, ns.Path)
	}

	// The guest's view of eth0 and its routes, against the native view
	// of a namespace before the takeover (a fresh one: this one's
	// addresses are gone) (busybox ip prints both;
	// the link line's ifindex and "@ifN" peer suffix are the host's).
	ns2 := makeNetNS(t, mtu)
	nativeLink = ns2.native(t, busyboxPath, "ip", "-o", "link", "show", "dev", "eth0")
	nativeRoute = ns2.native(t, busyboxPath, "ip", "route", "show", "default")
	res := runGuest(t, harness.Guest{Flags: []string{"--net", "netns:" + ns2.Path}}, nil, busyboxPath, "sh", "-c",
		busyboxPath+" ip -o link show dev eth0 && echo --- && "+busyboxPath+" ip route show default && echo --- && "+
			busyboxPath+" ip -o -4 addr show dev eth0")
	parts := strings.Split(string(res.Stdout), "---\n")
	if res.ExitCode != 0 || len(parts) != 3 {
		t.Fatalf("guest ip: %s", res)
	}
	if w, g := linkEssentials(string(nativeLink.Stdout)), linkEssentials(parts[0]); w != g {
		t.Errorf("guest's eth0 %q, want the namespace's %q", g, w)
	}
	if strings.TrimSpace(parts[1]) != strings.TrimSpace(string(nativeRoute.Stdout)) {
		t.Errorf("guest's default route %q, want the namespace's %q", parts[1], nativeRoute.Stdout)
	}
	if !strings.Contains(parts[2], "inet "+ns2.GuestIP+"/24 ") {
		t.Errorf("guest's eth0 addresses %q, want %s/24", parts[2], ns2.GuestIP)
	}
}

// linkEssentials keeps the parts of an `ip -o link` line litebox must
// reproduce: the name, the MTU and the MAC.
func linkEssentials(line string) string {
	f := strings.Fields(line)
	var name, mtu, mac string
	for i, w := range f {
		switch {
		case i == 1:
			name = strings.TrimSuffix(strings.SplitN(w, "@", 2)[0], ":")
		case w == "mtu" && i+1 < len(f):
			mtu = f[i+1]
		case w == "link/ether" && i+1 < len(f):
			mac = f[i+1]
		}
	}
	return name + " mtu " + mtu + " " + mac
}

// TestNetNSClient: a guest client in the namespace reaches a TCP server
// the test runs on the root side of the veth (the namespace's default
// route), and a closed port there is ECONNREFUSED (the root kernel's
// RST) — as the same client run natively in that namespace.
func TestNetNSClient(t *testing.T) {
	needPython(t)
	ns := makeNetNS(t, 1500)
	l, err := net.Listen("tcp", ns.HostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				b, _ := io.ReadAll(c)
				fmt.Fprintf(c, "pong %s from %s", b, strings.Split(c.RemoteAddr().String(), ":")[0])
			}()
		}
	}()
	ps := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	closed := strconv.Itoa(closedPortOn(t, ns.HostIP))

	for _, port := range []string{ps, closed} {
		native := ns.native(t, python3, "-c", tcpClient, ns.HostIP, port)
		if native.ExitCode != 0 {
			t.Fatalf("native client: %s", native)
		}
		res := runGuest(t, harness.Guest{Flags: []string{"--net", "netns:" + ns.Path}}, nil, python3, "-c", tcpClient, ns.HostIP, port)
		if res.ExitCode != 0 || !bytes.Equal(res.Stdout, native.Stdout) {
			t.Errorf("port %s: guest %q, native %q\n%s", port, res.Stdout, native.Stdout, res.Stderr)
		}
		if port == ps && string(native.Stdout) != "answer pong ping\n from "+ns.GuestIP+"\n" {
			t.Errorf("native answer %q", native.Stdout)
		}
		// The next native run needs the addresses and the default
		// route the sandbox gave back when it ended.
	}
}

// closedPortOn is a port of addr nothing listens on.
func closedPortOn(t *testing.T, addr string) int {
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

// TestNetNSBadInput: what cannot be taken over is one line and exit 125,
// at once: no such file, a file that is no namespace, an interface
// without an address, two interfaces up, litebox's own namespace (taking
// it over would cut the host off), --net netns: with -p or --allow.
// A namespace with nothing to take over (loopback only, or interfaces
// that are down: Podman's --network=none) gives the guest loopback only,
// as a runc container has in an empty namespace (compared with a native
// run there: `ip link` shows lo alone, a connect beyond is unreachable;
// a down interface is not shown to the guest, where runc's would see it).
func TestNetNSBadInput(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "--net netns: tests make network namespaces: they need root")
	}
	empty := fmt.Sprintf("lbtest-%d-empty", os.Getpid())
	ipCmd(t, "netns", "add", empty)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", empty).Run() })
	ns := makeNetNS(t, 1500)
	ipCmd(t, "-n", ns.Name, "addr", "flush", "dev", "eth0")
	two := makeNetNS(t, 1500)
	ipCmd(t, "-n", two.Name, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
	ipCmd(t, "-n", two.Name, "link", "set", "eth1", "up")
	down := fmt.Sprintf("lbtest-%d-down", os.Getpid())
	ipCmd(t, "netns", "add", down)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", down).Run() })
	ipCmd(t, "-n", down, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	script := busyboxPath + " ip -o link | " + busyboxPath + " cut -d: -f2; " + busyboxPath + " nc -w 2 10.199.1.1 80 </dev/null; echo nc=$?"
	native := runNative(t, "", nil, nil, "ip", "netns", "exec", empty, busyboxPath, "sh", "-c", script)
	if string(native.Stdout) != " lo\nnc=1\n" || !strings.Contains(string(native.Stderr), "unreachable") {
		t.Fatalf("native run in an empty namespace: %s", native)
	}
	for _, nsName := range []string{empty, down} {
		res := runGuest(t, harness.Guest{Flags: []string{"--net", "netns:/run/netns/" + nsName}}, nil, busyboxPath, "sh", "-c", script)
		if res.ExitCode != 0 || !bytes.Equal(res.Stdout, native.Stdout) || !strings.Contains(string(res.Stderr), "unreachable") {
			t.Errorf("loopback-only namespace %s: %s\nnative: %s", nsName, res, native)
		}
	}
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"missing", []string{"--net", "netns:/run/netns/lbtest-none"}, "no such file"},
		{"not a namespace", []string{"--net", "netns:/etc/hostname"}, "not a namespace file"},
		{"no address", []string{"--net", "netns:" + ns.Path}, "has no address"},
		{"two interfaces up", []string{"--net", "netns:" + two.Path}, "2 Ethernet interfaces are up (eth0, eth1)"},
		{"empty path", []string{"--net", "netns:"}, "want netns:PATH"},
		{"litebox's own namespace", []string{"--net", "netns:/proc/self/ns/net"}, "is litebox's own"},
		{"with publish", []string{"--net", "netns:" + ns.Path, "-p", "8080:80"}, "not with --allow or --publish"},
		{"with allow", []string{"--net", "netns:" + ns.Path, "--allow", "10.0.0.1:80"}, "not with --allow or --publish"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := runLitebox(t, nil, append(append([]string{"run"}, tc.flags...), "--", "/bin/true")...)
			checkOneLineError(t, res, 125)
			if !strings.Contains(string(res.Stderr), tc.want) {
				t.Errorf("stderr %q, want it to say %q", res.Stderr, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestNetNSProcPath: a namespace named by a process in it
// (/proc/PID/ns/net, what an engine without /run/netns passes) is taken
// over the same way, its down interfaces left alone; the guest's
// /etc/resolv.conf names no litebox DNS server.
func TestNetNSProcPath(t *testing.T) {
	needBusybox(t)
	ns := makeNetNS(t, 1500)
	// A second interface that is down (as the fallback tunnels of ipip or
	// sit modules in every namespace) is left alone.
	ipCmd(t, "-n", ns.Name, "link", "add", "tunl9", "type", "veth", "peer", "name", "tunl9p")
	holder := exec.Command("ip", "netns", "exec", ns.Name, "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	path := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	// ip netns exec is in the namespace once it has exec'd sleep.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a, _ := os.Readlink(path)
		b, _ := os.Readlink("/proc/self/ns/net")
		if a != b && a != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never left the root namespace", path)
		}
	}
	res := runGuest(t, harness.Guest{Flags: []string{"--net", "netns:" + path}}, nil, busyboxPath, "sh", "-c",
		busyboxPath+" ip -o -4 addr show dev eth0; "+busyboxPath+" cat /etc/resolv.conf")
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "inet "+ns.GuestIP+"/24 ") {
		t.Errorf("guest's eth0 through %s: %s", path, res)
	}
	// No litebox DNS server here: the synthesized resolv.conf names none
	// (an engine's bundle mounts its own over it).
	if strings.Contains(string(res.Stdout), "nameserver") {
		t.Errorf("the guest's /etc/resolv.conf names a server in --net netns: mode:\n%s", res.Stdout)
	}
}

// TestNetNSPolicyShow: --net netns: adds nothing to litebox's allowlist
// (its sockets exist before the filter; frames move with read and write):
// the list is --net none's, call for call.
func TestNetNSPolicyShow(t *testing.T) {
	none := runLitebox(t, nil, "policy", "show")
	netns := runLitebox(t, nil, "policy", "show", "--net", "netns:/run/netns/x")
	if none.ExitCode != 0 || netns.ExitCode != 0 || !bytes.Equal(none.Stdout, netns.Stdout) {
		t.Errorf("policy show --net netns: differs from --net none's:\n%s\n---\n%s", netns, none)
	}
	for _, c := range []string{"socket", "bind", "connect", "setsockopt", "recvmmsg", "sendmmsg"} {
		if strings.Contains(string(netns.Stdout), "\n  "+c+" ") {
			t.Errorf("--net netns: allows %s", c)
		}
	}
}

// TestNetNSEngineTearsDownFirst: the engine deletes the veth and the
// namespace while the guest runs (its teardown after a kill races the
// sandbox's end): the guest's connects fail, litebox ends on SIGTERM
// without a crash and without complaining about what it cannot give back.
func TestNetNSEngineTearsDownFirst(t *testing.T) {
	needBusybox(t)
	ns := makeNetNS(t, 1500)
	g := harness.Guest{Flags: []string{"--net", "netns:" + ns.Path, "--log"}}
	stderr, stop := startGuest(t, g, busyboxPath, "sh", "-c",
		"while :; do "+busyboxPath+" nc -w 1 "+ns.HostIP+" 9 </dev/null 2>/dev/null; "+busyboxPath+" sleep 0.1; done")
	// Once the guest has the interface, the host kernel has no address.
	for deadline := time.Now().Add(30 * time.Second); len(ns.inetAddrs(t)) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox never took the interface\n%s", stderr)
		}
	}
	ipCmd(t, "link", "del", ns.HostIf)
	ipCmd(t, "netns", "del", ns.Name)
	ipCmd(t, "netns", "add", ns.Name) // for the test's own cleanup
	time.Sleep(300 * time.Millisecond)
	stop()
	for _, bad := range []string{"goroutine ", "panic", "giving the interface back"} {
		if strings.Contains(stderr.String(), bad) {
			t.Errorf("litebox stderr has %q:\n%s", bad, stderr)
		}
	}
}

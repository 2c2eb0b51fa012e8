package tests

// Issue 12, points 3 and 4: --net egress with --allow rules, litebox's DNS
// for the guest, and published ports (-p).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/litebox-go/litebox/tests/harness"
)

const python3 = "/usr/bin/python3"

func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python3); err != nil {
		skipOrFail(t, "python3 is needed at %s: %v", python3, err)
	}
}

// tcpClient connects to argv[1]:argv[2] (a name is resolved first),
// sends "ping\n", prints what the server answers until EOF, or the
// errno's name when the connection fails.
const tcpClient = `
import errno, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.create_connection((host, port), timeout=20)
    s.sendall(b"ping\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    print("answer", data.decode())
except socket.gaierror as e:
    print("gaierror", e.args[0] == socket.EAI_NONAME)
except OSError as e:
    print("error", errno.errorcode.get(e.errno, e.errno))
`

// hostServer listens on 127.0.0.1 and answers each connection with
// "pong " and the bytes it read until EOF.
func hostServer(t *testing.T) (port int, answer func(req string) string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
				c.Write([]byte("pong " + string(b)))
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, func(req string) string { return "pong " + req }
}

// closedPort is a host loopback port nothing listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

// auditEvents reads a JSON-lines audit file and returns the events named
// msg.
func auditEvents(t *testing.T, path, msg string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestEgressLoopback: a host loopback server is reachable from the guest
// at 10.0.2.2 with --net egress --allow 127.0.0.1:PORT (the same answer as
// a native client gets from 127.0.0.1), refused with a rule for another
// port (ECONNREFUSED, as a closed port natively), unreachable without
// --net egress (no uplink: ENETUNREACH, as a host without a route); every
// decision and closed connection is audited, with the bytes each way.
func TestEgressLoopback(t *testing.T) {
	needPython(t)
	port, _ := hostServer(t)
	ps := strconv.Itoa(port)
	native := runNative(t, "", nil, nil, python3, "-c", tcpClient, "127.0.0.1", ps)
	nativeRefused := runNative(t, "", nil, nil, python3, "-c", tcpClient, "127.0.0.1", strconv.Itoa(closedPort(t)))
	if string(native.Stdout) != "answer pong ping\n\n" || string(nativeRefused.Stdout) != "error ECONNREFUSED\n" {
		t.Fatalf("native runs: %q, %q", native.Stdout, nativeRefused.Stdout)
	}
	tests := []struct {
		name    string
		flags   []string
		want    string
		connect string // "": no net_connect event; else its "allowed" value
	}{
		{"allowed", []string{"--net", "egress", "--allow", "127.0.0.1:" + ps}, string(native.Stdout), "true"},
		{"allowed by cidr", []string{"--net", "egress", "--allow", "127.0.0.0/8"}, string(native.Stdout), "true"},
		{"egress without rules", []string{"--net", "egress"}, string(native.Stdout), "true"},
		{"other port", []string{"--net", "egress", "--allow", "127.0.0.1:" + strconv.Itoa(port+1)}, string(nativeRefused.Stdout), "false"},
		{"no egress", nil, "error ENETUNREACH\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
			flags := append([]string{"--audit", auditPath}, tc.flags...)
			res := runGuest(t, harness.Guest{Flags: flags}, nil, python3, "-c", tcpClient, "10.0.2.2", ps)
			if res.ExitCode != 0 || string(res.Stdout) != tc.want {
				t.Fatalf("guest: exit %d, stdout %q, want %q\n%s", res.ExitCode, res.Stdout, tc.want, res.Stderr)
			}
			wantMode := "none"
			if len(tc.flags) > 0 {
				wantMode = "egress"
			}
			if st := auditEvents(t, auditPath, "sandbox_start"); len(st) != 1 || st[0]["net"] != wantMode {
				t.Errorf("sandbox_start %v, want net=%s", st, wantMode)
			}
			connects := auditEvents(t, auditPath, "net_connect")
			if tc.connect == "" {
				if len(connects) != 0 {
					t.Errorf("net_connect events without a network: %v", connects)
				}
				return
			}
			if len(connects) != 1 || fmt.Sprint(connects[0]["allowed"]) != tc.connect ||
				connects[0]["dst"] != "127.0.0.1:"+ps || connects[0]["guest_dst"] != "10.0.2.2:"+ps {
				t.Fatalf("net_connect events %v, want one with allowed=%s to 127.0.0.1:%s", connects, tc.connect, ps)
			}
			if tc.connect == "true" {
				closes := auditEvents(t, auditPath, "net_close")
				if len(closes) != 1 || closes[0]["bytes_from_guest"] != float64(len("ping\n")) ||
					closes[0]["bytes_to_guest"] != float64(len("pong ping\n")) {
					t.Errorf("net_close events %v, want one with 5 bytes from the guest and 10 to it", closes)
				}
			} else if connects[0]["reason"] == nil {
				t.Errorf("denied net_connect without a reason: %v", connects[0])
			}
		})
	}
}

// udpClient sends "ping" on a connected UDP socket to argv[1]:argv[2] and
// prints the answer, or the errno's name (a port-unreachable reply makes
// the next recv fail with ECONNREFUSED).
const udpClient = `
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.send(b"ping")
    print("answer", s.recv(100).decode())
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", errno.errorcode.get(e.errno, e.errno))
`

// TestEgressUDP: a host UDP server on 127.0.0.1 answers the guest at
// 10.0.2.2 when allowed, as it answers a native client; a denied
// datagram gets ECONNREFUSED, as a native one to a closed port.
func TestEgressUDP(t *testing.T) {
	needPython(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("pong "), buf[:n]...), from)
		}
	}()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ps := strconv.Itoa(port)
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(closed.LocalAddr().(*net.UDPAddr).Port)
	closed.Close()
	native := runNative(t, "", nil, nil, python3, "-c", udpClient, "127.0.0.1", ps)
	nativeRefused := runNative(t, "", nil, nil, python3, "-c", udpClient, "127.0.0.1", closedPort)
	if string(native.Stdout) != "answer pong ping\n" || string(nativeRefused.Stdout) != "error ECONNREFUSED\n" {
		t.Fatalf("native runs: %q, %q", native.Stdout, nativeRefused.Stdout)
	}
	for _, tc := range []struct {
		name, rule, want string
	}{
		{"allowed", "127.0.0.1:" + ps, string(native.Stdout)},
		{"denied", "127.0.0.1:" + closedPort, string(nativeRefused.Stdout)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
			res := runGuest(t, harness.Guest{Flags: []string{"--audit", auditPath, "--net", "egress", "--allow", tc.rule}},
				nil, python3, "-c", udpClient, "10.0.2.2", ps)
			if string(res.Stdout) != tc.want {
				t.Fatalf("guest: %q, want %q\n%s", res.Stdout, tc.want, res.Stderr)
			}
			ev := auditEvents(t, auditPath, "net_connect")
			if len(ev) != 1 || ev[0]["proto"] != "udp" || fmt.Sprint(ev[0]["allowed"]) != fmt.Sprint(tc.name == "allowed") {
				t.Errorf("net_connect events %v", ev)
			}
		})
	}
}

// upstreamDNS is a DNS server on 127.0.0.1 for --test-dns-upstream with
// A records of its own; NXDOMAIN for every other name.
func upstreamDNS(t *testing.T, records map[string]netip.Addr) (addr string, queries func() []string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	asked := make(chan string, 256)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(q.Name.String(), ".")
			select {
			case asked <- name:
			default:
			}
			a, ok := records[name]
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionAvailable: true,
				RCode: map[bool]dnsmessage.RCode{true: dnsmessage.RCodeSuccess, false: dnsmessage.RCodeNameError}[ok]})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if ok && q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: a.As4()})
			}
			msg, err := b.Finish()
			if err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	return pc.LocalAddr().String(), func() []string {
		var out []string
		for {
			select {
			case n := <-asked:
				out = append(out, n)
			default:
				return out
			}
		}
	}
}

// TestEgressDNS: with a name rule, the guest resolves the name through
// litebox (the host answer 127.0.0.1 becomes 10.0.2.2) and may connect to
// it; a name no rule allows does not resolve, and is never asked upstream.
func TestEgressDNS(t *testing.T) {
	needPython(t)
	// The guest's resolver asks the host's resolv.conf servers: a remote
	// one through the uplink, a loopback one (127.0.0.53) on the guest's
	// own loopback; litebox answers both.
	port, _ := hostServer(t)
	ps := strconv.Itoa(port)
	up, queries := upstreamDNS(t, map[string]netip.Addr{
		"svc.litebox.test":    netip.MustParseAddr("127.0.0.1"),
		"denied.litebox.test": netip.MustParseAddr("127.0.0.1"),
	})
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	flags := []string{"--audit", auditPath, "--net", "egress", "--allow", "svc.litebox.test:" + ps, "--test-dns-upstream", up}
	// glibc's default resolver path: A and AAAA sent together (sendmmsg).
	res := runGuest(t, harness.Guest{Flags: flags}, nil, python3, "-c", tcpClient, "svc.litebox.test", ps)
	if string(res.Stdout) != "answer pong ping\n\n" {
		t.Fatalf("allowed name: %q\n%s", res.Stdout, res.Stderr)
	}
	queries()
	res = runGuest(t, harness.Guest{Flags: flags}, nil, python3, "-c", tcpClient, "denied.litebox.test", ps)
	if string(res.Stdout) != "gaierror True\n" {
		t.Fatalf("denied name: %q, want a name that does not resolve\n%s", res.Stdout, res.Stderr)
	}
	for _, q := range queries() {
		if strings.HasPrefix(q, "denied.") {
			t.Errorf("the denied name was asked upstream")
		}
	}
	var denied bool
	for _, ev := range auditEvents(t, auditPath, "net_dns") {
		if ev["name"] == "denied.litebox.test" && ev["allowed"] == false {
			denied = true
		}
	}
	if !denied {
		t.Errorf("no net_dns event denies denied.litebox.test")
	}
}

// TestPublish: a guest HTTP server on 0.0.0.0:8000 published with
// -p 127.0.0.1:HOSTPORT:8000 answers curl on the host with the file's
// bytes.
func TestPublish(t *testing.T) {
	needPython(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		skipOrFail(t, "curl is needed on the host: %v", err)
	}
	dir := t.TempDir()
	content := bytes.Repeat([]byte("published bytes\n"), 4096) // 64 KiB: more than one window
	if err := os.WriteFile(filepath.Join(dir, "file.txt"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	hp := closedPort(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	g := harness.Guest{Mounts: []string{dir + ":/srv"}, Flags: []string{"--audit", auditPath,
		"-p", fmt.Sprintf("127.0.0.1:%d:8000", hp)}}
	argv := g.Argv(litebox(t), python3, "-m", "http.server", "--bind", "0.0.0.0", "--directory", "/srv", "8000")
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/file.txt", hp)
	var got []byte
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err = exec.CommandContext(ctx, curl, "-sS", "--fail", url).Output()
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond) // the guest server is starting
	}
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("curl %s: %v, %d bytes (want %d)\nlitebox stderr: %s", url, err, len(got), len(content), stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	var sawClose bool
	for _, ev := range auditEvents(t, auditPath, "net_close") {
		if ev["direction"] == "inbound" && ev["bytes_from_guest"].(float64) > float64(len(content)) {
			sawClose = true
		}
	}
	if !sawClose {
		t.Errorf("no inbound net_close carrying the file's %d bytes", len(content))
	}
}

// TestNetBadSpecs: malformed --net, --allow and -p specs are one-line
// errors with exit 125, and so is a host port already in use (at once,
// not a hang).
func TestNetBadSpecs(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"bad mode", []string{"--net", "bridge"}, "bad --net"},
		{"allow without egress", []string{"--allow", "127.0.0.1:80"}, "--allow needs --net egress"},
		{"bad allow address", []string{"--net", "egress", "--allow", "300.1.2.3:80"}, "bad --allow"},
		{"bad allow port", []string{"--net", "egress", "--allow", "127.0.0.1:0"}, "bad --allow"},
		{"bad allow v6", []string{"--net", "egress", "--allow", "[::1:80"}, "bad --allow"},
		{"bad publish", []string{"-p", "80"}, "bad --publish"},
		{"bad publish proto", []string{"-p", "8080:80/sctp"}, "bad --publish"},
		{"bad publish port", []string{"-p", "8080:99999"}, "bad --publish"},
		{"port in use", []string{"-p", "127.0.0.1:" + busyPort + ":80"}, "already in use"},
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

// TestPolicyShowNetwork: litebox's allowlist has socket calls only for a
// sandbox with egress or published ports.
func TestPolicyShowNetwork(t *testing.T) {
	has := func(out []byte, name string) bool {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == name {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		flags        []string
		socket, acc4 bool
	}{
		{nil, false, false},
		{[]string{"--net", "egress"}, true, false},
		{[]string{"--publish"}, false, true},
		{[]string{"--net", "egress", "--publish"}, true, true},
	} {
		res := runLitebox(t, nil, append([]string{"policy", "show"}, tc.flags...)...)
		if res.ExitCode != 0 {
			t.Fatalf("policy show %v: %s", tc.flags, res)
		}
		first := strings.SplitN(string(res.Stdout), "\n", 2)[0]
		if has(res.Stdout, "socket") != tc.socket || has(res.Stdout, "connect") != tc.socket ||
			has(res.Stdout, "accept4") != tc.acc4 || has(res.Stdout, "listen") || has(res.Stdout, "bind") {
			t.Errorf("policy show %v (%s): socket/connect %v, accept4 %v wanted; never listen or bind", tc.flags, first, tc.socket, tc.acc4)
		}
		if tc.socket && !strings.Contains(string(res.Stdout), "AF_INET, AF_INET6 only") {
			t.Errorf("policy show %v does not say socket is limited to AF_INET/AF_INET6", tc.flags)
		}
	}
}

// TestPublishGuestLoopback: as with Docker, a published port reaches the
// guest's listener on its eth0 address (0.0.0.0), not one bound to the
// guest's own 127.0.0.1: curl gets no answer.
func TestPublishGuestLoopback(t *testing.T) {
	needPython(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		skipOrFail(t, "curl is needed on the host: %v", err)
	}
	hp := closedPort(t)
	g := harness.Guest{Flags: []string{"-p", fmt.Sprintf("127.0.0.1:%d:8000", hp)}}
	argv := g.Argv(litebox(t), python3, "-u", "-m", "http.server", "--bind", "127.0.0.1", "8000")
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "Serving HTTP on 127.0.0.1 port 8000") {
			t.Fatalf("guest server said %q", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the guest server did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := exec.CommandContext(ctx, curl, "-sS", fmt.Sprintf("http://127.0.0.1:%d/", hp)).Output()
	if err == nil || len(got) != 0 {
		t.Fatalf("curl reached a guest listener on 127.0.0.1: %q, %v", got, err)
	}
}

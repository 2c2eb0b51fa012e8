package hostnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"github.com/litebox-go/litebox/kernel/audit"
	"github.com/litebox-go/litebox/kernel/netstack"
)

// lockedBuf is the audit log's sink.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// rig is a gateway with a guest stack on its uplink, and the audit log.
type rig struct {
	g     *Gateway
	guest *netstack.Stack
	alog  *audit.Log
	buf   *lockedBuf
	all   []map[string]any // the audit log's events, once closed
	done  bool
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{buf: &lockedBuf{}}
	r.alog = audit.New(r.buf, audit.Options{})
	cfg.Audit = r.alog
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	guest, err := netstack.New(netstack.Config{Uplink: g.Uplink()})
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	r.g, r.guest = g, guest
	t.Cleanup(func() {
		g.Close()
		guest.Close()
	})
	return r
}

// events closes the audit log and returns its events of the given name.
func (r *rig) events(t *testing.T, name string) []map[string]any {
	t.Helper()
	if !r.done {
		r.done = true
		r.g.Close()
		r.alog.Close()
		for _, line := range strings.Split(strings.TrimSpace(r.buf.b.String()), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("audit line %q: %v", line, err)
			}
			r.all = append(r.all, m)
		}
	}
	var out []map[string]any
	for _, m := range r.all {
		if m["msg"] == name {
			out = append(out, m)
		}
	}
	return out
}

func full(a netip.AddrPort) tcpip.FullAddress {
	return tcpip.FullAddress{Addr: netstack.ToAddr(a.Addr()), Port: a.Port()}
}

func proto(a netip.AddrPort) tcpip.NetworkProtocolNumber {
	if a.Addr().Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

// echoServer is a host TCP server on 127.0.0.1 that answers each
// connection with "echo:" and what it read until EOF.
func echoServer(t *testing.T) netip.AddrPort {
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
				b, _ := io.ReadAll(c)
				c.Write(append([]byte("echo:"), b...))
			}()
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String())
}

func mustRules(t *testing.T, specs ...string) []Rule {
	var rs []Rule
	for _, s := range specs {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// guestDial connects from the guest stack and exchanges msg with the
// echo server; it returns the answer or the dial error.
func guestExchange(r *rig, dst netip.AddrPort, msg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, r.guest.Stack, full(dst), proto(dst))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	c.CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestEgressTCP(t *testing.T) {
	srv := echoServer(t)
	port := srv.Port()
	gw := netip.AddrPortFrom(netstack.GatewayAddr4, port)
	tests := []struct {
		name    string
		policy  Policy
		dst     netip.AddrPort
		allowed bool
	}{
		{"allowed by address and port", Policy{true, mustRules(t, fmt.Sprintf("127.0.0.1:%d", port))}, gw, true},
		{"allowed by cidr", Policy{true, mustRules(t, "127.0.0.0/8")}, gw, true},
		{"egress without rules", Policy{Egress: true}, gw, true},
		{"allowed over IPv6 gateway to ::1? no: v4 rule", Policy{true, mustRules(t, fmt.Sprintf("127.0.0.1:%d", port))},
			netip.AddrPortFrom(netstack.GatewayAddr6, port), false},
		{"other port", Policy{true, mustRules(t, fmt.Sprintf("127.0.0.1:%d", port+1))}, gw, false},
		{"no egress (publish only)", Policy{}, gw, false},
		{"virtual network address", Policy{Egress: true}, netip.AddrPortFrom(netip.MustParseAddr("10.0.2.77"), port), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{Policy: tc.policy})
			got, err := guestExchange(r, tc.dst, "hello")
			if tc.allowed {
				if err != nil || got != "echo:hello" {
					t.Fatalf("exchange = %q, %v; want echo:hello", got, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("exchange = %q, %v; want connection refused", got, err)
			}
			connects := r.events(t, "net_connect")
			if len(connects) != 1 {
				t.Fatalf("net_connect events %v, want 1", connects)
			}
			ev := connects[0]
			if ev["allowed"] != tc.allowed || ev["proto"] != "tcp" {
				t.Errorf("net_connect %v, want allowed %v", ev, tc.allowed)
			}
			if !tc.allowed && ev["reason"] == nil {
				t.Errorf("denied without a reason: %v", ev)
			}
			if tc.dst.Addr() == netstack.GatewayAddr4 && ev["dst"] != srv.String() {
				t.Errorf("dst %v, want the host's %v", ev["dst"], srv)
			}
			if tc.allowed {
				closes := r.events(t, "net_close")
				if len(closes) != 1 || closes[0]["bytes_from_guest"] != float64(5) || closes[0]["bytes_to_guest"] != float64(10) {
					t.Errorf("net_close %v, want 5 bytes from the guest and 10 to it", closes)
				}
			}
		})
	}
}

// A host port with nothing listening refuses the guest too.
func TestEgressHostRefuses(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dst := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	r := newRig(t, Config{Policy: Policy{Egress: true}})
	_, err = guestExchange(r, netip.AddrPortFrom(netstack.GatewayAddr4, dst.Port()), "x")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %v, want connection refused", err)
	}
}

// udpEcho is a host UDP server on 127.0.0.1 answering "echo:"+datagram.
func udpEcho(t *testing.T) netip.AddrPort {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func TestEgressUDP(t *testing.T) {
	srv := udpEcho(t)
	for _, tc := range []struct {
		name    string
		rule    string
		allowed bool
	}{
		{"allowed", fmt.Sprintf("127.0.0.1:%d", srv.Port()), true},
		{"denied", fmt.Sprintf("127.0.0.1:%d", srv.Port()+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{Policy: Policy{true, mustRules(t, tc.rule)}})
			dst := full(netip.AddrPortFrom(netstack.GatewayAddr4, srv.Port()))
			c, err := gonet.DialUDP(r.guest.Stack, nil, &dst, ipv4.ProtocolNumber)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			if tc.allowed {
				if err != nil || string(buf[:n]) != "echo:ping" {
					t.Fatalf("read %q, %v", buf[:n], err)
				}
			} else if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("read %q, %v; want connection refused (ICMP port unreachable)", buf[:n], err)
			}
			c.Close()
			ev := r.events(t, "net_connect")
			if len(ev) != 1 || ev[0]["allowed"] != tc.allowed || ev[0]["proto"] != "udp" {
				t.Fatalf("net_connect %v", ev)
			}
		})
	}
}

// testDNS is an upstream DNS server on 127.0.0.1 with fixed A records;
// it counts the queries it gets.
type testDNS struct {
	addr    string
	queries atomic.Int32
}

func newTestDNS(t *testing.T, records map[string]netip.Addr) *testDNS {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	d := &testDNS{addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			d.queries.Add(1)
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
			a, ok := records[name]
			rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionAvailable: true}
			var answers []netip.Addr
			switch {
			case !ok:
				rh.RCode = dnsmessage.RCodeNameError
			case q.Type == dnsmessage.TypeA && a.Is4(), q.Type == dnsmessage.TypeAAAA && a.Is6():
				answers = []netip.Addr{a}
			}
			pc.WriteTo(buildDNS(rh, []dnsmessage.Question{q}, answers), from)
		}
	}()
	return d
}

func (d *testDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", d.addr)
	}}
}

// guestQuery sends one A query from the guest to 10.0.2.3:53.
func guestQuery(t *testing.T, r *rig, name string, typ dnsmessage.Type) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	return guestQueryAt(t, r, netstack.DNSAddr4, name, typ)
}

// guestQueryAt sends one query from the guest to server:53.
func guestQueryAt(t *testing.T, r *rig, server netip.Addr, name string, typ dnsmessage.Type) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	dst := full(netip.AddrPortFrom(server, 53))
	c, err := gonet.DialUDP(r.guest.Stack, nil, &dst, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: typ, Class: dnsmessage.ClassINET}
	c.Write(buildDNS(dnsmessage.Header{ID: 77, RecursionDesired: true}, []dnsmessage.Question{q}, nil))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	var msg dnsmessage.Message
	if err := msg.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if msg.ID != 77 || !msg.Response {
		t.Fatalf("answer header %+v", msg.Header)
	}
	var addrs []netip.Addr
	for _, a := range msg.Answers {
		switch b := a.Body.(type) {
		case *dnsmessage.AResource:
			addrs = append(addrs, netip.AddrFrom4(b.A))
		case *dnsmessage.AAAAResource:
			addrs = append(addrs, netip.AddrFrom16(b.AAAA))
		}
	}
	return msg.RCode, addrs
}

// TestDNS: a name allowed by a rule resolves upstream (loopback answers
// rewritten to the gateway) and then matches connections to its address;
// a name no rule allows is NXDOMAIN without an upstream query.
func TestDNS(t *testing.T) {
	srv := echoServer(t)
	up := newTestDNS(t, map[string]netip.Addr{
		"svc.litebox.test":    netip.MustParseAddr("127.0.0.1"),
		"other.litebox.test":  netip.MustParseAddr("192.0.2.7"),
		"denied.litebox.test": netip.MustParseAddr("192.0.2.8"),
	})
	rules := mustRules(t, fmt.Sprintf("svc.litebox.test:%d", srv.Port()), "*.litebox.example", "other.litebox.test", "nope.litebox.test")
	r := newRig(t, Config{Policy: Policy{true, rules}, Resolver: up.resolver()})
	gw := netip.AddrPortFrom(netstack.GatewayAddr4, srv.Port())

	// Before the name is resolved, its address matches no rule.
	if _, err := guestExchange(r, gw, "early"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("connect before resolving: %v, want refused", err)
	}
	rc, addrs := guestQuery(t, r, "svc.litebox.test", dnsmessage.TypeA)
	if rc != dnsmessage.RCodeSuccess || len(addrs) != 1 || addrs[0] != netstack.GatewayAddr4 {
		t.Fatalf("svc: %v %v, want 10.0.2.2", rc, addrs)
	}
	if got, err := guestExchange(r, gw, "late"); err != nil || got != "echo:late" {
		t.Fatalf("connect after resolving: %q, %v", got, err)
	}
	rc, addrs = guestQuery(t, r, "other.litebox.test", dnsmessage.TypeA)
	if rc != dnsmessage.RCodeSuccess || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("192.0.2.7") {
		t.Fatalf("other: %v %v", rc, addrs)
	}
	// An allowed name with no address of the asked family is NODATA.
	rc, addrs = guestQuery(t, r, "other.litebox.test", dnsmessage.TypeAAAA)
	if rc != dnsmessage.RCodeSuccess || len(addrs) != 0 {
		t.Fatalf("other AAAA: %v %v, want NOERROR and no answer", rc, addrs)
	}
	// Allowed but unknown upstream: NXDOMAIN from upstream.
	rc, _ = guestQuery(t, r, "nope.litebox.test", dnsmessage.TypeA)
	if rc != dnsmessage.RCodeNameError {
		t.Fatalf("nope: %v, want NXDOMAIN", rc)
	}
	before := up.queries.Load()
	rc, addrs = guestQuery(t, r, "denied.litebox.test", dnsmessage.TypeA)
	if rc != dnsmessage.RCodeNameError || len(addrs) != 0 {
		t.Fatalf("denied: %v %v, want NXDOMAIN", rc, addrs)
	}
	if up.queries.Load() != before {
		t.Errorf("a denied name was asked upstream")
	}
	dns := r.events(t, "net_dns")
	var sawDenied, sawSvc bool
	for _, ev := range dns {
		if ev["name"] == "denied.litebox.test" && ev["allowed"] == false {
			sawDenied = true
		}
		if ev["name"] == "svc.litebox.test" && ev["allowed"] == true && ev["answers"] == float64(1) {
			sawSvc = true
		}
	}
	if !sawDenied || !sawSvc {
		t.Errorf("net_dns events %v", dns)
	}
	var named bool
	for _, ev := range r.events(t, "net_connect") {
		if ev["allowed"] == true && ev["name"] == "svc.litebox.test" {
			named = true
		}
	}
	if !named {
		t.Errorf("no allowed net_connect names svc.litebox.test")
	}
}

// TestDNSTCP: queries over TCP get the same answers.
func TestDNSTCP(t *testing.T) {
	up := newTestDNS(t, map[string]netip.Addr{"svc.litebox.test": netip.MustParseAddr("192.0.2.1")})
	r := newRig(t, Config{Policy: Policy{Egress: true}, Resolver: up.resolver()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, r.guest.Stack, full(netip.AddrPortFrom(netstack.DNSAddr4, 53)), ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("svc.litebox.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	m := buildDNS(dnsmessage.Header{ID: 9}, []dnsmessage.Question{q}, nil)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(append([]byte{byte(len(m) >> 8), byte(len(m))}, m...))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, int(hdr[0])<<8|int(hdr[1]))
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatal(err)
	}
	var msg dnsmessage.Message
	if err := msg.Unpack(resp); err != nil || len(msg.Answers) != 1 {
		t.Fatalf("answer %+v, %v", msg, err)
	}
	if a := msg.Answers[0].Body.(*dnsmessage.AResource).A; netip.AddrFrom4(a) != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("answer %v", a)
	}
}

func freePort(t *testing.T, network string) uint16 {
	t.Helper()
	var addr string
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = pc.LocalAddr().String()
		pc.Close()
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	return netip.MustParseAddrPort(addr).Port()
}

// TestPublishTCP: a host connection to the published port reaches the
// guest's listener on 0.0.0.0; a guest listener on 127.0.0.1 is not
// reachable (as with Docker).
func TestPublishTCP(t *testing.T) {
	hp := freePort(t, "tcp")
	r := newRig(t, Config{Publish: []Port{{HostIP: DefaultHostIP, HostPort: hp, GuestPort: 8000}}})
	l, err := gonet.ListenTCP(r.guest.Stack, tcpip.FullAddress{Port: 8000}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "guest got %q from %s", b, c.RemoteAddr().(*net.TCPAddr).IP)
	}()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hp), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hi"))
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	c.Close()
	if want := `guest got "hi" from 10.0.2.2`; err != nil || string(b) != want {
		t.Fatalf("host read %q, %v; want %q", b, err, want)
	}
	closes := r.events(t, "net_close")
	if len(closes) != 1 || closes[0]["direction"] != "inbound" || closes[0]["bytes_to_guest"] != float64(2) ||
		closes[0]["bytes_from_guest"] != float64(len(b)) {
		t.Errorf("net_close %v", closes)
	}
}

func TestPublishGuestLoopbackUnreachable(t *testing.T) {
	hp := freePort(t, "tcp")
	r := newRig(t, Config{Publish: []Port{{HostIP: DefaultHostIP, HostPort: hp, GuestPort: 8001}}})
	lo := netip.MustParseAddr("127.0.0.1")
	l, err := gonet.ListenTCP(r.guest.Stack, tcpip.FullAddress{Addr: netstack.ToAddr(lo), Port: 8001}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hp), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if len(b) != 0 {
		t.Fatalf("read %q from a guest listener on its loopback", b)
	}
	_ = err // EOF: the gateway closes the host connection
}

func TestPublishUDP(t *testing.T) {
	hp := freePort(t, "udp")
	r := newRig(t, Config{Publish: []Port{{HostIP: DefaultHostIP, HostPort: hp, GuestPort: 5300, UDP: true}}})
	laddr := tcpip.FullAddress{Port: 5300}
	gc, err := gonet.DialUDP(r.guest.Stack, &laddr, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	go func() {
		buf := make([]byte, 100)
		for {
			n, from, err := gc.ReadFrom(buf)
			if err != nil {
				return
			}
			gc.WriteTo(append([]byte("guest:"), buf[:n]...), from)
		}
	}()
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", hp))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("dgram"))
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "guest:dgram" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}

// TestPublishPortInUse: New fails at once with a clear error.
func TestPublishPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hp := netip.MustParseAddrPort(l.Addr().String()).Port()
	_, err = New(Config{Publish: []Port{{HostIP: DefaultHostIP, HostPort: hp, GuestPort: 80}}})
	if err == nil || !strings.Contains(err.Error(), "already in use") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("New: %v, want one line saying the port is in use", err)
	}
}

// TestEgressIPv6: fd00:0:0:2::2 is the host's ::1.
func TestEgressIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this host: %v", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			b, _ := io.ReadAll(c)
			c.Write(append([]byte("echo:"), b...))
			c.Close()
		}
	}()
	port := netip.MustParseAddrPort(l.Addr().String()).Port()
	r := newRig(t, Config{Policy: Policy{true, mustRules(t, fmt.Sprintf("[::1]:%d", port))}})
	got, err := guestExchange(r, netip.AddrPortFrom(netstack.GatewayAddr6, port), "six")
	if err != nil || got != "echo:six" {
		t.Fatalf("exchange %q, %v", got, err)
	}
	if ev := r.events(t, "net_connect"); len(ev) != 1 || ev[0]["dst"] != fmt.Sprintf("[::1]:%d", port) {
		t.Fatalf("net_connect %v", ev)
	}
}

// TestGuestLoopbackDNS: a resolver on the guest's loopback (127.0.0.53,
// as systemd-resolved's stub in the host's resolv.conf) is answered by
// the gateway with the same policy.
func TestGuestLoopbackDNS(t *testing.T) {
	up := newTestDNS(t, map[string]netip.Addr{"svc.litebox.test": netip.MustParseAddr("192.0.2.1")})
	r := newRig(t, Config{Policy: Policy{true, mustRules(t, "svc.litebox.test")}, Resolver: up.resolver()})
	stub := netip.MustParseAddr("127.0.0.53")
	if err := r.g.ServeGuestLoopbackDNS(r.guest.Stack, []netip.Addr{stub, netip.MustParseAddr("192.0.2.53")}); err != nil {
		t.Fatal(err)
	}
	rc, addrs := guestQueryAt(t, r, stub, "svc.litebox.test", dnsmessage.TypeA)
	if rc != dnsmessage.RCodeSuccess || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("svc at %v: %v %v", stub, rc, addrs)
	}
	if rc, _ := guestQueryAt(t, r, stub, "other.litebox.test", dnsmessage.TypeA); rc != dnsmessage.RCodeNameError {
		t.Fatalf("denied name at %v: %v, want NXDOMAIN", stub, rc)
	}
	// The port stays litebox's.
	fa := tcpip.FullAddress{Addr: netstack.ToAddr(stub), Port: 53}
	if c, err := gonet.DialUDP(r.guest.Stack, &fa, nil, ipv4.ProtocolNumber); err == nil {
		c.Close()
		t.Errorf("the guest could bind %v:53", stub)
	}
}

// TestRecoverFlow: a panic in a flow's goroutine is audited, not fatal.
func TestRecoverFlow(t *testing.T) {
	r := newRig(t, Config{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.g.recoverFlow()
		var m map[string]int
		m["boom"]++ // a bug: assignment to a nil map
	}()
	<-done
	ev := r.events(t, "kernel_error")
	if len(ev) != 1 || ev[0]["where"] != "hostnet" || !strings.Contains(ev[0]["stack"].(string), "TestRecoverFlow") {
		t.Fatalf("kernel_error events %v", ev)
	}
}

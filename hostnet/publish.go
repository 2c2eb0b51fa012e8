package hostnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"github.com/litebox-go/litebox/kernel/netstack"
)

// Port is one published port (-p): the host listens on HostIP:HostPort
// and forwards each connection (or datagram) to the guest's
// 10.0.2.15:GuestPort.
type Port struct {
	HostIP    netip.Addr
	HostPort  uint16
	GuestPort uint16
	UDP       bool
}

func (p Port) String() string {
	proto := "tcp"
	if p.UDP {
		proto = "udp"
	}
	return fmt.Sprintf("%s:%d/%s", netip.AddrPortFrom(p.HostIP, p.HostPort), p.GuestPort, proto)
}

// DefaultHostIP is where a published port listens when the spec names no
// address: the host's loopback only, so that publishing never exposes the
// guest to the network by accident (Docker's default is all addresses).
var DefaultHostIP = netip.MustParseAddr("127.0.0.1")

// ParsePort parses a -p spec in Docker's syntax:
// [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], with an IPv6 HOSTIP in
// brackets ([::1]:8080:80).
func ParsePort(spec string) (Port, error) {
	bad := func(why string) (Port, error) {
		return Port{}, fmt.Errorf("bad --publish %q: %s (want [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp])", spec, why)
	}
	p := Port{HostIP: DefaultHostIP}
	s := spec
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		switch s[i+1:] {
		case "tcp":
		case "udp":
			p.UDP = true
		default:
			return bad("protocol must be tcp or udp")
		}
		s = s[:i]
	}
	var ports string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !strings.HasPrefix(s[end+1:], ":") {
			return bad("want [IPV6]:HOSTPORT:GUESTPORT")
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return bad("bad IPv6 address " + strconv.Quote(s[1:end]))
		}
		p.HostIP, ports = a, s[end+2:]
	} else {
		parts := strings.Split(s, ":")
		switch len(parts) {
		case 2:
			ports = s
		case 3:
			a, err := netip.ParseAddr(parts[0])
			if err != nil || !a.Is4() {
				return bad("bad host address " + strconv.Quote(parts[0]) + " (IPv6 needs brackets)")
			}
			p.HostIP, ports = a, parts[1]+":"+parts[2]
		case 1:
			return bad("HOSTPORT:GUESTPORT required")
		default:
			return bad("too many colons (IPv6 needs brackets)")
		}
	}
	hp, gp, ok := strings.Cut(ports, ":")
	if !ok || strings.Contains(gp, ":") {
		return bad("HOSTPORT:GUESTPORT required")
	}
	var err error
	if p.HostPort, err = parsePort(hp); err != nil {
		return bad("host " + err.Error())
	}
	if p.GuestPort, err = parsePort(gp); err != nil {
		return bad("guest " + err.Error())
	}
	return p, nil
}

// listen binds a published port's host socket. Called by New, before
// litebox's seccomp allowlist exists, so that the filter never needs
// bind or listen.
func listen(p Port) (io.Closer, error) {
	addr := netip.AddrPortFrom(p.HostIP, p.HostPort).String()
	var (
		c   io.Closer
		err error
	)
	if p.UDP {
		c, err = net.ListenPacket("udp", addr)
	} else {
		c, err = net.Listen("tcp", addr)
	}
	if err != nil {
		if errors.Is(err, errAddrInUse) {
			return nil, fmt.Errorf("--publish %s: host port %s is already in use", p, addr)
		}
		return nil, fmt.Errorf("--publish %s: %w", p, err)
	}
	return c, nil
}

// servePublishedTCP accepts host connections on l and splices each with a
// connection the gateway opens to the guest's port.
func (g *Gateway) servePublishedTCP(p Port, l net.Listener) {
	for {
		hc, err := l.Accept()
		if err != nil {
			if !g.isClosed() {
				g.log.Warn("hostnet: published port stopped", "port", p.String(), "err", err)
			}
			return
		}
		release, ok := g.takeFlow()
		if !ok {
			g.audit("net_publish", slog.String("proto", "tcp"), slog.String("port", p.String()),
				slog.String("src", hc.RemoteAddr().String()), slog.Bool("allowed", false),
				slog.String("reason", "too many connections"))
			hc.Close()
			continue
		}
		if !g.enter() {
			release()
			hc.Close()
			return
		}
		go func() {
			defer g.recoverFlow()
			defer g.wg.Done()
			defer release()
			g.forwardPublishedTCP(p, hc)
		}()
	}
}

func (g *Gateway) forwardPublishedTCP(p Port, hc net.Conn) {
	src := hc.RemoteAddr().String()
	gaddr := netstack.GuestAddr4.Addr()
	ctx, cancel := context.WithTimeout(g.ctx, dialTimeout)
	defer cancel()
	gc, err := gonet.DialContextTCP(ctx, g.stack, tcpip.FullAddress{NIC: gatewayNIC, Addr: netstack.ToAddr(gaddr), Port: p.GuestPort}, ipv4.ProtocolNumber)
	if err != nil {
		// Nothing listens on the guest's port (RST) or the guest is gone.
		g.audit("net_publish", slog.String("proto", "tcp"), slog.String("port", p.String()),
			slog.String("src", src), slog.Bool("allowed", true), slog.String("error", err.Error()))
		hc.Close()
		return
	}
	g.audit("net_publish", slog.String("proto", "tcp"), slog.String("port", p.String()),
		slog.String("src", src), slog.Bool("allowed", true))
	start := time.Now()
	tc, ok := hc.(*net.TCPConn)
	if !ok {
		hc.Close()
		gc.Close()
		return
	}
	fromGuest, toGuest := g.splice(gc, tc)
	g.audit("net_close", slog.String("proto", "tcp"), slog.String("direction", "inbound"),
		slog.String("port", p.String()), slog.String("src", src),
		slog.Int64("bytes_from_guest", fromGuest), slog.Int64("bytes_to_guest", toGuest),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()))
}

// udpPeer is one host client of a published UDP port, with the gateway's
// datagram socket to the guest.
type udpPeer struct {
	conn               *gonet.UDPConn
	last               time.Time
	toGuest, fromGuest int64
}

// servePublishedUDP relays datagrams between host clients of pc and the
// guest's port, one gateway socket per client (so the guest's replies
// find their way back), forgotten after udpIdle without traffic.
func (g *Gateway) servePublishedUDP(p Port, pc net.PacketConn) {
	var (
		mu    sync.Mutex
		peers = map[string]*udpPeer{}
	)
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if !g.isClosed() {
				g.log.Warn("hostnet: published port stopped", "port", p.String(), "err", err)
			}
			mu.Lock()
			for _, pe := range peers {
				pe.conn.Close()
			}
			mu.Unlock()
			return
		}
		key := from.String()
		mu.Lock()
		pe := peers[key]
		mu.Unlock()
		if pe == nil {
			release, ok := g.takeFlow()
			if !ok {
				continue
			}
			gaddr := tcpip.FullAddress{NIC: gatewayNIC, Addr: netstack.ToAddr(netstack.GuestAddr4.Addr()), Port: p.GuestPort}
			laddr := tcpip.FullAddress{NIC: gatewayNIC, Addr: netstack.ToAddr(netstack.GatewayAddr4)}
			c, err := gonet.DialUDP(g.stack, &laddr, &gaddr, ipv4.ProtocolNumber)
			if err != nil {
				release()
				g.log.Warn("hostnet: published udp", "port", p.String(), "err", err)
				continue
			}
			if !g.enter() {
				release()
				c.Close()
				continue
			}
			untrack := g.track(c)
			pe = &udpPeer{conn: c, last: time.Now()}
			mu.Lock()
			peers[key] = pe
			mu.Unlock()
			g.audit("net_publish", slog.String("proto", "udp"), slog.String("port", p.String()),
				slog.String("src", key), slog.Bool("allowed", true))
			go func() {
				defer g.recoverFlow()
				defer g.wg.Done()
				defer release()
				defer untrack()
				rbuf := make([]byte, maxDatagram)
				for {
					c.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := c.Read(rbuf)
					mu.Lock()
					idle := time.Since(pe.last) >= udpIdle
					mu.Unlock()
					if err != nil {
						var ne net.Error
						if errors.As(err, &ne) && ne.Timeout() && !idle {
							continue
						}
						break
					}
					if _, err := pc.WriteTo(rbuf[:n], from); err == nil {
						mu.Lock()
						pe.fromGuest += int64(n)
						pe.last = time.Now()
						mu.Unlock()
					}
				}
				mu.Lock()
				delete(peers, key)
				fromGuest, toGuest := pe.fromGuest, pe.toGuest
				mu.Unlock()
				c.Close()
				g.audit("net_close", slog.String("proto", "udp"), slog.String("direction", "inbound"),
					slog.String("port", p.String()), slog.String("src", key),
					slog.Int64("bytes_from_guest", fromGuest), slog.Int64("bytes_to_guest", toGuest))
			}()
		}
		if _, err := pe.conn.Write(buf[:n]); err == nil {
			mu.Lock()
			pe.toGuest += int64(n)
			pe.last = time.Now()
			mu.Unlock()
		}
	}
}

// protoOf is the network protocol of an address.
func protoOf(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() || a.Is4In6() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

// Package hostnet is the only code in litebox that makes host network
// sockets. It is a sandbox's gateway: a second netstack instance on the
// far end of the guest stack's uplink (kernel/netstack's eth0), which
// terminates every flow the guest starts (promiscuous and spoofing, so
// any destination address answers), checks it against the sandbox's
// egress policy and, if allowed, carries it over a host socket of
// litebox's own. It also answers the guest's DNS queries itself (so
// that name-based rules hold) and serves published ports (-p): host
// listeners whose connections it opens into the guest.
//
// Addressing is slirp's: the guest is 10.0.2.15, the gateway 10.0.2.2
// (fd00:0:0:2::2), which stands for the host's loopback, 127.0.0.1
// (::1); the DNS server is 10.0.2.3, though every flow to port 53 is
// answered by the gateway whatever its address. Every decision and every
// closed flow is an audit event.
package hostnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/litebox-go/litebox/kernel/audit"
	"github.com/litebox-go/litebox/kernel/netstack"
)

const gatewayNIC tcpip.NICID = 1

// Bounds of what a guest can make the gateway hold.
const (
	// MaxFlows bounds the flows (TCP connections, UDP associations, DNS
	// exchanges, published-port connections) alive at once; beyond it a
	// new TCP flow is reset and a datagram dropped.
	MaxFlows = 256
	// tcpBuf bounds each gateway TCP endpoint's send and receive buffers.
	tcpBuf = 256 << 10
	// copyBuf is each direction's splice buffer.
	copyBuf = 32 << 10
	// flowCost is what one flow is charged to the sandbox's memory budget:
	// the splice buffers and the gateway endpoint's buffers at their max.
	flowCost = 2*copyBuf + 2*tcpBuf
	// maxDatagram is the largest UDP payload relayed.
	maxDatagram = 65535
	// maxInFlight bounds TCP handshakes being decided at once.
	maxInFlight = 64
)

// Timeouts.
const (
	dialTimeout = 30 * time.Second
	udpIdle     = 60 * time.Second
	dnsIdle     = 10 * time.Second
)

// errAddrInUse is the host's answer for a port already bound.
var errAddrInUse = syscall.EADDRINUSE

// Budget is what flows are charged to: the sandbox's memory budget
// (kernel/mm.Budget). Nil: no charge (MaxFlows still applies).
type Budget interface {
	Charge(n uint64) error
	Uncharge(n uint64)
}

// Config configures a gateway.
type Config struct {
	// Policy decides outbound flows and DNS names.
	Policy Policy
	// Publish are the published ports; their host listeners are bound by
	// New.
	Publish []Port
	// Audit receives the decisions and closed flows; nil: none.
	Audit *audit.Log
	// Log receives diagnostics; nil: none.
	Log *slog.Logger
	// Memory, if set, is charged flowCost per flow.
	Memory Budget
	// Resolver resolves names for the guest's DNS; nil: the host's
	// (pure Go: /etc/hosts and /etc/resolv.conf).
	Resolver *net.Resolver
}

// Gateway is one sandbox's gateway.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	stack  *stack.Stack
	guest  *pipe.Endpoint // Uplink
	names  *nameCache
	res    *net.Resolver
	flows  atomic.Int32
	closed atomic.Bool
	// ctx ends host dials, guest dials and lookups when Close begins.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners []io.Closer            // published ports', in Config.Publish order
	dnsSocks  []io.Closer            // ServeGuestLoopbackDNS's sockets in the guest's stack
	conns     map[io.Closer]struct{} // live host sockets, closed by Close
	wg        sync.WaitGroup
}

// New binds the published ports' host listeners (a port in use is an
// error here, before any guest runs) and builds the gateway stack.
// Nothing is served until Start.
func New(cfg Config) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: cfg.Log, names: newNameCache(nameCacheMax), res: cfg.Resolver,
		conns: map[io.Closer]struct{}{}}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.res == nil {
		g.res = &net.Resolver{PreferGo: true}
	}
	for _, p := range cfg.Publish {
		l, err := listen(p)
		if err != nil {
			g.cancel()
			g.closeListeners()
			return nil, err
		}
		g.listeners = append(g.listeners, l)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	g.stack = s
	guestEnd, gwEnd := pipe.New(tcpip.LinkAddress(netstack.GuestMAC), tcpip.LinkAddress(netstack.GatewayMAC), netstack.UplinkMTU)
	g.guest = guestEnd
	if err := g.setupStack(gwEnd); err != nil {
		g.cancel()
		s.Close()
		g.closeListeners()
		return nil, err
	}
	return g, nil
}

func (g *Gateway) setupStack(ep stack.LinkEndpoint) error {
	s := g.stack
	if err := s.CreateNICWithOptions(gatewayNIC, ep, stack.NICOptions{Name: "gw"}); err != nil {
		return fmt.Errorf("hostnet: gateway NIC: %s", err)
	}
	// Promiscuous: packets to any address are taken; spoofing: replies
	// leave from that address.
	if err := s.SetPromiscuousMode(gatewayNIC, true); err != nil {
		return fmt.Errorf("hostnet: promiscuous mode: %s", err)
	}
	if err := s.SetSpoofing(gatewayNIC, true); err != nil {
		return fmt.Errorf("hostnet: spoofing: %s", err)
	}
	for _, a := range []netip.Prefix{
		netip.PrefixFrom(netstack.GatewayAddr4, 24), netip.PrefixFrom(netstack.DNSAddr4, 24),
		netip.PrefixFrom(netstack.GatewayAddr6, 64),
	} {
		pa := tcpip.ProtocolAddress{Protocol: protoOf(a.Addr()),
			AddressWithPrefix: tcpip.AddressWithPrefix{Address: netstack.ToAddr(a.Addr()), PrefixLen: a.Bits()}}
		if err := s.AddProtocolAddress(gatewayNIC, pa, stack.AddressProperties{}); err != nil {
			return fmt.Errorf("hostnet: gateway address %s: %s", a, err)
		}
	}
	any4, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{}), tcpip.MaskFromBytes(make([]byte, 4)))
	any6, _ := tcpip.NewSubnet(tcpip.AddrFrom16([16]byte{}), tcpip.MaskFromBytes(make([]byte, 16)))
	s.SetRouteTable([]tcpip.Route{{Destination: any4, NIC: gatewayNIC}, {Destination: any6, NIC: gatewayNIC}})
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: tcpBuf, Max: tcpBuf}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: tcpBuf, Max: tcpBuf}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv); err != nil {
		return fmt.Errorf("hostnet: tcp receive buffer: %s", err)
	}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd); err != nil {
		return fmt.Errorf("hostnet: tcp send buffer: %s", err)
	}
	tf := tcp.NewForwarder(s, 0, maxInFlight, g.forwardTCP)
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tf.HandlePacket)
	uf := udp.NewForwarder(s, g.forwardUDP)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, uf.HandlePacket)
	return nil
}

// Uplink is the guest side of the link: netstack.Config.Uplink.
func (g *Gateway) Uplink() stack.LinkEndpoint { return g.guest }

// Start serves the published ports. Call it once the guest stack is
// attached to Uplink.
func (g *Gateway) Start() {
	for i, l := range g.listeners {
		p := g.cfg.Publish[i]
		if !g.enter() {
			return
		}
		go func() {
			defer g.recoverFlow()
			defer g.wg.Done()
			switch l := l.(type) {
			case net.Listener:
				g.servePublishedTCP(p, l)
			case net.PacketConn:
				g.servePublishedUDP(p, l)
			}
		}()
	}
}

// Close stops the listeners, ends every flow and tears the stack down.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if g.closed.Swap(true) {
		g.mu.Unlock()
		return nil
	}
	g.mu.Unlock()
	g.cancel()
	g.closeListeners()
	g.mu.Lock()
	for _, c := range g.dnsSocks {
		c.Close()
	}
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
	g.stack.Destroy()
	return nil
}

func (g *Gateway) closeListeners() {
	for _, l := range g.listeners {
		l.Close()
	}
}

func (g *Gateway) isClosed() bool { return g.closed.Load() }

// enter registers a goroutine serving a flow, which Close waits for;
// false once Close began.
func (g *Gateway) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() {
		return false
	}
	g.wg.Add(1)
	return true
}

// track registers a host socket for Close; the returned func forgets it.
func (g *Gateway) track(c io.Closer) (untrack func()) {
	g.mu.Lock()
	if g.closed.Load() {
		c.Close()
	}
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
	}
}

// takeFlow reserves one flow (MaxFlows and the memory budget).
func (g *Gateway) takeFlow() (release func(), ok bool) {
	if g.isClosed() {
		return nil, false
	}
	if g.flows.Add(1) > MaxFlows {
		g.flows.Add(-1)
		return nil, false
	}
	if g.cfg.Memory != nil {
		if err := g.cfg.Memory.Charge(flowCost); err != nil {
			g.flows.Add(-1)
			return nil, false
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if g.cfg.Memory != nil {
				g.cfg.Memory.Uncharge(flowCost)
			}
			g.flows.Add(-1)
		})
	}, true
}

// recoverFlow, deferred by every goroutine and handler of the gateway,
// ends a flow whose code panicked (a bug) without taking litebox and its
// other sandboxes down.
func (g *Gateway) recoverFlow() {
	if r := recover(); r != nil {
		g.reportPanic(r)
	}
}

// reportPanic logs a recovered panic and audits it as kernel_error with
// the stack, as the kernel's own panics are.
func (g *Gateway) reportPanic(r any) {
	g.log.Error("hostnet: internal error", "panic", r)
	g.cfg.Audit.Critical("kernel_error", slog.String("panic", fmt.Sprint(r)), slog.String("where", "hostnet"),
		slog.String("stack", string(debug.Stack())))
}

func (g *Gateway) audit(event string, attrs ...slog.Attr) { g.cfg.Audit.Event(event, attrs...) }

// hostDest maps the destination the guest addressed to the host's: the
// gateway's addresses are the host's loopback; other addresses of the
// virtual network have nothing behind them (ok false).
func hostDest(dst netip.Addr) (netip.Addr, bool) {
	dst = dst.Unmap()
	switch {
	case dst == netstack.GatewayAddr4:
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	case dst == netstack.GatewayAddr6:
		return netip.IPv6Loopback(), true
	case netstack.GuestAddr4.Masked().Contains(dst), netstack.GuestAddr6.Masked().Contains(dst):
		return netip.Addr{}, false
	case dst.IsUnspecified(), dst.IsMulticast(), dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, false
	}
	return dst, true
}

// halfCloser is a connection whose write side can be shut alone.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// splice copies both ways between the guest-side connection gc and the
// host-side hc until both directions end, then closes both. It returns
// the bytes that went from the guest and to it.
func (g *Gateway) splice(gc, hc halfCloser) (fromGuest, toGuest int64) {
	defer g.track(hc)()
	defer g.track(gc)()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer g.recoverFlow()
		defer wg.Done()
		buf := make([]byte, copyBuf)
		toGuest, _ = io.CopyBuffer(onlyWriter{gc}, onlyReader{hc}, buf)
		gc.CloseWrite()
	}()
	buf := make([]byte, copyBuf)
	var err error
	fromGuest, err = io.CopyBuffer(onlyWriter{hc}, onlyReader{gc}, buf)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		// A reset guest connection: the host side need not drain.
		hc.Close()
	} else {
		hc.CloseWrite()
	}
	wg.Wait()
	gc.Close()
	hc.Close()
	return fromGuest, toGuest
}

// onlyReader and onlyWriter hide ReadFrom/WriteTo so that io.CopyBuffer
// uses the bounded buffer it is given.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

package hostnet

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/litebox-go/litebox/kernel/netstack"
)

const dnsPort = 53

// flow is an outbound flow's addresses, as audited.
type flow struct {
	proto    string
	guestDst netip.AddrPort // what the guest addressed
	dst      netip.AddrPort // the host destination it stands for
	names    []string       // DNS names litebox gave for dst's address
}

func (f flow) attrs() []slog.Attr {
	a := []slog.Attr{slog.String("proto", f.proto), slog.String("dst", f.dst.String())}
	if f.guestDst != f.dst {
		a = append(a, slog.String("guest_dst", f.guestDst.String()))
	}
	if len(f.names) > 0 {
		a = append(a, slog.String("name", f.names[0]))
	}
	return a
}

// decide checks an outbound flow to the guest's destination id and
// audits the decision ("net_connect").
func (g *Gateway) decide(proto string, id stack.TransportEndpointID) (flow, Decision) {
	gd := netip.AddrPortFrom(netstack.FromAddr(id.LocalAddress).Unmap(), id.LocalPort)
	f := flow{proto: proto, guestDst: gd}
	hd, ok := hostDest(gd.Addr())
	var d Decision
	if !ok {
		f.dst = gd
		d = Decision{Reason: "nothing at this address of the virtual network"}
	} else {
		f.dst = netip.AddrPortFrom(hd, gd.Port())
		f.names = g.names.lookup(hd)
		d = g.cfg.Policy.Check(f.dst, f.names)
	}
	attrs := append(f.attrs(), slog.Bool("allowed", d.Allowed))
	if d.Rule != "" {
		attrs = append(attrs, slog.String("rule", d.Rule))
	}
	if d.Reason != "" {
		attrs = append(attrs, slog.String("reason", d.Reason))
	}
	g.audit("net_connect", attrs...)
	return f, d
}

// forwardTCP handles the guest's SYN to any address: DNS (port 53) is
// answered here, an allowed flow is carried over a host connection, a
// denied one is reset (the guest's connect fails with ECONNREFUSED, as
// for a closed port: the guest learns nothing it could not learn from a
// refusing host).
func (g *Gateway) forwardTCP(r *tcp.ForwarderRequest) {
	defer g.recoverFlow()
	id := r.ID()
	if id.LocalPort == dnsPort {
		g.serveDNSTCP(r)
		return
	}
	if !g.enter() {
		r.Complete(true)
		return
	}
	defer g.wg.Done()
	f, d := g.decide("tcp", id)
	if !d.Allowed {
		r.Complete(true)
		return
	}
	release, ok := g.takeFlow()
	if !ok {
		g.audit("net_connect", append(f.attrs(), slog.Bool("allowed", false), slog.String("reason", "too many flows or memory limit"))...)
		r.Complete(true)
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(g.ctx, dialTimeout)
	defer cancel()
	var dialer net.Dialer
	hc, err := dialer.DialContext(ctx, "tcp", f.dst.String())
	if err != nil {
		// A refusing host is a refusal for the guest too; a host that
		// does not answer is silence (the guest's own timeout decides).
		g.audit("net_close", append(f.attrs(), slog.String("error", err.Error()),
			slog.Int64("bytes_from_guest", 0), slog.Int64("bytes_to_guest", 0))...)
		r.Complete(errors.Is(err, syscall.ECONNREFUSED))
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		// The guest gave up (reset) while the host dial ran.
		r.Complete(true)
		hc.Close()
		return
	}
	r.Complete(false)
	gc := gonet.NewTCPConn(&wq, ep)
	start := time.Now()
	out, in := g.splice(gc, hc.(*net.TCPConn))
	g.audit("net_close", append(f.attrs(), slog.Int64("bytes_from_guest", out), slog.Int64("bytes_to_guest", in),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()))...)
}

// forwardUDP handles the guest's first datagram of a new association (it
// runs on the stack's delivery path: nothing here may block). Port 53 is
// litebox's DNS; an allowed association gets a connected host socket; a
// denied one is dropped and answered with ICMP port unreachable
// (returning false), which a connected guest socket reports as
// ECONNREFUSED.
func (g *Gateway) forwardUDP(r *udp.ForwarderRequest) (handled bool) {
	defer func() {
		if r := recover(); r != nil {
			g.reportPanic(r)
			handled = true // dropped
		}
	}()
	id := r.ID()
	if id.LocalPort == dnsPort {
		return g.serveDNSUDP(r)
	}
	f, d := g.decide("udp", id)
	if !d.Allowed {
		return false
	}
	release, ok := g.takeFlow()
	if !ok {
		g.audit("net_connect", append(f.attrs(), slog.Bool("allowed", false), slog.String("reason", "too many flows or memory limit"))...)
		return true // dropped silently: a full gateway is not a refusal
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		release()
		return true
	}
	gc := gonet.NewUDPConn(&wq, ep)
	if !g.enter() {
		gc.Close()
		release()
		return true
	}
	go func() {
		defer g.recoverFlow()
		defer g.wg.Done()
		defer release()
		g.relayUDP(f, gc)
	}()
	return true
}

// relayUDP carries one association until udpIdle passes with no datagram
// either way.
func (g *Gateway) relayUDP(f flow, gc *gonet.UDPConn) {
	defer gc.Close()
	hc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(f.dst))
	if err != nil {
		g.audit("net_close", append(f.attrs(), slog.String("error", err.Error()),
			slog.Int64("bytes_from_guest", 0), slog.Int64("bytes_to_guest", 0))...)
		return
	}
	untrack := g.track(hc)
	defer untrack()
	untrackGuest := g.track(gc)
	defer untrackGuest()
	start := time.Now()
	var last atomicTime
	last.set(start)
	var in int64
	done := make(chan struct{})
	go func() {
		defer g.recoverFlow()
		defer close(done)
		buf := make([]byte, maxDatagram)
		for {
			hc.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := hc.Read(buf)
			if err != nil {
				if isTimeout(err) && time.Since(last.get()) < udpIdle {
					continue
				}
				gc.Close()
				return
			}
			last.set(time.Now())
			if _, err := gc.Write(buf[:n]); err == nil {
				in += int64(n)
			}
		}
	}()
	var out int64
	buf := make([]byte, maxDatagram)
	for {
		gc.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := gc.Read(buf)
		if err != nil {
			if isTimeout(err) && time.Since(last.get()) < udpIdle {
				continue
			}
			break
		}
		last.set(time.Now())
		if _, err := hc.Write(buf[:n]); err == nil {
			out += int64(n)
		}
	}
	hc.Close()
	<-done
	g.audit("net_close", append(f.attrs(), slog.Int64("bytes_from_guest", out), slog.Int64("bytes_to_guest", in),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()))...)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// atomicTime is a time read and written by two goroutines.
type atomicTime struct{ ns atomic.Int64 }

func (t *atomicTime) set(v time.Time) { t.ns.Store(v.UnixNano()) }
func (t *atomicTime) get() time.Time  { return time.Unix(0, t.ns.Load()) }

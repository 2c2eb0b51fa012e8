package hostnet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/litebox-go/litebox/kernel/netstack"
)

// DNS bounds.
const (
	nameCacheMax  = 4096 // addresses remembered with the names they answered
	maxAnswers    = 16   // records per answer (and so under 512 bytes)
	answerTTL     = 60   // seconds
	lookupTimeout = 5 * time.Second
	maxDNSMessage = 4096 // a longer TCP query is refused (a query is short)
)

// nameCache remembers, for each host address litebox's DNS gave the
// guest, the names it was the answer for, so that a connection to the
// address matches the name rules. Bounded: the oldest address goes first.
type nameCache struct {
	mu    sync.Mutex
	max   int
	names map[netip.Addr][]string
	order []netip.Addr
}

func newNameCache(max int) *nameCache {
	return &nameCache{max: max, names: map[netip.Addr][]string{}}
}

func (c *nameCache) add(a netip.Addr, name string) {
	a = a.Unmap()
	c.mu.Lock()
	defer c.mu.Unlock()
	ns, ok := c.names[a]
	if !ok {
		if len(c.order) >= c.max {
			delete(c.names, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, a)
	}
	for _, n := range ns {
		if n == name {
			return
		}
	}
	if len(ns) >= 8 { // a bounded list per address too
		ns = ns[1:]
	}
	c.names[a] = append(ns, name)
}

func (c *nameCache) lookup(a netip.Addr) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names[a.Unmap()]...)
}

// serveDNSUDP answers the guest's DNS queries on one UDP association to
// port 53 (whatever the address: the guest's resolv.conf may name any
// server; only litebox answers).
func (g *Gateway) serveDNSUDP(r *udp.ForwarderRequest) bool {
	release, ok := g.takeFlow()
	if !ok {
		return true
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		release()
		return true
	}
	c := gonet.NewUDPConn(&wq, ep)
	if !g.enter() {
		c.Close()
		release()
		return true
	}
	untrack := g.track(c)
	go func() {
		defer g.recoverFlow()
		defer g.wg.Done()
		defer release()
		defer untrack()
		defer c.Close()
		buf := make([]byte, maxDatagram)
		for {
			c.SetReadDeadline(time.Now().Add(dnsIdle))
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if resp := g.answerDNS(buf[:n], "udp"); resp != nil {
				c.Write(resp)
			}
		}
	}()
	return true
}

// serveDNSTCP answers DNS over TCP (two-byte length prefixes).
func (g *Gateway) serveDNSTCP(r *tcp.ForwarderRequest) {
	if !g.enter() {
		r.Complete(true)
		return
	}
	defer g.wg.Done()
	release, ok := g.takeFlow()
	if !ok {
		r.Complete(true)
		return
	}
	defer release()
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		r.Complete(true)
		return
	}
	r.Complete(false)
	g.serveDNSStream(gonet.NewTCPConn(&wq, ep))
}

// serveDNSStream answers DNS over one TCP connection (two-byte length
// prefixes) until it ends or stays idle for dnsIdle.
func (g *Gateway) serveDNSStream(c net.Conn) {
	untrack := g.track(c)
	defer untrack()
	defer c.Close()
	for {
		c.SetReadDeadline(time.Now().Add(dnsIdle))
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n > maxDNSMessage {
			return
		}
		q := make([]byte, n)
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		resp := g.answerDNS(q, "tcp")
		if resp == nil {
			return
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// ServeGuestLoopbackDNS answers DNS, as on the uplink, at addresses of the
// guest's own loopback (UDP and TCP port 53): the nameservers the guest's
// resolv.conf names there (systemd-resolved's 127.0.0.53), or glibc's
// default 127.0.0.1 when it has none. Queries to them never reach the
// uplink, so without this a host with a loopback resolver would leave the
// guest without names. The sockets live in the guest's stack and are
// litebox's: a guest cannot bind these ports on these addresses.
func (g *Gateway) ServeGuestLoopbackDNS(guest *stack.Stack, addrs []netip.Addr) error {
	for _, a := range addrs {
		if !a.IsLoopback() {
			continue
		}
		fa := tcpip.FullAddress{Addr: netstack.ToAddr(a), Port: dnsPort}
		uc, err := gonet.DialUDP(guest, &fa, nil, protoOf(a))
		if err != nil {
			return fmt.Errorf("hostnet: DNS at %s: %w", a, err)
		}
		l, err := gonet.ListenTCP(guest, fa, protoOf(a))
		if err != nil {
			uc.Close()
			return fmt.Errorf("hostnet: DNS at %s: %w", a, err)
		}
		g.mu.Lock()
		g.dnsSocks = append(g.dnsSocks, uc, l)
		g.mu.Unlock()
		if !g.enter() {
			return nil
		}
		go func() {
			defer g.recoverFlow()
			defer g.wg.Done()
			buf := make([]byte, maxDatagram)
			for {
				n, from, err := uc.ReadFrom(buf)
				if err != nil {
					return
				}
				if resp := g.answerDNS(buf[:n], "udp"); resp != nil {
					uc.WriteTo(resp, from)
				}
			}
		}()
		if !g.enter() {
			return nil
		}
		go func() {
			defer g.recoverFlow()
			defer g.wg.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				release, ok := g.takeFlow()
				if !ok {
					c.Close()
					continue
				}
				if !g.enter() {
					release()
					c.Close()
					return
				}
				go func() {
					defer g.recoverFlow()
					defer g.wg.Done()
					defer release()
					g.serveDNSStream(c)
				}()
			}
		}()
	}
	return nil
}

// answerDNS builds the answer to one query (nil: not worth one). A name
// no rule allows is NXDOMAIN without any upstream query; an allowed name
// is resolved on the host and its loopback addresses are rewritten to
// the gateway's, which stand for them.
func (g *Gateway) answerDNS(query []byte, transport string) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil
	}
	resp := dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, RecursionDesired: h.RecursionDesired,
		RecursionAvailable: true}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || h.OpCode != 0 {
		resp.RCode = dnsmessage.RCodeFormatError
		if err == nil && h.OpCode != 0 {
			resp.RCode = dnsmessage.RCodeNotImplemented
		}
		return buildDNS(resp, qs, nil)
	}
	q := qs[0]
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	attrs := []slog.Attr{slog.String("name", name), slog.String("type", strings.TrimPrefix(q.Type.String(), "Type")),
		slog.String("transport", transport)}
	if q.Class != dnsmessage.ClassINET {
		resp.RCode = dnsmessage.RCodeNotImplemented
		return buildDNS(resp, qs, nil)
	}
	if !g.cfg.Policy.NameAllowed(name) {
		resp.RCode = dnsmessage.RCodeNameError
		g.audit("net_dns", append(attrs, slog.Bool("allowed", false), slog.String("reason", "no --allow rule names it"))...)
		return buildDNS(resp, qs, nil)
	}
	if q.Type != dnsmessage.TypeA && q.Type != dnsmessage.TypeAAAA {
		// Only addresses are resolved for the guest: other types would
		// need a general DNS proxy.
		resp.RCode = dnsmessage.RCodeNotImplemented
		g.audit("net_dns", append(attrs, slog.Bool("allowed", true), slog.String("rcode", "NotImplemented"))...)
		return buildDNS(resp, qs, nil)
	}
	ctx, cancel := context.WithTimeout(g.ctx, lookupTimeout)
	defer cancel()
	// Both families at once: a name with addresses of the other family
	// only must be NODATA (NOERROR, no answer), not NXDOMAIN.
	addrs, err := g.res.LookupNetIP(ctx, "ip", name)
	var answers []netip.Addr
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			resp.RCode = dnsmessage.RCodeNameError
		} else {
			resp.RCode = dnsmessage.RCodeServerFailure
		}
	} else {
		for _, a := range addrs {
			a = a.Unmap()
			if a.Is4() != (q.Type == dnsmessage.TypeA) || len(answers) >= maxAnswers {
				continue
			}
			g.names.add(a, name)
			answers = append(answers, guestView(a))
		}
	}
	attrs = append(attrs, slog.Bool("allowed", true), slog.String("rcode", strings.TrimPrefix(resp.RCode.String(), "RCode")),
		slog.Int("answers", len(answers)))
	g.audit("net_dns", attrs...)
	return buildDNS(resp, qs, answers)
}

// guestView is how the guest sees a host address: the host's loopback is
// the gateway.
func guestView(a netip.Addr) netip.Addr {
	switch {
	case a.Is4() && a.IsLoopback():
		return netstack.GatewayAddr4
	case a.Is6() && a.IsLoopback():
		return netstack.GatewayAddr6
	}
	return a
}

func buildDNS(h dnsmessage.Header, qs []dnsmessage.Question, answers []netip.Addr) []byte {
	b := dnsmessage.NewBuilder(nil, h)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil
	}
	for _, q := range qs {
		if err := b.Question(q); err != nil {
			return nil
		}
	}
	if err := b.StartAnswers(); err != nil {
		return nil
	}
	for _, a := range answers {
		rh := dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: answerTTL}
		var err error
		if a.Is4() {
			err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		} else {
			err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

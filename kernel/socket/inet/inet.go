// Package inet is the AF_INET and AF_INET6 family of the kernel's
// sockets: TCP (SOCK_STREAM), UDP (SOCK_DGRAM) and ICMP echo "ping"
// sockets (SOCK_DGRAM with IPPROTO_ICMP/IPPROTO_ICMPV6) on the sandbox's
// own TCP/IP stack (kernel/netstack, gVisor's netstack), with Linux's
// sockaddr checks, errnos, socket options and poll readiness.
//
// A Socket is a netstack transport endpoint and its waiter.Queue: the
// queue's events drive blocking calls (a channel entry per wait, which a
// signal interrupts with ERESTARTSYS or EINTR as Linux's sock_intr_errno)
// and the kernel's pollers (a function entry that counts wake-ups for
// edge-triggered epoll). Nothing here touches a host socket; packets
// leave the stack only through an uplink the sandbox gave it.
package inet

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/socket"
)

// Linux's limits on this kind of machine.
const (
	// dgramBufDefault is a UDP or ping socket's SO_SNDBUF and SO_RCVBUF
	// (net.core.wmem_default, rmem_default).
	dgramBufDefault = 212992
	// bufOptMax is net.core.wmem_max and rmem_max: the most SO_SNDBUF and
	// SO_RCVBUF take before doubling.
	bufOptMax = 4194304
	// minSndBuf and minRcvBuf are SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF.
	minSndBuf = 4608
	minRcvBuf = 2304
	// maxBacklog bounds listen's backlog (Linux's net.core.somaxconn is
	// 4096; a smaller bound keeps the reservation for pending connections
	// modest, and only a burst of more simultaneous connects notices: their
	// SYNs are retried).
	maxBacklog = 128
	// tcpBufFloor is the least a TCP buffer holds while the guest has not
	// sized it: Linux grows a connection's buffers from their initial
	// 16 KiB and 128 KiB (tcp_wmem, tcp_rmem auto-tuning), so programs
	// count on a peer absorbing more than that before a blocking send
	// waits; netstack's auto-tuning is off (the charge must bound the
	// buffers), so the buffers start bigger instead. SO_SNDBUF and
	// SO_RCVBUF still report Linux's initial values.
	tcpBufFloor = 1 << 20
	// SocketCost is charged to the sandbox's memory per socket beside its
	// buffers (the endpoint's own state).
	SocketCost = 4096
)

// Family is the Internet family of one sandbox: its stack and the
// kernel's hooks.
type Family struct {
	stack  *netstack.Stack
	charge func(int64) error // the sandbox's memory budget
	notify func()            // wakes pollers (poll, select, epoll)
	// unsupported records a guest request refused for lack of support
	// (the kernel logs and audits it).
	unsupported func(what string)
	lite        liteNet // UDP-Lite's private stack (udplite.go)
}

// New returns the family of a sandbox whose stack is st; charge takes
// (n > 0) or gives back (n < 0) memory.
func New(st *netstack.Stack, charge func(int64) error, notify func(), unsupported func(string)) *Family {
	return &Family{stack: st, charge: charge, notify: notify, unsupported: unsupported}
}

// Socket is one AF_INET or AF_INET6 socket.
type Socket struct {
	fam    *Family
	domain int
	typ    int
	proto  int // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6

	// ep is the netstack endpoint (endpoint() reads it): replaced only
	// when a TCP socket whose connect failed connects again (renew), so
	// pollers racing with that see the old or the new one, never a torn
	// value.
	ep    atomic.Pointer[epHolder]
	wq    *waiter.Queue
	entry waiter.Entry // counts wake-ups and wakes pollers
	wakes atomic.Uint64

	mu     sync.Mutex
	sndbuf int // SO_SNDBUF as Linux reports it
	rcvbuf int
	// sndSet, rcvSet: the guest set SO_SNDBUF, SO_RCVBUF (the buffer is
	// then exactly that size; see tcpBufFloor).
	sndSet, rcvSet bool
	listening      bool  // listen succeeded (or is being tried)
	charged        int64 // what the socket holds of the memory budget
	// acceptPeer is the peer's address when accept returned the socket
	// (accept reports it even if the connection has ended since).
	acceptPeer []byte
	// listenCharged is a listener's reservation for its backlog.
	listenCharged int64
	rcvtimeo      time.Duration
	sndtimeo      time.Duration
	oobin         bool
	priority      int
	ttl           int // IP_TTL, IPV6_UNICAST_HOPS; 0: the default
	tos           int
	bound         bool // bind or an implicit bind gave it a port
	shut          int  // shutRead, shutWrite: what shutdown closed
	// errReported: a connection error was reported to the guest (TCP's
	// POLLERR ends then).
	errReported bool
	released    bool
	// connFailed: connect(2) reported this socket's failed connection,
	// so the next connect renews the endpoint; bindAddr is what bind
	// gave it (kept across a renewal).
	connFailed bool
	bindAddr   *tcpip.FullAddress
}

// epHolder boxes an endpoint for the atomic pointer.
type epHolder struct{ tcpip.Endpoint }

// endpoint is the socket's current netstack endpoint.
func (s *Socket) endpoint() tcpip.Endpoint { return s.ep.Load().Endpoint }

// netProto is a domain's network protocol.
func netProto(domain int) tcpip.NetworkProtocolNumber {
	if domain == unix.AF_INET6 {
		return ipv6.ProtocolNumber
	}
	return ipv4.ProtocolNumber
}

// transport chooses the transport protocol as inet_create does: type and
// protocol must agree (EPROTONOSUPPORT), SOCK_RAW needs CAP_NET_RAW
// (EPERM, the guest never has it), other types are ESOCKTNOSUPPORT.
func transport(domain, typ, proto int) (tcpip.TransportProtocolNumber, int, error) {
	icmpProto := unix.IPPROTO_ICMP
	if domain == unix.AF_INET6 {
		icmpProto = unix.IPPROTO_ICMPV6
	}
	switch typ {
	case unix.SOCK_STREAM:
		if proto == 0 || proto == unix.IPPROTO_TCP {
			return tcp.ProtocolNumber, unix.IPPROTO_TCP, nil
		}
	case unix.SOCK_DGRAM:
		switch proto {
		case 0, unix.IPPROTO_UDP:
			return udp.ProtocolNumber, unix.IPPROTO_UDP, nil
		case icmpProto:
			if domain == unix.AF_INET6 {
				return icmp.ProtocolNumber6, proto, nil
			}
			return icmp.ProtocolNumber4, proto, nil
		}
	case unix.SOCK_RAW:
		return 0, 0, unix.EPERM
	default:
		return 0, 0, unix.ESOCKTNOSUPPORT
	}
	return 0, 0, unix.EPROTONOSUPPORT
}

// New makes a socket of domain (AF_INET, AF_INET6), type and protocol;
// ENOBUFS without memory for it (Linux's sk_alloc failing).
func (f *Family) New(domain, typ, proto int) (*Socket, error) {
	if typ == unix.SOCK_DGRAM && proto == unix.IPPROTO_UDPLITE {
		return f.newUDPLite(domain)
	}
	tp, ipproto, err := transport(domain, typ, proto)
	if err != nil {
		if err == unix.EPROTONOSUPPORT && (proto == unix.IPPROTO_UDPLITE || proto == unix.IPPROTO_SCTP ||
			proto == unix.IPPROTO_MPTCP) {
			f.unsupported("socket protocol (UDP-Lite, SCTP, MPTCP)")
		}
		return nil, err
	}
	s := &Socket{fam: f, domain: domain, typ: typ, proto: ipproto, wq: &waiter.Queue{}}
	s.sndbuf, s.rcvbuf = dgramBufDefault, dgramBufDefault
	if typ == unix.SOCK_STREAM {
		s.sndbuf, s.rcvbuf = netstack.TCPSendBufDefault, netstack.TCPRecvBufDefault
	}
	if err := s.chargeBuffers(); err != nil {
		return nil, err
	}
	ep, terr := f.stack.NewEndpoint(tp, netProto(domain), s.wq)
	if terr != nil {
		s.uncharge()
		return nil, errno(terr)
	}
	s.init(ep)
	return s, nil
}

// init attaches the endpoint: buffer sizes and the poller entry.
func (s *Socket) init(ep tcpip.Endpoint) {
	s.ep.Store(&epHolder{ep})
	snd, rcv := s.actual()
	ep.SocketOptions().SetSendBufferSize(int64(snd), true)
	ep.SocketOptions().SetReceiveBufferSize(int64(rcv), true)
	s.entry = waiter.NewFunctionEntry(waiter.EventIn|waiter.EventOut|waiter.EventErr|waiter.EventHUp|waiter.EventRdHUp|waiter.EventPri,
		func(waiter.EventMask) {
			s.wakes.Add(1)
			if s.fam.notify != nil {
				s.fam.notify()
			}
		})
	s.wq.EventRegister(&s.entry)
}

// chargeBuffers charges the socket and its buffers to the memory budget.
func (s *Socket) chargeBuffers() error {
	snd, rcv := s.actual()
	n := int64(SocketCost + snd + rcv)
	if err := s.fam.charge(n); err != nil {
		return unix.ENOBUFS
	}
	s.charged = n
	return nil
}

// recharge makes the socket's buffers sndbuf and rcvbuf as reported (set:
// which one the guest sized, SO_SNDBUF or SO_RCVBUF; 0: none) and moves
// the charge to their actual sizes (s.mu held); ENOBUFS changes nothing.
func (s *Socket) recharge(sndbuf, rcvbuf, set int) error {
	oldSnd, oldRcv, oldSndSet, oldRcvSet := s.sndbuf, s.rcvbuf, s.sndSet, s.rcvSet
	s.sndbuf, s.rcvbuf = sndbuf, rcvbuf
	s.sndSet = s.sndSet || set == unix.SO_SNDBUF
	s.rcvSet = s.rcvSet || set == unix.SO_RCVBUF
	snd, rcv := s.actual()
	n := int64(SocketCost + snd + rcv)
	if d := n - s.charged; d > 0 {
		if err := s.fam.charge(d); err != nil {
			s.sndbuf, s.rcvbuf, s.sndSet, s.rcvSet = oldSnd, oldRcv, oldSndSet, oldRcvSet
			return unix.ENOBUFS
		}
	} else {
		s.fam.charge(d)
	}
	s.charged = n
	return nil
}

// actual is the size of the socket's netstack buffers: what SO_SNDBUF
// and SO_RCVBUF report, or for a TCP buffer the guest has not sized at
// least tcpBufFloor (not on a listener, whose receive buffer is what
// connections waiting for accept get).
func (s *Socket) actual() (snd, rcv int) {
	snd, rcv = s.sndbuf, s.rcvbuf
	if s.stream() && !s.listening {
		if !s.sndSet {
			snd = max(snd, tcpBufFloor)
		}
		if !s.rcvSet {
			rcv = max(rcv, tcpBufFloor)
		}
	}
	return snd, rcv
}

func (s *Socket) uncharge() {
	s.fam.charge(-(s.charged + s.listenCharged))
	s.charged, s.listenCharged = 0, 0
}

// Family is AF_INET or AF_INET6.
func (s *Socket) Family() int { return s.domain }

// Type is SOCK_STREAM or SOCK_DGRAM.
func (s *Socket) Type() int { return s.typ }

// Protocol is the IPPROTO_ number.
func (s *Socket) Protocol() int { return s.proto }

func (s *Socket) stream() bool { return s.typ == unix.SOCK_STREAM }

// Bind names the socket. Linux lets an AF_INET socket bind AF_UNSPEC
// with INADDR_ANY (old programs do).
func (s *Socket) Bind(_ *socket.Caller, raw []byte) error {
	if s.domain == unix.AF_INET && len(raw) >= sizeofSockaddrIn && sockaddrFamily(raw) == unix.AF_UNSPEC &&
		bytes.Equal(raw[4:8], []byte{0, 0, 0, 0}) {
		raw = bytes.Clone(raw)
		raw[0], raw[1] = byte(unix.AF_INET), 0
	}
	a, err := parseAddr(s.domain, raw)
	if err != nil {
		return err
	}
	if terr := s.endpoint().Bind(a); terr != nil {
		if _, ok := terr.(*tcpip.ErrAlreadyBound); ok {
			return unix.EINVAL
		}
		return errno(terr)
	}
	s.mu.Lock()
	s.bound = true
	s.bindAddr = &a
	s.mu.Unlock()
	return nil
}

// Listen makes a TCP socket accept connections (an unbound one gets an
// ephemeral port, as Linux's inet_autobind).
func (s *Socket) Listen(_ *socket.Caller, backlog int) error {
	if !s.stream() {
		return unix.EOPNOTSUPP
	}
	if uint32(backlog) > maxBacklog {
		backlog = maxBacklog
	}
	// Connections waiting for accept hold netstack endpoints and received
	// data no socket of the guest's is charged for yet: the listener
	// reserves room for a full backlog (Linux takes backlog+1), each
	// with its receive buffer, until it closes.
	s.mu.Lock()
	first := !s.listening
	if first {
		s.listening = true
		if err := s.recharge(s.sndbuf, s.rcvbuf, 0); err != nil {
			s.listening = false
			s.mu.Unlock()
			return err
		}
		snd, rcv := s.actual()
		s.endpoint().SocketOptions().SetSendBufferSize(int64(snd), true)
		s.endpoint().SocketOptions().SetReceiveBufferSize(int64(rcv), true)
	}
	_, rcv := s.actual()
	reserve := int64(backlog+1) * int64(SocketCost+rcv)
	if d := reserve - s.listenCharged; d > 0 {
		if err := s.fam.charge(d); err != nil {
			if first { // back to a plain socket's buffers
				s.listening = false
				if s.recharge(s.sndbuf, s.rcvbuf, 0) == nil {
					snd, rcv := s.actual()
					s.endpoint().SocketOptions().SetSendBufferSize(int64(snd), true)
					s.endpoint().SocketOptions().SetReceiveBufferSize(int64(rcv), true)
				}
			}
			s.mu.Unlock()
			return unix.ENOBUFS
		}
		s.listenCharged = reserve
	}
	s.mu.Unlock()
	if terr := s.endpoint().Listen(backlog); terr != nil {
		if _, ok := terr.(*tcpip.ErrInvalidEndpointState); ok {
			return unix.EINVAL
		}
		return errno(terr)
	}
	return nil
}

// Accept takes the next established connection.
func (s *Socket) Accept(c *socket.Caller, nonblock bool) (socket.Socket, error) {
	if !s.stream() {
		return nil, unix.EOPNOTSUPP
	}
	s.mu.Lock()
	dl := deadline(s.rcvtimeo)
	sndbuf, rcvbuf, sndSet, rcvSet := s.sndbuf, s.rcvbuf, s.sndSet, s.rcvSet
	s.mu.Unlock()
	var ep tcpip.Endpoint
	var wq *waiter.Queue
	var peer tcpip.FullAddress
	err := s.wait(c, waiter.ReadableEvents, nonblock, dl, func() tcpip.Error {
		var terr tcpip.Error
		ep, wq, terr = s.endpoint().Accept(&peer)
		return terr
	})
	if err != nil {
		if err == unix.ENOTCONN || err == unix.EOPNOTSUPP {
			return nil, unix.EINVAL // not listening
		}
		return nil, err
	}
	n := &Socket{fam: s.fam, domain: s.domain, typ: s.typ, proto: s.proto, wq: wq, sndbuf: sndbuf, rcvbuf: rcvbuf,
		sndSet: sndSet, rcvSet: rcvSet, bound: true, acceptPeer: encodeAddr(s.domain, peer)}
	if err := n.chargeBuffers(); err != nil {
		ep.Close()
		return nil, err
	}
	n.init(ep)
	return n, nil
}

// Connect connects a TCP socket (waiting for the handshake unless
// nonblock: EINPROGRESS, the result in SO_ERROR), or sets a datagram
// socket's default destination (AF_UNSPEC: none).
func (s *Socket) Connect(c *socket.Caller, raw []byte, nonblock bool) error {
	if sockaddrFamily(raw) == unix.AF_UNSPEC && len(raw) >= 2 {
		if s.stream() {
			return s.disconnectStream()
		}
		_ = s.endpoint().Disconnect()
		return nil
	}
	a, err := parseAddr(s.domain, raw)
	if err != nil {
		return err
	}
	if !s.stream() {
		if terr := s.endpoint().Connect(a); terr != nil {
			return errno(terr)
		}
		s.markBound()
		return nil
	}
	if s.domain == unix.AF_INET6 && s.endpoint().SocketOptions().GetV6Only() && isV4Mapped(a.Addr.AsSlice()) {
		return unix.ENETUNREACH // a v6-only socket has no route to a v4 address (ip6_datagram_connect)
	}
	s.mu.Lock()
	dl := deadline(s.sndtimeo)
	renew := s.connFailed && tcp.EndpointState(s.endpoint().State()) == tcp.StateError
	s.connFailed = false
	s.mu.Unlock()
	if renew {
		if err := s.renew(); err != nil {
			return err
		}
	}
	e, ch := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventErr | waiter.EventHUp)
	s.wq.EventRegister(&e)
	defer s.wq.EventUnregister(&e)
	// netstack keeps Linux's bookkeeping of a connect's result: a connect
	// on a socket whose connection was established since the last one
	// succeeds once (then EISCONN), on a failed one reports the error.
	terr := s.endpoint().Connect(a)
	s.markBound()
	switch terr.(type) {
	case nil:
		return nil
	case *tcpip.ErrConnectStarted:
	default:
		return s.connectError(terr)
	}
	if nonblock {
		return unix.EINPROGRESS
	}
	var timer <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		timer = t.C
	}
	for s.handshaking() {
		select {
		case <-ch:
		case <-timer:
			return unix.EINPROGRESS // Linux's timed-out connect (SO_SNDTIMEO)
		case <-c.Ctx.Done():
			if !dl.IsZero() {
				return unix.EINTR
			}
			return socket.ERESTARTSYS
		}
	}
	return s.connectError(s.endpoint().Connect(a))
}

// renew gives a TCP socket whose connect failed a fresh endpoint: Linux
// lets such a socket (state CLOSE) connect again, netstack's endpoint
// stays in its error state. The options the guest set carry over; an
// address it bound explicitly is bound again (Linux keeps a bind's
// address and port locked across the failure, and releases an implicit
// one). The charge is the socket's and does not change.
func (s *Socket) renew() error {
	old := s.endpoint()
	ep, terr := s.fam.stack.NewEndpoint(tcp.ProtocolNumber, netProto(s.domain), s.wq)
	if terr != nil {
		return errno(terr)
	}
	so, no := old.SocketOptions(), ep.SocketOptions()
	no.SetReuseAddress(so.GetReuseAddress())
	no.SetReusePort(so.GetReusePort())
	no.SetKeepAlive(so.GetKeepAlive())
	no.SetBroadcast(so.GetBroadcast())
	no.SetLinger(so.GetLinger())
	no.SetDelayOption(so.GetDelayOption())
	no.SetCorkOption(so.GetCorkOption())
	no.SetQuickAck(so.GetQuickAck())
	no.SetIPv4RecvError(so.GetIPv4RecvError())
	no.SetIPv6RecvError(so.GetIPv6RecvError())
	if s.domain == unix.AF_INET6 {
		no.SetV6Only(so.GetV6Only())
	}
	for _, o := range []tcpip.SockOptInt{tcpip.KeepaliveCountOption, tcpip.IPv4TTLOption, tcpip.IPv4TOSOption, tcpip.IPv6HopLimitOption} {
		if v, err := old.GetSockOptInt(o); err == nil {
			_ = ep.SetSockOptInt(o, v) // an option of the other family: nothing to carry
		}
	}
	var idle tcpip.KeepaliveIdleOption
	if old.GetSockOpt(&idle) == nil {
		_ = ep.SetSockOpt(&idle)
	}
	var intvl tcpip.KeepaliveIntervalOption
	if old.GetSockOpt(&intvl) == nil {
		_ = ep.SetSockOpt(&intvl)
	}
	var uto tcpip.TCPUserTimeoutOption
	if old.GetSockOpt(&uto) == nil {
		_ = ep.SetSockOpt(&uto)
	}
	s.wq.EventUnregister(&s.entry)
	old.Close()
	s.init(ep)
	s.mu.Lock()
	bind := s.bindAddr
	s.bound = bind != nil
	s.mu.Unlock()
	if bind != nil {
		if terr := ep.Bind(*bind); terr != nil {
			return errno(terr)
		}
	}
	return nil
}

// handshaking reports a connect under way.
func (s *Socket) handshaking() bool {
	st := tcp.EndpointState(s.endpoint().State())
	return st == tcp.StateConnecting || st == tcp.StateSynSent || st == tcp.StateSynRecv
}

// connectError is the errno of a connect's result; a failure's error is
// consumed (SO_ERROR reads 0 afterwards, as Linux's sock_error).
func (s *Socket) connectError(terr tcpip.Error) error {
	if terr == nil {
		return nil
	}
	if tcp.EndpointState(s.endpoint().State()) == tcp.StateError {
		// connect(2) itself reported the failed connection: as Linux's
		// sock_error path (SS_UNCONNECTED), the next connect starts anew.
		s.mu.Lock()
		s.connFailed = true
		s.mu.Unlock()
	}
	s.drainError()
	return errno(terr)
}

// drainError reads and clears the socket's pending error: netstack keeps
// a failed connection's error twice (hard error and last error), Linux
// once (sk_err).
func (s *Socket) drainError() tcpip.Error {
	first := s.endpoint().LastError()
	if first != nil {
		_ = s.endpoint().LastError()
		s.noteError(errno(first))
	}
	return first
}

// disconnectStream is connect(AF_UNSPEC) on TCP: Linux aborts the
// connection; netstack cannot reuse the endpoint, so an unconnected one
// is left alone and a connected one is refused.
func (s *Socket) disconnectStream() error {
	st := tcp.EndpointState(s.endpoint().State())
	if st == tcp.StateInitial || st == tcp.StateBound || st == tcp.StateClose {
		return nil
	}
	s.fam.unsupported("connect(AF_UNSPEC) on a connected TCP socket")
	return unix.EOPNOTSUPP
}

// Name returns the bound address.
func (s *Socket) Name() []byte {
	a, err := s.endpoint().GetLocalAddress()
	if err != nil {
		a = tcpip.FullAddress{}
	}
	return encodeAddr(s.domain, a)
}

// AcceptedPeer is the address accept(2) reports for a socket it returned.
func (s *Socket) AcceptedPeer() []byte { return s.acceptPeer }

// PeerName returns the peer's address; ENOTCONN without one.
func (s *Socket) PeerName() ([]byte, error) {
	a, terr := s.endpoint().GetRemoteAddress()
	if terr != nil {
		return nil, unix.ENOTCONN
	}
	return encodeAddr(s.domain, a), nil
}

// Shutdown closes directions of the socket.
func (s *Socket) Shutdown(how int) error {
	var f tcpip.ShutdownFlags
	switch how {
	case unix.SHUT_RD:
		f = tcpip.ShutdownRead
	case unix.SHUT_WR:
		f = tcpip.ShutdownWrite
	case unix.SHUT_RDWR:
		f = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return unix.EINVAL
	}
	if terr := s.endpoint().Shutdown(f); terr != nil {
		return errno(terr)
	}
	s.mu.Lock()
	if f&tcpip.ShutdownRead != 0 {
		s.shut |= shutRead
	}
	if f&tcpip.ShutdownWrite != 0 {
		s.shut |= shutWrite
	}
	s.mu.Unlock()
	return nil
}

// Readiness is the socket's poll events. Datagram sockets report
// netstack's mask; TCP follows Linux's tcp_poll where netstack differs: an
// unconnected socket is writable and hung up, a socket shut for reading
// is readable with RDHUP (HUP when shut both ways), a finished connection
// is ready for everything but out-of-band data, with POLLERR only while
// its error has not been reported (SO_ERROR, connect, recv or send).
func (s *Socket) Readiness() int16 {
	ev := s.endpoint().Readiness(waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventRdHUp |
		waiter.EventPri)
	out := int16(ev.ToLinux())
	if s.stream() {
		s.mu.Lock()
		shut, reported := s.shut, s.errReported
		s.mu.Unlock()
		switch tcp.EndpointState(s.endpoint().State()) {
		case tcp.StateInitial, tcp.StateBound:
			out = unix.POLLOUT | unix.POLLHUP
		case tcp.StateClose, tcp.StateTimeWait, tcp.StateError:
			out = unix.POLLIN | unix.POLLRDHUP | unix.POLLOUT | unix.POLLHUP
			if tcp.EndpointState(s.endpoint().State()) == tcp.StateError && !reported {
				out |= unix.POLLERR
			}
		}
		if shut&shutRead != 0 {
			out |= unix.POLLIN | unix.POLLRDHUP
		}
		if shut == shutRead|shutWrite {
			out |= unix.POLLHUP
		}
	}
	if out&unix.POLLIN != 0 {
		out |= pollRdNorm
	}
	if out&unix.POLLOUT != 0 {
		out |= pollWrNorm
	}
	return out
}

// Own shutdown directions (Socket.shut).
const (
	shutRead  = 1
	shutWrite = 2
)

// noteError records that a connection error reached the guest (POLLERR
// ends, as Linux clears sk_err when it reports it).
func (s *Socket) noteError(err error) {
	switch err {
	case unix.ECONNRESET, unix.ECONNREFUSED, unix.ETIMEDOUT, unix.ECONNABORTED, unix.EHOSTUNREACH, unix.ENETUNREACH:
		s.mu.Lock()
		s.errReported = true
		s.mu.Unlock()
	}
}

// Poll bits x/sys/unix does not export.
const (
	pollRdNorm = 0x40
	pollWrNorm = 0x100
)

// WakeCount counts the socket's wake-ups.
func (s *Socket) WakeCount() uint64 { return s.wakes.Load() }

// Inq answers SIOCINQ: bytes queued (TCP) or the next datagram's length;
// EINVAL on a listener.
func (s *Socket) Inq() (int, error) {
	if s.stream() && tcp.EndpointState(s.endpoint().State()) == tcp.StateListen {
		return 0, unix.EINVAL
	}
	n, terr := s.endpoint().GetSockOptInt(tcpip.ReceiveQueueSizeOption)
	if terr != nil {
		return 0, errno(terr)
	}
	return n, nil
}

// Outq answers SIOCOUTQ: bytes sent and not yet acknowledged (UDP: not
// yet sent); EOPNOTSUPP on TCP, which netstack does not tell.
func (s *Socket) Outq() (int, error) {
	if s.stream() && tcp.EndpointState(s.endpoint().State()) == tcp.StateListen {
		return 0, unix.EINVAL
	}
	if !s.stream() {
		return 0, nil // netstack sends a datagram within the send call
	}
	n, terr := s.endpoint().GetSockOptInt(tcpip.SendQueueSizeOption)
	if _, ok := terr.(*tcpip.ErrUnknownProtocolOption); ok {
		// netstack's TCP does not expose its unacknowledged bytes.
		s.fam.unsupported("SIOCOUTQ on a TCP socket")
		return 0, unix.EOPNOTSUPP
	}
	if terr != nil {
		return 0, errno(terr)
	}
	return n, nil
}

// Release is the last close: the endpoint closes (a TCP connection
// finishes or, with SO_LINGER 0, resets) and the charge is given back.
func (s *Socket) Release() {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	s.released = true
	s.mu.Unlock()
	s.wq.EventUnregister(&s.entry)
	s.endpoint().Close()
	s.mu.Lock()
	s.uncharge()
	s.mu.Unlock()
}

// deadline is when a wait of timeout ends (zero time: never).
func deadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
}

// wait runs try until it does not say ErrWouldBlock, waiting for mask on
// the socket's queue in between: EAGAIN when nonblock or at the deadline,
// ERESTARTSYS (EINTR for a wait with a timeout) when the caller is
// interrupted. try's other errors are returned as errnos.
func (s *Socket) wait(c *socket.Caller, mask waiter.EventMask, nonblock bool, dl time.Time, try func() tcpip.Error) error {
	terr := try()
	if _, ok := terr.(*tcpip.ErrWouldBlock); !ok {
		return errno(terr)
	}
	if nonblock {
		return unix.EAGAIN
	}
	e, ch := waiter.NewChannelEntry(mask)
	s.wq.EventRegister(&e)
	defer s.wq.EventUnregister(&e)
	var timer <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return unix.EAGAIN
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	for {
		terr = try()
		if _, ok := terr.(*tcpip.ErrWouldBlock); !ok {
			return errno(terr)
		}
		select {
		case <-ch:
		case <-timer:
			return unix.EAGAIN
		case <-c.Ctx.Done():
			if !dl.IsZero() {
				return unix.EINTR
			}
			return socket.ERESTARTSYS
		}
	}
}

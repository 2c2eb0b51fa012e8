package inet

// UDP-Lite (RFC 3828, IPPROTO_UDPLITE): netstack has no UDP-Lite
// protocol, so a UDP-Lite socket is the family's ordinary datagram
// Socket on a netstack UDP endpoint of a second, private stack that only
// the family's UDP-Lite sockets use. That stack gives UDP-Lite its own
// port namespace, and every datagram behaviour (bind, connect, sendto,
// recvfrom, peek, truncation, timeouts, non-blocking calls, poll
// readiness, shutdown, buffer charging) is the UDP socket's. The private
// stack has only a loopback interface holding the sandbox's own
// addresses (127.0.0.0/8, ::1 and, with an uplink, the guest's eth0
// addresses): UDP-Lite reaches only the sandbox itself. Its datagrams
// carry their checksum coverage (what UDPLITE_SEND_CSCOV made it) in a
// 2-byte prefix the endpoint wrapper adds and strips, so a receiver with
// UDPLITE_RECV_CSCOV drops datagrams covered less than it asks, as Linux's
// udp_queue_rcv_one_skb. The loopback never corrupts a datagram, so no
// partial checksum is computed.

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/litebox-go/litebox/kernel/netstack"
)

// Linux's UDP-Lite socket options (include/uapi/linux/udp.h).
const (
	udpliteSendCscov = 10
	udpliteRecvCscov = 11
)

// udpHdrLen is the UDP(-Lite) header a coverage counts (coverage is in
// bytes from the header's start).
const udpHdrLen = 8

// covLen is the coverage prefix of every datagram on the private stack.
const covLen = 2

// liteNet is the family's private UDP-Lite stack, made on first use.
type liteNet struct {
	mu     sync.Mutex
	st     *netstack.Stack
	closed bool
}

// liteStack returns the private stack, made on first use; ENOBUFS once
// the family is closed or if it cannot be made.
func (f *Family) liteStack() (*netstack.Stack, error) {
	f.lite.mu.Lock()
	defer f.lite.mu.Unlock()
	if f.lite.closed {
		return nil, unix.ENOBUFS
	}
	if f.lite.st != nil {
		return f.lite.st, nil
	}
	st, err := netstack.New(netstack.Config{})
	if err != nil {
		return nil, unix.ENOBUFS
	}
	if f.stack != nil && f.stack.HasUplink() {
		// The guest's own eth0 addresses are local too (bind, and
		// traffic between them, as on Linux's local routing table).
		for _, a := range f.stack.UplinkAddrs() {
			proto := ipv4.ProtocolNumber
			if a.Addr().Is6() {
				proto = ipv6.ProtocolNumber
			}
			ta := netstack.ToAddr(a.Addr())
			pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: ta, PrefixLen: a.Addr().BitLen()}}
			if terr := st.AddProtocolAddress(netstack.LoopbackNIC, pa, stack.AddressProperties{}); terr != nil {
				st.Close()
				return nil, unix.ENOBUFS
			}
			st.AddRoute(tcpip.Route{Destination: ta.WithPrefix().Subnet(), NIC: netstack.LoopbackNIC})
		}
	}
	f.lite.st = st
	return st, nil
}

// Close tears down the family's private UDP-Lite stack (the sandbox's
// end; its sockets' endpoints are aborted).
func (f *Family) Close() {
	f.lite.mu.Lock()
	st := f.lite.st
	f.lite.st, f.lite.closed = nil, true
	f.lite.mu.Unlock()
	if st != nil {
		st.Close()
	}
}

// newUDPLite makes a UDP-Lite socket: New's datagram socket on the
// private stack, charged as a UDP socket.
func (f *Family) newUDPLite(domain int) (*Socket, error) {
	st, err := f.liteStack()
	if err != nil {
		return nil, err
	}
	s := &Socket{fam: f, domain: domain, typ: unix.SOCK_DGRAM, proto: unix.IPPROTO_UDPLITE, wq: &waiter.Queue{}}
	s.sndbuf, s.rcvbuf = dgramBufDefault, dgramBufDefault
	if err := s.chargeBuffers(); err != nil {
		return nil, err
	}
	ep, terr := st.NewEndpoint(udp.ProtocolNumber, netProto(domain), s.wq)
	if terr != nil {
		s.uncharge()
		return nil, errno(terr)
	}
	s.init(&liteEP{Endpoint: ep, fam: f})
	return s, nil
}

// liteEP is a UDP endpoint of the private stack carrying UDP-Lite: it
// adds the coverage prefix on write, strips it on read and applies the
// socket's coverage options.
type liteEP struct {
	tcpip.Endpoint
	fam *Family

	mu sync.Mutex
	// pcslen, pcrlen: UDPLITE_SEND_CSCOV, UDPLITE_RECV_CSCOV as set;
	// sendCC, recvCC: whether they were set (Linux's pcflag).
	pcslen, pcrlen int
	sendCC, recvCC bool
}

// sendCoverage is the coverage a datagram of n payload bytes carries: 0
// (the whole datagram) unless UDPLITE_SEND_CSCOV set a shorter one, as
// Linux's udplite_sender_cscov.
func (e *liteEP) sendCoverage(n int) uint16 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sendCC && e.pcslen > 0 && e.pcslen < n+udpHdrLen {
		return uint16(e.pcslen)
	}
	return 0
}

// drops reports whether the receiver discards a datagram of n payload
// bytes with coverage cov (0: whole): with UDPLITE_RECV_CSCOV set, a
// partially covered datagram is dropped if the receiver asked for full
// coverage (0) or more than it has.
func (e *liteEP) drops(cov uint16, n int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	partial := cov != 0 && int(cov) < n+udpHdrLen
	return e.recvCC && partial && (e.pcrlen == 0 || int(cov) < e.pcrlen)
}

// Write sends one datagram with its coverage prefix.
func (e *liteEP) Write(p tcpip.Payloader, opts tcpip.WriteOptions) (int64, tcpip.Error) {
	n := p.Len()
	if n > 0xffff {
		return 0, &tcpip.ErrMessageTooLong{}
	}
	data := make([]byte, covLen+n) // at most one datagram, freed after the call
	if _, err := io.ReadFull(p, data[covLen:]); err != nil {
		return 0, &tcpip.ErrBadBuffer{}
	}
	binary.BigEndian.PutUint16(data, e.sendCoverage(n))
	w, terr := e.Endpoint.Write(bytes.NewReader(data), opts)
	if terr != nil {
		return 0, e.route(terr)
	}
	return w - covLen, nil
}

// Connect sets the default destination (refusing the outside as Write).
func (e *liteEP) Connect(a tcpip.FullAddress) tcpip.Error {
	return e.route(e.Endpoint.Connect(a))
}

// route turns the private stack's "no route" for a destination beyond
// the sandbox into a refusal when the sandbox has an uplink: Linux would
// send it, litebox's UDP-Lite does not leave the sandbox (without an
// uplink, ENETUNREACH is what Linux says too).
func (e *liteEP) route(terr tcpip.Error) tcpip.Error {
	switch terr.(type) {
	case *tcpip.ErrHostUnreachable, *tcpip.ErrNetworkUnreachable, *tcpip.ErrNoNet:
		if e.fam.stack != nil && e.fam.stack.HasUplink() {
			e.fam.unsupported("UDP-Lite to an address outside the sandbox")
			return &tcpip.ErrNotSupported{}
		}
	}
	return terr
}

// Read receives one datagram without its prefix, discarding those the
// coverage options drop (a peeked one is consumed then).
func (e *liteEP) Read(dst io.Writer, opts tcpip.ReadOptions) (tcpip.ReadResult, tcpip.Error) {
	for {
		var buf bytes.Buffer
		rr, terr := e.Endpoint.Read(&buf, opts)
		if terr != nil {
			return rr, terr
		}
		data := buf.Bytes()
		if len(data) < covLen {
			continue // never sent by liteEP.Write: not a UDP-Lite datagram
		}
		cov, payload := binary.BigEndian.Uint16(data), data[covLen:]
		if e.drops(cov, len(payload)) {
			if opts.Peek {
				if _, terr := e.Endpoint.Read(io.Discard, tcpip.ReadOptions{}); terr != nil {
					return tcpip.ReadResult{}, terr
				}
			}
			continue
		}
		n, _ := dst.Write(payload) // a short write is truncation
		rr.Count, rr.Total = n, len(payload)
		return rr, nil
	}
}

// GetSockOptInt answers the next datagram's length without the prefix.
func (e *liteEP) GetSockOptInt(opt tcpip.SockOptInt) (int, tcpip.Error) {
	v, terr := e.Endpoint.GetSockOptInt(opt)
	if terr == nil && opt == tcpip.ReceiveQueueSizeOption && v >= covLen {
		v -= covLen
	}
	return v, terr
}

// setUDPLiteOpt sets a SOL_UDPLITE option as Linux's udp_lib_setsockopt:
// a coverage of 1..7 is 8 (the header), above 65535 is 65535.
func (s *Socket) setUDPLiteOpt(name int, val []byte) error {
	e, ok := s.endpoint().(*liteEP)
	if !ok {
		return unix.ENOPROTOOPT
	}
	if name != udpliteSendCscov && name != udpliteRecvCscov {
		s.fam.unsupported("UDP-Lite socket option")
		return unix.ENOPROTOOPT
	}
	v, err := intVal(val)
	if err != nil {
		return err
	}
	if v != 0 && v < udpHdrLen {
		v = udpHdrLen
	} else if v > 0xffff {
		v = 0xffff
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if name == udpliteSendCscov {
		e.pcslen, e.sendCC = v, true
	} else {
		e.pcrlen, e.recvCC = v, true
	}
	return nil
}

// getUDPLiteOpt reads a SOL_UDPLITE option (a UDP socket reads the
// coverages too, 0, as Linux's udp_lib_getsockopt).
func (s *Socket) getUDPLiteOpt(name int) ([]byte, error) {
	e, ok := s.endpoint().(*liteEP)
	if !ok && s.proto == unix.IPPROTO_UDP && (name == udpliteSendCscov || name == udpliteRecvCscov) {
		return le32(0), nil
	}
	if !ok || (name != udpliteSendCscov && name != udpliteRecvCscov) {
		return nil, unix.ENOPROTOOPT
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if name == udpliteSendCscov {
		return le32(e.pcslen), nil
	}
	return le32(e.pcrlen), nil
}

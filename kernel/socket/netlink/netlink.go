// Package netlink is the AF_NETLINK family of the kernel's sockets, for
// the one protocol a sandbox has: NETLINK_ROUTE, read-only. A guest lists
// its own sandbox's interfaces, addresses and routes (what glibc's
// getifaddrs and if_nameindex, Go's net.Interfaces and `ip` ask for); it
// can never change them, and nothing here talks to the host's netlink.
//
// The semantics are Linux's (net/netlink/af_netlink.c and
// net/core/rtnetlink.c) for an unprivileged user: port ids (bind with
// nl_pid 0 or the first send autobinds to the caller's pid, else a
// negative number), requests processed synchronously in the sender's
// send, replies queued as datagrams from port 0 with the request's
// sequence number, NLMSG_ERROR for failures and for NLM_F_ACK, a full
// receive queue dropping the reply and reporting ENOBUFS. Dumps are made
// whole at request time (Linux makes them as the reader reads); they are
// small (a few interfaces) and bounded by SO_RCVBUF like everything
// queued, and charged to the sandbox's memory.
package netlink

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/socket"
)

// Limits, as Linux's defaults.
const (
	// defaultBuf is the default SO_SNDBUF and SO_RCVBUF.
	defaultBuf = 212992
	// maxBuf is twice net.core.rmem_max: the largest effective buffer.
	maxBuf = 2 * 4194304
	// minSndBuf and minRcvBuf are Linux's SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF.
	minSndBuf = 4608
	minRcvBuf = 2304
	// SocketCost is charged to the sandbox's memory per socket.
	SocketCost = 2048
	// msgCost is what each queued datagram costs beside its bytes (an
	// skb's overhead); it counts in SO_RCVBUF and in the memory budget.
	msgCost = 256
	// goodSize is NLMSG_GOODSIZE with 4 KiB pages: how much of a dump one
	// datagram carries unless the reader showed a larger buffer.
	goodSize = 4096 - 320
	// maxRecvLen bounds that larger buffer (SKB_WITH_OVERHEAD(32768)).
	maxRecvLen = 32768 - 320
	// autobindRover is where Linux's negative autobind port ids start.
	autobindRover = -4096
	// routeGroups is how many multicast groups NETLINK_ROUTE has
	// (RTNLGRP_MAX); bind's nl_groups mask is cut to them.
	routeGroups = 37
)

// Stack is what the family shows: the sandbox's interfaces and routes.
type Stack interface {
	Interfaces() []netstack.Interface
	Routes() []netstack.Route
	// Counters returns the traffic counters of interface index.
	Counters(index int32) Counters
}

// Counters are an interface's traffic counters (rtnl_link_stats).
type Counters struct {
	RxPackets, TxPackets, RxBytes, TxBytes, RxErrors, TxErrors, RxDropped, TxDropped uint64
}

// Namespace is the netlink world of one sandbox: its port ids.
type Namespace struct {
	mu     sync.Mutex
	ports  map[uint32]*Socket
	rover  int32
	stack  func() Stack
	charge func(int64) error // the sandbox's memory budget
	notify func()            // wakes pollers (poll, select, epoll)
	// unsupported records a guest request refused for lack of support,
	// with the syscall it came in.
	unsupported func(what string, nr uint64)
}

// NewNamespace returns the netlink namespace of a sandbox whose network
// stack is stack(); charge takes (n > 0) or gives back (n < 0) memory.
func NewNamespace(stack func() Stack, charge func(int64) error, notify func(), unsupported func(string, uint64)) *Namespace {
	return &Namespace{ports: map[uint32]*Socket{}, rover: autobindRover, stack: stack, charge: charge,
		notify: notify, unsupported: unsupported}
}

// Socket is one NETLINK_ROUTE socket. Fields are guarded by ns.mu.
type Socket struct {
	ns  *Namespace
	typ int

	portid   uint32
	bound    bool
	groups   uint64 // multicast groups joined (no event is ever sent: the stack never changes)
	dstPort  uint32 // connect's destination (only the kernel, 0, is allowed)
	queue    []datagram
	rmem     int // bytes (with msgCost) queued
	err      unix.Errno
	sndbuf   int
	rcvbuf   int
	rcvtimeo time.Duration
	sndtimeo time.Duration
	capAck   bool
	extAck   bool
	noENOBUF bool
	passcred bool
	maxRecv  int // the largest receive buffer seen (sizes dump datagrams)
	released bool
	wait     chan struct{}
	wakes    atomic.Uint64
}

type datagram struct {
	data []byte
	cost int
}

// New makes a NETLINK_ROUTE socket of type typ (SOCK_RAW or SOCK_DGRAM)
// for protocol proto, with Linux's errors: ESOCKTNOSUPPORT for another
// type, EPROTONOSUPPORT for another protocol (as for a protocol whose
// module is missing; the caller logs it), ENFILE without memory.
func (ns *Namespace) New(typ, proto int) (*Socket, error) {
	if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM {
		return nil, unix.ESOCKTNOSUPPORT
	}
	if proto != unix.NETLINK_ROUTE {
		return nil, unix.EPROTONOSUPPORT
	}
	if err := ns.charge(SocketCost); err != nil {
		return nil, unix.ENFILE
	}
	return &Socket{ns: ns, typ: typ, sndbuf: defaultBuf, rcvbuf: defaultBuf, wait: make(chan struct{})}, nil
}

// Supported reports whether protocol proto is one this family serves.
func Supported(proto int) bool { return proto == unix.NETLINK_ROUTE }

// Family is AF_NETLINK.
func (s *Socket) Family() int { return unix.AF_NETLINK }

// Type is SOCK_RAW or SOCK_DGRAM (the same thing for netlink).
func (s *Socket) Type() int { return s.typ }

// Protocol is NETLINK_ROUTE.
func (s *Socket) Protocol() int { return unix.NETLINK_ROUTE }

// sockaddr is a struct sockaddr_nl.
func sockaddr(pid uint32, groups uint32) []byte {
	b := make([]byte, unix.SizeofSockaddrNetlink)
	binary.LittleEndian.PutUint16(b, unix.AF_NETLINK)
	binary.LittleEndian.PutUint32(b[4:], pid)
	binary.LittleEndian.PutUint32(b[8:], groups)
	return b
}

// parseAddr reads a sockaddr_nl as netlink_bind does: EINVAL when short
// or of another family.
func parseAddr(b []byte) (pid, groups uint32, err error) {
	if len(b) < unix.SizeofSockaddrNetlink || binary.LittleEndian.Uint16(b) != unix.AF_NETLINK {
		return 0, 0, unix.EINVAL
	}
	return binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]), nil
}

// autobindLocked gives the socket a port id: the caller's pid when free,
// else the next free negative number, as netlink_autobind.
func (s *Socket) autobindLocked(c *socket.Caller) error {
	ns := s.ns
	id := uint32(c.PID)
	for tries := 0; ; tries++ {
		if _, used := ns.ports[id]; !used && id != 0 {
			break
		}
		if tries > 1<<16 {
			return unix.EADDRINUSE
		}
		id = uint32(ns.rover)
		ns.rover--
		if ns.rover > autobindRover || ns.rover == 0 {
			ns.rover = autobindRover
		}
	}
	ns.ports[id] = s
	s.portid, s.bound = id, true
	return nil
}

// Bind names the socket: nl_pid 0 autobinds, another pid must be free
// (EADDRINUSE); a bound socket may only "rebind" to its own pid (EINVAL).
// nl_groups joins multicast groups, which a non-root user may do on
// NETLINK_ROUTE (no event is ever sent: the sandbox's stack never
// changes after it is made).
func (s *Socket) Bind(c *socket.Caller, raw []byte) error {
	pid, groups, err := parseAddr(raw)
	if err != nil {
		return err
	}
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s.bound && pid != s.portid {
		return unix.EINVAL
	}
	if !s.bound {
		if pid == 0 {
			if err := s.autobindLocked(c); err != nil {
				return err
			}
		} else {
			if _, used := ns.ports[pid]; used {
				return unix.EADDRINUSE
			}
			ns.ports[pid] = s
			s.portid, s.bound = pid, true
		}
	}
	s.groups = s.groups&^0xffffffff | uint64(groups)
	return nil
}

// Listen is not a netlink operation.
func (s *Socket) Listen(*socket.Caller, int) error { return unix.EOPNOTSUPP }

// Accept is not a netlink operation.
func (s *Socket) Accept(*socket.Caller, bool) (socket.Socket, error) { return nil, unix.EOPNOTSUPP }

// Connect sets the default destination: AF_UNSPEC clears it, the kernel
// (nl_pid 0, no groups) is the only one an unprivileged user may name
// (EPERM otherwise, as NETLINK_ROUTE lacks NL_CFG_F_NONROOT_SEND).
func (s *Socket) Connect(c *socket.Caller, raw []byte, _ bool) error {
	if len(raw) < 2 {
		return unix.EINVAL
	}
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if binary.LittleEndian.Uint16(raw) == unix.AF_UNSPEC {
		s.dstPort = 0
		return nil
	}
	pid, groups, err := parseAddr(raw)
	if err != nil {
		return err
	}
	if pid != 0 || groups != 0 {
		return unix.EPERM
	}
	if !s.bound {
		if err := s.autobindLocked(c); err != nil {
			return err
		}
	}
	s.dstPort = 0
	return nil
}

// Name is the socket's sockaddr_nl (nl_pid 0 before it is bound).
func (s *Socket) Name() []byte {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	return sockaddr(s.portid, uint32(s.groups))
}

// PeerName is the default destination (always the kernel's port 0).
func (s *Socket) PeerName() ([]byte, error) { return sockaddr(s.dstPort, 0), nil }

// Shutdown is not a netlink operation.
func (s *Socket) Shutdown(int) error { return unix.EOPNOTSUPP }

// Send processes the requests in m.Data (to the kernel: m.To names port
// 0 or is empty) and queues the replies. It returns len(m.Data), as Linux
// whose kernel side consumes a request synchronously.
func (s *Socket) Send(c *socket.Caller, m *socket.SendMsg) (int, error) {
	m.Release() // descriptors sent to the kernel are dropped
	if m.Flags&unix.MSG_OOB != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if len(m.To) > 0 {
		pid, groups, err := parseAddr(m.To)
		if err != nil {
			return 0, err
		}
		if pid != 0 || groups != 0 {
			return 0, unix.EPERM
		}
	}
	ns := s.ns
	ns.mu.Lock()
	if !s.bound {
		if err := s.autobindLocked(c); err != nil {
			ns.mu.Unlock()
			return 0, err
		}
	}
	if len(m.Data) > s.sndbuf-32 {
		ns.mu.Unlock()
		return 0, unix.EMSGSIZE
	}
	r := responder{portid: s.portid, capAck: s.capAck, chunk: max(goodSize, s.maxRecv), room: s.rcvbuf - s.rmem}
	ns.mu.Unlock()
	// The stack is read without ns.mu: it has its own locks.
	var st Stack
	if ns.stack != nil {
		st = ns.stack()
	}
	r.handle(st, m.Data, func(what string) { ns.unsupported(what, unix.SYS_SENDMSG) })
	ns.mu.Lock()
	for _, d := range r.out {
		s.enqueueLocked(d)
	}
	if r.overrun {
		s.overrunLocked()
	}
	ns.mu.Unlock()
	return len(m.Data), nil
}

// enqueueLocked queues one reply datagram, or drops it and records
// ENOBUFS when the receive queue is full or memory is out, as
// netlink_overrun.
func (s *Socket) enqueueLocked(d []byte) {
	if s.released {
		return
	}
	cost := len(d) + msgCost
	if s.rmem > s.rcvbuf || s.ns.charge(int64(cost)) != nil {
		s.overrunLocked()
		return
	}
	s.queue = append(s.queue, datagram{data: d, cost: cost})
	s.rmem += cost
	s.wakeLocked()
}

// overrunLocked records dropped replies: ENOBUFS for the next receive
// (unless NETLINK_NO_ENOBUFS).
func (s *Socket) overrunLocked() {
	if !s.noENOBUF {
		s.err = unix.ENOBUFS
	}
	s.wakeLocked()
}

// kernelAddr is the source of every datagram: the kernel's port 0.
var kernelAddr = sockaddr(0, 0)

// Recv receives one datagram: a pending error first (ENOBUFS), MSG_PEEK
// leaves it queued, MSG_TRUNC reports its whole length.
func (s *Socket) Recv(c *socket.Caller, r *socket.RecvMsg) error {
	if r.Flags&unix.MSG_OOB != 0 {
		return unix.EOPNOTSUPP
	}
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	dl := deadline(s.rcvtimeo)
	for {
		if s.err != 0 {
			err := s.err
			s.err = 0
			return err
		}
		if len(s.queue) > 0 {
			break
		}
		if r.Nonblock {
			return unix.EAGAIN
		}
		if err := s.waitLocked(c, dl); err != nil {
			return err
		}
	}
	d := s.queue[0]
	n := min(len(d.data), r.Max)
	r.Data = append(r.Data, d.data[:n]...)
	r.Len = n
	if len(d.data) > r.Max {
		r.MsgFlags |= unix.MSG_TRUNC
		if r.Flags&unix.MSG_TRUNC != 0 {
			r.Len = len(d.data)
		}
	}
	r.From = kernelAddr
	if s.passcred {
		r.Creds = &socket.Ucred{} // the kernel's: pid 0, uid 0, gid 0
	}
	s.maxRecv = min(max(s.maxRecv, r.Max), maxRecvLen)
	if r.Flags&unix.MSG_PEEK != 0 {
		return nil
	}
	s.queue[0] = datagram{}
	s.queue = s.queue[1:]
	s.rmem -= d.cost
	ns.charge(-int64(d.cost))
	return nil
}

// wakeLocked wakes the socket's waiters and the pollers.
func (s *Socket) wakeLocked() {
	s.wakes.Add(1)
	close(s.wait)
	s.wait = make(chan struct{})
	if s.ns.notify != nil {
		s.ns.notify()
	}
}

// waitLocked waits, with ns.mu released, until s changes, the deadline
// passes (EAGAIN) or the caller is interrupted (ERESTARTSYS, EINTR with a
// timeout).
func (s *Socket) waitLocked(c *socket.Caller, dl time.Time) error {
	ch := s.wait
	s.ns.mu.Unlock()
	defer s.ns.mu.Lock()
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
	select {
	case <-ch:
		return nil
	case <-timer:
		return unix.EAGAIN
	case <-c.Ctx.Done():
		if !dl.IsZero() {
			return unix.EINTR
		}
		return socket.ERESTARTSYS
	}
}

func deadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
}

// Poll bits x/sys/unix does not export.
const (
	pollRdNorm = 0x40
	pollWrNorm = 0x100
	pollWrBand = 0x200
)

// Readiness is datagram_poll: readable with a datagram queued, an error
// pending is POLLERR, always writable (the kernel consumes requests at
// once).
func (s *Socket) Readiness() int16 {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	ev := int16(unix.POLLOUT | pollWrNorm | pollWrBand)
	if s.err != 0 {
		ev |= unix.POLLERR
	}
	if len(s.queue) > 0 {
		ev |= unix.POLLIN | pollRdNorm
	}
	return ev
}

// WakeCount counts the socket's wake-ups.
func (s *Socket) WakeCount() uint64 { return s.wakes.Load() }

// Inq is the first datagram's length (SIOCINQ).
func (s *Socket) Inq() (int, error) {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	if len(s.queue) == 0 {
		return 0, nil
	}
	return len(s.queue[0].data), nil
}

// Outq is 0: nothing a netlink socket sends waits.
func (s *Socket) Outq() (int, error) { return 0, nil }

// Release is the last close: the port id is freed, the queue dropped.
func (s *Socket) Release() {
	ns := s.ns
	ns.mu.Lock()
	s.released = true
	if s.bound && ns.ports[s.portid] == s {
		delete(ns.ports, s.portid)
	}
	var freed int64
	for _, d := range s.queue {
		freed += int64(d.cost)
	}
	s.queue, s.rmem = nil, 0
	s.wakeLocked()
	ns.mu.Unlock()
	ns.charge(-freed - SocketCost)
}

// SetSockOpt sets SOL_SOCKET buffer sizes and timeouts and SOL_NETLINK
// membership and ack options; the rest are refused and logged.
func (s *Socket) SetSockOpt(c *socket.Caller, level, name int, val []byte) error {
	switch level {
	case unix.SOL_SOCKET:
		return s.setSocketOpt(name, val)
	case unix.SOL_NETLINK:
	default:
		s.ns.unsupported("setsockopt level on AF_NETLINK", unix.SYS_SETSOCKOPT)
		return unix.ENOPROTOOPT
	}
	// As netlink_setsockopt: a value shorter than an int reads as 0.
	var v uint32
	if len(val) >= 4 {
		v = binary.LittleEndian.Uint32(val)
	}
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	switch name {
	case unix.NETLINK_ADD_MEMBERSHIP, unix.NETLINK_DROP_MEMBERSHIP:
		if v == 0 || v-1 >= routeGroups {
			return unix.EINVAL
		}
		if name == unix.NETLINK_ADD_MEMBERSHIP {
			s.groups |= 1 << (v - 1)
		} else {
			s.groups &^= 1 << (v - 1)
		}
	case unix.NETLINK_CAP_ACK:
		s.capAck = v != 0
	case unix.NETLINK_EXT_ACK:
		s.extAck = v != 0
	case unix.NETLINK_NO_ENOBUFS:
		s.noENOBUF = v != 0
	case unix.NETLINK_BROADCAST_ERROR:
		// Only matters for broadcasts, which never happen here.
	default:
		s.ns.unsupported("setsockopt option on AF_NETLINK", unix.SYS_SETSOCKOPT)
		return unix.ENOPROTOOPT
	}
	return nil
}

func (s *Socket) setSocketOpt(name int, val []byte) error {
	ns := s.ns
	switch name {
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		d, err := parseTimeval(val)
		if err != nil {
			return err
		}
		ns.mu.Lock()
		if name == unix.SO_RCVTIMEO {
			s.rcvtimeo = d
		} else {
			s.sndtimeo = d
		}
		ns.mu.Unlock()
		return nil
	}
	if len(val) < 4 {
		return unix.EINVAL
	}
	v := binary.LittleEndian.Uint32(val)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	switch name {
	case unix.SO_SNDBUF:
		s.sndbuf = max(int(min(v, maxBuf/2))*2, minSndBuf)
	case unix.SO_RCVBUF:
		s.rcvbuf = max(int(min(v, maxBuf/2))*2, minRcvBuf)
	case unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE:
		return unix.EPERM // CAP_NET_ADMIN, which the guest never has over the stack
	case unix.SO_PASSCRED:
		s.passcred = v != 0
	default:
		s.ns.unsupported("setsockopt option on AF_NETLINK", unix.SYS_SETSOCKOPT)
		return unix.ENOPROTOOPT
	}
	return nil
}

// parseTimeval reads a struct timeval as Linux's sock_set_timeout.
func parseTimeval(val []byte) (time.Duration, error) {
	if len(val) < 16 {
		return 0, unix.EINVAL
	}
	sec := int64(binary.LittleEndian.Uint64(val))
	usec := int64(binary.LittleEndian.Uint64(val[8:]))
	if usec < 0 || usec >= 1000000 {
		return 0, unix.EDOM
	}
	if sec < 0 {
		return time.Nanosecond, nil
	}
	if sec > 1<<31 {
		return 0, nil
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// GetSockOpt returns an option's value.
func (s *Socket) GetSockOpt(c *socket.Caller, level, name int) ([]byte, error) {
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var v int
	switch {
	case level == unix.SOL_SOCKET:
		switch name {
		case unix.SO_TYPE:
			v = s.typ
		case unix.SO_DOMAIN:
			v = unix.AF_NETLINK
		case unix.SO_PROTOCOL:
			v = unix.NETLINK_ROUTE
		case unix.SO_ERROR:
			v = int(s.err)
			s.err = 0
		case unix.SO_SNDBUF:
			v = s.sndbuf
		case unix.SO_RCVBUF:
			v = s.rcvbuf
		case unix.SO_PASSCRED:
			v = b2i(s.passcred)
		case unix.SO_ACCEPTCONN:
			v = 0
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			d := s.rcvtimeo
			if name == unix.SO_SNDTIMEO {
				d = s.sndtimeo
			}
			b := binary.LittleEndian.AppendUint64(nil, uint64(d/time.Second))
			return binary.LittleEndian.AppendUint64(b, uint64(d%time.Second/time.Microsecond)), nil
		default:
			return nil, unix.ENOPROTOOPT
		}
	case level == unix.SOL_NETLINK:
		switch name {
		case unix.NETLINK_CAP_ACK:
			v = b2i(s.capAck)
		case unix.NETLINK_EXT_ACK:
			v = b2i(s.extAck)
		case unix.NETLINK_NO_ENOBUFS:
			v = b2i(s.noENOBUF)
		case unix.NETLINK_LIST_MEMBERSHIPS:
			b := binary.LittleEndian.AppendUint32(nil, uint32(s.groups))
			return binary.LittleEndian.AppendUint32(b, uint32(s.groups>>32)), nil
		default:
			return nil, unix.ENOPROTOOPT
		}
	default:
		return nil, unix.ENOPROTOOPT
	}
	return binary.LittleEndian.AppendUint32(nil, uint32(v)), nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

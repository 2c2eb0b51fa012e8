package netlink

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/netstack"
)

// The rtnetlink half: requests are decoded as netlink_rcv_skb and
// rtnetlink_rcv_msg do, replies encoded as rtnl_fill_ifinfo,
// inet_fill_ifaddr/inet6_fill_ifaddr and fib_dump_info lay them out.

// Operational states (IF_OPER_*; x/sys/unix lacks them).
const (
	operUnknown = 0
	operUp      = 6
)

// TxQueueLen is every interface's txqueuelen (Linux's default for lo
// and Ethernet devices).
const TxQueueLen = 1000

// routeMetric6 is the metric Linux gives IPv6 kernel routes,
// routeMetric6Default an IPv6 default route added by hand.
const (
	routeMetric6        = 256
	routeMetric6Default = 1024
)

// ARPType is an interface's ARPHRD_* type: loopback, or Ethernet for
// one with a hardware address.
func ARPType(ifc netstack.Interface) uint16 {
	if ifc.Flags&unix.IFF_LOOPBACK != 0 {
		return unix.ARPHRD_LOOPBACK
	}
	return unix.ARPHRD_ETHER
}

// HardwareAddr is what an interface reports as its address: lo has six
// zero bytes, as Linux's loopback device.
func HardwareAddr(ifc netstack.Interface) []byte {
	if len(ifc.HWAddr) > 0 {
		return ifc.HWAddr
	}
	return make([]byte, 6)
}

// LinkFlags are the flags netlink (and getifaddrs) report: the stack's,
// with IFF_LOWER_UP for a running device, as dev_get_flags.
func LinkFlags(ifc netstack.Interface) uint32 {
	f := ifc.Flags
	if f&unix.IFF_RUNNING != 0 {
		f |= unix.IFF_LOWER_UP
	}
	return f
}

// Broadcast is an IPv4 address's broadcast address on a broadcast
// interface (invalid elsewhere: lo has none, as on Linux).
func Broadcast(ifc netstack.Interface, p netip.Prefix) netip.Addr {
	if !p.Addr().Is4() || ifc.Flags&unix.IFF_BROADCAST == 0 {
		return netip.Addr{}
	}
	a := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	if p.Bits() == 32 {
		host = 0
	}
	v := binary.BigEndian.Uint32(a[:]) | host
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a)
}

// Scope is an address's scope (RT_SCOPE_*), as ipv6_addr_scope and
// inet's ifa_scope: host for loopback addresses, link for link-local.
func Scope(a netip.Addr) uint8 {
	switch {
	case a.IsLoopback():
		return unix.RT_SCOPE_HOST
	case a.IsLinkLocalUnicast():
		return unix.RT_SCOPE_LINK
	}
	return unix.RT_SCOPE_UNIVERSE
}

// responder builds the replies of one send for port portid.
type responder struct {
	portid uint32
	capAck bool
	chunk  int      // the most of a dump one datagram carries
	out    [][]byte // reply datagrams, in order
	// room is how many bytes (with msgCost each) the receive queue still
	// takes; replies past it are dropped (overrun), and once one was the
	// rest are not even made: a send full of requests costs at most a
	// receive buffer of replies.
	room    int
	used    int
	overrun bool
}

// emit queues one reply datagram, or drops it when the receive queue
// would be full, as netlink_unicast to a full socket.
func (r *responder) emit(d []byte) {
	if r.overrun || r.used > r.room {
		r.overrun = true
		return
	}
	r.out = append(r.out, d)
	r.used += len(d) + msgCost
}

// msg is one netlink message being built.
type msg struct{ b []byte }

func newMsg(typ, flags uint16, seq, pid uint32) *msg {
	m := &msg{b: make([]byte, unix.SizeofNlMsghdr, 256)}
	le := binary.LittleEndian
	le.PutUint16(m.b[4:], typ)
	le.PutUint16(m.b[6:], flags)
	le.PutUint32(m.b[8:], seq)
	le.PutUint32(m.b[12:], pid)
	return m
}

func (m *msg) put(b ...byte) { m.b = append(m.b, b...) }

func (m *msg) u32(v uint32) { m.b = binary.LittleEndian.AppendUint32(m.b, v) }

// attr appends one attribute, padded to 4 bytes.
func (m *msg) attr(typ uint16, payload []byte) {
	m.b = binary.LittleEndian.AppendUint16(m.b, uint16(unix.SizeofRtAttr+len(payload)))
	m.b = binary.LittleEndian.AppendUint16(m.b, typ)
	m.b = append(m.b, payload...)
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

func (m *msg) attrU32(typ uint16, v uint32) { m.attr(typ, binary.LittleEndian.AppendUint32(nil, v)) }

func (m *msg) attrU8(typ uint16, v uint8) { m.attr(typ, []byte{v}) }

func (m *msg) attrStr(typ uint16, s string) { m.attr(typ, append([]byte(s), 0)) }

// done sets the length and returns the message.
func (m *msg) done() []byte {
	binary.LittleEndian.PutUint32(m.b, uint32(len(m.b)))
	return m.b
}

// header is a decoded nlmsghdr.
type header struct {
	len   uint32
	typ   uint16
	flags uint16
	seq   uint32
	pid   uint32
}

func parseHeader(b []byte) header {
	le := binary.LittleEndian
	return header{len: le.Uint32(b), typ: le.Uint16(b[4:]), flags: le.Uint16(b[6:]), seq: le.Uint32(b[8:]),
		pid: le.Uint32(b[12:])}
}

func align4(n int) int { return (n + 3) &^ 3 }

// handle processes every message of one datagram, as netlink_rcv_skb: a
// message with a bad length ends the datagram silently, non-requests and
// control messages are only acknowledged, errors and NLM_F_ACK get an
// NLMSG_ERROR.
func (r *responder) handle(st Stack, data []byte, unsupported func(string)) {
	for len(data) >= unix.SizeofNlMsghdr && !r.overrun {
		h := parseHeader(data)
		if h.len < unix.SizeofNlMsghdr || int(h.len) > len(data) {
			return
		}
		raw := data[:h.len]
		var err unix.Errno
		ack := true
		if h.flags&unix.NLM_F_REQUEST != 0 && h.typ >= unix.NLMSG_MIN_TYPE {
			err, ack = r.request(st, h, raw[unix.SizeofNlMsghdr:], unsupported)
		}
		if ack && (h.flags&unix.NLM_F_ACK != 0 || err != 0) {
			r.ack(h, raw, err)
		}
		n := min(align4(int(h.len)), len(data))
		data = data[n:]
	}
}

// request serves one rtnetlink request; ack is false for a dump (which
// ends with NLMSG_DONE instead), as rtnetlink_rcv_msg's -EINTR.
func (r *responder) request(st Stack, h header, body []byte, unsupported func(string)) (unix.Errno, bool) {
	if h.typ > unix.RTM_MAX {
		return unix.EOPNOTSUPP, true
	}
	if len(body) < 1 { // every request carries at least a struct rtgenmsg
		return 0, true
	}
	family := body[0]
	kind := (h.typ - unix.RTM_BASE) & 3
	if kind != 2 { // NEW, DEL, SET: CAP_NET_ADMIN, which no guest has over its stack
		return unix.EPERM, true
	}
	dump := h.flags&unix.NLM_F_DUMP != 0
	if st == nil {
		st = emptyStack{}
	}
	switch {
	case h.typ == unix.RTM_GETLINK && dump:
		r.dump(h, r.links(st, h))
		return 0, false
	case h.typ == unix.RTM_GETLINK:
		return r.getLink(st, h, body), true
	case h.typ == unix.RTM_GETADDR && dump:
		r.dump(h, r.addrs(st, h, family))
		return 0, false
	case h.typ == unix.RTM_GETROUTE && dump:
		r.dump(h, r.routes(st, h, family))
		return 0, false
	}
	unsupported(fmt.Sprintf("netlink request %d (NETLINK_ROUTE)", h.typ))
	return unix.EOPNOTSUPP, true
}

// ack queues an NLMSG_ERROR for h (error 0 for a plain ack): the
// request's header, and for an error its whole message unless
// NETLINK_CAP_ACK, as netlink_ack.
func (r *responder) ack(h header, raw []byte, err unix.Errno) {
	flags := uint16(0)
	echo := raw
	if err == 0 || r.capAck {
		flags |= unix.NLM_F_CAPPED
		echo = raw[:unix.SizeofNlMsghdr]
	}
	m := newMsg(unix.NLMSG_ERROR, flags, h.seq, r.portid)
	m.u32(uint32(-int32(err)))
	m.put(echo...)
	for len(m.b)%4 != 0 { // nlmsg_append pads the echoed request
		m.put(0)
	}
	r.emit(m.done())
}

// dump queues a dump's messages, packed into datagrams of at most
// r.chunk bytes, then NLMSG_DONE in a datagram of its own (as Linux for
// links, addresses and routes: RTNL_FLAG_DUMP_SPLIT_NLM_DONE).
func (r *responder) dump(h header, msgs [][]byte) {
	var cur []byte
	for _, m := range msgs {
		if len(cur) > 0 && len(cur)+len(m) > r.chunk {
			r.emit(cur)
			cur = nil
		}
		cur = append(cur, m...)
	}
	if len(cur) > 0 {
		r.emit(cur)
	}
	done := newMsg(unix.NLMSG_DONE, unix.NLM_F_MULTI, h.seq, r.portid)
	done.u32(0)
	r.emit(done.done())
}

// links is an RTM_GETLINK dump.
func (r *responder) links(st Stack, h header) [][]byte {
	var out [][]byte
	for _, ifc := range st.Interfaces() {
		out = append(out, LinkMessage(st, ifc, unix.NLM_F_MULTI, h.seq, r.portid))
	}
	return out
}

// getLink is RTM_GETLINK of one interface, by ifi_index or, with index
// 0, IFLA_IFNAME: EINVAL without either (or with a short ifinfomsg),
// ENODEV when none matches, as rtnl_getlink.
func (r *responder) getLink(st Stack, h header, body []byte) unix.Errno {
	if len(body) < unix.SizeofIfInfomsg {
		return unix.EINVAL
	}
	index := int32(binary.LittleEndian.Uint32(body[4:]))
	name, hasName := "", false
	if index <= 0 {
		for a := body[unix.SizeofIfInfomsg:]; len(a) >= unix.SizeofRtAttr; {
			alen := int(binary.LittleEndian.Uint16(a))
			if alen < unix.SizeofRtAttr || alen > len(a) {
				break
			}
			if binary.LittleEndian.Uint16(a[2:])&0x3fff == unix.IFLA_IFNAME {
				v := a[unix.SizeofRtAttr:alen]
				if i := indexByte(v, 0); i >= 0 {
					v = v[:i]
				}
				name, hasName = string(v), true
			}
			a = a[min(align4(alen), len(a)):]
		}
		if !hasName {
			return unix.EINVAL
		}
	}
	for _, ifc := range st.Interfaces() {
		if (index > 0 && ifc.Index == index) || (index <= 0 && ifc.Name == name) {
			r.emit(LinkMessage(st, ifc, 0, h.seq, r.portid))
			return 0
		}
	}
	return unix.ENODEV
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// LinkMessage is the RTM_NEWLINK message describing ifc.
func LinkMessage(st Stack, ifc netstack.Interface, flags uint16, seq, pid uint32) []byte {
	m := newMsg(unix.RTM_NEWLINK, flags, seq, pid)
	// struct ifinfomsg: family, pad, type, index, flags, change.
	m.put(unix.AF_UNSPEC, 0)
	m.b = binary.LittleEndian.AppendUint16(m.b, ARPType(ifc))
	m.u32(uint32(ifc.Index))
	m.u32(LinkFlags(ifc))
	m.u32(0)
	m.attrStr(unix.IFLA_IFNAME, ifc.Name)
	m.attrU32(unix.IFLA_TXQLEN, TxQueueLen)
	oper := uint8(operUp)
	if ifc.Flags&unix.IFF_LOOPBACK != 0 {
		oper = operUnknown // as Linux's lo, which has no carrier to report
	}
	m.attrU8(unix.IFLA_OPERSTATE, oper)
	m.attrU8(unix.IFLA_LINKMODE, 0)
	m.attrU32(unix.IFLA_MTU, ifc.MTU)
	m.attrU32(unix.IFLA_GROUP, 0)
	m.attrStr(unix.IFLA_QDISC, "noqueue") // nothing queues in front of the stack's links
	hw := HardwareAddr(ifc)
	m.attr(unix.IFLA_ADDRESS, hw)
	bcast := make([]byte, len(hw))
	if ifc.Flags&unix.IFF_BROADCAST != 0 {
		for i := range bcast {
			bcast[i] = 0xff
		}
	}
	m.attr(unix.IFLA_BROADCAST, bcast)
	m.attr(unix.IFLA_STATS, linkStats(st.Counters(ifc.Index)))
	return m.done()
}

// linkStats is struct rtnl_link_stats (24 __u32 counters).
func linkStats(c Counters) []byte {
	v := make([]uint32, 24)
	v[0], v[1], v[2], v[3] = uint32(c.RxPackets), uint32(c.TxPackets), uint32(c.RxBytes), uint32(c.TxBytes)
	v[4], v[5], v[6], v[7] = uint32(c.RxErrors), uint32(c.TxErrors), uint32(c.RxDropped), uint32(c.TxDropped)
	b := make([]byte, 0, 96)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// addrs is an RTM_GETADDR dump: IPv4 then IPv6 (rtnl_dump_all's family
// order) for AF_UNSPEC and families without a handler, else the one
// family.
func (r *responder) addrs(st Stack, h header, family uint8) [][]byte {
	ifs := st.Interfaces()
	var out [][]byte
	for _, fam := range dumpFamilies(family) {
		for _, ifc := range ifs {
			for _, p := range ifc.Addrs {
				if (fam == unix.AF_INET) != p.Addr().Is4() {
					continue
				}
				out = append(out, AddrMessage(ifc, p, unix.NLM_F_MULTI, h.seq, r.portid))
			}
		}
	}
	return out
}

// dumpFamilies is which address families a dump of family covers.
func dumpFamilies(family uint8) []uint8 {
	switch family {
	case unix.AF_INET, unix.AF_INET6:
		return []uint8{family}
	}
	return []uint8{unix.AF_INET, unix.AF_INET6}
}

// AddrMessage is the RTM_NEWADDR message for address p of ifc.
func AddrMessage(ifc netstack.Interface, p netip.Prefix, flags uint16, seq, pid uint32) []byte {
	m := newMsg(unix.RTM_NEWADDR, flags, seq, pid)
	a := p.Addr()
	fam := uint8(unix.AF_INET6)
	if a.Is4() {
		fam = unix.AF_INET
	}
	// struct ifaddrmsg: family, prefixlen, flags, scope, index.
	m.put(fam, uint8(p.Bits()), unix.IFA_F_PERMANENT, Scope(a))
	m.u32(uint32(ifc.Index))
	m.attr(unix.IFA_ADDRESS, a.AsSlice())
	if a.Is4() {
		m.attr(unix.IFA_LOCAL, a.AsSlice())
		if b := Broadcast(ifc, p); b.IsValid() {
			m.attr(unix.IFA_BROADCAST, b.AsSlice())
		}
		m.attrStr(unix.IFA_LABEL, ifc.Name)
	}
	// struct ifa_cacheinfo: permanent addresses live for ever
	// (INFINITY_LIFE_TIME), made when the stack was (at the sandbox's
	// start: time stamps 0).
	m.attr(unix.IFA_CACHEINFO, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	m.attrU32(unix.IFA_FLAGS, unix.IFA_F_PERMANENT)
	return m.done()
}

// SortedRoutes orders routes as Linux's FIB walks them: by family, then
// destination address, then prefix length (a default route first).
func SortedRoutes(rts []netstack.Route) []netstack.Route {
	out := slices.Clone(rts)
	slices.SortStableFunc(out, func(a, b netstack.Route) int {
		if a.Dst.Addr().Is4() != b.Dst.Addr().Is4() {
			if a.Dst.Addr().Is4() {
				return -1
			}
			return 1
		}
		if c := a.Dst.Masked().Addr().Compare(b.Dst.Masked().Addr()); c != 0 {
			return c
		}
		return a.Dst.Bits() - b.Dst.Bits()
	})
	return out
}

// RouteInfo is how a stack route is shown: Linux keeps the IPv4
// loopback network in its local table as a local route, everything else
// here is a unicast route of the main table.
type RouteInfo struct {
	Table, Protocol, Scope, Type uint8
	Priority                     uint32
	PrefSrc                      netip.Addr
}

// DescribeRoute classifies rt among ifs.
func DescribeRoute(rt netstack.Route, ifs []netstack.Interface) RouteInfo {
	ri := RouteInfo{Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_KERNEL, Scope: unix.RT_SCOPE_LINK,
		Type: unix.RTN_UNICAST}
	var ifc netstack.Interface
	for _, i := range ifs {
		if i.Index == rt.NIC {
			ifc = i
		}
	}
	is4 := rt.Dst.Addr().Is4()
	if !is4 {
		ri.Scope = unix.RT_SCOPE_UNIVERSE // IPv6 routes have no other scope on Linux
		ri.Priority = routeMetric6
	}
	switch {
	case ifc.Flags&unix.IFF_LOOPBACK != 0:
		ri.Table, ri.Type = unix.RT_TABLE_LOCAL, unix.RTN_LOCAL
		if is4 {
			ri.Scope = unix.RT_SCOPE_HOST
		} else {
			ri.Priority = 0
		}
	case rt.Gateway.IsValid() || rt.Dst.Bits() == 0:
		// As a route added by hand or at boot (`ip route add`).
		ri.Protocol, ri.Scope = unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE
		if !is4 {
			ri.Priority = routeMetric6Default
		}
	}
	if is4 {
		for _, p := range ifc.Addrs {
			if p.Addr().Is4() && (rt.Dst.Contains(p.Addr()) || ri.Type == unix.RTN_LOCAL) && !rt.Gateway.IsValid() {
				ri.PrefSrc = p.Addr()
				break
			}
		}
	}
	return ri
}

// routes is an RTM_GETROUTE dump: IPv4 (main table, then local) then
// IPv6 for AF_UNSPEC.
func (r *responder) routes(st Stack, h header, family uint8) [][]byte {
	ifs := st.Interfaces()
	rts := SortedRoutes(st.Routes())
	var out [][]byte
	for _, fam := range dumpFamilies(family) {
		for _, table := range []uint8{unix.RT_TABLE_MAIN, unix.RT_TABLE_LOCAL} {
			for _, rt := range rts {
				if (fam == unix.AF_INET) != rt.Dst.Addr().Is4() {
					continue
				}
				if ri := DescribeRoute(rt, ifs); ri.Table == table {
					out = append(out, RouteMessage(rt, ri, unix.NLM_F_MULTI, h.seq, r.portid))
				}
			}
		}
	}
	return out
}

// RouteMessage is the RTM_NEWROUTE message for rt.
func RouteMessage(rt netstack.Route, ri RouteInfo, flags uint16, seq, pid uint32) []byte {
	m := newMsg(unix.RTM_NEWROUTE, flags, seq, pid)
	fam := uint8(unix.AF_INET6)
	if rt.Dst.Addr().Is4() {
		fam = unix.AF_INET
	}
	// struct rtmsg: family, dst_len, src_len, tos, table, protocol,
	// scope, type, flags.
	m.put(fam, uint8(rt.Dst.Bits()), 0, 0, ri.Table, ri.Protocol, ri.Scope, ri.Type)
	m.u32(0)
	m.attrU32(unix.RTA_TABLE, uint32(ri.Table))
	if rt.Dst.Bits() > 0 {
		m.attr(unix.RTA_DST, rt.Dst.Masked().Addr().AsSlice())
	}
	if ri.Priority != 0 || fam == unix.AF_INET6 { // IPv6 routes always carry theirs
		m.attrU32(unix.RTA_PRIORITY, ri.Priority)
	}
	if ri.PrefSrc.IsValid() {
		m.attr(unix.RTA_PREFSRC, ri.PrefSrc.AsSlice())
	}
	if rt.Gateway.IsValid() {
		m.attr(unix.RTA_GATEWAY, rt.Gateway.AsSlice())
	}
	m.attrU32(unix.RTA_OIF, uint32(rt.NIC))
	return m.done()
}

// emptyStack stands in when the kernel has no stack to show.
type emptyStack struct{}

func (emptyStack) Interfaces() []netstack.Interface { return nil }
func (emptyStack) Routes() []netstack.Route         { return nil }
func (emptyStack) Counters(int32) Counters          { return Counters{} }

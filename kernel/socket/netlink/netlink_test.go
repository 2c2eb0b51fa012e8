package netlink

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/socket"
)

// fakeStack is a stack with lo and an uplink eth0, as netstack makes
// them.
type fakeStack struct{}

var fakeIfs = []netstack.Interface{
	{Index: 1, Name: "lo", Flags: unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING, MTU: 65536,
		Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}},
	{Index: 2, Name: "eth0", Flags: unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_RUNNING | unix.IFF_MULTICAST, MTU: 1500,
		HWAddr: netstack.GuestMAC, Addrs: []netip.Prefix{netstack.GuestAddr4, netstack.GuestAddr6}},
}

func (fakeStack) Interfaces() []netstack.Interface { return fakeIfs }
func (fakeStack) Routes() []netstack.Route {
	return []netstack.Route{
		{Dst: netip.MustParsePrefix("127.0.0.0/8"), NIC: 1},
		{Dst: netip.MustParsePrefix("::1/128"), NIC: 1},
		{Dst: netip.MustParsePrefix("10.0.2.0/24"), NIC: 2},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netstack.GatewayAddr4, NIC: 2},
		{Dst: netip.MustParsePrefix("::/0"), Gateway: netstack.GatewayAddr6, NIC: 2},
	}
}
func (fakeStack) Counters(index int32) Counters { return Counters{RxPackets: uint64(index)} }

// parsed is one decoded message.
type parsed struct {
	h     header
	body  []byte            // the fixed part after the header
	attrs map[uint16][]byte // attributes after fixed bytes of body
}

// parseAll decodes the messages of a datagram, with the attributes after
// fixed bytes of the body (fixed < 0: none decoded).
func parseAll(t *testing.T, d []byte, fixed int) []parsed {
	t.Helper()
	var out []parsed
	for len(d) > 0 {
		if len(d) < unix.SizeofNlMsghdr {
			t.Fatalf("trailing %d bytes", len(d))
		}
		h := parseHeader(d)
		if int(h.len) > len(d) || h.len%4 != 0 {
			t.Fatalf("bad length %d of %d (must be aligned)", h.len, len(d))
		}
		p := parsed{h: h, attrs: map[uint16][]byte{}}
		b := d[unix.SizeofNlMsghdr:h.len]
		if fixed >= 0 && h.typ != unix.NLMSG_DONE && h.typ != unix.NLMSG_ERROR {
			p.body = b[:fixed]
			for a := b[fixed:]; len(a) > 0; {
				alen := int(binary.LittleEndian.Uint16(a))
				if alen < 4 || alen > len(a) {
					t.Fatalf("bad attribute length %d", alen)
				}
				p.attrs[binary.LittleEndian.Uint16(a[2:])] = a[4:alen]
				a = a[min(align4(alen), len(a)):]
			}
		} else {
			p.body = b
		}
		out = append(out, p)
		d = d[h.len:]
	}
	return out
}

func request(typ, flags uint16, seq uint32, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	binary.LittleEndian.PutUint32(b, uint32(16+len(body)))
	binary.LittleEndian.PutUint16(b[4:], typ)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], seq)
	return append(b, body...)
}

func respond(data []byte, chunk int) *responder {
	r := &responder{portid: 77, chunk: chunk, room: defaultBuf}
	r.handle(fakeStack{}, data, func(string) {})
	return r
}

func TestLinkDump(t *testing.T) {
	r := respond(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 9, []byte{0, 0, 0, 0}), goodSize)
	if len(r.out) != 2 {
		t.Fatalf("%d datagrams, want the links and DONE alone", len(r.out))
	}
	msgs := parseAll(t, r.out[0], unix.SizeofIfInfomsg)
	if len(msgs) != 2 {
		t.Fatalf("%d links", len(msgs))
	}
	for i, m := range msgs {
		ifc := fakeIfs[i]
		le := binary.LittleEndian
		if m.h.typ != unix.RTM_NEWLINK || m.h.flags != unix.NLM_F_MULTI || m.h.seq != 9 || m.h.pid != 77 {
			t.Errorf("link %d header %+v", i, m.h)
		}
		if got := int32(le.Uint32(m.body[4:])); got != ifc.Index {
			t.Errorf("index %d, want %d", got, ifc.Index)
		}
		if got := le.Uint32(m.body[8:]); got != ifc.Flags|unix.IFF_LOWER_UP {
			t.Errorf("%s flags %#x", ifc.Name, got)
		}
		if string(m.attrs[unix.IFLA_IFNAME]) != ifc.Name+"\x00" || le.Uint32(m.attrs[unix.IFLA_MTU]) != ifc.MTU ||
			le.Uint32(m.attrs[unix.IFLA_TXQLEN]) != TxQueueLen || len(m.attrs[unix.IFLA_STATS]) != 96 {
			t.Errorf("%s attributes %v", ifc.Name, m.attrs)
		}
		if le.Uint32(m.attrs[unix.IFLA_STATS]) != uint32(ifc.Index) {
			t.Errorf("%s rx packets not from the counters", ifc.Name)
		}
	}
	eth := parseAll(t, r.out[0], unix.SizeofIfInfomsg)[1]
	if binary.LittleEndian.Uint16(eth.body[2:]) != unix.ARPHRD_ETHER || string(eth.attrs[unix.IFLA_ADDRESS]) != string(netstack.GuestMAC) ||
		string(eth.attrs[unix.IFLA_BROADCAST]) != "\xff\xff\xff\xff\xff\xff" || eth.attrs[unix.IFLA_OPERSTATE][0] != operUp {
		t.Errorf("eth0: %v", eth.attrs)
	}
	done := parseAll(t, r.out[1], 0)
	if len(done) != 1 || done[0].h.typ != unix.NLMSG_DONE || done[0].h.flags != unix.NLM_F_MULTI || done[0].h.len != 20 {
		t.Errorf("done: %+v", done)
	}
}

func TestDumpChunks(t *testing.T) {
	// A tiny chunk puts each message in its own datagram, never splits one.
	r := respond(request(unix.RTM_GETADDR, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{0}), 1)
	if len(r.out) != 5 { // four addresses, DONE
		t.Fatalf("%d datagrams", len(r.out))
	}
	var fams []byte
	for _, d := range r.out[:4] {
		m := parseAll(t, d, unix.SizeofIfAddrmsg)
		if len(m) != 1 {
			t.Fatalf("%d messages in a datagram", len(m))
		}
		fams = append(fams, m[0].body[0])
	}
	if string(fams) != string([]byte{unix.AF_INET, unix.AF_INET, unix.AF_INET6, unix.AF_INET6}) {
		t.Errorf("families in order %v, want IPv4 then IPv6", fams)
	}
}

func TestAddrDump(t *testing.T) {
	r := respond(request(unix.RTM_GETADDR, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{unix.AF_INET}), goodSize)
	msgs := parseAll(t, r.out[0], unix.SizeofIfAddrmsg)
	if len(msgs) != 2 {
		t.Fatalf("%d IPv4 addresses", len(msgs))
	}
	lo, eth := msgs[0], msgs[1]
	if lo.body[1] != 8 || lo.body[3] != unix.RT_SCOPE_HOST || string(lo.attrs[unix.IFA_LOCAL]) != "\x7f\x00\x00\x01" ||
		string(lo.attrs[unix.IFA_LABEL]) != "lo\x00" || lo.attrs[unix.IFA_BROADCAST] != nil {
		t.Errorf("lo: %v %v", lo.body, lo.attrs)
	}
	if eth.body[1] != 24 || eth.body[3] != unix.RT_SCOPE_UNIVERSE || string(eth.attrs[unix.IFA_BROADCAST]) != "\x0a\x00\x02\xff" {
		t.Errorf("eth0: %v %v", eth.body, eth.attrs)
	}
}

func TestRouteDump(t *testing.T) {
	r := respond(request(unix.RTM_GETROUTE, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{0}), goodSize)
	msgs := parseAll(t, r.out[0], unix.SizeofRtMsg)
	type row struct {
		fam, dstLen, table, typ byte
		gw, oif                 int
	}
	var got []row
	for _, m := range msgs {
		got = append(got, row{m.body[0], m.body[1], m.body[4], m.body[7], len(m.attrs[unix.RTA_GATEWAY]),
			int(binary.LittleEndian.Uint32(m.attrs[unix.RTA_OIF]))})
		if binary.LittleEndian.Uint32(m.attrs[unix.RTA_TABLE]) != uint32(m.body[4]) {
			t.Errorf("RTA_TABLE differs from rtm_table")
		}
	}
	want := []row{
		{unix.AF_INET, 0, unix.RT_TABLE_MAIN, unix.RTN_UNICAST, 4, 2},
		{unix.AF_INET, 24, unix.RT_TABLE_MAIN, unix.RTN_UNICAST, 0, 2},
		{unix.AF_INET, 8, unix.RT_TABLE_LOCAL, unix.RTN_LOCAL, 0, 1},
		{unix.AF_INET6, 0, unix.RT_TABLE_MAIN, unix.RTN_UNICAST, 16, 2},
		{unix.AF_INET6, 128, unix.RT_TABLE_LOCAL, unix.RTN_LOCAL, 0, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("route %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestRequests(t *testing.T) {
	ifi := func(index int32) []byte {
		b := make([]byte, unix.SizeofIfInfomsg)
		binary.LittleEndian.PutUint32(b[4:], uint32(index))
		return b
	}
	// IFLA_IFNAME "eth0" with its NUL: rta_len 9, padded to 12.
	byName := append(ifi(0), 9, 0, unix.IFLA_IFNAME, 0, 'e', 't', 'h', '0', 0, 0, 0, 0)
	for _, tc := range []struct {
		name  string
		data  []byte
		types []uint16 // the replies' types
		errno []int32  // NLMSG_ERROR's errors, in order
	}{
		{"getlink index", request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, ifi(2)), []uint16{unix.RTM_NEWLINK}, nil},
		{"getlink ack", request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 1, ifi(1)),
			[]uint16{unix.RTM_NEWLINK, unix.NLMSG_ERROR}, []int32{0}},
		{"getlink name", request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, byName), []uint16{unix.RTM_NEWLINK}, nil},
		{"getlink missing", request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, ifi(9)), []uint16{unix.NLMSG_ERROR},
			[]int32{-int32(unix.ENODEV)}},
		{"getlink short", request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, []byte{0}), []uint16{unix.NLMSG_ERROR},
			[]int32{-int32(unix.EINVAL)}},
		{"newaddr", request(unix.RTM_NEWADDR, unix.NLM_F_REQUEST, 1, make([]byte, 8)), []uint16{unix.NLMSG_ERROR},
			[]int32{-int32(unix.EPERM)}},
		{"setlink", request(unix.RTM_SETLINK, unix.NLM_F_REQUEST, 1, ifi(1)), []uint16{unix.NLMSG_ERROR},
			[]int32{-int32(unix.EPERM)}},
		{"delroute", request(unix.RTM_DELROUTE, unix.NLM_F_REQUEST, 1, make([]byte, 12)), []uint16{unix.NLMSG_ERROR},
			[]int32{-int32(unix.EPERM)}},
		{"past max", request(unix.RTM_MAX+1, unix.NLM_F_REQUEST, 1, []byte{0}), []uint16{unix.NLMSG_ERROR},
			[]int32{-int32(unix.EOPNOTSUPP)}},
		{"unsupported get", request(unix.RTM_GETNEIGH, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{0}),
			[]uint16{unix.NLMSG_ERROR}, []int32{-int32(unix.EOPNOTSUPP)}},
		{"empty body", request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 1, nil), []uint16{unix.NLMSG_ERROR},
			[]int32{0}},
		{"not a request", request(unix.RTM_GETLINK, 0, 1, ifi(1)), nil, nil},
		{"control message", request(unix.NLMSG_NOOP, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 1, nil),
			[]uint16{unix.NLMSG_ERROR}, []int32{0}},
		{"two requests", append(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, ifi(1)),
			request(unix.RTM_NEWLINK, unix.NLM_F_REQUEST, 2, ifi(1))...),
			[]uint16{unix.RTM_NEWLINK, unix.NLMSG_ERROR}, []int32{-int32(unix.EPERM)}},
		// Hostile lengths: shorter than a header, longer than the data,
		// a truncated tail: processing stops silently.
		{"len too small", func() []byte { b := request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, ifi(1)); b[0] = 8; return b }(), nil, nil},
		{"len too large", func() []byte { b := request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, ifi(1)); b[0] = 200; return b }(), nil, nil},
		{"len huge", func() []byte {
			b := request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, ifi(1))
			binary.LittleEndian.PutUint32(b, 0xffffffff)
			return b
		}(), nil, nil},
		{"short tail", append(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, ifi(1)), 1, 2, 3), []uint16{unix.RTM_NEWLINK}, nil},
		{"attribute past the end", request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, append(ifi(0), 0xff, 0, unix.IFLA_IFNAME, 0)),
			[]uint16{unix.NLMSG_ERROR}, []int32{-int32(unix.EINVAL)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := respond(tc.data, goodSize)
			var types []uint16
			var errs []int32
			for _, d := range r.out {
				for _, m := range parseAll(t, d, -1) { // headers only
					types = append(types, m.h.typ)
					if m.h.typ == unix.NLMSG_ERROR {
						errs = append(errs, int32(binary.LittleEndian.Uint32(m.body)))
						echo := parseHeader(m.body[4:])
						capped := m.h.flags&unix.NLM_F_CAPPED != 0
						if capped != (errs[len(errs)-1] == 0) || (!capped && int(m.h.len) != 16+4+align4(int(echo.len))) {
							t.Errorf("ack flags %#x len %d for echo len %d", m.h.flags, m.h.len, echo.len)
						}
					}
					if m.h.pid != 77 {
						t.Errorf("pid %d", m.h.pid)
					}
				}
			}
			if len(types) != len(tc.types) || len(errs) != len(tc.errno) {
				t.Fatalf("types %v errors %v, want %v %v", types, errs, tc.types, tc.errno)
			}
			for i := range types {
				if types[i] != tc.types[i] {
					t.Errorf("types %v, want %v", types, tc.types)
				}
			}
			for i := range errs {
				if errs[i] != tc.errno[i] {
					t.Errorf("errors %v, want %v", errs, tc.errno)
				}
			}
		})
	}
}

// budget counts what the family charges.
type budget struct {
	used, max int64
}

func (b *budget) charge(n int64) error {
	if n > 0 && b.used+n > b.max {
		return unix.ENOMEM
	}
	b.used += n
	return nil
}

func caller(pid int32) *socket.Caller { return &socket.Caller{Ctx: context.Background(), PID: pid} }

func TestSocket(t *testing.T) {
	b := &budget{max: 1 << 20}
	ns := NewNamespace(func() Stack { return fakeStack{} }, b.charge, nil, func(string, uint64) {})
	if _, err := ns.New(unix.SOCK_STREAM, 0); err != unix.ESOCKTNOSUPPORT {
		t.Errorf("stream: %v", err)
	}
	if _, err := ns.New(unix.SOCK_RAW, unix.NETLINK_GENERIC); err != unix.EPROTONOSUPPORT {
		t.Errorf("generic: %v", err)
	}
	a, err := ns.New(unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := caller(42)
	// The first send autobinds to the caller's pid; a second socket of
	// the same process gets a negative id.
	req := request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 5, []byte{0})
	if n, err := a.Send(c, &socket.SendMsg{Data: req}); err != nil || n != len(req) {
		t.Fatalf("send: %d %v", n, err)
	}
	if pid := binary.LittleEndian.Uint32(a.Name()[4:]); pid != 42 {
		t.Errorf("autobound to %d", pid)
	}
	s2, _ := ns.New(unix.SOCK_DGRAM, 0)
	if err := s2.Bind(c, sockaddr(0, 0)); err != nil {
		t.Fatal(err)
	}
	if pid := int32(binary.LittleEndian.Uint32(s2.Name()[4:])); pid != autobindRover {
		t.Errorf("second autobind %d", pid)
	}
	if err := s2.Bind(c, sockaddr(7, 0)); err != unix.EINVAL {
		t.Errorf("rebind: %v", err)
	}
	s3, _ := ns.New(unix.SOCK_DGRAM, 0)
	if err := s3.Bind(c, sockaddr(42, 0)); err != unix.EADDRINUSE {
		t.Errorf("taken: %v", err)
	}
	if err := s3.Bind(c, sockaddr(0, 0)[:8]); err != unix.EINVAL {
		t.Errorf("short: %v", err)
	}
	if _, err := s3.Send(c, &socket.SendMsg{Data: req, To: sockaddr(42, 0)}); err != unix.EPERM {
		t.Errorf("send to a user port: %v", err)
	}
	s3.Release()

	// Peek with MSG_TRUNC sizes the datagram without taking it.
	r := socket.RecvMsg{Max: 0, Flags: unix.MSG_PEEK | unix.MSG_TRUNC, Nonblock: true}
	if err := a.Recv(c, &r); err != nil || r.Len <= 0 || len(r.Data) != 0 || r.MsgFlags&unix.MSG_TRUNC == 0 {
		t.Fatalf("peek: %v %+v", err, r)
	}
	whole := r.Len
	r = socket.RecvMsg{Max: 8, Nonblock: true}
	if err := a.Recv(c, &r); err != nil || r.Len != 8 || r.MsgFlags&unix.MSG_TRUNC == 0 {
		t.Fatalf("short recv: %v %+v (whole %d)", err, r, whole)
	}
	if string(r.From) != string(sockaddr(0, 0)) {
		t.Errorf("from %v", r.From)
	}
	r = socket.RecvMsg{Max: 100, Nonblock: true}
	if err := a.Recv(c, &r); err != nil || r.Len != 20 {
		t.Fatalf("done: %v %+v", err, r)
	}
	if err := a.Recv(c, &socket.RecvMsg{Max: 100, Nonblock: true}); err != unix.EAGAIN {
		t.Errorf("empty: %v", err)
	}
	if a.Readiness()&unix.POLLIN != 0 {
		t.Errorf("readable when empty")
	}

	// A full receive queue drops replies and reports ENOBUFS once.
	if err := a.SetSockOpt(c, unix.SOL_SOCKET, unix.SO_RCVBUF, []byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		a.Send(c, &socket.SendMsg{Data: req})
	}
	if a.Readiness()&unix.POLLERR == 0 {
		t.Errorf("no POLLERR after an overrun")
	}
	if err := a.Recv(c, &socket.RecvMsg{Max: 1 << 16, Nonblock: true}); err != unix.ENOBUFS {
		t.Errorf("overrun: %v", err)
	}
	if err := a.Recv(c, &socket.RecvMsg{Max: 1 << 16, Nonblock: true}); err != nil {
		t.Errorf("after the overrun: %v", err)
	}
	a.Release()
	s2.Release()
	if b.used != 0 {
		t.Errorf("%d bytes still charged after release", b.used)
	}
	// Without memory, no socket (ENFILE) and no replies (ENOBUFS).
	b.max = SocketCost
	s4, err := ns.New(unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.New(unix.SOCK_RAW, 0); err != unix.ENFILE {
		t.Errorf("no memory: %v", err)
	}
	s4.Send(c, &socket.SendMsg{Data: req})
	if err := s4.Recv(c, &socket.RecvMsg{Max: 100, Nonblock: true}); err != unix.ENOBUFS {
		t.Errorf("no memory for replies: %v", err)
	}
	s4.Release()
	if b.used != 0 {
		t.Errorf("%d bytes still charged", b.used)
	}
}

// TestSendFullOfRequests: a send of thousands of dump requests makes at
// most a receive buffer of replies, then stops (ENOBUFS).
func TestSendFullOfRequests(t *testing.T) {
	var data []byte
	for range 10000 {
		data = append(data, request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{0, 0, 0, 0})...)
	}
	r := &responder{portid: 1, chunk: goodSize, room: defaultBuf}
	r.handle(fakeStack{}, data, func(string) {})
	total := 0
	for _, d := range r.out {
		total += len(d) + msgCost
	}
	if !r.overrun || total > defaultBuf+goodSize+msgCost {
		t.Errorf("overrun %v, %d bytes of replies for a %d-byte buffer", r.overrun, total, defaultBuf)
	}
}

func TestBroadcast(t *testing.T) {
	eth := fakeIfs[1]
	for _, tc := range []struct{ p, want string }{
		{"10.0.2.15/24", "10.0.2.255"}, {"10.0.2.15/32", "10.0.2.15"}, {"10.0.2.15/0", "255.255.255.255"},
		{"10.1.2.3/16", "10.1.255.255"},
	} {
		if got := Broadcast(eth, netip.MustParsePrefix(tc.p)); got.String() != tc.want {
			t.Errorf("%s: %s, want %s", tc.p, got, tc.want)
		}
	}
	if Broadcast(fakeIfs[0], netip.MustParsePrefix("127.0.0.1/8")).IsValid() {
		t.Errorf("lo has a broadcast address")
	}
}

// FuzzHandle: no datagram a guest can send makes the request decoder
// panic, and every reply it makes is whole messages.
func FuzzHandle(f *testing.F) {
	f.Add(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{0}))
	f.Add(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 1, append(make([]byte, 16), 9, 0, 3, 0, 'l', 'o', 0, 0)))
	f.Add(request(unix.RTM_NEWADDR, unix.NLM_F_REQUEST, 1, make([]byte, 8)))
	f.Add(request(unix.RTM_GETROUTE, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{unix.AF_INET6}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &responder{portid: 1, chunk: goodSize, room: defaultBuf}
		r.handle(fakeStack{}, data, func(string) {})
		for _, d := range r.out {
			parseAll(t, d, -1)
		}
	})
}

package inet

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/litebox-go/litebox/kernel/socket"
)

// recvControl turns the control messages netstack kept for a datagram
// into Linux's, in Linux's order: ip_cmsg_recv's (IP_PKTINFO, IP_TTL,
// IP_TOS) for IPv4, ip6_datagram_recv_specific_ctl's (IPV6_PKTINFO,
// IPV6_HOPLIMIT, IPV6_TCLASS) for IPv6. Netstack fills only what the
// socket asked for (IP_PKTINFO, IPV6_RECVHOPLIMIT, ...).
func recvControl(cm tcpip.ReceivableControlMessages) []socket.Cmsg {
	le := binary.LittleEndian
	var out []socket.Cmsg
	add := func(level, typ int, data []byte) {
		out = append(out, socket.Cmsg{Level: level, Type: typ, Data: data})
	}
	if cm.HasIPPacketInfo {
		// struct in_pktinfo: ipi_ifindex, ipi_spec_dst, ipi_addr.
		b := le.AppendUint32(nil, uint32(cm.PacketInfo.NIC))
		b = append(b, addr4(cm.PacketInfo.LocalAddr)...)
		b = append(b, addr4(cm.PacketInfo.DestinationAddr)...)
		add(unix.SOL_IP, unix.IP_PKTINFO, b)
	}
	if cm.HasTTL {
		add(unix.SOL_IP, unix.IP_TTL, le.AppendUint32(nil, uint32(cm.TTL)))
	}
	if cm.HasTOS {
		add(unix.SOL_IP, unix.IP_TOS, []byte{cm.TOS}) // one byte, as ip_cmsg_recv_tos
	}
	if cm.HasIPv6PacketInfo {
		// struct in6_pktinfo: ipi6_addr, ipi6_ifindex.
		var a [16]byte
		copy(a[:], cm.IPv6PacketInfo.Addr.AsSlice())
		b := le.AppendUint32(a[:], uint32(cm.IPv6PacketInfo.NIC))
		add(unix.SOL_IPV6, unix.IPV6_PKTINFO, b)
	}
	if cm.HasHopLimit {
		add(unix.SOL_IPV6, unix.IPV6_HOPLIMIT, le.AppendUint32(nil, uint32(cm.HopLimit)))
	}
	if cm.HasTClass {
		add(unix.SOL_IPV6, unix.IPV6_TCLASS, le.AppendUint32(nil, cm.TClass))
	}
	return out
}

// addr4 is a 4-byte IPv4 address (zero when netstack has none).
func addr4(a tcpip.Address) []byte {
	var b [4]byte
	if a.Len() == 4 {
		copy(b[:], a.AsSlice())
	}
	return b[:]
}

// sendControl checks a sendmsg's SOL_IP and SOL_IPV6 control messages
// as Linux's ip_cmsg_send and ip6_datagram_send_ctl do and fills what
// netstack can carry into opts.
//
// Netstack's SendableControlMessages carries a TTL, a hop limit and an
// IPv6 source/interface, nothing else. IP_TOS and IPV6_TCLASS per
// message cannot travel: they are checked and then refused with
// EOPNOTSUPP (and logged) rather than silently sent with the socket's
// class. IP_PKTINFO is checked and then ignored on the send side, which
// on loopback changes nothing visible (the source is the only local
// address) — it is logged.
func (s *Socket) sendControl(cms []socket.Cmsg, opts *tcpip.WriteOptions) error {
	le := binary.LittleEndian
	for _, c := range cms {
		switch {
		case c.Level == unix.SOL_IP && s.domain == unix.AF_INET:
			switch c.Type {
			case unix.IP_TTL:
				v, err := cmsgInt(c.Data, 1, 255)
				if err != nil {
					return err
				}
				opts.ControlMessages.HasTTL = true
				opts.ControlMessages.TTL = uint8(v)
			case unix.IP_TOS:
				// ip_cmsg_send takes an int or (since 4.x) one byte.
				if len(c.Data) != 4 && len(c.Data) != 1 {
					return unix.EINVAL
				}
				v := int32(c.Data[0])
				if len(c.Data) == 4 {
					v = int32(le.Uint32(c.Data))
				}
				if v < 0 || v > 255 {
					return unix.EINVAL
				}
				s.fam.unsupported("sendmsg IP_TOS control message")
				return unix.EOPNOTSUPP
			case unix.IP_PKTINFO:
				if len(c.Data) != 12 {
					return unix.EINVAL
				}
				s.fam.unsupported("sendmsg IP_PKTINFO control message (ignored)")
			default:
				return unix.EINVAL
			}
		case c.Level == unix.SOL_IPV6 && s.domain == unix.AF_INET6:
			switch c.Type {
			case unix.IPV6_HOPLIMIT:
				v, err := cmsgInt(c.Data, -1, 255)
				if err != nil {
					return err
				}
				if v >= 0 { // -1: the socket's own
					opts.ControlMessages.HasHopLimit = true
					opts.ControlMessages.HopLimit = uint8(v)
				}
			case unix.IPV6_TCLASS:
				v, err := cmsgInt(c.Data, -1, 255)
				if err != nil {
					return err
				}
				if v >= 0 {
					s.fam.unsupported("sendmsg IPV6_TCLASS control message")
					return unix.EOPNOTSUPP
				}
			case unix.IPV6_PKTINFO:
				if len(c.Data) != 20 {
					return unix.EINVAL
				}
				var a [16]byte
				copy(a[:], c.Data[:16])
				opts.ControlMessages.HasIPv6PacketInfo = true
				opts.ControlMessages.IPv6PacketInfo = tcpip.IPv6PacketInfo{
					NIC: tcpip.NICID(le.Uint32(c.Data[16:])),
				}
				if a != ([16]byte{}) {
					opts.ControlMessages.IPv6PacketInfo.Addr = tcpip.AddrFrom16(a)
				}
			case unix.IPV6_2292PKTINFO, unix.IPV6_2292HOPLIMIT, unix.IPV6_2292HOPOPTS,
				unix.IPV6_2292DSTOPTS, unix.IPV6_2292RTHDR, unix.IPV6_HOPOPTS,
				unix.IPV6_DSTOPTS, unix.IPV6_RTHDRDSTOPTS, unix.IPV6_RTHDR,
				unix.IPV6_DONTFRAG:
				// Valid for Linux, but netstack has no way to send them.
				s.fam.unsupported("sendmsg SOL_IPV6 control message")
				return unix.EOPNOTSUPP
			default:
				return unix.EINVAL
			}
		default:
			// ip_cmsg_send and ip6_datagram_send_ctl skip the other
			// family's level (Linux's IPv4-mapped sends are not
			// modelled).
		}
	}
	return nil
}

// cmsgInt is the int payload of a control message, EINVAL unless it is
// exactly an int within lo..hi (ip_cmsg_send and ip6_datagram_send_ctl
// check each int-valued message so).
func cmsgInt(data []byte, lo, hi int32) (int32, error) {
	if len(data) != 4 {
		return 0, unix.EINVAL
	}
	v := int32(binary.LittleEndian.Uint32(data))
	if v < lo || v > hi {
		return 0, unix.EINVAL
	}
	return v, nil
}

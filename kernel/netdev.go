package kernel

import (
	"fmt"
	"net/netip"
	"strings"

	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/socket/netlink"
)

// The interface side of the sandbox's network: what netlink, the
// SIOCGIF* ioctls, /proc/net and the synthesized /etc name files show.
// All of it is read from the sandbox's own stack (kernel/netstack), never
// from the host.

// netView is the sandbox's stack as the interface side reads it (nil:
// no interfaces).
type netView struct{ s *netstack.Stack }

// Interfaces lists the interfaces in index order.
func (v netView) Interfaces() []netstack.Interface {
	if v.s == nil {
		return nil
	}
	return v.s.Interfaces()
}

// Routes is the routing table.
func (v netView) Routes() []netstack.Route {
	if v.s == nil {
		return nil
	}
	return v.s.Routes()
}

// Counters are interface index's traffic counters from the stack.
func (v netView) Counters(index int32) netlink.Counters {
	if v.s == nil {
		return netlink.Counters{}
	}
	info, ok := v.s.NICInfo()[tcpip.NICID(index)]
	if !ok {
		return netlink.Counters{}
	}
	st := info.Stats.FillIn()
	return netlink.Counters{
		RxPackets: st.Rx.Packets.Value(), RxBytes: st.Rx.Bytes.Value(),
		TxPackets: st.Tx.Packets.Value(), TxBytes: st.Tx.Bytes.Value(),
		TxDropped: st.TxPacketsDroppedNoBufferSpace.Value(),
	}
}

// HasUplink reports whether the sandbox reaches beyond itself (eth0).
func (v netView) HasUplink() bool { return v.s != nil && v.s.HasUplink() }

func (k *Kernel) netView() netView { return netView{k.netStack()} }

// NetInterfaces lists the sandbox's interfaces (SIOCGIF*).
func (k *Kernel) NetInterfaces() []netstack.Interface { return k.netView().Interfaces() }

// ProcNetDev is /proc/net/dev: each interface's counters in Linux's
// format (dev_seq_printf_stats).
func (k *Kernel) ProcNetDev() ([]byte, error) {
	v := k.netView()
	var b strings.Builder
	b.WriteString("Inter-|   Receive                                                |  Transmit\n")
	b.WriteString(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	for _, ifc := range v.Interfaces() {
		c := v.Counters(ifc.Index)
		fmt.Fprintf(&b, "%6s:%8d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n", ifc.Name,
			c.RxBytes, c.RxPackets, c.RxErrors, c.RxDropped, 0, 0, 0, 0,
			c.TxBytes, c.TxPackets, c.TxErrors, c.TxDropped, 0, 0, 0, 0)
	}
	return []byte(b.String()), nil
}

// ProcNetIfInet6 is /proc/net/if_inet6: the IPv6 addresses, as
// if6_seq_show (address, ifindex, prefix length, scope, flags, name).
func (k *Kernel) ProcNetIfInet6() ([]byte, error) {
	var b strings.Builder
	for _, ifc := range k.netView().Interfaces() {
		for _, p := range ifc.Addrs {
			if !p.Addr().Is6() || p.Addr().Is4In6() {
				continue
			}
			a := p.Addr().As16()
			fmt.Fprintf(&b, "%x %02x %02x %02x %02x %8s\n", a[:], ifc.Index, p.Bits(), scope6(p.Addr()), 0x80, ifc.Name)
		}
	}
	return []byte(b.String()), nil
}

// scope6 is an IPv6 address's scope as /proc/net/if_inet6 shows it
// (IFA_HOST, IFA_LINK, IFA_SITE, global).
func scope6(a netip.Addr) int {
	switch {
	case a.IsLoopback():
		return 0x10
	case a.IsLinkLocalUnicast():
		return 0x20
	}
	return 0
}

// ProcNetRoute is /proc/net/route: the IPv4 main table, as
// fib_route_seq_show (addresses as the host-order number of their network
// bytes, lines padded to 127 columns).
func (k *Kernel) ProcNetRoute() ([]byte, error) {
	v := k.netView()
	ifs := v.Interfaces()
	var b strings.Builder
	pad := func(s string) { fmt.Fprintf(&b, "%-127s\n", s) }
	pad("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT")
	for _, rt := range netlink.SortedRoutes(v.Routes()) {
		if !rt.Dst.Addr().Is4() || netlink.DescribeRoute(rt, ifs).Table != 254 {
			continue
		}
		name := ""
		for _, i := range ifs {
			if i.Index == rt.NIC {
				name = i.Name
			}
		}
		flags, gw := 0x1, uint32(0) // RTF_UP
		if rt.Gateway.IsValid() {
			flags |= 0x2 // RTF_GATEWAY
			gw = le32(rt.Gateway)
		}
		pad(fmt.Sprintf("%s\t%08X\t%08X\t%04X\t%d\t%d\t%d\t%08X\t%d\t%d\t%d", name, le32(rt.Dst.Masked().Addr()), gw,
			flags, 0, 0, 0, maskLE(rt.Dst.Bits()), 0, 0, 0))
	}
	return []byte(b.String()), nil
}

// le32 is an IPv4 address's bytes read as a little-endian number (how
// Linux prints a __be32 with %08X on x86).
func le32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func maskLE(bits int) uint32 {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return m>>24 | (m>>16&0xff)<<8 | (m>>8&0xff)<<16 | (m&0xff)<<24
}

// EtcHostname is the guest's /etc/hostname: the sandbox's hostname.
func (k *Kernel) EtcHostname() ([]byte, error) { return []byte(k.cfg.Hostname + "\n"), nil }

// EtcHosts is the guest's /etc/hosts: the loopback names, and the
// hostname on 127.0.1.1 as Debian's installer writes it.
func (k *Kernel) EtcHosts() ([]byte, error) {
	return []byte("# Written by litebox for this sandbox.\n" +
		"127.0.0.1\tlocalhost\n" +
		"127.0.1.1\t" + k.cfg.Hostname + "\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n"), nil
}

// ResolvConf is the guest's /etc/resolv.conf: the gateway's DNS server
// when the sandbox has litebox's uplink, no server otherwise (name lookups
// then fail at once instead of timing out). In an engine's network
// namespace (--net netns:) the engine's own resolv.conf, bind-mounted by
// the bundle, covers this one.
func (k *Kernel) ResolvConf() ([]byte, error) {
	s := "# Written by litebox for this sandbox.\n"
	if st := k.netStack(); st != nil && st.GatewayDNS() {
		s += "nameserver " + netstack.DNSAddr4.String() + "\n"
	}
	return []byte(s), nil
}

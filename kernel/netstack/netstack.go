// Package netstack is a sandbox's TCP/IP stack: one instance of gVisor's
// netstack (gvisor.dev/gvisor/pkg/tcpip) per sandbox, with a loopback
// interface and, when the sandbox may reach the outside (egress or
// published ports), one virtual Ethernet-less interface "eth0" whose far
// end is litebox's gateway (package hostnet). Nothing here touches a host
// socket: packets leave the stack only through the uplink the caller
// passes in.
//
// The addressing follows the user-mode networking convention (slirp,
// QEMU's -netdev user): the guest is 10.0.2.15/24, the gateway 10.0.2.2
// (which stands for the host's loopback), the DNS server 10.0.2.3.
package netstack

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// NIC ids of the two interfaces (also their ifindex in the guest).
const (
	LoopbackNIC tcpip.NICID = 1
	UplinkNIC   tcpip.NICID = 2
)

// The guest's view of the virtual network.
var (
	GuestAddr4   = netip.MustParsePrefix("10.0.2.15/24")
	GatewayAddr4 = netip.MustParseAddr("10.0.2.2")
	DNSAddr4     = netip.MustParseAddr("10.0.2.3")
	GuestAddr6   = netip.MustParsePrefix("fd00:0:0:2::15/64")
	GatewayAddr6 = netip.MustParseAddr("fd00:0:0:2::2")
	// GuestMAC and GatewayMAC are the hardware addresses eth0 reports
	// (the link itself carries bare IP packets).
	GuestMAC   = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	GatewayMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x02}
)

// UplinkMTU is eth0's MTU: 65520, slirp4netns' and pasta's default. The
// link is a pipe between two stacks in one process, with no wire to size
// packets for; large packets cut the per-packet work of both stacks
// (hostnet's BenchmarkGatewayTCP: about 5x the throughput of 1500).
const UplinkMTU = 65520

// Config configures a sandbox's stack.
type Config struct {
	// Uplink, if not nil, is the guest side of the link to the gateway:
	// the stack adds eth0 on it with GuestAddr4/GuestAddr6 and default
	// routes through the gateway. Nil: loopback only (--net none).
	Uplink stack.LinkEndpoint
	// NIC, if not nil, is an Ethernet interface the stack owns whole
	// (--net netns:PATH, package hostnet/netns): its name, MAC, MTU,
	// addresses and routes are the ones the container engine gave the
	// network namespace, and there is no gateway and no DNS server of
	// litebox's. Uplink must then be nil.
	NIC *NIC
}

// NIC describes an Ethernet interface of Config.NIC.
type NIC struct {
	Name   string
	Link   stack.LinkEndpoint // carries Ethernet frames (ARP and NDP resolve neighbours)
	MAC    net.HardwareAddr
	MTU    uint32
	Addrs  []netip.Prefix
	Routes []Route // NIC is ignored: every route goes through this interface
}

// Stack is one sandbox's network stack.
type Stack struct {
	*stack.Stack
	uplink bool
	// eth is eth0 as the guest sees it.
	eth Interface
	// gateway: eth0 is the link to litebox's gateway (10.0.2.2, DNS at
	// 10.0.2.3), not an engine's interface.
	gateway bool
}

// New makes a stack with the loopback interface (127.0.0.1/8, ::1) and,
// if cfg.Uplink is set, eth0.
func New(cfg Config) (*Stack, error) {
	if cfg.Uplink != nil && cfg.NIC != nil {
		return nil, fmt.Errorf("netstack: both a gateway uplink and an Ethernet NIC")
	}
	protos := []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol}
	if cfg.NIC != nil {
		protos = append(protos, arp.NewProtocol) // a real link: neighbours are resolved
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   protos,
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		// Traffic between the guest's own addresses stays in the stack.
		HandleLocal: true,
	})
	ns := &Stack{Stack: s}
	if err := ns.setBuffers(); err != nil {
		s.Close()
		return nil, err
	}
	if err := ns.addNIC(LoopbackNIC, "lo", loopback.New(),
		netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")); err != nil {
		s.Close()
		return nil, err
	}
	routes := []tcpip.Route{
		{Destination: subnet(netip.MustParsePrefix("127.0.0.0/8")), NIC: LoopbackNIC},
		{Destination: subnet(netip.MustParsePrefix("::1/128")), NIC: LoopbackNIC},
	}
	if cfg.Uplink != nil {
		if err := ns.addNIC(UplinkNIC, "eth0", cfg.Uplink, GuestAddr4, GuestAddr6); err != nil {
			s.Close()
			return nil, err
		}
		ns.uplink, ns.gateway = true, true
		ns.eth = Interface{Index: int32(UplinkNIC), Name: "eth0",
			Flags: unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_RUNNING | unix.IFF_MULTICAST,
			MTU:   UplinkMTU, HWAddr: GuestMAC, Addrs: []netip.Prefix{GuestAddr4, GuestAddr6}}
		routes = append(routes,
			tcpip.Route{Destination: subnet(GuestAddr4.Masked()), NIC: UplinkNIC},
			tcpip.Route{Destination: subnet(GuestAddr6.Masked()), NIC: UplinkNIC},
			tcpip.Route{Destination: subnet(netip.MustParsePrefix("0.0.0.0/0")), Gateway: addr(GatewayAddr4), NIC: UplinkNIC},
			tcpip.Route{Destination: subnet(netip.MustParsePrefix("::/0")), Gateway: addr(GatewayAddr6), NIC: UplinkNIC},
		)
	}
	if n := cfg.NIC; n != nil {
		if err := ns.addNIC(UplinkNIC, n.Name, n.Link, n.Addrs...); err != nil {
			s.Close()
			return nil, err
		}
		ns.uplink = true
		ns.eth = Interface{Index: int32(UplinkNIC), Name: n.Name,
			Flags: unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_RUNNING | unix.IFF_MULTICAST,
			MTU:   n.MTU, HWAddr: slices.Clone(n.MAC), Addrs: slices.Clone(n.Addrs)}
		for _, r := range n.Routes {
			rt := tcpip.Route{Destination: subnet(r.Dst), NIC: UplinkNIC}
			if r.Gateway.IsValid() {
				rt.Gateway = addr(r.Gateway)
			}
			routes = append(routes, rt)
		}
	}
	s.SetRouteTable(routes)
	return ns, nil
}

func (ns *Stack) addNIC(id tcpip.NICID, name string, ep stack.LinkEndpoint, addrs ...netip.Prefix) error {
	if err := ns.CreateNICWithOptions(id, ep, stack.NICOptions{Name: name}); err != nil {
		return fmt.Errorf("netstack: creating %s: %s", name, err)
	}
	for _, a := range addrs {
		proto := ipv4.ProtocolNumber
		if a.Addr().Is6() {
			proto = ipv6.ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr(a.Addr()), PrefixLen: a.Bits()}}
		if err := ns.AddProtocolAddress(id, pa, stack.AddressProperties{}); err != nil {
			return fmt.Errorf("netstack: adding %s to %s: %s", a, name, err)
		}
	}
	return nil
}

// Interface is one interface as getifaddrs, netlink and SIOCGIF* report it.
type Interface struct {
	Index  int32
	Name   string
	Flags  uint32 // IFF_UP, IFF_RUNNING, IFF_LOOPBACK, ...
	MTU    uint32
	HWAddr net.HardwareAddr // nil for loopback
	Addrs  []netip.Prefix
}

// Interfaces lists the stack's interfaces in index order.
func (ns *Stack) Interfaces() []Interface {
	lo := Interface{Index: int32(LoopbackNIC), Name: "lo", Flags: unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING,
		MTU: 65536, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}}
	ifs := []Interface{lo}
	if ns.uplink {
		eth := ns.eth
		eth.HWAddr, eth.Addrs = slices.Clone(eth.HWAddr), slices.Clone(eth.Addrs)
		ifs = append(ifs, eth)
	}
	return ifs
}

// UplinkAddrs are eth0's addresses (none without eth0).
func (ns *Stack) UplinkAddrs() []netip.Prefix {
	if !ns.uplink {
		return nil
	}
	return slices.Clone(ns.eth.Addrs)
}

// GatewayDNS reports whether litebox's gateway answers DNS at DNSAddr4
// (egress and published ports; not an engine's namespace).
func (ns *Stack) GatewayDNS() bool { return ns.gateway }

// Route is one entry of the guest's routing table.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // invalid: directly connected
	NIC     int32
}

// Routes is the stack's routing table.
func (ns *Stack) Routes() []Route {
	var out []Route
	for _, r := range ns.GetRouteTable() {
		dst := netip.PrefixFrom(FromAddr(r.Destination.ID()), r.Destination.Prefix())
		rt := Route{Dst: dst, NIC: int32(r.NIC)}
		if r.Gateway.Len() > 0 {
			rt.Gateway = FromAddr(r.Gateway)
		}
		out = append(out, rt)
	}
	return out
}

// HasUplink reports whether eth0 exists.
func (ns *Stack) HasUplink() bool { return ns.uplink }

// Close tears the stack down (the sandbox's end): every endpoint is
// aborted and Close returns once the stack's goroutines (protocol timers,
// TCP processors, link dispatchers) have ended.
func (ns *Stack) Close() { ns.Stack.Destroy() }

// Linux's TCP buffer defaults (net.ipv4.tcp_wmem, tcp_rmem): what a new
// TCP socket's SO_SNDBUF and SO_RCVBUF report and what its buffers hold.
const (
	TCPSendBufDefault = 16384
	TCPRecvBufDefault = 131072
	// BufMax bounds one buffer (twice net.core.wmem_max, as a doubled
	// SO_SNDBUF).
	BufMax = 2 * 4194304
	bufMin = 2304 // SOCK_MIN_RCVBUF
	// TimeWait is how long a closed TCP connection stays in TIME_WAIT
	// or FIN_WAIT2.
	TimeWait = 2 * time.Second
)

// setBuffers gives TCP Linux's buffer sizes and turns receive-buffer
// auto-tuning off: every byte a socket's buffers may hold is what the
// kernel charged to the sandbox's memory for it (kernel/socket/inet).
func (ns *Stack) setBuffers() error {
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: bufMin, Default: TCPSendBufDefault, Max: BufMax}
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: bufMin, Default: TCPRecvBufDefault, Max: BufMax}
	moderate := tcpip.TCPModerateReceiveBufferOption(false)
	nagle := tcpip.TCPDelayEnabled(true) // Linux's default: TCP_NODELAY off
	// Closed connections linger in TIME_WAIT and FIN_WAIT2 after the
	// guest's socket (and its charge) is gone: short timeouts bound how
	// many a guest can pile up by opening and closing connections fast
	// (Linux keeps TIME_WAIT for 60 s but caps the count instead).
	timeWait := tcpip.TCPTimeWaitTimeoutOption(TimeWait)
	linger := tcpip.TCPLingerTimeoutOption(TimeWait)
	for _, o := range []tcpip.SettableTransportProtocolOption{&snd, &rcv, &moderate, &nagle, &timeWait, &linger} {
		if err := ns.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("netstack: TCP option %T: %s", o, err)
		}
	}
	return nil
}

func addr(a netip.Addr) tcpip.Address { return tcpip.AddrFromSlice(a.AsSlice()) }

// FromAddr converts a netstack address to a netip.Addr.
func FromAddr(a tcpip.Address) netip.Addr {
	x, _ := netip.AddrFromSlice(a.AsSlice())
	return x
}

// ToAddr converts a netip.Addr to a netstack address.
func ToAddr(a netip.Addr) tcpip.Address { return addr(a.Unmap()) }

func subnet(p netip.Prefix) tcpip.Subnet {
	p = p.Masked()
	n := 4
	if p.Addr().Is6() {
		n = 16
	}
	mask := net.CIDRMask(p.Bits(), n*8)
	sn, err := tcpip.NewSubnet(addr(p.Addr()), tcpip.MaskFromBytes(mask))
	if err != nil {
		panic(fmt.Sprintf("netstack: subnet %s: %v", p, err)) // constant prefixes only
	}
	return sn
}

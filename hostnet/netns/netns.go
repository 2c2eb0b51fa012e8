// Package netns hands the interface of a network namespace made by a
// container engine (Podman, Docker, containerd: a veth with the
// container's addresses and routes) to the sandbox's own TCP/IP stack, the
// way gVisor's runsc does: the guest's kernel, not the host's, answers on
// that interface, so the engine's port mappings and firewall rules (which
// act on the veth's far end) work unchanged.
//
// Open enters the namespace on one locked OS thread (never the whole
// process), reads the interface's MAC, MTU, addresses and routes over
// netlink, opens an AF_PACKET socket bound to it, and removes the
// addresses from the host kernel's view of the interface so that the host
// kernel answers nothing there (no ARP, no RST, no ICMP): every frame is
// the netstack's. All of it happens before litebox's seccomp filter, which
// needs nothing more: frames move with read and write through Go's
// netpoller (endpoint.go).
package netns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/litebox-go/litebox/kernel/netstack"
)

// ErrNoInterface is Open's error for a namespace with nothing to take
// over: loopback only, or only interfaces that are down (Podman's
// --network=none, a namespace made by `ip netns add` alone). A runc
// container there has loopback only; so does the guest (sandbox.New).
var ErrNoInterface = errors.New("no Ethernet interface that is up")

// Link is a namespace's interface taken over by litebox.
type Link struct {
	// What the namespace had: the guest's eth0 gets the same.
	Name   string
	Index  int // in the namespace
	MAC    net.HardwareAddr
	MTU    uint32
	Addrs  []netip.Prefix
	Routes []netstack.Route

	fd int // the AF_PACKET socket until ep owns it, then -1
	ep *packetEndpoint
	// back gives the addresses and routes back to the host kernel when
	// the link closes (see Close).
	back *restorer
	log  *slog.Logger
}

// Open takes over the one interface of the network namespace at path
// (/run/netns/NAME, /proc/PID/ns/net) that is up and has an Ethernet
// address (loopback and interfaces that are down are left alone). On
// success the interface has no address left in the host kernel until
// Close gives them back.
func Open(path string, log *slog.Logger) (*Link, error) {
	if log == nil {
		log = slog.Default()
	}
	// O_NONBLOCK: a FIFO at path must not hang the open.
	ns, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	defer ns.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(ns.Fd()), &st); err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		return nil, fmt.Errorf("network namespace %s: not a namespace file (nsfs)", path)
	}
	if t, err := unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
		return nil, fmt.Errorf("network namespace %s: not a network namespace (another kind of namespace file)", path)
	}
	// Taking litebox's own namespace over would take the host's
	// addresses away from it (runsc refuses the same).
	if same, err := sameFile(int(ns.Fd()), "/proc/self/ns/net"); err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	} else if same {
		return nil, fmt.Errorf("network namespace %s is litebox's own: taking its interface over would take the host's addresses away", path)
	}

	type result struct {
		l   *Link
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := inNamespace(int(ns.Fd()), path, log)
		done <- result{l, err}
	}()
	r := <-done
	if r.err != nil {
		return nil, r.err
	}
	l := r.l
	ep, err := newPacketEndpoint(l.fd, l.MTU, tcpip.LinkAddress(l.MAC), l.giveBack)
	l.fd = -1 // the endpoint's, closed or not
	if err != nil {
		l.giveBack()
		return nil, fmt.Errorf("network namespace %s: packet endpoint on %s: %w", path, l.Name, err)
	}
	l.ep = ep
	log.Info("network namespace taken over", "netns", path, "interface", l.Name, "mac", l.MAC.String(),
		"mtu", l.MTU, "addrs", fmt.Sprint(l.Addrs), "routes", len(l.Routes))
	return l, nil
}

// sameFile reports whether fd and the file at path are one inode (a
// namespace is identified by its nsfs inode).
func sameFile(fd int, path string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return false, err
	}
	if err := unix.Stat(path, &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// inNamespace does Open's work in the namespace nsfd, on a locked OS
// thread of its own. If the thread cannot go back to litebox's namespace
// it stays locked, and the Go runtime ends it with the goroutine.
func inNamespace(nsfd int, path string, log *slog.Logger) (l *Link, err error) {
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("network namespace: litebox's own: %w", err)
	}
	defer self.Close()
	if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("network namespace %s: entering it: %w", path, err)
	}
	defer func() {
		if rerr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); rerr != nil {
			log.Error("network namespace: thread could not return; it ends", "err", rerr)
			return // still locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
	}()

	link, err := theInterface(path)
	if err != nil {
		return nil, err
	}
	a := link.Attrs()
	l = &Link{Name: a.Name, Index: a.Index, MAC: slices.Clone(a.HardwareAddr), MTU: uint32(a.MTU), fd: -1, log: log}
	if l.MTU == 0 || l.MTU > 65535 {
		return nil, fmt.Errorf("network namespace %s: interface %s: bad MTU %d", path, a.Name, l.MTU)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: addresses of %s: %w", path, a.Name, err)
	}
	for _, ad := range addrs {
		if p, ok := prefix(ad.IPNet); ok {
			l.Addrs = append(l.Addrs, p)
		}
	}
	if len(l.Addrs) == 0 {
		return nil, fmt.Errorf("network namespace %s: interface %s has no address", path, a.Name)
	}
	routes, err := netlink.RouteList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: routes of %s: %w", path, a.Name, err)
	}
	l.Routes = convertRoutes(routes)

	// The socket belongs to the namespace it is made in: this one.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: packet socket: %w", path, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: a.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("network namespace %s: binding the packet socket to %s: %w", path, a.Name, err)
	}
	// What the host kernel itself still sends out of the interface
	// (IPv6 router solicitations, say) is not for the guest.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		log.Debug("network namespace: PACKET_IGNORE_OUTGOING", "err", err)
	}
	// A burst from the engine's side (a veth peer sends up to 64 KiB
	// per frame) must not overflow the socket's default ~200 KiB while
	// the netstack catches up: drops there cost TCP retransmissions.
	// The buffer is host kernel memory, fixed per sandbox.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, packetRcvBuf); err != nil {
		log.Debug("network namespace: SO_RCVBUFFORCE", "err", err)
	}
	l.fd = fd

	// A netlink socket of this namespace, made now, puts the addresses
	// back at the end: after the seccomp filter no socket can be made,
	// and write and read are all it needs then.
	back, err := newRestorer(a.Index, addrs, routes)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	l.back = back

	// From here the guest answers for these addresses; the host kernel
	// must not (its RSTs and ARP replies would race the guest's).
	for i := range addrs {
		if err := netlink.AddrDel(link, &addrs[i]); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			l.Close() // gives back what went
			return nil, fmt.Errorf("network namespace %s: removing %s from %s: %w", path, addrs[i].IPNet, a.Name, err)
		}
	}
	return l, nil
}

// theInterface is the namespace's one interface that is up and has an
// Ethernet address, loopback aside. Interfaces that are down are skipped
// as runsc does: the fallback tunnels (tunl0, sit0, gre0...) a host with
// those modules puts in every namespace are down and have no MAC.
func theInterface(path string) (netlink.Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: listing interfaces: %w", path, err)
	}
	var found []netlink.Link
	var names, skipped []string
	for _, lk := range links {
		a := lk.Attrs()
		switch {
		case a.Flags&net.FlagLoopback != 0:
		case a.Flags&net.FlagUp == 0 || len(a.HardwareAddr) != 6:
			skipped = append(skipped, a.Name)
		default:
			found = append(found, lk)
			names = append(names, a.Name)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if len(skipped) > 0 {
			return nil, fmt.Errorf("network namespace %s: %w (down or without a MAC: %s)", path, ErrNoInterface, strings.Join(skipped, ", "))
		}
		return nil, fmt.Errorf("network namespace %s: %w: loopback only", path, ErrNoInterface)
	}
	return nil, fmt.Errorf("network namespace %s: %d Ethernet interfaces are up (%s); litebox takes over exactly one", path, len(found), strings.Join(names, ", "))
}

// convertRoutes keeps the unicast routes of the main table (the
// connected subnets and the gateways); multicast and link-local
// bookkeeping of the host kernel is the netstack's own business.
func convertRoutes(routes []netlink.Route) []netstack.Route {
	var out []netstack.Route
	for _, r := range routes {
		if r.Type != 0 && r.Type != unix.RTN_UNICAST {
			continue
		}
		if r.Table != 0 && r.Table != unix.RT_TABLE_MAIN {
			continue
		}
		var dst netip.Prefix
		if r.Dst == nil {
			switch r.Family {
			case netlink.FAMILY_V4:
				dst = netip.MustParsePrefix("0.0.0.0/0")
			case netlink.FAMILY_V6:
				dst = netip.MustParsePrefix("::/0")
			default:
				continue
			}
		} else {
			p, ok := prefix(r.Dst)
			if !ok {
				continue
			}
			dst = p.Masked()
		}
		if dst.Addr().IsMulticast() {
			continue
		}
		rt := netstack.Route{Dst: dst}
		if r.Gw != nil {
			if gw, ok := netip.AddrFromSlice(r.Gw); ok {
				rt.Gateway = gw.Unmap()
			}
		}
		out = append(out, rt)
	}
	return out
}

// prefix converts a netlink address to a netip.Prefix.
func prefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits != a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

// packetRcvBuf is the AF_PACKET socket's receive buffer.
const packetRcvBuf = 4 << 20

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// NIC is the guest's eth0 on this link, for netstack.Config.NIC. The
// stack owns the endpoint from then on: its end closes the socket and
// gives the addresses back.
func (l *Link) NIC() *netstack.NIC {
	return &netstack.NIC{Name: l.Name, Link: l.ep, MAC: l.MAC, MTU: l.MTU, Addrs: l.Addrs, Routes: l.Routes}
}

// Close closes the socket (a no-op once the stack closed the endpoint),
// then gives the interface's addresses and routes back to the host
// kernel, so that the namespace is as the engine made it (a second
// container in it, a restart in a namespace that outlives its
// container, the engine's own teardown). A litebox killed outright gives
// nothing back; the engine deletes the namespace anyway.
func (l *Link) Close() {
	switch {
	case l.ep != nil:
		l.ep.Close() // gives back through its close action
	case l.fd >= 0:
		unix.Close(l.fd)
		l.fd = -1
		l.giveBack()
	}
}

// giveBack restores the addresses and routes, once.
func (l *Link) giveBack() {
	if l.back == nil {
		return
	}
	if err := l.back.restore(); err != nil {
		l.log.Warn("network namespace: giving the interface back", "interface", l.Name, "err", err)
	}
	l.back = nil
}

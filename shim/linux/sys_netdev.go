package linux

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/socket/netlink"
)

// The SIOCGIF* ioctls: any socket answers them about the sandbox's own
// interfaces (as Linux's dev_ioctl, reached from every family), AF_INET
// sockets also the IPv4 address ones (devinet_ioctl). Setters are EPERM:
// no guest has CAP_NET_ADMIN over its sandbox's stack. Every guest value
// is checked: struct ifreq is copied whole (EFAULT), its name cut at
// IFNAMSIZ, and SIOCGIFCONF writes only whole entries that fit both the
// guest's ifc_len and what exists, so a hostile length allocates nothing.

const (
	ifreqSize  = 40 // sizeof(struct ifreq)
	ifconfSize = 16 // sizeof(struct ifconf)
	ifNameSize = unix.IFNAMSIZ
)

// netdevKind says how a request is served.
type netdevKind int

const (
	devGet   netdevKind = iota // dev_ioctl's getters, any family
	devSet                     // dev_ioctl's setters: EPERM
	inetGet                    // IPv4 address getters: AF_INET only
	inetSet                    // IPv4 address setters: EPERM on AF_INET
	inetBoth                   // EPERM on AF_INET and AF_INET6 (routes, SIOCSIFADDR)
	inet6Set                   // EPERM on AF_INET6 only (SIOCDIFADDR)
)

var netdevIoctls = map[uint]netdevKind{
	unix.SIOCGIFNAME: devGet, unix.SIOCGIFCONF: devGet, unix.SIOCGIFFLAGS: devGet, unix.SIOCGIFMETRIC: devGet,
	unix.SIOCGIFMTU: devGet, unix.SIOCGIFHWADDR: devGet, unix.SIOCGIFINDEX: devGet, unix.SIOCGIFTXQLEN: devGet,
	unix.SIOCGIFMAP: devGet, unix.SIOCGIFSLAVE: devGet,

	unix.SIOCSIFFLAGS: devSet, unix.SIOCSIFMETRIC: devSet, unix.SIOCSIFMTU: devSet, unix.SIOCSIFNAME: devSet,
	unix.SIOCSIFHWADDR: devSet, unix.SIOCSIFTXQLEN: devSet, unix.SIOCSIFMAP: devSet,
	unix.SIOCSIFHWBROADCAST: devSet, unix.SIOCADDMULTI: devSet, unix.SIOCDELMULTI: devSet,

	unix.SIOCGIFADDR: inetGet, unix.SIOCGIFNETMASK: inetGet, unix.SIOCGIFBRDADDR: inetGet,
	unix.SIOCGIFDSTADDR: inetGet,

	unix.SIOCSIFNETMASK: inetSet, unix.SIOCSIFBRDADDR: inetSet, unix.SIOCSIFDSTADDR: inetSet,
	unix.SIOCSIFADDR: inetBoth, unix.SIOCADDRT: inetBoth, unix.SIOCDELRT: inetBoth,
	unix.SIOCDIFADDR: inet6Set,
}

// netdevIoctl serves req if it is an interface request (handled false
// otherwise): ENOTTY on a descriptor that is no socket.
func netdevIoctl(t *kernel.Task, fd int, req uint, argp uint64) (r uint64, handled bool, err error) {
	kind, ok := netdevIoctls[req]
	if !ok {
		return 0, false, nil
	}
	_, s, err := t.Proc.SocketOf(fd)
	if err == unix.ENOTSOCK {
		return 0, true, unix.ENOTTY
	}
	if err != nil {
		return 0, true, err
	}
	family := s.Family()
	switch kind {
	case inetBoth:
		if family == unix.AF_INET || family == unix.AF_INET6 {
			return 0, true, unix.EPERM
		}
		return 0, true, unix.ENOTTY
	case inet6Set:
		if family == unix.AF_INET6 {
			return 0, true, unix.EPERM
		}
		return 0, true, unix.ENOTTY
	case inetGet, inetSet:
		if family != unix.AF_INET {
			return 0, true, unix.ENOTTY
		}
	}
	ifs := t.Proc.Kernel().NetInterfaces()
	if req == unix.SIOCGIFCONF {
		return 0, true, ifconf(t, argp, ifs)
	}
	in, err := t.CopyIn(argp, ifreqSize)
	if err != nil {
		return 0, true, err
	}
	ifr := bytes.Clone(in)
	switch kind {
	case devSet, inetSet:
		return 0, true, unix.EPERM
	case inetGet:
		err = inetIfreq(req, ifr, ifs)
	default:
		err = devIfreq(req, ifr, ifs)
	}
	if err != nil {
		return 0, true, err
	}
	return 0, true, t.CopyOut(argp, ifr)
}

// ifreqName is an ifreq's name as Linux reads it: at most IFNAMSIZ-1
// bytes, up to the first NUL.
func ifreqName(ifr []byte) string {
	n := ifr[:ifNameSize-1]
	if i := bytes.IndexByte(n, 0); i >= 0 {
		n = n[:i]
	}
	return string(n)
}

// findIf finds an interface by name.
func findIf(ifs []netstack.Interface, name string) (netstack.Interface, bool) {
	for _, i := range ifs {
		if i.Name == name {
			return i, true
		}
	}
	return netstack.Interface{}, false
}

// devIfreq serves dev_ioctl's getters on ifr in place: the device is
// named without an alias suffix (":1"), ENODEV when none matches.
func devIfreq(req uint, ifr []byte, ifs []netstack.Interface) error {
	le := binary.LittleEndian
	if req == unix.SIOCGIFNAME {
		idx := int32(le.Uint32(ifr[16:]))
		for _, i := range ifs {
			if i.Index == idx {
				copy(ifr[:ifNameSize], append([]byte(i.Name), 0)) // strcpy: the rest stays
				return nil
			}
		}
		return unix.ENODEV
	}
	name := ifreqName(ifr)
	if i := bytes.IndexByte([]byte(name), ':'); i >= 0 {
		name = name[:i]
	}
	ifc, ok := findIf(ifs, name)
	if !ok {
		return unix.ENODEV
	}
	u := ifr[16:ifreqSize] // the union
	switch req {
	case unix.SIOCGIFFLAGS:
		le.PutUint16(u, uint16(netlink.LinkFlags(ifc))) // a short: IFF_LOWER_UP is cut off
	case unix.SIOCGIFMETRIC:
		le.PutUint32(u, 0)
	case unix.SIOCGIFMTU:
		le.PutUint32(u, ifc.MTU)
	case unix.SIOCGIFINDEX:
		le.PutUint32(u, uint32(ifc.Index))
	case unix.SIOCGIFTXQLEN:
		le.PutUint32(u, netlink.TxQueueLen)
	case unix.SIOCGIFHWADDR:
		le.PutUint16(u, netlink.ARPType(ifc))
		clear(u[2:16])
		copy(u[2:16], netlink.HardwareAddr(ifc))
	case unix.SIOCGIFMAP:
		clear(u) // struct ifmap: no I/O memory, irq or dma
	case unix.SIOCGIFSLAVE:
		return unix.EINVAL // no bonding
	}
	return nil
}

// inetIfreq serves devinet_ioctl's address getters: the address whose
// label is the full name (an alias "lo:1" matches no address:
// EADDRNOTAVAIL), preferring the one ifr_addr names.
func inetIfreq(req uint, ifr []byte, ifs []netstack.Interface) error {
	full := ifreqName(ifr)
	dev := full
	if i := bytes.IndexByte([]byte(full), ':'); i >= 0 {
		dev = full[:i]
	}
	ifc, ok := findIf(ifs, dev)
	if !ok {
		return unix.ENODEV
	}
	le := binary.LittleEndian
	var want netip.Addr
	if le.Uint16(ifr[16:]) == unix.AF_INET {
		want = netip.AddrFrom4([4]byte(ifr[20:24]))
	}
	var found netip.Prefix
	if full == ifc.Name { // the label of every address is its device's name
		for _, p := range ifc.Addrs {
			if p.Addr().Is4() && (!found.IsValid() || p.Addr() == want) {
				found = p
			}
			if found.IsValid() && found.Addr() == want {
				break
			}
		}
	}
	if !found.IsValid() {
		return unix.EADDRNOTAVAIL
	}
	var a netip.Addr
	switch req {
	case unix.SIOCGIFADDR, unix.SIOCGIFDSTADDR:
		a = found.Addr()
	case unix.SIOCGIFBRDADDR:
		a = netlink.Broadcast(ifc, found)
		if !a.IsValid() {
			a = netip.IPv4Unspecified()
		}
	case unix.SIOCGIFNETMASK:
		m := netip.PrefixFrom(netip.AddrFrom4([4]byte{0xff, 0xff, 0xff, 0xff}), found.Bits()).Masked()
		a = m.Addr()
	}
	sin := ifr[16:32]
	clear(sin)
	le.PutUint16(sin, unix.AF_INET)
	b := a.As4()
	copy(sin[4:], b[:])
	return nil
}

// ifconfEntries lays out SIOCGIFCONF's answer as inet_gifconf: one
// struct ifreq per IPv4 address (name, sockaddr_in), as many whole ones as
// room (the guest's ifc_len, negative meaning none) holds; with no buffer
// only the size all would take.
func ifconfEntries(ifs []netstack.Interface, room int32, haveBuf bool) (out []byte, total int32) {
	for _, ifc := range ifs {
		for _, p := range ifc.Addrs {
			if !p.Addr().Is4() {
				continue
			}
			if !haveBuf {
				total += ifreqSize
				continue
			}
			if room-total < ifreqSize {
				return out, total
			}
			e := make([]byte, ifreqSize)
			copy(e[:ifNameSize-1], ifc.Name)
			binary.LittleEndian.PutUint16(e[16:], unix.AF_INET)
			b := p.Addr().As4()
			copy(e[20:], b[:])
			out = append(out, e...)
			total += ifreqSize
		}
	}
	return out, total
}

// ifconf is SIOCGIFCONF: struct ifconf's ifc_len and ifc_buf in, the
// entries out to ifc_buf and their size to ifc_len.
func ifconf(t *kernel.Task, argp uint64, ifs []netstack.Interface) error {
	raw, err := t.CopyIn(argp, ifconfSize)
	if err != nil {
		return err
	}
	room := int32(binary.LittleEndian.Uint32(raw))
	buf := binary.LittleEndian.Uint64(raw[8:])
	out, total := ifconfEntries(ifs, room, buf != 0)
	if len(out) > 0 {
		if err := t.CopyOut(buf, out); err != nil {
			return err
		}
	}
	return t.WriteU32(argp, uint32(total))
}

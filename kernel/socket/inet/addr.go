package inet

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// Sizes of the guest's address structures.
const (
	sizeofSockaddrIn  = 16 // struct sockaddr_in
	sizeofSockaddrIn6 = 28 // struct sockaddr_in6
	// sin6LenRFC2133 is the shortest sockaddr_in6 Linux takes (no
	// sin6_scope_id), as SIN6_LEN_RFC2133.
	sin6LenRFC2133 = 24
)

// sockaddrFamily is a raw sockaddr's family (AF_UNSPEC when too short to
// have one).
func sockaddrFamily(b []byte) int {
	if len(b) < 2 {
		return unix.AF_UNSPEC
	}
	return int(binary.LittleEndian.Uint16(b))
}

// parseAddr decodes a sockaddr for a socket of domain as Linux's
// inet_bind/inet6_bind and tcp_v4_connect/tcp_v6_connect check it: too
// short is EINVAL, another family EAFNOSUPPORT. An AF_INET6 socket keeps
// v4-mapped addresses as they are (netstack serves them on a dual-stack
// endpoint); an unspecified address becomes the empty one, which netstack
// reads as "any".
func parseAddr(domain int, b []byte) (tcpip.FullAddress, error) {
	switch domain {
	case unix.AF_INET:
		if len(b) < sizeofSockaddrIn {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		if sockaddrFamily(b) != unix.AF_INET {
			return tcpip.FullAddress{}, unix.EAFNOSUPPORT
		}
		a := tcpip.FullAddress{Port: binary.BigEndian.Uint16(b[2:]), Addr: tcpip.AddrFrom4Slice(b[4:8])}
		if a.Addr == (tcpip.Address{}) || a.Addr.Unspecified() {
			a.Addr = tcpip.Address{}
		}
		return a, nil
	default:
		if len(b) < sin6LenRFC2133 {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		if sockaddrFamily(b) != unix.AF_INET6 {
			return tcpip.FullAddress{}, unix.EAFNOSUPPORT
		}
		a := tcpip.FullAddress{Port: binary.BigEndian.Uint16(b[2:]), Addr: tcpip.AddrFrom16Slice(b[8:24])}
		if len(b) >= sizeofSockaddrIn6 {
			a.NIC = tcpip.NICID(binary.LittleEndian.Uint32(b[24:28]))
		}
		if a.Addr.Unspecified() {
			a.Addr = tcpip.Address{}
		}
		return a, nil
	}
}

// encodeAddr is the sockaddr getsockname, getpeername, accept and
// recvfrom return for a: sockaddr_in on an AF_INET socket, sockaddr_in6
// (a v4 address v4-mapped) on an AF_INET6 one.
func encodeAddr(domain int, a tcpip.FullAddress) []byte {
	ip := a.Addr.AsSlice()
	if domain == unix.AF_INET {
		b := make([]byte, sizeofSockaddrIn)
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], a.Port)
		if len(ip) == 4 {
			copy(b[4:8], ip)
		} else if len(ip) == 16 && isV4Mapped(ip) {
			copy(b[4:8], ip[12:])
		}
		return b
	}
	b := make([]byte, sizeofSockaddrIn6)
	binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], a.Port)
	switch len(ip) {
	case 4:
		b[18], b[19] = 0xff, 0xff
		copy(b[20:24], ip)
	case 16:
		copy(b[8:24], ip)
	}
	return b
}

func isV4Mapped(ip []byte) bool {
	for _, x := range ip[:10] {
		if x != 0 {
			return false
		}
	}
	return ip[10] == 0xff && ip[11] == 0xff
}

package inet

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/litebox-go/litebox/kernel/socket"
)

// sizeofTCPInfo is how much of struct tcp_info TCP_INFO returns (the
// fields up to tcpi_total_retrans and the rates after; a caller gets at
// most the size it passes).
const sizeofTCPInfo = 232

// Limits Linux puts on the TCP keepalive options (MAX_TCP_KEEPIDLE,
// MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
const (
	maxKeepIdle  = 32767
	maxKeepIntvl = 32767
	maxKeepCnt   = 127
)

// defaultTTL is what IP_TTL and IPV6_UNICAST_HOPS report until set
// (net.ipv4.ip_default_ttl).
const defaultTTL = 64

func le32(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// intVal reads an int option value (EINVAL when shorter than an int).
func intVal(val []byte) (int, error) {
	if len(val) < 4 {
		return 0, unix.EINVAL
	}
	return int(int32(binary.LittleEndian.Uint32(val))), nil
}

// bufSize is sock_setsockopt's SO_SNDBUF/SO_RCVBUF: the value capped at
// wmem_max/rmem_max, doubled (for the kernel's bookkeeping), at least the
// minimum.
func bufSize(v, min int) int {
	return max(int(uint32(min32(uint32(v), bufOptMax)))*2, min)
}

func min32(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}

// parseTimeval reads a struct timeval for SO_RCVTIMEO/SO_SNDTIMEO as
// Linux's sock_set_timeout: EDOM for bad microseconds, a negative time
// means "do not wait", 0 is forever.
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

func timeval(d time.Duration) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(d/time.Second))
	return binary.LittleEndian.AppendUint64(b, uint64(d%time.Second/time.Microsecond))
}

// SetSockOpt sets an option of the SOL_SOCKET, SOL_TCP, SOL_IP or
// SOL_IPV6 level; options litebox does not implement are ENOPROTOOPT and
// recorded as unsupported.
func (s *Socket) SetSockOpt(_ *socket.Caller, level, name int, val []byte) error {
	switch level {
	case unix.SOL_SOCKET:
		return s.setSocketOpt(name, val)
	case unix.SOL_TCP:
		if s.stream() {
			return s.setTCPOpt(name, val)
		}
	case unix.SOL_IP:
		return s.setIPOpt(name, val)
	case unix.SOL_IPV6:
		if s.domain == unix.AF_INET6 {
			return s.setIPv6Opt(name, val)
		}
	case unix.IPPROTO_UDPLITE:
		return s.setUDPLiteOpt(name, val)
	}
	s.fam.unsupported("setsockopt level on an Internet socket")
	return unix.ENOPROTOOPT
}

func (s *Socket) setSocketOpt(name int, val []byte) error {
	so := s.endpoint().SocketOptions()
	switch name {
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		d, err := parseTimeval(val)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if name == unix.SO_RCVTIMEO {
			s.rcvtimeo = d
		} else {
			s.sndtimeo = d
		}
		s.mu.Unlock()
		return nil
	case unix.SO_LINGER:
		if len(val) < 8 {
			return unix.EINVAL
		}
		on := binary.LittleEndian.Uint32(val) != 0
		secs := int32(binary.LittleEndian.Uint32(val[4:]))
		so.SetLinger(tcpip.LingerOption{Enabled: on, Timeout: time.Duration(max(secs, 0)) * time.Second})
		return nil
	}
	v, err := intVal(val)
	if err != nil {
		return err
	}
	switch name {
	case unix.SO_SNDBUF, unix.SO_RCVBUF:
		s.mu.Lock()
		defer s.mu.Unlock()
		snd, rcv := s.sndbuf, s.rcvbuf
		if name == unix.SO_SNDBUF {
			snd = bufSize(v, minSndBuf)
		} else {
			rcv = bufSize(v, minRcvBuf)
		}
		if err := s.recharge(snd, rcv, name); err != nil {
			return err
		}
		asnd, arcv := s.actual()
		if name == unix.SO_SNDBUF {
			so.SetSendBufferSize(int64(asnd), true)
		} else {
			so.SetReceiveBufferSize(int64(arcv), true)
		}
	case unix.SO_REUSEADDR:
		so.SetReuseAddress(v != 0)
	case unix.SO_REUSEPORT:
		so.SetReusePort(v != 0)
	case unix.SO_KEEPALIVE:
		so.SetKeepAlive(v != 0)
	case unix.SO_BROADCAST:
		so.SetBroadcast(v != 0)
	case unix.SO_OOBINLINE:
		s.mu.Lock()
		s.oobin = v != 0
		s.mu.Unlock()
	case unix.SO_PRIORITY:
		if v < 0 || v > 6 {
			return unix.EPERM // higher priorities need CAP_NET_ADMIN
		}
		s.mu.Lock()
		s.priority = v
		s.mu.Unlock()
	case unix.SO_PASSCRED, unix.SO_DONTROUTE, unix.SO_TIMESTAMP:
		// Accepted without effect, as ancillary credentials and
		// timestamps are not delivered on Internet sockets.
		s.fam.unsupported("setsockopt SO_PASSCRED/SO_DONTROUTE/SO_TIMESTAMP on an Internet socket (no effect)")
	default:
		s.fam.unsupported("setsockopt option on an Internet socket")
		return unix.ENOPROTOOPT
	}
	return nil
}

func (s *Socket) setTCPOpt(name int, val []byte) error {
	v, err := intVal(val)
	if err != nil {
		return err
	}
	so := s.endpoint().SocketOptions()
	var terr tcpip.Error
	switch name {
	case unix.TCP_NODELAY:
		so.SetDelayOption(v == 0)
	case unix.TCP_CORK:
		so.SetCorkOption(v != 0)
	case unix.TCP_QUICKACK:
		so.SetQuickAck(v != 0)
	case unix.TCP_KEEPIDLE:
		if v < 1 || v > maxKeepIdle {
			return unix.EINVAL
		}
		o := tcpip.KeepaliveIdleOption(time.Duration(v) * time.Second)
		terr = s.endpoint().SetSockOpt(&o)
	case unix.TCP_KEEPINTVL:
		if v < 1 || v > maxKeepIntvl {
			return unix.EINVAL
		}
		o := tcpip.KeepaliveIntervalOption(time.Duration(v) * time.Second)
		terr = s.endpoint().SetSockOpt(&o)
	case unix.TCP_KEEPCNT:
		if v < 1 || v > maxKeepCnt {
			return unix.EINVAL
		}
		terr = s.endpoint().SetSockOptInt(tcpip.KeepaliveCountOption, v)
	case unix.TCP_USER_TIMEOUT:
		if v < 0 {
			return unix.EINVAL
		}
		o := tcpip.TCPUserTimeoutOption(time.Duration(v) * time.Millisecond)
		terr = s.endpoint().SetSockOpt(&o)
	case unix.TCP_MAXSEG:
		terr = s.endpoint().SetSockOptInt(tcpip.MaxSegOption, v)
	default:
		s.fam.unsupported("setsockopt SOL_TCP option")
		return unix.ENOPROTOOPT
	}
	return errno(terr)
}

func (s *Socket) setIPOpt(name int, val []byte) error {
	v, err := intVal(val)
	if err != nil {
		return err
	}
	switch name {
	case unix.IP_TTL:
		if v == -1 {
			v = 0
		} else if v < 1 || v > 255 {
			return unix.EINVAL
		}
		s.mu.Lock()
		s.ttl = v
		s.mu.Unlock()
		return errno(s.endpoint().SetSockOptInt(tcpip.IPv4TTLOption, v))
	case unix.IP_TOS:
		v &= 0xff
		if s.stream() {
			v &^= 3 // the ECN bits belong to TCP
		}
		s.mu.Lock()
		s.tos = v
		s.mu.Unlock()
		return errno(s.endpoint().SetSockOptInt(tcpip.IPv4TOSOption, v))
	case unix.IP_RECVERR:
		s.endpoint().SocketOptions().SetIPv4RecvError(v != 0)
		return nil
	case unix.IP_PKTINFO:
		s.endpoint().SocketOptions().SetReceivePacketInfo(v != 0)
		return nil
	case unix.IP_RECVTTL:
		s.endpoint().SocketOptions().SetReceiveTTL(v != 0)
		return nil
	case unix.IP_RECVTOS:
		s.endpoint().SocketOptions().SetReceiveTOS(v != 0)
		return nil
	}
	s.fam.unsupported("setsockopt SOL_IP option")
	return unix.ENOPROTOOPT
}

func (s *Socket) setIPv6Opt(name int, val []byte) error {
	v, err := intVal(val)
	if err != nil {
		return err
	}
	switch name {
	case unix.IPV6_V6ONLY:
		s.mu.Lock()
		bound := s.bound
		s.mu.Unlock()
		if bound {
			return unix.EINVAL // inet6 changes it only before a port is taken
		}
		s.endpoint().SocketOptions().SetV6Only(v != 0)
		return nil
	case unix.IPV6_UNICAST_HOPS:
		if v == -1 {
			v = 0
		} else if v < 0 || v > 255 {
			return unix.EINVAL
		}
		s.mu.Lock()
		s.ttl = v
		s.mu.Unlock()
		return errno(s.endpoint().SetSockOptInt(tcpip.IPv6HopLimitOption, v))
	case unix.IPV6_RECVERR:
		s.endpoint().SocketOptions().SetIPv6RecvError(v != 0)
		return nil
	case unix.IPV6_RECVHOPLIMIT:
		s.endpoint().SocketOptions().SetReceiveHopLimit(v != 0)
		return nil
	case unix.IPV6_RECVTCLASS:
		s.endpoint().SocketOptions().SetReceiveTClass(v != 0)
		return nil
	case unix.IPV6_RECVPKTINFO:
		s.endpoint().SocketOptions().SetIPv6ReceivePacketInfo(v != 0)
		return nil
	case unix.IPV6_TCLASS:
		if v == -1 {
			v = 0 // do_ipv6_setsockopt: -1 is the default
		} else if v < 0 || v > 255 {
			return unix.EINVAL
		}
		if s.stream() {
			v &^= 3 // the ECN bits belong to TCP
		}
		return errno(s.endpoint().SetSockOptInt(tcpip.IPv6TrafficClassOption, v))
	}
	s.fam.unsupported("setsockopt SOL_IPV6 option")
	return unix.ENOPROTOOPT
}

// GetSockOpt returns an option's value.
func (s *Socket) GetSockOpt(_ *socket.Caller, level, name int) ([]byte, error) {
	switch level {
	case unix.SOL_SOCKET:
		return s.getSocketOpt(name)
	case unix.SOL_TCP:
		if s.stream() {
			return s.getTCPOpt(name)
		}
	case unix.SOL_IP:
		return s.getIPOpt(name)
	case unix.SOL_IPV6:
		if s.domain == unix.AF_INET6 {
			return s.getIPv6Opt(name)
		}
	case unix.IPPROTO_UDPLITE:
		return s.getUDPLiteOpt(name)
	}
	s.fam.unsupported("getsockopt level on an Internet socket")
	return nil, unix.ENOPROTOOPT
}

func (s *Socket) getSocketOpt(name int) ([]byte, error) {
	if name == unix.SO_ERROR { // drainError takes s.mu
		var v int
		if err := s.drainError(); err != nil {
			if e, ok := errno(err).(unix.Errno); ok {
				v = int(e)
			}
		}
		return le32(v), nil
	}
	so := s.endpoint().SocketOptions()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch name {
	case unix.SO_TYPE:
		return le32(s.typ), nil
	case unix.SO_DOMAIN:
		return le32(s.domain), nil
	case unix.SO_PROTOCOL:
		return le32(s.proto), nil
	case unix.SO_ACCEPTCONN:
		return le32(b2i(s.stream() && tcp.EndpointState(s.endpoint().State()) == tcp.StateListen)), nil
	case unix.SO_SNDBUF:
		return le32(s.sndbuf), nil
	case unix.SO_RCVBUF:
		return le32(s.rcvbuf), nil
	case unix.SO_REUSEADDR:
		return le32(b2i(so.GetReuseAddress())), nil
	case unix.SO_REUSEPORT:
		return le32(b2i(so.GetReusePort())), nil
	case unix.SO_KEEPALIVE:
		return le32(b2i(so.GetKeepAlive())), nil
	case unix.SO_BROADCAST:
		return le32(b2i(so.GetBroadcast())), nil
	case unix.SO_OOBINLINE:
		return le32(b2i(s.oobin)), nil
	case unix.SO_PRIORITY:
		return le32(s.priority), nil
	case unix.SO_PASSCRED, unix.SO_DONTROUTE, unix.SO_TIMESTAMP:
		return le32(0), nil
	case unix.SO_RCVLOWAT, unix.SO_SNDLOWAT:
		return le32(1), nil
	case unix.SO_LINGER:
		l := so.GetLinger()
		b := le32(b2i(l.Enabled))
		return append(b, le32(int(l.Timeout/time.Second))...), nil
	case unix.SO_RCVTIMEO:
		return timeval(s.rcvtimeo), nil
	case unix.SO_SNDTIMEO:
		return timeval(s.sndtimeo), nil
	case unix.SO_PEERCRED:
		return socket.NoPeer.Bytes(), nil
	}
	s.fam.unsupported("getsockopt option on an Internet socket")
	return nil, unix.ENOPROTOOPT
}

// linuxState is a netstack TCP state as Linux numbers it (netstack's
// own states before and after a connection are TCP_CLOSE, or SYN_SENT).
func linuxState(st tcp.EndpointState) int {
	switch st {
	case tcp.StateInitial, tcp.StateBound, tcp.StateError:
		return int(tcp.StateClose)
	case tcp.StateConnecting:
		return int(tcp.StateSynSent)
	}
	return int(st)
}

func (s *Socket) getTCPOpt(name int) ([]byte, error) {
	so := s.endpoint().SocketOptions()
	switch name {
	case unix.TCP_NODELAY:
		return le32(b2i(!so.GetDelayOption())), nil
	case unix.TCP_CORK:
		return le32(b2i(so.GetCorkOption())), nil
	case unix.TCP_QUICKACK:
		return le32(b2i(so.GetQuickAck())), nil
	case unix.TCP_KEEPIDLE:
		var o tcpip.KeepaliveIdleOption
		if err := s.endpoint().GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return le32(int(time.Duration(o) / time.Second)), nil
	case unix.TCP_KEEPINTVL:
		var o tcpip.KeepaliveIntervalOption
		if err := s.endpoint().GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return le32(int(time.Duration(o) / time.Second)), nil
	case unix.TCP_KEEPCNT:
		v, err := s.endpoint().GetSockOptInt(tcpip.KeepaliveCountOption)
		if err != nil {
			return nil, errno(err)
		}
		return le32(v), nil
	case unix.TCP_USER_TIMEOUT:
		var o tcpip.TCPUserTimeoutOption
		if err := s.endpoint().GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return le32(int(time.Duration(o) / time.Millisecond)), nil
	case unix.TCP_MAXSEG:
		v, err := s.endpoint().GetSockOptInt(tcpip.MaxSegOption)
		if err != nil {
			return nil, errno(err)
		}
		return le32(v), nil
	case unix.TCP_INFO:
		var o tcpip.TCPInfoOption
		if err := s.endpoint().GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		b := make([]byte, sizeofTCPInfo)
		b[0] = byte(linuxState(tcp.EndpointState(o.State)))
		b[1] = byte(o.CcState)
		le := binary.LittleEndian
		le.PutUint32(b[8:], uint32(o.RTO/time.Microsecond))
		le.PutUint32(b[68:], uint32(o.RTT/time.Microsecond))
		le.PutUint32(b[72:], uint32(o.RTTVar/time.Microsecond))
		le.PutUint32(b[76:], o.SndSsthresh)
		le.PutUint32(b[80:], o.SndCwnd)
		return b, nil
	}
	s.fam.unsupported("getsockopt SOL_TCP option")
	return nil, unix.ENOPROTOOPT
}

func (s *Socket) getIPOpt(name int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch name {
	case unix.IP_TTL:
		if s.ttl == 0 {
			return le32(defaultTTL), nil
		}
		return le32(s.ttl), nil
	case unix.IP_TOS:
		return le32(s.tos), nil
	case unix.IP_RECVERR:
		return le32(b2i(s.endpoint().SocketOptions().GetIPv4RecvError())), nil
	case unix.IP_PKTINFO:
		return le32(b2i(s.endpoint().SocketOptions().GetReceivePacketInfo())), nil
	case unix.IP_RECVTTL:
		return le32(b2i(s.endpoint().SocketOptions().GetReceiveTTL())), nil
	case unix.IP_RECVTOS:
		return le32(b2i(s.endpoint().SocketOptions().GetReceiveTOS())), nil
	}
	s.fam.unsupported("getsockopt SOL_IP option")
	return nil, unix.ENOPROTOOPT
}

func (s *Socket) getIPv6Opt(name int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch name {
	case unix.IPV6_V6ONLY:
		return le32(b2i(s.endpoint().SocketOptions().GetV6Only())), nil
	case unix.IPV6_UNICAST_HOPS:
		if s.ttl == 0 {
			return le32(defaultTTL), nil
		}
		return le32(s.ttl), nil
	case unix.IPV6_RECVERR:
		return le32(b2i(s.endpoint().SocketOptions().GetIPv6RecvError())), nil
	case unix.IPV6_RECVHOPLIMIT:
		return le32(b2i(s.endpoint().SocketOptions().GetReceiveHopLimit())), nil
	case unix.IPV6_RECVTCLASS:
		return le32(b2i(s.endpoint().SocketOptions().GetReceiveTClass())), nil
	case unix.IPV6_RECVPKTINFO:
		return le32(b2i(s.endpoint().SocketOptions().GetIPv6ReceivePacketInfo())), nil
	case unix.IPV6_TCLASS:
		v, terr := s.endpoint().GetSockOptInt(tcpip.IPv6TrafficClassOption)
		if terr != nil {
			return nil, errno(terr)
		}
		return le32(v), nil
	}
	s.fam.unsupported("getsockopt SOL_IPV6 option")
	return nil, unix.ENOPROTOOPT
}

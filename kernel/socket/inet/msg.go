package inet

import (
	"bytes"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/litebox-go/litebox/kernel/socket"
)

// Send sends m: a stream's data as far as the send buffer takes it,
// waiting for room unless m.Nonblock (a blocking send returns once all is
// queued, or with what was queued when a signal or SO_SNDTIMEO stopped
// it); a datagram whole or not at all.
func (s *Socket) Send(c *socket.Caller, m *socket.SendMsg) (int, error) {
	m.Release() // descriptors and credentials do not travel on Internet sockets
	if m.Flags&unix.MSG_OOB != 0 {
		s.fam.unsupported("MSG_OOB on an Internet socket")
		return 0, unix.EOPNOTSUPP
	}
	var opts tcpip.WriteOptions
	if len(m.Control) > 0 && !s.stream() {
		// tcp_sendmsg ignores IP control messages; udp checks them.
		if err := s.sendControl(m.Control, &opts); err != nil {
			return 0, err
		}
	}
	opts.More = m.Flags&unix.MSG_MORE != 0
	if len(m.To) > 0 {
		if s.stream() {
			// Linux's TCP ignores the address of a sendto (except for
			// fast open): the connection decides.
		} else {
			raw := m.To
			if s.domain == unix.AF_INET && len(raw) >= sizeofSockaddrIn && sockaddrFamily(raw) == unix.AF_UNSPEC {
				// udp_sendmsg takes AF_UNSPEC for AF_INET.
				raw = append([]byte{byte(unix.AF_INET), 0}, raw[2:]...)
			}
			to, err := parseAddr(s.domain, raw)
			if err != nil {
				return 0, err
			}
			opts.To = &to
		}
	}
	s.mu.Lock()
	dl := deadline(s.sndtimeo)
	s.mu.Unlock()
	if !s.stream() {
		err := s.wait(c, waiter.WritableEvents, m.Nonblock, dl, func() tcpip.Error {
			_, terr := s.endpoint().Write(bytes.NewReader(m.Data), opts)
			return terr
		})
		if err != nil {
			return 0, err
		}
		s.markBound()
		return len(m.Data), nil
	}
	sent := 0
	err := s.wait(c, waiter.WritableEvents, m.Nonblock, dl, func() tcpip.Error {
		for sent < len(m.Data) {
			n, terr := s.endpoint().Write(bytes.NewReader(m.Data[sent:]), opts)
			sent += int(n)
			if terr != nil {
				if _, ok := terr.(*tcpip.ErrWouldBlock); ok && sent > 0 && m.Nonblock {
					return nil // a non-blocking send returns what fit
				}
				return terr
			}
		}
		return nil
	})
	if sent > 0 {
		return sent, nil
	}
	s.noteError(err)
	if err == unix.ENOTCONN {
		err = unix.EPIPE // tcp_sendmsg: sk_stream_wait_connect on a closed socket
	}
	return 0, err
}

// markBound records the implicit bind of a first send.
func (s *Socket) markBound() {
	s.mu.Lock()
	s.bound = true
	s.mu.Unlock()
}

// Recv receives into r: a stream's bytes (all r.Max with MSG_WAITALL,
// unless the stream ends, a signal or a timeout comes first), or one
// datagram (MSG_TRUNC reports its whole length).
func (s *Socket) Recv(c *socket.Caller, r *socket.RecvMsg) error {
	if r.Flags&unix.MSG_OOB != 0 {
		s.fam.unsupported("MSG_OOB on an Internet socket")
		return unix.EOPNOTSUPP
	}
	if r.Flags&unix.MSG_ERRQUEUE != 0 {
		return unix.EAGAIN // nothing is ever queued there (no IP_RECVERR)
	}
	if r.Max == 0 && s.stream() {
		return nil // tcp_recvmsg with nothing to copy returns at once
	}
	peek := r.Flags&unix.MSG_PEEK != 0
	waitall := s.stream() && r.Flags&unix.MSG_WAITALL != 0 && !peek
	s.mu.Lock()
	dl := deadline(s.rcvtimeo)
	s.mu.Unlock()
	// The bytes go straight into the caller's buffer when it gave one
	// (append then never reallocates); otherwise into one that grows with
	// what arrives, never past r.Max (the LimitedWriter).
	var buf recvBuf
	if cap(r.Buf) >= r.Max {
		buf.b = r.Buf[:0]
	}
	var res tcpip.ReadResult
	eof := false
	read := func() tcpip.Error {
		w := tcpip.LimitedWriter{W: &buf, N: int64(r.Max - len(buf.b))}
		rr, terr := s.endpoint().Read(&w, tcpip.ReadOptions{Peek: peek, NeedRemoteAddr: !s.stream()})
		if terr != nil {
			if _, ok := terr.(*tcpip.ErrClosedForReceive); ok {
				eof = true
				return nil
			}
			return terr
		}
		if len(buf.b) == rr.Count { // the first read of the call
			res = rr
		}
		return nil
	}
	for {
		err := s.wait(c, waiter.ReadableEvents, r.Nonblock, dl, read)
		if err != nil {
			if len(buf.b) > 0 {
				break
			}
			if err == unix.ENOTCONN || err == unix.EINVAL {
				if s.stream() {
					return unix.ENOTCONN
				}
			}
			s.noteError(err)
			return err
		}
		if !waitall || eof || len(buf.b) >= r.Max || r.Max == 0 {
			break
		}
	}
	r.Data = buf.b
	r.Len = len(r.Data)
	if !s.stream() {
		r.From = encodeAddr(s.domain, res.RemoteAddr)
		r.Control = recvControl(res.ControlMessages)
		if res.Total > res.Count {
			r.MsgFlags |= unix.MSG_TRUNC
			if r.Flags&unix.MSG_TRUNC != 0 {
				r.Len = res.Total
			}
		}
	}
	return nil
}

// recvBuf collects received bytes (an io.Writer for netstack's Read).
type recvBuf struct{ b []byte }

func (w *recvBuf) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// errno translates a netstack error to the errno Linux gives in its
// place (nil for nil).
func errno(e tcpip.Error) error {
	switch e.(type) {
	case nil:
		return nil
	case *tcpip.ErrWouldBlock:
		return unix.EAGAIN
	case *tcpip.ErrConnectionRefused:
		return unix.ECONNREFUSED
	case *tcpip.ErrConnectionReset:
		return unix.ECONNRESET
	case *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		return unix.ECONNABORTED
	case *tcpip.ErrNetworkUnreachable, *tcpip.ErrNoNet:
		return unix.ENETUNREACH
	case *tcpip.ErrHostUnreachable:
		return unix.EHOSTUNREACH
	case *tcpip.ErrHostDown:
		return unix.EHOSTDOWN
	case *tcpip.ErrPortInUse, *tcpip.ErrDuplicateAddress:
		return unix.EADDRINUSE
	case *tcpip.ErrNoPortAvailable, *tcpip.ErrBadLocalAddress:
		return unix.EADDRNOTAVAIL
	case *tcpip.ErrAlreadyBound, *tcpip.ErrInvalidEndpointState, *tcpip.ErrInvalidOptionValue, *tcpip.ErrBadAddress:
		return unix.EINVAL
	case *tcpip.ErrAlreadyConnected:
		return unix.EISCONN
	case *tcpip.ErrAlreadyConnecting:
		return unix.EALREADY
	case *tcpip.ErrConnectStarted:
		return unix.EINPROGRESS
	case *tcpip.ErrNotConnected:
		return unix.ENOTCONN
	case *tcpip.ErrClosedForSend:
		return unix.EPIPE
	case *tcpip.ErrClosedForReceive:
		return nil
	case *tcpip.ErrDestinationRequired:
		return unix.EDESTADDRREQ
	case *tcpip.ErrMessageTooLong:
		return unix.EMSGSIZE
	case *tcpip.ErrNoBufferSpace:
		return unix.ENOBUFS
	case *tcpip.ErrTimeout:
		return unix.ETIMEDOUT
	case *tcpip.ErrBroadcastDisabled, *tcpip.ErrNotPermitted:
		return unix.EACCES
	case *tcpip.ErrAddressFamilyNotSupported:
		return unix.EAFNOSUPPORT
	case *tcpip.ErrNotSupported, *tcpip.ErrQueueSizeNotSupported:
		return unix.EOPNOTSUPP
	case *tcpip.ErrUnknownProtocolOption:
		return unix.ENOPROTOOPT
	case *tcpip.ErrUnknownProtocol:
		return unix.EPROTONOSUPPORT
	case *tcpip.ErrUnknownDevice, *tcpip.ErrUnknownNICID, *tcpip.ErrInvalidNICID:
		return unix.ENODEV
	case *tcpip.ErrBadBuffer:
		return unix.EFAULT
	case *tcpip.ErrMalformedHeader:
		return unix.EINVAL
	case *tcpip.ErrEndpointBusy:
		return unix.EBUSY
	}
	return unix.EINVAL
}

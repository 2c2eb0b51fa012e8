package unixsock

import (
	"bytes"
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/socket"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Send sends one message: a stream socket's data is cut into chunks the
// sender's buffer (SO_SNDBUF) admits, waiting for room unless m.Nonblock;
// a datagram or seqpacket message goes whole or not at all.
func (e *Endpoint) Send(c *socket.Caller, m *socket.SendMsg) (int, error) {
	if m.Flags&unix.MSG_OOB != 0 {
		m.Release()
		e.ns.unsupported("MSG_OOB on AF_UNIX")
		return 0, unix.EOPNOTSUPP
	}
	cr := socket.CredOf(c)
	if m.Creds != nil {
		cr = *m.Creds
	}
	var n int
	var err error
	if e.typ == unix.SOCK_STREAM {
		n, err = e.sendStream(c, m, cr)
	} else {
		n, err = e.sendMessage(c, m, cr)
	}
	m.Release() // what was not queued
	return n, err
}

// enqueueLocked charges and queues data from e to t; ENOMEM without
// memory (as a pipe write, and Linux's skb allocation under a memory
// cgroup), ETOOMANYREFS when the descriptors in flight would exceed the
// sender's RLIMIT_NOFILE.
func (e *Endpoint) enqueueLocked(c *socket.Caller, t *Endpoint, data []byte, m *socket.SendMsg, cr socket.Ucred) error {
	ns := e.ns
	if len(m.Rights) > 0 && ns.inflight+uint64(len(m.Rights)) > c.NoFile {
		return unix.ETOOMANYREFS
	}
	cost := len(data) + msgCost + len(e.addr)
	if ns.charge(int64(cost)) != nil {
		return unix.ENOMEM
	}
	msg := &message{data: bytes.Clone(data), rights: m.Rights, cred: cr, sender: e, cost: cost}
	if e.addr != nil {
		msg.from = e.addr
	}
	m.Rights = nil
	ns.inflight += uint64(len(msg.rights))
	e.wmem += cost
	t.queue = append(t.queue, msg)
	t.qbytes += len(data)
	t.wakeLocked()
	return nil
}

func (e *Endpoint) sendStream(c *socket.Caller, m *socket.SendMsg, cr socket.Ucred) (int, error) {
	ns := e.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if len(m.To) > 0 {
		if e.state == stateConnected {
			return 0, unix.EISCONN
		}
		return 0, unix.EOPNOTSUPP
	}
	if e.state != stateConnected || e.peer == nil {
		return 0, unix.ENOTCONN
	}
	if e.shut&sendShut != 0 {
		return 0, unix.EPIPE
	}
	dl := deadline(e.sndtimeo)
	sent := 0
	for sent < len(m.Data) {
		p := e.peer
		if p.released || p.shut&rcvShut != 0 {
			return partial(sent, unix.EPIPE)
		}
		if e.wmem >= e.sndbuf {
			if m.Nonblock {
				return partial(sent, unix.EAGAIN)
			}
			if err := e.waitLocked(c, dl); err != nil {
				return partial(sent, err)
			}
			if e.shut&sendShut != 0 {
				return partial(sent, unix.EPIPE)
			}
			continue
		}
		chunk := min(len(m.Data)-sent, max(e.sndbuf/2-64, 1), streamChunk)
		if err := e.enqueueLocked(c, p, m.Data[sent:sent+chunk], m, cr); err != nil {
			return partial(sent, err)
		}
		sent += chunk
	}
	return sent, nil
}

// partial reports what a send moved before err stopped it.
func partial(sent int, err error) (int, error) {
	if sent > 0 {
		return sent, nil
	}
	return 0, err
}

// sendMessage sends one datagram (SOCK_DGRAM to m.To or the peer) or
// record (SOCK_SEQPACKET to the peer).
func (e *Endpoint) sendMessage(c *socket.Caller, m *socket.SendMsg, cr socket.Ucred) (int, error) {
	ns := e.ns
	var to *Endpoint
	if e.typ == unix.SOCK_DGRAM && len(m.To) > 0 {
		t, err := ns.lookup(c, m.To, e.typ)
		if err != nil {
			return 0, err
		}
		to = t
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if len(m.Data) > e.sndbuf-32 {
		return 0, unix.EMSGSIZE
	}
	dl := deadline(e.sndtimeo)
	for {
		t, err := e.destinationLocked(to)
		if err != nil {
			return 0, err
		}
		if e.passcred && e.addr == nil {
			if err := e.autobindLocked(); err != nil {
				return 0, err
			}
		}
		full := e.typ == unix.SOCK_DGRAM && t != e && t.peer != e && len(t.queue) > maxDgramQlen
		if full || e.wmem >= e.sndbuf {
			if m.Nonblock {
				return 0, unix.EAGAIN
			}
			w := e
			if full {
				w = t
			}
			if err := w.waitLocked(c, dl); err != nil {
				return 0, err
			}
			continue
		}
		if err := e.enqueueLocked(c, t, m.Data, m, cr); err != nil {
			return 0, err
		}
		return len(m.Data), nil
	}
}

// destinationLocked is where a datagram or record goes, with Linux's
// errors: ENOTCONN without one, ECONNREFUSED to a closed socket (which
// also disconnects a datagram socket from it), EPERM to a datagram
// socket connected elsewhere, EPIPE after a shutdown.
func (e *Endpoint) destinationLocked(to *Endpoint) (*Endpoint, error) {
	if e.typ == unix.SOCK_SEQPACKET {
		p := e.peer
		if e.state != stateConnected || p == nil {
			return nil, unix.ENOTCONN
		}
		if e.shut&sendShut != 0 || p.released || p.shut&rcvShut != 0 {
			return nil, unix.EPIPE
		}
		return p, nil
	}
	if e.shut&sendShut != 0 {
		return nil, unix.EPIPE
	}
	t := to
	if t == nil {
		if t = e.peer; t == nil {
			return nil, unix.ENOTCONN
		}
	}
	if t.typ != e.typ {
		return nil, unix.EPROTOTYPE
	}
	if t.released {
		if e.peer == t {
			e.disconnectLocked()
		}
		return nil, unix.ECONNREFUSED
	}
	if t.peer != nil && t.peer != e && !t.peer.released {
		return nil, unix.EPERM
	}
	if t.shut&rcvShut != 0 {
		return nil, unix.EPIPE
	}
	return t, nil
}

// Recv receives: a stream socket gathers queued data (up to r.Max, all of
// it with MSG_WAITALL), a datagram or seqpacket socket one message.
func (e *Endpoint) Recv(c *socket.Caller, r *socket.RecvMsg) error {
	if r.Flags&unix.MSG_OOB != 0 {
		if e.typ == unix.SOCK_STREAM {
			return unix.EINVAL // no out-of-band data queued
		}
		return unix.EOPNOTSUPP
	}
	ns := e.ns
	ns.mu.Lock()
	var drop []*vfs.File
	var err error
	if e.typ == unix.SOCK_STREAM {
		drop, err = e.recvStream(c, r)
	} else {
		drop, err = e.recvMessage(c, r)
	}
	ns.mu.Unlock()
	for _, f := range drop {
		_ = f.DecRef()
	}
	return err
}

// waitData waits for e's queue to change after it was found empty;
// done reports that the receive ends now (EOF, error or no wait).
func (e *Endpoint) waitData(c *socket.Caller, nonblock bool, dl time.Time) (done bool, err error) {
	if e.err != 0 {
		err, e.err = e.err, 0
		return true, err
	}
	if e.shut&rcvShut != 0 {
		return true, nil
	}
	if nonblock {
		return true, unix.EAGAIN
	}
	if err := e.waitLocked(c, dl); err != nil {
		return true, err
	}
	return false, nil
}

func (e *Endpoint) recvStream(c *socket.Caller, r *socket.RecvMsg) ([]*vfs.File, error) {
	if e.state != stateConnected {
		return nil, unix.EINVAL
	}
	peek := r.Flags&unix.MSG_PEEK != 0
	target := 1
	if r.Flags&unix.MSG_WAITALL != 0 && !peek {
		target = max(r.Max, 1)
	}
	dl := deadline(e.rcvtimeo)
	var drop []*vfs.File
	var cr *socket.Ucred
	copied := 0
	idx, off := 0, 0 // where a peek continues
	for {
		if !peek {
			idx, off = 0, 0
		}
		if idx >= len(e.queue) {
			if copied >= target {
				break
			}
			done, err := e.waitData(c, r.Nonblock, dl)
			if done {
				if copied > 0 {
					break
				}
				return drop, err
			}
			continue
		}
		m := e.queue[idx]
		if peek && idx == 0 && off == 0 {
			off = m.off
		} else if !peek {
			off = m.off
		}
		if cr != nil && e.passcred && m.cred != *cr {
			break // never glue the data of different senders
		}
		if cr == nil {
			mc := m.cred
			cr = &mc
			r.From = m.from
		}
		n := min(len(m.data)-off, r.Max-copied)
		r.Data = append(r.Data, m.data[off:off+n]...)
		copied += n
		rights := len(m.rights) > 0
		if rights {
			r.Rights = takeRights(m, peek, e.ns)
		}
		if peek {
			if off+n == len(m.data) {
				idx, off = idx+1, 0
			} else {
				off += n
			}
		} else {
			m.off += n
			e.qbytes -= n
			if m.off == len(m.data) {
				e.queue[0] = nil
				e.queue = e.queue[1:]
				drop = e.dequeuedLocked(m, drop)
			}
		}
		if rights || copied >= r.Max {
			break
		}
	}
	r.Len = copied
	if e.passcred && cr != nil {
		r.Creds = cr
	}
	return drop, nil
}

// takeRights hands a message's descriptors to the receiver: moved, or
// new references with MSG_PEEK (the message keeps its own).
func takeRights(m *message, peek bool, ns *Namespace) []*vfs.File {
	if peek {
		for _, f := range m.rights {
			f.IncRef()
		}
		return append([]*vfs.File(nil), m.rights...)
	}
	r := m.rights
	m.rights = nil
	ns.inflight -= uint64(len(r))
	return r
}

func (e *Endpoint) recvMessage(c *socket.Caller, r *socket.RecvMsg) ([]*vfs.File, error) {
	if e.typ == unix.SOCK_SEQPACKET && e.state != stateConnected {
		return nil, unix.ENOTCONN
	}
	dl := deadline(e.rcvtimeo)
	for len(e.queue) == 0 {
		if done, err := e.waitData(c, r.Nonblock, dl); done {
			return nil, err
		}
	}
	m := e.queue[0]
	n := min(len(m.data), r.Max)
	r.Data = append(r.Data, m.data[:n]...)
	r.Len = n
	if len(m.data) > r.Max {
		r.MsgFlags |= unix.MSG_TRUNC
		if r.Flags&unix.MSG_TRUNC != 0 {
			r.Len = len(m.data)
		}
	}
	r.From = m.from
	if e.passcred {
		mc := m.cred
		r.Creds = &mc
	}
	r.Rights = takeRights(m, r.Flags&unix.MSG_PEEK != 0, e.ns)
	if r.Flags&unix.MSG_PEEK != 0 {
		return nil, nil
	}
	e.queue[0] = nil
	e.queue = e.queue[1:]
	e.qbytes -= len(m.data)
	return e.dequeuedLocked(m, nil), nil
}

// boolOpts are the SOL_SOCKET flags that are accepted and reported back
// but change nothing for AF_UNIX.
var boolOpts = map[int]bool{unix.SO_KEEPALIVE: true, unix.SO_BROADCAST: true, unix.SO_DONTROUTE: true,
	unix.SO_OOBINLINE: true}

// SetSockOpt sets a SOL_SOCKET option.
func (e *Endpoint) SetSockOpt(c *socket.Caller, level, name int, val []byte) error {
	if level != unix.SOL_SOCKET {
		e.ns.unsupported("setsockopt level on AF_UNIX")
		return unix.EOPNOTSUPP
	}
	ns := e.ns
	switch name {
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		d, err := parseTimeval(val)
		if err != nil {
			return err
		}
		ns.mu.Lock()
		if name == unix.SO_RCVTIMEO {
			e.rcvtimeo = d
		} else {
			e.sndtimeo = d
		}
		ns.mu.Unlock()
		return nil
	case unix.SO_LINGER:
		if len(val) < 8 {
			return unix.EINVAL
		}
		return nil // no data is lost on close that lingering could save
	}
	if len(val) < 4 {
		return unix.EINVAL
	}
	v := int32(binary.LittleEndian.Uint32(val))
	ns.mu.Lock()
	defer ns.mu.Unlock()
	switch name {
	case unix.SO_SNDBUF:
		e.sndbuf = max(int(min(uint32(v), maxBuf/2))*2, minSndBuf)
		e.wakeLocked()
	case unix.SO_RCVBUF:
		e.rcvbuf = max(int(min(uint32(v), maxBuf/2))*2, minRcvBuf)
	case unix.SO_PASSCRED:
		e.passcred = v != 0
	case unix.SO_REUSEADDR:
		e.reuse = v != 0
	case unix.SO_REUSEPORT:
		if v != 0 {
			return unix.EOPNOTSUPP
		}
	default:
		if !boolOpts[name] {
			ns.unsupported("setsockopt option on AF_UNIX")
			return unix.ENOPROTOOPT
		}
	}
	return nil
}

// parseTimeval reads a struct timeval for SO_RCVTIMEO/SO_SNDTIMEO as
// Linux's sock_set_timeout: EDOM for bad microseconds, a negative time
// is 0 (no wait... as Linux, which then does not block), 0 is forever.
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

// GetSockOpt returns a SOL_SOCKET option's value.
func (e *Endpoint) GetSockOpt(c *socket.Caller, level, name int) ([]byte, error) {
	if level != unix.SOL_SOCKET {
		return nil, unix.EOPNOTSUPP
	}
	ns := e.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var v int
	switch name {
	case unix.SO_TYPE:
		v = e.typ
	case unix.SO_DOMAIN:
		v = unix.AF_UNIX
	case unix.SO_PROTOCOL:
		v = 0
	case unix.SO_ERROR:
		v = int(e.err)
		e.err = 0
	case unix.SO_ACCEPTCONN:
		v = b2i(e.state == stateListening)
	case unix.SO_SNDBUF:
		v = e.sndbuf
	case unix.SO_RCVBUF:
		v = e.rcvbuf
	case unix.SO_PASSCRED:
		v = b2i(e.passcred)
	case unix.SO_REUSEADDR:
		v = b2i(e.reuse)
	case unix.SO_PEERCRED:
		if e.peercred == nil {
			return socket.NoPeer.Bytes(), nil
		}
		return e.peercred.Bytes(), nil
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		d := e.rcvtimeo
		if name == unix.SO_SNDTIMEO {
			d = e.sndtimeo
		}
		b := binary.LittleEndian.AppendUint64(nil, uint64(d/time.Second))
		return binary.LittleEndian.AppendUint64(b, uint64(d%time.Second/time.Microsecond)), nil
	case unix.SO_LINGER:
		return make([]byte, 8), nil
	case unix.SO_REUSEPORT:
		v = 0
	default:
		if !boolOpts[name] {
			return nil, unix.ENOPROTOOPT
		}
	}
	return binary.LittleEndian.AppendUint32(nil, uint32(v)), nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

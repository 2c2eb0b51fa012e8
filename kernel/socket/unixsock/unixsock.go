// Package unixsock is the AF_UNIX family of the kernel's sockets:
// SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET endpoints with names in the
// sandbox's file systems (socket inodes in memfs) and in its abstract
// namespace, connection backlogs, message queues with SCM_RIGHTS and
// SCM_CREDENTIALS, shutdown and poll readiness, with Linux's semantics
// (net/unix/af_unix.c) and errnos.
//
// Everything lives in the kernel: no host socket is ever made or
// connected. All endpoints of a sandbox share one mutex (Namespace.mu):
// a connect touches a listener, a new endpoint and the client, a send the
// sender's and the receiver's accounting, and a single lock makes every
// such step atomic without lock-ordering rules. Nothing slow happens under
// it: guest memory is copied before and after, file references are
// dropped after unlocking (a dropped file may be a socket whose release
// takes the lock), and path walks run unlocked.
package unixsock

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/socket"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Limits, as Linux's defaults on this kind of machine.
const (
	// DefaultBuf is the default SO_SNDBUF and SO_RCVBUF (net.core.wmem_default).
	DefaultBuf = 212992
	// maxBuf is twice net.core.wmem_max: the largest effective buffer.
	maxBuf = 2 * 4194304
	// minSndBuf and minRcvBuf are Linux's SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF.
	minSndBuf = 4608
	minRcvBuf = 2304
	// maxDgramQlen is net.unix.max_dgram_qlen: a datagram receive queue
	// takes one more than this before senders wait.
	maxDgramQlen = 10
	// somaxconn bounds listen's backlog (net.core.somaxconn).
	somaxconn = 4096
	// ScmMaxFD is SCM_MAX_FD: descriptors per message.
	ScmMaxFD = 253
	// SocketCost is charged to the sandbox's memory per endpoint.
	SocketCost = 2048
	// msgCost is what each queued message costs beside its data, like a
	// Linux skb's truesize overhead; it counts in the sender's SO_SNDBUF
	// and in the memory budget.
	msgCost = 256
	// streamChunk bounds one stream message as Linux's unix_stream_sendmsg
	// sizes an skb (SKB_MAX_HEAD(0) plus 32 KiB of page fragments), so that
	// a send fills SO_SNDBUF in the same steps (a non-blocking 1 MiB send
	// takes 219264 bytes with the default buffer, as on Linux).
	streamChunk = 36544
	// autobindNames is how many names autobind can give ("\0" + 5 hex digits).
	autobindNames = 1 << 20
)

// Shutdown bits, as Linux's RCV_SHUTDOWN and SEND_SHUTDOWN.
const (
	rcvShut  = 1
	sendShut = 2
	bothShut = rcvShut | sendShut
)

// Namespace is the AF_UNIX world of one sandbox: its abstract names and
// the lock all its endpoints share.
type Namespace struct {
	mu       sync.Mutex
	abstract map[string]*Endpoint
	live     map[*Endpoint]struct{} // every endpoint not yet released (/proc/net/unix)
	autobind uint32
	inflight uint64 // descriptors in SCM_RIGHTS messages not yet received

	fs     *vfs.VFS
	charge func(int64) error // the sandbox's memory budget
	notify func()            // wakes pollers (poll, select, epoll)
	// unsupported records a guest request that is refused for lack of
	// support (the kernel logs and audits it).
	unsupported func(what string)
}

// NewNamespace returns the AF_UNIX namespace of a sandbox whose paths are
// in fs; charge takes (n > 0) or gives back (n < 0) memory.
func NewNamespace(fs *vfs.VFS, charge func(int64) error, notify func(), unsupported func(string)) *Namespace {
	return &Namespace{abstract: map[string]*Endpoint{}, live: map[*Endpoint]struct{}{}, fs: fs, charge: charge, notify: notify,
		unsupported: unsupported}
}

// Connection states.
const (
	stateUnconnected = iota
	stateListening
	stateConnected
)

// Endpoint is one AF_UNIX socket. All fields are guarded by ns.mu.
type Endpoint struct {
	ns  *Namespace
	typ int
	ino uint64 // the socket inode's number (socket:[ino], /proc/net/unix)

	addr     []byte         // bound sockaddr (family first); nil: unnamed
	node     vfs.SocketNode // the socket inode of a path name
	binding  bool           // a bind is under way (unlocked path walk)
	state    int            //
	peer     *Endpoint      // connected peer (a datagram socket's default destination)
	backlog  int            // listen's backlog
	pending  []*Endpoint    // connections waiting for accept
	queue    []*message     // received messages
	qbytes   int            // data bytes in queue
	shut     int            // rcvShut, sendShut
	err      unix.Errno     // pending error (SO_ERROR)
	wmem     int            // bytes (with msgCost) this endpoint sent and nobody received yet
	peercred *socket.Ucred  // SO_PEERCRED
	ownCred  socket.Ucred   // the creator's, or the listener's at listen
	passcred bool
	reuse    bool
	sndbuf   int
	rcvbuf   int
	rcvtimeo time.Duration
	sndtimeo time.Duration
	released bool
	wait     chan struct{} // closed and replaced when the endpoint changes
	wakes    atomic.Uint64 // wake-ups so far (edge-triggered epoll)
}

// message is one queued skb: data, its sender and ancillary data.
type message struct {
	data   []byte
	off    int // stream: bytes already read
	rights []*vfs.File
	cred   socket.Ucred
	from   []byte
	sender *Endpoint
	cost   int // counted in sender.wmem and charged to memory
}

// New makes an unconnected endpoint of type typ (SOCK_STREAM,
// SOCK_DGRAM, SOCK_SEQPACKET) for c; ENFILE without memory for it, as
// socket(2) when Linux cannot allocate the socket inode.
func (ns *Namespace) New(c *socket.Caller, typ int) (*Endpoint, error) {
	if err := ns.charge(SocketCost); err != nil {
		return nil, unix.ENFILE
	}
	e := &Endpoint{ns: ns, typ: typ, ino: vfs.NewIno(), ownCred: socket.CredOf(c), sndbuf: DefaultBuf,
		rcvbuf: DefaultBuf, wait: make(chan struct{})}
	ns.mu.Lock()
	ns.live[e] = struct{}{}
	ns.mu.Unlock()
	return e, nil
}

// Pair makes two connected endpoints (socketpair).
func (ns *Namespace) Pair(c *socket.Caller, typ int) (*Endpoint, *Endpoint, error) {
	a, err := ns.New(c, typ)
	if err != nil {
		return nil, nil, err
	}
	b, err := ns.New(c, typ)
	if err != nil {
		a.Release()
		return nil, nil, err
	}
	cr := socket.CredOf(c)
	a.peer, b.peer = b, a
	a.state, b.state = stateConnected, stateConnected
	a.peercred, b.peercred = &cr, &cr
	return a, b, nil
}

// wakeLocked wakes the endpoint's waiters and the pollers.
func (e *Endpoint) wakeLocked() {
	e.wakes.Add(1)
	close(e.wait)
	e.wait = make(chan struct{})
	if e.ns.notify != nil {
		e.ns.notify()
	}
}

// waitLocked waits, with ns.mu released, until e changes, the deadline
// (zero: none) passes (EAGAIN) or the caller is interrupted (ERESTARTSYS,
// or EINTR for a wait with a timeout, as Linux's sock_intr_errno).
func (e *Endpoint) waitLocked(c *socket.Caller, deadline time.Time) error {
	ch := e.wait
	e.ns.mu.Unlock()
	defer e.ns.mu.Lock()
	var timer <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return unix.EAGAIN
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
		return nil
	case <-timer:
		return unix.EAGAIN
	case <-c.Ctx.Done():
		if !deadline.IsZero() {
			return unix.EINTR
		}
		return socket.ERESTARTSYS
	}
}

// deadline is when a wait of timeout ends (zero time: never).
func deadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
}

// Family is AF_UNIX.
func (e *Endpoint) Family() int { return unix.AF_UNIX }

// Type is the socket type.
func (e *Endpoint) Type() int { return e.typ }

// Protocol is 0 (AF_UNIX has one).
func (e *Endpoint) Protocol() int { return 0 }

// connectionOriented reports SOCK_STREAM and SOCK_SEQPACKET.
func (e *Endpoint) connectionOriented() bool { return e.typ != unix.SOCK_DGRAM }

// address is a parsed sockaddr_un.
type address struct {
	abstract bool
	name     string // path, or the abstract name without its leading NUL
	raw      []byte // the sockaddr as getsockname returns it
}

// sunPathMax is sizeof(sun_path).
const sunPathMax = 108

// parseAddr validates a sockaddr_un as unix_validate_addr and
// unix_mkname_bsd do: family AF_UNIX, at most sizeof(sockaddr_un); a path
// stops at its first NUL and is stored with one; an abstract name (first
// byte NUL) is exactly the given length. A bare family (len 2) returns nil
// (autobind).
func parseAddr(b []byte) (*address, error) {
	if len(b) < 2 || len(b) > 2+sunPathMax {
		return nil, unix.EINVAL
	}
	if int(b[0])|int(b[1])<<8 != unix.AF_UNIX {
		return nil, unix.EINVAL
	}
	if len(b) == 2 {
		return nil, nil
	}
	p := b[2:]
	if p[0] == 0 {
		return &address{abstract: true, name: string(p[1:]), raw: bytes.Clone(b)}, nil
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	raw := append([]byte{byte(unix.AF_UNIX), 0}, p...)
	return &address{name: string(p), raw: append(raw, 0)}, nil
}

// Bind names the socket: a path (a new socket inode, created with the
// caller's credentials and umask), an abstract name, or an autobound one
// for a bare family.
func (e *Endpoint) Bind(c *socket.Caller, raw []byte) error {
	a, err := parseAddr(raw)
	if err != nil {
		return err
	}
	ns := e.ns
	ns.mu.Lock()
	if e.addr != nil || e.binding {
		ns.mu.Unlock()
		if a != nil && !a.abstract && e.pathExists(c, a.name) {
			return unix.EADDRINUSE // Linux makes the inode before it looks
		}
		return unix.EINVAL
	}
	if a == nil {
		err := e.autobindLocked()
		ns.mu.Unlock()
		return err
	}
	if a.abstract {
		defer ns.mu.Unlock()
		key := e.abstractKey(a.name)
		if _, used := ns.abstract[key]; used {
			return unix.EADDRINUSE
		}
		ns.abstract[key] = e
		e.addr = a.raw
		return nil
	}
	e.binding = true
	ns.mu.Unlock()
	node, err := e.bindPath(c, a.name)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	e.binding = false
	if err != nil {
		return err
	}
	if e.released { // closed by another thread meanwhile
		node.Unbind(e)
		return unix.EBADF
	}
	e.node, e.addr = node, a.raw
	return nil
}

// abstractKey is where an abstract name is kept: each socket type has
// its own abstract namespace, as Linux hashes the type into the name.
func (e *Endpoint) abstractKey(name string) string { return string(rune('0'+e.typ)) + name }

// pathExists reports whether path names something (ns.mu not held).
func (e *Endpoint) pathExists(c *socket.Caller, path string) bool {
	at, err := c.At(path)
	if err != nil {
		return false
	}
	defer at.Release()
	_, err = e.ns.fs.StatAt(at, path, false)
	return err == nil
}

// bindPath makes the socket inode (ns.mu not held: the walk takes VFS
// locks).
func (e *Endpoint) bindPath(c *socket.Caller, path string) (vfs.SocketNode, error) {
	at, err := c.At(path)
	if err != nil {
		return nil, err
	}
	defer at.Release()
	node, err := e.ns.fs.BindSocketAt(at, path, 0o777&^c.Umask, e)
	if err == unix.EEXIST {
		return nil, unix.EADDRINUSE
	}
	return node, err
}

// autobindLocked gives the socket an abstract name of five hex digits,
// as Linux's unix_autobind; ENOSPC when all are taken.
func (e *Endpoint) autobindLocked() error {
	ns := e.ns
	for range autobindNames {
		name := fmt.Sprintf("%05x", ns.autobind)
		ns.autobind = (ns.autobind + 1) % autobindNames
		if _, used := ns.abstract[e.abstractKey(name)]; used {
			continue
		}
		ns.abstract[e.abstractKey(name)] = e
		e.addr = append([]byte{byte(unix.AF_UNIX), 0, 0}, name...)
		return nil
	}
	return unix.ENOSPC
}

// lookup finds the endpoint a sockaddr names (ns.mu not held): ENOENT or
// EACCES from the path walk, ECONNREFUSED when nothing is bound there.
func (ns *Namespace) lookup(c *socket.Caller, raw []byte, typ int) (*Endpoint, error) {
	a, err := parseAddr(raw)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, unix.EINVAL
	}
	if a.abstract {
		ns.mu.Lock()
		defer ns.mu.Unlock()
		if t := ns.abstract[string(rune('0'+typ))+a.name]; t != nil {
			return t, nil
		}
		return nil, unix.ECONNREFUSED
	}
	at, err := c.At(a.name)
	if err != nil {
		return nil, err
	}
	defer at.Release()
	s, err := ns.fs.SocketAt(at, a.name)
	if err != nil {
		return nil, err
	}
	t, ok := s.(*Endpoint)
	if !ok || t.ns != ns {
		return nil, unix.ECONNREFUSED
	}
	return t, nil
}

// Listen makes a bound stream or seqpacket socket accept connections.
func (e *Endpoint) Listen(c *socket.Caller, backlog int) error {
	if !e.connectionOriented() {
		return unix.EOPNOTSUPP
	}
	ns := e.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if e.addr == nil || e.state == stateConnected {
		return unix.EINVAL
	}
	if uint32(backlog) > somaxconn {
		backlog = somaxconn
	}
	e.backlog = backlog
	e.state = stateListening
	// As Linux's init_peercred at listen: connectors see these, and so
	// does SO_PEERCRED on the listener itself.
	cr := socket.CredOf(c)
	e.ownCred, e.peercred = cr, &cr
	e.wakeLocked() // connectors waiting for room
	return nil
}

// Accept takes the next connection from the backlog.
func (e *Endpoint) Accept(c *socket.Caller, nonblock bool) (socket.Socket, error) {
	if !e.connectionOriented() {
		return nil, unix.EOPNOTSUPP
	}
	ns := e.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	dl := deadline(e.rcvtimeo)
	for {
		if e.state != stateListening {
			return nil, unix.EINVAL
		}
		if len(e.pending) > 0 {
			n := e.pending[0]
			e.pending[0] = nil
			e.pending = e.pending[1:]
			e.wakeLocked() // room in the backlog
			return n, nil
		}
		if nonblock {
			return nil, unix.EAGAIN
		}
		if err := e.waitLocked(c, dl); err != nil {
			return nil, err
		}
	}
}

// Connect connects a stream or seqpacket socket to a listener (a full
// backlog makes it wait, or EAGAIN with nonblock), or sets a datagram
// socket's default destination (AF_UNSPEC: none).
func (e *Endpoint) Connect(c *socket.Caller, raw []byte, nonblock bool) error {
	if !e.connectionOriented() {
		return e.connectDgram(c, raw)
	}
	if len(raw) >= 2 && int(raw[0])|int(raw[1])<<8 != unix.AF_UNIX {
		return unix.EINVAL
	}
	ns := e.ns
	for {
		t, err := ns.lookup(c, raw, e.typ)
		if err != nil {
			return err
		}
		ns.mu.Lock()
		retry, err := e.connectLocked(c, t, nonblock)
		ns.mu.Unlock()
		if !retry {
			return err
		}
	}
}

// connectLocked queues a new connection to the listener t; retry asks
// for a new lookup (the backlog had room again after a wait).
func (e *Endpoint) connectLocked(c *socket.Caller, t *Endpoint, nonblock bool) (retry bool, err error) {
	switch {
	case e.state == stateConnected:
		return false, unix.EISCONN
	case e.state == stateListening:
		return false, unix.EINVAL
	case t.typ != e.typ:
		return false, unix.EPROTOTYPE
	case t.released || t.state != stateListening:
		return false, unix.ECONNREFUSED
	}
	if len(t.pending) > t.backlog {
		if nonblock {
			return false, unix.EAGAIN
		}
		if err := t.waitLocked(c, deadline(e.sndtimeo)); err != nil {
			return false, err
		}
		return true, nil
	}
	if e.passcred && e.addr == nil {
		if err := e.autobindLocked(); err != nil {
			return false, err
		}
	}
	ns := e.ns
	if err := ns.charge(SocketCost); err != nil {
		return false, unix.ENOMEM
	}
	mine := socket.CredOf(c)
	theirs := t.ownCred
	n := &Endpoint{ns: ns, typ: e.typ, ino: vfs.NewIno(), addr: t.addr, state: stateConnected, peer: e, peercred: &mine,
		ownCred: theirs, passcred: t.passcred, sndbuf: t.sndbuf, rcvbuf: t.rcvbuf, wait: make(chan struct{})}
	e.peer, e.state, e.peercred = n, stateConnected, &theirs
	ns.live[n] = struct{}{}
	t.pending = append(t.pending, n)
	t.wakeLocked()
	e.wakeLocked()
	return false, nil
}

// connectDgram sets or clears a datagram socket's peer.
func (e *Endpoint) connectDgram(c *socket.Caller, raw []byte) error {
	ns := e.ns
	if len(raw) >= 2 && int(raw[0])|int(raw[1])<<8 == unix.AF_UNSPEC {
		ns.mu.Lock()
		defer ns.mu.Unlock()
		e.disconnectLocked()
		return nil
	}
	t, err := ns.lookup(c, raw, e.typ)
	if err != nil {
		return err
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if t.typ != e.typ {
		return unix.EPROTOTYPE
	}
	if t.released {
		return unix.ECONNREFUSED
	}
	if e.passcred && e.addr == nil {
		if err := e.autobindLocked(); err != nil {
			return err
		}
	}
	e.disconnectLocked()
	e.peer, e.state = t, stateConnected
	cr := t.ownCred
	e.peercred = &cr
	e.wakeLocked()
	return nil
}

// disconnectLocked forgets a datagram socket's peer.
func (e *Endpoint) disconnectLocked() {
	if e.peer != nil {
		e.peer.wakeLocked() // its senders may now send (unix_dgram_peer_wake)
	}
	e.peer, e.state, e.peercred = nil, stateUnconnected, nil
}

// Name returns the bound address (just the family when unnamed).
func (e *Endpoint) Name() []byte {
	e.ns.mu.Lock()
	defer e.ns.mu.Unlock()
	if e.addr == nil {
		return []byte{byte(unix.AF_UNIX), 0}
	}
	return bytes.Clone(e.addr)
}

// PeerName returns the peer's address; ENOTCONN without a peer.
func (e *Endpoint) PeerName() ([]byte, error) {
	e.ns.mu.Lock()
	defer e.ns.mu.Unlock()
	if e.peer == nil || e.state != stateConnected {
		return nil, unix.ENOTCONN
	}
	if e.peer.addr == nil {
		return []byte{byte(unix.AF_UNIX), 0}, nil
	}
	return bytes.Clone(e.peer.addr), nil
}

// Shutdown closes directions of the socket; for a connected stream or
// seqpacket socket the peer sees the mirror image (EOF, EPIPE).
func (e *Endpoint) Shutdown(how int) error {
	var mode int
	switch how {
	case unix.SHUT_RD:
		mode = rcvShut
	case unix.SHUT_WR:
		mode = sendShut
	case unix.SHUT_RDWR:
		mode = bothShut
	default:
		return unix.EINVAL
	}
	ns := e.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	e.shut |= mode
	e.wakeLocked()
	if p := e.peer; p != nil && e.connectionOriented() && e.state == stateConnected {
		var peerMode int
		if mode&rcvShut != 0 {
			peerMode |= sendShut
		}
		if mode&sendShut != 0 {
			peerMode |= rcvShut
		}
		p.shut |= peerMode
		p.wakeLocked()
	}
	return nil
}

// Release is the last close: the name goes, queued messages (and the
// descriptors in them) are dropped, the peer sees the connection end.
func (e *Endpoint) Release() {
	ns := e.ns
	ns.mu.Lock()
	drop := e.releaseLocked(nil)
	ns.mu.Unlock()
	ns.charge(-SocketCost)
	for _, f := range drop {
		_ = f.DecRef()
	}
}

// releaseLocked tears e down, returning the files to drop once unlocked.
func (e *Endpoint) releaseLocked(drop []*vfs.File) []*vfs.File {
	ns := e.ns
	e.released = true
	delete(ns.live, e)
	if len(e.addr) > 2 && e.addr[2] == 0 && ns.abstract[e.abstractKey(string(e.addr[3:]))] == e {
		delete(ns.abstract, e.abstractKey(string(e.addr[3:])))
	}
	if e.node != nil {
		e.node.Unbind(e)
		e.node = nil
	}
	unread := len(e.queue) > 0
	drop = e.purgeLocked(drop)
	for _, n := range e.pending { // connections never accepted
		if p := n.peer; p != nil {
			p.shut = bothShut
			p.err = unix.ECONNRESET
			p.wakeLocked()
		}
		drop = n.releaseLocked(drop)
		ns.charge(-SocketCost)
	}
	e.pending = nil
	if p := e.peer; p != nil && e.connectionOriented() {
		p.shut = bothShut
		if unread {
			p.err = unix.ECONNRESET
		}
		p.wakeLocked()
	}
	e.wakeLocked()
	return drop
}

// purgeLocked empties the receive queue.
func (e *Endpoint) purgeLocked(drop []*vfs.File) []*vfs.File {
	for _, m := range e.queue {
		drop = e.dequeuedLocked(m, drop)
	}
	e.queue, e.qbytes = nil, 0
	return drop
}

// dequeuedLocked accounts for m leaving the queue (its data read or
// dropped): the sender's buffer, the memory, the in-flight descriptors.
func (e *Endpoint) dequeuedLocked(m *message, drop []*vfs.File) []*vfs.File {
	if s := m.sender; s != nil {
		s.wmem -= m.cost
		s.wakeLocked()
	}
	e.ns.charge(-int64(m.cost))
	e.ns.inflight -= uint64(len(m.rights))
	drop = append(drop, m.rights...)
	m.rights = nil
	return drop
}

// Readiness is Linux's unix_poll / unix_dgram_poll.
func (e *Endpoint) Readiness() int16 {
	e.ns.mu.Lock()
	defer e.ns.mu.Unlock()
	var ev int16
	if e.err != 0 {
		ev |= unix.POLLERR
	}
	if e.shut == bothShut {
		ev |= unix.POLLHUP
	}
	if e.shut&rcvShut != 0 {
		ev |= unix.POLLRDHUP | unix.POLLIN | pollRdNorm
	}
	if len(e.queue) > 0 || len(e.pending) > 0 {
		ev |= unix.POLLIN | pollRdNorm
	}
	if e.connectionOriented() && e.state == stateUnconnected {
		ev |= unix.POLLHUP
	}
	if e.writableLocked() {
		ev |= unix.POLLOUT | pollWrNorm | pollWrBand
	}
	return ev
}

// writableLocked is unix_writable, and for a connected datagram socket
// also room in the peer's queue.
func (e *Endpoint) writableLocked() bool {
	if e.state == stateListening || e.wmem*4 > e.sndbuf {
		return false
	}
	if !e.connectionOriented() && e.peer != nil && !e.peer.released && e.peer.peer != e &&
		len(e.peer.queue) > maxDgramQlen {
		return false
	}
	return true
}

// Inq answers SIOCINQ: the queued bytes (stream, seqpacket) or the first
// datagram's length; EINVAL on a listener.
func (e *Endpoint) Inq() (int, error) {
	e.ns.mu.Lock()
	defer e.ns.mu.Unlock()
	if e.state == stateListening {
		return 0, unix.EINVAL
	}
	if e.typ == unix.SOCK_DGRAM {
		if len(e.queue) == 0 {
			return 0, nil
		}
		return len(e.queue[0].data), nil
	}
	return e.qbytes, nil
}

// Outq answers SIOCOUTQ: the bytes sent and not yet received.
func (e *Endpoint) Outq() (int, error) {
	e.ns.mu.Lock()
	defer e.ns.mu.Unlock()
	if e.state == stateListening {
		return 0, unix.EINVAL
	}
	if e.peer == nil {
		return 0, nil
	}
	n := 0
	for _, m := range e.peer.queue {
		if m.sender == e {
			n += len(m.data) - m.off
		}
	}
	return n, nil
}

// credsAllowed is Linux's scm_check_creds: a process may claim its own
// pid (or any with CAP_SYS_ADMIN), one of its uids (or any with
// CAP_SETUID) and one of its gids (or any with CAP_SETGID).
func credsAllowed(c *socket.Caller, u socket.Ucred) bool {
	cr := c.Creds
	return (u.PID == c.PID || cr.Capable(capSysAdmin)) &&
		(u.UID == cr.UID || u.UID == cr.EUID || u.UID == cr.SUID || cr.Capable(cred.CapSetuid)) &&
		(u.GID == cr.GID || u.GID == cr.EGID || u.GID == cr.SGID || cr.Capable(cred.CapSetgid))
}

// CheckCreds validates explicit SCM_CREDENTIALS for c (EPERM).
func CheckCreds(c *socket.Caller, u socket.Ucred) error {
	if !credsAllowed(c, u) {
		return unix.EPERM
	}
	return nil
}

// capSysAdmin is CAP_SYS_ADMIN, which lets a sender claim another pid.
const capSysAdmin = cred.Cap(21)

// Poll bits x/sys/unix does not export (<asm-generic/poll.h>).
const (
	pollRdNorm = 0x40
	pollWrNorm = 0x100
	pollWrBand = 0x200
)

// WakeCount counts the endpoint's wake-ups.
func (e *Endpoint) WakeCount() uint64 { return e.wakes.Load() }

// Ino is the number of the socket's inode (fstat, socket:[ino]).
func (e *Endpoint) Ino() uint64 { return e.ino }

// ProcNetUnix renders /proc/net/unix for the sandbox's sockets, in
// Linux's format: the kernel address is shown as zeros (as to an
// unprivileged reader), RefCount approximates Linux's (2, 3 when
// connected), abstract names start with '@'.
func (ns *Namespace) ProcNetUnix() []byte {
	ns.mu.Lock()
	eps := make([]*Endpoint, 0, len(ns.live))
	for e := range ns.live {
		eps = append(eps, e)
	}
	ns.mu.Unlock()
	sort.Slice(eps, func(i, j int) bool { return eps[i].ino < eps[j].ino })
	var b strings.Builder
	b.WriteString("Num       RefCount Protocol Flags    Type St Inode Path\n")
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, e := range eps {
		if e.released {
			continue
		}
		refs, flags, st := 2, 0, 1 // SS_UNCONNECTED
		if e.state == stateListening {
			flags = 0x10000 // __SO_ACCEPTCON
		}
		if e.state == stateConnected {
			refs, st = 3, 3 // SS_CONNECTED
		}
		fmt.Fprintf(&b, "%016x: %08X %08X %08X %04X %02X %5d", 0, refs, 0, flags, e.typ, st, e.ino)
		if len(e.addr) > 2 {
			name := e.addr[2:]
			if name[0] == 0 {
				b.WriteString(" @" + string(name[1:]))
			} else {
				b.WriteString(" " + string(bytes.TrimRight(name, "\x00")))
			}
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

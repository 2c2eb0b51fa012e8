package inet

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/socket"
)

// budget is a memory budget for tests: limit 0 is unlimited.
type budget struct {
	mu    sync.Mutex
	used  int64
	limit int64
}

func (b *budget) charge(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > 0 && b.limit > 0 && b.used+n > b.limit {
		return errors.New("over budget")
	}
	b.used += n
	return nil
}

func (b *budget) load() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func newFamily(t *testing.T, b *budget) (*Family, *netstack.Stack) {
	t.Helper()
	st, err := netstack.New(netstack.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return New(st, b.charge, func() {}, func(string) {}), st
}

func caller() *socket.Caller { return &socket.Caller{Ctx: context.Background()} }

func sockaddr4(ip [4]byte, port uint16) []byte {
	b := make([]byte, sizeofSockaddrIn)
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], ip[:])
	return b
}

func portOf(b []byte) uint16 { return binary.BigEndian.Uint16(b[2:]) }

var loopback = [4]byte{127, 0, 0, 1}

func mustNew(t *testing.T, f *Family, domain, typ int) *Socket {
	t.Helper()
	s, err := f.New(domain, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// listen returns a TCP listener on 127.0.0.1 and its address.
func listen(t *testing.T, f *Family) (*Socket, []byte) {
	t.Helper()
	l := mustNew(t, f, unix.AF_INET, unix.SOCK_STREAM)
	if err := l.Bind(caller(), sockaddr4(loopback, 0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(caller(), 8); err != nil {
		t.Fatal(err)
	}
	return l, l.Name()
}

func TestTCPLoopback(t *testing.T) {
	var b budget
	f, _ := newFamily(t, &b)
	l, addr := listen(t, f)
	defer l.Release()
	c := mustNew(t, f, unix.AF_INET, unix.SOCK_STREAM)
	defer c.Release()
	if err := c.Connect(caller(), addr, false); err != nil {
		t.Fatalf("connect: %v", err)
	}
	as, err := l.Accept(caller(), false)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	a := as.(*Socket)
	c.SetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_SNDBUF, le32(1048576))
	a.SetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_RCVBUF, le32(1048576))
	c.SetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_SNDBUF, le32(262144))
	a.SetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_RCVBUF, le32(262144))
	defer a.Release()
	if got, want := portOf(a.Name()), portOf(addr); got != want {
		t.Errorf("accepted socket's port %d, want the listener's %d", got, want)
	}
	if n, err := c.Send(caller(), &socket.SendMsg{Data: []byte("hello")}); n != 5 || err != nil {
		t.Fatalf("send: %d %v", n, err)
	}
	r := socket.RecvMsg{Max: 5, Flags: unix.MSG_WAITALL}
	if err := a.Recv(caller(), &r); err != nil || string(r.Data) != "hello" {
		t.Fatalf("recv: %q %v", r.Data, err)
	}
	if err := c.Shutdown(unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	r = socket.RecvMsg{Max: 5}
	if err := a.Recv(caller(), &r); err != nil || len(r.Data) != 0 {
		t.Fatalf("recv after shutdown: %q %v, want EOF", r.Data, err)
	}
}

func TestCreateErrnos(t *testing.T) {
	var b budget
	f, _ := newFamily(t, &b)
	tests := []struct {
		name               string
		domain, typ, proto int
		want               error
	}{
		{"tcp", unix.AF_INET, unix.SOCK_STREAM, 0, nil},
		{"udp6", unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_UDP, nil},
		{"ping", unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP, nil},
		{"ping6", unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_ICMPV6, nil},
		{"icmpv6 on AF_INET", unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMPV6, unix.EPROTONOSUPPORT},
		{"raw", unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, unix.EPERM},
		{"stream udp", unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_UDP, unix.EPROTONOSUPPORT},
		{"seqpacket", unix.AF_INET, unix.SOCK_SEQPACKET, 0, unix.ESOCKTNOSUPPORT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := f.New(tc.domain, tc.typ, tc.proto)
			if err != tc.want {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
			if s != nil {
				s.Release()
			}
		})
	}
	if n := b.load(); n != 0 {
		t.Errorf("%d bytes still charged after every socket was released", n)
	}
}

func TestParseAddr(t *testing.T) {
	v6 := make([]byte, sizeofSockaddrIn6)
	binary.LittleEndian.PutUint16(v6, unix.AF_INET6)
	tests := []struct {
		name   string
		domain int
		addr   []byte
		want   error
	}{
		{"inet", unix.AF_INET, sockaddr4(loopback, 80), nil},
		{"inet short", unix.AF_INET, sockaddr4(loopback, 80)[:8], unix.EINVAL},
		{"inet6 on inet", unix.AF_INET, v6, unix.EAFNOSUPPORT},
		{"inet6", unix.AF_INET6, v6, nil},
		{"inet6 RFC 2133 length", unix.AF_INET6, v6[:sin6LenRFC2133], nil},
		{"inet6 short", unix.AF_INET6, v6[:20], unix.EINVAL},
		{"inet on inet6", unix.AF_INET6, append(sockaddr4(loopback, 80), make([]byte, 12)...), unix.EAFNOSUPPORT},
		{"empty", unix.AF_INET, nil, unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseAddr(tc.domain, tc.addr); err != tc.want {
				t.Errorf("parseAddr: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCharge: a socket's buffers are charged at creation and on SO_SNDBUF,
// given back on release; a socket that does not fit is ENOBUFS.
func TestCharge(t *testing.T) {
	b := budget{limit: 1 << 20}
	f, _ := newFamily(t, &b)
	s := mustNew(t, f, unix.AF_INET, unix.SOCK_DGRAM)
	want := int64(SocketCost + 2*dgramBufDefault)
	if got := b.load(); got != want {
		t.Errorf("charged %d for a UDP socket, want %d", got, want)
	}
	if err := s.SetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_SNDBUF, le32(4096)); err != nil {
		t.Fatal(err)
	}
	if got, want := b.load(), int64(SocketCost+dgramBufDefault+8192); got != want {
		t.Errorf("charged %d after SO_SNDBUF 4096, want %d", got, want)
	}
	if err := s.SetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_RCVBUF, le32(4<<20)); err != unix.ENOBUFS {
		t.Errorf("SO_RCVBUF past the budget: %v, want ENOBUFS", err)
	}
	var many []*Socket
	for {
		x, err := f.New(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			if err != unix.ENOBUFS {
				t.Fatalf("socket past the budget: %v, want ENOBUFS", err)
			}
			break
		}
		many = append(many, x)
		if len(many) > 1000 {
			t.Fatal("the budget does not bound the sockets")
		}
	}
	for _, x := range many {
		x.Release()
	}
	s.Release()
	if got := b.load(); got != 0 {
		t.Errorf("%d bytes charged after every release", got)
	}
}

// TestInterruptedWait: a blocking receive ends with ERESTARTSYS when the
// caller is interrupted, EINTR when it had a timeout, EAGAIN at the
// timeout.
func TestInterruptedWait(t *testing.T) {
	var b budget
	f, _ := newFamily(t, &b)
	s := mustNew(t, f, unix.AF_INET, unix.SOCK_DGRAM)
	defer s.Release()
	if err := s.Bind(caller(), sockaddr4(loopback, 0)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := s.Recv(&socket.Caller{Ctx: ctx}, &socket.RecvMsg{Max: 10})
	if err != socket.ERESTARTSYS {
		t.Errorf("interrupted recv: %v, want ERESTARTSYS", err)
	}
	tv := make([]byte, 16)
	binary.LittleEndian.PutUint64(tv[8:], 500000) // 0.5 s
	if err := s.SetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_RCVTIMEO, tv); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := s.Recv(&socket.Caller{Ctx: ctx}, &socket.RecvMsg{Max: 10}); err != unix.EINTR {
		t.Errorf("interrupted recv with a timeout: %v, want EINTR", err)
	}
	start := time.Now()
	if err := s.Recv(caller(), &socket.RecvMsg{Max: 10}); err != unix.EAGAIN {
		t.Errorf("recv at its timeout: %v, want EAGAIN", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("recv timed out after %v, want about 0.5 s", d)
	}
}

// TestNoGoroutineLeak: closing the stack ends its goroutines, sockets
// left open and connections in flight included.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		st, err := netstack.New(netstack.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var b budget
		f := New(st, b.charge, func() {}, func(string) {})
		l, addr := listen(t, f)
		for range 4 {
			c := mustNew(t, f, unix.AF_INET, unix.SOCK_STREAM)
			if err := c.Connect(caller(), addr, false); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Send(caller(), &socket.SendMsg{Data: make([]byte, 100000), Nonblock: true}); err != nil {
				t.Fatal(err)
			}
		}
		_ = l
		if n := runtime.NumGoroutine(); n <= before {
			t.Fatalf("%d goroutines with a busy stack, %d before: the test would prove nothing", n, before)
		}
		st.Close() // with every socket still open
	}
	// Close waits for the stack's goroutines; give the runtime a moment
	// to reap the ones that just returned.
	deadline := time.Now().Add(200 * time.Millisecond)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after closing the stacks, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestConnectRefused: a non-blocking connect to a port without a
// listener is EINPROGRESS, then POLLERR and SO_ERROR ECONNREFUSED once;
// after SO_ERROR reported it, POLLERR ends.
func TestConnectRefused(t *testing.T) {
	var b budget
	f, _ := newFamily(t, &b)
	d := mustNew(t, f, unix.AF_INET, unix.SOCK_STREAM)
	defer d.Release()
	if err := d.Bind(caller(), sockaddr4(loopback, 0)); err != nil {
		t.Fatal(err)
	}
	c := mustNew(t, f, unix.AF_INET, unix.SOCK_STREAM)
	defer c.Release()
	if err := c.Connect(caller(), d.Name(), true); err != unix.EINPROGRESS {
		t.Fatalf("non-blocking connect: %v, want EINPROGRESS", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Readiness()&unix.POLLERR == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no POLLERR after a refused connect: %#x", c.Readiness())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, want := range []int{int(unix.ECONNREFUSED), 0} {
		v, err := c.GetSockOpt(caller(), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil || int(binary.LittleEndian.Uint32(v)) != want {
			t.Errorf("SO_ERROR #%d: %v %v, want %d", i+1, v, err, want)
		}
	}
	if ev := c.Readiness(); ev&unix.POLLERR != 0 {
		t.Errorf("POLLERR after SO_ERROR reported the error: %#x", ev)
	}
}

// BenchmarkTCPLoopback moves 64 KiB writes through one loopback
// connection (the family and netstack alone, no guest).
func BenchmarkTCPLoopback(b *testing.B) {
	var bud budget
	st, err := netstack.New(netstack.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	f := New(st, bud.charge, func() {}, func(string) {})
	l, _ := f.New(unix.AF_INET, unix.SOCK_STREAM, 0)
	l.Bind(caller(), sockaddr4(loopback, 0))
	l.Listen(caller(), 4)
	c, _ := f.New(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err := c.Connect(caller(), l.Name(), false); err != nil {
		b.Fatal(err)
	}
	as, _ := l.Accept(caller(), false)
	a := as.(*Socket)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		total := 0
		rbuf := make([]byte, len(buf)) // as read(2) passes it
		for total < b.N*len(buf) {
			r := socket.RecvMsg{Max: len(buf), Buf: rbuf}
			if err := a.Recv(caller(), &r); err != nil || len(r.Data) == 0 {
				return
			}
			total += len(r.Data)
		}
	}()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Send(caller(), &socket.SendMsg{Data: buf}); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// TestListenReserve: a listener reserves its backlog's connections
// (capped at maxBacklog) and gives the reservation back on close.
func TestListenReserve(t *testing.T) {
	b := budget{limit: 64 << 20}
	f, _ := newFamily(t, &b)
	l := mustNew(t, f, unix.AF_INET, unix.SOCK_STREAM)
	if got, want := b.load(), int64(SocketCost+2*tcpBufFloor); got != want {
		t.Errorf("a TCP socket is charged %d, want %d", got, want)
	}
	if err := l.Listen(caller(), 1<<20); err != nil {
		t.Fatal(err)
	}
	// A listener's own buffers are Linux's initial sizes (what pending
	// connections get), plus the reservation.
	want := int64(SocketCost+netstack.TCPSendBufDefault+netstack.TCPRecvBufDefault) +
		int64(maxBacklog+1)*int64(SocketCost+netstack.TCPRecvBufDefault)
	if got := b.load(); got != want {
		t.Errorf("a listener is charged %d, want %d", got, want)
	}
	l.Release()
	if got := b.load(); got != 0 {
		t.Errorf("%d bytes charged after the listener closed", got)
	}
	small := budget{limit: 4 << 20}
	f2, _ := newFamily(t, &small)
	l2 := mustNew(t, f2, unix.AF_INET, unix.SOCK_STREAM)
	defer l2.Release()
	if err := l2.Listen(caller(), 100); err != unix.ENOBUFS {
		t.Errorf("listen past the budget: %v, want ENOBUFS", err)
	}
	if err := l2.Listen(caller(), 2); err != nil {
		t.Errorf("a small backlog: %v", err)
	}
}

// TestRecvIntoBuf: a receive with a buffer of the caller's (RecvMsg.Buf)
// fills it in place, across the reads of MSG_WAITALL; one whose buffer is
// too small for Max gets bytes of its own, the buffer untouched.
func TestRecvIntoBuf(t *testing.T) {
	var b budget
	f, _ := newFamily(t, &b)
	l, addr := listen(t, f)
	defer l.Release()
	c := mustNew(t, f, unix.AF_INET, unix.SOCK_STREAM)
	defer c.Release()
	if err := c.Connect(caller(), addr, false); err != nil {
		t.Fatalf("connect: %v", err)
	}
	as, err := l.Accept(caller(), false)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	a := as.(*Socket)
	defer a.Release()
	send := func(s string) {
		t.Helper()
		if n, err := c.Send(caller(), &socket.SendMsg{Data: []byte(s)}); n != len(s) || err != nil {
			t.Fatalf("send %q: %d %v", s, n, err)
		}
	}
	send("hello")
	go func() { time.Sleep(20 * time.Millisecond); send("world") }()
	buf := make([]byte, 10)
	r := socket.RecvMsg{Max: 10, Flags: unix.MSG_WAITALL, Buf: buf}
	if err := a.Recv(caller(), &r); err != nil || string(r.Data) != "helloworld" {
		t.Fatalf("recv: %q %v", r.Data, err)
	}
	if &r.Data[0] != &buf[0] || string(buf) != "helloworld" {
		t.Errorf("recv did not fill the caller's buffer: %q", buf)
	}
	send("again")
	small := []byte("xyz")
	r = socket.RecvMsg{Max: 5, Flags: unix.MSG_WAITALL, Buf: small}
	if err := a.Recv(caller(), &r); err != nil || string(r.Data) != "again" {
		t.Fatalf("recv with a small buffer: %q %v", r.Data, err)
	}
	if string(small) != "xyz" {
		t.Errorf("a buffer too small for Max was written: %q", small)
	}
}

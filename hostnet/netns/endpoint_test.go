package netns

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// recorder is a NetworkDispatcher that records what it is given and can
// hold the reader inside a delivery.
type recorder struct {
	got  chan []byte
	hold chan struct{} // nil: never hold
}

func (r *recorder) DeliverNetworkPacket(p tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if r.hold != nil {
		<-r.hold
	}
	b := append([]byte{byte(p >> 8), byte(p)}, pkt.Data().AsRange().ToSlice()...)
	r.got <- b
}

func (r *recorder) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// pair is an endpoint over one end of a SOCK_SEQPACKET pair (a socket
// with an AF_PACKET socket's one-frame-per-read semantics) and the other
// end for the test.
func pair(t *testing.T) (*packetEndpoint, int, *atomic.Int32) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	var closed atomic.Int32
	ep, err := newPacketEndpoint(fds[0], 1500, "\x02\x00\x00\x00\x00\x01", func() { closed.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	return ep, fds[1], &closed
}

func frame(proto uint16, payload string) []byte {
	b := make([]byte, header.EthernetMinimumSize)
	header.Ethernet(b).Encode(&header.EthernetFields{SrcAddr: "\x02\x00\x00\x00\x00\x09", DstAddr: "\x02\x00\x00\x00\x00\x01", Type: tcpip.NetworkProtocolNumber(proto)})
	return append(b, payload...)
}

// TestPacketEndpointInOut: a frame read is delivered with its EtherType
// and without its header; a runt is dropped; a written packet is one
// frame with the header AddHeader made; after Close the reader is gone,
// the close action ran once, and writes fail instead of reaching a
// descriptor number that may be reused.
func TestPacketEndpointInOut(t *testing.T) {
	ep, peer, closed := pair(t)
	rec := &recorder{got: make(chan []byte, 4)}
	ep.Attach(rec)
	unix.Write(peer, []byte{1, 2, 3}) // runt
	unix.Write(peer, frame(uint16(header.IPv4ProtocolNumber), "hello"))
	select {
	case b := <-rec.got:
		if want := append([]byte{0x08, 0x00}, "hello"...); !bytes.Equal(b, want) {
			t.Errorf("delivered %q, want %q", b, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame delivered")
	}

	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: int(ep.MaxHeaderLength()), Payload: buffer.MakeWithData([]byte("out"))})
	pkt.NetworkProtocolNumber = header.IPv6ProtocolNumber
	pkt.EgressRoute.LocalLinkAddress = ep.LinkAddress()
	pkt.EgressRoute.RemoteLinkAddress = "\x02\x00\x00\x00\x00\x09"
	ep.AddHeader(pkt)
	var list stack.PacketBufferList
	list.PushBack(pkt)
	if n, err := ep.WritePackets(list); n != 1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	buf := make([]byte, 100)
	n, err := unix.Read(peer, buf)
	if err != nil {
		t.Fatal(err)
	}
	eth := header.Ethernet(buf[:n])
	if n != header.EthernetMinimumSize+3 || eth.Type() != header.IPv6ProtocolNumber || eth.SourceAddress() != ep.LinkAddress() ||
		eth.DestinationAddress() != "\x02\x00\x00\x00\x00\x09" || string(buf[header.EthernetMinimumSize:n]) != "out" {
		t.Errorf("written frame %x", buf[:n])
	}

	ep.Attach(nil)
	ep.Close()
	ep.Wait()
	if c := closed.Load(); c != 1 {
		t.Errorf("close action ran %d times", c)
	}
	pkt = stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: 14, Payload: buffer.MakeWithData([]byte("late"))})
	var late stack.PacketBufferList
	late.PushBack(pkt)
	if n, err := ep.WritePackets(late); n != 0 || err == nil {
		t.Errorf("WritePackets after Close = %d, %v", n, err)
	}
}

// TestPacketEndpointBounded: while the stack holds a delivery, the
// endpoint reads nothing more: the frames wait in the socket, not in a
// queue of litebox's.
func TestPacketEndpointBounded(t *testing.T) {
	ep, peer, _ := pair(t)
	rec := &recorder{got: make(chan []byte, 16), hold: make(chan struct{})}
	ep.Attach(rec)
	defer ep.Close()
	for i := 0; i < 5; i++ {
		if _, err := unix.Write(peer, frame(uint16(header.IPv4ProtocolNumber), "x")); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // the reader takes the first and is held
	var queued int
	if err := ep.rc.Control(func(fd uintptr) {
		queued, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	}); err != nil {
		t.Fatal(err)
	}
	if queued == 0 {
		t.Errorf("no frame left in the socket while the stack holds one: the endpoint read ahead")
	}
	close(rec.hold)
	for i := 0; i < 5; i++ {
		select {
		case <-rec.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of 5 frames delivered", i)
		}
	}
}

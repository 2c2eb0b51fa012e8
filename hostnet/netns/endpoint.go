package netns

import (
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// maxFrame is the largest frame read: a veth peer's segmentation offload
// hands over TCP segments of up to 64 KiB in one frame, whatever the MTU.
const maxFrame = 65536 + header.EthernetMinimumSize

// errorPause is how long the reader waits after a failed read.
const errorPause = 10 * time.Millisecond

// packetEndpoint is the guest's eth0 over the AF_PACKET socket. One
// goroutine reads a frame at a time through Go's netpoller and hands it
// to the stack before it reads the next, so frames that wait, wait in
// the socket's fixed receive buffer (where the host kernel drops them
// once it is full), never in a queue of litebox's; every frame goes out
// with one write. read, write and epoll are all it needs of the host,
// which litebox's seccomp allowlist has in every mode: this mode adds
// nothing to it.
type packetEndpoint struct {
	file *os.File // owns the socket
	rc   syscall.RawConn

	mu         sync.RWMutex
	mtu        uint32
	addr       tcpip.LinkAddress
	dispatcher stack.NetworkDispatcher
	onClose    func()
	stopped    bool

	wg sync.WaitGroup // the reader
	// closed runs once the socket is closed (the Link gives its
	// addresses back).
	closed    func()
	closeOnce sync.Once
}

// newPacketEndpoint takes ownership of fd, a bound AF_PACKET socket.
func newPacketEndpoint(fd int, mtu uint32, mac tcpip.LinkAddress, closed func()) (*packetEndpoint, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "packet")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &packetEndpoint{file: f, rc: rc, mtu: mtu, addr: mac, closed: closed}, nil
}

// Attach starts delivering frames to d, or stops (d == nil: the NIC is
// being removed) and waits for the reader.
func (e *packetEndpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	if d == nil {
		e.dispatcher = nil
		e.mu.Unlock()
		e.stop()
		return
	}
	start := e.dispatcher == nil && !e.stopped
	e.dispatcher = d
	e.mu.Unlock()
	if start {
		e.wg.Add(1)
		go e.read()
	}
}

// read delivers frames until the socket is closed.
func (e *packetEndpoint) read() {
	defer e.wg.Done()
	buf := make([]byte, maxFrame)
	for {
		var n int
		var rerr error
		if err := e.rc.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf)
			return rerr != unix.EAGAIN
		}); err != nil {
			return // closed
		}
		// An error (ENETDOWN, once, when the interface goes) or a runt
		// frame drops nothing but itself; a pause after an error keeps
		// one that would repeat from spinning.
		if rerr != nil {
			if rerr != unix.EINTR {
				time.Sleep(errorPause)
			}
			continue
		}
		if n < header.EthernetMinimumSize {
			continue
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
		if e.ParseHeader(pkt) {
			e.mu.RLock()
			d := e.dispatcher
			e.mu.RUnlock()
			if d != nil {
				d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, pkt)
			}
		}
		pkt.DecRef()
	}
}

// stop closes the socket (which ends the reader's wait) and waits for
// the reader.
func (e *packetEndpoint) stop() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.stopped = true
		e.mu.Unlock()
		e.file.Close()
		e.wg.Wait()
		if e.closed != nil {
			e.closed()
		}
	})
	e.wg.Wait()
}

// WritePackets writes each frame with one write; a frame the socket has
// no room for is dropped, as on a full transmit queue.
func (e *packetEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	for _, pkt := range pkts.AsSlice() {
		v := pkt.ToView()
		var werr error
		// RawConn.Write holds the file open: never a write to a closed,
		// maybe reused, descriptor number.
		err := e.rc.Write(func(fd uintptr) bool {
			_, werr = unix.Write(int(fd), v.AsSlice())
			return true
		})
		v.Release()
		if err != nil {
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			break
		}
		if werr != nil && werr != unix.EAGAIN && werr != unix.ENOBUFS {
			if n == 0 {
				return 0, &tcpip.ErrAborted{}
			}
			break
		}
		n++ // sent, or dropped for want of room
	}
	return n, nil
}

func (e *packetEndpoint) MTU() uint32 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.mtu
}

func (e *packetEndpoint) SetMTU(mtu uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mtu = mtu
}

func (e *packetEndpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

func (e *packetEndpoint) LinkAddress() tcpip.LinkAddress {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.addr
}

func (e *packetEndpoint) SetLinkAddress(addr tcpip.LinkAddress) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addr = addr
}

// Capabilities: neighbours are resolved (ARP, NDP), and received
// checksums are not verified: a veth peer's segmentation offload hands
// over frames whose checksum the host kernel never computed (the peer is
// on this machine; a remote peer's frames came through this host's
// kernel too).
func (e *packetEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

func (e *packetEndpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

func (e *packetEndpoint) Wait() { e.wg.Wait() }

func (e *packetEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

func (e *packetEndpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

func (e *packetEndpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	hdr, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	if !ok {
		return false
	}
	pkt.NetworkProtocolNumber = header.Ethernet(hdr).Type()
	return true
}

// Close closes the socket (if Attach(nil) did not already) and runs the
// close action the stack set.
func (e *packetEndpoint) Close() {
	e.stop()
	e.mu.Lock()
	f := e.onClose
	e.onClose = nil
	e.mu.Unlock()
	if f != nil {
		f()
	}
}

func (e *packetEndpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onClose = f
}

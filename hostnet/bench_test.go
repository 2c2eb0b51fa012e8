package hostnet

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"github.com/litebox-go/litebox/kernel/netstack"
)

// BenchmarkGatewayTCP: bytes from a guest-stack connection through the
// gateway to a host loopback server (the two netstacks and the splice,
// without the guest's syscalls).
func BenchmarkGatewayTCP(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	g, err := New(Config{Policy: Policy{Egress: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	guest, err := netstack.New(netstack.Config{Uplink: g.Uplink()})
	if err != nil {
		b.Fatal(err)
	}
	defer guest.Close()
	dst := netip.AddrPortFrom(netstack.GatewayAddr4, netip.MustParseAddrPort(l.Addr().String()).Port())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, guest.Stack, full(dst), proto(dst))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.CloseWrite()
	if n := <-done; n != int64(b.N*len(buf)) {
		b.Fatalf("host got %d bytes, want %d", n, b.N*len(buf))
	}
	c.Close()
}

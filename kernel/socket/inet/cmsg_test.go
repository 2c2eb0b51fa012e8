package inet

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/litebox-go/litebox/kernel/socket"
)

// TestRecvControl checks the order, levels, types and layouts of the
// control messages built from netstack's (Linux's ip_cmsg_recv and
// ip6_datagram_recv_specific_ctl).
func TestRecvControl(t *testing.T) {
	lo4 := tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	lo6 := tcpip.AddrFrom16([16]byte{15: 1})
	tests := []struct {
		name string
		cm   tcpip.ReceivableControlMessages
		want []socket.Cmsg
	}{
		{name: "none", cm: tcpip.ReceivableControlMessages{HasTimestamp: true}},
		{
			name: "ipv4",
			cm: tcpip.ReceivableControlMessages{
				HasTOS: true, TOS: 0x20, HasTTL: true, TTL: 64,
				HasIPPacketInfo: true, PacketInfo: tcpip.IPPacketInfo{NIC: 1, LocalAddr: lo4, DestinationAddr: lo4},
			},
			want: []socket.Cmsg{
				{Level: unix.SOL_IP, Type: unix.IP_PKTINFO, Data: []byte{1, 0, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}},
				{Level: unix.SOL_IP, Type: unix.IP_TTL, Data: []byte{64, 0, 0, 0}},
				{Level: unix.SOL_IP, Type: unix.IP_TOS, Data: []byte{0x20}},
			},
		},
		{
			name: "ipv6",
			cm: tcpip.ReceivableControlMessages{
				HasTClass: true, TClass: 40, HasHopLimit: true, HopLimit: 9,
				HasIPv6PacketInfo: true, IPv6PacketInfo: tcpip.IPv6PacketInfo{NIC: 1, Addr: lo6},
			},
			want: []socket.Cmsg{
				{Level: unix.SOL_IPV6, Type: unix.IPV6_PKTINFO, Data: append(lo6.AsSlice(), 1, 0, 0, 0)},
				{Level: unix.SOL_IPV6, Type: unix.IPV6_HOPLIMIT, Data: []byte{9, 0, 0, 0}},
				{Level: unix.SOL_IPV6, Type: unix.IPV6_TCLASS, Data: []byte{40, 0, 0, 0}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := recvControl(tc.cm)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages %v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Level != w.Level || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
					t.Errorf("message %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

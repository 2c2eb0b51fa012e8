package netstack

import (
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

func TestInterfacesAndRoutes(t *testing.T) {
	tests := []struct {
		name   string
		uplink bool
		ifs    []string
		routes int
	}{
		{"loopback only", false, []string{"lo"}, 2},
		{"with uplink", true, []string{"lo", "eth0"}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			if tc.uplink {
				guest, _ := pipe.New("", "", UplinkMTU)
				cfg.Uplink = guest
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var names []string
			for _, i := range s.Interfaces() {
				names = append(names, i.Name)
			}
			if len(names) != len(tc.ifs) || names[0] != "lo" {
				t.Fatalf("interfaces %v, want %v", names, tc.ifs)
			}
			rs := s.Routes()
			if len(rs) != tc.routes {
				t.Fatalf("routes %v, want %d", rs, tc.routes)
			}
			byDst := map[netip.Prefix]Route{}
			for _, r := range rs {
				byDst[r.Dst] = r
			}
			if r, ok := byDst[netip.MustParsePrefix("127.0.0.0/8")]; !ok || r.Gateway.IsValid() || r.NIC != int32(LoopbackNIC) {
				t.Errorf("loopback route %+v (present %v)", r, ok)
			}
			if r := byDst[netip.MustParsePrefix("0.0.0.0/0")]; tc.uplink && r.Gateway != GatewayAddr4 {
				t.Errorf("default route %+v, want via %v", r, GatewayAddr4)
			}
		})
	}
}

// TestTCPOptions: the stack's TCP runs with Linux's buffer defaults, Nagle
// on, no receive-buffer auto-tuning and short TIME_WAIT/FIN_WAIT2.
func TestTCPOptions(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var snd tcpip.TCPSendBufferSizeRangeOption
	var rcv tcpip.TCPReceiveBufferSizeRangeOption
	var moderate tcpip.TCPModerateReceiveBufferOption
	var nagle tcpip.TCPDelayEnabled
	var tw tcpip.TCPTimeWaitTimeoutOption
	var linger tcpip.TCPLingerTimeoutOption
	for _, o := range []tcpip.GettableTransportProtocolOption{&snd, &rcv, &moderate, &nagle, &tw, &linger} {
		if err := s.TransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			t.Fatalf("%T: %v", o, err)
		}
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"send default", snd.Default, TCPSendBufDefault},
		{"receive default", rcv.Default, TCPRecvBufDefault},
		{"send max", snd.Max, BufMax},
		{"moderate", bool(moderate), false},
		{"nagle", bool(nagle), true},
		{"time wait", time.Duration(tw), TimeWait},
		{"fin wait2", time.Duration(linger), TimeWait},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

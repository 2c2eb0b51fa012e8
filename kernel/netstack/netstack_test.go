package netstack

import (
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
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

// TestEthernetNIC: an engine's interface (Config.NIC) is eth0 with the
// namespace's name, MAC, MTU, addresses and routes, resolves neighbours
// (ARP is there, as it is not for the gateway's pipe), and has no
// gateway DNS server.
func TestEthernetNIC(t *testing.T) {
	mac := []byte{0x0a, 0x58, 0x0a, 0x58, 0x00, 0x02}
	link, _ := pipe.New(tcpip.LinkAddress(mac), "", 1500)
	nic := &NIC{Name: "veth0", Link: link, MAC: mac, MTU: 1500,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.88.0.2/16"), netip.MustParsePrefix("fe80::858:aff:fe58:2/64")},
		Routes: []Route{{Dst: netip.MustParsePrefix("10.88.0.0/16")},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.88.0.1")}}}
	s, err := New(Config{NIC: nic})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ifs := s.Interfaces()
	if len(ifs) != 2 {
		t.Fatalf("interfaces %v", ifs)
	}
	eth := ifs[1]
	if eth.Name != "veth0" || eth.MTU != 1500 || eth.HWAddr.String() != "0a:58:0a:58:00:02" || len(eth.Addrs) != 2 ||
		eth.Addrs[0] != nic.Addrs[0] || eth.Index != int32(UplinkNIC) {
		t.Errorf("eth0 = %+v", eth)
	}
	var gw []Route
	for _, r := range s.Routes() {
		if r.NIC == int32(UplinkNIC) {
			gw = append(gw, r)
		}
	}
	if len(gw) != 2 || gw[1].Gateway != netip.MustParseAddr("10.88.0.1") || gw[1].Dst.Bits() != 0 {
		t.Errorf("eth0 routes %v", gw)
	}
	if s.GatewayDNS() || !s.HasUplink() || len(s.UplinkAddrs()) != 2 {
		t.Errorf("GatewayDNS %v HasUplink %v UplinkAddrs %v", s.GatewayDNS(), s.HasUplink(), s.UplinkAddrs())
	}
	if s.NetworkProtocolInstance(arp.ProtocolNumber) == nil {
		t.Errorf("no ARP on an Ethernet NIC's stack")
	}

	g, _ := pipe.New("", "", UplinkMTU)
	gs, err := New(Config{Uplink: g})
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	if !gs.GatewayDNS() || gs.NetworkProtocolInstance(arp.ProtocolNumber) != nil {
		t.Errorf("gateway stack: GatewayDNS %v, ARP %v", gs.GatewayDNS(), gs.NetworkProtocolInstance(arp.ProtocolNumber) != nil)
	}
	if _, err := New(Config{Uplink: g, NIC: nic}); err == nil {
		t.Errorf("a stack with both a gateway uplink and a NIC")
	}
}

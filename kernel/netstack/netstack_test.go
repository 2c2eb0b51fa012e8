package netstack

import (
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
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

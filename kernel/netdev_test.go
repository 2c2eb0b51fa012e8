package kernel

import (
	"strings"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/link/channel"

	"github.com/litebox-go/litebox/kernel/netstack"
)

// withUplink gives k a stack with eth0 (on a channel endpoint nothing
// reads), as a sandbox with a network has.
func withUplink(t *testing.T, k *Kernel) {
	t.Helper()
	s, err := netstack.New(netstack.Config{Uplink: channel.New(16, netstack.UplinkMTU, "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	k.cfg.Net = s
}

func TestProcNetFiles(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		uplink                    bool
		route, inet6, dev, resolv string
	}{
		{name: "loopback", route: "", inet6: "00000000000000000000000000000001 01 80 10 80       lo\n",
			dev: "    lo:       0", resolv: "# Written by litebox for this sandbox.\n"},
		{name: "uplink", uplink: true,
			// In the order of Linux's trie walk: the default route first.
			route: "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
				"eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
			inet6: "00000000000000000000000000000001 01 80 10 80       lo\n" +
				"fd000000000000020000000000000015 02 40 00 80     eth0\n",
			dev: "  eth0:       0", resolv: "# Written by litebox for this sandbox.\nnameserver 10.0.2.3\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := New(Config{})
			if tc.uplink {
				withUplink(t, k)
			}
			route, _ := k.ProcNetRoute()
			lines := strings.SplitAfter(string(route), "\n")
			var got string
			for _, l := range lines[1:] {
				if len(l) != 128 && l != "" {
					t.Errorf("route line of %d columns, want 127: %q", len(l)-1, l)
				}
				got += strings.TrimRight(l, " \n")
				if l != "" {
					got += "\n"
				}
			}
			if got != tc.route {
				t.Errorf("/proc/net/route:\n%q\nwant\n%q", got, tc.route)
			}
			if inet6, _ := k.ProcNetIfInet6(); string(inet6) != tc.inet6 {
				t.Errorf("/proc/net/if_inet6:\n%q\nwant\n%q", inet6, tc.inet6)
			}
			if dev, _ := k.ProcNetDev(); !strings.Contains(string(dev), tc.dev) {
				t.Errorf("/proc/net/dev lacks %q:\n%s", tc.dev, dev)
			}
			if r, _ := k.ResolvConf(); string(r) != tc.resolv {
				t.Errorf("resolv.conf %q, want %q", r, tc.resolv)
			}
		})
	}
}

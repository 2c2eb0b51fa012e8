package main

import (
	"strings"
	"testing"
)

func TestParseNetwork(t *testing.T) {
	tests := []struct {
		name           string
		mode           string
		allow, publish []string
		egress         bool
		rules, ports   int
		err            string
	}{
		{"default", "none", nil, nil, false, 0, 0, ""},
		{"egress", "egress", nil, nil, true, 0, 0, ""},
		{"egress with rules", "egress", []string{"127.0.0.1:80", "example.com", "[::1]:53"}, nil, true, 3, 0, ""},
		{"publish only", "none", nil, []string{"8080:80", "[::1]:5353:53/udp"}, false, 0, 2, ""},
		{"same host port, other protocol", "none", nil, []string{"8080:80", "8080:80/udp"}, false, 0, 2, ""},
		{"bad mode", "host", nil, nil, false, 0, 0, `bad --net "host"`},
		{"allow without egress", "none", []string{"127.0.0.1"}, nil, false, 0, 0, "--allow needs --net egress"},
		{"bad allow", "egress", []string{"1.2.3"}, nil, false, 0, 0, `bad --allow "1.2.3"`},
		{"bad publish", "none", nil, []string{"80"}, false, 0, 0, `bad --publish "80"`},
		{"published twice", "none", nil, []string{"8080:80", "127.0.0.1:8080:81"}, false, 0, 0, "already published"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := parseNetwork(tc.mode, tc.allow, tc.publish)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want one line with %q", err, tc.err)
				}
				return
			}
			if err != nil || n.Egress != tc.egress || len(n.Allow) != tc.rules || len(n.Publish) != tc.ports {
				t.Fatalf("parseNetwork = %+v, %v", n, err)
			}
			if got := n.HostPolicy(); got.Egress != tc.egress || got.Publish != (tc.ports > 0) {
				t.Errorf("host policy %+v", got)
			}
		})
	}
}

func TestParseNetworkNetNS(t *testing.T) {
	for _, tc := range []struct {
		name           string
		mode           string
		allow, publish []string
		netns, err     string
	}{
		{"path", "netns:/run/netns/c1", nil, nil, "/run/netns/c1", ""},
		{"proc path", "netns:/proc/42/ns/net", nil, nil, "/proc/42/ns/net", ""},
		{"empty path", "netns:", nil, nil, "", "want netns:PATH"},
		{"with allow", "netns:/run/netns/c1", []string{"10.0.0.1"}, nil, "", "not with --allow or --publish"},
		{"with publish", "netns:/run/netns/c1", nil, []string{"8080:80"}, "", "not with --allow or --publish"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := parseNetwork(tc.mode, tc.allow, tc.publish)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want one line with %q", err, tc.err)
				}
				return
			}
			if err != nil || n.NetNS != tc.netns || n.Egress || !n.Enabled() {
				t.Fatalf("parseNetwork = %+v, %v", n, err)
			}
			if got := n.HostPolicy(); got.Egress || got.Publish || got.Network() {
				t.Errorf("host policy %+v: want nothing beyond --net none's", got)
			}
		})
	}
}

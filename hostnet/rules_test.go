package hostnet

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		spec string
		want string // Rule.String(); "" with err
		err  string
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", ""},
		{"127.0.0.1", "127.0.0.1", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.1.2.3/8:443", "10.0.0.0/8:443", ""},
		{"Example.COM.", "example.com", ""},
		{"example.com:443", "example.com:443", ""},
		{"*.example.com:80", "*.example.com:80", ""},
		{"[::1]:8080", "[::1]:8080", ""},
		{"[fd00::/8]:53", "[fd00::/8]:53", ""},
		{"::1", "::1", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"[::1]", "::1", ""},
		{"", "", "empty"},
		{"127.0.0.1:", "", "empty host or port"},
		{":80", "", "empty host or port"},
		{"127.0.0.1:0", "", "bad port"},
		{"127.0.0.1:65536", "", "bad port"},
		{"127.0.0.1:http", "", "bad port"},
		{"127.0.0.1:+80", "", "bad port"},
		{"1.2.3", "", "bad IPv4 address"},
		{"300.1.1.1", "", "bad IPv4 address"},
		{"10.0.0.0/33", "", "bad CIDR"},
		{"[::1", "", "missing ]"},
		{"[::1]80", "", "want :PORT"},
		{"[127.0.0.1]:80", "", "bad IPv6"},
		{"[fe80::1%eth0]:80", "", "bad IPv6"},
		{"::ffff:1.2.3.4", "", "IPv4-mapped"},
		{"exa mple.com", "", "bad host name"},
		{"-bad.com", "", "bad host name"},
		{"a..b", "", "bad host name"},
		{"*.", "", "bad host name"},
		{"host:1:2", "", "bad IPv6 address"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			r, err := ParseRule(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseRule(%q) = %v, %v; want error with %q", tc.spec, r, err, tc.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil || r.String() != tc.want {
				t.Fatalf("ParseRule(%q) = %q, %v; want %q", tc.spec, r, err, tc.want)
			}
		})
	}
}

func TestPolicyCheck(t *testing.T) {
	rules := func(specs ...string) []Rule {
		var rs []Rule
		for _, s := range specs {
			r, err := ParseRule(s)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
		return rs
	}
	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		policy Policy
		dst    netip.AddrPort
		names  []string
		want   bool
	}{
		{"no egress", Policy{}, ap("127.0.0.1:80"), nil, false},
		{"egress, no rules", Policy{Egress: true}, ap("8.8.8.8:53"), nil, true},
		{"exact address and port", Policy{true, rules("127.0.0.1:8080")}, ap("127.0.0.1:8080"), nil, true},
		{"other port", Policy{true, rules("127.0.0.1:8080")}, ap("127.0.0.1:8081"), nil, false},
		{"other address", Policy{true, rules("127.0.0.1:8080")}, ap("127.0.0.2:8080"), nil, false},
		{"address any port", Policy{true, rules("127.0.0.1")}, ap("127.0.0.1:1"), nil, true},
		{"cidr", Policy{true, rules("10.0.0.0/8:443")}, ap("10.200.1.1:443"), nil, true},
		{"cidr other port", Policy{true, rules("10.0.0.0/8:443")}, ap("10.200.1.1:80"), nil, false},
		{"v6", Policy{true, rules("[::1]:80")}, ap("[::1]:80"), nil, true},
		{"v4 rule, v6 dst", Policy{true, rules("127.0.0.1:80")}, ap("[::1]:80"), nil, false},
		{"mapped dst", Policy{true, rules("127.0.0.1:80")}, ap("[::ffff:127.0.0.1]:80"), nil, true},
		{"name from dns", Policy{true, rules("example.com:443")}, ap("93.184.216.34:443"), []string{"example.com"}, true},
		{"name not from dns", Policy{true, rules("example.com:443")}, ap("93.184.216.34:443"), nil, false},
		{"name other port", Policy{true, rules("example.com:443")}, ap("93.184.216.34:80"), []string{"example.com"}, false},
		{"wildcard", Policy{true, rules("*.example.com")}, ap("1.2.3.4:80"), []string{"www.example.com"}, true},
		{"wildcard not the apex", Policy{true, rules("*.example.com")}, ap("1.2.3.4:80"), []string{"example.com"}, false},
		{"wildcard not a suffix of a label", Policy{true, rules("*.example.com")}, ap("1.2.3.4:80"), []string{"badexample.com"}, false},
		{"second rule", Policy{true, rules("1.1.1.1", "127.0.0.1:22")}, ap("127.0.0.1:22"), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.policy.Check(tc.dst, tc.names)
			if d.Allowed != tc.want {
				t.Fatalf("Check(%v, %v) = %+v, want allowed %v", tc.dst, tc.names, d, tc.want)
			}
			if !d.Allowed && d.Reason == "" {
				t.Errorf("denied without a reason")
			}
		})
	}
}

func TestNameAllowed(t *testing.T) {
	r1, _ := ParseRule("example.com:443")
	r2, _ := ParseRule("*.corp.test")
	r3, _ := ParseRule("10.0.0.0/8")
	p := Policy{Egress: true, Rules: []Rule{r1, r2, r3}}
	for name, want := range map[string]bool{
		"example.com": true, "www.example.com": false, "a.corp.test": true, "corp.test": false,
		"evil.test": false, "10.0.0.1": false,
	} {
		if got := p.NameAllowed(name); got != want {
			t.Errorf("NameAllowed(%q) = %v, want %v", name, got, want)
		}
	}
	if (&Policy{Egress: true}).NameAllowed("anything.test") != true {
		t.Error("egress without rules must resolve every name")
	}
	if (&Policy{}).NameAllowed("example.com") {
		t.Error("no egress must resolve no name")
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		spec string
		want string
		err  string
	}{
		{"8080:80", "127.0.0.1:8080:80/tcp", ""},
		{"8080:80/tcp", "127.0.0.1:8080:80/tcp", ""},
		{"5353:53/udp", "127.0.0.1:5353:53/udp", ""},
		{"0.0.0.0:8080:80", "0.0.0.0:8080:80/tcp", ""},
		{"192.168.1.5:80:8000", "192.168.1.5:80:8000/tcp", ""},
		{"[::1]:8080:80", "[::1]:8080:80/tcp", ""},
		{"[::]:8080:80/udp", "[::]:8080:80/udp", ""},
		{"80", "", "HOSTPORT:GUESTPORT required"},
		{"", "", "HOSTPORT:GUESTPORT required"},
		{"8080:80/sctp", "", "protocol must be tcp or udp"},
		{"8080:", "", "bad port"},
		{":80", "", "bad port"},
		{"0:80", "", "host bad port"},
		{"8080:70000", "", "guest bad port"},
		{"localhost:8080:80", "", "bad host address"},
		{"::1:8080:80", "", "too many colons"},
		{"[::1]8080:80", "", "want [IPV6]"},
		{"[1.2.3.4]:8080:80", "", "bad IPv6"},
		{"1.2.3.4::80", "", "host bad port"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			p, err := ParsePort(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParsePort(%q) = %v, %v; want error with %q", tc.spec, p, err, tc.err)
				}
				return
			}
			if err != nil || p.String() != tc.want {
				t.Fatalf("ParsePort(%q) = %q, %v; want %q", tc.spec, p, err, tc.want)
			}
		})
	}
}

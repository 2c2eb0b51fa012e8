package hostnet

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one --allow: the destinations a guest may reach. Exactly one of
// Prefix (an address or CIDR) and Name is set; Port 0 means any port.
type Rule struct {
	Prefix netip.Prefix
	// Name is a lower-case host name without the trailing dot; "*.x.org"
	// matches every name below x.org (not x.org itself). A name rule
	// matches an address only when litebox's DNS gave that address as an
	// answer for a matching name.
	Name string
	Port uint16
}

func (r Rule) String() string {
	host := r.Name
	if r.Prefix.IsValid() {
		host = r.Prefix.String()
		if r.Prefix.IsSingleIP() {
			host = r.Prefix.Addr().String()
		}
		if r.Prefix.Addr().Is6() && r.Port != 0 {
			host = "[" + host + "]"
		}
	}
	if r.Port != 0 {
		return host + ":" + strconv.Itoa(int(r.Port))
	}
	return host
}

// ParseRule parses an --allow spec: HOST[:PORT], IP[:PORT], CIDR[:PORT],
// [IPV6]:PORT or [IPV6/BITS]:PORT (a bare IPv6 address or CIDR takes no
// port). Errors are one line and quote the spec.
func ParseRule(spec string) (Rule, error) {
	bad := func(why string) (Rule, error) {
		return Rule{}, fmt.Errorf("bad --allow %q: %s (want HOST[:PORT], CIDR[:PORT] or [IPV6]:PORT)", spec, why)
	}
	if spec == "" {
		return bad("empty")
	}
	host, portStr, err := splitHostPort(spec)
	if err != nil {
		return bad(err.Error())
	}
	var r Rule
	if portStr != "" {
		p, err := parsePort(portStr)
		if err != nil {
			return bad(err.Error())
		}
		r.Port = p
	}
	bracketed := strings.HasPrefix(spec, "[")
	switch {
	case strings.Contains(host, "/"):
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return bad("bad CIDR " + strconv.Quote(host))
		}
		r.Prefix = p.Masked()
	case strings.Contains(host, ":") || bracketed:
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return bad("bad IPv6 address " + strconv.Quote(host))
		}
		r.Prefix = netip.PrefixFrom(a, 128)
	case looksNumeric(host):
		a, err := netip.ParseAddr(host)
		if err != nil {
			return bad("bad IPv4 address " + strconv.Quote(host))
		}
		r.Prefix = netip.PrefixFrom(a, 32)
	default:
		name, err := checkName(host)
		if err != nil {
			return bad(err.Error())
		}
		r.Name = name
	}
	if r.Prefix.IsValid() {
		if bracketed && !r.Prefix.Addr().Is6() {
			return bad("brackets are for IPv6 only")
		}
		if a := r.Prefix.Addr(); a.Is4In6() {
			return bad("IPv4-mapped IPv6 address: write the IPv4 address")
		}
	}
	return r, nil
}

// splitHostPort splits HOST[:PORT] and [V6]:PORT; a bare IPv6 address
// (two colons or more, no brackets) is all host.
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("missing ]")
		}
		host, rest := s[1:end], s[end+1:]
		switch {
		case rest == "":
			return host, "", nil
		case strings.HasPrefix(rest, ":") && len(rest) > 1:
			return host, rest[1:], nil
		}
		return "", "", fmt.Errorf("want :PORT after ]")
	}
	switch strings.Count(s, ":") {
	case 0:
		return s, "", nil
	case 1:
		i := strings.IndexByte(s, ':')
		if i == 0 || i == len(s)-1 {
			return "", "", fmt.Errorf("empty host or port")
		}
		return s[:i], s[i+1:], nil
	}
	return s, "", nil // bare IPv6; a port needs brackets
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("bad port %q (1-65535)", s)
	}
	return uint16(n), nil
}

// looksNumeric: digits and dots only, meant as an IPv4 address (so that
// "1.2.3" is a bad address, not a host name).
func looksNumeric(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}

// checkName validates a DNS name (optionally "*." + name) and returns it
// in canonical form: lower case, no trailing dot.
func checkName(s string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	rest := strings.TrimPrefix(name, "*.")
	if rest == "" || len(rest) > 253 {
		return "", fmt.Errorf("bad host name %q", s)
	}
	for _, label := range strings.Split(rest, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("bad host name %q", s)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("bad host name %q", s)
			}
		}
	}
	return name, nil
}

// nameMatches reports whether rule name pattern matches name (both
// canonical).
func nameMatches(pattern, name string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(name, suffix) && len(name) > len(suffix)
	}
	return pattern == name
}

// Policy decides which outbound flows and DNS names a guest may use.
type Policy struct {
	// Egress: the guest may open outbound flows at all (--net egress).
	Egress bool
	// Rules restrict egress to their matches; none: everything.
	Rules []Rule
}

// Decision is the outcome of a policy check, with the reason audited.
type Decision struct {
	Allowed bool
	Rule    string // the matching rule, when allowed by one
	Reason  string // why, when denied
}

// Check decides a flow to the host destination dst; names are the DNS
// names litebox answered with dst's address.
func (p *Policy) Check(dst netip.AddrPort, names []string) Decision {
	if !p.Egress {
		return Decision{Reason: "no egress (--net egress not given)"}
	}
	if len(p.Rules) == 0 {
		return Decision{Allowed: true}
	}
	addr := dst.Addr().Unmap()
	for _, r := range p.Rules {
		if r.Port != 0 && r.Port != dst.Port() {
			continue
		}
		if r.Prefix.IsValid() {
			if r.Prefix.Contains(addr) {
				return Decision{Allowed: true, Rule: r.String()}
			}
			continue
		}
		for _, n := range names {
			if nameMatches(r.Name, n) {
				return Decision{Allowed: true, Rule: r.String()}
			}
		}
	}
	return Decision{Reason: "no --allow rule matches"}
}

// NameAllowed reports whether litebox's DNS may resolve name: with
// egress and no rules every name, else only names some name rule matches
// (whatever its port). Address rules allow no names.
func (p *Policy) NameAllowed(name string) bool {
	if !p.Egress {
		return false
	}
	if len(p.Rules) == 0 {
		return true
	}
	for _, r := range p.Rules {
		if r.Name != "" && nameMatches(r.Name, name) {
			return true
		}
	}
	return false
}

package main

import (
	"fmt"
	"strings"

	"github.com/litebox-go/litebox/hostnet"
	"github.com/litebox-go/litebox/sandbox"
)

// Network flags' help: each teaches with an example.
const (
	netHelp = "the guest's network `MODE`: none (loopback only, nothing leaves), egress (outbound TCP/UDP and DNS through litebox, e.g. --net egress --allow example.com:443) " +
		"or netns:PATH (the guest's stack takes over the one interface of a network namespace made by a container engine or by hand, e.g. --net netns:/run/netns/c1; needs root over the namespace; while the sandbox runs the interface's addresses leave the host kernel, which gets them back at the end)"
	allowHelp = "with --net egress, allow only these destinations (repeatable; none given: any): " +
		"HOST[:PORT], CIDR[:PORT] or [IPV6]:PORT, e.g. --allow 127.0.0.1:8080 (10.0.2.2 in the guest is the host's 127.0.0.1)"
	publishHelp = "publish a guest port on the host (repeatable): [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], " +
		"HOSTIP 127.0.0.1 unless given, e.g. -p 8080:80 or -p [::1]:5353:53/udp"
)

// parseNetMode checks --net.
func parseNetMode(mode string) (string, error) {
	switch mode {
	case "none", "egress":
		return mode, nil
	}
	if path, ok := strings.CutPrefix(mode, "netns:"); ok {
		if path == "" {
			return "", fmt.Errorf("bad --net %q: want netns:PATH, e.g. netns:/run/netns/c1", mode)
		}
		return mode, nil
	}
	return "", fmt.Errorf("bad --net %q: want none, egress or netns:PATH", mode)
}

// parseNetwork turns --net, --allow and --publish into the sandbox's
// network; errors are one line, for exit 125.
func parseNetwork(mode string, allow, publish []string) (sandbox.Network, error) {
	var n sandbox.Network
	mode, err := parseNetMode(mode)
	if err != nil {
		return n, err
	}
	n.Egress = mode == "egress"
	if path, ok := strings.CutPrefix(mode, "netns:"); ok {
		if len(allow) > 0 || len(publish) > 0 {
			return n, fmt.Errorf("--net netns: is the namespace owner's network: publish ports and filter traffic there, not with --allow or --publish")
		}
		n.NetNS = path
		return n, nil
	}
	if len(allow) > 0 && !n.Egress {
		return n, fmt.Errorf("--allow needs --net egress")
	}
	for _, spec := range allow {
		r, err := hostnet.ParseRule(spec)
		if err != nil {
			return n, err
		}
		n.Allow = append(n.Allow, r)
	}
	seen := map[string]string{}
	for _, spec := range publish {
		p, err := hostnet.ParsePort(spec)
		if err != nil {
			return n, err
		}
		key := fmt.Sprintf("%v:%d/%v", p.HostIP, p.HostPort, p.UDP)
		if prev, dup := seen[key]; dup {
			return n, fmt.Errorf("bad --publish %q: host port already published by %q", spec, prev)
		}
		seen[key] = spec
		n.Publish = append(n.Publish, p)
	}
	return n, nil
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/hostnet"
	"github.com/litebox-go/litebox/hostnet/netns"
	"github.com/litebox-go/litebox/kernel/audit"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/sandbox/hostpolicy"
)

// Network is a sandbox's network (issue 12). The zero value is --net
// none: the guest has a loopback interface and nothing leaves the
// sandbox. Egress or published ports give the guest eth0 (10.0.2.15/24,
// fd00:0:0:2::15/64) whose far end is litebox's gateway (package
// hostnet), the only code of litebox that makes host sockets.
type Network struct {
	// Egress lets the guest open outbound TCP and UDP flows and resolve
	// names (--net egress): to anything when Allow is empty, else only to
	// Allow's matches. 10.0.2.2 (fd00:0:0:2::2) is the host's loopback.
	Egress bool
	// Allow restricts Egress (--allow).
	Allow []hostnet.Rule
	// Publish are ports published on the host (-p). Their listeners are
	// bound by New: a port in use fails New.
	Publish []hostnet.Port
	// DNSUpstream, if set (host:port), is the DNS server litebox asks for
	// the guest's queries instead of the host's resolv.conf servers (the
	// host's /etc/hosts still answers first). A test hook: the CLI's
	// hidden --test-dns-upstream.
	DNSUpstream string
	// NetNS, if set, is a network namespace made by a container engine
	// (/run/netns/NAME, /proc/PID/ns/net; an OCI bundle's
	// linux.namespaces network path; --net netns:PATH). The guest's stack
	// takes over its one interface (package hostnet/netns): the guest's
	// eth0 has that interface's name, MAC, MTU, addresses and routes, and
	// its traffic is the namespace's, so the engine's port mappings and
	// firewall apply and litebox's gateway is not there (a namespace
	// with no interface up, Podman's --network=none, gives loopback
	// only, as it would a runc container). Egress, Allow,
	// Publish and DNSUpstream must then be empty (the engine owns the
	// network); /etc/resolv.conf is whatever the guest's root or the
	// bundle's mounts have.
	NetNS string
}

// Enabled reports whether the sandbox gets an uplink.
func (n Network) Enabled() bool { return n.Egress || len(n.Publish) > 0 || n.NetNS != "" }

// auditAttrs describe the network in sandbox_start: the mode, the rules
// and the published ports, so that the log says what the guest was
// allowed.
func (n Network) auditAttrs() []slog.Attr {
	mode := "none"
	if n.Egress {
		mode = "egress"
	}
	if n.NetNS != "" {
		mode = "netns"
	}
	attrs := []slog.Attr{slog.String("net", mode)}
	if n.NetNS != "" {
		attrs = append(attrs, slog.String("netns", n.NetNS))
	}
	if len(n.Allow) > 0 {
		rules := make([]string, len(n.Allow))
		for i, r := range n.Allow {
			rules[i] = r.String()
		}
		attrs = append(attrs, slog.String("allow", strings.Join(rules, " ")))
	}
	if len(n.Publish) > 0 {
		ports := make([]string, len(n.Publish))
		for i, p := range n.Publish {
			ports[i] = p.String()
		}
		attrs = append(attrs, slog.String("publish", strings.Join(ports, " ")))
	}
	return attrs
}

// HostPolicy is what litebox's own seccomp allowlist must allow for this
// network: pass it to hostpolicy.InstallFor in Config.Harden (plain
// hostpolicy.Install allows no socket call).
func (n Network) HostPolicy() hostpolicy.Options {
	// --net netns: adds nothing: its sockets are made before the filter
	// and its frames move with read and write (hostnet/netns).
	return hostpolicy.Options{Egress: n.Egress, Publish: len(n.Publish) > 0}
}

// newNetwork builds the gateway and the guest's stack on its uplink
// (nil, nil when the sandbox has no network).
func newNetwork(n Network, alog *audit.Log, s *Sandbox, budget *mm.Budget, fs *vfs.VFS) (*hostnet.Gateway, *netstack.Stack, error) {
	if !n.Enabled() {
		return nil, nil, nil
	}
	if len(n.Allow) > 0 && !n.Egress {
		return nil, nil, fmt.Errorf("--allow needs --net egress")
	}
	if n.NetNS != "" {
		st, err := newNetNSStack(n, s.log)
		return nil, st, err
	}
	cfg := hostnet.Config{
		Policy:  hostnet.Policy{Egress: n.Egress, Rules: n.Allow},
		Publish: n.Publish,
		Audit:   alog,
		Log:     s.log,
		Memory:  budget,
	}
	if n.DNSUpstream != "" {
		up := n.DNSUpstream
		cfg.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, up)
		}}
	}
	gw, err := hostnet.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := netstack.New(netstack.Config{Uplink: gw.Uplink()})
	if err != nil {
		gw.Close()
		return nil, nil, err
	}
	if n.Egress {
		// A resolver on the guest's loopback never sees the uplink: the
		// gateway answers there too.
		if err := gw.ServeGuestLoopbackDNS(st.Stack, guestLoopbackNameservers(fs)); err != nil {
			st.Close()
			gw.Close()
			return nil, nil, err
		}
	}
	gw.Start()
	return gw, st, nil
}

// newNetNSStack gives the guest's stack the interface of an engine's
// network namespace (Network.NetNS).
func newNetNSStack(n Network, log *slog.Logger) (*netstack.Stack, error) {
	if n.Egress || len(n.Publish) > 0 || n.DNSUpstream != "" {
		return nil, fmt.Errorf("--net netns: is the engine's network: no --net egress, --allow or --publish with it")
	}
	link, err := netns.Open(n.NetNS, log)
	if errors.Is(err, netns.ErrNoInterface) {
		// What a runc container there would have: loopback only (the
		// kernel makes that stack on first use, as for --net none).
		log.Info("network namespace has no interface to take over: loopback only", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := netstack.New(netstack.Config{NIC: link.NIC()})
	if err != nil {
		link.Close()
		return nil, err
	}
	return st, nil
}

// resolvConfMax bounds how much of /etc/resolv.conf is read.
const resolvConfMax = 64 << 10

// guestLoopbackNameservers are the loopback addresses the guest's
// resolver will ask: the loopback nameservers of its /etc/resolv.conf
// (the host's, as the guest's view resolves it: systemd-resolved's
// 127.0.0.53), or glibc's default 127.0.0.1 when the file is missing (a
// dangling symlink into the host's /run, which the guest does not see)
// or names no nameserver.
func guestLoopbackNameservers(fs *vfs.VFS) []netip.Addr {
	def := []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	f, err := fs.Open("/etc/resolv.conf", unix.O_RDONLY, 0)
	if err != nil {
		return def
	}
	defer f.DecRef()
	buf := make([]byte, resolvConfMax)
	n := 0
	for n < len(buf) {
		k, err := f.Read(buf[n:])
		n += k
		if err != nil || k == 0 {
			break
		}
	}
	var all, loop []netip.Addr
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil {
			continue
		}
		a = a.WithZone("").Unmap()
		all = append(all, a)
		if a.IsLoopback() && !slices.Contains(loop, a) {
			loop = append(loop, a)
		}
	}
	if len(all) == 0 {
		return def
	}
	return loop
}

// closeNetwork ends every flow of the gateway (its host sockets and
// listeners) and the guest's stack.
func (s *Sandbox) closeNetwork() {
	if s.net != nil {
		s.net.Close() // no more guest traffic: the gateway's flows end
	}
	if s.gw != nil {
		s.gw.Close()
	}
}

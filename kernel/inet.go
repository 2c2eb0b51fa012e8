package kernel

import (
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/netstack"
	"github.com/litebox-go/litebox/kernel/socket/inet"
)

// inetFamily returns the sandbox's Internet family, made on first use on
// cfg.Net or, without one, on a loopback-only stack of the kernel's own
// (--net none). After CloseNet it is nil: the sandbox is ending.
func (k *Kernel) inetFamily() (*inet.Family, error) {
	k.inetMu.Lock()
	defer k.inetMu.Unlock()
	if k.inetFam != nil || k.netDone {
		return k.inetFam, nil
	}
	st, err := k.stackLocked()
	if err != nil {
		return nil, err
	}
	k.inetFam = inet.New(st, k.chargeSigned, k.poll.notify, func(what string) {
		k.Unsupported(what, unix.SYS_SETSOCKOPT, 0)
	})
	return k.inetFam, nil
}

// stackLocked returns the sandbox's stack: cfg.Net or, without one, a
// loopback-only stack of the kernel's own, made on first use; nil after
// CloseNet. Every user of the network (the inet family, netlink, the
// SIOCGIF* ioctls, /proc/net, the /etc name files) reads this one stack.
func (k *Kernel) stackLocked() (*netstack.Stack, error) {
	if k.netDone {
		return nil, nil
	}
	if k.cfg.Net != nil {
		return k.cfg.Net, nil
	}
	if k.ownNet == nil {
		st, err := netstack.New(netstack.Config{})
		if err != nil {
			return nil, err
		}
		k.ownNet = st
	}
	return k.ownNet, nil
}

// netStack is the sandbox's stack for the interface side (nil if it
// could not be made, logged, or the sandbox is ending: no interfaces).
func (k *Kernel) netStack() *netstack.Stack {
	k.inetMu.Lock()
	defer k.inetMu.Unlock()
	st, err := k.stackLocked()
	if err != nil {
		k.cfg.Log.Error("making the network stack", "err", err)
	}
	return st
}

// CloseNet tears down the network stack the kernel made for itself (a
// stack passed in Config.Net belongs to whoever made it): every socket's
// endpoint is aborted and the stack's goroutines end. The sandbox calls
// it once its guest threads have gone.
func (k *Kernel) CloseNet() {
	k.inetMu.Lock()
	st, fam := k.ownNet, k.inetFam
	k.ownNet, k.netDone = nil, true
	k.inetMu.Unlock()
	if fam != nil {
		fam.Close() // its private UDP-Lite stack
	}
	if st != nil {
		st.Close()
	}
}

// inetSocket makes an AF_INET or AF_INET6 socket.
func (t *Task) inetSocket(domain, base, proto int, nonblock, cloexec bool) (int, error) {
	p := t.Proc
	fam, err := p.k.inetFamily()
	if err != nil {
		p.k.cfg.Log.Error("making the sandbox's network stack", "err", err)
		return -1, unix.ENOBUFS
	}
	if fam == nil {
		return -1, unix.ENETDOWN // the sandbox is ending
	}
	s, err := fam.New(domain, base, proto)
	if err != nil {
		if base == unix.SOCK_RAW {
			// As Linux to a process without CAP_NET_RAW (which the guest
			// never has): raw packets would bypass the stack's checks.
			p.k.AuditEvent("denied", slog.String("operation", "socket"), slog.Int("domain", domain),
				slog.String("type", "SOCK_RAW"), slog.String("reason", "needs CAP_NET_RAW"), slog.Int("pid", p.PID))
		}
		return -1, err
	}
	return p.installSocket(s, nonblock, cloexec)
}

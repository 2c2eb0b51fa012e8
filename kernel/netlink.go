package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/socket/netlink"
)

// netlinkState is the sandbox's AF_NETLINK namespace, made on first use.
type netlinkState struct {
	once sync.Once
	ns   *netlink.Namespace
}

func (k *Kernel) netlinkNamespace() *netlink.Namespace {
	k.netlink.once.Do(func() {
		k.netlink.ns = netlink.NewNamespace(func() netlink.Stack { return k.netView() }, k.chargeSigned, k.poll.notify,
			func(what string, nr uint64) { k.Unsupported(what, nr, 0) })
	})
	return k.netlink.ns
}

// netlinkSocket is socket(AF_NETLINK, typ, proto): NETLINK_ROUTE, a
// read-only view of the sandbox's own stack. Other protocols are
// EPROTONOSUPPORT, as on Linux without their module, and logged.
func (t *Task) netlinkSocket(typ, proto int) (int, error) {
	p := t.Proc
	base, nonblock, cloexec, err := socketType(typ)
	if err != nil {
		return -1, err
	}
	if base != unix.SOCK_RAW && base != unix.SOCK_DGRAM {
		return -1, unix.ESOCKTNOSUPPORT
	}
	if !netlink.Supported(proto) {
		p.k.Unsupported("netlink protocol", unix.SYS_SOCKET, p.PID)
		return -1, unix.EPROTONOSUPPORT
	}
	s, err := p.k.netlinkNamespace().New(base, proto)
	if err != nil {
		return -1, err
	}
	return p.installSocket(s, nonblock, cloexec)
}

package kernel

import (
	"context"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/socket"
	"github.com/litebox-go/litebox/kernel/socket/unixsock"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// socketDeniedReason is the audit reason of a refused socket.
const socketDeniedReason = "the sandbox has no network"

// afMax is AF_MAX: families at or beyond it do not exist.
const afMax = 46

// unixNamespace returns the sandbox's AF_UNIX namespace, made on first
// use.
func (k *Kernel) unixNamespace() *unixsock.Namespace {
	k.unixOnce.Do(func() {
		k.unixNS = unixsock.NewNamespace(k.cfg.FS, k.chargeSigned, k.poll.notify, func(what string) {
			k.Unsupported(what, unix.SYS_SETSOCKOPT, 0)
		})
	})
	return k.unixNS
}

// SockCaller describes the calling thread to a socket family.
func (t *Task) SockCaller() *socket.Caller {
	p := t.Proc
	p.mu.Lock()
	umask := p.umask
	nofile := p.rlimits[unix.RLIMIT_NOFILE].Cur
	p.mu.Unlock()
	return &socket.Caller{Ctx: t.Interruptible(), PID: int32(p.PID), Creds: p.Creds(), NoFile: nofile,
		Umask: umask, At: func(path string) (vfs.Loc, error) { return p.at(unix.AT_FDCWD, path) }}
}

// socketType splits socket(2)'s type argument: the type, and the
// SOCK_NONBLOCK and SOCK_CLOEXEC flags (other bits: EINVAL).
func socketType(typ int) (base int, nonblock, cloexec bool, err error) {
	if typ&^(0xf|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, false, false, unix.EINVAL
	}
	return typ & 0xf, typ&unix.SOCK_NONBLOCK != 0, typ&unix.SOCK_CLOEXEC != 0, nil
}

// unixType is unix_create's choice of type: SOCK_RAW is a datagram
// socket; types AF_UNIX lacks give ESOCKTNOSUPPORT, a protocol other
// than 0 or PF_UNIX EPROTONOSUPPORT.
func unixType(base, proto int) (int, error) {
	if proto != 0 && proto != unix.AF_UNIX {
		return 0, unix.EPROTONOSUPPORT
	}
	switch base {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET:
		return base, nil
	case unix.SOCK_RAW:
		return unix.SOCK_DGRAM, nil
	}
	return 0, unix.ESOCKTNOSUPPORT
}

// Socket is socket(2). AF_UNIX sockets live in the kernel (unixsock);
// AF_INET and AF_INET6 sockets on the sandbox's own TCP/IP stack (inet);
// packet and netlink sockets are refused with EACCES and audited.
func (t *Task) Socket(domain, typ, proto int) (int, error) {
	p := t.Proc
	switch domain {
	case unix.AF_PACKET, unix.AF_NETLINK:
		p.k.AuditEvent("denied", slog.String("operation", "socket"), slog.Int("domain", domain),
			slog.String("reason", socketDeniedReason), slog.Int("pid", p.PID))
		return -1, unix.EACCES
	}
	base, nonblock, cloexec, err := socketType(typ)
	if err != nil {
		return -1, err
	}
	switch domain {
	case unix.AF_INET, unix.AF_INET6:
		return t.inetSocket(domain, base, proto, nonblock, cloexec)
	}
	if domain != unix.AF_UNIX {
		if domain < 0 || domain >= afMax {
			return -1, unix.EAFNOSUPPORT
		}
		p.k.Unsupported("socket family", unix.SYS_SOCKET, p.PID)
		return -1, unix.EAFNOSUPPORT
	}
	ut, err := unixType(base, proto)
	if err != nil {
		return -1, err
	}
	c := t.SockCaller()
	ep, err := p.k.unixNamespace().New(c, ut)
	if err != nil {
		return -1, err
	}
	return p.installSocket(ep, nonblock, cloexec)
}

// installSocket gives s a descriptor.
func (p *Process) installSocket(s socket.Socket, nonblock, cloexec bool) (int, error) {
	f := socket.NewFile(s, nonblock, p.fileCaller)
	fd, err := p.FDs.Install(f, 0, cloexec)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

// fileCaller is the caller of a socket read or write that reached the
// file through the VFS without a thread (the kernel routes its own
// through SockRead/SockWrite): the socket's creator.
func (p *Process) fileCaller(ctx context.Context) *socket.Caller {
	return &socket.Caller{Ctx: ctx, PID: int32(p.PID), Creds: p.Creds(), NoFile: uint64(p.k.cfg.Limits.NoFile),
		At: func(path string) (vfs.Loc, error) { return p.at(unix.AT_FDCWD, path) }}
}

// Socketpair creates a connected pair of AF_UNIX sockets (it never
// waits, so it needs no thread).
func (p *Process) Socketpair(domain, typ, proto int) (int, int, error) {
	base, nonblock, cloexec, err := socketType(typ)
	if err != nil {
		return -1, -1, err
	}
	if domain != unix.AF_UNIX {
		if domain == unix.AF_INET || domain == unix.AF_INET6 {
			return -1, -1, unix.EOPNOTSUPP
		}
		return -1, -1, unix.EAFNOSUPPORT
	}
	ut, err := unixType(base, proto)
	if err != nil {
		return -1, -1, err
	}
	a, b, err := p.k.unixNamespace().Pair(p.fileCaller(context.Background()), ut)
	if err != nil {
		return -1, -1, err
	}
	fa := socket.NewFile(a, nonblock, p.fileCaller)
	fb := socket.NewFile(b, nonblock, p.fileCaller)
	fda, err := p.FDs.Install(fa, 0, cloexec)
	if err != nil {
		_ = fa.DecRef()
		_ = fb.DecRef()
		return -1, -1, err
	}
	fdb, err := p.FDs.Install(fb, 0, cloexec)
	if err != nil {
		_ = p.FDs.Close(fda)
		_ = fb.DecRef()
		return -1, -1, err
	}
	return fda, fdb, nil
}

// SocketOf returns the open file behind fd and its socket: EBADF, or
// ENOTSOCK for another kind of file.
func (p *Process) SocketOf(fd int) (*vfs.File, socket.Socket, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, nil, err
	}
	s, ok := socket.Of(f)
	if !ok {
		return nil, nil, unix.ENOTSOCK
	}
	return f, s.S, nil
}

// Accept is accept4(2): the new connection's descriptor and the peer's
// address.
func (t *Task) Accept(fd, flags int) (int, []byte, error) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return -1, nil, unix.EINVAL
	}
	f, s, err := t.Proc.SocketOf(fd)
	if err != nil {
		return -1, nil, err
	}
	ns, err := s.Accept(t.SockCaller(), f.Flags()&unix.O_NONBLOCK != 0)
	if err != nil {
		return -1, nil, err
	}
	var peer []byte
	if ap, ok := ns.(interface{ AcceptedPeer() []byte }); ok {
		peer = ap.AcceptedPeer() // an Internet peer, even if it has gone since
	} else if peer, err = ns.PeerName(); err != nil {
		peer = []byte{byte(unix.AF_UNIX), 0}
	}
	nfd, err := t.Proc.installSocket(ns, flags&unix.SOCK_NONBLOCK != 0, flags&unix.SOCK_CLOEXEC != 0)
	return nfd, peer, err
}

// Connect is connect(2); a non-blocking socket does not wait for room in
// a listener's backlog.
func (t *Task) Connect(fd int, addr []byte) error {
	f, s, err := t.Proc.SocketOf(fd)
	if err != nil {
		return err
	}
	return s.Connect(t.SockCaller(), addr, f.Flags()&unix.O_NONBLOCK != 0)
}

// SockSend sends m on fd; MSG_DONTWAIT or O_NONBLOCK make it not wait.
func (t *Task) SockSend(fd int, m *socket.SendMsg) (int, error) {
	f, s, err := t.Proc.SocketOf(fd)
	if err != nil {
		m.Release()
		return 0, err
	}
	m.Nonblock = m.Flags&unix.MSG_DONTWAIT != 0 || f.Flags()&unix.O_NONBLOCK != 0
	return s.Send(t.SockCaller(), m)
}

// SockRecv receives into m on fd.
func (t *Task) SockRecv(fd int, m *socket.RecvMsg) error {
	f, s, err := t.Proc.SocketOf(fd)
	if err != nil {
		return err
	}
	m.Nonblock = m.Flags&unix.MSG_DONTWAIT != 0 || f.Flags()&unix.O_NONBLOCK != 0
	return s.Recv(t.SockCaller(), m)
}

// InstallRights gives received descriptors to the process: as many as
// there is room for (max), the rest are closed, as Linux's
// scm_detach_fds; it also stops at the descriptor limit. It returns the
// descriptors installed.
func (p *Process) InstallRights(files []*vfs.File, max int, cloexec bool) []int {
	var fds []int
	for i, f := range files {
		if i >= max {
			_ = f.DecRef()
			continue
		}
		fd, err := p.FDs.Install(f, 0, cloexec)
		if err != nil {
			_ = f.DecRef()
			max = i // no room: the rest are closed too
			continue
		}
		fds = append(fds, fd)
	}
	return fds
}

// SockRead is read(2) on a socket with the calling thread as the caller
// (its credentials go with the data).
func (t *Task) sockRead(s *socket.File, f *vfs.File, b []byte) (int, error) {
	return s.Read(t.SockCaller(), b, f.Flags()&unix.O_NONBLOCK != 0)
}

// sockWrite is write(2) on a socket.
func (t *Task) sockWrite(s *socket.File, f *vfs.File, b []byte) (int, error) {
	return s.Write(t.SockCaller(), b, f.Flags()&unix.O_NONBLOCK != 0)
}

// ProcNetUnix is the content of /proc/net/unix: the sandbox's AF_UNIX
// sockets.
func (k *Kernel) ProcNetUnix() ([]byte, error) { return k.unixNamespace().ProcNetUnix(), nil }

package kernel

import (
	"context"
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/pipe"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// socketDeniedReason is the audit reason of a refused socket.
const socketDeniedReason = "the sandbox has no network"

// Socket is the policy of socket(2): a sandbox has no network (there is
// no option to give it one), so Internet, packet and netlink sockets are
// refused with EACCES and recorded; named AF_UNIX sockets are not built yet.
func (p *Process) Socket(domain, typ, proto int) (int, error) {
	switch domain {
	case unix.AF_INET, unix.AF_INET6, unix.AF_PACKET, unix.AF_NETLINK:
		p.k.AuditEvent("denied", slog.String("operation", "socket"), slog.Int("domain", domain),
			slog.String("reason", socketDeniedReason), slog.Int("pid", p.PID))
		return -1, unix.EACCES
	case unix.AF_UNIX:
		p.k.Unsupported("socket(AF_UNIX) (named unix sockets)", unix.SYS_SOCKET, p.PID)
		return -1, unix.EAFNOSUPPORT
	}
	return -1, unix.EAFNOSUPPORT
}

// sockEnd is one end of an AF_UNIX socketpair: it reads what the peer
// wrote and writes what the peer reads, through two kernel pipes.
type sockEnd struct {
	in, out *pipe.End
	typ     int
	ino     uint64
	owner   [2]uint32 // uid, gid: the creator's fs ids, as Linux's sock_alloc
}

// Socketpair creates a connected pair of AF_UNIX sockets.
func (p *Process) Socketpair(domain, typ, proto int) (int, int, error) {
	if domain != unix.AF_UNIX {
		if domain == unix.AF_INET || domain == unix.AF_INET6 {
			return -1, -1, unix.EOPNOTSUPP
		}
		return -1, -1, unix.EAFNOSUPPORT
	}
	base := typ &^ (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	if base != unix.SOCK_STREAM && base != unix.SOCK_DGRAM && base != unix.SOCK_SEQPACKET {
		return -1, -1, unix.EINVAL
	}
	if proto != 0 {
		return -1, -1, unix.EPROTONOSUPPORT
	}
	ab, err := p.k.newPipe()
	if err != nil {
		return -1, -1, err
	}
	ba, err := p.k.newPipe()
	if err != nil {
		abR, abW := ab.Ends()
		_, _ = abR.Close(), abW.Close()
		return -1, -1, err
	}
	ab.SetNotify(p.k.poll.notify)
	ba.SetNotify(p.k.poll.notify)
	abR, abW := ab.Ends()
	baR, baW := ba.Ends()
	c := p.Creds()
	a := &sockEnd{in: baR, out: abW, typ: base, ino: vfs.NewIno(), owner: [2]uint32{c.FSUID, c.FSGID}}
	b := &sockEnd{in: abR, out: baW, typ: base, ino: vfs.NewIno(), owner: a.owner}
	flags := unix.O_RDWR
	if typ&unix.SOCK_NONBLOCK != 0 {
		flags |= unix.O_NONBLOCK
	}
	fa := vfs.NewAnonFile(fmt.Sprintf("socket:[%d]", a.ino), a, a, flags)
	fb := vfs.NewAnonFile(fmt.Sprintf("socket:[%d]", b.ino), b, b, flags)
	cloexec := typ&unix.SOCK_CLOEXEC != 0
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

func (s *sockEnd) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: anonDev, Ino: s.ino, Nlink: 1, Mode: unix.S_IFSOCK | 0o777, Uid: s.owner[0],
		Gid: s.owner[1], Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}
func (s *sockEnd) IsStream() bool { return true }
func (s *sockEnd) ReadAt(b []byte, _ int64) (int, error) {
	return s.ReadCancel(b, 0, context.Background())
}
func (s *sockEnd) WriteAt(b []byte, _ int64) (int, error) {
	return s.WriteCancel(b, 0, context.Background())
}
func (s *sockEnd) ReadCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return s.in.ReadCancel(b, flags, ctx)
}
func (s *sockEnd) WriteCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return s.out.WriteCancel(b, flags, ctx)
}
func (s *sockEnd) Readiness() int16 {
	in, out := s.in.Readiness(), s.out.Readiness()
	ev := in & (unix.POLLIN | unix.POLLHUP)
	if out&unix.POLLERR != 0 {
		ev |= unix.POLLHUP | unix.POLLOUT
	} else {
		ev |= out & unix.POLLOUT
	}
	return ev
}
func (s *sockEnd) Truncate(int64) error { return unix.EINVAL }
func (s *sockEnd) Sync() error          { return unix.EINVAL }
func (s *sockEnd) Close() error {
	_ = s.in.Close()
	return s.out.Close()
}

// SocketOf returns the socket end behind fd, or ENOTSOCK.
func (p *Process) SocketOf(fd int) (*vfs.File, int, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, 0, err
	}
	s, ok := f.Ops().(*sockEnd)
	if !ok {
		return nil, 0, unix.ENOTSOCK
	}
	return f, s.typ, nil
}

// Shutdown closes one or both directions of a socket.
func (p *Process) Shutdown(fd, how int) error {
	f, _, err := p.SocketOf(fd)
	if err != nil {
		return err
	}
	s := f.Ops().(*sockEnd)
	switch how {
	case unix.SHUT_RD:
		return s.in.Shutdown()
	case unix.SHUT_WR:
		return s.out.Shutdown()
	case unix.SHUT_RDWR:
		_ = s.in.Shutdown()
		return s.out.Shutdown()
	}
	return unix.EINVAL
}

// SockIO sends (write) or receives on a socket with per-call flags:
// dontwait makes this call non-blocking whatever the file's flags.
func (t *Task) SockIO(fd int, b []byte, write, dontwait bool) (int, error) {
	f, _, err := t.Proc.SocketOf(fd)
	if err != nil {
		return 0, err
	}
	s := f.Ops().(*sockEnd)
	flags := f.Flags()
	if dontwait {
		flags |= unix.O_NONBLOCK
	}
	if write {
		return s.WriteCancel(b, flags, t.Interruptible())
	}
	return s.ReadCancel(b, flags, t.Interruptible())
}

// Buffered returns the bytes the peer sent and this end has not read.
func (s *sockEnd) Buffered() int { return s.in.Buffered() }

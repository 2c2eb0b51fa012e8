package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// sysGetsockname serves getsockname and getpeername: a socketpair end has
// an unnamed AF_UNIX address, just the family.
func sysGetsockname(t *kernel.Task, a args) (uint64, error) {
	if _, _, err := t.Proc.SocketOf(fdArg(a[0])); err != nil {
		return 0, err
	}
	if err := t.CopyOut(a[1], []byte{unix.AF_UNIX, 0}); err != nil {
		return 0, err
	}
	return 0, t.WriteU32(a[2], 2)
}

// sysConnect serves connect, bind, listen, accept and accept4 on the only
// sockets there are: a socketpair end is already connected.
func sysConnect(t *kernel.Task, a args) (uint64, error) {
	if _, _, err := t.Proc.SocketOf(fdArg(a[0])); err != nil {
		return 0, err
	}
	return 0, unix.EINVAL
}

func sysSocket(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Proc.Socket(int(a[0]), int(a[1]), int(a[2]))
	return uint64(fd), err
}

func sysSocketpair(t *kernel.Task, a args) (uint64, error) {
	x, y, err := t.Proc.Socketpair(int(a[0]), int(a[1]), int(a[2]))
	if err != nil {
		return 0, err
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(x))
	b = binary.LittleEndian.AppendUint32(b, uint32(y))
	if err := t.CopyOut(a[3], b); err != nil {
		_ = t.Proc.Close(x)
		_ = t.Proc.Close(y)
		return 0, err
	}
	return 0, nil
}

func sysSendto(t *kernel.Task, a args) (uint64, error) {
	return sockXfer(t, fdArg(a[0]), []iovec{{a[1], a[2]}}, int(a[3]), true)
}

func sysRecvfrom(t *kernel.Task, a args) (uint64, error) {
	n, err := sockXfer(t, fdArg(a[0]), []iovec{{a[1], a[2]}}, int(a[3]), false)
	if err == nil && a[4] != 0 && a[5] != 0 {
		err = t.WriteU32(a[5], 0) // the peer of a socketpair is unnamed
	}
	return n, err
}

func sysSendmsg(t *kernel.Task, a args) (uint64, error) {
	return msgXfer(t, fdArg(a[0]), a[1], int(a[2]), true)
}

func sysRecvmsg(t *kernel.Task, a args) (uint64, error) {
	return msgXfer(t, fdArg(a[0]), a[1], int(a[2]), false)
}

func sysShutdown(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.Shutdown(fdArg(a[0]), int(a[1]))
}

func sysSetsockopt(t *kernel.Task, a args) (uint64, error) {
	if _, _, err := t.Proc.SocketOf(fdArg(a[0])); err != nil {
		return 0, err
	}
	if a[1] == unix.SOL_SOCKET {
		switch a[2] {
		case unix.SO_RCVBUF, unix.SO_SNDBUF, unix.SO_PASSCRED, unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			// Buffer sizes are hints; credentials and timeouts are not
			// served yet and say so.
			if a[2] == unix.SO_RCVBUF || a[2] == unix.SO_SNDBUF {
				return 0, nil
			}
		}
	}
	t.Proc.Kernel().Unsupported("setsockopt option", unix.SYS_SETSOCKOPT, t.Proc.PID)
	return 0, unix.ENOPROTOOPT
}

// sockXfer moves data through a socket for send/recv with flags.
func sockXfer(t *kernel.Task, fd int, iovs []iovec, flags int, write bool) (uint64, error) {
	if flags&^(unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL|unix.MSG_WAITALL|unix.MSG_CMSG_CLOEXEC) != 0 {
		t.Proc.Kernel().Unsupported("socket message flags", unix.SYS_SENDTO, t.Proc.PID)
		return 0, unix.EOPNOTSUPP
	}
	if _, _, err := t.Proc.SocketOf(fd); err != nil {
		return 0, err
	}
	dontwait := flags&unix.MSG_DONTWAIT != 0
	n, err := vectoredIovs(t, iovs, func(v iovec) (uint64, error) {
		if write {
			return writeFrom(t, v.base, v.len, func(b []byte) (int, error) { return t.SockIO(fd, b, true, dontwait) })
		}
		return readInto(t, v.base, v.len, func(b []byte) (int, error) { return t.SockIO(fd, b, false, dontwait) })
	})
	if write && err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
		_ = t.SendSignal(senderInfo(t, unix.SIGPIPE, kernel.SIKernel))
	}
	return n, err
}

// vectoredIovs runs one transfer per iovec until one comes back short;
// data moved before an error is reported instead of the error.
func vectoredIovs(t *kernel.Task, iovs []iovec, xfer func(iovec) (uint64, error)) (uint64, error) {
	var total uint64
	for _, iov := range iovs {
		if iov.len == 0 {
			continue
		}
		n, err := xfer(iov)
		total += n
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if n < iov.len {
			break
		}
	}
	return total, nil
}

// msgXfer serves sendmsg/recvmsg without ancillary data (SCM_RIGHTS is
// not built yet: sending it fails rather than dropping descriptors).
func msgXfer(t *kernel.Task, fd int, msgAddr uint64, flags int, write bool) (uint64, error) {
	raw, err := t.CopyIn(msgAddr, 56) // struct msghdr
	if err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	iovAddr, iovLen := le.Uint64(raw[16:]), le.Uint64(raw[24:])
	controlLen := le.Uint64(raw[40:])
	if write && controlLen != 0 {
		t.Proc.Kernel().Unsupported("sendmsg with ancillary data", unix.SYS_SENDMSG, t.Proc.PID)
		return 0, unix.EOPNOTSUPP
	}
	iovs, err := readIovecs(t, iovAddr, iovLen)
	if err != nil {
		return 0, err
	}
	n, err := sockXfer(t, fd, iovs, flags, write)
	if err != nil || write {
		return n, err
	}
	// No name, no control data, no flags to report.
	le.PutUint32(raw[8:], 0)
	le.PutUint64(raw[40:], 0)
	le.PutUint32(raw[48:], 0)
	return n, t.CopyOut(msgAddr, raw)
}

func sysGetsockopt(t *kernel.Task, a args) (uint64, error) {
	_, typ, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	if a[1] != unix.SOL_SOCKET {
		return 0, unix.ENOPROTOOPT
	}
	var v uint32
	switch a[2] {
	case unix.SO_TYPE:
		v = uint32(typ)
	case unix.SO_DOMAIN:
		v = unix.AF_UNIX
	case unix.SO_ERROR:
		v = 0
	case unix.SO_RCVBUF, unix.SO_SNDBUF:
		v = 65536
	default:
		return 0, unix.ENOPROTOOPT
	}
	l, err := t.CopyIn(a[4], 4)
	if err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint32(l) < 4 {
		return 0, unix.EINVAL
	}
	if err := t.WriteU32(a[3], v); err != nil {
		return 0, err
	}
	return 0, t.WriteU32(a[4], 4)
}

package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/socket"
	"github.com/litebox-go/litebox/kernel/socket/unixsock"
)

// The socket syscalls decode the guest's structures (sockaddr, msghdr,
// cmsghdr) with Linux's bounds and hand plain values to the kernel's
// socket layer (kernel/socket); every length is checked before memory is
// read or allocated.

const (
	// sockaddrMax is sizeof(struct sockaddr_storage).
	sockaddrMax = 128
	// optmemMax bounds a sendmsg's control data (net.core.optmem_max):
	// more is ENOBUFS.
	optmemMax = 131072
	// cmsgHdr is sizeof(struct cmsghdr) on x86-64.
	cmsgHdr = 16
	// msghdrSize is sizeof(struct msghdr).
	msghdrSize = 56
	// maxDatagram bounds a datagram or record the guest can ask to send:
	// past the largest SO_SNDBUF it is EMSGSIZE without being read.
	maxDatagram = 8 << 20
	// sockChunk is how much of a stream send or MSG_WAITALL receive is
	// held in the kernel at a time.
	sockChunk = 1 << 20
)

func cmsgAlign(n int) int { return (n + 7) &^ 7 }

// readSockaddr copies a sockaddr of alen bytes (EINVAL past
// sockaddr_storage, as move_addr_to_kernel).
func readSockaddr(t *kernel.Task, addr, alen uint64) ([]byte, error) {
	n := int32(alen)
	if n < 0 || n > sockaddrMax {
		return nil, unix.EINVAL
	}
	if n == 0 {
		return []byte{}, nil
	}
	return t.CopyIn(addr, int(n))
}

// writeSockaddr is move_addr_to_user: at most *lenp bytes of sa go to
// addr, and *lenp becomes sa's whole length.
func writeSockaddr(t *kernel.Task, addr, lenp uint64, sa []byte) error {
	raw, err := t.CopyIn(lenp, 4)
	if err != nil {
		return err
	}
	ulen := int32(binary.LittleEndian.Uint32(raw))
	if ulen < 0 {
		return unix.EINVAL
	}
	if n := min(int(ulen), len(sa)); n > 0 {
		if err := t.CopyOut(addr, sa[:n]); err != nil {
			return err
		}
	}
	return t.WriteU32(lenp, uint32(len(sa)))
}

func sysSocket(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Socket(int(int32(a[0])), int(int32(a[1])), int(int32(a[2])))
	return uint64(fd), err
}

func sysSocketpair(t *kernel.Task, a args) (uint64, error) {
	x, y, err := t.Proc.Socketpair(int(int32(a[0])), int(int32(a[1])), int(int32(a[2])))
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

func sysBind(t *kernel.Task, a args) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	sa, err := readSockaddr(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	return 0, s.Bind(t.SockCaller(), sa)
}

func sysListen(t *kernel.Task, a args) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, s.Listen(t.SockCaller(), int(int32(a[1])))
}

func sysAccept(t *kernel.Task, a args) (uint64, error) {
	return accept(t, a, 0)
}

func sysAccept4(t *kernel.Task, a args) (uint64, error) {
	return accept(t, a, int(int32(a[3])))
}

func accept(t *kernel.Task, a args, flags int) (uint64, error) {
	fd, peer, err := t.Accept(fdArg(a[0]), flags)
	if err != nil {
		return 0, err
	}
	if a[1] != 0 {
		if err := writeSockaddr(t, a[1], a[2], peer); err != nil {
			_ = t.Proc.Close(fd)
			return 0, err
		}
	}
	return uint64(fd), nil
}

func sysConnect(t *kernel.Task, a args) (uint64, error) {
	if _, _, err := t.Proc.SocketOf(fdArg(a[0])); err != nil {
		return 0, err
	}
	sa, err := readSockaddr(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	return 0, t.Connect(fdArg(a[0]), sa)
}

func sysGetsockname(t *kernel.Task, a args) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, writeSockaddr(t, a[1], a[2], s.Name())
}

func sysGetpeername(t *kernel.Task, a args) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	sa, err := s.PeerName()
	if err != nil {
		return 0, err
	}
	return 0, writeSockaddr(t, a[1], a[2], sa)
}

func sysShutdown(t *kernel.Task, a args) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, s.Shutdown(int(int32(a[1])))
}

func sysSendto(t *kernel.Task, a args) (uint64, error) {
	m := socket.SendMsg{Flags: int(int32(a[3]))}
	if _, _, err := t.Proc.SocketOf(fdArg(a[0])); err != nil {
		return 0, err
	}
	if a[4] != 0 {
		sa, err := readSockaddr(t, a[4], a[5])
		if err != nil {
			return 0, err
		}
		m.To = sa
	}
	return send(t, fdArg(a[0]), []iovec{{a[1], min(a[2], 1<<31-1)}}, &m)
}

func sysRecvfrom(t *kernel.Task, a args) (uint64, error) {
	fd := fdArg(a[0])
	if _, _, err := t.Proc.SocketOf(fd); err != nil {
		return 0, err
	}
	r := socket.RecvMsg{Flags: int(int32(a[3]))}
	n, err := recv(t, fd, []iovec{{a[1], min(a[2], 1<<31-1)}}, &r)
	for _, f := range r.Rights { // recvfrom has nowhere to put them
		_ = f.DecRef()
	}
	if err != nil {
		return 0, err
	}
	if a[4] != 0 && a[5] != 0 {
		if err := writeSockaddr(t, a[4], a[5], r.From); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// send moves the iovecs' data into the socket: a datagram or record in
// one message, a stream chunk by chunk (ancillary data with the first).
// EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
func send(t *kernel.Task, fd int, iovs []iovec, m *socket.SendMsg) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fd)
	if err != nil {
		m.Release()
		return 0, err
	}
	var total uint64
	for _, v := range iovs {
		total += v.len
	}
	total = min(total, maxIO)
	stream := s.Type() == unix.SOCK_STREAM
	if !stream && total > maxDatagram {
		m.Release()
		return 0, unix.EMSGSIZE
	}
	// A family that copies what it is sent (copiesWrites) gets every
	// chunk in one borrowed buffer; others keep theirs (a Unix socket
	// queues it), so each chunk is a fresh one.
	var scratch []byte
	if copiesWrites(t, fd) && total >= pooledIO {
		b, release := ioBuffer(total)
		defer release()
		scratch = b
	}
	var sent uint64
	for {
		want := total - sent
		if stream {
			want = min(want, sockChunk)
		}
		var dst []byte
		if want <= uint64(len(scratch)) {
			dst = scratch[:want]
		} else {
			dst = make([]byte, want)
		}
		data, err := gather(t, iovs, sent, dst)
		if err != nil {
			m.Release()
			if sent > 0 {
				return sent, nil
			}
			return 0, err
		}
		m.Data = data
		n, err := t.SockSend(fd, m)
		m.Rights, m.Creds = nil, nil // they went with the first chunk
		sent += uint64(n)
		if err != nil {
			if sent > 0 {
				return sent, nil
			}
			if err == unix.EPIPE && m.Flags&unix.MSG_NOSIGNAL == 0 {
				_ = t.SendSignal(senderInfo(t, unix.SIGPIPE, kernel.SIKernel))
			}
			return 0, err
		}
		if n < len(data) || sent >= total {
			return sent, nil
		}
	}
}

// gather fills dst with the iovecs' data from offset off on (dst is
// returned; its length is what the caller allowed for).
func gather(t *kernel.Task, iovs []iovec, off uint64, dst []byte) ([]byte, error) {
	out := dst
	for _, v := range iovs {
		if len(dst) == 0 {
			break
		}
		if off >= v.len {
			off -= v.len
			continue
		}
		c := min(v.len-off, uint64(len(dst)))
		if _, err := t.Mem.CopyIn(v.base+off, dst[:c]); err != nil {
			return nil, unix.EFAULT
		}
		dst = dst[c:]
		off = 0
	}
	return out[:len(out)-len(dst)], nil
}

// scatter copies b into the iovecs from offset off.
func scatter(t *kernel.Task, iovs []iovec, off uint64, b []byte) error {
	for _, v := range iovs {
		if len(b) == 0 {
			return nil
		}
		if off >= v.len {
			off -= v.len
			continue
		}
		c := min(v.len-off, uint64(len(b)))
		if err := t.CopyOut(v.base+off, b[:c]); err != nil {
			return err
		}
		b = b[c:]
		off = 0
	}
	return nil
}

// recv receives into the iovecs; r collects the address and ancillary
// data. A stream receive with MSG_WAITALL is served in chunks.
func recv(t *kernel.Task, fd int, iovs []iovec, r *socket.RecvMsg) (uint64, error) {
	var total uint64
	for _, v := range iovs {
		total += v.len
	}
	total = min(total, maxIO)
	waitall := r.Flags&unix.MSG_WAITALL != 0 && r.Flags&unix.MSG_PEEK == 0
	// A family may receive into a buffer of ours (RecvMsg.Buf) rather
	// than one of its own per call; the bytes are scattered to the guest
	// before the buffer goes back.
	var buf []byte
	if total >= pooledIO {
		b, release := ioBuffer(total)
		defer release()
		buf = b
	}
	var done uint64
	for {
		part := socket.RecvMsg{Max: int(total - done), Flags: r.Flags}
		if waitall {
			part.Max = int(min(total-done, sockChunk))
		}
		if buf != nil && part.Max <= len(buf) {
			part.Buf = buf
		}
		err := t.SockRecv(fd, &part)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if done == 0 {
			r.From, r.Creds, r.MsgFlags, r.Len = part.From, part.Creds, part.MsgFlags, part.Len
			r.Control = part.Control
		}
		r.Rights = append(r.Rights, part.Rights...)
		if err := scatter(t, iovs, done, part.Data); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		done += uint64(len(part.Data))
		if !waitall || len(part.Data) < part.Max || len(part.Rights) > 0 || done >= total {
			if done == uint64(len(part.Data)) {
				return uint64(part.Len), nil // MSG_TRUNC's whole length
			}
			return done, nil
		}
	}
}

// msghdr is the decoded struct msghdr.
type msghdr struct {
	name, namelen       uint64
	iov, iovlen         uint64
	control, controllen uint64
}

func readMsghdr(t *kernel.Task, addr uint64) (msghdr, error) {
	raw, err := t.CopyIn(addr, msghdrSize)
	if err != nil {
		return msghdr{}, err
	}
	le := binary.LittleEndian
	return msghdr{name: le.Uint64(raw[0:]), namelen: uint64(le.Uint32(raw[8:])), iov: le.Uint64(raw[16:]),
		iovlen: le.Uint64(raw[24:]), control: le.Uint64(raw[32:]), controllen: le.Uint64(raw[40:])}, nil
}

func msgIovecs(t *kernel.Task, h msghdr) ([]iovec, error) {
	if h.iovlen > 1024 { // UIO_MAXIOV
		return nil, unix.EMSGSIZE
	}
	return readIovecs(t, h.iov, h.iovlen)
}

func sysSendmsg(t *kernel.Task, a args) (uint64, error) {
	fd := fdArg(a[0])
	if _, _, err := t.Proc.SocketOf(fd); err != nil {
		return 0, err
	}
	h, err := readMsghdr(t, a[1])
	if err != nil {
		return 0, err
	}
	m := socket.SendMsg{Flags: int(int32(a[2]))}
	if h.name != 0 {
		if m.To, err = readSockaddr(t, h.name, h.namelen); err != nil {
			return 0, err
		}
	}
	iovs, err := msgIovecs(t, h)
	if err != nil {
		return 0, err
	}
	if h.controllen > optmemMax {
		return 0, unix.ENOBUFS
	}
	if h.controllen > 0 {
		ctrl, err := t.CopyIn(h.control, int(h.controllen))
		if err != nil {
			return 0, err
		}
		if err := parseControl(t, ctrl, &m); err != nil {
			m.Release()
			return 0, err
		}
	}
	return send(t, fd, iovs, &m)
}

// parseControl walks a sendmsg's control messages as Linux's __scm_send:
// each header must lie inside the buffer (EINVAL), other levels are
// skipped, SCM_RIGHTS descriptors (at most SCM_MAX_FD in all) are taken
// as references, SCM_CREDENTIALS must be exactly a ucred the sender may
// claim (EPERM), anything else is EINVAL.
func parseControl(t *kernel.Task, ctrl []byte, m *socket.SendMsg) error {
	le := binary.LittleEndian
	for off := 0; off+cmsgHdr <= len(ctrl); {
		clen := le.Uint64(ctrl[off:])
		if clen < cmsgHdr || clen > uint64(len(ctrl)-off) {
			return unix.EINVAL
		}
		level, typ := int32(le.Uint32(ctrl[off+8:])), int32(le.Uint32(ctrl[off+12:]))
		body := ctrl[off+cmsgHdr : off+int(clen)]
		off += cmsgAlign(int(clen))
		if level == unix.SOL_IP || level == unix.SOL_IPV6 {
			// The family checks these (ip_cmsg_send, ip6_datagram_send_ctl);
			// a Unix socket ignores them as Linux's does.
			m.Control = append(m.Control, socket.Cmsg{Level: int(level), Type: int(typ), Data: body})
			continue
		}
		if level != unix.SOL_SOCKET {
			continue
		}
		switch typ {
		case unix.SCM_RIGHTS:
			n := len(body) / 4
			if len(m.Rights)+n > unixsock.ScmMaxFD {
				return unix.EINVAL
			}
			for i := range n {
				f, err := t.Proc.FDs.Get(int(int32(le.Uint32(body[4*i:]))))
				if err != nil {
					return err
				}
				f.IncRef()
				m.Rights = append(m.Rights, f)
			}
		case unix.SCM_CREDENTIALS:
			if len(body) != 12 {
				return unix.EINVAL
			}
			u := socket.Ucred{PID: int32(le.Uint32(body)), UID: le.Uint32(body[4:]), GID: le.Uint32(body[8:])}
			if err := unixsock.CheckCreds(t.SockCaller(), u); err != nil {
				return err
			}
			m.Creds = &u
		default:
			return unix.EINVAL
		}
	}
	return nil
}

func sysRecvmsg(t *kernel.Task, a args) (uint64, error) {
	fd := fdArg(a[0])
	if _, _, err := t.Proc.SocketOf(fd); err != nil {
		return 0, err
	}
	h, err := readMsghdr(t, a[1])
	if err != nil {
		return 0, err
	}
	if h.name != 0 && int32(h.namelen) < 0 {
		return 0, unix.EINVAL
	}
	iovs, err := msgIovecs(t, h)
	if err != nil {
		return 0, err
	}
	flags := int(int32(a[2]))
	r := socket.RecvMsg{Flags: flags}
	n, err := recv(t, fd, iovs, &r)
	if err != nil {
		return 0, err
	}
	ctrl, msgFlags := buildControl(t, &r, h, flags)
	msgFlags |= flags & unix.MSG_CMSG_CLOEXEC
	le := binary.LittleEndian
	if h.name != 0 {
		if k := min(int(min(h.namelen, sockaddrMax)), len(r.From)); k > 0 {
			if err := t.CopyOut(h.name, r.From[:k]); err != nil {
				return 0, err
			}
		}
		if err := t.WriteU32(a[1]+8, uint32(len(r.From))); err != nil {
			return 0, err
		}
	}
	if len(ctrl) > 0 {
		if err := t.CopyOut(h.control, ctrl); err != nil {
			return 0, err
		}
	}
	tail := le.AppendUint64(nil, uint64(len(ctrl)))
	tail = le.AppendUint32(tail, uint32(msgFlags))
	return n, t.CopyOut(a[1]+40, tail)
}

// buildControl lays out the received ancillary data as Linux's scm_recv:
// SCM_CREDENTIALS first, then SCM_RIGHTS with as many descriptors as the
// buffer holds (installed now; the others are closed) and MSG_CTRUNC when
// something did not fit. It returns the bytes for msg_control and the
// message flags.
func buildControl(t *kernel.Task, r *socket.RecvMsg, h msghdr, flags int) ([]byte, int) {
	msgFlags := r.MsgFlags
	if h.control == 0 {
		if r.Creds != nil || len(r.Rights) > 0 || len(r.Control) > 0 {
			msgFlags |= unix.MSG_CTRUNC
		}
		t.Proc.InstallRights(r.Rights, 0, false)
		return nil, msgFlags
	}
	space := int(min(h.controllen, 1<<20))
	var out []byte
	le := binary.LittleEndian
	header := func(n, level, typ int) {
		out = le.AppendUint64(out, uint64(n))
		out = le.AppendUint32(out, uint32(level))
		out = le.AppendUint32(out, uint32(typ))
	}
	advance := func(start, full int) {
		end := min(start+cmsgAlign(full), space)
		for len(out) < end {
			out = append(out, 0)
		}
	}
	// put is Linux's put_cmsg: no room for a header drops the message,
	// too little for its data cuts it; either sets MSG_CTRUNC.
	put := func(level, typ int, data []byte) {
		avail := space - len(out)
		if avail < cmsgHdr {
			msgFlags |= unix.MSG_CTRUNC
			return
		}
		start, cmlen := len(out), cmsgHdr+len(data)
		if avail < cmlen {
			msgFlags |= unix.MSG_CTRUNC
			cmlen = avail
		}
		header(cmlen, level, typ)
		out = append(out, data[:cmlen-cmsgHdr]...)
		advance(start, cmsgHdr+len(data))
	}
	if r.Creds != nil {
		put(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, r.Creds.Bytes())
	}
	if len(r.Rights) > 0 {
		fdmax := 0
		if avail := space - len(out); avail > cmsgHdr {
			fdmax = (avail - cmsgHdr) / 4
		}
		fds := t.Proc.InstallRights(r.Rights, fdmax, flags&unix.MSG_CMSG_CLOEXEC != 0)
		if len(fds) < len(r.Rights) {
			msgFlags |= unix.MSG_CTRUNC
		}
		if len(fds) > 0 {
			start := len(out)
			header(cmsgHdr+4*len(fds), unix.SOL_SOCKET, unix.SCM_RIGHTS)
			for _, fd := range fds {
				out = le.AppendUint32(out, uint32(fd))
			}
			advance(start, cmsgHdr+4*len(fds))
		}
	}
	r.Rights = nil
	for _, c := range r.Control {
		put(c.Level, c.Type, c.Data)
	}
	return out, msgFlags
}

// sockoptMax is the most of an option value any option reads.
const sockoptMax = 16

func sysSetsockopt(t *kernel.Task, a args) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	optlen := int32(a[4])
	if optlen < 0 {
		return 0, unix.EINVAL
	}
	val, err := t.CopyIn(a[3], int(min(optlen, sockoptMax)))
	if err != nil {
		return 0, err
	}
	return 0, s.SetSockOpt(t.SockCaller(), int(int32(a[1])), int(int32(a[2])), val)
}

func sysGetsockopt(t *kernel.Task, a args) (uint64, error) {
	_, s, err := t.Proc.SocketOf(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	raw, err := t.CopyIn(a[4], 4)
	if err != nil {
		return 0, err
	}
	optlen := int32(binary.LittleEndian.Uint32(raw))
	if optlen < 0 {
		return 0, unix.EINVAL
	}
	val, err := s.GetSockOpt(t.SockCaller(), int(int32(a[1])), int(int32(a[2])))
	if err != nil {
		return 0, err
	}
	n := min(int(optlen), len(val))
	if err := t.CopyOut(a[3], val[:n]); err != nil {
		return 0, err
	}
	return 0, t.WriteU32(a[4], uint32(n))
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

// mmsghdrSize is sizeof(struct mmsghdr): a msghdr and msg_len (padded).
const mmsghdrSize = 64

// msgWaitForOne is MSG_WAITFORONE: recvmmsg stops waiting after the first
// message.
const msgWaitForOne = 0x10000

// sysSendmmsg is sendmsg for each of up to UIO_MAXIOV messages; it stops
// at the first failure and returns how many were sent (the failure
// itself only when none was), as Linux's __sys_sendmmsg.
func sysSendmmsg(t *kernel.Task, a args) (uint64, error) {
	if _, _, err := t.Proc.SocketOf(fdArg(a[0])); err != nil {
		return 0, err
	}
	vlen := min(uint32(a[2]), 1024)
	var n uint32
	for ; n < vlen; n++ {
		hdr := a[1] + uint64(n)*mmsghdrSize
		sent, err := sysSendmsg(t, args{a[0], hdr, a[3]})
		if err == nil {
			err = t.WriteU32(hdr+msghdrSize, uint32(sent))
		}
		if err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
	}
	return uint64(n), nil
}

// sysRecvmmsg is recvmsg for each of up to UIO_MAXIOV messages: after
// the first, MSG_WAITFORONE makes the rest non-blocking, and a timeout
// (checked after each message, as Linux does) ends the batch. A failure
// after some messages ends it too, returning their count.
func sysRecvmmsg(t *kernel.Task, a args) (uint64, error) {
	if _, _, err := t.Proc.SocketOf(fdArg(a[0])); err != nil {
		return 0, err
	}
	var deadline time.Time
	if a[4] != 0 {
		d, err := readTimespec(t, a[4])
		if err != nil {
			return 0, err
		}
		deadline = time.Now().Add(d)
	}
	vlen := min(uint32(a[2]), 1024)
	flags := a[3] &^ msgWaitForOne
	var n uint32
	for ; n < vlen; n++ {
		hdr := a[1] + uint64(n)*mmsghdrSize
		got, err := sysRecvmsg(t, args{a[0], hdr, flags})
		if err == nil {
			err = t.WriteU32(hdr+msghdrSize, uint32(got))
		}
		if err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
		if a[3]&msgWaitForOne != 0 {
			flags |= unix.MSG_DONTWAIT
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			n++
			break
		}
	}
	return uint64(n), nil
}

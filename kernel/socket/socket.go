// Package socket is the family-independent half of the kernel's sockets:
// the Socket interface every address family implements (AF_UNIX in
// kernel/socket/unixsock; an AF_INET family on a user-space TCP/IP stack
// can be added beside it), the open-file operations that make a Socket a
// descriptor (read, write, poll, fstat, FIONREAD), and the types that carry
// a message's ancillary data between the syscall layer and a family.
//
// The split follows gVisor's pkg/sentry/socket: the syscall layer
// (shim/linux/sys_socket.go) decodes guest structures (sockaddr, msghdr,
// cmsg) and calls the Socket methods; a family owns addresses, queues,
// connection state and wake-ups.
package socket

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// ERESTARTSYS is the kernel's restart errno for an interrupted wait that
// had no timeout (the caller restarts the call or fails it with EINTR).
const ERESTARTSYS = unix.Errno(512)

// Caller is who makes a socket call: the wait context of the calling
// thread and what the family needs of its process.
type Caller struct {
	// Ctx is the interruptible context of the calling thread.
	Ctx context.Context
	// PID is the caller's process id in the sandbox (its tgid).
	PID int32
	// Creds are the caller's credentials (path permissions, SO_PEERCRED,
	// SCM_CREDENTIALS checks).
	Creds *cred.Creds
	// NoFile is the caller's RLIMIT_NOFILE soft limit, which bounds the
	// descriptors in flight in SCM_RIGHTS messages (as Linux's
	// too_many_unix_fds).
	NoFile uint64
	// Umask is the caller's umask (a bound path's socket inode mode).
	Umask uint32
	// At returns where a walk of path starts (cwd or root, with the
	// caller's credentials); the caller of At releases the Loc.
	At func(path string) (vfs.Loc, error)
}

// Ucred is struct ucred: a process's pid, uid and gid as SO_PEERCRED and
// SCM_CREDENTIALS report them.
type Ucred struct {
	PID      int32
	UID, GID uint32
}

// Bytes encodes the ucred as the guest's struct ucred.
func (u Ucred) Bytes() []byte {
	b := make([]byte, 12)
	putU32(b[0:], uint32(u.PID))
	putU32(b[4:], u.UID)
	putU32(b[8:], u.GID)
	return b
}

// NoPeer is what SO_PEERCRED reports without a peer: pid 0 and the
// overflow uid and gid, as Linux's cred_to_ucred without credentials.
var NoPeer = Ucred{PID: 0, UID: 65534, GID: 65534}

// CredOf is the ucred of a caller: its real uid and gid, as Linux's
// scm_send and init_peercred record them.
func CredOf(c *Caller) Ucred {
	return Ucred{PID: c.PID, UID: c.Creds.UID, GID: c.Creds.GID}
}

// SendMsg is one send: the data, the destination (a sockaddr, nil for
// none) and the ancillary data. Rights belong to the message: Send keeps
// them on success and releases them on failure.
type SendMsg struct {
	Data     []byte
	To       []byte
	Flags    int
	Nonblock bool
	Rights   []*vfs.File
	// Creds are explicit SCM_CREDENTIALS (already checked against the
	// caller); nil means the caller's own.
	Creds *Ucred
	// Control holds the control messages of other levels than
	// SOL_SOCKET (SOL_IP, SOL_IPV6), unchecked: the family validates them.
	Control []Cmsg
}

// Cmsg is one control message of a protocol level: its cmsg_level,
// cmsg_type and payload (without header or padding).
type Cmsg struct {
	Level, Type int
	Data        []byte
}

// Release drops the references the message holds (a failed send).
func (m *SendMsg) Release() {
	for _, f := range m.Rights {
		_ = f.DecRef()
	}
	m.Rights = nil
}

// RecvMsg is one receive: the request (Max bytes, flags) and its result.
type RecvMsg struct {
	Max      int
	Flags    int
	Nonblock bool
	// Buf, if its capacity is at least Max, is where the caller wants the
	// bytes: a family may receive into it (Data is then its prefix),
	// saving an allocation and a copy per call; one that does not
	// returns Data of its own.
	Buf []byte

	Data []byte // the bytes received (at most Max)
	// Len is the call's result: len(Data), or the datagram's whole length
	// with MSG_TRUNC.
	Len    int
	From   []byte      // the sender's sockaddr (nil: unnamed)
	Rights []*vfs.File // references now owned by the receiver
	Creds  *Ucred      // SCM_CREDENTIALS to deliver (SO_PASSCRED)
	// Control is the protocol-level ancillary data (IP_PKTINFO, ...), in
	// the order Linux delivers it, after credentials and rights.
	Control  []Cmsg
	MsgFlags int // MSG_TRUNC, MSG_CTRUNC (set by the caller), MSG_EOR
}

// Socket is one socket of some family. Every method is called with guest
// values already copied in; addresses are raw sockaddr bytes, which the
// family validates.
type Socket interface {
	Family() int
	Type() int
	Protocol() int
	Bind(c *Caller, addr []byte) error
	Listen(c *Caller, backlog int) error
	// Accept returns the next connection; with nonblock it does not wait.
	Accept(c *Caller, nonblock bool) (Socket, error)
	Connect(c *Caller, addr []byte, nonblock bool) error
	Send(c *Caller, m *SendMsg) (int, error)
	Recv(c *Caller, m *RecvMsg) error
	Shutdown(how int) error
	// Name and PeerName return sockaddrs (getsockname, getpeername).
	Name() []byte
	PeerName() ([]byte, error)
	// GetSockOpt returns an option's value; SetSockOpt sets one.
	GetSockOpt(c *Caller, level, name int) ([]byte, error)
	SetSockOpt(c *Caller, level, name int, val []byte) error
	// Readiness reports poll events (POLLIN, POLLOUT, POLLRDHUP, ...).
	Readiness() int16
	// WakeCount increases whenever the readiness may have changed (an
	// edge for EPOLLET even when the bits read the same).
	WakeCount() uint64
	// Inq and Outq answer SIOCINQ (FIONREAD) and SIOCOUTQ.
	Inq() (int, error)
	Outq() (int, error)
	// Release is the last close of the socket's file.
	Release()
}

// dev is the device of socket inodes (sockfs).
var dev = vfs.NewDev()

// File is the open-file operations of a socket: read(2) and write(2) are
// recv and send without flags, fstat reports S_IFSOCK.
type File struct {
	S   Socket
	ino uint64
	// caller makes the Caller of a read or write that came without one
	// (the VFS's ReadCancel path); the kernel routes its own reads and
	// writes through Recv/Send with the real caller.
	caller func(ctx context.Context) *Caller
	// uid, gid own the socket inode: the creator's fs ids, as Linux's
	// sock_alloc (so /proc/self/fd/N of a socket is the creator's).
	uid, gid uint32
}

// NewFile wraps s as an open file (O_RDWR, O_NONBLOCK from nonblock);
// caller is used for reads and writes that reach the file through the VFS.
func NewFile(s Socket, nonblock bool, caller func(ctx context.Context) *Caller) *vfs.File {
	ops := &File{S: s, caller: caller, uid: vfs.GuestUID, gid: vfs.GuestGID}
	if c := caller(context.Background()); c != nil && c.Creds != nil {
		ops.uid, ops.gid = c.Creds.FSUID, c.Creds.FSGID
	}
	if i, ok := s.(interface{ Ino() uint64 }); ok {
		ops.ino = i.Ino() // the family's own number (/proc/net/unix shows it)
	} else {
		ops.ino = vfs.NewIno()
	}
	flags := unix.O_RDWR
	if nonblock {
		flags |= unix.O_NONBLOCK
	}
	return vfs.NewAnonFile(fmt.Sprintf("socket:[%d]", ops.ino), ops, ops, flags)
}

// Of returns the socket behind f, if it is one.
func Of(f *vfs.File) (*File, bool) {
	s, ok := f.Ops().(*File)
	return s, ok
}

// Stat reports a socket inode, as fstat does on Linux's sockfs.
func (f *File) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: dev, Ino: f.ino, Nlink: 1, Mode: unix.S_IFSOCK | 0o777, Uid: f.uid,
		Gid: f.gid, Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

// Ino is the socket's inode number (socket:[ino]).
func (f *File) Ino() uint64 { return f.ino }

// IsStream makes the file offset-less.
func (f *File) IsStream() bool { return true }

// ReadAt reads for a caller without a wait context: it never waits (a
// wait nothing could interrupt would outlive the sandbox's end).
func (f *File) ReadAt(b []byte, _ int64) (int, error) {
	return f.ReadCancel(b, unix.O_NONBLOCK, context.Background())
}

// WriteAt writes for a caller without a wait context, never waiting.
func (f *File) WriteAt(b []byte, _ int64) (int, error) {
	return f.WriteCancel(b, unix.O_NONBLOCK, context.Background())
}

// ReadCancel is recv(2) without flags.
func (f *File) ReadCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return f.Read(f.caller(ctx), b, flags&unix.O_NONBLOCK != 0)
}

// WriteCancel is send(2) without flags.
func (f *File) WriteCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return f.Write(f.caller(ctx), b, flags&unix.O_NONBLOCK != 0)
}

// Read is read(2) on the socket by c.
func (f *File) Read(c *Caller, b []byte, nonblock bool) (int, error) {
	m := RecvMsg{Max: len(b), Nonblock: nonblock, Buf: b}
	if err := f.S.Recv(c, &m); err != nil {
		return 0, err
	}
	for _, r := range m.Rights { // read(2) has nowhere to put them
		_ = r.DecRef()
	}
	if len(m.Data) > 0 && len(b) > 0 && &m.Data[0] == &b[0] {
		return len(m.Data), nil // received in place
	}
	return copy(b, m.Data), nil
}

// Write is write(2) on the socket by c.
func (f *File) Write(c *Caller, b []byte, nonblock bool) (int, error) {
	return f.S.Send(c, &SendMsg{Data: b, Nonblock: nonblock})
}

// Readiness reports the socket's poll events.
func (f *File) Readiness() int16 { return f.S.Readiness() }

// WakeCount counts the socket's wake-ups (edge-triggered epoll).
func (f *File) WakeCount() uint64 { return f.S.WakeCount() }

// Ioctl numbers sockets answer.
const (
	fionread = 0x541b // FIONREAD, SIOCINQ
	siocoutq = 0x5411 // SIOCOUTQ (TIOCOUTQ's number)
)

// Ioctl answers FIONREAD/SIOCINQ and SIOCOUTQ (EINVAL on a listener).
func (f *File) Ioctl(req uint, arg []byte) (int, error) {
	var n int
	var err error
	switch req {
	case fionread:
		n, err = f.S.Inq()
	case siocoutq:
		n, err = f.S.Outq()
	default:
		return 0, unix.ENOTTY
	}
	if err != nil {
		return 0, err
	}
	if len(arg) < 4 {
		return 0, unix.EFAULT
	}
	putU32(arg, uint32(n))
	return 0, nil
}

// Truncate is refused, as on Linux.
func (f *File) Truncate(int64) error { return unix.EINVAL }

// Sync is refused, as fsync on a socket.
func (f *File) Sync() error { return unix.EINVAL }

// Close releases the socket (the last reference to the file went).
func (f *File) Close() error {
	f.S.Release()
	return nil
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

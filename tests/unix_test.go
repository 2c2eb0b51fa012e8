package tests

// AF_UNIX sockets (issue 12, point 1; testdata/unix.c), natively and in
// the sandbox: named sockets in the guest's /tmp, abstract names, datagram
// and seqpacket boundaries, SCM_RIGHTS and SCM_CREDENTIALS between two
// processes, readiness, options and their errnos. The sockets live in
// litebox's kernel: none is a host socket.

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

var unixCases = []modeCase{
	{name: "stream", prog: "unix", args: []string{"stream", "@TMP@"}, want: unixStreamWant},
	{name: "dgram", prog: "unix", args: []string{"dgram", "@TMP@"}, want: unixDgramWant},
	{name: "seqpacket", prog: "unix", args: []string{"seqpacket", "@TMP@"}, want: unixSeqpacketWant},
	{name: "rights", prog: "unix", args: []string{"rights", "@TMP@"}, want: unixRightsWant},
	{name: "poll", prog: "unix", args: []string{"poll", "@TMP@"}, want: unixPollWant},
	{name: "opts", prog: "unix", args: []string{"opts", "@TMP@"}, want: unixOptsWant},
}

const unixStreamWant = `unbound getsockname: len 2
unbound getpeername: ENOTCONN
listen unbound: EINVAL
bind: ok
bind again: EADDRINUSE
stat: sock 1 mode 755 size 0
open: ENXIO
bind in use: EADDRINUSE
bind len 1: EINVAL
bind too long: EINVAL
bind AF_INET: EINVAL
bind missing dir: ENOENT
connect before listen: ECONNREFUSED
listen: ok
listener getsockname: len 5 (less DIR) path /s
listener getpeername: ENOTCONN
accept nothing pending: EAGAIN
accept4 bad flags: EINVAL
connect: ok
connect again: EISCONN
accept4: ok peer len 2 flags nonblock 1 cloexec 1
client getsockname: len 2
client getpeername: len 5 (less DIR)
server getsockname: len 5 (less DIR) path /s
server getpeername: len 2
client peercred: len 12 pid self 1 uid 1 gid 1
server peercred: pid self 1 uid 1
listener peercred: pid self 1 uid 1
send: 5
send: 5
recv peek: 3
recv: 10 helloworld
recv empty nonblock: EAGAIN
recv dontwait: EAGAIN
recv waitall: 6 abcdef
shutdown bad: EINVAL
shutdown wr: ok
recv after peer shut wr: 0
send after shut wr: EPIPE
shutdown rd: ok
read after own shut rd: 0
write to shut-rd peer: ok sigpipes 0
recv on listener: EINVAL
send on listener: ENOTCONN
recv after peer close: 0
send after peer close: EPIPE sigpipes 0
send nosignal after peer close: EPIPE sigpipes 1
connect stream listener from dgram: EPROTOTYPE
listen dgram: EOPNOTSUPP
accept dgram: EOPNOTSUPP
connect closed listener: ECONNREFUSED
unlink: ok
connect unlinked: ENOENT
connect regular file: ECONNREFUSED
mknod S_IFSOCK: ok
connect mknod socket: ECONNREFUSED
getpeername unconnected: ENOTCONN
send unconnected: ENOTCONN
recv unconnected: EINVAL
sendto stream: EOPNOTSUPP
bind not a socket fd: ENOTSOCK
umask 0777 bind mode 0
connect without write permission: EACCES
`

const unixDgramWant = `bind a: ok
bind b: ok
bind a again: EADDRINUSE
a getsockname: len 17
a getpeername: ENOTCONN
sendto: 3
sendto: 6
sendto empty: 0
sendto from unbound: 4
FIONREAD: 3
peek: 3 one from len 17 same 1
recv: 3 one from len 17
recvmsg short: 2 se flags trunc 1
recv MSG_TRUNC of empty: 0
recv MSG_TRUNC: 4 from len 0
recv empty: EAGAIN
send unconnected: ENOTCONN
sendto nobody: ECONNREFUSED
connect nobody: ECONNREFUSED
autobind: ok
autobind name: len 8 abstract 1
passcred sendto autobinds: len 8
from autobound: 2 from len 8
connect a->b: ok
connected a getsockname: len 17
connected a getpeername: len 17
send connected: 1
connect b->a: ok
sendto b from other while b connected to a: EPERM
datagrams queued before EAGAIN: 11 (EAGAIN)
sendto closed: ECONNREFUSED
send to closed peer: ECONNREFUSED
send again: ENOTCONN
sendto too big: EMSGSIZE
pair recv: 5
pair recv: 2
shutdown rd dgram: ok
recv after shut rd: 0
`

const unixSeqpacketWant = `socketpair seqpacket: ok
recv short: 3 fir
recvmsg short: 2 trunc 1
recv empty record: 0
recv after close: 0
send after close: EPIPE
listen seqpacket: ok
send unconnected: ENOTCONN
recv unconnected: ENOTCONN
connect stream to seqpacket: ECONNREFUSED
connect: ok
seq server getsockname: len 19
seq server getpeername: len 2
recv: 4
recv: 7
`

const unixRightsWant = `recvmsg: 1 controllen 24 level 1 type 1 len 20 flags 40000000
passed fd: fifo 1 cloexec 1
read passed pipe: 16 through the pipe
short control: 1 ctrunc 1 controllen 24 cmsg_len 24
first fd is the lowest free: 1
the others were closed: 1
creds: 1 C type 2 pid child 1 uid 1
SCM_RIGHTS bad fd: EBADF
cmsg_len past the buffer: EINVAL
cmsg_len below the header: EINVAL
unknown cmsg type: EINVAL
other level skipped: ok
huge controllen: ENOBUFS
pipe reader gone with the queue: EPIPE
peek: rights 1
recv: rights 1
no control buffer: 1 ctrunc 1
child exit 0
`

const unixPollWant = `listener idle: 0
nonblocking connects before EAGAIN: 2
listener: 1 IN 
poll listener: 1 IN 
accepted: 1 OUT 
data: 1 IN OUT 
peer shut wr: 1 IN OUT RDHUP 
peer closed: 1 IN OUT RDHUP HUP 
select: 2 r 1 w 1
poll unconnected: 1 OUT HUP 
poll pair: 1 OUT 
filled: EAGAIN, some 1
poll full: 
pending connections reset with the listener: 1
ET first connection: 1
ET drained: EAGAIN
ET refilled: 1
ET no new wake-up: 0
`

const unixOptsWant = `SO_TYPE: ok 2 len 4
SO_DOMAIN: ok 1 len 4
SO_PROTOCOL: ok 0 len 4
SO_ACCEPTCONN: ok 0 len 4
SO_ERROR: ok 0 len 4
SO_SNDBUF: ok 212992 len 4
SO_RCVBUF: ok 212992 len 4
SO_PASSCRED: ok 0 len 4
SO_REUSEADDR: ok 0 len 4
SO_SNDBUF: ok 20000 len 4
SO_SNDBUF: ok 4608 len 4
SO_RCVBUF: ok 2304 len 4
non-blocking 1 MiB send: 219264
with SO_SNDBUF 50000: 109632
SO_REUSEADDR: ok
SO_REUSEADDR: ok 1 len 4
setsockopt short: EINVAL
setsockopt negative len: EINVAL
getsockopt short: 2 len 2
getsockopt negative len: EINVAL
getsockopt SOL_TCP: EOPNOTSUPP
getsockopt unknown: ENOPROTOOPT
SO_REUSEPORT: EOPNOTSUPP
SO_RCVTIMEO: ok
SO_RCVTIMEO bad usec: EDOM
SO_RCVTIMEO short: EINVAL
SO_RCVTIMEO: 0.200000 len 16
recv with timeout: EAGAIN
FIONREAD stream: 5
SIOCINQ stream: 5
FIONREAD seqpacket: 5
SIOCOUTQ drained: 0
SO_ACCEPTCONN listener: 1
FIONREAD listener: EINVAL
socket bad type: ESOCKTNOSUPPORT
socket bad proto: EPROTONOSUPPORT
socket bad flags: EINVAL
SOCK_RAW is type 2
socket family 200: EAFNOSUPPORT
socketpair bad type: ESOCKTNOSUPPORT
getsockname not a socket: ENOTSOCK
getsockname bad fd: EBADF
fstat: sock 1
lseek: ESPIPE
`

func TestUnixSockets(t *testing.T) { runModeCases(t, unixCases) }

// TestUnixBindHostfs: binding a path in a host directory, even a :rw
// mount, makes no host socket file (docs/SECURITY.md, "AF_UNIX sockets"):
// EPERM and nothing appears on the host; a read-only mount is EROFS;
// /tmp (memfs) works.
func TestUnixBindHostfs(t *testing.T) {
	program(t, "unix", staticVariant)
	host := t.TempDir()
	g := harness.Guest{Mounts: []string{workMount(staticVariant), host + ":/data:rw"}}
	for dir, want := range map[string]string{
		"/data": "bind: EPERM\nstat: ENOENT\n",
		"/usr":  "bind: EROFS\nstat: ENOENT\n",
		"/tmp":  "bind: ok\nstat: ok\n",
	} {
		got := runGuest(t, g, nil, "/work/unix", "bindat", dir)
		checkExitedNormally(t, got)
		checkResult(t, got, harness.Result{Stdout: []byte(want)}, true)
	}
	if _, err := os.Lstat(filepath.Join(host, "s")); !os.IsNotExist(err) {
		t.Errorf("the guest's bind made %s on the host (%v)", filepath.Join(host, "s"), err)
	}
}

// TestUnixPython: Python's socketserver (stream and datagram),
// multiprocessing.connection's Listener and Client between two processes,
// socket.send_fds/recv_fds, a multiprocessing Manager, asyncio's unix
// server and an abstract seqpacket socket (testdata/python/unix_sockets.py),
// with the native run's output.
func TestUnixPython(t *testing.T) {
	t.Parallel()
	script := filepath.Join(moduleRoot, "testdata", "python", "unix_sockets.py")
	native := runNative(t, "", nil, nil, pythonPath, script, t.TempDir())
	if native.ExitCode != 0 {
		t.Fatalf("native run failed:\n%s", native)
	}
	g := harness.Guest{Mounts: []string{filepath.Dir(script) + ":" + pyGuestDir + ":ro"}}
	got := runGuest(t, g, nil, pythonPath, pyGuestDir+"/unix_sockets.py", "/tmp")
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
}

// TestUnixGo: a static Go program (built here with CGO_ENABLED=0) using
// net.Listen("unix") with concurrent net.Dial clients, unixgram,
// unixpacket on an abstract name and descriptor passing
// (testdata/gounix), with the native run's output.
func TestUnixGo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gounix")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/gounix")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	native := runNative(t, "", nil, nil, bin, t.TempDir())
	if native.ExitCode != 0 {
		t.Fatalf("native run failed:\n%s", native)
	}
	g := harness.Guest{Mounts: []string{dir + ":/gobin:ro"}}
	got := runGuest(t, g, nil, "/gobin/gounix", "/tmp")
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
}

// TestProcNetUnix: /proc/net/unix lists the sandbox's own sockets in
// Linux's format (a listener with __SO_ACCEPTCON, an abstract name with
// '@', connected pairs in state 03), with the inode numbers fstat shows;
// no host socket appears (the host always has some, e.g. this test's
// litebox has none, but the machine's do).
func TestProcNetUnix(t *testing.T) {
	t.Parallel()
	script := `import socket, os
s = socket.socket(socket.AF_UNIX); s.bind("/tmp/x.sock"); s.listen()
a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); a.bind("\0lbt-abs")
c = socket.socket(socket.AF_UNIX); c.connect("/tmp/x.sock")
lines = open("/proc/net/unix").read().splitlines()
print(lines[0])
for sock in (s, a, c):
    ino = os.fstat(sock.fileno()).st_ino
    print([l.split()[1:6] + l.split()[7:] for l in lines[1:] if int(l.split()[6]) == ino])
print(len(lines) - 1)
`
	got := runGuest(t, harness.Guest{}, nil, pythonPath, "-c", script)
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(`Num       RefCount Protocol Flags    Type St Inode Path
[['00000002', '00000000', '00010000', '0001', '01', '/tmp/x.sock']]
[['00000002', '00000000', '00000000', '0002', '01', '@lbt-abs']]
[['00000003', '00000000', '00000000', '0001', '03']]
4
`)}, true)
}

package tests

// AF_INET and AF_INET6 sockets (issue 12, point 2; testdata/inet.c) on
// the loopback, natively and in the sandbox: TCP between processes, UDP,
// non-blocking connects with poll and epoll, errnos, dual-stack, options.
// The sandbox's sockets live on litebox's own TCP/IP stack (netstack):
// none is a host socket.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

var inetCases = []modeCase{
	{name: "tcp", prog: "inet", args: []string{"tcp"}, want: inetTcpWant},
	{name: "udp", prog: "inet", args: []string{"udp"}, want: inetUdpWant},
	{name: "nonblock", prog: "inet", args: []string{"nonblock"}, want: inetNonblockWant},
	{name: "errors", prog: "inet", args: []string{"errors"}, want: inetErrorsWant},
	{name: "v6only", prog: "inet", args: []string{"v6only"}, want: inetV6onlyWant},
	{name: "opts", prog: "inet", args: []string{"opts"}, want: inetOptsWant},
	{name: "states", prog: "inet", args: []string{"states"}, want: inetStatesWant},
	{name: "signals", prog: "inet", args: []string{"signals"}, want: inetSignalsWant},
	{name: "mmsg", prog: "inet", args: []string{"mmsg"}, want: inetMmsgWant},
	{name: "limits", prog: "inet", args: []string{"limits"}, want: "setrlimit: ok\nlast fd 63, then EMFILE\n"},
	{name: "raw", prog: "inet", args: []string{"raw"}, want: inetRawWant},
	{name: "udplite", prog: "inet", args: []string{"udplite"}, want: inetUdpliteWant},
	{name: "reconnect", prog: "inet", args: []string{"reconnect"}, want: inetReconnectWant},
	{name: "cmsg", prog: "inet_cmsg", want: inetCmsgWant},
}

// inetCmsgWant is Linux's ancillary data on loopback UDP
// (testdata/inet_cmsg.c): the receive options, the control messages in
// order with their lengths and values, MSG_CTRUNC as put_cmsg cuts, and
// the sendmsg control messages checked (EINVAL) or applied.
const inetCmsgWant = `[ipv4]
getsockopt IP_PKTINFO before: 0 0
no options: sendmsg 2
  recvmsg 2 controllen 0 ctrunc 0
setsockopt IP_PKTINFO: 0
setsockopt IP_RECVTTL: 0
setsockopt IP_RECVTOS: 0
getsockopt IP_PKTINFO: 0 1
getsockopt IP_RECVTTL: 0 1
getsockopt IP_RECVTOS: 0 1
setsockopt IP_TOS 0x20: 0
all three: sendmsg 2
  recvmsg 2 controllen 80 ctrunc 0
  cmsg level 0 type 8 len 28: ifindex 1 spec_dst 127.0.0.1 addr 127.0.0.1
  cmsg level 0 type 2 len 20: int 64
  cmsg level 0 type 1 len 17: 20
control 40 bytes: sendmsg 2
  recvmsg 2 controllen 32 ctrunc 1
  cmsg level 0 type 8 len 28: ifindex 1 spec_dst 127.0.0.1 addr 127.0.0.1
control 20 bytes: sendmsg 2
  recvmsg 2 controllen 20 ctrunc 1
  cmsg level 0 type 8 len 20: int 1
control 8 bytes: sendmsg 2
  recvmsg 2 controllen 0 ctrunc 1
no control buffer: sendmsg 2
  recvmsg 2 controllen 0 ctrunc 1
IP_TTL cmsg 7: sendmsg 2
  recvmsg 2 controllen 80 ctrunc 0
  cmsg level 0 type 8 len 28: ifindex 1 spec_dst 127.0.0.1 addr 127.0.0.1
  cmsg level 0 type 2 len 20: int 7
  cmsg level 0 type 1 len 17: 20
IP_TTL cmsg 0: sendmsg EINVAL
IP_TTL cmsg 256: sendmsg EINVAL
IP_TTL cmsg short: sendmsg EINVAL
[ipv6]
getsockopt IPV6_RECVHOPLIMIT before: 0 0
setsockopt IPV6_RECVPKTINFO: 0
setsockopt IPV6_RECVHOPLIMIT: 0
setsockopt IPV6_RECVTCLASS: 0
getsockopt IPV6_RECVPKTINFO: 0 1
getsockopt IPV6_RECVHOPLIMIT: 0 1
getsockopt IPV6_RECVTCLASS: 0 1
all three: sendmsg 2
  recvmsg 2 controllen 88 ctrunc 0
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
  cmsg level 41 type 52 len 20: int 64
  cmsg level 41 type 67 len 20: int 0
setsockopt IPV6_TCLASS 0x28: 0
getsockopt IPV6_TCLASS: 0 40
tclass set: sendmsg 2
  recvmsg 2 controllen 88 ctrunc 0
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
  cmsg level 41 type 52 len 20: int 64
  cmsg level 41 type 67 len 20: int 40
control 40 bytes: sendmsg 2
  recvmsg 2 controllen 40 ctrunc 1
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
control 50 bytes: sendmsg 2
  recvmsg 2 controllen 40 ctrunc 1
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
IPV6_HOPLIMIT cmsg 9: sendmsg 2
  recvmsg 2 controllen 88 ctrunc 0
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
  cmsg level 41 type 52 len 20: int 9
  cmsg level 41 type 67 len 20: int 40
IPV6_HOPLIMIT cmsg -1: sendmsg 2
  recvmsg 2 controllen 88 ctrunc 0
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
  cmsg level 41 type 52 len 20: int 64
  cmsg level 41 type 67 len 20: int 40
IPV6_HOPLIMIT cmsg 255: sendmsg 2
  recvmsg 2 controllen 88 ctrunc 0
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
  cmsg level 41 type 52 len 20: int 255
  cmsg level 41 type 67 len 20: int 40
IPV6_HOPLIMIT cmsg 256: sendmsg EINVAL
IPV6_HOPLIMIT cmsg -2: sendmsg EINVAL
IPV6_TCLASS cmsg 256: sendmsg EINVAL
IPV6_TCLASS cmsg -2: sendmsg EINVAL
IPV6_HOPLIMIT cmsg short: sendmsg EINVAL
IPV6_PKTINFO cmsg ::1: sendmsg 2
  recvmsg 2 controllen 88 ctrunc 0
  cmsg level 41 type 50 len 36: addr ::1 ifindex 1
  cmsg level 41 type 52 len 20: int 64
  cmsg level 41 type 67 len 20: int 40
`

// inetReconnectWant is Linux letting a TCP socket whose connect was
// refused connect again (non-blocking and blocking, options and a bound
// address kept).
const inetReconnectWant = `connect (not listening): EINPROGRESS
connect again: ECONNREFUSED
connect after listen: EINPROGRESS
SO_ERROR: 0
TCP_NODELAY kept: 1
accepted: ok
send: 2
recv: 2 hi
bind 127.0.0.3: ok
blocking connect: ECONNREFUSED
SO_ERROR after it: 0
connect after listen: ok
local address: 127.0.0.3
`

// inetUdpliteWant is Linux's UDP-Lite on the loopback (RFC 3828 sockets,
// their coverage options and drops).
const inetUdpliteWant = `[ipv4]
socket: ok
bind a: ok
a name: len 16 family 2 addr 127.0.0.1 port set
SO_PROTOCOL: 136
bind udp to the UDP-Lite port: ok
bind UDP-Lite to it again: EADDRINUSE
sendto: 4
sendto: 6
udp socket got nothing: EAGAIN
poll: 1 revents 0x1
FIONREAD: 4
peek: 4 lite from len 16 same port 1
recv: 4 lite
recv MSG_TRUNC: 6
recv nothing: EAGAIN
SEND_CSCOV set 0: ok get ok 0 len 4
SEND_CSCOV set 3: ok get ok 8 len 4
SEND_CSCOV set -5: ok get ok 8 len 4
SEND_CSCOV set 100000: ok get ok 65535 len 4
RECV_CSCOV set 20: ok get ok 20 len 4
RECV_CSCOV set 0: ok get ok 0 len 4
setsockopt short: EINVAL
setsockopt unknown: ENOPROTOOPT
SEND_CSCOV on udp: ENOPROTOOPT
getsockopt SEND_CSCOV on udp: ok
receiver RECV_CSCOV set 20: ok get ok 20 len 4
sender SEND_CSCOV set 12: ok get ok 12 len 4
send covered 12: 30
sender SEND_CSCOV set 30: ok get ok 30 len 4
send covered 30: 30
sender SEND_CSCOV set 0: ok get ok 0 len 4
send full: 4
sender SEND_CSCOV set 9: ok get ok 9 len 4
send short, coverage above its length: 1
recv 0: 30 covered thirty
recv 1: 4 full
recv 2: 1 x
recv 3: EAGAIN
receiver RECV_CSCOV set 0: ok get ok 0 len 4
sender SEND_CSCOV set 30: ok get ok 30 len 4
send partial: 40
recv partial with RECV_CSCOV 0: EAGAIN
connect b->a: ok
b peer: len 16 family 2 addr 127.0.0.1 port set
send connected: 4
recv connected: 4
shutdown a SHUT_RD: ENOTCONN
recv after SHUT_RD: 0
recv with SO_RCVTIMEO: EAGAIN
[ipv6]
socket: ok
bind a: ok
a name: len 28 family 10 addr ::1 port set
SO_PROTOCOL: 136
bind udp to the UDP-Lite port: ok
bind UDP-Lite to it again: EADDRINUSE
sendto: 4
sendto: 6
udp socket got nothing: EAGAIN
poll: 1 revents 0x1
FIONREAD: 4
peek: 4 lite from len 28 same port 1
recv: 4 lite
recv MSG_TRUNC: 6
recv nothing: EAGAIN
SEND_CSCOV set 0: ok get ok 0 len 4
SEND_CSCOV set 3: ok get ok 8 len 4
SEND_CSCOV set -5: ok get ok 8 len 4
SEND_CSCOV set 100000: ok get ok 65535 len 4
RECV_CSCOV set 20: ok get ok 20 len 4
RECV_CSCOV set 0: ok get ok 0 len 4
setsockopt short: EINVAL
setsockopt unknown: ENOPROTOOPT
SEND_CSCOV on udp: ENOPROTOOPT
getsockopt SEND_CSCOV on udp: ok
receiver RECV_CSCOV set 20: ok get ok 20 len 4
sender SEND_CSCOV set 12: ok get ok 12 len 4
send covered 12: 30
sender SEND_CSCOV set 30: ok get ok 30 len 4
send covered 30: 30
sender SEND_CSCOV set 0: ok get ok 0 len 4
send full: 4
sender SEND_CSCOV set 9: ok get ok 9 len 4
send short, coverage above its length: 1
recv 0: 30 covered thirty
recv 1: 4 full
recv 2: 1 x
recv 3: EAGAIN
receiver RECV_CSCOV set 0: ok get ok 0 len 4
sender SEND_CSCOV set 30: ok get ok 30 len 4
send partial: 40
recv partial with RECV_CSCOV 0: EAGAIN
connect b->a: ok
b peer: len 28 family 10 addr ::1 port set
send connected: 4
recv connected: 4
shutdown a SHUT_RD: ENOTCONN
recv after SHUT_RD: 0
recv with SO_RCVTIMEO: EAGAIN
SOCK_STREAM UDPLITE: EPROTONOSUPPORT
`

const inetTcpWant = `[ipv4]
listener name: len 16 family 2 addr 127.0.0.1 port set
listener peer: ENOTCONN
client name: len 16 family 2 addr 127.0.0.1 port set
client peer: len 16 family 2 addr 127.0.0.1 port set
client peer port is the listener's: 1
echoed 1048576 bytes, same 1
recv after the echo's EOF: 0
server exit 0
send: 5
send: 5
FIONREAD: 10
peek: 3 hel
recv waitall: 10 helloworld
recv dontwait: EAGAIN
recv waitall across sends: 6 abcdef
shutdown bad: EINVAL
shutdown wr: ok
recv after peer shut wr: 0
send after shut wr: EPIPE
peer still sends: 4
recv on the half-closed side: 4
[ipv6]
listener name: len 28 family 10 addr ::1 port set
listener peer: ENOTCONN
client name: len 28 family 10 addr ::1 port set
client peer: len 28 family 10 addr ::1 port set
client peer port is the listener's: 1
echoed 1048576 bytes, same 1
recv after the echo's EOF: 0
server exit 0
send: 5
send: 5
FIONREAD: 10
peek: 3 hel
recv waitall: 10 helloworld
recv dontwait: EAGAIN
recv waitall across sends: 6 abcdef
shutdown bad: EINVAL
shutdown wr: ok
recv after peer shut wr: 0
send after shut wr: EPIPE
peer still sends: 4
recv on the half-closed side: 4
`

const inetUdpWant = `bind a: ok
unbound b name: len 16 family 2 addr 0.0.0.0 port 0
a peer: ENOTCONN
sendto: 3
sendto: 6
sendto empty: 0
b name after sendto: len 16 family 2 addr 0.0.0.0 port set
FIONREAD: 3
peek: 3 one from len 16 same port 1
recv: 3 one
recvmsg short: 2 se trunc 1
recv empty datagram: 0
recv nothing: EAGAIN
recv MSG_TRUNC: 8
sendto AF_UNSPEC addr: 1
recv it: 1
send unconnected: EDESTADDRREQ
connect a->b: ok
connected a peer: len 16 family 2 addr 127.0.0.1 port set
send connected: 2
b got: 2 hi
connect AF_UNSPEC: ok
disconnected a peer: ENOTCONN
sendto short addr: EINVAL
sendto v6 addr on v4: EAFNOSUPPORT
listen udp: EOPNOTSUPP
accept udp: EOPNOTSUPP
recv after port unreachable: ECONNREFUSED
bind v6: ok
sendto v6: 3
recvfrom v6: 3 six from len 28 ::1
`

const inetNonblockWant = `accept nothing pending: EAGAIN
poll idle listener: 0
nonblocking connect: EINPROGRESS
poll connect: 1 OUT 
SO_ERROR: 0
connect again: ok
connect once more: EISCONN
poll listener: 1 IN 
accept4: ok nonblock 1 cloexec 1
accept4 bad flags: EINVAL
recv empty nonblock: EAGAIN
epoll idle: 0
epoll data: 1 IN 
epoll ET again: 0
recv: 4
recv drained: EAGAIN
poll connected: OUT 
poll peer shut wr: IN OUT RDHUP 
filled: EAGAIN, some 1
refused nonblocking connect: EINPROGRESS
poll refused: OUT ERR HUP 
SO_ERROR: ECONNREFUSED
SO_ERROR again: 0
`

const inetErrorsWant = `bind: ok
bind again: EINVAL
connect to a bound port without a listener: ECONNREFUSED
bind in use: EADDRINUSE
bind AF_INET6 addr on AF_INET: EAFNOSUPPORT
bind short: EINVAL
bind AF_UNSPEC any: EAFNOSUPPORT
bind a foreign address: EADDRNOTAVAIL
connect short: EINVAL
connect bad family: EAFNOSUPPORT
recv unconnected: ENOTCONN
send unconnected: EPIPE
sigpipes 1
getpeername unconnected: ENOTCONN
shutdown unconnected: ENOTCONN
accept unlistened: EINVAL
bind v4 addr on AF_INET6: EINVAL
bind short v6: EINVAL
socket bad type: ESOCKTNOSUPPORT
socket stream udp: EPROTONOSUPPORT
socket dgram tcp: EPROTONOSUPPORT
socketpair inet: EOPNOTSUPP
listen: ok
connect: ok
connect again: EISCONN
recv after peer close: 0
send nosignal after reset: EPIPE
sigpipes 0
send after reset: EPIPE
sigpipes 1
recv after the peer closed with unread data: ECONNRESET
SO_LINGER 0: ok
recv after a lingering-0 close: ECONNRESET
listen after close: EBADF
`

const inetV6onlyWant = `IPV6_V6ONLY default: 0
bind ::: ok
IPV6_V6ONLY after bind: EINVAL
listen: ok
v4 client accepted on [::]: ok len 28 family 10 ::ffff:127.0.0.1
accepted name: len 28 family 10 addr ::ffff:127.0.0.1 port set
connect v4-mapped: ok
v4-mapped client peer: len 28 family 10 addr ::ffff:127.0.0.1 port set
v4-mapped client name: len 28 family 10 addr ::ffff:127.0.0.1 port set
IPV6_V6ONLY: ok
IPV6_V6ONLY: 1
v4 connect to a v6-only listener: ECONNREFUSED
v6 connect to it: ok
v6-only connect to v4-mapped: ENETUNREACH
IPV6_V6ONLY on AF_INET: ENOPROTOOPT
`

const inetOptsWant = `tcp SO_TYPE: 1 len 4
tcp SO_DOMAIN: 2 len 4
tcp SO_PROTOCOL: 6 len 4
udp6 SO_TYPE: 2 len 4
udp6 SO_DOMAIN: 10 len 4
udp6 SO_PROTOCOL: 17 len 4
SO_ACCEPTCONN: 0 len 4
SO_ERROR: 0 len 4
tcp SO_SNDBUF: 16384 len 4
tcp SO_RCVBUF: 131072 len 4
udp SO_SNDBUF: 212992 len 4
udp SO_RCVBUF: 212992 len 4
set SO_SNDBUF 10000: ok
SO_SNDBUF: 20000 len 4
set SO_RCVBUF 100: ok
SO_RCVBUF: 2304 len 4
set SO_SNDBUF 1: ok
SO_SNDBUF: 4608 len 4
SO_REUSEADDR: 0 len 4
set SO_REUSEADDR 1: ok
SO_REUSEADDR: 1 len 4
SO_REUSEPORT: 0 len 4
set SO_REUSEPORT 1: ok
SO_REUSEPORT: 1 len 4
SO_KEEPALIVE: 0 len 4
set SO_KEEPALIVE 1: ok
SO_KEEPALIVE: 1 len 4
SO_BROADCAST: 0 len 4
set SO_BROADCAST 1: ok
SO_BROADCAST: 1 len 4
SO_OOBINLINE: 0 len 4
set SO_OOBINLINE 1: ok
SO_OOBINLINE: 1 len 4
TCP_NODELAY: 0 len 4
set TCP_NODELAY 1: ok
TCP_NODELAY: 1 len 4
TCP_CORK: 0 len 4
set TCP_CORK 1: ok
TCP_CORK: 1 len 4
set TCP_KEEPIDLE 30: ok
TCP_KEEPIDLE: 30 len 4
set TCP_KEEPIDLE 0: EINVAL
set TCP_KEEPINTVL 5: ok
TCP_KEEPINTVL: 5 len 4
set TCP_KEEPINTVL 40000: EINVAL
set TCP_KEEPCNT 4: ok
TCP_KEEPCNT: 4 len 4
set TCP_KEEPCNT 200: EINVAL
set TCP_USER_TIMEOUT 1500: ok
TCP_USER_TIMEOUT: 1500 len 4
set TCP_USER_TIMEOUT -1: EINVAL
IP_TTL: 64 len 4
set IP_TTL 7: ok
IP_TTL: 7 len 4
set IP_TTL 256: EINVAL
set IP_TTL -1: ok
IP_TTL: 64 len 4
IP_TOS: 0 len 4
set IP_TOS 16: ok
IP_TOS: 16 len 4
IPV6_UNICAST_HOPS: 64 len 4
set IPV6_UNICAST_HOPS 9: ok
IPV6_UNICAST_HOPS: 9 len 4
set IPV6_UNICAST_HOPS 300: EINVAL
TCP_NODELAY on udp: ENOPROTOOPT
set TCP_NODELAY on udp 1: ENOPROTOOPT
unknown SOL_SOCKET option: ENOPROTOOPT
set unknown SOL_SOCKET option 1: ENOPROTOOPT
unknown SOL_TCP option: ENOPROTOOPT
SO_LINGER: 0 0 len 8
set SO_LINGER: ok
SO_LINGER: 1 5 len 8
set SO_LINGER short: EINVAL
setsockopt short: EINVAL
SO_RCVTIMEO: ok
SO_RCVTIMEO: 0.200000 len 16
recv with timeout: EAGAIN
waited about the timeout: 1
TCP_INFO listener state: 10
SO_ACCEPTCONN listener: 1 len 4
FIONREAD listener: EINVAL
TCP_INFO unconnected state: 7
TCP_INFO connected state: 1
SIOCINQ: 5
SIOCOUTQ udp: 0
TCP_INFO after the peer closed: 7
`

const inetRawWant = `SOCK_RAW icmp: EPERM
SOCK_RAW tcp: EPERM
SOCK_RAW v6: EPERM
`

const inetStatesWant = `fresh tcp: 0x14
fresh udp: 0x4
bound tcp: 0x14
listening: 0
connected: 0x4
own shut rd: 0x2005
own shut rdwr: 0x2015
peer after shut rdwr: 0x2005
after peer close: 0x2015
after reset: 0x201d
recv after reset: 1 0
after reset read: 0x201d
recv again: -1 0
after the reset was reported: 0x2015
rebind without SO_REUSEADDR: EADDRINUSE
rebind with SO_REUSEADDR: EADDRINUSE
listen: ok
`

const inetMmsgWant = `sendmmsg: 3 lens 5 2 19
recvmmsg: 3
  5 alpha trunc 0 namelen 16 same port 1
  2 be trunc 0 namelen 16 same port 1
  8 gamma-lo trunc 1 namelen 16 same port 1
recvmmsg empty: EAGAIN
recvmmsg timeout after one: 1
sendmmsg bad fd: EBADF
`

const inetSignalsWant = `recv interrupted: EINTR
recv restarted: 4
recv with SO_RCVTIMEO interrupted under SA_RESTART: EINTR
alarms 3
accept interrupted: EINTR
send interrupted: partial 1
alarms 5
`

func TestInetSockets(t *testing.T) { runModeCases(t, inetCases) }

// inetPingWant is a ping socket's echo on 127.0.0.1 as Linux gives it to
// a member of net.ipv4.ping_group_range.
const inetPingWant = `ping socket: ok
sendto echo: 12
poll: 1
reply: 12 type 0 seq 1 data ping from 127.0.0.1
SO_PROTOCOL: 1 len 4
sendto echo6: 12
poll: 1
reply6: 12 type 129 seq 2 data six!
`

// TestInetPing: ICMP echo "ping sockets" on 127.0.0.1 and ::1 work in the sandbox, whose
// ping_group_range admits every group. Natively the machine's range
// decides: when it admits the test's group the outputs must be the same;
// when it does not (Linux's default "1 0"), the native run must show the
// refusal and the guest the echo.
func TestInetPing(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "inet", v)
			native := runNative(t, "", nil, nil, bin, "ping")
			g := harness.Guest{Mounts: []string{workMount(v)}}
			got := runGuest(t, g, nil, "/work/inet", "ping")
			checkExitedNormally(t, got)
			if bytes.Equal(native.Stdout, []byte("ping socket: EACCES\n")) {
				t.Logf("natively refused by net.ipv4.ping_group_range; checking the guest against Linux's echo")
				checkResult(t, got, harness.Result{Stdout: []byte(inetPingWant)}, true)
				return
			}
			checkResult(t, native, harness.Result{Stdout: []byte(inetPingWant)}, true)
			checkResult(t, got, native, true)
		})
	}
}

// TestInetPythonHTTP: `python3 -m http.server` on 127.0.0.1 and on ::1
// and a urllib client in the same sandbox (testdata/python/inet_http.py):
// files, a listing, a 404, HEAD and POST get the same bytes as natively.
func TestInetPythonHTTP(t *testing.T) {
	t.Parallel()
	script := filepath.Join(moduleRoot, "testdata", "python", "inet_http.py")
	native := runNative(t, "", nil, nil, pythonPath, script, t.TempDir())
	if native.ExitCode != 0 {
		t.Fatalf("native run failed:\n%s", native)
	}
	g := harness.Guest{Mounts: []string{filepath.Dir(script) + ":" + pyGuestDir + ":ro"}}
	got := runGuest(t, g, nil, pythonPath, pyGuestDir+"/inet_http.py", "/tmp/www")
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
}

// TestInetGo: a static Go program (testdata/goinet, CGO_ENABLED=0) using
// net.Listen on 127.0.0.1:0, [::1]:0 and [::]:0 with concurrent clients,
// deadlines, a refused dial and UDP over both families, with the native
// run's output.
func TestInetGo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "goinet")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/goinet")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	native := runNative(t, "", nil, nil, bin)
	if native.ExitCode != 0 {
		t.Fatalf("native run failed:\n%s", native)
	}
	g := harness.Guest{Mounts: []string{dir + ":/gobin:ro"}}
	got := runGuest(t, g, nil, "/gobin/goinet")
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
}

// TestInetSocketBudget: each Internet socket is charged to --memory with
// its buffers (docs/SECURITY.md, "Kernel allocations"): under 64 MiB a
// guest opening TCP sockets gets ENOBUFS long before its 1024
// descriptors, and once it closes them the memory is back (a socket and
// a connection work again).
func TestInetSocketBudget(t *testing.T) {
	t.Parallel()
	program(t, "inet", staticVariant)
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--memory", "64M"}}
	got := runGuest(t, g, nil, "/work/inet", "budget")
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(`sockets: ENOBUFS after at least 10
socket after closing them: ok
a connection still works: 1
`)}, true)
}

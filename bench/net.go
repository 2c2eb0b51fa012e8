package bench

// The network measurements: TCP throughput with iperf3 inside one sandbox
// (on its loopback interface) and from a sandbox to a server on the host,
// requests per second of an HTTP server in a sandbox, published on a host
// port and loaded by wrk from the host, and the rate of TCP connection
// set-ups on a sandbox's loopback interface (testdata/bench_connect.c).
//
// Each system reaches the host and is reached from it in its own way
// (netSetup): natively everything is on the host's 127.0.0.1; litebox dials
// the host through its gateway address 10.0.2.2 with --net egress --allow
// and publishes a guest port with -p; gVisor uses its own TCP/IP stack
// (netstack, `--network=sandbox`) behind the veth pair that `runsc do`
// creates, and bubblewrap shares the host's network namespace
// (--share-net). A system that lacks what a row needs reports the row as
// "unavailable: REASON" (RowUnavailable) instead of failing it.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// Defaults of the network measurements' sizes, short so that the four rows
// take well under two minutes on five systems with the default rounds.
const (
	// IperfSeconds is how long each iperf3 client sends and measures (-t),
	// after IperfOmitSeconds of warm-up.
	IperfSeconds = 1
	// IperfOmitSeconds is the warm-up at the start of each iperf3 run that
	// the result leaves out (-O): gVisor's netstack, for one, takes a
	// second or more to open its windows, and the rows compare steady
	// states.
	IperfOmitSeconds = 1
	// WrkSeconds is how long wrk loads the HTTP server (-d).
	WrkSeconds = 1
	// WrkConnections is how many connections wrk keeps open (-c), all on
	// one thread (-t1).
	WrkConnections = 8
	// ConnectIterations is the number of connections bench_connect sets
	// up and tears down in the connection-rate measurement.
	ConnectIterations = 1000
)

// Host programs of the network measurements (Debian's iperf3, wrk and
// busybox-static packages). iperf3 and busybox run in the sandboxes too,
// so they must be at a path every sandbox sees (under /usr).
const (
	Iperf3Path  = "/usr/bin/iperf3"
	WrkPath     = "/usr/bin/wrk"
	BusyboxPath = "/usr/bin/busybox"
)

// LiteboxGateway is the address at which a litebox guest with --net egress
// reaches the host's loopback interface (10.0.2.2:P is the host's
// 127.0.0.1:P, when --allow lets it).
const LiteboxGateway = "10.0.2.2"

// GVisorGuestIP is the address `runsc do --network=sandbox` gives the
// sandbox's end of its veth pair (passed explicitly with --ip); the host
// reaches a server of the sandbox there. The sandbox's default gateway,
// the host's end, is read from the sandbox's /proc/net/route by the probe.
const GVisorGuestIP = "192.168.10.2"

// httpFile is the file the HTTP server serves: 1 KiB, so that the row
// measures requests, not bandwidth.
const (
	httpFile     = "index.html"
	httpFileSize = 1024
)

// netMode is what a workload needs from a system's network.
type netMode int

const (
	// netLoopback: only the sandbox's own loopback interface.
	netLoopback netMode = iota
	// netEgress: a connection from the sandbox to a TCP port of the host.
	netEgress
	// netPublish: a connection from the host to a TCP port of the sandbox.
	netPublish
)

// netSetup is how one system runs a network workload.
type netSetup struct {
	// prefix is the command line the program is appended to; nil natively.
	prefix []string
	// dial is the address at which the program reaches the host's
	// listener (netEgress); hostBind the address that listener binds.
	dial, hostBind string
	// guestBind is the address the program's server binds (netPublish);
	// target the host:port, without the port, wrk loads; publish says
	// whether the guest's port is forwarded from another host port.
	guestBind, target string
	publish           bool
}

// gvisorNet is the outcome of probing gVisor's sandbox network, done once.
type gvisorNet struct {
	once        sync.Once
	prefix      []string // the command line, with the PROGRAM to append
	gateway     string   // the host's address as the sandbox sees it
	note        string   // how the network was set up, for the report
	unavailable string
}

// netProbe caches one system's answer to whether it can run a network mode.
type netProbe struct {
	once   sync.Once
	reason string
}

// netState holds the network probes of an Env.
type netState struct {
	mu     sync.Mutex
	probes map[string]*netProbe
	gvisor gvisorNet
	www    string // the directory of the HTTP server's file, "" until made
}

// GVisorNetNote describes how the gVisor column's network rows reaching
// the host run, once a network row has probed it ("" before).
func (e *Env) GVisorNetNote() string {
	g := &e.net.gvisor
	if g.prefix == nil && g.unavailable == "" {
		return ""
	}
	if g.unavailable != "" {
		return g.unavailable
	}
	return g.note
}

// mountWorkaround is the shell script that starts runsc in a private mount
// namespace where /proc/sys/net is an almost empty tmpfs. runsc of 2022
// (Debian 12's) decides whether it is about to run in the host's root
// network namespace by testing for /proc/sys/net/core/rmem_default, which
// Linux 6.x shows in every network namespace; it then refuses to start its
// sandbox network. Hiding the file makes the check see the namespace that
// `runsc do` created for the sandbox as what it is. The only other use
// runsc makes of /proc/sys/net is `sysctl -w net.ipv4.ip_forward=1`, which
// the tmpfs's ipv4/ip_forward file absorbs (the host's setting is left as
// it is).
const mountWorkaround = `mount -t tmpfs -o size=16k,mode=0755 litebox-bench /proc/sys/net &&
mkdir /proc/sys/net/ipv4 && echo 1 >/proc/sys/net/ipv4/ip_forward && exec "$@"`

// probeGVisorNet finds a command line on which gVisor runs a program with
// its sandbox network and reads the sandbox's gateway.
func (e *Env) probeGVisorNet(gv *System) {
	g := &e.net.gvisor
	g.once.Do(func() {
		if gv.Unavailable != "" {
			g.unavailable = gv.Unavailable
			return
		}
		// The gvisor column's command, with the sandbox network instead of
		// --network=none.
		var plain []string
		for _, a := range gv.Command {
			if a == "--network=none" {
				a = "--network=sandbox"
			}
			plain = append(plain, a)
		}
		plain = append(plain, "--ip="+GVisorGuestIP)
		workaround := append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", mountWorkaround, "sh"}, plain...)
		var first error
		for i, prefix := range [][]string{plain, workaround} {
			if i == 1 && os.Geteuid() != 0 {
				break // unshare --mount needs root, as runsc's own network set-up does
			}
			res := harness.Run(harness.Cmd{Argv: append(append([]string(nil), prefix...), "/bin/cat", "/proc/net/route"),
				Env: netEnv(), Dir: os.TempDir(), Timeout: probeTimeout})
			var gw string
			err := runError(res)
			if err == nil {
				gw, err = defaultGateway(res.Stdout)
			}
			if err == nil {
				g.prefix, g.gateway = prefix, gw
				g.note = "network rows reaching the host: `" + strings.Join(plain, " ") +
					" PROGRAM` (gVisor's netstack behind a veth pair; the host is " + gw + ", the sandbox " + GVisorGuestIP + ")"
				if i == 1 {
					g.note += ", started in a mount namespace hiding /proc/sys/net from runsc (its root-namespace check misfires on Linux 6.x)"
				}
				return
			}
			if first == nil {
				first = err
			}
		}
		g.unavailable = "unavailable: sandbox network: " + firstLine(first.Error(), maxReason)
	})
}

// netEnv is the environment of the sandboxes' network runs: the guests'
// minimal one, with the sbin directories where runsc finds ip, iptables
// and sysctl to set up its veth pair.
func netEnv() []string {
	return []string{"PATH=" + harness.GuestPATH + ":/usr/sbin:/sbin", "HOME=" + harness.GuestHOME}
}

// runError turns a failed run into a short error: why it could not start,
// or its exit code and the last line of its standard error.
func runError(res harness.Result) error {
	switch {
	case res.Err != nil:
		return res.Err
	case res.ExitCode != 0:
		lines := strings.Split(strings.TrimSpace(string(res.Stderr)), "\n")
		return fmt.Errorf("exit code %d: %s", res.ExitCode, lines[len(lines)-1])
	}
	return nil
}

// defaultGateway returns the gateway of the default route in the text of
// a /proc/net/route.
func defaultGateway(route []byte) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(string(route)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[1] != "00000000" {
			continue
		}
		v, err := strconv.ParseUint(f[2], 16, 32)
		if err != nil || v == 0 {
			continue
		}
		// The kernel prints the address in host (little-endian) order.
		return net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).String(), nil
	}
	return "", fmt.Errorf("no default route in %s", harness.Abbrev(route))
}

// insertBefore returns cmd with extra inserted before its last "--".
func insertBefore(cmd []string, extra ...string) []string {
	i := len(cmd)
	for j := len(cmd) - 1; j >= 0; j-- {
		if cmd[j] == "--" {
			i = j
			break
		}
	}
	out := append([]string(nil), cmd[:i]...)
	out = append(out, extra...)
	return append(out, cmd[i:]...)
}

// netSetupFor returns how s runs a workload of the given mode. hostPort is
// the host's listener (netEgress) or the host port wrk loads (netPublish);
// guestPort the port of the sandbox's server (netPublish).
func (e *Env) netSetupFor(s *System, mode netMode, hostPort, guestPort int) (netSetup, error) {
	if s.Unavailable != "" {
		return netSetup{}, fmt.Errorf("%s is %s", s.Name, s.Unavailable)
	}
	loop := "127.0.0.1"
	n := netSetup{dial: loop, hostBind: loop, guestBind: loop, target: loop}
	switch s.kind {
	case kindNative:
		return n, nil
	case kindLitebox:
		if e.liteboxErr != nil {
			return n, e.liteboxErr
		}
		cmd := append([]string{e.Litebox}, s.Command[1:]...)
		switch mode {
		case netEgress:
			cmd = insertBefore(cmd, "--net", "egress", "--allow", fmt.Sprintf("127.0.0.1:%d", hostPort))
			n.dial = LiteboxGateway
		case netPublish:
			cmd = insertBefore(cmd, "-p", fmt.Sprintf("127.0.0.1:%d:%d", hostPort, guestPort))
			n.guestBind, n.publish = "0.0.0.0", true
		}
		n.prefix = cmd
		return n, nil
	}
	switch {
	case s.Name == GVisor && mode != netLoopback:
		e.probeGVisorNet(s)
		g := &e.net.gvisor
		if g.unavailable != "" {
			return n, errors.New(g.unavailable)
		}
		n.prefix = g.prefix
		// The host's end of the veth pair exists only while the sandbox
		// runs, so the host's listener binds all addresses.
		n.dial, n.hostBind = g.gateway, "0.0.0.0"
		n.guestBind, n.target = "0.0.0.0", GVisorGuestIP
	case s.Name == Bwrap && mode != netLoopback:
		// --die-with-parent: a server killed with bwrap (SIGTERM to bwrap
		// alone leaves its child running).
		n.prefix = insertBefore(s.Command, "--share-net", "--die-with-parent")
	default:
		// In its own network namespace (bwrap --unshare-all, runsc
		// --network=none), each has a loopback interface of its own.
		n.prefix = s.Command
	}
	return n, nil
}

// argvFor returns the command line running a program under n: hostPath
// natively and in the peers, guestPath under litebox.
func (n netSetup) argvFor(s *System, hostPath, guestPath string, args ...string) []string {
	argv := append([]string(nil), n.prefix...)
	if s.kind == kindLitebox {
		argv = append(argv, guestPath)
	} else {
		argv = append(argv, hostPath)
	}
	return append(argv, args...)
}

// RowUnavailable tells whether s can run the network rows of the given
// kind ("loopback", "egress" or "publish"): "" if it can, otherwise
// "unavailable: REASON". It probes once per system and kind: litebox must
// accept the flags of the mode and give the guest AF_INET sockets
// (bench_connect's exit code 3 says it does not); gVisor must start its
// sandbox network to reach the host; and the host programs must be
// installed. A probe that fails for another reason does not make the row
// unavailable: the row then runs and fails, as a bug must.
func (e *Env) RowUnavailable(s *System, kind string) string {
	if s.Unavailable != "" {
		return s.Unavailable
	}
	e.net.mu.Lock()
	if e.net.probes == nil {
		e.net.probes = map[string]*netProbe{}
	}
	p := e.net.probes[s.Name+"/"+kind]
	if p == nil {
		p = &netProbe{}
		e.net.probes[s.Name+"/"+kind] = p
	}
	e.net.mu.Unlock()
	p.once.Do(func() { p.reason = e.probeNet(s, kind) })
	return p.reason
}

func (e *Env) probeNet(s *System, kind string) string {
	var mode netMode
	var tools []string
	switch kind {
	case "loopback":
		mode = netLoopback
	case "loopback-iperf3":
		mode, tools = netLoopback, []string{Iperf3Path}
	case "egress":
		mode, tools = netEgress, []string{Iperf3Path}
	case "publish":
		mode, tools = netPublish, []string{BusyboxPath, WrkPath}
	default:
		return "unavailable: unknown network row kind " + kind
	}
	for _, t := range tools {
		if _, err := os.Stat(t); err != nil {
			return fmt.Sprintf("unavailable: %s is not installed", t)
		}
	}
	hostPort, err1 := freePort()
	guestPort, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return "unavailable: " + firstLine(err.Error(), maxReason)
	}
	n, err := e.netSetupFor(s, mode, hostPort, guestPort)
	if err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "unavailable: ") {
			return firstLine(msg, maxReason)
		}
		return "unavailable: " + firstLine(err.Error(), maxReason)
	}
	if s.kind == kindNative {
		return ""
	}
	path, err := e.programs.Build("bench_connect", e.variant)
	if err != nil {
		return "unavailable: " + firstLine(err.Error(), maxReason)
	}
	// Under the mode's own command line, so that a litebox without the
	// mode's flags says so.
	res := harness.Run(harness.Cmd{Argv: n.argvFor(s, path, "/work/"+filepath.Base(path), "0"),
		Env: netEnv(), Dir: os.TempDir(), Timeout: probeTimeout})
	switch {
	case res.Err != nil:
		return ""
	case res.ExitCode == 3:
		return "unavailable: no AF_INET sockets: " + firstLine(strings.TrimPrefix(lastLine(res.Stderr), "bench_connect: "), maxReason)
	case s.kind == kindLitebox && res.ExitCode == 125 && strings.Contains(string(res.Stderr), "unknown"):
		// A usage error of litebox's: it does not have the mode's flags.
		return "unavailable: " + firstLine(lastLine(res.Stderr), maxReason)
	}
	return ""
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// freePort returns a TCP port of 127.0.0.1 that is free now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// iperfResult is the part of iperf3's JSON output the measurements read.
type iperfResult struct {
	End struct {
		SumReceived struct {
			Bytes         float64 `json:"bytes"`
			Seconds       float64 `json:"seconds"`
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// parseIperf returns the receiver's throughput, in bits per second, of an
// iperf3 client's JSON output.
func parseIperf(out []byte) (float64, error) {
	// A script may print more than the JSON: take the outermost object.
	start, end := strings.IndexByte(string(out), '{'), strings.LastIndexByte(string(out), '}')
	if start < 0 || end < start {
		return 0, fmt.Errorf("no iperf3 JSON in %s", harness.Abbrev(out))
	}
	var r iperfResult
	if err := json.Unmarshal(out[start:end+1], &r); err != nil {
		return 0, fmt.Errorf("iperf3 JSON: %w", err)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	bps := r.End.SumReceived.BitsPerSecond
	if bps <= 0 || r.End.SumReceived.Bytes <= 0 {
		return 0, fmt.Errorf("iperf3 reported no data received: %s", harness.Abbrev(out[start:end+1]))
	}
	return bps, nil
}

// nsPerGbit turns a throughput in bits per second into the time of moving
// 10^9 bits, in nanoseconds: the value of the throughput rows, so that,
// like every other row's, a lower value is better and a sandbox's ratio to
// native above 1 is a slowdown.
func nsPerGbit(bps float64) float64 { return 1e18 / bps }

// iperfLoopbackScript runs an iperf3 server and a client against it on the
// sandbox's loopback interface. The server prints "Server listening" once
// it listens (--forceflush: at once), and the client starts only then.
// $1 is iperf3, $2 the port, $3 the seconds, $4 a writable directory, $5
// the seconds of warm-up to leave out.
const iperfLoopbackScript = `log=$4/iperf3-server.$$
"$1" -s -1 -B 127.0.0.1 -p "$2" --forceflush >"$log" 2>&1 &
i=0
until grep -q listening "$log" 2>/dev/null; do
	i=$((i+1)); if [ $i -gt 1500 ]; then cat "$log" >&2; exit 2; fi
	sleep 0.01
done
"$1" -c 127.0.0.1 -p "$2" -t "$3" -O "$5" -J; rc=$?
wait; rm -f "$log"; exit $rc
`

// IperfLoopback measures the TCP throughput between an iperf3 server and
// client in one sandbox, on its loopback interface, over seconds of
// sending after omit seconds of warm-up. The value is the time of moving 10^9 bits (nsPerGbit); Runs is
// the wall-clock time of the whole script.
func (e *Env) IperfLoopback(s *System, seconds, omit int) (Sample, error) {
	port, err := freePort()
	if err != nil {
		return Sample{}, err
	}
	n, err := e.netSetupFor(s, netLoopback, 0, 0)
	if err != nil {
		return Sample{}, err
	}
	argv := n.argvFor(s, "/bin/sh", "/bin/sh", "-c", iperfLoopbackScript, "sh",
		Iperf3Path, strconv.Itoa(port), strconv.Itoa(seconds), s.TmpDir, strconv.Itoa(omit))
	res := harness.Run(harness.Cmd{Argv: argv, Env: netEnv(), Dir: os.TempDir(), Timeout: netTimeout(seconds + omit)})
	if err := runError(res); err != nil {
		return Sample{}, fmt.Errorf("%q failed: %w\n%s", argv[:len(n.prefix)+1], err, res)
	}
	bps, err := parseIperf(res.Stdout)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Ns: nsPerGbit(bps), Runs: []time.Duration{res.Duration}}, nil
}

// netTimeout bounds a network run that should take about seconds.
func netTimeout(seconds int) time.Duration {
	return time.Duration(seconds)*time.Second + 60*time.Second
}

// background is a host process of a measurement: a server.
type background struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's, once done is closed
}

// startBackground starts argv in its own process group with its standard
// output going to out (nil: discarded) and standard error kept for errors.
func startBackground(argv []string, env []string, out io.Writer, stderr *strings.Builder) (*background, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	cmd.Stdout = out
	cmd.Stderr = &lockedWriter{b: stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &background{cmd: cmd, done: make(chan struct{})}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	return b, nil
}

// stop ends the process: SIGTERM to it alone first, so that a sandbox
// (runsc do above all, which removes its veth pair and iptables rules on
// the way out) can clean up, then SIGKILL to its whole process group.
func (b *background) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	<-b.done
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

// lineWaiter is an io.Writer that signals when a line containing want has
// been written.
type lineWaiter struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func newLineWaiter(want string) *lineWaiter {
	return &lineWaiter{want: want, seen: make(chan struct{})}
}

func (w *lineWaiter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 64<<10 {
		w.buf.Write(p)
	}
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWaiter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// IperfToHost measures the TCP throughput from an iperf3 client in a
// sandbox to an iperf3 server on the host, over seconds of sending after
// omit seconds of warm-up. The value is the time of moving 10^9 bits (nsPerGbit); Runs is the
// wall-clock time of the client's run.
func (e *Env) IperfToHost(s *System, seconds, omit int) (Sample, error) {
	port, err := freePort()
	if err != nil {
		return Sample{}, err
	}
	n, err := e.netSetupFor(s, netEgress, port, 0)
	if err != nil {
		return Sample{}, err
	}
	ready := newLineWaiter("listening")
	var serr strings.Builder
	srv, err := startBackground([]string{Iperf3Path, "-s", "-1", "-B", n.hostBind, "-p", strconv.Itoa(port), "--forceflush"},
		netEnv(), ready, &serr)
	if err != nil {
		return Sample{}, fmt.Errorf("iperf3 server: %w", err)
	}
	defer srv.stop()
	select {
	case <-ready.seen:
	case <-srv.done:
		return Sample{}, fmt.Errorf("the iperf3 server on the host exited (%v): %s%s", srv.err, ready, serr.String())
	case <-time.After(probeTimeout):
		return Sample{}, fmt.Errorf("the iperf3 server on the host did not listen within %v: %s", probeTimeout, ready)
	}
	argv := n.argvFor(s, Iperf3Path, Iperf3Path, "-c", n.dial, "-p", strconv.Itoa(port), "-t", strconv.Itoa(seconds), "-O", strconv.Itoa(omit), "-J")
	res := harness.Run(harness.Cmd{Argv: argv, Env: netEnv(), Dir: os.TempDir(), Timeout: netTimeout(seconds + omit)})
	if err := runError(res); err != nil {
		return Sample{}, fmt.Errorf("%q failed: %w\n%s", argv, err, res)
	}
	bps, err := parseIperf(res.Stdout)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Ns: nsPerGbit(bps), Runs: []time.Duration{res.Duration}}, nil
}

// wwwDir creates, once, the directory the HTTP server serves, under the
// programs' directory, which every system sees (litebox under /work).
func (e *Env) wwwDir() (host, guest string, err error) {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	host = filepath.Join(e.programs.Dir(e.variant), "www")
	guest = "/work/www"
	if e.net.www != "" {
		return host, guest, nil
	}
	if err := os.MkdirAll(host, 0o755); err != nil {
		return "", "", err
	}
	body := strings.Repeat("litebox bench\n", httpFileSize/14+1)[:httpFileSize]
	if err := os.WriteFile(filepath.Join(host, httpFile), []byte(body), 0o644); err != nil {
		return "", "", err
	}
	e.net.www = host
	return host, guest, nil
}

var wrkRate = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)

// parseWrk returns the requests per second of wrk's output, refusing a run
// in which the server answered with an error status.
func parseWrk(out []byte) (float64, error) {
	if strings.Contains(string(out), "Non-2xx or 3xx responses") {
		return 0, fmt.Errorf("the server answered with errors: %s", harness.Abbrev(out))
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in wrk's output %s", harness.Abbrev(out))
	}
	rate, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil || rate <= 0 {
		return 0, fmt.Errorf("bad Requests/sec in wrk's output %s", harness.Abbrev(out))
	}
	return rate, nil
}

// HTTPRequests measures the requests per second that busybox httpd in a
// sandbox answers, published on a host port, under wrk on the host (one
// thread, connections connections, for seconds). busybox httpd answers
// each connection in a forked child and closes it (HTTP/1.0), so every
// request is a new connection through the published port. The value is
// nanoseconds per request (the inverse of the rate); Runs is wrk's
// wall-clock time.
func (e *Env) HTTPRequests(s *System, seconds, connections int) (Sample, error) {
	hostPort, err := freePort()
	if err != nil {
		return Sample{}, err
	}
	guestPort := hostPort
	if s.kind == kindLitebox {
		// A different port inside, so that only the forwarding reaches it.
		if guestPort, err = freePort(); err != nil {
			return Sample{}, err
		}
	}
	n, err := e.netSetupFor(s, netPublish, hostPort, guestPort)
	if err != nil {
		return Sample{}, err
	}
	hostDir, guestDir, err := e.wwwDir()
	if err != nil {
		return Sample{}, err
	}
	dir := hostDir
	if s.kind == kindLitebox {
		dir = guestDir
	}
	argv := n.argvFor(s, BusyboxPath, BusyboxPath, "httpd", "-f", "-p", fmt.Sprintf("%s:%d", n.guestBind, guestPort), "-h", dir)
	var serr strings.Builder
	srv, err := startBackground(argv, netEnv(), nil, &serr)
	if err != nil {
		return Sample{}, fmt.Errorf("%q: %w", argv, err)
	}
	defer srv.stop()

	port := guestPort
	if n.publish {
		port = hostPort
	}
	url := fmt.Sprintf("http://%s:%d/%s", n.target, port, httpFile)
	if err := waitHTTP(url, srv, &serr); err != nil {
		return Sample{}, fmt.Errorf("%q: %w", argv, err)
	}
	wrk := []string{WrkPath, "-t1", "-c" + strconv.Itoa(connections), "-d" + strconv.Itoa(seconds) + "s", url}
	res := harness.Run(harness.Cmd{Argv: wrk, Env: netEnv(), Dir: os.TempDir(), Timeout: netTimeout(seconds)})
	if err := runError(res); err != nil {
		return Sample{}, fmt.Errorf("%q failed: %w\n%s", wrk, err, res)
	}
	rate, err := parseWrk(res.Stdout)
	if err != nil {
		return Sample{}, err
	}
	select {
	case <-srv.done:
		return Sample{}, fmt.Errorf("%q exited during the measurement (%v): %s", argv, srv.err, serr.String())
	default:
	}
	return Sample{Ns: 1e9 / rate, Runs: []time.Duration{res.Duration}}, nil
}

// waitHTTP waits until url answers a GET with 200 and the whole file: the
// server listens, and the port forwarding, where there is one, reaches it.
func waitHTTP(url string, srv *background, serr *strings.Builder) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(probeTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-srv.done:
			return fmt.Errorf("the server exited (%v): %s", srv.err, serr.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK && len(body) == httpFileSize {
				cancel()
				return nil
			}
			err = fmt.Errorf("status %d, %d bytes, %v", resp.StatusCode, len(body), rerr)
		}
		cancel()
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v: %v; server: %s", url, probeTimeout, last, serr.String())
}

// ConnectCost measures the cost in nanoseconds of one TCP connection
// set-up and tear-down on s's loopback interface (connect, accept, close
// of both ends), over n of them in bench_connect.
func (e *Env) ConnectCost(s *System, n int) (Sample, error) {
	return e.perOperation(s, "bench_connect", n)
}

// NetNote describes, for the report, how s runs the network rows.
func (e *Env) NetNote(s *System) string {
	switch {
	case s.kind == kindNative:
		return "network rows on the host's loopback interface, 127.0.0.1"
	case s.kind == kindLitebox:
		return "network rows: the loopback ones on the guest's own loopback interface (litebox's netstack); " +
			"iperf3 to the host with `--net egress --allow 127.0.0.1:PORT`, dialing " + LiteboxGateway + ":PORT; " +
			"HTTP with `-p 127.0.0.1:HOSTPORT:GUESTPORT`, the server on 0.0.0.0:GUESTPORT"
	case s.Name == GVisor:
		note := "loopback network rows with --network=none (the loopback interface of gVisor's netstack)"
		if n := e.GVisorNetNote(); n != "" {
			note += "; " + n
		}
		return note
	case s.Name == Bwrap:
		return "loopback network rows in bwrap's own network namespace (the host kernel's TCP/IP); " +
			"the rows reaching the host with `--share-net --die-with-parent` (the host's network namespace)"
	}
	return ""
}

package tests

// Escape tests: each guest program tries something a sandboxed program must
// not be able to do, and each test checks both sides: what the guest sees
// (exact errno or exit status) and that the host is unchanged (a host
// process still alive and untraced, a listener that accepted nothing, a
// host file untouched, no stub process left behind, bounded host memory).
//
// Covered elsewhere, so not repeated here:
//   - read-only mounts and host system directories: TestReadOnlyMount
//     (mounts_test.go);
//   - /etc/shadow and SSH host keys: TestSecretsHidden, symlink and ".."
//     escapes out of a mount (also via /proc/1/root and /proc/self/root):
//     TestSymlinkEscape, private /tmp: TestGuestTmpIsPrivate
//     (guest_view_test.go);
//   - malformed ELF files: TestCannotExecute (errors_test.go) and the
//     loader fuzzer (`make fuzz`, FuzzLoad in ./loader).
//
// The guest programs are testdata/escape_*.c, built as static executables.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// escapeGuest is the guest configuration of the escape tests: the static
// programs at /work, an audit log in a fresh file (also the marker by which
// watchTree finds this run's litebox process), and the given flags.
func escapeGuest(t *testing.T, flags ...string) (harness.Guest, string) {
	t.Helper()
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	g := harness.Guest{
		Mounts: []string{workMount(staticVariant)},
		Flags:  append([]string{"--audit", audit}, flags...),
	}
	return g, audit
}

// readAudit returns the events of an audit log.
func readAudit(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	var events []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %d is not JSON: %v\n%s", i+1, err, line)
		}
		events = append(events, ev)
	}
	return events
}

// checkAuditLimit asserts that the audit log records a limit_exceeded
// event for limit.
func checkAuditLimit(t *testing.T, path, limit string) {
	t.Helper()
	events := readAudit(t, path)
	for _, ev := range events {
		if ev["msg"] == "limit_exceeded" && ev["limit"] == limit {
			return
		}
	}
	data, _ := os.ReadFile(path)
	t.Errorf("audit log has no limit_exceeded event with limit %q:\n%s", limit, data)
}

// startHostSleep starts `sleep 60` on the host, in its own process group,
// with a pid above 1000 so that it cannot be one of the few small pids a
// sandbox hands out. It is killed and reaped when the test ends. Host pids
// wrap at pid_max: right after a wrap it takes up to a thousand tries.
func startHostSleep(t *testing.T) int {
	t.Helper()
	for range 3000 {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting host sleep: %v", err)
		}
		if cmd.Process.Pid > 1000 {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			})
			return cmd.Process.Pid
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Fatal("could not get a host process with a pid above 1000")
	return 0
}

// hostProcStatus returns the fields of /proc/PID/status.
func hostProcStatus(pid int) (map[string]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields, nil
}

// checkHostProcessUntouched asserts that host process pid (a child of the
// test, never waited for until cleanup) is alive, so not even a zombie, and
// neither stopped nor traced.
func checkHostProcessUntouched(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("host process %d is gone: kill(pid, 0): %v", pid, err)
		return
	}
	st, err := hostProcStatus(pid)
	if err != nil {
		t.Errorf("host process %d: %v", pid, err)
		return
	}
	// A killed child of ours stays a zombie (Z) until we wait for it, so
	// kill(pid, 0) alone would not notice.
	if state := st["State"]; !strings.HasPrefix(state, "S") && !strings.HasPrefix(state, "R") {
		t.Errorf("host process %d has state %q, want sleeping or running (Z: killed, t: traced, T: stopped)", pid, state)
	}
	if st["TracerPid"] != "0" {
		t.Errorf("host process %d is traced by pid %s", pid, st["TracerPid"])
	}
}

// hostProc is one host process seen by watchTree or hostProcsOf.
type hostProc struct {
	pid, ppid, uid int
	start          string // start time in clock ticks since boot (stat field 22)
	state          string
	hwmKB          int64 // peak resident set size (VmHWM)
}

// readHostProc reads /proc/PID/stat and status.
func readHostProc(pid int) (hostProc, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return hostProc{}, false
	}
	// The command name may contain spaces and parentheses: the fields
	// start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return hostProc{}, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return hostProc{}, false
	}
	p := hostProc{pid: pid, state: f[0], start: f[19], uid: -1}
	p.ppid, _ = strconv.Atoi(f[1])
	if st, err := hostProcStatus(pid); err == nil {
		if u := strings.Fields(st["Uid"]); len(u) > 0 {
			p.uid, _ = strconv.Atoi(u[0])
		}
		if h := strings.Fields(st["VmHWM"]); len(h) > 0 {
			p.hwmKB, _ = strconv.ParseInt(h[0], 10, 64)
		}
	}
	return p, true
}

// hostProcs returns every host process by pid.
func hostProcs() map[int]hostProc {
	out := map[int]hostProc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readHostProc(pid); ok {
			out[pid] = p
		}
	}
	return out
}

// treeWatch polls the host's process table while a litebox run is under
// way, and records every process descending from the litebox process whose
// command line contains marker (the run's unique audit file): the stubs.
type treeWatch struct {
	marker string
	stop   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	litebox  map[int]hostProc // the litebox process, with its peak VmHWM
	stubs    map[int]hostProc // its descendants, with their peak VmHWM
	maxStubs int              // most descendants alive at once
}

func watchTree(marker string) *treeWatch {
	w := &treeWatch{marker: marker, stop: make(chan struct{}), done: make(chan struct{}),
		litebox: map[int]hostProc{}, stubs: map[int]hostProc{}}
	go func() {
		defer close(w.done)
		for {
			w.poll()
			select {
			case <-w.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *treeWatch) poll() {
	procs := hostProcs()
	children := map[int][]int{}
	var roots []int
	for pid, p := range procs {
		children[p.ppid] = append(children[p.ppid], pid)
		if p.uid == 0 || p.uid == os.Getuid() {
			cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err == nil && bytes.Contains(cmd, []byte(w.marker)) && bytes.HasPrefix(cmd, []byte(liteboxBin+"\x00")) {
				roots = append(roots, pid)
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	merge := func(m map[int]hostProc, p hostProc) {
		if old, ok := m[p.pid]; ok && old.start == p.start {
			p.hwmKB = max(p.hwmKB, old.hwmKB)
		}
		m[p.pid] = p
	}
	alive := 0
	for _, root := range roots {
		merge(w.litebox, procs[root])
		queue := slices.Clone(children[root])
		for len(queue) > 0 {
			pid := queue[0]
			queue = queue[1:]
			merge(w.stubs, procs[pid])
			alive++
			queue = append(queue, children[pid]...)
		}
	}
	w.maxStubs = max(w.maxStubs, alive)
}

// finish stops the polling and returns what was seen.
func (w *treeWatch) finish() (litebox, stubs map[int]hostProc, maxStubs int) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.litebox, w.stubs, w.maxStubs
}

// sumHWM is the sum of the peak RSS of procs, in KiB.
func sumHWM(procs map[int]hostProc) int64 {
	var kb int64
	for _, p := range procs {
		kb += p.hwmKB
	}
	return kb
}

// checkStubsGone asserts that none of the processes seen during the run
// (same pid and start time) exists any more: litebox leaves nothing behind.
func checkStubsGone(t *testing.T, stubs map[int]hostProc) {
	t.Helper()
	var left []hostProc
	for deadline := time.Now().Add(5 * time.Second); ; {
		left = left[:0]
		for pid, p := range stubs {
			if now, ok := readHostProc(pid); ok && now.start == p.start {
				left = append(left, now)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range left {
		t.Errorf("host process %d (uid %d, state %s, parent %d) of the run is still there after litebox exited",
			p.pid, p.uid, p.state, p.ppid)
	}
}

// stubUID is the host uid the stubs run as: nobody when litebox runs as root.
func stubUID() int {
	if os.Getuid() == 0 {
		return 65534
	}
	return os.Getuid()
}

// processesOfUID returns the host processes of uid that are not part of
// another, unrelated process tree: a process counts if the first ancestor
// of another uid is init, the test process or one of its ancestors, which
// is where orphans of this test's litebox runs end up. (Stubs of litebox
// runs started by someone else on the same host hang below their own
// litebox and are ignored.)
func processesOfUID(uid int) map[int]hostProc {
	procs := hostProcs()
	ours := map[int]bool{1: true}
	for pid := os.Getpid(); pid > 1; {
		ours[pid] = true
		p, ok := procs[pid]
		if !ok {
			break
		}
		pid = p.ppid
	}
	out := map[int]hostProc{}
	for pid, p := range procs {
		if p.uid != uid {
			continue
		}
		a := p
		for a.uid == uid && a.ppid > 0 {
			next, ok := procs[a.ppid]
			if !ok {
				a = hostProc{pid: a.ppid}
				break
			}
			a = next
		}
		if ours[a.pid] || a.ppid == 0 {
			out[pid] = p
		}
	}
	return out
}

// TestEscapeKill: kill(-1, SIGKILL) in the guest reaches only the sandbox's
// own processes (a guest child dies, the caller and the host do not), and a
// host pid, passed on the command line, is not a pid in the sandbox: kill
// with signal 0, SIGKILL and its process group all fail with ESRCH. The
// host process stays alive (not even a zombie).
func TestEscapeKill(t *testing.T) {
	t.Parallel()
	program(t, "escape_kill", staticVariant)
	host := startHostSleep(t)
	g, _ := escapeGuest(t)
	got := runGuest(t, g, nil, "/work/escape_kill", strconv.Itoa(host))
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{ExitCode: 42, Stdout: []byte(`host pid is a sandbox pid: no
kill(-1, SIGKILL): 0
child: killed by signal 9
kill(HOSTPID, 0): ESRCH
kill(HOSTPID, SIGKILL): ESRCH
kill(-HOSTPID, SIGKILL): ESRCH
caller survived
`)}, true)
	checkHostProcessUntouched(t, host)
}

// TestEscapePtrace: the guest cannot trace anything, inside the sandbox
// (pid 1, its own child) or outside it (a host pid), nor ask to be traced.
// litebox does not implement ptrace at all, so every request fails with
// ENOSYS (not EPERM): the guest never gets near the host's ptrace. The host
// process is neither stopped nor traced afterwards.
func TestEscapePtrace(t *testing.T) {
	t.Parallel()
	program(t, "escape_ptrace", staticVariant)
	host := startHostSleep(t)
	g, _ := escapeGuest(t)
	got := runGuest(t, g, nil, "/work/escape_ptrace", strconv.Itoa(host))
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(`PTRACE_ATTACH 1: ENOSYS
PTRACE_ATTACH HOSTPID: ENOSYS
PTRACE_SEIZE HOSTPID: ENOSYS
PTRACE_ATTACH child: ENOSYS
PTRACE_TRACEME: ENOSYS
PTRACE_PEEKDATA HOSTPID: ENOSYS
`)}, true)
	checkHostProcessUntouched(t, host)
}

// TestEscapeProcView: the guest's /proc lists exactly its own processes
// (pid 1 and its child 2), never the host's: neither the test process nor a
// host sleep, whose /proc/PID files do not exist for the guest. /proc/1 is
// the guest program itself. (TestProcessGuestProcList checks the listing
// with busybox; this adds the host pids and /proc/1/cmdline.)
func TestEscapeProcView(t *testing.T) {
	t.Parallel()
	program(t, "escape_proc", staticVariant)
	host := startHostSleep(t)
	g, _ := escapeGuest(t)
	got := runGuest(t, g, nil, "/work/escape_proc", strconv.Itoa(host))
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(fmt.Sprintf(`self 1
child 2
pid 1
pid 2
cmdline /work/escape_proc %d 
open /proc/HOSTPID/cmdline: ENOENT
open /proc/HOSTPID/status: ENOENT
`, host))}, true)
	for _, line := range strings.Split(string(got.Stdout), "\n") {
		if pid, ok := strings.CutPrefix(line, "pid "); ok {
			if n, _ := strconv.Atoi(pid); n == os.Getpid() || n == host {
				t.Errorf("guest /proc lists host pid %d", n)
			}
		}
	}
	checkHostProcessUntouched(t, host)
}

// acceptCounter accepts and counts connections on l until it is closed.
func acceptCounter(l net.Listener) *atomic.Int32 {
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return &n
}

// TestEscapeNetwork: with no network (--net none, the default), the guest
// cannot reach a TCP listener of the host on 127.0.0.1 (over AF_INET, or
// AF_INET6 as ::1 and ::ffff:127.0.0.1): its Internet sockets live on the
// sandbox's own loopback, where nothing listens on that port
// (ECONNREFUSED), and every address outside the loopback (a public one,
// the gateway 10.0.2.2, a public IPv6 one) has no route: ENETUNREACH for
// TCP and UDP alike, as Linux without a route. AF_PACKET sockets fail
// with EACCES, socketpair(AF_INET) with EOPNOTSUPP as on
// Linux; an AF_NETLINK socket is the sandbox's own and lists lo only,
// none of the host's interfaces. A host unix socket (a socket file in a :rw mount, and an abstract
// name) is not reachable either: the guest's AF_UNIX sockets are
// litebox's own, a host socket file is no socket inode of the guest's and
// the abstract namespace is the sandbox's, so both connects get
// ECONNREFUSED.
// An AF_UNIX socketpair works both ways. No host listener accepts anything.
func TestEscapeNetwork(t *testing.T) {
	t.Parallel()
	program(t, "escape_net", staticVariant)
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	port := tcp.Addr().(*net.TCPAddr).Port
	listeners := map[string]*atomic.Int32{"tcp 127.0.0.1": acceptCounter(tcp)}
	// The same port on ::1, where the host has IPv6.
	if tcp6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port)); err == nil {
		defer tcp6.Close()
		listeners["tcp [::1]"] = acceptCounter(tcp6)
	} else {
		t.Logf("no IPv6 listener on [::1]:%d: %v", port, err)
	}
	sockDir := t.TempDir()
	unixL, err := net.Listen("unix", filepath.Join(sockDir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer unixL.Close()
	listeners["unix socket file"] = acceptCounter(unixL)
	abstract := "litebox-escape-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	abstractL, err := net.Listen("unix", "@"+abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer abstractL.Close()
	listeners["abstract unix socket"] = acceptCounter(abstractL)

	g, _ := escapeGuest(t)
	g.Mounts = append(g.Mounts, sockDir+":/sock:rw")
	got := runGuest(t, g, nil, "/work/escape_net", strconv.Itoa(port), "/sock/s", abstract)
	checkExitedNormally(t, got)
	if got.ExitCode != 0 || len(got.Stderr) != 0 {
		t.Errorf("escape_net failed:\n%s", got)
	}
	want := map[string][]string{
		"socket(AF_INET, SOCK_STREAM)":                   {"ok"},
		"connect(127.0.0.1:PORT)":                        {"ECONNREFUSED"},
		"socket(AF_INET, SOCK_DGRAM)":                    {"ok"},
		"socket(AF_INET6, SOCK_STREAM) ::1":              {"ok"},
		"socket(AF_INET6, SOCK_STREAM) ::ffff:127.0.0.1": {"ok"},
		"connect(AF_INET6)":                              {"ECONNREFUSED"},
		"socket(AF_INET6, SOCK_DGRAM)":                   {"ok"},
		"connect(1.1.1.1)":                               {"ENETUNREACH"},
		"sendto(1.1.1.1) udp":                            {"ENETUNREACH"},
		"connect(10.0.2.2)":                              {"ENETUNREACH"},
		"sendto(10.0.2.2) udp":                           {"ENETUNREACH"},
		"connect(2606:4700:4700::1111)":                  {"ENETUNREACH"},
		"sendto(2606:4700:4700::1111) udp":               {"ENETUNREACH"},
		"socket(AF_NETLINK, SOCK_RAW)":                   {"ok"},
		"interfaces (netlink)":                           {"lo"},
		"socket(AF_PACKET, SOCK_RAW)":                    {"EACCES"},
		"socketpair(AF_INET, SOCK_STREAM)":               {"EOPNOTSUPP"},
		"connect(unix socket file)":                      {"ECONNREFUSED"},
		"connect(abstract unix socket)":                  {"ECONNREFUSED"},
		"socketpair(AF_UNIX, SOCK_STREAM)":               {"ok"},
		"send 4, recv 4":                                 {"ping", "pong"},
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(got.Stdout), "\n"), "\n") {
		what, result, _ := strings.Cut(line, ": ")
		seen[what]++
		allowed, ok := want[what]
		switch {
		case !ok:
			t.Errorf("unexpected guest line %q (a connect attempt got further than socket()?)", line)
		case !slices.Contains(allowed, result):
			t.Errorf("%s: %s, want %s", what, result, strings.Join(allowed, " or "))
		}
	}
	for what, allowed := range want {
		n := 1
		switch what {
		case "send 4, recv 4":
			n = len(allowed)
		case "connect(AF_INET6)": // ::1 and ::ffff:127.0.0.1
			n = 2
		}
		if seen[what] != n {
			t.Errorf("guest printed %q %d times, want %d\nstdout: %s", what, seen[what], n, got.Stdout)
		}
	}
	// Anything that got through would have been accepted by now; give a
	// late connection one more second.
	time.Sleep(time.Second)
	for name, n := range listeners {
		if c := n.Load(); c != 0 {
			t.Errorf("host %s listener accepted %d connection(s) from the guest", name, c)
		}
	}
}

// TestEscapeForkBomb: under --pids 64, a guest forking in a loop gets
// EAGAIN after exactly 63 forks (64 processes with itself), is told so in
// the audit log, can kill and reap them all and exits 0. On the host, no
// process of the run is left afterwards: neither one of the stubs seen
// while it ran, nor any new process of the stubs' host uid.
//
// Not parallel: while it runs no other test of this package does, so the
// count of host processes of the stub uid is meaningful.
func TestEscapeForkBomb(t *testing.T) {
	program(t, "escape_forkbomb", staticVariant)
	g, audit := escapeGuest(t, "--pids", "64")
	before := processesOfUID(stubUID())
	w := watchTree(audit)
	got := runGuest(t, g, nil, "/work/escape_forkbomb")
	_, stubs, maxStubs := w.finish()
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(`fork failed: EAGAIN
forks succeeded: 63
children killed by SIGTERM and reaped: 63
wait afterwards: ECHILD
`)}, true)
	checkAuditLimit(t, audit, "pids")

	t.Logf("host processes below litebox: %d seen, at most %d at once", len(stubs), maxStubs)
	if maxStubs < 64 {
		t.Errorf("saw at most %d host processes below litebox at once, want at least 64 (one stub per guest process): is the watch working?", maxStubs)
	}
	checkStubsGone(t, stubs)

	if os.Getuid() != 0 {
		t.Logf("not root: stubs run as the test's own uid; the uid count check is skipped")
		return
	}
	var after map[int]hostProc
	var extra []int
	for deadline := time.Now().Add(5 * time.Second); ; {
		after = processesOfUID(stubUID())
		extra = extra[:0]
		for pid, p := range after {
			if b, ok := before[pid]; !ok || b.start != p.start {
				extra = append(extra, pid)
			}
		}
		if len(extra) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("host processes of uid %d: %d before, %d after", stubUID(), len(before), len(after))
	for _, pid := range extra {
		p := after[pid]
		t.Errorf("new host process %d of uid %d (state %s, parent %d) after the run", pid, p.uid, p.state, p.ppid)
	}
}

// TestEscapeMemory: under --memory 128M, allocating 2 GiB fails with ENOMEM
// (malloc and mmap), and 16 MiB blocks that are all touched stop with
// ENOMEM before 128 MiB; the audit log records the memory limit. On the
// host, the stub processes' peak RSS stays within the limit (and, for the
// loop, is at least what the guest touched, which shows the measurement
// sees the guest's memory).
func TestEscapeMemory(t *testing.T) {
	program(t, "escape_mem", staticVariant)
	const limitKB = 128 << 10
	t.Run("2GiB", func(t *testing.T) {
		t.Parallel()
		g, audit := escapeGuest(t, "--memory", "128M")
		w := watchTree(audit)
		got := runGuest(t, g, nil, "/work/escape_mem", "big")
		_, stubs, _ := w.finish()
		checkExitedNormally(t, got)
		checkResult(t, got, harness.Result{Stdout: []byte("malloc(2 GiB): ENOMEM\nmmap(2 GiB): ENOMEM\n")}, true)
		checkAuditLimit(t, audit, "memory")
		if kb := sumHWM(stubs); kb > limitKB {
			t.Errorf("peak RSS of the stubs on the host: %d KiB, more than the 128 MiB limit", kb)
		}
		checkStubsGone(t, stubs)
	})
	t.Run("16MiB-loop", func(t *testing.T) {
		t.Parallel()
		g, audit := escapeGuest(t, "--memory", "128M")
		w := watchTree(audit)
		got := runGuest(t, g, nil, "/work/escape_mem", "loop")
		_, stubs, _ := w.finish()
		checkExitedNormally(t, got)
		lines := strings.Split(string(got.Stdout), "\n")
		if got.ExitCode != 0 || len(lines) != 3 || lines[0] != "malloc(16 MiB) failed: ENOMEM" {
			t.Fatalf("want malloc to fail with ENOMEM and exit 0:\n%s", got)
		}
		mib, err := strconv.Atoi(strings.TrimPrefix(lines[1], "MiB obtained: "))
		if err != nil || mib <= 0 || mib >= 128 {
			t.Errorf("%q: want 0 < MiB obtained < 128", lines[1])
		}
		checkAuditLimit(t, audit, "memory")
		kb := sumHWM(stubs)
		t.Logf("guest obtained %d MiB; peak RSS of the stubs on the host: %d KiB", mib, kb)
		if kb > limitKB {
			t.Errorf("peak RSS of the stubs on the host: %d KiB, more than the 128 MiB limit", kb)
		}
		if kb < int64(mib)<<10 {
			t.Errorf("peak RSS of the stubs on the host: %d KiB, less than the %d MiB the guest touched: the host-side measurement missed the guest", kb, mib)
		}
		checkStubsGone(t, stubs)
	})
}

// TestEscapeTmpfsFull: writing 1 GiB to /tmp under --tmpfs-size 64M fails
// with ENOSPC after 60 to 64 MiB. Nothing reaches the host's /tmp, and
// litebox (which holds the guest's /tmp in memory) does not grow anywhere
// near 1 GiB.
func TestEscapeTmpfsFull(t *testing.T) {
	t.Parallel()
	program(t, "escape_fill", staticVariant)
	name := "litebox-escape-fill-" + filepath.Base(t.TempDir())
	g, audit := escapeGuest(t, "--tmpfs-size", "64M")
	w := watchTree(audit)
	got := runGuest(t, g, nil, "/work/escape_fill", "/tmp/"+name, "1024")
	lb, stubs, _ := w.finish()
	checkExitedNormally(t, got)
	lines := strings.Split(string(got.Stdout), "\n")
	if got.ExitCode != 0 || len(lines) != 4 || lines[0] != "write: ENOSPC" {
		t.Fatalf("want the write to fail with ENOSPC and exit 0:\n%s", got)
	}
	bytesWritten, err1 := strconv.ParseInt(strings.TrimPrefix(lines[1], "bytes written: "), 10, 64)
	mib, err2 := strconv.Atoi(strings.TrimPrefix(lines[2], "MiB written: "))
	if err1 != nil || err2 != nil || mib < 60 || mib > 64 || bytesWritten > 64<<20 {
		t.Errorf("%q, %q: want between 60 and 64 MiB, never more than 64 MiB", lines[1], lines[2])
	}
	if _, err := os.Lstat(filepath.Join("/tmp", name)); err == nil {
		os.Remove(filepath.Join("/tmp", name))
		t.Errorf("the guest's /tmp/%s landed in host /tmp", name)
	}
	// The budget: 64 MiB of file data, plus what the Go runtime and the
	// stubs need; far below the 1 GiB the guest tried to write.
	const budgetKB = 512 << 10
	total := sumHWM(lb) + sumHWM(stubs)
	t.Logf("peak RSS on the host: litebox %d KiB, stubs %d KiB", sumHWM(lb), sumHWM(stubs))
	if len(lb) == 0 {
		t.Errorf("the host-side watch never saw the litebox process")
	} else if total > budgetKB {
		t.Errorf("peak RSS of litebox and its stubs: %d KiB, more than %d KiB for a 64 MiB /tmp", total, budgetKB)
	}
	checkStubsGone(t, stubs)
}

// TestEscapeFileSize: under --fsize 1M, writing 2 MiB stops at exactly
// 1 MiB: with SIGXFSZ ignored the next write fails with EFBIG (in /tmp and
// in a :rw host mount), by default SIGXFSZ kills the guest (status
// 128+25). The audit log records the limit. In the host directory the file
// is exactly 1 MiB of what the guest wrote.
func TestEscapeFileSize(t *testing.T) {
	program(t, "escape_fill", staticVariant)
	efbig := harness.Result{Stdout: []byte("write: EFBIG\nbytes written: 1048576\nMiB written: 1\n")}
	cases := []struct {
		name, path string
		args       []string
		want       harness.Result
	}{
		{"ignored-tmp", "/tmp/f", []string{"ignore-xfsz"}, efbig},
		{"ignored-host-mount", "/data/f", []string{"ignore-xfsz"}, efbig},
		{"default-host-mount", "/data/f", nil, harness.Result{ExitCode: 128 + int(syscall.SIGXFSZ)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			g, audit := escapeGuest(t, "--fsize", "1M")
			g.Mounts = append(g.Mounts, dir+":/data:rw")
			got := runGuest(t, g, nil, "/work/escape_fill", append([]string{tc.path, "2"}, tc.args...)...)
			checkExitedNormally(t, got)
			checkResult(t, got, tc.want, true)
			checkAuditLimit(t, audit, "fsize")
			if !strings.HasPrefix(tc.path, "/data/") {
				checkHostDir(t, dir, map[string]string{})
				return
			}
			checkHostDir(t, dir, map[string]string{"f": strings.Repeat("x", 1<<20)})
		})
	}
}

// TestEscapeSeccompBypassSyscalls: syscall numbers that litebox does not
// implement fail with ENOSYS and are recorded as unsupported, whatever the
// host kernel would do with them. 335 (uretprobe) and 336 (uprobe) matter:
// host kernels since 6.11 and 6.16 let them bypass every seccomp filter, so
// a platform that relies on seccomp to trap the guest's syscalls (systrap)
// would let them reach the host kernel (uretprobe outside a uretprobe
// trampoline kills the caller with SIGILL, uprobe returns ENXIO). 337 and
// 100000 are controls.
func TestEscapeSeccompBypassSyscalls(t *testing.T) {
	prog := program(t, "escape_nr", staticVariant)
	// One run per number, so that one that kills the guest does not hide
	// what the others do.
	for _, nr := range []int{335, 336, 337, 100000} {
		t.Run(strconv.Itoa(nr), func(t *testing.T) {
			t.Parallel()
			want := harness.Result{Stdout: []byte(fmt.Sprintf("%d: ENOSYS\n", nr))}
			// Linux >= 6.11 lets uretprobe (335), and later uprobe (336), pass
			// every seccomp filter. Under systrap, whose trap is a seccomp
			// filter, such a number reaches the host kernel, which answers
			// as it does natively (documented in docs/SECURITY.md, "The
			// systrap stubs"); under ptrace nothing ever reaches the host.
			// The expectation is exact either way: the native outcome where
			// the host implements the number and systrap runs, else ENOSYS.
			native := runNative(t, "", nil, nil, prog, strconv.Itoa(nr))
			hostHas := native.ExitCode != 0 || string(native.Stdout) != string(want.Stdout)
			bypass := hostHas && (nr == 335 || nr == 336) && os.Getenv(harness.PlatformEnv) != "ptrace"
			g, audit := escapeGuest(t)
			got := runGuest(t, g, nil, "/work/escape_nr", strconv.Itoa(nr))
			if bypass {
				checkResult(t, got, harness.Result{Stdout: native.Stdout, ExitCode: native.ExitCode}, false)
				return
			}
			checkExitedNormally(t, got)
			checkResult(t, got, want, true)
			recorded := false
			for _, ev := range readAudit(t, audit) {
				if n, ok := ev["nr"].(float64); ok && ev["msg"] == "unsupported_syscall" && int(n) == nr {
					recorded = true
				}
			}
			if !recorded {
				data, _ := os.ReadFile(audit)
				t.Errorf("audit log has no unsupported_syscall event for %d: the call never reached litebox's kernel\n%s", nr, data)
			}
		})
	}
}

// TestEscapeRandomSyscalls runs testdata/escape_fuzz.c: 100000 random
// syscalls with random arguments (seeded), issued by child processes of
// 1000 calls each so that a crash or a stall ends only one child. litebox
// must survive all of it: exit 0 with "done" printed, no Go panic, within
// 3 minutes. A read-only host mount at /data (whose paths the fuzzer
// uses) is unchanged afterwards, and no process of the run is left.
func TestEscapeRandomSyscalls(t *testing.T) {
	program(t, "escape_fuzz", staticVariant)
	for _, seed := range []string{"1", "2", "3"} {
		t.Run("seed="+seed, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			file := filepath.Join(data, "f")
			writeFile(t, file, "host data\n")
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(file, old, old); err != nil {
				t.Fatal(err)
			}
			g, audit := escapeGuest(t)
			g.Mounts = append(g.Mounts, data+":/data")
			g.Test = t.Name()
			w := watchTree(audit)
			res := harness.Run(harness.Cmd{
				Argv:    g.Argv(litebox(t), "/work/escape_fuzz", seed),
				Env:     append(os.Environ(), hostOnlyVar+"=leaked"),
				Dir:     t.TempDir(),
				Timeout: 3 * time.Minute,
			})
			_, stubs, _ := w.finish()
			if res.Err != nil {
				t.Fatalf("litebox: %v\n%s", res.Err, res)
			}
			checkNoPanic(t, res)
			for _, marker := range []string{"goroutine ", "panic:"} {
				if bytes.Contains(res.Stderr, []byte(marker)) {
					t.Errorf("stderr contains %q", marker)
				}
			}
			checkExitedNormally(t, res)
			if res.ExitCode != 0 || !bytes.HasSuffix(res.Stdout, []byte("\ndone\n")) {
				t.Errorf("want exit 0 and \"done\" last:\n%s", res)
			}
			sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
			for sc.Scan() {
				if line := sc.Text(); line != "done" {
					t.Logf("guest: %s", line)
				}
			}
			t.Logf("took %v", res.Duration.Round(time.Millisecond))

			if st, err := os.Stat(file); err != nil {
				t.Errorf("host file in the read-only mount: %v", err)
			} else if !st.ModTime().Equal(old) {
				t.Errorf("host file in the read-only mount: mtime %v, want %v", st.ModTime(), old)
			}
			checkHostDir(t, data, map[string]string{"f": "host data\n"})
			checkStubsGone(t, stubs)
		})
	}
}

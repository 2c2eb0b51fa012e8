package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests drive the built binary as an engine does: the test process
// is a child subreaper (as conmon and containerd-shim are), so the
// supervisor create leaves behind becomes its child, and the test waits
// on the pid in --pid-file to learn how the container ended. Guests run on
// $LITEBOX_PLATFORM (the supervisor inherits it) or the default.

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "litebox-runtime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "litebox-runtime")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building litebox-runtime: %v\n%s", err, out)
		os.Exit(1)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// busybox is the static busybox the bundles' rootfs holds.
func busybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		out, err := exec.Command("file", "-L", p).Output()
		if err == nil && bytes.Contains(out, []byte("statically linked")) {
			return p
		}
	}
	if os.Getenv("LITEBOX_REQUIRE_ALL") == "1" {
		t.Fatal("needs a static busybox (Debian: busybox-static); LITEBOX_REQUIRE_ALL=1 makes that a failure")
	}
	t.Skip("needs a static busybox (Debian: busybox-static)")
	return ""
}

// env is one test's runtime root and bundle.
type env struct {
	t      *testing.T
	root   string
	bundle string
}

// newEnv makes a bundle whose rootfs is /bin/busybox with its applets
// linked in /bin, and whose config.json is runc spec's default (as
// written here) with process set by mod.
func newEnv(t *testing.T, args []string, mod func(map[string]any)) *env {
	t.Helper()
	bb := busybox(t)
	dir := t.TempDir()
	e := &env{t: t, root: filepath.Join(dir, "root"), bundle: filepath.Join(dir, "bundle")}
	// A test that fails between create and delete must not leave its
	// supervisors behind (a created container waits for start forever,
	// as runc's does): every container of the root is force-deleted.
	t.Cleanup(func() {
		ents, _ := os.ReadDir(e.root)
		for _, ent := range ents {
			if ent.IsDir() {
				_ = exec.Command(bin, "--root", e.root, "delete", "--force", ent.Name()).Run()
			}
		}
	})
	rootfs := filepath.Join(e.bundle, "rootfs")
	for _, d := range []string{"bin", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "echo", "sleep", "cat", "id", "true", "false", "ls", "grep", "hostname", "tty", "stty"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	e.writeConfig(args, mod)
	return e
}

func (e *env) writeConfig(args []string, mod func(map[string]any)) {
	cfg := map[string]any{
		"ociVersion": "1.0.2-dev",
		"process": map[string]any{
			"terminal": false, "user": map[string]any{"uid": 0, "gid": 0},
			"args": args, "env": []string{"PATH=/bin", "TERM=xterm"}, "cwd": "/",
		},
		"root":     map[string]any{"path": "rootfs", "readonly": true},
		"hostname": "runc",
	}
	if mod != nil {
		mod(cfg)
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(e.bundle, "config.json"), b, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// result is one call of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary with --root and args; stdio as given (nil: none).
// Its output goes to files, not pipes: a supervisor create starts keeps
// the stdio it inherited for the container's life, so a pipe would not
// see its end when create exits.
func (e *env) run(stdin, stdout *os.File, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(bin, append([]string{"--root", e.root}, args...)...)
	dir := e.t.TempDir()
	so, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer so.Close()
	se, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer se.Close()
	cmd.Stderr = se
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = so
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("running %v: %v", args, err)
	}
	o, _ := os.ReadFile(so.Name())
	er, _ := os.ReadFile(se.Name())
	return result{string(o), string(er), code}
}

func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(nil, nil, args...)
	if r.code != 0 {
		e.t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

type state struct {
	OCIVersion string `json:"ociVersion"`
	ID         string `json:"id"`
	Pid        int    `json:"pid"`
	Status     string `json:"status"`
	Bundle     string `json:"bundle"`
	Rootfs     string `json:"rootfs"`
}

func (e *env) state(id string) state {
	e.t.Helper()
	var st state
	out := e.ok("state", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("state %s: %v: %q", id, err, out)
	}
	return st
}

// create creates id with the container's stdout going to a file; it
// returns the pid from --pid-file and the output file.
func (e *env) create(id string, extra ...string) (int, string) {
	e.t.Helper()
	outPath := filepath.Join(e.t.TempDir(), "out")
	out, err := os.Create(outPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	pidFile := filepath.Join(e.t.TempDir(), "pid")
	args := append([]string{"create", "--bundle", e.bundle, "--pid-file", pidFile}, extra...)
	r := e.run(nil, out, append(args, id)...)
	if r.code != 0 {
		e.t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		e.t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		e.t.Fatalf("pid file %q: %v", b, err)
	}
	return pid, outPath
}

// wait reaps pid (a child of ours: we are the subreaper).
func wait(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	done := make(chan error, 1)
	go func() {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wait4(%d): %v", pid, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("pid %d did not end", pid)
	}
	return ws
}

// native runs the same busybox command on the host, for the expected
// output and status.
func native(t *testing.T, args ...string) (string, syscall.WaitStatus) {
	t.Helper()
	cmd := exec.Command(busybox(t), args...)
	out, err := cmd.Output()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return string(out), cmd.ProcessState.Sys().(syscall.WaitStatus)
}

func TestLifecycleExitStatus(t *testing.T) {
	script := `echo hello; echo $((6*7)); exit 3`
	e := newEnv(t, []string{"/bin/busybox", "sh", "-c", script}, nil)
	pid, outPath := e.create("c1")
	st := e.state("c1")
	if st.Status != "created" || st.Pid != pid || st.ID != "c1" || st.Bundle != e.bundle ||
		st.Rootfs != filepath.Join(e.bundle, "rootfs") || st.OCIVersion == "" {
		t.Fatalf("state after create: %+v (pid file %d)", st, pid)
	}
	if err := unix.Kill(pid, 0); err != nil {
		t.Fatalf("the pid-file pid is not alive: %v", err)
	}
	e.ok("start", "c1")
	ws := wait(t, pid)
	wantOut, wantWS := native(t, "sh", "-c", script)
	got, _ := os.ReadFile(outPath)
	if string(got) != wantOut || ws != wantWS {
		t.Fatalf("container: %q, status %#x; native: %q, status %#x", got, ws, wantOut, wantWS)
	}
	if st := e.state("c1"); st.Status != "stopped" || st.Pid != 0 {
		t.Fatalf("state after exit: %+v", st)
	}
	if r := e.run(nil, nil, "start", "c1"); r.code == 0 || !strings.Contains(r.stderr, "cannot start a container that has stopped") {
		t.Fatalf("start of a stopped container: %+v", r)
	}
	e.ok("delete", "c1")
	if r := e.run(nil, nil, "state", "c1"); r.code != 1 || !strings.Contains(r.stderr, "container does not exist") {
		t.Fatalf("state after delete: %+v", r)
	}
}

func TestKillSignals(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sleep", "100"}, nil)
	pid, _ := e.create("k1")
	e.ok("start", "k1")
	if st := e.state("k1"); st.Status != "running" || st.Pid != pid {
		t.Fatalf("state after start: %+v", st)
	}
	if r := e.run(nil, nil, "start", "k1"); r.code == 0 || !strings.Contains(r.stderr, "cannot start an already running container") {
		t.Fatalf("second start: %+v", r)
	}
	e.ok("kill", "k1", "KILL")
	if ws := wait(t, pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("after kill KILL: status %#x, want killed by SIGKILL", ws)
	}
	if st := e.state("k1"); st.Status != "stopped" {
		t.Fatalf("state after kill: %+v", st)
	}
	// runc: kill of a stopped container fails.
	if r := e.run(nil, nil, "kill", "k1", "KILL"); r.code != 1 || !strings.Contains(r.stderr, "container not running") {
		t.Fatalf("kill of a stopped container: %+v", r)
	}
	e.ok("delete", "k1")

	// Death by a signal the Go runtime handles itself (SIGSEGV), and by
	// an ordinary one, reaches the waiting parent as that signal: an
	// exec'd shell that kills itself (not the container's init, which
	// Linux would shield from its own signals), its status through the
	// exec proxy compared with the same shell run natively.
	pid, _ = e.create("s")
	e.ok("start", "s")
	for _, sig := range []string{"SEGV", "INT", "TERM"} {
		script := "kill -" + sig + " $$; echo survived"
		_, want := native(t, "sh", "-c", script)
		pidFile := filepath.Join(t.TempDir(), "p")
		e.ok("exec", "-d", "--pid-file", pidFile, "s", "sh", "-c", script)
		b, _ := os.ReadFile(pidFile)
		proxy, _ := strconv.Atoi(string(b))
		if ws := wait(t, proxy); ws&0x7f != want&0x7f || !ws.Signaled() {
			t.Fatalf("exec'd sh killed by %s: status %#x, native %#x", sig, ws, want)
		}
	}
	e.ok("delete", "-f", "s")
	wait(t, pid)

	// A handled signal reaches the process, which decides its exit: by
	// number, by SIG-less name, by full name.
	for _, sig := range []string{"15", "TERM", "SIGTERM"} {
		script := `trap "echo got; exit 7" TERM; echo ready; while :; do sleep 0.05; done`
		e.writeConfig([]string{"/bin/busybox", "sh", "-c", script}, nil)
		id := "t" + sig
		pid, outPath := e.create(id)
		e.ok("start", id)
		waitFor(t, outPath, "ready\n")
		e.ok("kill", id, sig)
		if ws := wait(t, pid); !ws.Exited() || ws.ExitStatus() != 7 {
			t.Fatalf("kill %s: status %#x, want exit 7", sig, ws)
		}
		if got, _ := os.ReadFile(outPath); string(got) != "ready\ngot\n" {
			t.Fatalf("kill %s: output %q", sig, got)
		}
		e.ok("delete", id)
	}
}

// waitFor waits until the file at path holds want.
func waitFor(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %q", path, b, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKillCreatedAndDelete(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sleep", "100"}, nil)
	// kill before start ends the container as killed by the signal.
	pid, _ := e.create("a")
	e.ok("kill", "a", "TERM")
	if ws := wait(t, pid); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("kill of a created container: status %#x", ws)
	}
	e.ok("delete", "a")

	// delete of a created container kills it.
	pid, _ = e.create("b")
	e.ok("delete", "b")
	if ws := wait(t, pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("delete of a created container: status %#x", ws)
	}

	// delete of a running one needs --force.
	pid, _ = e.create("c")
	e.ok("start", "c")
	r := e.run(nil, nil, "delete", "c")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot delete container c that is not stopped: running") {
		t.Fatalf("delete of a running container: %+v", r)
	}
	if st := e.state("c"); st.Status != "running" {
		t.Fatalf("after a refused delete: %+v", st)
	}
	e.ok("delete", "--force", "c")
	if ws := wait(t, pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("delete --force: status %#x", ws)
	}
	if r := e.run(nil, nil, "state", "c"); r.code != 1 {
		t.Fatalf("state after delete --force: %+v", r)
	}
	if ids := e.ok("list", "-q"); ids != "" {
		t.Fatalf("list after deletes: %q", ids)
	}
}

func TestConcurrentCalls(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sleep", "100"}, nil)
	// Two creates of one id: exactly one wins.
	var wg sync.WaitGroup
	codes := make([]result, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.run(nil, nil, "create", "--bundle", e.bundle, "--pid-file",
				filepath.Join(e.root+"-pid"+strconv.Itoa(i)), "same")
		}()
	}
	wg.Wait()
	won := 0
	for _, r := range codes {
		if r.code == 0 {
			won++
		} else if !strings.Contains(r.stderr, "container with given ID already exists") {
			t.Fatalf("losing create: %+v", r)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates of one id succeeded: %+v", won, codes)
	}
	e.ok("start", "same")
	// Many states and a kill at once: every state is valid JSON and says
	// running or stopped; the kill lands once.
	var mu sync.Mutex
	var bad []string
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.run(nil, nil, "state", "same")
			var st state
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || (st.Status != "running" && st.Status != "stopped") {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%+v", r))
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if r := e.run(nil, nil, "kill", "same", "KILL"); r.code != 0 {
			mu.Lock()
			bad = append(bad, "kill: "+r.stderr)
			mu.Unlock()
		}
	}()
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("concurrent calls: %v", bad)
	}
	pid := 0
	for i := range codes {
		if b, err := os.ReadFile(e.root + "-pid" + strconv.Itoa(i)); err == nil {
			pid, _ = strconv.Atoi(string(b))
		}
	}
	if ws := wait(t, pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("status %#x", ws)
	}
	e.ok("delete", "same")
}

// recvMaster accepts one connection on the console socket and returns the
// pty master it carries.
func recvMaster(t *testing.T, ln *net.UnixListener) *os.File {
	t.Helper()
	_ = ln.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("console socket message: %v (%d)", err, len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("console socket rights: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), "master")
}

// expect reads from r until want has been seen.
func expect(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading the terminal: %v after %q (want %q)", err, got.String(), want)
		}
		got.WriteByte(b)
	}
}

func TestConsoleSocket(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sh"}, func(c map[string]any) {
		p := c["process"].(map[string]any)
		p["terminal"] = true
		p["consoleSize"] = map[string]any{"height": 30, "width": 100}
	})
	sock := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	masterCh := make(chan *os.File, 1)
	go func() { masterCh <- recvMaster(t, ln) }()
	// create's output read to its end, as go-runc (containerd's shim)
	// reads it for a terminal container: it must end with create, not
	// with the container.
	pidFile := filepath.Join(t.TempDir(), "pid")
	cr := exec.Command(bin, "--root", e.root, "create", "--bundle", e.bundle, "--pid-file", pidFile,
		"--console-socket", sock, "tty")
	done := make(chan error, 1)
	go func() { _, err := cr.CombinedOutput(); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("create's output did not end with create (the supervisor kept it)")
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(string(b))
	master := <-masterCh
	defer master.Close()
	// The master is a host pty: its window size is consoleSize.
	ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row != 30 || ws.Col != 100 {
		t.Fatalf("pty size: %+v %v", ws, err)
	}
	e.ok("start", "tty")
	r := bufio.NewReader(master)
	// The guest's stdin is a terminal of its own kernel, sized as asked.
	if _, err := master.WriteString("[ -t 0 ] && stty size && echo $((6*7))x\n"); err != nil {
		t.Fatal(err)
	}
	expect(t, r, "30 100")
	expect(t, r, "42x")
	if _, err := master.WriteString("exit 5\n"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, pid); !st.Exited() || st.ExitStatus() != 5 {
		t.Fatalf("status %#x, want exit 5", st)
	}
	e.ok("delete", "tty")
	// terminal without a console socket, and a socket without a
	// terminal, are refused as runc refuses them.
	if r := e.run(nil, nil, "create", "--bundle", e.bundle, "x"); r.code != 1 ||
		!strings.Contains(r.stderr, "console socket") {
		t.Fatalf("terminal without --console-socket: %+v", r)
	}
}

func writeProcess(t *testing.T, p map[string]any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "process.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExec(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sh", "-c", "echo main > /tmp/shared; sleep 100"}, func(c map[string]any) {
		c["root"].(map[string]any)["readonly"] = false
	})
	pid, _ := e.create("ex")
	if r := e.run(nil, nil, "exec", "ex", "true"); r.code != 1 || !strings.Contains(r.stderr, "not started") {
		t.Fatalf("exec in a created container: %+v", r)
	}
	e.ok("start", "ex")
	script := `cat /tmp/shared; echo $FOO; read line; echo "in:$line"; exit 4`
	proc := writeProcess(t, map[string]any{"args": []string{"sh", "-c", script},
		"env": []string{"PATH=/bin", "FOO=bar"}, "cwd": "/", "user": map[string]any{"uid": 0, "gid": 0}})

	// Attached: this process's stdio, its status.
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The main process writes /tmp/shared just after start.
		if r := e.run(nil, nil, "exec", "ex", "cat", "/tmp/shared"); r.code == 0 && r.stdout == "main\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/tmp/shared never appeared")
		}
		time.Sleep(50 * time.Millisecond)
	}
	in, err := os.CreateTemp(t.TempDir(), "in")
	if err != nil {
		t.Fatal(err)
	}
	in.WriteString("typed\n")
	in.Seek(0, 0)
	r := e.run(in, nil, "exec", "--process", proc, "ex")
	want := "main\nbar\nin:typed\n"
	if r.code != 4 || r.stdout != want {
		t.Fatalf("exec: %+v, want exit 4 and %q", r, want)
	}

	// Detached: the proxy in --pid-file is ours to reap and exits as the
	// command did; the output is on the stdio given to exec.
	in.Seek(0, 0)
	outPath := filepath.Join(t.TempDir(), "out")
	out, _ := os.Create(outPath)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	if r := e.run(in, out, "exec", "--detach", "--pid-file", pidFile, "--process", proc, "ex"); r.code != 0 {
		t.Fatalf("exec --detach: %+v", r)
	}
	out.Close()
	b, _ := os.ReadFile(pidFile)
	proxy, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("exec pid file %q", b)
	}
	if ws := wait(t, proxy); !ws.Exited() || ws.ExitStatus() != 4 {
		t.Fatalf("detached exec: status %#x", ws)
	}
	if got, _ := os.ReadFile(outPath); string(got) != want {
		t.Fatalf("detached exec output %q, want %q", got, want)
	}

	// A command that ends at once: its {"exit"} can come with its
	// {"pid"}, and the proxy must still see it (exit 0, not killed).
	for i := 0; i < 5; i++ {
		pf := filepath.Join(t.TempDir(), "quick.pid")
		if r := e.run(nil, nil, "exec", "-d", "--pid-file", pf, "ex", "true"); r.code != 0 {
			t.Fatalf("exec -d true: %+v", r)
		}
		b, _ := os.ReadFile(pf)
		p, _ := strconv.Atoi(string(b))
		if ws := wait(t, p); ws != 0 {
			t.Fatalf("exec -d true, run %d: status %#x", i, ws)
		}
	}

	// A signal to the proxy reaches the command (killed by it).
	pidFile2 := filepath.Join(t.TempDir(), "exec2.pid")
	if r := e.run(nil, nil, "exec", "-d", "--pid-file", pidFile2, "ex", "sleep", "100"); r.code != 0 {
		t.Fatalf("exec -d: %+v", r)
	}
	b, _ = os.ReadFile(pidFile2)
	proxy, _ = strconv.Atoi(string(b))
	_ = unix.Kill(proxy, unix.SIGTERM)
	if ws := wait(t, proxy); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("signalled exec: status %#x", ws)
	}
	// A missing program: one line, exit 1, the container goes on.
	if r := e.run(nil, nil, "exec", "ex", "nosuchprog"); r.code != 1 || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, "executable file not found") {
		t.Fatalf("exec of a missing program: %+v", r)
	}
	if st := e.state("ex"); st.Status != "running" {
		t.Fatalf("after the execs: %+v", st)
	}

	// ps: the container's host pid.
	var pids []int
	if err := json.Unmarshal([]byte(e.ok("ps", "--format", "json", "ex")), &pids); err != nil || len(pids) != 1 || pids[0] != pid {
		t.Fatalf("ps json: %v %v (pid %d)", pids, err, pid)
	}
	if tbl := e.ok("ps", "ex"); !strings.Contains(tbl, "PID") || !strings.Contains(tbl, strconv.Itoa(pid)) {
		t.Fatalf("ps table: %q", tbl)
	}
	e.ok("kill", "ex", "KILL")
	wait(t, pid)
	if r := e.run(nil, nil, "exec", "ex", "true"); r.code != 1 || !strings.Contains(r.stderr, "stopped") {
		t.Fatalf("exec in a stopped container: %+v", r)
	}
	e.ok("delete", "ex")
}

func TestRun(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sh", "-c", "echo ran; exit 9"}, nil)
	outPath := filepath.Join(t.TempDir(), "out")
	out, _ := os.Create(outPath)
	defer out.Close()
	r := e.run(nil, out, "run", "--bundle", e.bundle, "r1")
	if got, _ := os.ReadFile(outPath); r.code != 9 || string(got) != "ran\n" {
		t.Fatalf("run: %+v, output %q", r, got)
	}
	if r := e.run(nil, nil, "state", "r1"); r.code != 1 {
		t.Fatalf("run left the container: %+v", r)
	}
}

func TestVersionFeatures(t *testing.T) {
	e := &env{t: t, root: t.TempDir()}
	v := e.ok("--version")
	lines := strings.Split(strings.TrimSuffix(v, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "litebox-runtime version ") ||
		!strings.HasPrefix(lines[1], "commit: ") || lines[2] != "spec: 1.2.1" {
		t.Fatalf("--version: %q", v)
	}
	var f struct {
		OCIVersionMin, OCIVersionMax string
		Hooks                        []string
		MountOptions                 []string
		Linux                        struct{ Namespaces []string }
	}
	if err := json.Unmarshal([]byte(e.ok("features")), &f); err != nil || f.OCIVersionMin != "1.0.0" ||
		f.OCIVersionMax != "1.2.1" || len(f.MountOptions) == 0 || len(f.Linux.Namespaces) == 0 || f.Hooks == nil {
		t.Fatalf("features: %+v %v", f, err)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "true"}, nil)
	bad := filepath.Join(t.TempDir(), "bad")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "config.json"), []byte("{not json"), 0o644)
	noArgs := filepath.Join(t.TempDir(), "noargs")
	os.MkdirAll(filepath.Join(noArgs, "rootfs"), 0o755)
	os.WriteFile(filepath.Join(noArgs, "config.json"), []byte(`{"ociVersion":"1.0.2","process":{"args":[],"cwd":"/"},"root":{"path":"rootfs"}}`), 0o644)
	noProg := filepath.Join(t.TempDir(), "noprog")
	os.MkdirAll(filepath.Join(noProg, "rootfs"), 0o755)
	os.WriteFile(filepath.Join(noProg, "config.json"), []byte(`{"ociVersion":"1.0.2","process":{"args":["/bin/nothere"],"cwd":"/"},"root":{"path":"rootfs"}}`), 0o644)
	e.create("exists")
	defer e.run(nil, nil, "delete", "--force", "exists")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--bundle", "/nonexistent", "x"}, "/nonexistent: no such file or directory"},
		{[]string{"create", "--bundle", bad, "x"}, "config.json: invalid OCI spec: line 1, column 2"},
		{[]string{"create", "--bundle", noArgs, "x"}, "process.args is empty"},
		{[]string{"create", "--bundle", noProg, "x"}, "stat /bin/nothere: no such file or directory"},
		{[]string{"create", "--bundle", e.bundle, "exists"}, "container with given ID already exists"},
		{[]string{"create", "--bundle", e.bundle, "../escape"}, "invalid container id format: ../escape"},
		{[]string{"create", "--bundle", e.bundle}, "requires exactly 1 argument"},
		{[]string{"state", "nosuch"}, "container does not exist"},
		{[]string{"start", "nosuch"}, "container does not exist"},
		{[]string{"kill", "nosuch", "KILL"}, "container does not exist"},
		{[]string{"delete", "nosuch"}, "container does not exist"},
		{[]string{"exec", "nosuch", "true"}, "container does not exist"},
		{[]string{"kill", "exists", "NOPE"}, "unknown signal"},
		{[]string{"kill", "exists", "99"}, "invalid signal: 99"},
		{[]string{"exec", "--process", "/nonexistent.json", "exists"}, "--process: open /nonexistent.json: no such file or directory"},
		{[]string{"ps", "--format", "yaml", "exists"}, "invalid format option: yaml"},
		{[]string{"--log-format", "xml", "state", "exists"}, "invalid log-format: xml"},
		{[]string{"nosuchcommand"}, "unknown command"},
		{[]string{"pause", "exists"}, "pause is not supported by litebox-runtime"},
		{[]string{"update", "--resources", "-", "exists"}, "update is not supported by litebox-runtime"},
	} {
		r := e.run(nil, nil, tc.args...)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	// Nothing was left behind by the failed creates.
	if ids := e.ok("list", "-q"); ids != "exists\n" {
		t.Errorf("list after the failed creates: %q", ids)
	}
	// --log --log-format json: runc's JSON lines in the file, nothing on
	// stderr.
	logf := filepath.Join(t.TempDir(), "log.json")
	r := e.run(nil, nil, "--log", logf, "--log-format", "json", "state", "nosuch")
	b, _ := os.ReadFile(logf)
	var line struct{ Level, Msg, Time string }
	if r.code != 1 || r.stderr != "" || json.Unmarshal(b, &line) != nil || line.Level != "error" ||
		line.Msg != "container does not exist" || !strings.HasSuffix(line.Time, "Z") {
		t.Errorf("--log json: %+v, log %q", r, b)
	}
}

// TestRuncSpecBundle runs the config.json `runc spec` writes (its mounts,
// capabilities, rlimits, hostname; terminal off), as engines hand
// runtimes such bundles.
func TestRuncSpecBundle(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("needs runc for `runc spec`")
	}
	e := newEnv(t, nil, nil)
	os.Remove(filepath.Join(e.bundle, "config.json")) // runc spec does not overwrite
	if out, err := exec.Command("runc", "spec", "--bundle", e.bundle).CombinedOutput(); err != nil {
		t.Skipf("runc spec: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(e.bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	p := cfg["process"].(map[string]any)
	p["terminal"] = false
	script := `echo $(hostname) $(id -u) $(cat /proc/self/status | grep ^CapEff); ulimit -n`
	p["args"] = []string{"sh", "-c", script}
	b, _ = json.Marshal(cfg)
	os.WriteFile(filepath.Join(e.bundle, "config.json"), b, 0o644)
	// The same bundle under runc itself (it needs root and a kernel
	// that lets it make namespaces): hostname runc, uid 0, runc spec's
	// effective set, RLIMIT_NOFILE 1024.
	rc := exec.Command("runc", "--root", t.TempDir(), "run", "--bundle", e.bundle, "rs-runc")
	want, err := rc.Output()
	if err != nil {
		t.Skipf("runc run (the baseline) fails here: %v", err)
	}
	if !strings.HasPrefix(string(want), "runc 0 CapEff: ") {
		t.Fatalf("runc's baseline: %q", want)
	}
	pid, outPath := e.create("rs")
	e.ok("start", "rs")
	if ws := wait(t, pid); ws != 0 {
		t.Fatalf("status %#x", ws)
	}
	got, _ := os.ReadFile(outPath)
	if string(got) != string(want) {
		t.Fatalf("runc spec bundle: %q, runc: %q", got, want)
	}
	e.ok("delete", "rs")
}

func TestExecUserAndTTY(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sleep", "100"}, nil)
	pid, _ := e.create("eu")
	e.ok("start", "eu")
	defer func() { e.run(nil, nil, "delete", "-f", "eu"); wait(t, pid) }()
	// process.user of the exec, and --user on the command line.
	ids := "id -u; id -g; id -G"
	proc := writeProcess(t, map[string]any{"args": []string{"sh", "-c", ids}, "env": []string{"PATH=/bin"}, "cwd": "/",
		"user": map[string]any{"uid": 1000, "gid": 1000, "additionalGids": []int{5, 7}}})
	// Natively, as runc would run it: setgroups(additionalGids), then
	// setgid, setuid.
	nat := exec.Command(busybox(t), "sh", "-c", ids)
	nat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000, Groups: []uint32{5, 7}}}
	want, err := nat.Output()
	if err != nil {
		t.Fatal(err)
	}
	if r := e.run(nil, nil, "exec", "--process", proc, "eu"); r.code != 0 || r.stdout != string(want) {
		t.Fatalf("exec as 1000: %+v, native %q", r, want)
	}
	// No HOME in the exec's environment: the user's from the image's
	// /etc/passwd, as runc sets it.
	os.WriteFile(filepath.Join(e.bundle, "rootfs/etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"), 0o644)
	homeProc := writeProcess(t, map[string]any{"args": []string{"sh", "-c", "echo $HOME"}, "env": []string{"PATH=/bin"},
		"cwd": "/", "user": map[string]any{"uid": 1000, "gid": 1000}})
	if r := e.run(nil, nil, "exec", "--process", homeProc, "eu"); r.code != 0 || r.stdout != "/home/u\n" {
		t.Fatalf("exec's HOME: %+v", r)
	}
	if r := e.run(nil, nil, "exec", "--user", "33:44", "eu", "id", "-u"); r.code != 0 || r.stdout != "33\n" {
		t.Fatalf("exec --user 33:44: %+v", r)
	}
	// A terminal on the exec's console socket.
	sock := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	masterCh := make(chan *os.File, 1)
	go func() { masterCh <- recvMaster(t, ln) }()
	pidFile := filepath.Join(t.TempDir(), "p")
	if r := e.run(nil, nil, "exec", "-d", "-t", "--console-socket", sock, "--pid-file", pidFile, "eu", "sh"); r.code != 0 {
		t.Fatalf("exec -t: %+v", r)
	}
	master := <-masterCh
	defer master.Close()
	b, _ := os.ReadFile(pidFile)
	proxy, _ := strconv.Atoi(string(b))
	master.WriteString("tty; exit 6\n")
	expect(t, bufio.NewReader(master), "/dev/pts/")
	if ws := wait(t, proxy); !ws.Exited() || ws.ExitStatus() != 6 {
		t.Fatalf("exec -t: status %#x", ws)
	}
}

// TestLongRoot: a control socket path longer than a socket address holds
// (a deep --root, a long id) still works: create, exec, kill, delete.
func TestLongRoot(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sleep", "100"}, nil)
	e.root = filepath.Join(t.TempDir(), strings.Repeat("r", 100))
	id := strings.Repeat("i", 64)
	pid, _ := e.create(id)
	e.ok("start", id)
	if r := e.run(nil, nil, "exec", id, "echo", "long"); r.code != 0 || r.stdout != "long\n" {
		t.Fatalf("exec: %+v", r)
	}
	e.ok("kill", id, "KILL")
	wait(t, pid)
	e.ok("delete", id)
}

// TestNetNS: the network namespace a bundle names (as engines give it) is
// the container's network: the guest sees its interface and address, and
// a guest server is reached from the host over the veth, as a runc
// container's would be.
func TestNetNS(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("needs " + tool)
		}
	}
	ns := fmt.Sprintf("lbrt%d", os.Getpid())
	host, peer := ns+"h", "eth0"
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("ip %v: %v: %s", args, err, out)
		}
	}
	sh("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run(); exec.Command("ip", "link", "del", host).Run() })
	sh("link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
	sh("addr", "add", "10.231.7.1/24", "dev", host)
	sh("link", "set", host, "up")
	sh("-n", ns, "addr", "add", "10.231.7.2/24", "dev", peer)
	sh("-n", ns, "link", "set", peer, "up")
	script := `ip -4 addr show eth0 | grep -o 'inet [0-9./]*'; mkdir -p /tmp/www; echo hello-netns > /tmp/www/index.html; exec busybox httpd -f -p 8080 -h /tmp/www`
	e := newEnv(t, []string{"/bin/busybox", "sh", "-c", script}, func(c map[string]any) {
		c["linux"] = map[string]any{"namespaces": []map[string]any{{"type": "pid"}, {"type": "mount"},
			{"type": "network", "path": "/run/netns/" + ns}}}
		// The root is the read-only rootfs itself: /tmp is a tmpfs of the
		// config's, as podman --read-only gives one.
		c["mounts"] = []map[string]any{{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}}
	})
	if err := os.Symlink("busybox", filepath.Join(e.bundle, "rootfs/bin/ip")); err != nil {
		t.Fatal(err)
	}
	pid, outPath := e.create("net")
	e.ok("start", "net")
	defer func() { e.run(nil, nil, "delete", "-f", "net"); wait(t, pid) }()
	waitFor(t, outPath, "inet 10.231.7.2/24\n")
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command("curl", "-s", "-m", "2", "http://10.231.7.2:8080/").Output()
		if err == nil {
			body = string(out)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != "hello-netns\n" {
		t.Fatalf("the guest's server over the veth: %q", body)
	}
}

// TestKillInit: the container's first process is its init, which a
// signal from outside (the runtime's kill, an ancestor pid namespace's)
// reaches only if it has a handler, except SIGKILL and SIGSTOP, as under
// runc: kill TERM, INT, HUP and kill --all TERM leave a handler-less sleep
// running (podman stop then needs its SIGKILL), STOP stops it, CONT
// resumes it, KILL ends it. TestKillSignals has the handled TERM.
func TestKillInit(t *testing.T) {
	e := newEnv(t, []string{"/bin/busybox", "sleep", "1000"}, nil)
	pid, _ := e.create("i")
	e.ok("start", "i")
	exited := make(chan syscall.WaitStatus, 1)
	go func() { exited <- wait(t, pid) }()
	stillRunning := func(after string) {
		t.Helper()
		select {
		case ws := <-exited:
			t.Fatalf("after %s: the container ended, status %#x", after, ws)
		case <-time.After(300 * time.Millisecond):
		}
		if st := e.state("i"); st.Status != "running" {
			t.Fatalf("after %s: %+v, want running", after, st)
		}
	}
	for _, args := range [][]string{{"TERM"}, {"INT"}, {"HUP"}, {"--all", "TERM"}} {
		e.ok(append([]string{"kill"}, append(args[:len(args)-1:len(args)-1], "i", args[len(args)-1])...)...)
		stillRunning("kill " + strings.Join(args, " "))
	}
	e.ok("kill", "i", "STOP")
	if !waitStopped(t, e, "i", true) {
		t.Fatal("kill STOP: the container's process did not stop")
	}
	e.ok("kill", "i", "CONT")
	if !waitStopped(t, e, "i", false) {
		t.Fatal("kill CONT: the container's process did not resume")
	}
	e.ok("kill", "i", "KILL")
	select {
	case ws := <-exited:
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("after kill KILL: status %#x, want killed by SIGKILL", ws)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("kill KILL did not end the container")
	}
	e.ok("delete", "i")
}

// waitStopped waits until the container's pid 1 is stopped (or, with
// stopped false, is not), as an exec'd grep reads its State in
// /proc/1/status ("T (stopped)").
func waitStopped(t *testing.T, e *env, id string, stopped bool) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out := e.ok("exec", id, "/bin/busybox", "grep", "State:", "/proc/1/status")
		if f := strings.Fields(out); len(f) > 1 && (f[1] == "T") == stopped {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// TestKillAll: `kill` signals the container's first process only, `kill
// --all` every process of the container, as runc signals its cgroup. The
// first process ignores TERM and waits for a child that does not: a plain
// kill TERM changes nothing, kill --all TERM ends the child, so the
// shell's wait returns 128+15 and the container exits with it.
func TestKillAll(t *testing.T) {
	// The trap comes after the fork: an ignored signal stays ignored in
	// a child (across exec too), and the child must not ignore TERM.
	script := `/bin/busybox sleep 1000 & trap "" TERM; echo started; wait $!; echo "wait $?"; exit 9`
	e := newEnv(t, []string{"/bin/busybox", "sh", "-c", script}, nil)
	pid, outPath := e.create("ka")
	e.ok("start", "ka")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(outPath); strings.Contains(string(b), "started") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container's child never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.ok("kill", "ka", "TERM")
	time.Sleep(300 * time.Millisecond)
	if st := e.state("ka"); st.Status != "running" {
		t.Fatalf("after kill TERM of a first process that ignores it: %+v, want running", st)
	}
	e.ok("kill", "--all", "ka", "TERM")
	ws := wait(t, pid)
	got, _ := os.ReadFile(outPath)
	if ws.Signaled() || ws.ExitStatus() != 9 || string(got) != "started\nwait 143\n" {
		t.Fatalf("after kill --all TERM: status %#x, output %q; want exit 9 after \"wait 143\"", ws, got)
	}
	e.ok("delete", "ka")
}

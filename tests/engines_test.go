package tests

// Container engines running containers in LiteBox through litebox-runtime
// (issue 14): Podman, containerd 1.6 (ctr) and Docker, each started by the
// test with stores of its own, the image made by the test (`podman import`
// of a busybox-static root tar). Every case runs the same engine command
// with a peer runtime that works on this machine (crun/runc under
// containerd; under Podman crun/runc when they can, else runsc) and
// compares output and exit status. `make test` runs TestPodmanRun and
// TestContainerdRun; `make engines` the long set (LITEBOX_ENGINES=long).

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
	"github.com/litebox-go/litebox/tests/imagefixture"
)

// platformAnnotation selects litebox's platform for the container
// (LITEBOX_PLATFORM as the other tests).
func platformAnnotation() []string {
	if p := os.Getenv("LITEBOX_PLATFORM"); p != "" {
		return []string{"--annotation", "dev.litebox.platform=" + p}
	}
	return nil
}

type engineCase struct {
	name  string
	stdin []byte
	flags []string // podman run flags before the image
	cmd   []string
}

func podmanCases(vol string) []engineCase {
	return []engineCase{
		{name: "echo", cmd: []string{"echo", "hi"}},
		{name: "exit-code", cmd: []string{"sh", "-c", "echo out; exit 7"}},
		{name: "stdin", stdin: []byte("line one\nline two\n"), flags: []string{"-i"}, cmd: []string{"sh", "-c", "cat; echo done"}},
		{name: "env-workdir", flags: []string{"-e", "FOO=bar baz", "-w", "/tmp"}, cmd: []string{"sh", "-c", `echo "$FOO"; pwd`}},
		{name: "user", flags: []string{"--user", "65534:65534"}, cmd: []string{"id"}},
		{name: "bind-ro", flags: []string{"-v", vol + ":/data:ro"}, cmd: []string{"sh", "-c", "cat /data/f; echo x > /data/g; echo write=$?"}},
		{name: "bind-rw", flags: []string{"-v", vol + ":/data"}, cmd: []string{"sh", "-c", "echo from-guest > /data/w; cat /data/f; ls /data"}},
	}
}

// TestPodmanRun: `podman --runtime litebox-runtime run --rm IMAGE ...`
// against the same under the peer runtime.
func TestPodmanRun(t *testing.T) {
	rt := liteboxRuntime(t)
	p := newPodman(t)
	peer := p.peerRuntime(t)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "f"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := podmanCases(vol)
	if !enginesLong {
		cases = cases[:3]
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(append(append([]string{"run", "--rm"}, platformAnnotation()...), c.flags...), append([]string{testImage}, c.cmd...)...)
			got := p.run(t, rt, c.stdin, args...)
			// A write through the rw bind reaches the host directory.
			if c.name == "bind-rw" {
				if b, err := os.ReadFile(filepath.Join(vol, "w")); err != nil || string(b) != "from-guest\n" {
					t.Errorf("host side of the rw bind: %q, %v; want \"from-guest\\n\"", b, err)
				}
			}
			clean := func() { os.Remove(filepath.Join(vol, "w")); os.Remove(filepath.Join(vol, "g")) }
			clean()
			if peer == "" {
				t.Fatalf("no peer runtime runs here to compare with; litebox: exit %d %q %s", got.ExitCode, got.Stdout, got.Stderr)
			}
			want := p.run(t, peer, c.stdin, append([]string{"run", "--rm"}, append(c.flags, append([]string{testImage}, c.cmd...)...)...)...)
			clean()
			if string(got.Stdout) != string(want.Stdout) || got.ExitCode != want.ExitCode {
				t.Errorf("litebox-runtime: exit %d, stdout %q (stderr %q)\n%s: exit %d, stdout %q", got.ExitCode, got.Stdout, got.Stderr, peer, want.ExitCode, want.Stdout)
			}
		})
	}
}

// TestPodmanTTY: -t gives the container a terminal through the console
// socket; script(1) gives podman a terminal of its own.
func TestPodmanTTY(t *testing.T) {
	needEnginesLong(t)
	rt := liteboxRuntime(t)
	needTool(t, "script")
	p := newPodman(t)
	cmdline := strings.Join(p.argv(append(append(runtimeArgs(rt), "run", "--rm", "-t"), append(platformAnnotation(), testImage, "sh", "-c", "tty; stty size; echo tty-ok")...)...), " ")
	res := engineRun(t, nil, 0, "script", "-qec", cmdline, "/dev/null")
	out := strings.ReplaceAll(string(res.Stdout), "\r", "")
	if res.ExitCode != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "tty-ok") {
		t.Fatalf("podman run -t: exit %d, output %q", res.ExitCode, out)
	}
}

// TestPodmanLifecycle: a detached container seen by podman ps, exec into
// it (status and stdin), stop (SIGTERM handled; SIGTERM ignored, or not
// handled by pid 1, so SIGKILL after -t) and kill with a signal pid 1 does
// not handle (nothing happens, as under runc).
func TestPodmanLifecycle(t *testing.T) {
	needEnginesLong(t)
	rt := liteboxRuntime(t)
	p := newPodman(t)
	detached := func(name string, cmd ...string) {
		t.Helper()
		args := append(append([]string{"run", "-d", "--name", name}, platformAnnotation()...), append([]string{testImage}, cmd...)...)
		if res := p.run(t, rt, nil, args...); res.ExitCode != 0 {
			t.Fatalf("podman run -d %s: exit %d: %s", name, res.ExitCode, res.Stderr)
		}
	}
	state := func(name string) string {
		t.Helper()
		res := engineRun(t, nil, 0, p.argv("inspect", name, "--format", "{{.State.Status}} {{.State.ExitCode}}")...)
		return strings.TrimSpace(string(res.Stdout))
	}
	waitState := func(name, prefix string) string {
		t.Helper()
		var s string
		for i := 0; i < 100; i++ {
			if s = state(name); strings.HasPrefix(s, prefix) {
				return s
			}
			time.Sleep(100 * time.Millisecond)
		}
		return s
	}

	// SIGTERM ignored: podman stop must SIGKILL after -t. (A pid 1 with no
	// handler does the same, as Linux drops SIGTERM from outside its pid
	// namespace: c3 below.)
	detached("c1", "sh", "-c", `trap "" TERM; while true; do sleep 0.1; done`)
	if s := waitState("c1", "running"); !strings.HasPrefix(s, "running") {
		t.Fatalf("c1: %s, want running", s)
	}
	ps := engineRun(t, nil, 0, p.argv("ps", "--format", "{{.Names}} {{.Status}}")...)
	if !strings.Contains(string(ps.Stdout), "c1 Up") {
		t.Errorf("podman ps: %q, want c1 Up", ps.Stdout)
	}
	ex := engineRun(t, nil, 0, p.argv("exec", "c1", "sh", "-c", "echo in-exec; exit 3")...)
	if string(ex.Stdout) != "in-exec\n" || ex.ExitCode != 3 {
		t.Errorf("podman exec: exit %d stdout %q stderr %q, want 3 \"in-exec\\n\"", ex.ExitCode, ex.Stdout, ex.Stderr)
	}
	if s := state("c1"); !strings.HasPrefix(s, "running") {
		t.Fatalf("c1 after exec: %s, want still running", s)
	}
	ex = engineRun(t, []byte("to exec\n"), 0, p.argv("exec", "-i", "c1", "cat")...)
	if string(ex.Stdout) != "to exec\n" || ex.ExitCode != 0 {
		t.Errorf("podman exec -i: exit %d stdout %q stderr %q", ex.ExitCode, ex.Stdout, ex.Stderr)
	}
	start := time.Now()
	engineRun(t, nil, 0, p.argv("stop", "-t", "2", "c1")...)
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("podman stop -t 2 of a container ignoring SIGTERM took %v, want at least 2 s (SIGKILL after the grace period)", d)
	}
	if s := state("c1"); s != "exited 137" {
		t.Errorf("c1 after stop: %q, want \"exited 137\"", s)
	}

	detached("c2", "sh", "-c", `trap "echo got-term; exit 42" TERM; while true; do sleep 0.1; done`)
	waitState("c2", "running")
	time.Sleep(500 * time.Millisecond) // the trap is set
	engineRun(t, nil, 0, p.argv("stop", "-t", "10", "c2")...)
	if s := state("c2"); s != "exited 42" {
		t.Errorf("c2 after stop: %q, want \"exited 42\" (SIGTERM handled)", s)
	}
	if logs := engineRun(t, nil, 0, p.argv("logs", "c2")...); string(logs.Stdout) != "got-term\n" {
		t.Errorf("c2 logs: %q", logs.Stdout)
	}

	// A pid 1 without handlers, as under runc: podman kill -s USR1 and
	// the SIGTERM of podman stop do nothing (Linux gives a pid
	// namespace's init only the signals it handles, and SIGKILL), so stop
	// takes its grace period and ends it with SIGKILL.
	detached("c3", "sleep", "1000")
	waitState("c3", "running")
	engineRun(t, nil, 0, p.argv("kill", "-s", "USR1", "c3")...)
	time.Sleep(500 * time.Millisecond)
	if s := state("c3"); !strings.HasPrefix(s, "running") {
		t.Errorf("c3 after kill -s USR1: %q, want still running", s)
	}
	start = time.Now()
	engineRun(t, nil, 0, p.argv("stop", "-t", "2", "c3")...)
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("podman stop -t 2 of a handler-less sleep took %v, want at least 2 s (its SIGTERM dropped, SIGKILL after the grace period)", d)
	}
	if s := state("c3"); s != "exited 137" {
		t.Errorf("c3 after stop: %q, want \"exited 137\"", s)
	}
}

// TestPodmanPublish: -p HOST:CONTAINER through the engine's network
// namespace, which litebox's netstack takes over (busybox httpd in the
// guest, an HTTP GET from the host).
func TestPodmanPublish(t *testing.T) {
	needEnginesLong(t)
	rt := liteboxRuntime(t)
	p := newPodman(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append(append([]string{"run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port)}, platformAnnotation()...),
		testImage, "sh", "-c", "echo served-by-guest > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")
	if res := p.run(t, rt, nil, args...); res.ExitCode != 0 {
		t.Fatalf("podman run -p: exit %d: %s", res.ExitCode, res.Stderr)
	}
	var body string
	var last error
	for i := 0; i < 50; i++ {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	if body != "served-by-guest\n" {
		logs := engineRun(t, nil, 0, p.argv("logs", "web")...)
		t.Fatalf("GET through -p: body %q, last error %v; container logs %s%s", body, last, logs.Stdout, logs.Stderr)
	}
}

// ctrImage saves the podman image as a docker archive and imports it
// into containerd.
func ctrImage(t *testing.T, ctr []string, dir string) {
	t.Helper()
	p := newPodman(t)
	arch := filepath.Join(dir, "image.tar")
	if res := engineRun(t, nil, 0, p.argv("save", "--format", "docker-archive", "-o", arch, testImage)...); res.ExitCode != 0 {
		t.Fatalf("podman save: %s", res.Stderr)
	}
	if res := engineRun(t, nil, 0, append(ctr, "image", "import", arch)...); res.ExitCode != 0 {
		t.Fatalf("ctr image import: %s", res.Stderr)
	}
}

// TestContainerdRun: `ctr run --runc-binary litebox-runtime` (the runc v2
// shim calling our binary) against the same with runc.
func TestContainerdRun(t *testing.T) {
	rt := liteboxRuntime(t)
	ctrBin := needTool(t, "ctr")
	needTool(t, "containerd-shim-runc-v2")
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := startContainerd(t, dir)
	ctr := []string{ctrBin, "--address", sock, "-n", "litebox-tests"}
	ctrImage(t, ctr, dir)
	_, runcErr := exec.LookPath("runc")
	cases := []engineCase{
		{name: "echo", cmd: []string{"echo", "hi"}},
		{name: "exit-code", cmd: []string{"sh", "-c", "echo out; exit 5"}},
		// ctr run does not close the container's stdin at EOF (with runc
		// either), so the guest reads one line.
		{name: "stdin", stdin: []byte("first\nsecond\n"), cmd: []string{"head", "-n", "1"}},
		{name: "v2-shim-options", flags: []string{"--runtime", "io.containerd.runc.v2"}, cmd: []string{"sh", "-c", "id -u; echo $HOME"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := func(bin string) harness.Result {
				id := fmt.Sprintf("t%d-runc", i)
				if bin != "" {
					id = fmt.Sprintf("t%d-litebox", i)
				}
				args := append(append(append([]string{}, ctr...), "run", "--rm"), c.flags...)
				if bin != "" {
					args = append(args, "--runc-binary", bin)
				}
				if a := platformAnnotation(); a != nil && bin == rt {
					args = append(args, "--annotation", "dev.litebox.platform="+os.Getenv("LITEBOX_PLATFORM"))
				}
				args = append(append(args, testImage, id), c.cmd...)
				return engineRun(t, c.stdin, 0, args...)
			}
			got := run(rt)
			if runcErr != nil {
				t.Fatalf("runc is needed to compare: %v", runcErr)
			}
			want := run("")
			if string(got.Stdout) != string(want.Stdout) || got.ExitCode != want.ExitCode {
				t.Errorf("litebox-runtime: exit %d stdout %q (stderr %q)\nrunc: exit %d stdout %q", got.ExitCode, got.Stdout, got.Stderr, want.ExitCode, want.Stdout)
			}
		})
	}
}

// TestDockerRun: a dockerd of the test's own (its containerd, data and exec
// roots, socket; no iptables, no bridge) with --add-runtime
// litebox=litebox-runtime; `docker run --runtime=litebox`.
func TestDockerRun(t *testing.T) {
	needEnginesLong(t)
	rt := liteboxRuntime(t)
	dockerd := needTool(t, "dockerd")
	docker := needTool(t, "docker")
	dir, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	csock := startContainerd(t, filepath.Join(dir, "c"))
	// A deep exec root on purpose: the runtime's state dir is
	// EXECROOT/runtime-runc/moby/<64 hex id>, longer than a sun_path, and
	// litebox-runtime must still serve its control socket from there.
	execRoot := filepath.Join(dir, "exec-root-of-this-test")
	sock := filepath.Join(dir, "d.sock")
	logPath := filepath.Join(dir, "dockerd.log")
	startDaemon(t, logPath, dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", execRoot,
		"--pidfile", filepath.Join(dir, "pid"), "-H", "unix://"+sock, "--containerd", csock,
		"--iptables=false", "--bridge=none", "--storage-driver", "vfs", "--add-runtime", "litebox="+rt)
	waitSocket(t, sock, logPath)
	d := []string{docker, "-H", "unix://" + sock}
	p := newPodman(t)
	arch := filepath.Join(dir, "image.tar")
	engineRun(t, nil, 0, p.argv("save", "--format", "docker-archive", "-o", arch, testImage)...)
	if res := engineRun(t, nil, 0, append(d, "load", "-i", arch)...); res.ExitCode != 0 {
		t.Fatalf("docker load: %s", res.Stderr)
	}
	for _, c := range []engineCase{
		{name: "echo", cmd: []string{"echo", "hi"}},
		{name: "exit-code", cmd: []string{"sh", "-c", "exit 9"}},
		{name: "stdin-env", stdin: []byte("in\n"), flags: []string{"-i", "-e", "X=y"}, cmd: []string{"sh", "-c", "cat; echo $X"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := func(runtime string) harness.Result {
				args := append(append(append([]string{}, d...), "run", "--rm", "--network", "none", "--runtime", runtime), c.flags...)
				return engineRun(t, c.stdin, 0, append(append(args, testImage), c.cmd...)...)
			}
			got := run("litebox")
			want := run("runc")
			if want.ExitCode >= 125 {
				t.Fatalf("docker's runc does not run here to compare: exit %d: %s; litebox: exit %d %q %s", want.ExitCode, want.Stderr, got.ExitCode, got.Stdout, got.Stderr)
			}
			if string(got.Stdout) != string(want.Stdout) || got.ExitCode != want.ExitCode {
				t.Errorf("litebox: exit %d stdout %q (stderr %q)\nrunc: exit %d stdout %q", got.ExitCode, got.Stdout, got.Stderr, want.ExitCode, want.Stdout)
			}
		})
	}
}

// TestRuncStateKill: runc's own behaviours for state and kill, runc and
// litebox-runtime driven alike on one bundle (`runc spec` + the busybox
// root): the state JSON's fields and status through the lifecycle, a
// SIGTERM that the container's sleep, its pid 1 without a handler, does not
// get (Linux's rule for a pid namespace's init signalled from outside), a
// signal to a stopped container refused with runc's message and status.
func TestRuncStateKill(t *testing.T) {
	rt := liteboxRuntime(t)
	runc := needTool(t, "runc")
	bundle := t.TempDir()
	tarball := busyboxRootfsTar(t, t.TempDir())
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if res := engineRun(t, nil, 0, "tar", "-C", filepath.Join(bundle, "rootfs"), "-xf", tarball); res.ExitCode != 0 {
		t.Fatalf("tar: %s", res.Stderr)
	}
	spec := harness.Run(harness.Cmd{Argv: []string{runc, "spec", "--bundle", bundle}})
	if spec.ExitCode != 0 {
		t.Fatalf("runc spec: %s", spec.Stderr)
	}
	raw, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sleep", "1000"}
	if p := os.Getenv("LITEBOX_PLATFORM"); p != "" {
		cfg["annotations"] = map[string]string{"dev.litebox.platform": p}
	}
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}

	type step struct {
		code   int
		stderr string
		state  map[string]any
	}
	drive := func(bin string) []step {
		root := t.TempDir()
		id := "st-" + filepath.Base(bin)
		call := func(args ...string) step {
			if args[0] == "create" {
				// The container inherits create's stdio: /dev/null and a
				// file, so that nothing waits on a pipe it holds.
				errf, err := os.CreateTemp(root, "stderr")
				if err != nil {
					t.Fatal(err)
				}
				defer errf.Close()
				cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
				cmd.Stderr = errf
				runErr := cmd.Run()
				b, _ := os.ReadFile(errf.Name())
				code := 0
				if runErr != nil {
					code = -1
					if ee, ok := runErr.(*exec.ExitError); ok {
						code = ee.ExitCode()
					}
				}
				return step{code: code, stderr: logMsg(string(b))}
			}
			res := engineRun(t, nil, 30*time.Second, append([]string{bin, "--root", root}, args...)...)
			s := step{code: res.ExitCode, stderr: logMsg(string(res.Stderr))}
			if args[0] == "state" && res.ExitCode == 0 {
				if err := json.Unmarshal(res.Stdout, &s.state); err != nil {
					t.Fatalf("%s state: %v: %s", bin, err, res.Stdout)
				}
			}
			return s
		}
		t.Cleanup(func() { harness.Run(harness.Cmd{Argv: []string{bin, "--root", root, "delete", "--force", id}}) })
		var steps []step
		steps = append(steps, call("create", "--bundle", bundle, id), call("state", id), call("start", id), call("state", id),
			call("kill", id, "TERM"))
		time.Sleep(500 * time.Millisecond)
		steps = append(steps, call("state", id), call("kill", id, "KILL"))
		for i := 0; i < 50; i++ {
			if s := call("state", id); s.state["status"] == "stopped" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		steps = append(steps, call("state", id), call("kill", id, "KILL"), call("kill", id, "NOSUCHSIG"),
			call("delete", id), call("state", id), call("kill", id, "TERM"))
		return steps
	}
	want, got := drive(runc), drive(rt)
	names := []string{"create", "state created", "start", "state running", "kill TERM", "state after TERM", "kill", "state stopped", "kill stopped", "kill bad signal", "delete", "state deleted", "kill deleted"}
	for i := range names {
		w, g := want[i], got[i]
		if w.code != g.code || w.stderr != g.stderr {
			t.Errorf("%s: litebox-runtime exit %d %q; runc exit %d %q", names[i], g.code, g.stderr, w.code, w.stderr)
		}
		if w.state == nil {
			continue
		}
		for k, wv := range w.state {
			gv, ok := g.state[k]
			switch {
			case !ok:
				t.Errorf("%s: state has no %q (runc: %v)", names[i], k, wv)
			case k == "status" && gv != wv:
				t.Errorf("%s: status %v, runc %v", names[i], gv, wv)
			case k == "pid" && (gv == float64(0)) != (wv == float64(0)):
				t.Errorf("%s: pid %v, runc %v", names[i], gv, wv)
			}
		}
	}
}

// logMsg is the msg of runc's text log line on stderr ("" if none), the
// part that is the same whatever the runtime.
func logMsg(stderr string) string {
	if i := strings.Index(stderr, "msg="); i >= 0 {
		m := strings.TrimSpace(stderr[i+4:])
		if j := strings.Index(m, "\n"); j >= 0 {
			m = m[:j]
		}
		return strings.Trim(m, `"`)
	}
	return strings.TrimSpace(stderr)
}

// TestPodmanDebianImage: the Debian bookworm image of tests/imagefixture
// (built once per machine into the test cache), loaded from its docker
// archive: its own Cmd, Env and WorkingDir, then python3 and dpkg, under
// litebox-runtime and the peer.
func TestPodmanDebianImage(t *testing.T) {
	needEnginesLong(t)
	rt := liteboxRuntime(t)
	d, err := imagefixture.GetDebian(t.Logf)
	if err != nil {
		skipOrFail(t, "the Debian fixture image: %v", err)
	}
	p := newPodman(t)
	peer := p.peerRuntime(t)
	if res := engineRun(t, nil, 3*time.Minute, p.argv("load", "-i", d.DockerArchive)...); res.ExitCode != 0 {
		t.Fatalf("podman load: %s", res.Stderr)
	}
	ref := imagefixture.DebianArchiveRef
	if !strings.Contains(ref, "/") {
		ref = "localhost/" + ref
	}
	cases := [][]string{
		nil, // the image's Cmd
		{"/usr/bin/python3", "-c", "import json, sys; print(json.dumps({'v': sys.version_info[0]}))"},
		{"/bin/sh", "-c", "cat /etc/issue; test -e /etc/motd; echo motd=$?; echo $FIXTURE; pwd"},
	}
	if d.HasDpkg {
		cases = append(cases, []string{"/bin/sh", "-c", "dpkg-query -W -f '${Package}\\n' | wc -l"})
	}
	for i, cmd := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			args := append(append([]string{"run", "--rm"}, platformAnnotation()...), append([]string{ref}, cmd...)...)
			got := p.run(t, rt, nil, args...)
			if peer == "" {
				t.Fatalf("no peer runtime runs here; litebox: exit %d %q %s", got.ExitCode, got.Stdout, got.Stderr)
			}
			want := p.run(t, peer, nil, append([]string{"run", "--rm", ref}, cmd...)...)
			if string(got.Stdout) != string(want.Stdout) || got.ExitCode != want.ExitCode {
				t.Errorf("%q: litebox-runtime exit %d stdout %q (stderr %q)\n%s: exit %d stdout %q", cmd, got.ExitCode, got.Stdout, got.Stderr, peer, want.ExitCode, want.Stdout)
			}
		})
	}
}

// TestPodmanRestart: a container's writes are in its rootfs, as runc's
// are: `podman start` of the stopped container finds them and `podman
// diff` lists them. The same steps under the peer runtime give the
// expected output.
func TestPodmanRestart(t *testing.T) {
	needEnginesLong(t)
	rt := liteboxRuntime(t)
	p := newPodman(t)
	peer := p.peerRuntime(t)
	if peer == "" {
		t.Skip("no peer runtime runs here to compare with")
	}
	steps := func(rt, name string, annotations []string) string {
		t.Helper()
		var out strings.Builder
		args := append(append([]string{"run", "--name", name}, annotations...), testImage,
			"sh", "-c", "cat /kept 2>/dev/null || echo none; echo kept > /kept; mkdir -p /var/new && echo x > /var/new/f")
		res := p.run(t, rt, nil, args...)
		fmt.Fprintf(&out, "run: exit %d: %s", res.ExitCode, res.Stdout)
		res = p.run(t, rt, nil, "start", "-a", name)
		fmt.Fprintf(&out, "start: exit %d: %s", res.ExitCode, res.Stdout)
		res = p.run(t, rt, nil, "diff", name)
		var diff []string
		for _, l := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
			// Only the container's own changes: what each runtime makes
			// for itself (mount points, /etc files of the engine) differs.
			if strings.HasSuffix(l, "/kept") || strings.Contains(l, "/var/new") {
				diff = append(diff, l)
			}
		}
		slices.Sort(diff)
		fmt.Fprintf(&out, "diff: exit %d: %s\n", res.ExitCode, strings.Join(diff, ","))
		return out.String()
	}
	got := steps(rt, "lb", platformAnnotation())
	want := steps(peer, "peer", nil)
	if got != want {
		t.Errorf("litebox-runtime:\n%s\n%s:\n%s", got, peer, want)
	}
	if !strings.Contains(got, "start: exit 0: kept\n") {
		t.Errorf("the restarted container did not find its file:\n%s", got)
	}
}

package tests

// Helpers of the engine tests (engines_test.go): the runtime binary, a
// busybox image made by the test, and Podman, containerd and dockerd each
// with stores, state and sockets of the test's own under a temp dir, so the
// machine's own stores are never touched.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// enginesLong is set by `make engines`: the long set (lifecycle, exec,
// stop/kill, -t, -p, dockerd) runs; `make test` runs the fast subset.
var enginesLong = os.Getenv("LITEBOX_ENGINES") == "long"

func needEnginesLong(t *testing.T) {
	t.Helper()
	if !enginesLong {
		t.Skip("long engine test: run with LITEBOX_ENGINES=long (make engines)")
	}
}

var (
	runtimeOnce sync.Once
	runtimeBin  string
	runtimeErr  error
)

// liteboxRuntime builds ./cmd/litebox-runtime once per test binary.
func liteboxRuntime(t *testing.T) string {
	t.Helper()
	runtimeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "litebox-engines-bin-")
		if err != nil {
			runtimeErr = err
			return
		}
		bin := filepath.Join(dir, "litebox-runtime")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/litebox-runtime")
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			runtimeErr = fmt.Errorf("go build ./cmd/litebox-runtime: %v\n%s", err, out)
			return
		}
		runtimeBin = bin
	})
	if runtimeErr != nil {
		t.Fatal(runtimeErr)
	}
	return runtimeBin
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "%s is not installed (Debian package in .ci/run): %v", name, err)
	}
	return p
}

// busyboxRootfsTar writes a root file system tar: busybox-static, applet
// links, /etc/passwd and /etc/group with root and nobody.
func busyboxRootfsTar(t *testing.T, dir string) string {
	t.Helper()
	needBusybox(t)
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = time.Unix(0, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "etc", "tmp", "proc", "dev", "sys", "data", "root"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: mode}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, bb)
	for _, a := range []string{"sh", "echo", "cat", "true", "false", "sleep", "id", "pwd", "env", "ls", "head", "httpd", "printf", "tty", "stty"} {
		add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	for name, body := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	} {
		add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, []byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// engineRun runs an engine's CLI with a timeout; stdin nil is /dev/null.
func engineRun(t *testing.T, stdin []byte, timeout time.Duration, argv ...string) harness.Result {
	t.Helper()
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	res := harness.Run(harness.Cmd{Argv: argv, Stdin: stdin, Timeout: timeout})
	if res.Err != nil {
		t.Fatalf("%q: %v\nstderr: %s", argv, res.Err, res.Stderr)
	}
	return res
}

// podman is a Podman whose stores are the test's own.
type podman struct {
	base []string
	dir  string
}

const testImage = "localhost/litebox-engines:busybox"

func newPodman(t *testing.T) *podman {
	t.Helper()
	bin := needTool(t, "podman")
	needTool(t, "conmon")
	// Short paths: conmon's attach socket lives under the run root and
	// must fit a sun_path.
	dir, err := os.MkdirTemp("", "pm")
	if err != nil {
		t.Fatal(err)
	}
	p := &podman{dir: dir, base: []string{bin, "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--tmpdir", filepath.Join(dir, "tmp")}}
	t.Cleanup(func() {
		harness.Run(harness.Cmd{Argv: p.argv("rm", "-af", "-t", "0"), Timeout: time.Minute})
		os.RemoveAll(dir)
	})
	tarball := busyboxRootfsTar(t, dir)
	if res := engineRun(t, nil, 0, p.argv("import", tarball, testImage)...); res.ExitCode != 0 {
		t.Fatalf("podman import: exit %d: %s", res.ExitCode, res.Stderr)
	}
	return p
}

func (p *podman) argv(args ...string) []string {
	return append(append([]string{}, p.base...), args...)
}

// runtimeArgs are the global podman flags selecting one OCI runtime. runsc
// (Debian's 2022 gVisor) needs its own network off (it refuses an engine's
// namespace here: "cannot run with network enabled in root network
// namespace") and no cgroups (this host's hybrid hierarchy).
func runtimeArgs(rt string) []string {
	if rt == "runsc" {
		return []string{"--runtime", rt, "--runtime-flag", "network=none", "--runtime-flag", "ignore-cgroups"}
	}
	return []string{"--runtime", rt}
}

func (p *podman) run(t *testing.T, rt string, stdin []byte, args ...string) harness.Result {
	t.Helper()
	return engineRun(t, stdin, 0, p.argv(append(runtimeArgs(rt), args...)...)...)
}

// peerRuntime is the runtime litebox is compared with under Podman: crun
// or runc when they run a container here, else runsc; "" when none does.
// crun and runc fail on this machine (the host lacks CAP_SYS_RESOURCE to
// set Podman's default RLIMIT_NOFILE/NPROC; with --cgroups=disabled crun
// refuses the hybrid cgroup hierarchy and runc is not allowed), which the
// test logs.
func (p *podman) peerRuntime(t *testing.T) string {
	t.Helper()
	for _, rt := range []string{"crun", "runc", "runsc"} {
		if _, err := exec.LookPath(rt); err != nil {
			t.Logf("peer %s: not installed", rt)
			continue
		}
		res := p.run(t, rt, nil, "run", "--rm", testImage, "echo", "probe")
		if res.ExitCode == 0 && string(res.Stdout) == "probe\n" {
			t.Logf("peer runtime: %s", rt)
			return rt
		}
		t.Logf("peer %s does not run here: exit %d: %s", rt, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return ""
}

// daemon is a service started by a test, stopped at its end.
func startDaemon(t *testing.T, logPath string, argv ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", argv[0], err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// waitSocket waits for a unix socket to appear.
func waitSocket(t *testing.T, path, logPath string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("%s did not appear in 30 s; log:\n%s", path, tail(log, 2000))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// containerd starts a containerd 1.6 with root, state and sockets under dir.
func startContainerd(t *testing.T, dir string) string {
	t.Helper()
	bin := needTool(t, "containerd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "c.sock")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "containerd.log")
	startDaemon(t, logPath, bin, "--config", cfgPath)
	waitSocket(t, sock, logPath)
	return sock
}

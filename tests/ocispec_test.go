package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/oci/spec"
	"github.com/litebox-go/litebox/sandbox"
	"github.com/litebox-go/litebox/tests/harness"
)

// ociBundle makes a bundle: rootfs with the given host files copied in
// (name in the rootfs -> host path; mode 0755) and config.json from s.
func ociBundle(t *testing.T, s *specs.Spec, files map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "litebox-oci-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Readable by the unprivileged users of the native runs.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, host := range files {
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "rootfs", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A rootfs has its /tmp, as an image's does: the guest's / is the
	// directory itself (runc's view), with no /tmp of litebox's.
	tmp := filepath.Join(dir, "rootfs", "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runcDefault is `runc spec`'s config.json (oci/spec's testdata copy).
// withTmpfsTmp adds a tmpfs at /tmp to s: runc's default root is
// read-only, and the guest's / is the rootfs itself, so a writable /tmp is
// the config's to give (as podman --read-only does).
func withTmpfsTmp(s *specs.Spec) *specs.Spec {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
	return s
}

func runcDefault(t *testing.T) *specs.Spec {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "oci", "spec", "testdata", "runc-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	return &s
}

// runBundle loads and translates a bundle, runs its process in a sandbox
// of its own (on LITEBOX_PLATFORM's platform) and returns stdout, stderr
// and the exit status.
func runBundle(t *testing.T, dir string) (stdout, stderr string, code int) {
	t.Helper()
	return runBundleExec(t, dir, nil)
}

// runBundleExec is runBundle, but with exec set it runs the bundle's
// process and then exec (translated as an exec's process.json is) in the
// same sandbox, as `runtime exec` does, and returns exec's results.
func runBundleExec(t *testing.T, dir string, exec *specs.Process) (stdout, stderr string, code int) {
	t.Helper()
	s, err := spec.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := spec.Translate(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	if p := os.Getenv(harness.PlatformEnv); p != "" && plan.Config.Platform == "" {
		plan.Config.Platform = p
	}
	sb, err := sandbox.New(plan.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	cmd := plan.Process.Command(sb)
	if exec != nil {
		var first bytes.Buffer
		cmd.Stdout, cmd.Stderr = &first, &first
		if err := cmd.Run(); err != nil {
			t.Fatalf("the bundle's process: %v\n%s", err, first.String())
		}
		p, err := spec.TranslateProcess(exec)
		if err != nil {
			t.Fatal(err)
		}
		cmd = p.Command(sb)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *sandbox.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ee.WaitStatus.Signaled() {
			code = 128 + int(ee.WaitStatus.Signal()) // as a shell reports it
		}
	default:
		t.Fatalf("running the bundle's process: %v", err)
	}
	return out.String(), errb.String(), code
}

// ociRlimits are all sixteen limits, set the same way natively (prlimit)
// and in the spec, so that nothing of the host's defaults shows.
var ociRlimits = []struct {
	name, prlimit string
	soft, hard    uint64
}{
	{"RLIMIT_CPU", "cpu", inf, inf}, {"RLIMIT_FSIZE", "fsize", 4096, 1 << 20},
	{"RLIMIT_DATA", "data", inf, inf}, {"RLIMIT_STACK", "stack", 8 << 20, inf},
	{"RLIMIT_CORE", "core", 0, 0}, {"RLIMIT_RSS", "rss", inf, inf},
	{"RLIMIT_NPROC", "nproc", 50000, 50000}, {"RLIMIT_NOFILE", "nofile", 64, 2048},
	{"RLIMIT_MEMLOCK", "memlock", 65536, 65536}, {"RLIMIT_AS", "as", inf, inf},
	{"RLIMIT_LOCKS", "locks", inf, inf}, {"RLIMIT_SIGPENDING", "sigpending", 1000, 1000},
	{"RLIMIT_MSGQUEUE", "msgqueue", 819200, 819200}, {"RLIMIT_NICE", "nice", 0, 0},
	{"RLIMIT_RTPRIO", "rtprio", 0, 0}, {"RLIMIT_RTTIME", "rttime", inf, inf},
}

const inf = ^uint64(0)

func prlimitValue(v uint64) string {
	if v == inf {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// TestOCIProcessSettings runs testdata/ocispec.c from a bundle whose
// config.json sets every rlimit, the capability sets, the user, groups and
// umask, translated by oci/spec, and natively under prlimit and setpriv
// with the same settings (as root: raising hard limits and setting
// capabilities need it natively): every limit, capability set, id, and
// the limits at work must match.
func TestOCIProcessSettings(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "the native runs set rlimits and capabilities with prlimit and setpriv, which needs root")
	}
	for _, tool := range []string{"prlimit", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%s (util-linux) is needed for the native runs: %v", tool, err)
		}
	}
	needBusybox(t)
	prog := program(t, "ocispec", staticVariant)
	for _, tc := range []struct {
		name    string
		user    specs.User
		caps    *specs.LinuxCapabilities
		setpriv []string
		exec    bool // run as an exec's process in a sandbox whose own process is runc's default root
	}{
		// runc's default: root with three capabilities (the ambient ones
		// cannot be raised without inheritable ones, in runc as here).
		{"runc-default-root", specs.User{UID: 0, GID: 0, Umask: ptrU32(0o027)}, nil,
			[]string{"--clear-groups", "--bounding-set=-all,+audit_write,+kill,+net_bind_service", "--inh-caps=-all"}, false},
		{"user-with-ambient", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: ptrU32(0o022)},
			&specs.LinuxCapabilities{
				Bounding:    []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
				Effective:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Permitted:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Inheritable: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Ambient:     []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
			},
			[]string{"--reuid=1000", "--regid=1000", "--groups=10,20", "--inh-caps=-all,+kill,+net_bind_service",
				"--ambient-caps=+kill,+net_bind_service", "--bounding-set=-all,+kill,+net_bind_service,+chown"}, false},
		{"exec-as-user", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: ptrU32(0o077)},
			&specs.LinuxCapabilities{
				Bounding:  []string{"CAP_KILL", "CAP_CHOWN"},
				Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
				Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"},
			},
			[]string{"--reuid=1000", "--regid=1000", "--groups=10,20", "--inh-caps=-all,+kill",
				"--ambient-caps=+kill", "--bounding-set=-all,+kill,+chown"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := withTmpfsTmp(runcDefault(t))
			s.Process.Args = []string{"/ocispec"}
			s.Process.User = tc.user
			if tc.caps != nil {
				s.Process.Capabilities = tc.caps
			}
			s.Process.Rlimits = nil
			prl := []string{"prlimit"}
			for _, r := range ociRlimits {
				// Natively, raising a hard limit needs CAP_SYS_RESOURCE,
				// which a test in a container may lack: stay within the
				// host's.
				r.soft, r.hard = withinHost(t, r.name, r.soft, r.hard)
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: r.name, Soft: r.soft, Hard: r.hard})
				prl = append(prl, "--"+r.prlimit+"="+prlimitValue(r.soft)+":"+prlimitValue(r.hard))
			}
			dir := ociBundle(t, s, map[string]string{"ocispec": prog})
			var got, stderr string
			var code int
			if tc.exec {
				// The bundle's own process is runc's default (root, three
				// capabilities, NOFILE 1024), the exec's is tc's.
				execProc := *s.Process
				d := withTmpfsTmp(runcDefault(t))
				d.Process.Args = []string{"/ocispec"}
				dir = ociBundle(t, d, map[string]string{"ocispec": prog})
				got, stderr, code = runBundleExec(t, dir, &execProc)
			} else {
				got, stderr, code = runBundle(t, dir)
			}
			if code != 0 {
				t.Fatalf("guest exit %d\nstdout:\n%s\nstderr:\n%s", code, got, stderr)
			}
			// Natively: sh sets the umask, prlimit the limits (as root),
			// setpriv the ids and capability sets, with no_new_privs as
			// the guest always has it.
			native := append(prl, "--", "setpriv", "--nnp")
			native = append(native, tc.setpriv...)
			native = append(native, filepath.Join(dir, "rootfs", "ocispec"))
			argv := []string{busyboxPath, "sh", "-c", "umask " + octal(*tc.user.Umask) + " && exec \"$@\"", "sh"}
			want := runNative(t, "", nil, nil, append(argv, native...)...)
			if want.ExitCode != 0 {
				t.Fatalf("native run failed: %s", want)
			}
			if got != string(want.Stdout) {
				t.Errorf("guest differs from native\nnative:\n%s\nguest:\n%s", want.Stdout, got)
			}
		})
	}
}

// withinHost lowers soft and hard to the test process's hard limit.
func withinHost(t *testing.T, name string, soft, hard uint64) (uint64, uint64) {
	t.Helper()
	var lim unix.Rlimit
	res := map[string]int{"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
		"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
		"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
		"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
		"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
		"RLIMIT_RTTIME": unix.RLIMIT_RTTIME}[name]
	if err := unix.Getrlimit(res, &lim); err != nil {
		t.Fatal(err)
	}
	return min(soft, lim.Max), min(hard, lim.Max)
}

func ptrU32(v uint32) *uint32 { return &v }

func octal(v uint32) string { return "0" + strconv.FormatUint(uint64(v), 8) }

// TestOCIBundleView runs busybox's sh from a bundle shaped like the ones
// engines make: runc's default mounts, a hostname, a sized tmpfs, a
// read-only and a writable bind of host directories, file binds over
// /etc/hosts and a new /run/.containerenv, a read-only root. What the
// guest sees must be what the spec says (the expected output is the
// spec's values: natively this needs namespaces and mounts the test does
// not make), and the audit log names what was not applied.
func TestOCIBundleView(t *testing.T) {
	needBusybox(t)
	host := t.TempDir()
	roDir, rwDir := filepath.Join(host, "ro"), filepath.Join(host, "rw")
	for _, d := range []string{roDir, rwDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(roDir, "data"), []byte("read only data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(host, "hosts")
	if err := os.WriteFile(hosts, []byte("10.88.0.7 web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(host, "containerenv")
	if err := os.WriteFile(env, []byte("engine=\"test\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(host, "audit.log")
	s := runcDefault(t)
	s.Hostname = "web-1"
	s.Root.Readonly = true
	s.Annotations = map[string]string{spec.AnnotationAudit: audit}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=64k", "mode=0700"}},
		specs.Mount{Destination: "/ro", Type: "bind", Source: roDir, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/rw", Type: "bind", Source: rwDir, Options: []string{"rbind", "rw"}},
		specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/run/.containerenv", Type: "bind", Source: env, Options: []string{"rbind", "ro"}},
	)
	script := strings.Join([]string{
		"hostname", "cat /etc/hosts", "cat /run/.containerenv", "cat /ro/data", "stat -c '%u:%g' /ro/data /etc/hosts",
		"stat -c '%a %s' /scratch",
		"echo x > /ro/new 2>/dev/null || echo ro refused",
		"echo written > /rw/new && echo rw ok",
		"echo y > /rootfile 2>/dev/null || echo root refused",
		"dd if=/dev/zero of=/scratch/big bs=1k count=128 2>/dev/null; echo dd status $?",
		"ls /dev/mqueue 2>/dev/null || echo no mqueue",
		"ls -d /sys/fs/cgroup 2>/dev/null || echo no cgroup",
		"exit 7",
	}, "\n")
	s.Process.Args = []string{"/bin/sh", "-c", script}
	// Not the host user's ids: a file bound from the host must still
	// show its host owner (not the container user's ids, as --mount
	// shows them).
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	if err := os.Chmod(rwDir, 0o777); err != nil {
		t.Fatal(err)
	}
	s.Process.Env = []string{"PATH=/bin"}
	files := map[string]string{"bin/busybox": busyboxPath}
	dir := ociBundle(t, s, files)
	for _, name := range []string{"sh", "hostname", "cat", "stat", "ls", "dd"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "rootfs", "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc", "run", "dev", "proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(dir, "rootfs", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, stderr, code := runBundle(t, dir)
	// The binds keep their host owners: this test's files are its user's.
	owner := fmt.Sprintf("%d:%d\n", os.Geteuid(), os.Getegid())
	want := "web-1\n10.88.0.7 web\nengine=\"test\"\nread only data\n" + owner + owner + "700 " + "SIZE" + "\nro refused\nrw ok\nroot refused\ndd status 1\nno mqueue\nno cgroup\n"
	// The size of an empty directory is the file system's: take the
	// guest's from its line, checking the rest exactly.
	lines := strings.Split(got, "\n")
	if len(lines) > 6 {
		if mode, size, ok := strings.Cut(lines[6], " "); ok && mode == "700" {
			want = strings.Replace(want, "SIZE", size, 1)
		}
	}
	if code != 7 || got != want {
		t.Errorf("exit %d, output:\n%s\nwant exit 7, output:\n%s\nstderr:\n%s", code, got, want, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(rwDir, "new")); string(b) != "written\n" {
		t.Errorf("rw bind: host file %q", b)
	}
	log, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"field":"mounts[4]"`, `mqueue /dev/mqueue`, `"field":"mounts[6]"`, `"field":"linux.maskedPaths"`} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
}

// TestOCICPUShare runs testdata/cpushare.c (threads spinning for 1.5 s of
// wall-clock time) from bundles with a CPU quota: the process's CPU time
// per wall-clock second must stay near the share (at most 40% above it:
// the throttle acts per tick of a tenth of a period), and the guest must
// make progress (the machine may be loaded, so no lower bound near the
// share).
func TestOCICPUShare(t *testing.T) {
	prog := program(t, "cpushare", staticVariant)
	for _, tc := range []struct {
		threads       string
		quota, period int64
		maxHundredths int
	}{
		{"1", 25000, 100000, 35},
		{"2", 50000, 50000, 140},
	} {
		t.Run(tc.threads+"-threads", func(t *testing.T) {
			s := runcDefault(t)
			s.Process.Args = []string{"/cpushare", tc.threads, "1.5"}
			period := uint64(tc.period)
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &tc.quota, Period: &period}}
			got, stderr, code := runBundle(t, ociBundle(t, s, map[string]string{"cpushare": prog}))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			n, err := strconv.Atoi(strings.TrimSpace(got))
			if err != nil {
				t.Fatalf("output %q: %v", got, err)
			}
			t.Logf("CPU per wall-clock second: %d%% (share %d%%)", n, 100*tc.quota/tc.period)
			if n > tc.maxHundredths || n < 2 {
				t.Errorf("CPU per wall-clock second %d%%, want 2%% to %d%% under a share of %d%%", n, tc.maxHundredths,
					100*tc.quota/tc.period)
			}
		})
	}
}

// TestPodmanBundle runs the config.json podman 4.3 wrote for `podman
// create --read-only` (oci/spec's testdata, its host paths replaced by the
// test's, busybox as the image): what the guest sees is what podman asked
// for (read-only root, tmpfs /run and /var/tmp, its name files, hostname,
// its eleven capabilities), on a host where podman's own crun fails on the
// same config (setrlimit RLIMIT_NOFILE: EPERM without CAP_SYS_RESOURCE).
func TestPodmanBundle(t *testing.T) {
	needBusybox(t)
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "oci", "spec", "testdata", "podman-4.3-readonly.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	dir := ociBundle(t, &s, map[string]string{"bin/busybox": busyboxPath})
	rootfs := filepath.Join(dir, "rootfs")
	for _, name := range []string{"sh", "cat", "hostname", "id", "grep", "echo"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc", "run/lock", "var/tmp", "tmp", "proc", "dev", "sys"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The image's /run content is copied into podman's tmpfs (tmpcopyup).
	if err := os.WriteFile(filepath.Join(rootfs, "run", "lock", "image-file"), []byte("from the image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run, store := filepath.Join(dir, "run"), filepath.Join(dir, "store")
	for _, d := range []string{run, filepath.Join(store, "shm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{"resolv.conf": "nameserver 10.0.2.3\n", "hosts": "10.88.0.2 c1\n", "hostname": "c1\n"} {
		if err := os.WriteFile(filepath.Join(run, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := strings.NewReplacer("@RUN@", run, "@STORE@", store, "@ROOTFS@", rootfs)
	if err := json.Unmarshal([]byte(r.Replace(string(raw))), &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Args = []string{"/bin/sh", "-c", strings.Join([]string{
		"cat /etc/hosts /etc/hostname /etc/resolv.conf", "hostname",
		"cat /run/lock/image-file", "echo a > /run/a && cat /run/a", "echo b > /var/tmp/b && echo var-tmp ok",
		"echo c > /c 2>/dev/null || echo root read-only", "id -u", "grep CapBnd /proc/self/status",
	}, "; ")}
	// No network here: the netns helper takes the engine's namespace over.
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var bnd cred.CapSet
	for _, name := range s.Process.Capabilities.Bounding {
		c, ok := spec.CapByName(name)
		if !ok {
			t.Fatalf("unknown capability %s", name)
		}
		bnd |= 1 << c
	}
	got, stderr, code := runBundle(t, dir)
	want := fmt.Sprintf("10.88.0.2 c1\nc1\nnameserver 10.0.2.3\n07db6f2a142f\nfrom the image\na\nvar-tmp ok\nroot read-only\n0\nCapBnd:\t%016x\n", uint64(bnd))
	if code != 0 || got != want {
		t.Errorf("exit %d, output:\n%s\nwant exit 0, output:\n%s\nstderr:\n%s", code, got, want, stderr)
	}
}

// TestOCICPUShareKill: a command held by a tiny CPU share still dies at
// once when killed (the throttle holds it out of guest code, not out of
// the kernel's checks).
func TestOCICPUShareKill(t *testing.T) {
	prog := program(t, "cpushare", staticVariant)
	s := runcDefault(t)
	s.Process.Args = []string{"/cpushare", "2", "30"}
	quota, period := int64(1000), uint64(100000) // 1% of a CPU
	s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &quota, Period: &period}}
	dir := ociBundle(t, s, map[string]string{"cpushare": prog})
	sp, err := spec.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := spec.Translate(sp, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	if p := os.Getenv(harness.PlatformEnv); p != "" {
		plan.Config.Platform = p
	}
	sb, err := sandbox.New(plan.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	cmd := plan.Process.Command(sb)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // long enough to be held
	start := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *sandbox.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Wait: %v, want the killed command's ExitError", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the kill took %v", d)
	}
}

// TestOCINoexec runs testdata/noexec.c on a noexec tmpfs and a noexec
// bind, and on an ordinary tmpfs, from a bundle, and natively on a noexec
// and an ordinary tmpfs mounted by the test (unshare -m, as root):
// execve EACCES, mmap PROT_EXEC EPERM, mprotect adding it EACCES.
func TestOCINoexec(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "the native run mounts a noexec tmpfs, which needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		skipOrFail(t, "unshare (util-linux) is needed for the native run: %v", err)
	}
	prog := program(t, "noexec", staticVariant)
	nativeDir := t.TempDir()
	script := `set -e
mkdir "$1/nx" "$1/x"
mount -t tmpfs -o noexec none "$1/nx"
mount -t tmpfs none "$1/x"
echo noexec; "$2" "$1/nx"
echo exec; "$2" "$1/x"`
	want := runNative(t, "", nil, nil, "unshare", "-m", "sh", "-c", script, "sh", nativeDir, prog)
	if want.ExitCode != 0 {
		t.Fatalf("native run: %s", want)
	}
	hostDir := t.TempDir()
	s := runcDefault(t)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/nx", Type: "tmpfs", Options: []string{"noexec", "nosuid"}},
		specs.Mount{Destination: "/nxbind", Type: "bind", Source: hostDir, Options: []string{"rbind", "rw", "noexec"}},
		specs.Mount{Destination: "/x", Type: "tmpfs"},
	)
	s.Process.Args = []string{"/bin/sh", "-c", "echo noexec; /noexec /nx; echo exec; /noexec /x; echo noexec; /noexec /nxbind"}
	dir := ociBundle(t, s, map[string]string{"noexec": prog, "bin/busybox": busyboxPath})
	if err := os.Symlink("busybox", filepath.Join(dir, "rootfs", "bin", "sh")); err != nil {
		t.Fatal(err)
	}
	got, stderr, code := runBundle(t, dir)
	// Natively "noexec\n" NOEXEC "exec\n" EXEC; the guest adds the bind's
	// NOEXEC part.
	native := string(want.Stdout)
	noexecLines, _, ok := strings.Cut(strings.TrimPrefix(native, "noexec\n"), "exec\n")
	if !ok || !strings.Contains(noexecLines, "execve: EACCES") {
		t.Fatalf("unexpected native output:\n%s", native)
	}
	wantGuest := native + "noexec\n" + noexecLines
	if code != 0 || got != wantGuest {
		t.Errorf("exit %d, output:\n%s\nwant (native):\n%s\nstderr:\n%s", code, got, wantGuest, stderr)
	}
}

// TestOCIWritableRoot: with root.readonly false the guest's / is the
// bundle's rootfs itself, as runc has it. The container's writes are in
// the directory (a second run of the bundle finds them), its owners are
// the container's ids (a user writes its own files again), file binds
// cover names of it without touching the rootfs's own files, the mount
// points litebox needs are made in it, and no set-id executable is ever
// left there. The expected output is the spec's values and the host's
// files afterwards (natively this needs runc's mounts).
func TestOCIWritableRoot(t *testing.T) {
	needBusybox(t)
	if os.Geteuid() != 0 {
		skipOrFail(t, "the rootfs's owners are the container's ids only when litebox can chown: needs root")
	}
	host := t.TempDir()
	hosts := filepath.Join(host, "hosts")
	if err := os.WriteFile(hosts, []byte("10.88.0.9 bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := runcDefault(t)
	s.Root.Readonly = false
	s.Process.Env = []string{"PATH=/bin"}
	// Podman's default set has CAP_CHOWN (runc's has not).
	c := s.Process.Capabilities
	c.Bounding, c.Effective, c.Permitted = append(c.Bounding, "CAP_CHOWN"), append(c.Effective, "CAP_CHOWN"), append(c.Permitted, "CAP_CHOWN")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "ro"}})
	files := map[string]string{"bin/busybox": busyboxPath}
	s.Process.Args = []string{"/bin/sh", "-c", strings.Join([]string{
		"cat /etc/hosts",
		"echo first > /data.txt && echo root write ok",
		"echo tmp > /tmp/t && echo tmp ok",
		"cp /bin/busybox /suid && chmod 4755 /suid && stat -c '%a %u:%g' /suid",
		"mkdir -p /home/u && chown 1000:1000 /home/u && echo chown ok",
		"rm /etc/hosts 2>/dev/null || echo hosts busy",
	}, "\n")}
	dir := ociBundle(t, s, files)
	rootfs := filepath.Join(dir, "rootfs")
	for _, name := range []string{"sh", "cat", "stat", "ls", "cp", "chmod", "mkdir", "chown", "rm", "id"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "hosts"), []byte("127.0.0.1 rootfs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, stderr, code := runBundle(t, dir)
	want := "10.88.0.9 bound\nroot write ok\ntmp ok\n755 0:0\nchown ok\nhosts busy\n"
	if code != 0 || got != want {
		t.Fatalf("first run: exit %d, output:\n%s\nwant exit 0, output:\n%s\nstderr:\n%s", code, got, want, stderr)
	}
	for name, content := range map[string]string{"data.txt": "first\n", "tmp/t": "tmp\n", "etc/hosts": "127.0.0.1 rootfs\n"} {
		if b, err := os.ReadFile(filepath.Join(rootfs, name)); err != nil || string(b) != content {
			t.Errorf("rootfs/%s: %q (%v), want %q", name, b, err, content)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(rootfs, "suid"), &st); err != nil || st.Mode&0o7777 != 0o755 {
		t.Errorf("rootfs/suid: mode %#o (%v), want 0755: litebox leaves no set-id executable on the host", st.Mode&0o7777, err)
	}
	for _, d := range []string{"proc", "dev"} {
		if fi, err := os.Stat(filepath.Join(rootfs, d)); err != nil || !fi.IsDir() {
			t.Errorf("mount point rootfs/%s was not made: %v", d, err)
		}
	}

	// Second run, as the user the first made a home for: the first run's
	// file is there, and the user's own files stay its own.
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Process.Args = []string{"/bin/sh", "-c", strings.Join([]string{
		"cat /data.txt",
		"echo one > /home/u/f && echo two >> /home/u/f && cat /home/u/f",
		"stat -c '%u:%g' /home/u/f",
		"echo x > /data.txt 2>/dev/null || echo not root",
	}, "\n")}
	writeSpec(t, dir, s)
	got, stderr, code = runBundle(t, dir)
	want = "first\none\ntwo\n1000:1000\nnot root\n"
	if code != 0 || got != want {
		t.Fatalf("second run: exit %d, output:\n%s\nwant exit 0, output:\n%s\nstderr:\n%s", code, got, want, stderr)
	}
	if err := unix.Stat(filepath.Join(rootfs, "home", "u", "f"), &st); err != nil || st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("rootfs/home/u/f: host owner %d:%d (%v), want the container user's 1000:1000", st.Uid, st.Gid, err)
	}

	// A read-only root: nothing is written.
	s.Root.Readonly = true
	s.Process.User = specs.User{}
	s.Process.Args = []string{"/bin/sh", "-c", "echo x > /new 2>/dev/null || echo refused"}
	writeSpec(t, dir, s)
	if got, stderr, code = runBundle(t, dir); code != 0 || got != "refused\n" {
		t.Errorf("read-only run: exit %d, output %q, want \"refused\\n\"\nstderr:\n%s", code, got, stderr)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "new")); !os.IsNotExist(err) {
		t.Errorf("read-only root: rootfs/new exists (%v)", err)
	}
}

// writeSpec rewrites the bundle's config.json.
func writeSpec(t *testing.T, dir string, s *specs.Spec) {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOCIMountTable: the guest's mount table (/proc/self/mounts) lists the
// config's mounts litebox serves in the config's order, each with the
// type and source the config gave, as runc's container shows them: the
// same bundle run natively by runc is the reference (source, target and
// type of those mounts, in order; options differ: litebox's /dev is
// read-only). The mounts litebox does not make (mqueue, sysfs, cgroup)
// are in neither list.
func TestOCIMountTable(t *testing.T) {
	needBusybox(t)
	runc := needTool(t, "runc")
	if os.Geteuid() != 0 {
		skipOrFail(t, "runc, the reference, needs root")
	}
	s := runcDefault(t)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "scratch", Options: []string{"size=64k"}})
	s.Process.Args = []string{"/bin/cat", "/proc/self/mounts"}
	s.Process.Env = []string{"PATH=/bin"}
	dir := ociBundle(t, s, map[string]string{"bin/busybox": busyboxPath})
	if err := os.Symlink("busybox", filepath.Join(dir, "rootfs", "bin", "cat")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"dev", "proc", "sys", "scratch"} {
		if err := os.MkdirAll(filepath.Join(dir, "rootfs", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	served := map[string]bool{"/proc": true, "/dev": true, "/dev/pts": true, "/dev/shm": true, "/scratch": true}
	table := func(mounts string) []string {
		var out []string
		for _, line := range strings.Split(mounts, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && served[f[1]] {
				out = append(out, strings.Join(f[:3], " "))
			}
		}
		return out
	}
	root := t.TempDir()
	id := fmt.Sprintf("litebox-mounts-%d", os.Getpid())
	native := harness.Run(harness.Cmd{Argv: []string{runc, "--root", root, "run", "--bundle", dir, id}, Timeout: time.Minute})
	harness.Run(harness.Cmd{Argv: []string{runc, "--root", root, "delete", "--force", id}, Timeout: time.Minute})
	if native.Err != nil || native.ExitCode != 0 {
		skipOrFail(t, "runc cannot run the reference bundle here: %v %s", native.Err, native)
	}
	want := table(string(native.Stdout))
	if len(want) != len(served) {
		t.Fatalf("runc's mount table lacks some of %v:\n%s", served, native.Stdout)
	}
	out, stderr, code := runBundle(t, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := table(out); !slices.Equal(got, want) {
		t.Errorf("mount table:\n%s\nwant (runc's):\n%s\nfull table:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
}

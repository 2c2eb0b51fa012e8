package spec

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/sandbox"
)

// runcSpec returns the default config.json `runc spec` writes (with
// --rootless when rootless): made by runc when it is installed (and then
// checked against testdata's copy, so that a runc whose defaults changed
// is noticed), else testdata's copy.
func runcSpec(t *testing.T, rootless bool) []byte {
	t.Helper()
	name := "runc-spec.json"
	args := []string{"spec"}
	if rootless {
		name = "runc-spec-rootless.json"
		args = append(args, "--rootless")
	}
	stored, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Logf("runc not installed: using testdata/%s", name)
		return stored
	}
	dir := t.TempDir()
	cmd := exec.Command(runc, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc %v: %v\n%s", args, err, out)
	}
	fresh, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(fresh) != string(stored) {
		t.Logf("runc's defaults differ from testdata/%s: testing runc's", name)
	}
	return fresh
}

// bundle makes a bundle directory with config.json and an empty rootfs.
func bundle(t *testing.T, config []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func translateBundle(t *testing.T, dir string) *Plan {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	p, err := Translate(s, dir)
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func capSet(cs ...cred.Cap) cred.CapSet {
	var s cred.CapSet
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// unappliedFields lists the fields of the unapplied settings.
func unappliedFields(us []sandbox.Unapplied) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Field)
	}
	return out
}

// TestRuncDefaults translates runc's default specs: everything of them is
// applied or reported, nothing fails.
func TestRuncDefaults(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		t.Run(map[bool]string{false: "root", true: "rootless"}[rootless], func(t *testing.T) {
			p := translateBundle(t, bundle(t, runcSpec(t, rootless)))
			three := capSet(29 /* AUDIT_WRITE */, cred.CapKill, 10 /* NET_BIND_SERVICE */)
			wantCaps := &sandbox.Caps{Bounding: three, Effective: three, Permitted: three, Ambient: three}
			got := p.Process
			if !slices.Equal(got.Args, []string{"sh"}) || got.Cwd != "/" || !got.Terminal || !got.NoNewPrivileges {
				t.Errorf("process = %+v", got)
			}
			if !slices.Equal(got.Env, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/"}) {
				t.Errorf("env = %q", got.Env)
			}
			if !reflect.DeepEqual(got.User, sandbox.User{}) {
				t.Errorf("user = %+v, want 0:0", got.User)
			}
			if !reflect.DeepEqual(got.Rlimits, []sandbox.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1024}}) {
				t.Errorf("rlimits = %+v", got.Rlimits)
			}
			if !reflect.DeepEqual(got.Capabilities, wantCaps) {
				t.Errorf("caps = %+v, want %+v", got.Capabilities, wantCaps)
			}
			cfg := p.Config
			if cfg.Root == nil || len(cfg.Root.Layers) != 0 || !filepath.IsAbs(cfg.Root.Dir) || filepath.Base(cfg.Root.Dir) != "rootfs" || !cfg.Root.ReadOnly {
				t.Errorf("root = %+v, want the bundle's rootfs directory itself, read-only", cfg.Root)
			}
			if cfg.Hostname != "runc" {
				t.Errorf("hostname = %q", cfg.Hostname)
			}
			if cfg.User == nil || cfg.User.UID != 0 || cfg.User.GID != 0 {
				t.Errorf("config user = %+v", cfg.User)
			}
			// /proc, /dev, /dev/pts, /dev/shm are litebox's; mqueue, /sys
			// and its cgroup are not mounted, and said so.
			if len(cfg.Mounts) != 0 {
				t.Errorf("mounts = %+v, want none", cfg.Mounts)
			}
			fields := unappliedFields(cfg.Unapplied)
			for _, want := range []string{"mounts[1]", "mounts[3]", "mounts[4]", "mounts[5]", "mounts[6]", "linux.maskedPaths", "linux.readonlyPaths"} {
				if !slices.Contains(fields, want) {
					t.Errorf("unapplied %q missing: %q", want, fields)
				}
			}
			for _, u := range cfg.Unapplied {
				if u.Field == "mounts[4]" && !strings.Contains(u.Reason, "no mqueue file system") {
					t.Errorf("mqueue reported as %q", u.Reason)
				}
			}
			// runc's rootless default has no network namespace: the
			// host's network, which a guest never gets.
			if rootless != slices.Contains(fields, "linux.namespaces") {
				t.Errorf("rootless %v: host network reported: %v", rootless, slices.Contains(fields, "linux.namespaces"))
			}
			if rootless && !slices.Contains(fields, "linux.uidMappings") {
				t.Errorf("rootless: uidMappings not reported: %q", fields)
			}
			if p.NetNS != "" {
				t.Errorf("netns = %q, want none (no path)", p.NetNS)
			}
			if want := (sandbox.Limits{NoFile: 1024, Memory: DefaultMemory, Tasks: DefaultTasks, FileSize: DefaultFileSize}); cfg.Limits != want || cfg.TmpSize != DefaultTmpSize {
				t.Errorf("limits = %+v, tmp %d; want %+v (the CLI's defaults, NoFile its rlimit), tmp %d", cfg.Limits, cfg.TmpSize, want, DefaultTmpSize)
			}
		})
	}
}

// mutate returns runc's default spec changed by fn, as JSON.
func mutate(t *testing.T, fn func(s *specs.Spec)) []byte {
	t.Helper()
	var s specs.Spec
	if err := json.Unmarshal(runcSpec(t, false), &s); err != nil {
		t.Fatal(err)
	}
	fn(&s)
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		name string
		fn   func(s *specs.Spec)
		want string
	}{
		{"no process", func(s *specs.Spec) { s.Process = nil }, "no process"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args is empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, `process.cwd "tmp" is not absolute`},
		{"bad env", func(s *specs.Spec) { s.Process.Env = []string{"NOEQUALS"} }, `process.env[0] "NOEQUALS"`},
		{"rlimit type", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_BOGUS" }, `unknown type "RLIMIT_BOGUS"`},
		{"rlimit twice", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, s.Process.Rlimits[0])
		}, "RLIMIT_NOFILE given twice"},
		{"rlimit soft above hard", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 }, "soft 2048 above hard 1024"},
		{"uid -1", func(s *specs.Spec) { s.Process.User.UID = cred.NoID }, "is not an id"},
		{"umask", func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o1000)) }, "umask"},
		{"username", func(s *specs.Spec) { s.Process.User.Username = "x" }, "Windows-only"},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" }, "only 1.x"},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "no root.path"},
		{"root missing", func(s *specs.Spec) { s.Root.Path = "nothere" }, "root.path"},
		{"root a file", func(s *specs.Spec) { s.Root.Path = "config.json" }, "is not a directory"},
		{"relative destination", func(s *specs.Spec) { s.Mounts[0].Destination = "proc" }, `destination "proc" is not absolute`},
		{"mount on /", func(s *specs.Spec) { s.Mounts[0].Destination = "/" }, "a mount on /"},
		{"bind without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Options: []string{"bind"}})
		}, "without a source"},
		{"bind source missing", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/nonexistent/x", Options: []string{"bind"}})
		}, "bind source"},
		{"tmpfs size %", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/run", Type: "tmpfs", Options: []string{"size=50%"}})
		}, "share of RAM"},
		{"tmpfs bad mode", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/run", Type: "tmpfs", Options: []string{"mode=999"}})
		}, "not an octal mode"},
		{"mount without type", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/tmp"})
		}, "no type and no bind option"},
		{"hostname", func(s *specs.Spec) { s.Hostname = strings.Repeat("h", 65) }, "at most 64 bytes"},
		{"net annotation", func(s *specs.Spec) { s.Annotations = map[string]string{AnnotationNet: "host"} }, "want none or egress"},
		{"allow without egress", func(s *specs.Spec) {
			s.Annotations = map[string]string{AnnotationAllow: "example.com:443"}
		}, "needs dev.litebox.net=egress"},
		{"audit relative", func(s *specs.Spec) { s.Annotations = map[string]string{AnnotationAudit: "audit.log"} }, "absolute path"},
		{"egress and a netns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"})
			s.Annotations = map[string]string{AnnotationNet: "egress"}
		}, "the engine owns the network"},
		{"netns path of another type", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/self/ns/uts"}}
		}, "network namespace path: /proc/self/ns/uts: a uts namespace, want network"},
		{"netns path a regular file", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/self/status"}}
		}, "/proc/self/status: not a namespace file"},
		{"netns path a FIFO", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: fifo(t)}}
		}, "not a namespace file"},
		{"netns path missing", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/nonexistent/ns"}}
		}, "stat /nonexistent/ns: no such file or directory"},
		{"ipc path a mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.IPCNamespace, Path: "/proc/self/ns/mnt"}}
		}, "ipc namespace path: /proc/self/ns/mnt: a mount namespace, want ipc"},
		{"cgroup path an ipc namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.CgroupNamespace, Path: "/proc/self/ns/ipc"}}
		}, "a ipc namespace, want cgroup"},
		{"unknown namespace type", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "hostile"}}
		}, `unknown namespace type "hostile"`},
		{"tmpfs-size", func(s *specs.Spec) { s.Annotations = map[string]string{AnnotationTmpSize: "lots"} }, "not a size"},
		{"windows", func(s *specs.Spec) { s.Windows = &specs.Windows{} }, "only a Linux container"},
		{"cpu period", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(5000)), Period: ptr(uint64(10))}}
		}, "cpu.period 10"},
		{"cpu quota", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(10))}}
		}, "cpu.quota 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundle(t, mutate(t, tt.fn))
			s, err := Load(dir)
			if err == nil {
				var p *Plan
				p, err = Translate(s, dir)
				if err == nil {
					p.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		want    string
		invalid bool
	}{
		{"syntax", []byte("{\n  \"ociVersion\": \"1.0.2\",\n  oops\n}"), "config.json: invalid OCI spec: line 3, column 3", true},
		{"type", []byte(`{"ociVersion": "1.0.2", "process": {"args": "sh"}}`), "line 1, column 48: cannot unmarshal string", true},
		{"no version", []byte(`{}`), "no ociVersion", true},
		{"too large", append([]byte(`{"ociVersion":"1.0.2","hostname":"`), make([]byte, MaxConfigSize)...), "larger than", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(bundle(t, tt.content))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if errors.Is(err, ErrInvalid) != tt.invalid {
				t.Errorf("errors.Is(ErrInvalid) = %v", !tt.invalid)
			}
		})
	}
	_, err := Load(t.TempDir())
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing config.json: %v", err)
	}
}

func TestMounts(t *testing.T) {
	host := t.TempDir()
	hostFile := filepath.Join(host, "f")
	if err := os.WriteFile(hostFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		mount     specs.Mount
		want      []sandbox.Mount
		unapplied string // a field expected among the unapplied ones
	}{
		{"bind rw", specs.Mount{Destination: "/data", Type: "bind", Source: host, Options: []string{"rbind", "rw"}},
			[]sandbox.Mount{{HostPath: host, GuestPath: "/data", Writable: true}}, ""},
		{"bind ro, type none", specs.Mount{Destination: "/data/", Type: "none", Source: host, Options: []string{"bind", "ro", "nosuid", "nodev"}},
			[]sandbox.Mount{{HostPath: host, GuestPath: "/data"}}, ""},
		{"bind relative source", specs.Mount{Destination: "/r", Source: "rootfs", Options: []string{"bind"}},
			[]sandbox.Mount{{HostPath: "BUNDLE/rootfs", GuestPath: "/r", Writable: true}}, ""},
		{"bind noexec", specs.Mount{Destination: "/data", Source: host, Options: []string{"bind", "noexec"}},
			[]sandbox.Mount{{HostPath: host, GuestPath: "/data", Writable: true, NoExec: true}}, ""},
		{"file bind noexec reported", specs.Mount{Destination: "/etc/f", Source: hostFile, Options: []string{"bind", "noexec"}},
			[]sandbox.Mount{{HostPath: hostFile, GuestPath: "/etc/f", Writable: true}}, "mounts[7].options"},
		{"tmpfs noexec", specs.Mount{Destination: "/run", Type: "tmpfs", Options: []string{"noexec"}},
			[]sandbox.Mount{{GuestPath: "/run", Tmpfs: &sandbox.Tmpfs{}, NoExec: true}}, ""},
		{"tmpfs", specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=64m", "mode=755"}},
			[]sandbox.Mount{{GuestPath: "/run", Tmpfs: &sandbox.Tmpfs{Size: 64 << 20, Mode: 0o755}}}, ""},
		{"tmpfs ro unsized", specs.Mount{Destination: "/empty", Type: "tmpfs", Options: []string{"ro"}},
			[]sandbox.Mount{{GuestPath: "/empty", Tmpfs: &sandbox.Tmpfs{ReadOnly: true}}}, ""},
		{"tmpfs unknown option", specs.Mount{Destination: "/run", Type: "tmpfs", Options: []string{"huge=always"}},
			[]sandbox.Mount{{GuestPath: "/run", Tmpfs: &sandbox.Tmpfs{}}}, "mounts[7].options"},
		{"host device", specs.Mount{Destination: "/dev/null", Type: "bind", Source: "/dev/null", Options: []string{"bind"}}, nil, "mounts[7]"},
		{"host proc", specs.Mount{Destination: "/hostproc", Type: "bind", Source: "/proc", Options: []string{"rbind"}}, nil, "mounts[7]"},
		{"host sys", specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "ro"}}, nil, "mounts[7]"},
		{"bind over our /proc", specs.Mount{Destination: "/proc", Source: host, Options: []string{"bind"}}, nil, "mounts[7]"},
		{"proc elsewhere", specs.Mount{Destination: "/p", Type: "proc", Source: "proc"}, nil, "mounts[7]"},
		{"unknown type", specs.Mount{Destination: "/n", Type: "nfs", Source: "srv:/x"}, nil, "mounts[7]"},
		// The root is the bundle's directory with its own /tmp: a tmpfs
		// there is mounted as anywhere else.
		{"tmpfs at /tmp", specs.Mount{Destination: "/tmp", Type: "tmpfs", Options: []string{"mode=1777"}},
			[]sandbox.Mount{{GuestPath: "/tmp", Tmpfs: &sandbox.Tmpfs{Mode: 0o1777}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundle(t, mutate(t, func(s *specs.Spec) { s.Mounts = append(s.Mounts, tt.mount) }))
			p := translateBundle(t, dir)
			want := tt.want
			for i := range want {
				want[i].HostPath = strings.Replace(want[i].HostPath, "BUNDLE", dir, 1)
			}
			if !reflect.DeepEqual(p.Config.Mounts, want) {
				t.Errorf("mounts = %+v, want %+v", p.Config.Mounts, want)
			}
			fields := unappliedFields(p.Config.Unapplied)
			if tt.unapplied != "" && !slices.Contains(fields, tt.unapplied) {
				t.Errorf("unapplied = %q, want %q among them", fields, tt.unapplied)
			}
			if tt.unapplied == "" && slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, "mounts[7]") }) {
				t.Errorf("unexpected unapplied %q", fields)
			}
		})
	}
}

func TestResourcesAndAnnotations(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "audit.log")
	dir := bundle(t, mutate(t, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr(int64(256 << 20)), Swap: ptr(int64(512 << 20))},
			Pids:   &specs.LinuxPids{Limit: 64},
			CPU:    &specs.LinuxCPU{Quota: ptr(int64(150000)), Period: ptr(uint64(100000)), Shares: ptr(uint64(512))},
		}
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
		s.Process.ApparmorProfile = "containers-default"
		s.Process.User = specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{10, 20}}
		s.Annotations = map[string]string{
			AnnotationPlatform: "ptrace", AnnotationNet: "egress", AnnotationAllow: "example.com:443, 10.0.0.0/8",
			AnnotationAudit: audit, "org.example": "kept", AnnotationTmpSize: "256M",
		}
	}))
	p := translateBundle(t, dir)
	cfg := p.Config
	if cfg.Limits.Memory != 256<<20 || cfg.Limits.Tasks != 64 || cfg.Limits.CPUs != 1.5 || cfg.Limits.CPUPeriod != 100*time.Millisecond {
		t.Errorf("limits = %+v", cfg.Limits)
	}
	if p.NetNS != "" || cfg.Network.NetNS != "" {
		t.Errorf("netns = %q", p.NetNS)
	}
	if cfg.Platform != "ptrace" || !cfg.Network.Egress || len(cfg.Network.Allow) != 2 {
		t.Errorf("platform %q network %+v", cfg.Platform, cfg.Network)
	}
	if cfg.Audit == nil || cfg.AuditMaxSize != DefaultAuditMax {
		t.Errorf("audit writer %v, max %d", cfg.Audit, cfg.AuditMaxSize)
	}
	if cfg.TmpSize != 256<<20 {
		t.Errorf("tmp size %d", cfg.TmpSize)
	}
	if _, err := os.Stat(audit); err != nil {
		t.Errorf("audit file: %v", err)
	}
	want := sandbox.User{UID: 1000, GID: 100, Groups: []uint32{10, 20}}
	if !reflect.DeepEqual(p.Process.User, want) || !reflect.DeepEqual(*cfg.User, want) {
		t.Errorf("user = %+v / %+v, want %+v", p.Process.User, cfg.User, want)
	}
	fields := unappliedFields(cfg.Unapplied)
	for _, f := range []string{"linux.seccomp", "process.apparmorProfile", "linux.resources.memory.swap", "linux.resources.cpu"} {
		if !slices.Contains(fields, f) {
			t.Errorf("unapplied %q missing: %q", f, fields)
		}
	}
}

func TestCapNames(t *testing.T) {
	if len(capNames) != int(cred.CapLastCap)+1 {
		t.Fatalf("%d names for %d capabilities", len(capNames), cred.CapLastCap+1)
	}
	for _, tt := range []struct {
		name string
		cap  cred.Cap
		ok   bool
	}{
		{"CAP_CHOWN", cred.CapChown, true}, {"cap_sys_admin", cred.CapSysAdmin, true}, {"kill", cred.CapKill, true},
		{"CAP_CHECKPOINT_RESTORE", cred.CapLastCap, true}, {"CAP_MAC_OVERRIDE", cred.CapMacOverride, true},
		{"CAP_BOGUS", 0, false}, {"", 0, false},
	} {
		c, ok := CapByName(tt.name)
		if c != tt.cap || ok != tt.ok {
			t.Errorf("CapByName(%q) = %d, %v; want %d, %v", tt.name, c, ok, tt.cap, tt.ok)
		}
	}
	p, err := TranslateProcess(&specs.Process{Args: []string{"x"}, Capabilities: &specs.LinuxCapabilities{
		Effective: []string{"CAP_KILL", "CAP_NOPE"}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Capabilities.Effective != capSet(cred.CapKill) || !slices.Contains(unappliedFields(p.Unapplied), "process.capabilities") {
		t.Errorf("caps %+v unapplied %+v", p.Capabilities, p.Unapplied)
	}
}

// podmanBundle makes a bundle from testdata's config.json of podman 4.3
// (`podman create --read-only`, written by `podman init`), with its host
// paths (the container's userdata, its rootfs) replaced by the test's.
func podmanBundle(t testing.TB) (dir string, s *specs.Spec) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "podman-4.3-readonly.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	run, store, rootfs := filepath.Join(dir, "run"), filepath.Join(dir, "store"), filepath.Join(dir, "rootfs")
	for _, d := range []string{run, filepath.Join(store, "shm"), rootfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{"resolv.conf": "nameserver 10.0.2.3\n", "hosts": "127.0.0.1 localhost\n10.88.0.2 c1\n", "hostname": "c1\n"} {
		if err := os.WriteFile(filepath.Join(run, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := strings.NewReplacer("@RUN@", run, "@STORE@", store, "@ROOTFS@", rootfs)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(r.Replace(string(raw))), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

// TestPodmanConfig translates a real podman config.json.
func TestPodmanConfig(t *testing.T) {
	dir, s := podmanBundle(t)
	// Podman's namespace (/run/netns/netns-...) is gone; Translate checks
	// that the path is a network namespace: this process's is one.
	const netns = "/proc/self/ns/net"
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			if !strings.HasPrefix(ns.Path, "/run/netns/") {
				t.Fatalf("podman's netns path %q", ns.Path)
			}
			s.Linux.Namespaces[i].Path = netns
		}
	}
	p, err := Translate(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.NetNS != netns || p.Config.Network.NetNS != p.NetNS {
		t.Errorf("netns = %q, network %+v", p.NetNS, p.Config.Network)
	}
	cfg := p.Config
	if !cfg.Root.ReadOnly || cfg.Hostname != "07db6f2a142f" {
		t.Errorf("root %+v hostname %q", cfg.Root, cfg.Hostname)
	}
	if cfg.Limits.NoFile != 1<<20 || p.Process.Umask == nil || *p.Process.Umask != 0o022 {
		t.Errorf("nofile %d umask %v", cfg.Limits.NoFile, p.Process.Umask)
	}
	// /run and /var/tmp are tmpfs (/tmp is litebox's); the three name
	// files are file binds; /dev/shm's bind is litebox's /dev/shm.
	var got []string
	for _, m := range cfg.Mounts {
		if m.Tmpfs != nil {
			if !m.Tmpfs.CopyUp {
				t.Errorf("tmpfs %s: tmpcopyup not kept", m.GuestPath)
			}
			got = append(got, "tmpfs "+m.GuestPath)
		} else {
			got = append(got, "bind "+m.GuestPath+" "+strings.TrimPrefix(m.HostPath, dir))
		}
	}
	want := []string{"tmpfs /run", "tmpfs /tmp", "tmpfs /var/tmp", "bind /etc/resolv.conf /run/resolv.conf", "bind /etc/hosts /run/hosts",
		"bind /etc/hostname /run/hostname"}
	if !slices.Equal(got, want) {
		t.Errorf("mounts\n%q\nwant\n%q", got, want)
	}
	fields := unappliedFields(cfg.Unapplied)
	for _, f := range []string{"mounts[0]", "mounts[5]", "mounts[10]", "mounts[12]", "linux.seccomp", "linux.sysctl", "linux.maskedPaths"} {
		if !slices.Contains(fields, f) {
			t.Errorf("unapplied %q missing: %q", f, fields)
		}
	}
	caps := p.Process.Capabilities
	if caps == nil || !caps.Bounding.Has(cred.CapSetpcap) || caps.Bounding.Has(cred.CapSysAdmin) {
		t.Errorf("caps %+v", caps)
	}
}

// TestHome: a process without HOME gets its uid's home from the root's
// /etc/passwd, as runc does; one with HOME keeps it.
func TestHome(t *testing.T) {
	for _, tc := range []struct {
		uid  uint32
		env  []string
		want string
	}{
		{0, nil, "HOME=/root"}, {1000, nil, "HOME=/home/u"}, {4242, nil, "HOME=/"},
		{0, []string{"HOME=/elsewhere"}, "HOME=/elsewhere"},
	} {
		dir := bundle(t, mutate(t, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: tc.uid}
			s.Process.Env = tc.env
		}))
		if err := os.MkdirAll(filepath.Join(dir, "rootfs", "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		passwd := "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"
		if err := os.WriteFile(filepath.Join(dir, "rootfs", "etc", "passwd"), []byte(passwd), 0o644); err != nil {
			t.Fatal(err)
		}
		p := translateBundle(t, dir)
		homes := slices.DeleteFunc(slices.Clone(p.Process.Env), func(e string) bool { return !strings.HasPrefix(e, "HOME=") })
		if !slices.Equal(homes, []string{tc.want}) {
			t.Errorf("uid %d env %q: HOME %q, want %q", tc.uid, tc.env, homes, tc.want)
		}
	}
}

// BenchmarkLoadTranslate measures what a runtime's create spends on the
// spec: reading podman's config.json (with its seccomp profile) and
// translating it, the rootfs opened and closed.
func BenchmarkLoadTranslate(b *testing.B) {
	dir, _ := podmanBundle(b)
	b.ResetTimer()
	for range b.N {
		s, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		p, err := Translate(s, dir)
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// FuzzTranslate: no config.json makes Parse or Translate panic. The
// fuzzer's specs never name a host file to write (the audit annotation is
// dropped) and keep the bundle's rootfs.
func FuzzTranslate(f *testing.F) {
	for _, name := range []string{"runc-spec.json", "runc-spec-rootless.json", "podman-4.3-readonly.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		delete(s.Annotations, AnnotationAudit)
		if s.Root != nil {
			s.Root.Path = "rootfs"
		}
		if p, err := Translate(s, dir); err == nil {
			p.Close()
		}
	})
}

// TestMountLabels: litebox's own mounts are named in the guest's mount
// table as the config named them, where litebox serves that kind there (a
// tmpfs or devtmpfs at /dev; a source that is a word), and not otherwise
// (a bind over /proc, a source naming a path, a kind litebox has not).
func TestMountLabels(t *testing.T) {
	tests := []struct {
		name   string
		mounts []specs.Mount
		want   []sandbox.MountLabel
	}{
		{"runc's defaults", []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance", "ptmxmode=0666"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"},
		}, []sandbox.MountLabel{
			{GuestPath: "/proc", Source: "proc"},
			{GuestPath: "/dev", Type: "tmpfs", Source: "tmpfs"},
			{GuestPath: "/dev/pts", Source: "devpts"},
			{GuestPath: "/dev/shm", Source: "shm"},
		}},
		{"devtmpfs at /dev, no source", []specs.Mount{{Destination: "/dev/", Type: "devtmpfs"}},
			[]sandbox.MountLabel{{GuestPath: "/dev", Type: "devtmpfs"}}},
		{"a path as the source is not shown", []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "/var/tmp"}}, nil},
		{"a tmpfs of the config's", []specs.Mount{{Destination: "/run", Type: "tmpfs", Source: "run"}},
			[]sandbox.MountLabel{{GuestPath: "/run", Source: "run"}}},
		{"tmpfs type at /proc is not ours", []specs.Mount{{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}}, nil},
		{"bind over /dev is not ours", []specs.Mount{{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind"}}}, nil},
		{"shm type at /dev/shm keeps tmpfs", []specs.Mount{{Destination: "/dev/shm", Type: "shm", Source: "shm"}},
			[]sandbox.MountLabel{{GuestPath: "/dev/shm", Source: "shm"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := translateBundle(t, bundle(t, mutate(t, func(s *specs.Spec) { s.Mounts = tt.mounts })))
			if !reflect.DeepEqual(p.Config.MountLabels, tt.want) {
				t.Errorf("labels = %+v, want %+v", p.Config.MountLabels, tt.want)
			}
		})
	}
}

// fifo makes a named pipe: opening one for reading would block.
func fifo(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNamespacePaths: a path of the entry's own type is accepted (a
// network one becomes the netns the netstack takes over; the others are
// reported: litebox's kernel has its own).
func TestNamespacePaths(t *testing.T) {
	for _, tt := range []struct {
		ns        specs.LinuxNamespace
		netns     string
		unapplied bool
	}{
		{specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"}, "/proc/self/ns/net", false},
		{specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/proc/self/ns/uts"}, "", true},
		{specs.LinuxNamespace{Type: specs.MountNamespace, Path: "/proc/self/ns/mnt"}, "", true},
		{specs.LinuxNamespace{Type: specs.PIDNamespace}, "", false},
	} {
		t.Run(string(tt.ns.Type), func(t *testing.T) {
			p := translateBundle(t, bundle(t, mutate(t, func(s *specs.Spec) {
				s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace}, tt.ns}
				if tt.ns.Type == specs.NetworkNamespace {
					s.Linux.Namespaces = s.Linux.Namespaces[1:]
				}
			})))
			if p.NetNS != tt.netns {
				t.Errorf("netns %q, want %q", p.NetNS, tt.netns)
			}
			reported := slices.ContainsFunc(p.Config.Unapplied, func(u sandbox.Unapplied) bool {
				return u.Field == "linux.namespaces" && strings.HasPrefix(u.Value, string(tt.ns.Type)+" ")
			})
			if reported != tt.unapplied {
				t.Errorf("reported %v, want %v: %+v", reported, tt.unapplied, p.Config.Unapplied)
			}
		})
	}
}

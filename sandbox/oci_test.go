package sandbox_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/sandbox"
)

// TestTmpfsMounts checks the tmpfs mounts of Config.Mounts: their mode,
// their own size limit, read-only ones.
func TestTmpfsMounts(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{Mounts: []sandbox.Mount{
		{GuestPath: "/run/a", Tmpfs: &sandbox.Tmpfs{Size: 64 << 10, Mode: 0o700}},
		{GuestPath: "/run/b", Tmpfs: &sandbox.Tmpfs{}},
		{GuestPath: "/ro", Tmpfs: &sandbox.Tmpfs{ReadOnly: true, Mode: 0o555}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs := s.FS()
	for _, tt := range []struct {
		path string
		mode uint32
	}{{"/run/a", 0o700}, {"/run/b", 0o1777}, {"/ro", 0o555}} {
		st, err := fs.Stat(tt.path, true)
		if err != nil {
			t.Fatalf("stat %s: %v", tt.path, err)
		}
		if st.Mode&0o7777 != tt.mode || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Errorf("%s: mode %#o, want dir %#o", tt.path, st.Mode, tt.mode)
		}
	}
	if err := fs.Mkdir("/ro/x", 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir in a read-only tmpfs: %v, want EROFS", err)
	}
	// /run/a holds 64 KiB: a larger file does not fit.
	f, err := fs.Open("/run/a/big", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	// As a full Linux tmpfs: a short write, then ENOSPC.
	n, err := f.Write(make([]byte, 128<<10))
	if err != nil || n >= 64<<10 || n == 0 {
		t.Errorf("writing 128 KiB in a 64 KiB tmpfs: %d, %v; want a short write", n, err)
	}
	if _, err := f.Write(make([]byte, 64<<10)); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("writing past a full tmpfs: %v, want ENOSPC", err)
	}
}

func TestTmpfsBadMode(t *testing.T) {
	_, err := sandbox.New(sandbox.Config{Mounts: []sandbox.Mount{{GuestPath: "/x", Tmpfs: &sandbox.Tmpfs{Mode: 0o10000}}}})
	if err == nil || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("err = %v", err)
	}
}

// TestUnappliedAudited checks that every unapplied setting is an audit
// event.
func TestUnappliedAudited(t *testing.T) {
	var audit bytes.Buffer
	s, err := sandbox.New(sandbox.Config{Audit: &audit, Unapplied: []sandbox.Unapplied{
		{Field: "linux.seccomp", Value: "SCMP_ACT_ERRNO", Reason: "not needed"},
		{Field: "mounts[4]", Value: "mqueue /dev/mqueue", Reason: "none"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	out := audit.String()
	for _, want := range []string{`"msg":"unapplied_setting"`, `"field":"linux.seccomp"`, `"value":"mqueue /dev/mqueue"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %s:\n%s", want, out)
		}
	}
}

// dirRoot makes a one-layer image root from a host directory with files.
func dirRoot(t *testing.T, files map[string]string) *sandbox.Root {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hfs, err := hostfs.New(dir, hostfs.Options{ReadOnly: true, OwnerAsGuest: true, Owner: &hostfs.Owner{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hfs.Close() })
	return &sandbox.Root{Layers: []vfs.FileSystem{hfs}}
}

func readGuest(t *testing.T, fs *vfs.VFS, name string) string {
	t.Helper()
	f, err := fs.Open(name, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.DecRef()
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(buf[:n])
}

// TestFileMounts checks host files mounted over an image's files, as the
// engines mount /etc/hosts, /etc/resolv.conf and /run/.containerenv.
func TestFileMounts(t *testing.T) {
	host := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(host, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hosts := write("hosts", "10.88.0.5 c1\n")
	env := write("containerenv", "engine=\"podman\"\n")
	marker := write("marker", "from host\n")
	root := dirRoot(t, map[string]string{"etc/hosts": "image hosts\n", "etc/os-release": "ID=img\n", "run/keep": "k"})
	s, err := sandbox.New(sandbox.Config{Root: root, User: &sandbox.User{}, Mounts: []sandbox.Mount{
		{HostPath: hosts, GuestPath: "/etc/hosts"},
		{HostPath: env, GuestPath: "/run/.containerenv", Writable: true},
		{HostPath: marker, GuestPath: "/new/dir/marker"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs := s.FS()
	for name, want := range map[string]string{
		"/etc/hosts": "10.88.0.5 c1\n", "/etc/os-release": "ID=img\n", "/run/.containerenv": "engine=\"podman\"\n",
		"/run/keep": "k", "/new/dir/marker": "from host\n",
	} {
		if got := readGuest(t, fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// The read-only one refuses writes; the writable one writes the host
	// file.
	if _, err := fs.Open("/etc/hosts", unix.O_WRONLY, 0); !errors.Is(err, unix.EROFS) {
		t.Errorf("open a read-only file mount for writing: %v, want EROFS", err)
	}
	f, err := fs.Open("/run/.containerenv", unix.O_WRONLY|unix.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("changed\n")); err != nil {
		t.Fatal(err)
	}
	f.DecRef()
	if b, _ := os.ReadFile(env); string(b) != "changed\n" {
		t.Errorf("host file = %q after the guest's write", b)
	}
	// A file mount cannot be removed or replaced (EBUSY, as a bind mount),
	// even by the guest's root.
	if err := fs.Unlink("/etc/hosts"); !errors.Is(err, unix.EBUSY) {
		t.Errorf("unlink a file mount: %v, want EBUSY", err)
	}
}

func TestFileMountErrors(t *testing.T) {
	host := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(host, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  sandbox.Config
		want string
	}{
		{"no image root", sandbox.Config{Mounts: []sandbox.Mount{{HostPath: host, GuestPath: "/x/f"}}}, "only in an image root"},
		{"under a tmpfs", sandbox.Config{Root: dirRoot(t, nil), Mounts: []sandbox.Mount{
			{HostPath: host, GuestPath: "/run/f"}, {GuestPath: "/run", Tmpfs: &sandbox.Tmpfs{}}}}, "another mount's"},
		{"under /tmp", sandbox.Config{Root: dirRoot(t, nil), Mounts: []sandbox.Mount{{HostPath: host, GuestPath: "/tmp/f"}}}, "another mount's"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sandbox.New(tt.cfg)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCPUShareBadValues(t *testing.T) {
	for _, lim := range []sandbox.Limits{{CPUs: -1}, {CPUs: 1, CPUPeriod: time.Microsecond}, {CPUs: 1, CPUPeriod: 2 * time.Second}} {
		if s, err := sandbox.New(sandbox.Config{Limits: lim}); err == nil {
			s.Close()
			t.Errorf("%+v: no error", lim)
		}
	}
}

// TestTmpfsCopyUp checks podman's tmpcopyup: the tmpfs starts with the
// image directory's files, modes and owners, within its own size.
func TestTmpfsCopyUp(t *testing.T) {
	root := dirRoot(t, map[string]string{"run/a": "file a", "run/sub/b": "file b", "var/big": string(make([]byte, 200<<10))})
	layer := root.Layers[0].(*hostfs.FS).HostDir()
	if err := os.Symlink("sub/b", filepath.Join(layer, "run", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(layer, "run", "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	s, err := sandbox.New(sandbox.Config{Root: root, User: &sandbox.User{}, Mounts: []sandbox.Mount{
		{GuestPath: "/run", Tmpfs: &sandbox.Tmpfs{CopyUp: true}},
		{GuestPath: "/empty", Tmpfs: &sandbox.Tmpfs{CopyUp: true}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs := s.FS()
	for name, want := range map[string]string{"/run/a": "file a", "/run/sub/b": "file b", "/run/link": "file b"} {
		if got := readGuest(t, fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	st, err := fs.Stat("/run/sub", false)
	if err != nil || st.Mode&0o7777 != 0o750 || st.Uid != 0 {
		t.Errorf("/run/sub: %+v %v, want mode 0750 owned by 0", st, err)
	}
	// It is a tmpfs: a new file there is not in the image.
	f, err := fs.Open("/run/new", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.DecRef()
	if _, err := os.Stat(filepath.Join(layer, "run", "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the new file reached the image: %v", err)
	}
	// A copy larger than the tmpfs fails New.
	_, err = sandbox.New(sandbox.Config{Root: root, Mounts: []sandbox.Mount{
		{GuestPath: "/var", Tmpfs: &sandbox.Tmpfs{CopyUp: true, Size: 64 << 10}}}})
	if err == nil || !strings.Contains(err.Error(), "copying the directory up") {
		t.Errorf("copy-up past the tmpfs size: %v", err)
	}
}

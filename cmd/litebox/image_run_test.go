package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/litebox-go/litebox/tests/harness"
)

// busyboxImage is a two-layer image around the host's static busybox: the
// bottom layer has busybox, its applets as symlinks, /etc and an /app of
// user app; the top layer whites /etc/motd out and replaces /app/data.
func busyboxImage(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs busybox-static: %v", err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, body []byte) {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range []string{"sh", "id", "ls", "cat", "echo", "rm", "pwd", "mv", "stat"} {
		add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox"}, nil)
	}
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir}, nil)
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg}, []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"))
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg}, []byte("root:x:0:\napp:x:1000:\nstaff:x:50:app\n"))
	add(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg}, []byte("old motd\n"))
	add(&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Uid: 1000, Gid: 1000}, nil)
	add(&tar.Header{Name: "app/data", Typeflag: tar.TypeReg, Uid: 1000, Gid: 1000}, []byte("bottom\n"))
	add(&tar.Header{Name: "app/keep", Typeflag: tar.TypeReg, Uid: 1000, Gid: 1000}, []byte("keep\n"))
	tw.Close()
	bottom := b.Bytes()
	top := tarBytes(t, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/.wh.motd"},
		entry{name: "app/", typ: tar.TypeDir, uid: 1000}, entry{name: "app/data", body: "top\n", uid: 1000})
	img := imageOf(t, "amd64", v1.Config{
		Cmd: []string{"/bin/sh", "-c", "echo from Cmd; id -u"}, Env: []string{"PATH=/bin", "FOO=bar"},
		WorkingDir: "/app", User: "app",
	}, layerOf(t, bottom), layerOf(t, top))
	return layoutOf(t, img, "latest")
}

func runGuest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	base := []string{"run", "--no-host-seccomp"}
	if p := os.Getenv(harness.PlatformEnv); p != "" {
		base = append(base, "--platform", p)
	}
	return runCLI(t, append(base, args...)...)
}

// A real guest on an image root: the config applies, the layers stack
// (whiteouts, replaced files), the host is not visible, writes go to a
// layer of the run that the next run does not see.
func TestRunImageGuest(t *testing.T) {
	t.Setenv("LITEBOX_STORE", filepath.Join(t.TempDir(), "store"))
	dir := busyboxImage(t)
	script := `id -u; id -G; pwd; echo "$FOO $HOME"; cat /etc/motd; cat /app/data; ls /usr; ` +
		`echo new > /app/new; rm /app/keep; mv /app/data /app/moved; ls /app; cat /app/moved`
	code, out, stderr := runGuest(t, "--image", "oci:"+dir, "--", "/bin/sh", "-c", script)
	want := "1000\n1000 50\n/app\nbar /home/app\ntop\nmoved\nnew\ntop\n"
	wantErr := "cat: can't open '/etc/motd': No such file or directory\nls: /usr: No such file or directory\n"
	if code != 1 && code != 0 || out != want || stderr != wantErr {
		t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", code, out, want, stderr, wantErr)
	}
	// The image's Cmd, and a fresh upper layer: nothing of the first run.
	code, out, stderr = runGuest(t, "--image", "oci:"+dir+":latest")
	if code != 0 || out != "from Cmd\n1000\n" || stderr != "" {
		t.Fatalf("Cmd run: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// A working directory the image lacks is made, as Docker makes it.
	code, out, stderr = runGuest(t, "--image", "oci:"+dir, "--cwd", "/srv/new/dir", "--", "/bin/sh", "-c", "pwd; stat -c '%a %u' .")
	if code != 0 || out != "/srv/new/dir\n755 0\n" || stderr != "" {
		t.Fatalf("--cwd missing in the image: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// --entrypoint replaces the Entrypoint and drops the image's Cmd.
	code, out, stderr = runGuest(t, "--image", "oci:"+dir, "--entrypoint", "/bin/echo", "--", "via", "entrypoint")
	if code != 0 || out != "via entrypoint\n" || stderr != "" {
		t.Fatalf("--entrypoint: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, _ = runGuest(t, "--image", "oci:"+dir, "--user", "0", "--", "/bin/ls", "/app")
	if code != 0 || out != "data\nkeep\n" {
		t.Fatalf("second run sees %q (exit %d), want the image's /app", out, code)
	}
	// --read-only: the root refuses writes, /tmp does not.
	code, out, stderr = runGuest(t, "--image", "oci:"+dir, "--read-only", "--", "/bin/sh", "-c", "echo x > /app/x; echo y > /tmp/y && cat /tmp/y")
	if out != "y\n" || !strings.Contains(stderr, "Read-only file system") {
		t.Fatalf("--read-only: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// The same image as a docker archive runs the same; a plain root as a
// host directory or a compressed tar too.
func TestRunOtherRootsGuest(t *testing.T) {
	t.Setenv("LITEBOX_STORE", filepath.Join(t.TempDir(), "store"))
	dir := busyboxImage(t)
	script := `id -u; id -G; pwd; echo "$FOO"; cat /app/data; ls /; echo w > /app/w; cat /app/w; echo x > /x`
	wantCode, want, wantErr := runGuest(t, "--image", "oci:"+dir, "--", "/bin/sh", "-c", script)
	if wantCode != 1 || !strings.Contains(want, "bar\ntop\n") || !strings.Contains(wantErr, "can't create /x: Permission denied") {
		t.Fatalf("oci run: exit %d, %q %q", wantCode, want, wantErr)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	im, _ := idx.IndexManifest()
	img, err := p.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "bb.tar")
	tag, _ := name.NewTag("example.com/bb:1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runGuest(t, "--image", "docker-archive:"+archive+":example.com/bb:1", "--", "/bin/sh", "-c", script)
	if code != wantCode || out != want || stderr != wantErr {
		t.Errorf("docker-archive: exit %d, stdout %q stderr %q; the oci run gave %q %q", code, out, stderr, want, wantErr)
	}

	// A root directory on the host: busybox and its applets.
	root := t.TempDir()
	bb, _ := os.ReadFile("/bin/busybox")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755)
	for _, a := range []string{"sh", "id", "ls", "cat"} {
		os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "marker"), []byte("from the rootfs\n"), 0o644)
	rscript := `export PATH=/bin; id -u; cat /etc/marker; ls /; echo w > /w && cat /w; ls /usr`
	code, out, stderr = runGuest(t, "--rootfs", root, "--", "/bin/sh", "-c", rscript)
	wantOut := "0\nfrom the rootfs\nbin\ndev\netc\nproc\ntmp\nw\n"
	wantStderr := "ls: /usr: No such file or directory\n"
	if code != 1 || out != wantOut || stderr != wantStderr {
		t.Errorf("--rootfs DIR: exit %d, stdout %q, stderr %q; want 1, %q, %q", code, out, stderr, wantOut, wantStderr)
	}
	if _, err := os.Stat(filepath.Join(root, "w")); err == nil {
		t.Error("the guest's write reached the host directory")
	}
	// The same tree as a .tar.gz.
	var tb bytes.Buffer
	zw := gzip.NewWriter(&tb)
	tw := tar.NewWriter(zw)
	if err := tw.AddFS(os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	tgz := filepath.Join(t.TempDir(), "root.tar.gz")
	os.WriteFile(tgz, tb.Bytes(), 0o644)
	code, out2, stderr2 := runGuest(t, "--rootfs", tgz, "--", "/bin/sh", "-c", rscript)
	if code != 1 || out2 != wantOut || stderr2 != wantStderr {
		t.Errorf("--rootfs FILE.tar.gz: exit %d, stdout %q, stderr %q; want 1, %q, %q", code, out2, stderr2, wantOut, wantStderr)
	}
}

// An image pulled from a registry on loopback runs by its name, the
// registry gone.
func TestRunPulledGuest(t *testing.T) {
	st := filepath.Join(t.TempDir(), "store")
	dir := busyboxImage(t)
	p, _ := layout.FromPath(dir)
	idx, _ := p.ImageIndex()
	im, _ := idx.IndexManifest()
	img, err := p.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	u, _ := url.Parse(srv.URL)
	nm := u.Host + "/tools/busybox:1"
	r, _ := name.ParseReference(nm)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "pull", "--store", st, nm); code != 0 {
		t.Fatalf("pull: %d %s", code, stderr)
	}
	srv.Close()
	code, out, stderr := runGuest(t, "--store", st, "--image", nm)
	if code != 0 || out != "from Cmd\n1000\n" || stderr != "" {
		t.Fatalf("pulled image run: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

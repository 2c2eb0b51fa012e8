package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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

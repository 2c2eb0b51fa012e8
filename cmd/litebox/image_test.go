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
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/litebox-go/litebox/image"
	"github.com/litebox-go/litebox/image/store"
	"github.com/litebox-go/litebox/kernel/fsimpl/tarfs"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/sandbox"
)

type entry struct {
	name, body string
	typ        byte
	link       string
	uid        int
}

func tarBytes(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.typ, Linkname: e.link, Size: int64(len(e.body)), Uid: e.uid, Gid: e.uid}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

func layerOf(t *testing.T, b []byte) v1.Layer {
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t *testing.T, arch string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", arch, cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func layoutOf(t *testing.T, img v1.Image, tag string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{store.RefName: tag})); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCLI runs litebox with args and returns the exit code and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Every bad input of an image run is exit 125 and one line naming it.
func TestRunImageErrors(t *testing.T) {
	t.Setenv("LITEBOX_STORE", filepath.Join(t.TempDir(), "store"))
	good := tarBytes(t, entry{name: "bin/sh", body: "x"})
	goodImg := imageOf(t, "amd64", v1.Config{Cmd: []string{"/bin/sh"}}, layerOf(t, good))
	okDir := layoutOf(t, goodImg, "v1")
	m, _ := goodImg.Manifest()
	blobPath := func(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }

	missingBlob := layoutOf(t, goodImg, "v1")
	os.Remove(blobPath(missingBlob, m.Layers[0].Digest))
	mismatch := layoutOf(t, goodImg, "v1")
	{
		p := blobPath(mismatch, m.Layers[0].Digest)
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 0x55
		os.WriteFile(p, b, 0o644)
	}
	arm := layoutOf(t, imageOf(t, "arm64", v1.Config{}, layerOf(t, good)), "v1")
	escape := layoutOf(t, imageOf(t, "amd64", v1.Config{}, layerOf(t, tarBytes(t, entry{name: "../../x", body: "x"}))), "v1")
	hardOut := layoutOf(t, imageOf(t, "amd64", v1.Config{}, layerOf(t, tarBytes(t, entry{name: "a", typ: tar.TypeLink, link: "../etc/passwd"}))), "v1")
	gz := gzipBytes(good)
	cut := static.NewLayer(gz[:len(gz)-12], types.OCILayer) // its digest and diff_id name the cut bytes
	truncated := layoutOf(t, imageOf(t, "amd64", v1.Config{}, cut), "v1")
	corruptTar := writeFile(t, bytes.Repeat([]byte("garbage!"), 200))
	truncatedTgz := writeFile(t, gz[:len(gz)/2])
	badTar := writeFile(t, tarBytes(t, entry{name: "../../etc/x", body: "x"}))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing layout", []string{"--image", "oci:/nonexistent/layout"}, "oci:/nonexistent/layout: stat /nonexistent/layout: no such file or directory"},
		{"not a layout", []string{"--image", "oci:" + t.TempDir()}, "not an OCI image layout"},
		{"unreadable archive", []string{"--image", "docker-archive:/nonexistent.tar"}, "docker-archive:/nonexistent.tar: open /nonexistent.tar: no such file or directory"},
		{"corrupt archive", []string{"--image", "docker-archive:" + corruptTar}, "corrupt tar"},
		{"unknown tag", []string{"--image", "oci:" + okDir + ":v2"}, `no image tagged "v2" (tags: v1)`},
		{"missing blob", []string{"--image", "oci:" + missingBlob}, "layer 1 of 1 (" + m.Layers[0].Digest.String() + "): missing blob"},
		{"digest mismatch", []string{"--image", "oci:" + mismatch}, "layer 1 of 1 (" + m.Layers[0].Digest.String() + "): digest mismatch"},
		{"wrong architecture", []string{"--image", "oci:" + arm}, "the image is linux/arm64; litebox runs only linux/amd64 images"},
		{"layer escaping the root", []string{"--image", "oci:" + escape}, "escapes the root"},
		{"hard link out of the root", []string{"--image", "oci:" + hardOut}, "escapes the root"},
		{"truncated gzip", []string{"--image", "oci:" + truncated}, "truncated gzip stream"},
		{"not in the store", []string{"--image", "example.com/none:1"}, "image example.com/none:1 is not in the store"},
		{"bad reference", []string{"--image", "dir:/x"}, `transport "dir" is not supported`},
		{"a directory path", []string{"--image", okDir}, "a path is written oci:" + okDir},
		{"a file path", []string{"--image", corruptTar}, "a path is written docker-archive:" + corruptTar},
		{"rootfs missing", []string{"--rootfs", "/nonexistent/root"}, "--rootfs /nonexistent/root: stat /nonexistent/root: no such file or directory"},
		{"rootfs corrupt tar", []string{"--rootfs", corruptTar}, "corrupt tar"},
		{"rootfs truncated gzip", []string{"--rootfs", truncatedTgz}, "truncated gzip stream"},
		{"rootfs escaping tar", []string{"--rootfs", badTar}, "escapes the root"},
		{"two roots", []string{"--image", "oci:" + okDir, "--rootfs", "/"}, "--image and --rootfs are two roots"},
		{"read-only alone", []string{"--read-only", "--", "/bin/true"}, "--read-only needs --image or --rootfs"},
		{"no program, no image", []string{}, "give a program to run"},
		{"entrypoint alone", []string{"--entrypoint", "/bin/sh", "--", "x"}, "--entrypoint needs --image or --rootfs"},
		{"entrypoint cleared, no command", []string{"--image", "oci:" + okDir, "--entrypoint", ""}, "the image has no Entrypoint or Cmd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"run"}, tc.args...)...)
			if code != exitUsage || !strings.HasPrefix(stderr, "litebox: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and one line with %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

// The image's config under the command line's, as docker run.
func TestPlan(t *testing.T) {
	etc := tarBytes(t,
		entry{name: "etc/passwd", body: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
		entry{name: "etc/group", body: "root:x:0:\napp:x:1000:\nstaff:x:50:app\n"})
	fs, err := tarfs.New(bytes.NewReader(etc), int64(len(etc)), tarfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := &sandbox.Root{Layers: []vfs.FileSystem{fs}}
	cfg := image.Config{Entrypoint: []string{"/entry"}, Cmd: []string{"--serve"}, Env: []string{"PATH=/opt/bin", "A=1"},
		WorkingDir: "/srv", User: "app"}
	for _, tc := range []struct {
		name          string
		cfg           image.Config
		cmd, env      []string
		cwd, user     string
		args, wantEnv []string
		dir           string
		uid, gid      uint32
		groups        []uint32
		err           string
	}{
		{name: "image defaults", cfg: cfg, args: []string{"/entry", "--serve"}, wantEnv: []string{"PATH=/opt/bin", "A=1", "HOME=/home/app"},
			dir: "/srv", uid: 1000, gid: 1000, groups: []uint32{50}},
		{name: "command line over the image", cfg: cfg, cmd: []string{"--debug"}, env: []string{"A=2", "B=3"}, cwd: "/tmp", user: "0",
			args: []string{"/entry", "--debug"}, wantEnv: []string{"PATH=/opt/bin", "A=2", "HOME=/root", "B=3"}, dir: "/tmp"},
		{name: "no USER is root", cfg: image.Config{Cmd: []string{"sh"}}, args: []string{"sh"},
			wantEnv: []string{"PATH=" + imagePath, "HOME=/root"}},
		{name: "numeric user without entry", cfg: image.Config{Cmd: []string{"sh"}, Env: []string{"HOME=/h"}}, user: "4242:staff",
			args: []string{"sh"}, wantEnv: []string{"HOME=/h", "PATH=" + imagePath}, uid: 4242, gid: 50},
		{name: "no command", cfg: image.Config{}, err: "the image has no Entrypoint or Cmd: give a command"},
		{name: "unknown --user", cfg: cfg, user: "nobody", err: `--user: user "nobody": no such user in the image's /etc/passwd`},
		{name: "unknown image User", cfg: image.Config{Cmd: []string{"sh"}, User: "ghost"}, err: `the image's User: user "ghost"`},
		{name: "unknown group", cfg: cfg, user: "app:wheel", err: `group "wheel": no such group`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan(tc.cfg, tc.cmd, tc.env, tc.cwd, tc.user, root.ReadFile)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("plan: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.args, tc.args) || !reflect.DeepEqual(p.env, tc.wantEnv) || p.dir != tc.dir ||
				p.user.UID != tc.uid || p.user.GID != tc.gid || !reflect.DeepEqual(p.user.Groups, tc.groups) {
				t.Errorf("plan = %+v; want args %v env %v dir %q user %d:%d %v", p, tc.args, tc.wantEnv, tc.dir, tc.uid, tc.gid, tc.groups)
			}
		})
	}
}

func TestPullAndImages(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	img := imageOf(t, "amd64", v1.Config{Cmd: []string{"/bin/sh"}, ExposedPorts: map[string]struct{}{"8000/tcp": {}}},
		layerOf(t, tarBytes(t, entry{name: "bin/sh", body: "x"})))
	nm := u.Host + "/team/app:1"
	r, _ := name.ParseReference(nm)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(t.TempDir(), "store")
	d, _ := img.Digest()

	code, out, stderr := runCLI(t, "images", "--store", st)
	if code != 0 || stderr != "" || strings.Count(out, "\n") != 1 {
		t.Fatalf("images of an empty store: %d %q %q", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "pull", "--store", st, nm)
	if code != 0 || out != nm+" "+d.String()+"\n" {
		t.Fatalf("pull: exit %d, out %q, stderr %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, "images", "--store", st)
	if code != 0 || !strings.Contains(out, nm) || !strings.Contains(out, d.String()[:19]) || !strings.Contains(out, "8000/tcp") {
		t.Fatalf("images after pull: %d %q", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pull", "--store", st, u.Host + "/team/none:1"}, "pull " + u.Host + "/team/none:1: "},
		{[]string{"pull", "--store", st, "Bad/Name"}, "bad image reference"},
		{[]string{"pull", "--store", st}, "accepts 1 arg(s)"},
		{[]string{"pull", "--store", "/dev/null/x", nm}, "store /dev/null/x"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line with %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

func TestExposedHint(t *testing.T) {
	if h := exposedHint(image.Config{}); h != "" {
		t.Errorf("hint without ports: %q", h)
	}
	if h := exposedHint(image.Config{ExposedPorts: []string{"53/udp", "8000/tcp"}}); h != "the image exposes 53/udp, 8000/tcp (publish with -p HOSTPORT:PORT)" {
		t.Errorf("hint %q", h)
	}
}

// Users are looked up in the image's merged layers: the top layer's
// /etc/passwd replaces the bottom one's.
func TestPlanLayeredPasswd(t *testing.T) {
	layer := func(entries ...entry) vfs.FileSystem {
		b := tarBytes(t, entries...)
		fs, err := tarfs.New(bytes.NewReader(b), int64(len(b)), tarfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	bottom := layer(entry{name: "etc/passwd", body: "app:x:1000:1000::/home/app:/bin/sh\n"}, entry{name: "etc/group", body: "g:x:7:app\n"})
	top := layer(entry{name: "etc/passwd", body: "app:x:2000:2001::/srv:/bin/sh\n"}, entry{name: "etc/.wh.group"})
	root := &sandbox.Root{Layers: []vfs.FileSystem{bottom, top}}
	p, err := plan(image.Config{Cmd: []string{"sh"}, User: "app"}, nil, nil, "", "", root.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if p.user.UID != 2000 || p.user.GID != 2001 || len(p.user.Groups) != 0 || !slices.Contains(p.env, "HOME=/srv") {
		t.Errorf("plan = %+v; want 2000:2001 without groups (the group file is whited out), HOME=/srv", p)
	}
}

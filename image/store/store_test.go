package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/litebox-go/litebox/image/ref"
	"github.com/litebox-go/litebox/image/store"
)

// pushed serves an in-process registry on loopback with an image of arch
// at NAME/test/img:TAG, and returns the registry's host:port.
func serve(t *testing.T) string {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func push(t *testing.T, host, repo, arch string, ports ...string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.ExposedPorts = map[string]struct{}{}
	for _, p := range ports {
		cf.Config.ExposedPorts[p] = struct{}{}
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPull(t *testing.T) {
	host := serve(t)
	img := push(t, host, "test/img:v1", "amd64", "8000/tcp")
	push(t, host, "test/arm:v1", "arm64")
	s, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store dir %v %v, want mode 0700", fi.Mode(), err)
	}
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("a new store lists %v, %v", l, err)
	}
	r, err := ref.ParseName(host + "/test/img:v1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Find(r.Name); err == nil || !strings.Contains(err.Error(), "is not in the store") {
		t.Fatalf("Find before pull: %v", err)
	}
	e, err := s.Pull(context.Background(), r, store.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if e.Name != host+"/test/img:v1" || e.Digest != d.String() || len(e.ExposedPorts) != 1 || e.ExposedPorts[0] != "8000/tcp" || e.Size < 2048 {
		t.Errorf("pulled %+v, want digest %s", e, d)
	}
	if dir, err := s.Find(r.Name); err != nil || dir != s.LayoutDir() {
		t.Errorf("Find after pull: %q %v", dir, err)
	}
	// Pulling a name again replaces its image.
	img2 := push(t, host, "test/img:v1", "amd64")
	if _, err := s.Pull(context.Background(), r, store.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	d2, _ := img2.Digest()
	if l, err := s.List(); err != nil || len(l) != 1 || l[0].Digest != d2.String() {
		t.Errorf("after the re-pull the store lists %+v %v; want only %s", l, err, d2)
	}

	// Two pulls at once (two litebox processes, or two goroutines): both
	// succeed and the store names the image once.
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.Pull(context.Background(), r, store.PullOptions{})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent pull: %v", err)
		}
	}
	if l, err := s.List(); err != nil || len(l) != 1 {
		t.Errorf("after concurrent pulls the store lists %+v %v", l, err)
	}

	for _, tc := range []struct{ name, err string }{
		{host + "/test/arm:v1", "the image is linux/arm64; litebox runs only linux/amd64 images"},
		{host + "/test/nope:v1", "pull " + host + "/test/nope:v1: "},
	} {
		r, err := ref.ParseName(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Pull(context.Background(), r, store.PullOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("pull %s: %v; want one line with %q", tc.name, err, tc.err)
		}
	}
	if l, _ := s.List(); len(l) != 1 {
		t.Errorf("failed pulls changed the store: %+v", l)
	}
	if _, err := s.Pull(context.Background(), ref.Ref{Kind: ref.OCI, Path: "x"}, store.PullOptions{}); err == nil {
		t.Error("pulled an oci: reference")
	}
}

func TestDefaultDir(t *testing.T) {
	for _, tc := range []struct{ store, xdg, home, want string }{
		{"/s", "/x", "/h", "/s"},
		{"", "/x", "/h", "/x/litebox"},
		{"", "rel", "/h", "/h/.local/share/litebox"}, // XDG dirs must be absolute
		{"", "", "/h", "/h/.local/share/litebox"},
	} {
		t.Setenv("LITEBOX_STORE", tc.store)
		t.Setenv("XDG_DATA_HOME", tc.xdg)
		t.Setenv("HOME", tc.home)
		if got, err := store.DefaultDir(); err != nil || got != tc.want {
			t.Errorf("DefaultDir with %+v = %q %v", tc, got, err)
		}
	}
}

// --insecure: a registry with a certificate nobody signed.
func TestPullInsecureTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	r, _ := name.ParseReference(u.Host + "/tls/img:1")
	if err := remote.Write(r, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := ref.ParseName(u.Host + "/tls/img:1")
	if _, err := s.Pull(context.Background(), pr, store.PullOptions{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("pull from an unverified TLS registry without --insecure: %v", err)
	}
	if _, err := s.Pull(context.Background(), pr, store.PullOptions{Insecure: true}); err != nil {
		t.Errorf("pull --insecure: %v", err)
	}
}

// corruptBlobs flips a byte of every layer blob the registry sends (the
// manifest and config pass), as a broken mirror or proxy would.
type corruptBlobs struct{ rt http.RoundTripper }

func (c corruptBlobs) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/blobs/") || req.Method != http.MethodGet {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > 0 && len(body) != int(resp.ContentLength) {
		return nil, fmt.Errorf("short body")
	}
	// The config is JSON: leave it, so the damage is found at a layer.
	if len(body) > 0 && body[0] != '{' {
		body[len(body)/2] ^= 0xff
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func TestPullProgress(t *testing.T) {
	host := serve(t)
	push(t, host, "test/img:v1", "amd64")
	s, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ref.ParseName(host + "/test/img:v1")
	if err != nil {
		t.Fatal(err)
	}

	// A registry whose layer bytes do not hash to their digests: the pull
	// fails naming the layer, and no blob is stored under that digest.
	var out strings.Builder
	_, err = s.Pull(context.Background(), r, store.PullOptions{Transport: corruptBlobs{http.DefaultTransport}, Progress: &out})
	// (go-containerregistry's reader checks the digest as it reads, and
	// fetchBlob again once it has all the bytes: either names the layer.)
	if err == nil || !strings.Contains(err.Error(), ": layer sha256:") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("pull from a corrupting registry: %v; want one line naming the bad layer", err)
	}
	blobs, _ := filepath.Glob(filepath.Join(s.LayoutDir(), "blobs", "sha256", "*"))
	for _, b := range blobs {
		data, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != filepath.Base(b) {
			t.Errorf("blob %s holds bytes of %s", filepath.Base(b), got)
		}
	}

	out.Reset()
	if _, err := s.Pull(context.Background(), r, store.PullOptions{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != "pulling "+host+"/test/img:v1: 2 layers, 0.0 MB" ||
		!strings.HasPrefix(lines[1], "  layer 1/2 sha256:") || !strings.HasSuffix(lines[1], " done") ||
		!strings.HasPrefix(lines[2], "  layer 2/2 sha256:") || !strings.HasSuffix(lines[2], " done") {
		t.Errorf("progress of the first pull:\n%s", out.String())
	}
	out.Reset()
	if _, err := s.Pull(context.Background(), r, store.PullOptions{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), ": already in the store\n"); n != 2 {
		t.Errorf("progress of a second pull (want both layers already in the store):\n%s", out.String())
	}
}

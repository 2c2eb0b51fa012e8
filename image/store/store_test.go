package store_test

import (
	"context"
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

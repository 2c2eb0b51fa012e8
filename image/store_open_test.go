package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/litebox-go/litebox/image/ref"
	"github.com/litebox-go/litebox/image/store"
)

// A pulled image opens by its name, verified as any layout is.
func TestOpenPulled(t *testing.T) {
	ft := useFakeTar(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	img := testImage(t, "amd64", v1.Config{Cmd: []string{"/bin/sh"}}, gzLayer(t, base), gzLayer(t, top))
	nm := u.Host + "/lib/base:1"
	r, _ := name.ParseReference(nm)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	pr, err := ref.Parse(nm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(pr, Options{Store: s}); err == nil {
		t.Fatal("opened an image before pulling it")
	}
	if _, err := s.Pull(context.Background(), pr, store.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Close() // running needs no registry
	im, err := Open(pr, Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if len(ft.layers) != 2 || !reflect.DeepEqual(ft.layers[0].files, base) || !reflect.DeepEqual(ft.layers[1].files, top) {
		t.Errorf("pulled layers read as %v", ft.layers)
	}
	if d := mustDigest(t, img); im.Digest != d.String() {
		t.Errorf("digest %s, want %s", im.Digest, d)
	}
}

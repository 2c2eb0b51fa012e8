package tests

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/litebox-go/litebox/tests/harness"
	"github.com/litebox-go/litebox/tests/imagefixture"
)

// TestImagePull pushes the hand-made image with skopeo (a real client) to a
// registry on the loopback (go-containerregistry's in-process one), pulls it
// with `litebox pull` into a fresh store, lists it with `litebox images`,
// stops the registry and runs the stored image: its view must be umoci's
// unpacking of the same image, as in TestImageLayered.
func TestImagePull(t *testing.T) {
	l := layeredImage(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	name := host + "/fixture/layers:v1"

	push := harness.Run(harness.Cmd{Argv: []string{"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
		"oci:" + l.OCI + ":" + imagefixture.LayeredTag, "docker://" + name}})
	if push.Err != nil || push.ExitCode != 0 {
		t.Fatalf("skopeo push to the loopback registry:\n%s", push)
	}

	store := t.TempDir()
	pull := runLitebox(t, nil, "pull", "--store", store, name)
	if pull.ExitCode != 0 {
		t.Fatalf("litebox pull %s:\n%s", name, pull)
	}
	images := runLitebox(t, nil, "images", "--store", store)
	if images.ExitCode != 0 || !strings.Contains(string(images.Stdout), host+"/fixture/layers") ||
		!strings.Contains(string(images.Stdout), "v1") {
		t.Errorf("litebox images does not list %s:\n%s", name, images)
	}

	// A tag the registry does not have, and a registry that is gone: one
	// line each, exit 125, nothing added to the store.
	checkOneLineError(t, runLitebox(t, nil, "pull", "--store", store, host+"/fixture/layers:nosuchtag"), 125)
	srv.Close()
	checkOneLineError(t, runLitebox(t, nil, "pull", "--store", store, name), 125)

	// The registry is gone: the run uses the store alone.
	ref := imageRef{name: "pulled", flags: []string{"--image", name}, config: true, workdir: imagefixture.LayeredConfig.WorkingDir}
	for _, c := range layeredCases() {
		if c.name != "tree" && c.name != "content" && c.name != "writes" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			compareImageCase(t, store, l.Rootfs, ref, c)
		})
	}
	cfg := imagefixture.LayeredConfig
	native := runChroot(t, l.Rootfs, cfg.WorkingDir, cfg.Env, nil, cfg.Cmd...)
	checkResult(t, runImage(t, store, ref, harness.Guest{}, nil), native, true)
}

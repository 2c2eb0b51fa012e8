package image

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/litebox-go/litebox/image/ref"
	"github.com/litebox-go/litebox/image/store"
)

var (
	base = map[string]string{"bin/": "", "bin/sh": "#!shell", "etc/": "", "etc/passwd": "root:x:0:0::/root:/bin/sh\n"}
	top  = map[string]string{"app/": "", "app/run": "run me", "etc/.wh.motd": ""}
)

func openRef(t *testing.T, s *store.Store, spec string) (*Image, error) {
	t.Helper()
	r, err := ref.Parse(spec)
	if err != nil {
		t.Fatalf("ref.Parse(%q): %v", spec, err)
	}
	return Open(r, Options{Store: s})
}

func TestOpenLayout(t *testing.T) {
	ft := useFakeTar(t)
	cfg := v1.Config{Entrypoint: []string{"/bin/sh"}, Cmd: []string{"-c", "echo hi"}, Env: []string{"PATH=/bin", "A=b"},
		WorkingDir: "/app", User: "app:staff", ExposedPorts: map[string]struct{}{"8000/tcp": {}, "53/udp": {}}}
	img := testImage(t, "amd64", cfg, gzLayer(t, base), rawLayer(t, top))
	dir := writeLayout(t, map[string]v1.Image{"": img})
	s := newStore(t)

	im, err := openRef(t, s, "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if len(im.Layers) != 2 || len(ft.layers) != 2 {
		t.Fatalf("%d layers, %d opened; want 2", len(im.Layers), len(ft.layers))
	}
	if !reflect.DeepEqual(ft.layers[0].files, base) || !reflect.DeepEqual(ft.layers[1].files, top) {
		t.Errorf("layers read as %v, want bottom %v then %v", ft.layers, base, top)
	}
	cf, _ := img.ConfigFile()
	for i, l := range ft.layers {
		if l.key != cf.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d index key %s, want its diffID %s", i, l.key, cf.RootFS.DiffIDs[i])
		}
	}
	want := Config{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env, WorkingDir: "/app", User: "app:staff",
		ExposedPorts: []string{"53/udp", "8000/tcp"}}
	if !reflect.DeepEqual(im.Config, want) {
		t.Errorf("config %+v, want %+v", im.Config, want)
	}
	if d := mustDigest(t, img); im.Digest != d.String() {
		t.Errorf("digest %s, want %s", im.Digest, d)
	}
	// The gzip layer was decompressed into the cache under its diffID,
	// the uncompressed one verified in place (a stamp).
	cached, err := os.ReadFile(filepath.Join(s.LayerCache(), cf.RootFS.DiffIDs[0].Hex))
	if err != nil {
		t.Fatalf("decompressed layer not cached: %v", err)
	}
	if sum := sha256.Sum256(cached); hex.EncodeToString(sum[:]) != cf.RootFS.DiffIDs[0].Hex {
		t.Errorf("cached layer is not its diffID")
	}
	if stamps, _ := os.ReadDir(s.VerifiedCache()); len(stamps) != 1 {
		t.Errorf("%d verification stamps, want 1 (the uncompressed layer)", len(stamps))
	}

	// A second open reads the cache and the stamp, and sees the same.
	ft.reset()
	im2, err := openRef(t, s, "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	im2.Close()
	if len(ft.layers) != 2 || !reflect.DeepEqual(ft.layers[0].files, base) || !reflect.DeepEqual(ft.layers[1].files, top) {
		t.Errorf("second open read %v", ft.layers)
	}
}

func TestOpenZstd(t *testing.T) {
	ft := useFakeTar(t)
	b := tarOf(t, top)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeLayout(t, map[string]v1.Image{"": testImage(t, "amd64", v1.Config{}, l)})
	im, err := openRef(t, newStore(t), "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	if len(ft.layers) != 1 || !reflect.DeepEqual(ft.layers[0].files, top) {
		t.Errorf("zstd layer read as %v", ft.layers)
	}
}

func TestConfigArgs(t *testing.T) {
	for _, tc := range []struct {
		ep, cmd, given, want []string
	}{
		{nil, []string{"sh"}, nil, []string{"sh"}},
		{nil, []string{"sh"}, []string{"ls", "-l"}, []string{"ls", "-l"}},
		{[]string{"/init"}, []string{"--x"}, nil, []string{"/init", "--x"}},
		{[]string{"/init"}, []string{"--x"}, []string{"--y"}, []string{"/init", "--y"}},
		{nil, nil, nil, nil},
	} {
		if got := (Config{Entrypoint: tc.ep, Cmd: tc.cmd}).Args(tc.given); !reflect.DeepEqual(got, tc.want) && len(got)+len(tc.want) > 0 {
			t.Errorf("Args(%v) of %v %v = %v, want %v", tc.given, tc.ep, tc.cmd, got, tc.want)
		}
	}
}

func TestOpenLayoutSelect(t *testing.T) {
	ft := useFakeTar(t)
	one := testImage(t, "amd64", v1.Config{Cmd: []string{"one"}}, gzLayer(t, base))
	two := testImage(t, "amd64", v1.Config{Cmd: []string{"two"}}, gzLayer(t, top))
	arm := testImage(t, "arm64", v1.Config{Cmd: []string{"arm"}}, gzLayer(t, base))
	tagged := writeLayout(t, map[string]v1.Image{"v1": one, "v2": two})
	armOnly := writeLayout(t, map[string]v1.Image{"": arm})

	// A multi-platform index: arm64 and amd64 manifests.
	multi := func(imgs ...v1.Image) string {
		var adds []mutate.IndexAddendum
		for _, im := range imgs {
			cf, _ := im.ConfigFile()
			adds = append(adds, mutate.IndexAddendum{Add: im, Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}}})
		}
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
		dir := filepath.Join(t.TempDir(), "multi")
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{store.RefName: "latest"})); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	both, armIdx := multi(arm, two), multi(arm)
	s := newStore(t)
	for _, tc := range []struct {
		name, ref string
		cmd       string
		err       string
	}{
		{"by tag", "oci:" + tagged + ":v2", "two", ""},
		{"other tag", "oci:" + tagged + ":v1", "one", ""},
		{"unknown tag", "oci:" + tagged + ":v3", "", `no image tagged "v3" (tags: v1, v2)`},
		{"two images, no tag", "oci:" + tagged, "", "holds 2 images: give a tag"},
		{"index picks amd64", "oci:" + both, "two", ""},
		{"index tag picks amd64", "oci:" + both + ":latest", "two", ""},
		{"index without amd64", "oci:" + armIdx, "", "no linux/amd64 image in the index (it has linux/arm64)"},
		{"wrong architecture", "oci:" + armOnly, "", "the image is linux/arm64; litebox runs only linux/amd64"},
		{"missing dir", "oci:" + filepath.Join(t.TempDir(), "nope"), "", "no such file or directory"},
		{"not a layout", "oci:" + t.TempDir(), "", "not an OCI image layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft.reset()
			im, err := openRef(t, s, tc.ref)
			if tc.err != "" {
				checkErr(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if got := strings.Join(im.Config.Cmd, " "); got != tc.cmd {
				t.Errorf("opened the image with Cmd %q, want %q", got, tc.cmd)
			}
		})
	}
}

// checkErr wants err to be one line containing want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	t.Logf("error: %v", err)
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v; want one line containing %q", err, want)
	}
}

func TestOpenLayoutIntegrity(t *testing.T) {
	useFakeTar(t)
	gz, raw := gzLayer(t, base), rawLayer(t, top)
	img := testImage(t, "amd64", v1.Config{}, gz, raw)
	m, _ := img.Manifest()
	mdig := mustDigest(t, img)

	// A gzip layer cut short, its digest and diff_id those of the cut bytes
	// (so only the decompression can notice).
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(tarOf(t, map[string]string{"big": strings.Repeat("x", 1<<16)}))
	zw.Close()
	cut := static.NewLayer(zb.Bytes()[:zb.Len()/2], types.OCILayer)
	truncated := testImage(t, "amd64", v1.Config{}, cut)
	// A config whose diff_id is not the layer's uncompressed digest.
	badDiff := func() v1.Image {
		im := testImage(t, "amd64", v1.Config{}, gzLayer(t, base))
		cf, _ := im.ConfigFile()
		cf = cf.DeepCopy()
		cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
		im, err := mutate.ConfigFile(im, cf)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}()
	notTar := testImage(t, "amd64", v1.Config{}, static.NewLayer([]byte("BZh91AY&SY not really"), types.OCILayer))

	for _, tc := range []struct {
		name  string
		img   v1.Image
		spoil func(t *testing.T, dir string)
		err   string
	}{
		{"layer byte flipped", img, func(t *testing.T, dir string) { flipByte(t, blobFile(dir, m.Layers[0].Digest), 40) },
			"layer 1 of 2 (" + m.Layers[0].Digest.String() + "): digest mismatch"},
		{"uncompressed layer flipped", img, func(t *testing.T, dir string) { flipByte(t, blobFile(dir, m.Layers[1].Digest), 600) },
			"layer 2 of 2 (" + m.Layers[1].Digest.String() + "): digest mismatch (its content has sha256:"},
		{"layer missing", img, func(t *testing.T, dir string) { os.Remove(blobFile(dir, m.Layers[1].Digest)) },
			"layer 2 of 2 (" + m.Layers[1].Digest.String() + "): missing blob"},
		{"layer shortened", img, func(t *testing.T, dir string) { os.Truncate(blobFile(dir, m.Layers[0].Digest), 10) },
			"blob is 10 bytes, the manifest says"},
		{"config flipped", img, func(t *testing.T, dir string) { flipByte(t, blobFile(dir, m.Config.Digest), 2) },
			"config " + m.Config.Digest.String() + ": digest mismatch"},
		{"config missing", img, func(t *testing.T, dir string) { os.Remove(blobFile(dir, m.Config.Digest)) },
			"config " + m.Config.Digest.String() + ": missing blob"},
		{"manifest flipped", img, func(t *testing.T, dir string) { flipByte(t, blobFile(dir, mdig), 3) },
			"manifest " + mdig.String() + ": digest mismatch"},
		{"manifest missing", img, func(t *testing.T, dir string) { os.Remove(blobFile(dir, mdig)) },
			"manifest " + mdig.String() + ": missing blob"},
		{"index.json garbage", img, func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "index.json"), []byte("{"), 0o644) },
			"index.json"},
		{"truncated gzip", truncated, nil, "truncated gzip stream"},
		{"diff_id mismatch", badDiff, nil, "uncompressed, diff_id sha256:abab"},
		{"bzip2 layer", notTar, nil, "bzip2 layers are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLayout(t, map[string]v1.Image{"": tc.img})
			if tc.spoil != nil {
				tc.spoil(t, dir)
			}
			im, err := openRef(t, newStore(t), "oci:"+dir)
			if err == nil {
				im.Close()
			}
			checkErr(t, err, tc.err)
		})
	}

	// A layer spoiled after a first open that stamped it is caught too:
	// the write moved the file's ctime.
	t.Run("flipped after verification", func(t *testing.T) {
		dir := writeLayout(t, map[string]v1.Image{"": img})
		s := newStore(t)
		im, err := openRef(t, s, "oci:"+dir)
		if err != nil {
			t.Fatal(err)
		}
		im.Close()
		flipByte(t, blobFile(dir, m.Layers[1].Digest), 600)
		_, err = openRef(t, s, "oci:"+dir)
		checkErr(t, err, "digest mismatch")
	})
	// A spoiled gzip layer is never cached: the next open fails again.
	t.Run("no cache of a bad layer", func(t *testing.T) {
		dir := writeLayout(t, map[string]v1.Image{"": img})
		flipByte(t, blobFile(dir, m.Layers[0].Digest), 40)
		s := newStore(t)
		for range 2 {
			if _, err := openRef(t, s, "oci:"+dir); err == nil {
				t.Fatal("a corrupt layer opened")
			}
		}
		if ents, _ := os.ReadDir(s.LayerCache()); len(ents) != 0 {
			t.Errorf("cache holds %d files after failed decompressions", len(ents))
		}
	})
}

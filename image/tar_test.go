package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/litebox-go/litebox/kernel/fsimpl/tarfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// The real tar file system: files read back through the VFS, an index
// cached per layer, and tarfs's refusals named by layer.
func TestTarfsLayers(t *testing.T) {
	img := testImage(t, "amd64", v1.Config{}, gzLayer(t, base), rawLayer(t, top))
	dir := writeLayout(t, map[string]v1.Image{"": img})
	s := newStore(t)
	im, err := openRef(t, s, "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	for i, want := range []struct{ path, content string }{{"/etc/passwd", base["etc/passwd"]}, {"/app/run", top["app/run"]}} {
		v := vfs.New(im.Layers[i])
		f, err := v.Open(want.path, os.O_RDONLY, 0)
		if err != nil {
			t.Fatalf("layer %d: open %s: %v", i, want.path, err)
		}
		buf := make([]byte, 100)
		n, _ := f.Read(buf)
		f.DecRef()
		if string(buf[:n]) != want.content {
			t.Errorf("layer %d: %s reads %q, want %q", i, want.path, buf[:n], want.content)
		}
	}

	if ents, _ := os.ReadDir(s.IndexCache()); len(ents) != 2 {
		t.Errorf("%d cached indexes, want 2 (one per layer)", len(ents))
	}

	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "../../etc/evil", Typeflag: tar.TypeReg, Mode: 0o644})
	tw.Close()
	escape := testImage(t, "amd64", v1.Config{}, rawLayerBytes(b.Bytes()))
	_, err = openRef(t, newStore(t), "oci:"+writeLayout(t, map[string]v1.Image{"": escape}))
	checkErr(t, err, "layer 1 of 1 (sha256:")
	if !errors.Is(err, tarfs.ErrEscape) {
		t.Errorf("error %v does not wrap tarfs.ErrEscape", err)
	}
	garbage := testImage(t, "amd64", v1.Config{}, rawLayerBytes(bytes.Repeat([]byte("not a tar "), 100)))
	_, err = openRef(t, newStore(t), "oci:"+writeLayout(t, map[string]v1.Image{"": garbage}))
	checkErr(t, err, "layer 1 of 1 (sha256:")
	if !errors.Is(err, tarfs.ErrCorrupt) {
		t.Errorf("error %v does not wrap tarfs.ErrCorrupt", err)
	}
}

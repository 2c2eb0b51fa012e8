package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/litebox-go/litebox/image/store"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// tarOf builds a tar of the given files (name -> content; a name ending
// in "/" is a directory).
func tarOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzLayer is a gzip layer of the files; rawLayer an uncompressed one.
func gzLayer(t testing.TB, files map[string]string) v1.Layer {
	t.Helper()
	b := tarOf(t, files)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func rawLayer(t testing.TB, files map[string]string) v1.Layer {
	return rawLayerBytes(tarOf(t, files))
}

func rawLayerBytes(b []byte) v1.Layer { return static.NewLayer(b, types.OCIUncompressedLayer) }

// testImage is an OCI image of the layers (bottom first) for arch.
func testImage(t testing.TB, arch string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", arch, cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

// writeLayout writes the images, tagged, into a new OCI layout.
func writeLayout(t testing.TB, imgs map[string]v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for tag := range imgs {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		var opts []layout.Option
		if tag != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{store.RefName: tag}))
		}
		if err := p.AppendImage(imgs[tag], opts...); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// opened is what the fake tar file system saw of one layer.
type opened struct {
	key   string
	files map[string]string
}

// fakeTar replaces the tar file system for the test: it reads each layer
// handed to it with archive/tar (so the bytes must be a whole, valid tar)
// and records it.
type fakeTar struct {
	mu     sync.Mutex
	layers []opened
}

func useFakeTar(t *testing.T) *fakeTar {
	ft := &fakeTar{}
	old := openTar
	openTar = func(r io.ReaderAt, size int64, indexDir, key string) (vfs.FileSystem, io.Closer, error) {
		if indexDir == "" || !strings.HasPrefix(key, "sha256:") || len(key) != 71 {
			return nil, nil, fmt.Errorf("bad tarfs options %q %q", indexDir, key)
		}
		tr := tar.NewReader(io.NewSectionReader(r, 0, size))
		files := map[string]string{}
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("corrupt tar: %w", err)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, nil, err
			}
			files[h.Name] = string(b)
		}
		ft.mu.Lock()
		ft.layers = append(ft.layers, opened{key: key, files: files})
		ft.mu.Unlock()
		return memfs.New(0), nil, nil
	}
	t.Cleanup(func() { openTar = old })
	return ft
}

func (ft *fakeTar) reset() {
	ft.mu.Lock()
	ft.layers = nil
	ft.mu.Unlock()
}

func newStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// blobFile is the path of a layout's blob h.
func blobFile(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }

// flipByte changes one byte of a file in place (same size).
func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

func mustDigest(t testing.TB, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

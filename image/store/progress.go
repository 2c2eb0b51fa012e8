package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/litebox-go/litebox/image/internal/blob"
)

// progressEvery is how often a layer's download reports its progress.
var progressEvery = 2 * time.Second

// fetchLayers downloads img's layers into the layout at dir before the
// layout code writes the image, so that a long pull reports what it is
// doing (the layout code says nothing), and so that a layer's blob exists
// under its digest only once its bytes hashed to it: a pull cut short
// leaves a temporary file, never a wrong blob. A blob already there with
// the manifest's size is kept (an earlier pull of an image sharing it);
// opening the image checks its digest anyway.
func fetchLayers(dir string, img v1.Image, name string, out io.Writer) error {
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("manifest: %v", oneLine(err))
	}
	var total int64
	for _, l := range m.Layers {
		total += l.Size
	}
	fmt.Fprintf(out, "pulling %s: %d layers, %s\n", name, len(m.Layers), mb(total))
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("layers: %v", oneLine(err))
	}
	if len(layers) != len(m.Layers) {
		return fmt.Errorf("the manifest lists %d layers, the image has %d", len(m.Layers), len(layers))
	}
	for i, l := range layers {
		d := m.Layers[i]
		path, err := blob.Path(dir, d.Digest)
		if err != nil {
			return err
		}
		short := shortDigest(d.Digest)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == d.Size {
			fmt.Fprintf(out, "  layer %d/%d %s: already in the store\n", i+1, len(layers), short)
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s: %v", d.Digest, oneLine(err))
		}
		err = fetchBlob(rc, path, d, func(n int64) {
			fmt.Fprintf(out, "  layer %d/%d %s: %s of %s\n", i+1, len(layers), short, mb(n), mb(d.Size))
		})
		rc.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  layer %d/%d %s: %s done\n", i+1, len(layers), short, mb(d.Size))
	}
	return nil
}

// fetchBlob copies rc into a temporary file beside path, checking its size
// and SHA-256 against d, and renames it to path only if both match.
func fetchBlob(rc io.Reader, path string, d v1.Descriptor, report func(n int64)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pull-*")
	if err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing left to remove
	h := sha256.New()
	w := io.MultiWriter(tmp, h)
	var n int64
	buf := make([]byte, 256<<10)
	last := time.Now()
	// One byte more than the manifest says: a registry sending more is
	// caught here rather than filling the disk.
	r := io.LimitReader(rc, d.Size+1)
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				tmp.Close()
				return fmt.Errorf("layer %s: %w", d.Digest, err)
			}
			n += int64(k)
			if time.Since(last) >= progressEvery {
				report(n)
				last = time.Now()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			tmp.Close()
			return fmt.Errorf("layer %s: after %s: %v", d.Digest, mb(n), oneLine(rerr))
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	if n != d.Size {
		return fmt.Errorf("layer %s: the registry sent %d bytes, the manifest says %d", d.Digest, n, d.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); d.Digest.Algorithm != "sha256" || got != d.Digest.Hex {
		return fmt.Errorf("layer %s: the registry sent bytes of sha256:%s", d.Digest, got)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	return nil
}

func shortDigest(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

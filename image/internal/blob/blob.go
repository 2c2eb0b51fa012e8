// Package blob reads the small blobs of an image (index, manifests,
// configs) and checks each against the digest that names it.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MaxMeta bounds an index, manifest or config: real ones are a few KiB;
// the bound keeps a hostile image from making litebox read gigabytes into
// memory before the digest check can refuse it.
const MaxMeta = 8 << 20

// ErrDigest is wrapped by every digest mismatch.
var ErrDigest = errors.New("digest mismatch")

// CheckHash refuses anything but a sha256 digest: the only algorithm
// litebox verifies, and a digest becomes a file name (the hex is checked
// by v1.Hash's parser, so it cannot hold a "/").
func CheckHash(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("unsupported digest %q: only sha256 is accepted", h.String())
	}
	if _, err := hex.DecodeString(h.Hex); err != nil {
		return fmt.Errorf("bad digest %q", h.String())
	}
	return nil
}

// Path is the file of blob h in the OCI image layout dir.
func Path(dir string, h v1.Hash) (string, error) {
	if err := CheckHash(h); err != nil {
		return "", err
	}
	return filepath.Join(dir, "blobs", h.Algorithm, h.Hex), nil
}

// Check compares data's sha256 with want; what names the blob.
func Check(data []byte, want v1.Hash, what string) error {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want.Hex || want.Algorithm != "sha256" {
		return fmt.Errorf("%s %s: %w (its content has sha256:%s)", what, want, ErrDigest, got)
	}
	return nil
}

// Read reads a small blob of at most max bytes from r (size bytes when
// size >= 0) and checks it against want; what names it in errors.
func Read(r io.Reader, size int64, want v1.Hash, what string) ([]byte, error) {
	if err := CheckHash(want); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if size > MaxMeta {
		return nil, fmt.Errorf("%s %s: %d bytes, more than the %d a %s may have", what, want, size, MaxMeta, what)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxMeta+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, want, err)
	}
	if len(data) > MaxMeta {
		return nil, fmt.Errorf("%s %s: more than %d bytes", what, want, MaxMeta)
	}
	if size >= 0 && int64(len(data)) != size {
		return nil, fmt.Errorf("%s %s: %w: %d bytes, the descriptor says %d", what, want, ErrDigest, len(data), size)
	}
	if err := Check(data, want, what); err != nil {
		return nil, err
	}
	return data, nil
}

// ReadLayout reads blob want (size bytes, -1 if unknown) of the OCI image
// layout dir, checked.
func ReadLayout(dir string, want v1.Hash, size int64, what string) ([]byte, error) {
	p, err := Path(dir, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s %s: missing blob (no %s)", what, want, p)
		}
		return nil, fmt.Errorf("%s %s: %w", what, want, err)
	}
	defer f.Close()
	return Read(f, size, want, what)
}

// ReadIndex reads a layout's index.json (the layout's root, which no
// digest names: it is what the user pointed at).
func ReadIndex(dir string) (*v1.IndexManifest, error) {
	p := filepath.Join(dir, "index.json")
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMeta+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(data) > MaxMeta {
		return nil, fmt.Errorf("%s: more than %d bytes", p, MaxMeta)
	}
	idx, err := v1.ParseIndexManifest(bytesReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, oneLine(err))
	}
	return idx, nil
}

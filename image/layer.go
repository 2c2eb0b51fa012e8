package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/litebox-go/litebox/image/internal/blob"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// section is where a layer's stored bytes are: a whole blob file of a
// layout, or one member of a docker archive (read in place too).
type section struct {
	f         *os.File
	path      string // of f, for messages and stamps
	off, size int64
}

func (s section) reader() *io.SectionReader { return io.NewSectionReader(s.f, s.off, s.size) }

// layerSpec is one layer to open.
type layerSpec struct {
	src section
	// digest is the stored bytes' digest (the manifest's descriptor);
	// zero when nothing names it (a docker archive's legacy layer.tar,
	// which only its diffID names).
	digest v1.Hash
	diffID v1.Hash // the uncompressed tar's digest, from the config
	n, of  int     // its place, 1-based, for messages
	// key, for a plain root tar (--rootfs FILE) that no digest names,
	// replaces the diffID as the name of its cache files, and nothing is
	// verified.
	key   string
	label string // replaces the layer's name in messages
}

// cacheKey names the layer's cached files (decompressed tar, index).
func (l *layerSpec) cacheKey() string {
	if l.key != "" {
		return l.key
	}
	return l.diffID.String()
}

func (l *layerSpec) name() string {
	if l.label != "" {
		return l.label
	}
	d := l.diffID
	if l.digest.Hex != "" {
		d = l.digest
	}
	return fmt.Sprintf("layer %d of %d (%s)", l.n, l.of, d)
}

// compression is how a layer is stored, from its first bytes: the media
// type is a claim of the manifest, the bytes are what litebox will read.
type packing int

const (
	plainTar packing = iota
	gzipped
	zstded
)

func sniff(s section) (packing, error) {
	var head [6]byte
	n, err := s.f.ReadAt(head[:min(int64(len(head)), s.size)], s.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	h := head[:n]
	switch {
	case bytes.HasPrefix(h, []byte{0x1f, 0x8b}):
		return gzipped, nil
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return zstded, nil
	case bytes.HasPrefix(h, []byte("BZh")):
		return 0, errors.New("bzip2 layers are not supported (gzip, zstd or none)")
	case bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return 0, errors.New("xz layers are not supported (gzip, zstd or none)")
	}
	return plainTar, nil
}

// openLayer opens one layer as a tar file system, checking its digests
// the first time (see verify.go); closers are what to close with it.
func (o *Options) openLayer(l layerSpec) (vfs.FileSystem, []io.Closer, error) {
	if l.diffID.Hex == "" && l.key == "" {
		return nil, nil, fmt.Errorf("%s: the config names no diff_id for it", l.name())
	}
	comp, err := sniff(l.src)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", l.name(), err)
	}
	tarSec := l.src
	var closers []io.Closer
	if comp != plainTar {
		if tarSec, err = o.decompressed(l, comp); err != nil {
			return nil, nil, err
		}
		closers = append(closers, tarSec.f)
	} else if l.key == "" {
		if err := o.verifyInPlace(l); err != nil {
			return nil, nil, err
		}
	}
	fs, c, err := openTar(tarSec.reader(), tarSec.size, o.Store.IndexCache(), l.cacheKey())
	if err != nil {
		closeAll(closers)
		return nil, nil, fmt.Errorf("%s: %w", l.name(), err)
	}
	if c != nil {
		closers = append(closers, c)
	}
	return fs, closers, nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}

// decompressed returns the layer's uncompressed tar from the cache,
// making it the first time: decompressed into a temporary file while both
// digests are computed, renamed to its diffID only when both match. A
// file of the cache was so checked before it got its name, and the cache
// is the user's own 0700 directory: it is not hashed again (the tar file
// system still checks every offset of its index against the file).
func (o *Options) decompressed(l layerSpec, comp packing) (section, error) {
	cache := o.Store.LayerCache()
	_, hexKey, _ := strings.Cut(l.cacheKey(), ":")
	path := filepath.Join(cache, hexKey)
	if f, err := os.Open(path); err == nil {
		fi, err := f.Stat()
		if err == nil && fi.Mode().IsRegular() {
			return section{f: f, path: path, size: fi.Size()}, nil
		}
		f.Close()
	}
	start := time.Now()
	tmp, err := os.CreateTemp(cache, ".tmp-"+hexKey[:12]+"-*")
	if err != nil {
		return section{}, fmt.Errorf("%s: layer cache: %w", l.name(), err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	stored := sha256.New()
	in := io.TeeReader(l.src.reader(), stored)
	var dec io.Reader
	switch comp {
	case gzipped:
		// klauspost's gzip: the standard library's format, decompressed
		// some 15% faster (the first start of an image is mostly this).
		zr, err := gzip.NewReader(in)
		if err != nil {
			return section{}, fmt.Errorf("%s: corrupt gzip: %v", l.name(), err)
		}
		defer zr.Close()
		dec = zr
	case zstded:
		zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return section{}, fmt.Errorf("%s: corrupt zstd: %v", l.name(), err)
		}
		defer zr.Close()
		dec = zr
	}
	plain := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, plain), dec)
	// Bytes after the compressed stream still belong to the blob; and when
	// the stream is broken, a digest mismatch is the cause to report.
	_, rerr := io.Copy(io.Discard, in)
	if l.digest.Hex != "" && rerr == nil {
		if err := mismatch(stored, l.digest); err != nil {
			return section{}, fmt.Errorf("%s: %w", l.name(), err)
		}
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return section{}, fmt.Errorf("%s: truncated %s stream: %v", l.name(), compName(comp), err)
		}
		return section{}, fmt.Errorf("%s: corrupt %s stream: %v", l.name(), compName(comp), err)
	}
	if rerr != nil {
		return section{}, fmt.Errorf("%s: reading %s: %v", l.name(), l.src.path, rerr)
	}
	if l.key == "" {
		if err := mismatch(plain, l.diffID); err != nil {
			return section{}, fmt.Errorf("%s: uncompressed, diff_id %s: %w", l.name(), l.diffID, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return section{}, fmt.Errorf("%s: layer cache: %w", l.name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return section{}, fmt.Errorf("%s: layer cache: %w", l.name(), err)
	}
	ok = true
	o.log().Info("image layer decompressed", "layer", l.cacheKey(), "bytes", n, "took", time.Since(start).Round(time.Millisecond))
	return section{f: tmp, path: path, size: n}, nil
}

func compName(c packing) string {
	if c == zstded {
		return "zstd"
	}
	return "gzip"
}

// mismatch compares h's sum with want.
func mismatch(h hash.Hash, want v1.Hash) error {
	got := hex.EncodeToString(h.Sum(nil))
	if want.Algorithm != "sha256" || got != want.Hex {
		return fmt.Errorf("%w (its content has sha256:%s)", blob.ErrDigest, got)
	}
	return nil
}

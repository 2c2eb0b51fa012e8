package imagefixture

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A hand-made OCI image layout (image-spec v1.0: oci-layout, index.json,
// blobs/sha256/HEX), written directly rather than through a library so that
// the broken variants the bad-input tests need (a layer cut short, a blob
// whose bytes do not match its name, a manifest naming a blob that is not
// there) are a line each. umoci reads the good ones, which checks the writer
// against an independent implementation of the format.

// Media types of the image-spec.
const (
	MediaIndex     = "application/vnd.oci.image.index.v1+json"
	MediaManifest  = "application/vnd.oci.image.manifest.v1+json"
	MediaConfig    = "application/vnd.oci.image.config.v1+json"
	MediaLayer     = "application/vnd.oci.image.layer.v1.tar"
	MediaLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
	refNameKey     = "org.opencontainers.image.ref.name"
)

// Entry is one member of a hand-made layer tar.
type Entry struct {
	Name     string // path inside the layer, without a leading "/"; a directory's may end in "/"
	Type     byte   // tar.TypeReg (the zero value means that), TypeDir, TypeSymlink, TypeLink
	Body     string // a regular file's content
	Mode     int64  // permission bits; 0 means 0644 for files, 0755 for directories
	UID, GID int
	Link     string // the target of a symlink or hard link
}

// Layer is one layer of a hand-made image.
type Layer struct {
	Entries []Entry
	Gzip    bool
	// Raw, if set, is the layer blob as stored, in place of the tar made
	// from Entries: uncompressed, its digest is also its diff_id; with
	// Gzip, the diff_id is the sha256 of Entries' tar all the same, as if
	// Raw were a damaged copy of its compressed form.
	Raw []byte
}

// Config is the part of the image configuration the tests set.
type Config struct {
	Env        []string `json:"Env,omitempty"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	User       string   `json:"User,omitempty"`
}

// Image describes a hand-made image.
type Image struct {
	Tag    string // org.opencontainers.image.ref.name in index.json; "" for none
	Arch   string // "" means amd64
	Layers []Layer
	Config Config
}

// Written says what WriteLayout stored, for the tests that then damage it.
type Written struct {
	Manifest string   // "sha256:HEX" of the manifest
	Config   string   // of the config
	Layers   []string // of each layer blob, bottom first
}

// epoch is the mtime of every hand-made entry: fixed, so that the layer
// digests and the listings do not depend on when the fixture was built.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// LayerTar returns the uncompressed tar of entries.
func LayerTar(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			Linkname: e.Link, ModTime: epoch, Format: tar.FormatPAX,
		}
		switch e.Type {
		case 0, tar.TypeReg:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		case tar.TypeDir:
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		case tar.TypeSymlink:
			h.Mode = 0o777
		case tar.TypeLink:
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// BlobPath is where the blob of digest d lives in layout dir.
func BlobPath(dir, d string) string {
	return filepath.Join(dir, "blobs", "sha256", d[len("sha256:"):])
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// WriteLayout writes img as an OCI image layout in dir (created), with one
// manifest in index.json.
func WriteLayout(dir string, img Image) (Written, error) {
	var w Written
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return w, err
	}
	put := func(b []byte) (string, error) {
		d := digest(b)
		return d, os.WriteFile(BlobPath(dir, d), b, 0o644)
	}
	arch := img.Arch
	if arch == "" {
		arch = "amd64"
	}
	var layers []descriptor
	var diffIDs []string
	for i, l := range img.Layers {
		raw, err := LayerTar(l.Entries)
		if err != nil {
			return w, fmt.Errorf("layer %d: %w", i, err)
		}
		if l.Raw != nil && !l.Gzip {
			raw = l.Raw // an uncompressed layer's diff_id is its digest
		}
		diffIDs = append(diffIDs, digest(raw))
		blob, media := raw, MediaLayer
		if l.Gzip {
			blob, media = Gzip(raw), MediaLayerGzip
		}
		if l.Raw != nil {
			blob = l.Raw
		}
		d, err := put(blob)
		if err != nil {
			return w, err
		}
		w.Layers = append(w.Layers, d)
		layers = append(layers, descriptor{MediaType: media, Digest: d, Size: int64(len(blob))})
	}
	cfg, err := json.Marshal(map[string]any{
		"created":      epoch,
		"architecture": arch,
		"os":           "linux",
		"config":       img.Config,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return w, err
	}
	if w.Config, err = put(cfg); err != nil {
		return w, err
	}
	man, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaManifest,
		"config":        descriptor{MediaType: MediaConfig, Digest: w.Config, Size: int64(len(cfg))},
		"layers":        layers,
	})
	if err != nil {
		return w, err
	}
	if w.Manifest, err = put(man); err != nil {
		return w, err
	}
	md := descriptor{MediaType: MediaManifest, Digest: w.Manifest, Size: int64(len(man)),
		Platform: &platform{Architecture: arch, OS: "linux"}}
	if img.Tag != "" {
		md.Annotations = map[string]string{refNameKey: img.Tag}
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaIndex,
		"manifests":     []descriptor{md},
	})
	if err != nil {
		return w, err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		return w, err
	}
	return w, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

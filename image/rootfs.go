package image

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// rootfsFDs bounds the host descriptors the open files of a --rootfs
// directory hold at once (the sandbox's own mounts have their budget).
const rootfsFDs = 256

// OpenRootfs opens a plain root file system (--rootfs PATH) as a one-layer
// image without config: a host directory, read-only (the host user's own
// files show as root's, as in a rootless container; under the overlay,
// the ids are the image's, checked by litebox's kernel like a layer's), or a tar file (gzip or zstd
// compressed or not), read in place as the other layers are. Nothing names
// a rootfs's bytes by digest, so nothing is verified.
func OpenRootfs(path string, opts Options) (*Image, error) {
	what := "--rootfs " + path
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if fi.IsDir() {
		fs, err := hostfs.New(abs, hostfs.Options{
			// The host user's own files (an unprivileged extraction) are
			// root's; the overlay serves every file's ids as the image's
			// (it drops hostfs's host-file marks).
			ReadOnly: true, OwnerAsGuest: true, Owner: &hostfs.Owner{UID: 0, GID: 0},
			// A host mount under the directory (a /proc, a bind mount) is
			// not part of the root file system.
			NoXDev: true,
			// An image's root: its lookups are cached, as a layer's are
			// fixed (a change made to the directory during a run may be
			// seen late; the next run sees it).
			Cache: true,
			FDs:   &hostfs.FDBudget{Max: rootfsFDs},
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return &Image{Layers: []vfs.FileSystem{fs}, closers: []io.Closer{fs}}, nil
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a directory or a tar file", what)
	}
	if opts.Store == nil {
		return nil, fmt.Errorf("%s: no store for its index", what)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	src := section{f: f, path: abs, size: fi.Size()}
	stamp, err := stampName(src, "rootfs")
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	l := layerSpec{src: src, key: "sha256:" + stamp, label: what, n: 1, of: 1}
	fs, closers, err := opts.openLayer(l)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Image{Layers: []vfs.FileSystem{fs}, closers: append([]io.Closer{f}, closers...)}, nil
}

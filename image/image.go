// Package image opens container images as the guest's root file system:
// an OCI image layout, a docker-archive tar, an image of litebox's store
// (see image/store), or a plain root file system (a directory or a tar).
//
// An image's layers are not extracted. Each becomes a read-only tar file
// system (kernel/fsimpl/tarfs) read in place: uncompressed layers straight
// from the layout or the archive, compressed ones (gzip, zstd) from a copy
// decompressed once into the store's cache and named by the layer's
// diffID. The sandbox stacks them under an overlay (sandbox.Root).
//
// Integrity: every blob is checked against the digest that names it when
// litebox first reads it: the manifest against its descriptor, the config
// against the manifest, each layer's stored bytes against the manifest
// and its uncompressed bytes against the config's diff_ids. A mismatch is
// an error that names the blob. What was checked is remembered in the
// cache (see verify.go) so a second start does not hash the image again.
package image

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/litebox-go/litebox/image/ref"
	"github.com/litebox-go/litebox/image/store"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Image is an opened image: its layers, ready to stack, and its config.
type Image struct {
	// Layers are the image's file systems, bottom first, read-only.
	Layers []vfs.FileSystem
	// Config is what the image says to run and how.
	Config Config
	// Digest is the manifest's digest ("sha256:..."); empty for a rootfs.
	Digest string

	closers []io.Closer
}

// Close releases the layers' files. The layers must no longer be used.
func (im *Image) Close() error {
	var errs []error
	for i := len(im.closers) - 1; i >= 0; i-- {
		if err := im.closers[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	im.closers = nil
	return errors.Join(errs...)
}

// Config is the part of an image's config that decides how its program
// runs (the OCI image config's "config" object).
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	// User is the image's USER: "", a name or a uid, optionally ":group"
	// (resolved through the image's /etc/passwd and /etc/group).
	User string
	// ExposedPorts are the image's EXPOSE hints, e.g. "8000/tcp", sorted.
	// litebox publishes nothing by itself (see --publish).
	ExposedPorts []string
}

// Args is the command the image runs: Entrypoint then Cmd, with cmd (the
// command line's) replacing the image's Cmd when it is not empty, as
// `docker run IMAGE CMD...` does.
func (c Config) Args(cmd []string) []string {
	if len(cmd) == 0 {
		cmd = c.Cmd
	}
	return append(append([]string(nil), c.Entrypoint...), cmd...)
}

func configOf(cf *v1.ConfigFile) Config {
	c := cf.Config
	out := Config{
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env,
		WorkingDir: c.WorkingDir, User: c.User,
	}
	for p := range c.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	sort.Strings(out.ExposedPorts)
	return out
}

// Options configures Open.
type Options struct {
	// Store holds pulled images and the cache (decompressed layers, tar
	// indexes, what was verified). Required.
	Store *store.Store
	// Log receives what Open did (layers decompressed, indexes built);
	// nil discards it.
	Log *slog.Logger
}

func (o *Options) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

// Platform is the only platform litebox runs.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Open opens the image r names. Every error is one line that names what
// is wrong (the file, the blob, the tag).
func Open(r ref.Ref, opts Options) (*Image, error) {
	if opts.Store == nil {
		return nil, errors.New("image: no store")
	}
	switch r.Kind {
	case ref.OCI:
		return openLayout(r.Path, r.Tag, r.String(), opts)
	case ref.DockerArchive:
		return openArchive(r.Path, r.Tag, opts)
	case ref.Store:
		// Shared: a pull rewrites the store's index.json in place.
		unlock, err := opts.Store.Lock(false)
		if err != nil {
			return nil, err
		}
		defer unlock()
		dir, err := opts.Store.Find(r.Name)
		if err != nil {
			return nil, err
		}
		return openLayout(dir, r.Name, r.Name, opts)
	}
	return nil, fmt.Errorf("image: bad reference kind %v", r.Kind)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

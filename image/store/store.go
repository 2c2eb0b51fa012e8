// Package store is litebox's local image store and cache: the images
// `litebox pull` copied from registries, kept as one OCI image layout
// whose index names each image (org.opencontainers.image.ref.name), and
// the cache of the images opened from anywhere (decompressed layers, tar
// indexes, what was verified).
//
// Layout of the store directory (0700, the user's own):
//
//	images/            OCI image layout of the pulled images
//	cache/layers/      decompressed layers, named by diffID hex
//	cache/index/       tar indexes of the layers (kernel/fsimpl/tarfs)
//	cache/verified/    stamps of layers checked in place (image/verify.go)
//	lock               flock: pulls exclusive, readers shared
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// RefName is the OCI annotation that names an image of a layout.
const RefName = "org.opencontainers.image.ref.name"

// Store is an opened store directory.
type Store struct {
	dir string
}

// DefaultDir is where the store is unless --store says otherwise:
// $LITEBOX_STORE, else $XDG_DATA_HOME/litebox, else
// ~/.local/share/litebox.
func DefaultDir() (string, error) {
	if d := os.Getenv("LITEBOX_STORE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "litebox"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no store directory: set --store or $LITEBOX_STORE (%v)", err)
	}
	return filepath.Join(home, ".local", "share", "litebox"), nil
}

// Open opens the store at dir, creating it (0700) when missing.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	s := &Store{dir: abs}
	for _, d := range []string{abs, s.LayoutDir(), s.LayerCache(), s.IndexCache(), s.VerifiedCache()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w (choose another with --store or $LITEBOX_STORE)", dir, err)
		}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store %s: not a directory", dir)
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// LayoutDir is the OCI image layout of the pulled images.
func (s *Store) LayoutDir() string { return filepath.Join(s.dir, "images") }

// LayerCache holds decompressed layers, one file per diffID.
func (s *Store) LayerCache() string { return filepath.Join(s.dir, "cache", "layers") }

// IndexCache holds the layers' tar indexes.
func (s *Store) IndexCache() string { return filepath.Join(s.dir, "cache", "index") }

// VerifiedCache holds the stamps of layers verified in place.
func (s *Store) VerifiedCache() string { return filepath.Join(s.dir, "cache", "verified") }

// Lock takes the store's lock, exclusive for writers (pull), shared for
// readers of the layout's index.json, which the layout code rewrites in
// place; the returned function releases it.
func (s *Store) Lock(exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store lock: %w", err)
	}
	return func() { f.Close() }, nil // closing releases the flock
}

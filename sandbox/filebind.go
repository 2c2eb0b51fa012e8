package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// File mounts: a Mount whose HostPath is a file, not a directory (the
// engines' /etc/hosts, /etc/resolv.conf, /etc/hostname, /run/.containerenv).
// The VFS mounts directories only, so a file mount is a covering node in
// the image root's overlay (see overlay.FS.Cover, which /etc's synthesized
// name files use too): the host file, served by hostfs (read-only unless
// Writable), is what the guest finds at GuestPath, whatever the layers
// have there. It needs an image root (Config.Root), and its directory
// must be the root's, not another mount's: New fails otherwise, never
// leaving the guest with the image's file in its place.

// fileMount is one file mount, ready to cover.
type fileMount struct {
	guest string   // clean guest path
	node  vfs.Node // the host file through hostfs
	hfs   *hostfs.FS
}

// isFileMount reports whether m mounts a host file.
func isFileMount(m Mount) bool {
	if m.Tmpfs != nil {
		return false
	}
	fi, err := os.Stat(m.HostPath)
	return err == nil && !fi.IsDir()
}

// fileMounts opens the file mounts of cfg.Mounts: each through a hostfs of
// its host directory, which serves that one name.
func fileMounts(cfg Config, opts hostfs.Options) ([]fileMount, error) {
	var out []fileMount
	for _, m := range cfg.Mounts {
		if !isFileMount(m) {
			continue
		}
		if cfg.Root == nil {
			return nil, fmt.Errorf("mount %s at %s: a file can be mounted only in an image root", m.HostPath, m.GuestPath)
		}
		abs, err := filepath.Abs(m.HostPath)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.HostPath, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.HostPath, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("mount %s: not a directory or a regular file", m.HostPath)
		}
		// The link's target, so that the hostfs serves the file itself
		// (hostfs never follows a symlink).
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.HostPath, err)
		}
		o := opts
		o.ReadOnly = !m.Writable
		hfs, err := hostfs.New(filepath.Dir(real), o)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.HostPath, err)
		}
		node, err := hfs.Root().Lookup(filepath.Base(real))
		if err != nil {
			hfs.Close()
			return nil, fmt.Errorf("mount %s: %w", m.HostPath, err)
		}
		guest := path.Clean(m.GuestPath)
		if guest == "/" || !path.IsAbs(guest) {
			hfs.Close()
			return nil, fmt.Errorf("mount %s at %s: bad guest path", m.HostPath, m.GuestPath)
		}
		out = append(out, fileMount{guest: guest, node: node, hfs: hfs})
	}
	return out, nil
}

// fileCovers groups the file mounts by directory, for overlay.FS.Cover;
// a later mount of the same path replaces an earlier one.
func fileCovers(fms []fileMount) map[string]map[string]vfs.Node {
	out := map[string]map[string]vfs.Node{}
	for _, fm := range fms {
		dir, name := path.Split(fm.guest)
		dir = path.Clean(dir)
		if out[dir] == nil {
			out[dir] = map[string]vfs.Node{}
		}
		out[dir][name] = fm.node
	}
	return out
}

// checkFileMounts verifies, once every mount is made, that each file mount
// is what the guest finds at its path (a mount over its directory would
// hide it).
func checkFileMounts(fs *vfs.VFS, fms []fileMount) error {
	for _, fm := range fms {
		want, err := fm.node.Stat()
		if err != nil {
			return fmt.Errorf("mount at %s: %w", fm.guest, err)
		}
		got, err := fs.Stat(fm.guest, false)
		if err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
			if err == nil || errors.Is(err, unix.ENOENT) {
				err = errors.New("its directory is another mount's: a file can be mounted only in the image root's directories")
			}
			return fmt.Errorf("mount at %s: %w", fm.guest, err)
		}
	}
	return nil
}

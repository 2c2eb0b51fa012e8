package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/cover"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/overlay"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Root is a guest root made of read-only layers (a container image's, or
// one host directory or tar file): Config.Root. The guest's / is then an
// overlay of the layers under a memfs that takes every change and is
// thrown away with the sandbox; no host directory is visible but the
// Config.Mounts. /proc, /dev (with /dev/shm and /dev/pts) and /tmp are
// litebox's, mounted over whatever the image has there, and /etc/hosts,
// /etc/hostname and /etc/resolv.conf are synthesized as in the default
// view; the rest of the image's /etc is the image's, writable through the
// overlay.
type Root struct {
	// Layers are the image's layers, bottom first (the order of an OCI
	// manifest). Nothing is ever written to them.
	Layers []vfs.FileSystem
	// ReadOnly makes the root read-only (EROFS; run --read-only): the
	// mounts, /tmp and /dev/shm stay as they are.
	ReadOnly bool
}

// maxRootFile bounds what Root.ReadFile reads.
const maxRootFile = 4 << 20

// ReadFile returns the content of the image's file at path (absolute;
// symlinks are followed inside the image), as the merged layers have it
// before any change: what litebox itself needs of the image, such as its
// /etc/passwd and /etc/group to resolve --user names. Files larger than
// 4 MiB are refused (EFBIG).
func (r *Root) ReadFile(path string) ([]byte, error) {
	top := make([]vfs.FileSystem, len(r.Layers))
	for i, l := range r.Layers {
		top[len(top)-1-i] = l
	}
	ovl, err := overlay.New(memfs.New(0), top, overlay.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	fs := vfs.New(ovl)
	fs.SetCred(cred.New(0, 0, nil)) // litebox reads as the image's root
	f, err := fs.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer f.DecRef()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if len(out) > maxRootFile {
			return nil, &os.PathError{Op: "read", Path: path, Err: unix.EFBIG}
		}
		if n == 0 || errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
	}
}

// rootFS builds the overlay root of cfg.Root: its upper shares the limits
// of /tmp (tmp), as the default view's memfs root does.
func rootFS(r *Root, tmp *memfs.FS, names *nameFiles) (*vfs.VFS, error) {
	if len(r.Layers) == 0 {
		return nil, errors.New("image root: no layers")
	}
	top := make([]vfs.FileSystem, len(r.Layers))
	for i, l := range r.Layers {
		if l == nil {
			return nil, fmt.Errorf("image root: layer %d is missing", i)
		}
		top[len(top)-1-i] = l
	}
	ovl, err := overlay.New(memfs.Sharing(tmp), top, overlay.Options{ReadOnly: r.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("image root: %w", err)
	}
	files := names.files()
	covering := make(map[string]vfs.Node, len(files))
	for name, content := range files {
		covering[name] = cover.NewFile(content)
	}
	fs := vfs.New(ovl)
	// The sandbox makes its mount points in the image as the image's
	// root (an image's / is root's, 0755); New sets the guest's
	// credentials once the view is built.
	fs.SetCred(cred.New(0, 0, nil))
	st, err := fs.Stat("/etc", true)
	switch {
	case err == nil && st.IsDir():
		// The image's /etc (perhaps through a link), with the name files
		// over its own.
		dir, err := fs.Realpath("/etc")
		if err != nil {
			return nil, fmt.Errorf("image root: /etc: %w", err)
		}
		ovl.Cover(dir, covering)
		return fs, nil
	case err == nil:
		return nil, errors.New("image root: /etc is not a directory")
	case !errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("image root: /etc: %w", err)
	}
	// No /etc in the image: the name files alone.
	etc := cover.New(memfs.Sharing(tmp), files)
	if err := mountAt(fs, "/etc", etc); err != nil {
		return nil, fmt.Errorf("image root: mounting /etc: %w", err)
	}
	return fs, nil
}

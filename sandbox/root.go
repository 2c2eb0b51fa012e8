package sandbox

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/cover"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
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
//
// With Dir instead of Layers, the guest's / is that host directory itself,
// as runc has an OCI bundle's rootfs: the guest's changes are written to
// it (unless ReadOnly), its owners are the guest's ids (hostfs GuestIDs),
// and litebox mounts only /proc, /dev, /dev/shm and /dev/pts over it,
// making their mount points in it when missing, as runc does; /tmp and
// /etc are the directory's own, file mounts cover their names in it.
type Root struct {
	// Layers are the image's layers, bottom first (the order of an OCI
	// manifest). Nothing is ever written to them.
	Layers []vfs.FileSystem
	// Dir is a host directory that is the root itself (no Layers).
	Dir string
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
	var root vfs.FileSystem
	if r.Dir != "" {
		hfs, err := hostfs.New(r.Dir, hostfs.Options{ReadOnly: true, GuestIDs: true})
		if err != nil {
			return nil, err
		}
		defer hfs.Close()
		root = hfs
	} else {
		top := make([]vfs.FileSystem, len(r.Layers))
		for i, l := range r.Layers {
			top[len(top)-1-i] = l
		}
		ovl, err := overlay.New(memfs.New(0), top, overlay.Options{ReadOnly: true})
		if err != nil {
			return nil, err
		}
		root = ovl
	}
	fs := vfs.New(root)
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
// files are the file mounts' covering nodes by guest directory (see
// filebind.go); those of /etc replace the name files of the same names.
func rootFS(r *Root, tmp *memfs.FS, names *nameFiles, files map[string]map[string]vfs.Node, host hostfs.Options) (*vfs.VFS, error) {
	if r.Dir != "" {
		if len(r.Layers) > 0 {
			return nil, errors.New("root: both a directory and layers")
		}
		return dirRootFS(r, files, host)
	}
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
	nameFiles := names.files()
	covering := make(map[string]vfs.Node, len(nameFiles))
	for name, content := range nameFiles {
		covering[name] = cover.NewFile(content)
	}
	fs := vfs.New(ovl)
	// The sandbox makes its mount points in the image as the image's
	// root (an image's / is root's, 0755); New sets the guest's
	// credentials once the view is built.
	fs.SetCred(cred.New(0, 0, nil))
	if err := coverFiles(fs, ovl, files, covering); err != nil {
		return nil, err
	}
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
	if len(files["/etc"]) > 0 {
		return nil, errors.New("image root: a file mount in /etc, but the image has no /etc")
	}
	etc := cover.New(memfs.Sharing(tmp), nameFiles)
	if err := mountAt(fs, "/etc", etc); err != nil {
		return nil, fmt.Errorf("image root: mounting /etc: %w", err)
	}
	return fs, nil
}

// dirRootFS builds the root of a Root.Dir: the directory through hostfs,
// of the guest's ids, with the file mounts over their names.
func dirRootFS(r *Root, files map[string]map[string]vfs.Node, opts hostfs.Options) (*vfs.VFS, error) {
	opts.ReadOnly, opts.GuestIDs, opts.OwnerAsGuest, opts.Owner = r.ReadOnly, true, false, nil
	hfs, err := hostfs.New(r.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", r.Dir, err)
	}
	fs := vfs.New(hfs)
	// Mount points and file-mount directories are made as the root of
	// the guest's ids, as runc makes them.
	fs.SetCred(cred.New(0, 0, nil))
	for dir, nodes := range files {
		if !r.ReadOnly {
			if err := mkdirAll(fs, dir); err != nil {
				return nil, fmt.Errorf("root: file mounts in %s: %w", dir, err)
			}
		}
		real, err := fs.Realpath(dir)
		if err != nil {
			return nil, fmt.Errorf("root: file mounts in %s: %w", dir, err)
		}
		hfs.Cover(real, nodes)
	}
	return fs, nil
}

// coverFiles puts the file mounts over their names in the overlay: those
// of /etc join etc (the name files, covered by rootFS), the others cover
// their directory, made if the image lacks it.
func coverFiles(fs *vfs.VFS, ovl *overlay.FS, files map[string]map[string]vfs.Node, etc map[string]vfs.Node) error {
	for dir, nodes := range files {
		if dir == "/etc" {
			maps.Copy(etc, nodes)
			continue
		}
		if err := mkdirAll(fs, dir); err != nil {
			return fmt.Errorf("image root: file mounts in %s: %w", dir, err)
		}
		real, err := fs.Realpath(dir)
		if err != nil {
			return fmt.Errorf("image root: file mounts in %s: %w", dir, err)
		}
		if real == "/etc" {
			maps.Copy(etc, nodes)
			continue
		}
		ovl.Cover(real, nodes)
	}
	return nil
}

// mkdirAll makes dir and its parents that are missing, 0755.
func mkdirAll(fs *vfs.VFS, dir string) error {
	cur := ""
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		st, err := fs.Stat(cur, true)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s: %w", cur, unix.ENOTDIR)
			}
			continue
		}
		if err := fs.Mkdir(cur, 0o755); err != nil {
			return fmt.Errorf("%s: %w", cur, err)
		}
	}
	return nil
}

// MakeWorkDir creates the working directory dir of a command, and its
// parents, when the root lacks it: as root, 0755, as Docker does for
// WORKDIR and -w and runc for process.cwd, in the sandbox's own upper
// layer (thrown away with it). Failures (a read-only root, a file in the
// way) are left for the command's start to report; a relative dir is
// left alone.
func (s *Sandbox) MakeWorkDir(dir string) {
	if !strings.HasPrefix(dir, "/") {
		return
	}
	root := vfs.Loc{Cred: cred.New(0, 0, nil)}
	p := ""
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		p += "/" + part
		if _, err := s.fs.StatAt(root, p, true); err == nil {
			continue
		}
		if err := s.fs.MkdirAt(root, p, 0o755); err != nil {
			return
		}
	}
}

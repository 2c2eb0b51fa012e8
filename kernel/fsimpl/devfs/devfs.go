// Package devfs is the guest's /dev: a fixed set of character devices
// implemented in Go (null, zero, full, random, urandom) plus the stdio
// symlinks into /proc/self/fd. Nothing here touches a host device node.
//
// The file system is read-only: creating, removing or renaming entries
// fails with EROFS. The devices themselves stay readable and writable,
// because the VFS (like Linux) exempts device nodes from EROFS.
package devfs

import (
	"crypto/rand"
	"io"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// FS is one devfs instance.
type FS struct {
	dev  uint64
	time unix.Timespec
	root *Dir
}

// New returns a devfs with the standard devices and symlinks.
func New() *FS {
	fs := &FS{dev: vfs.NewDev(), time: vfs.Now()}
	fs.root = &Dir{fs: fs, ino: vfs.NewIno(), entries: map[string]vfs.Node{}}
	for _, d := range []struct {
		name  string
		minor uint32
		kind  kind
	}{
		{"null", 3, null},
		{"zero", 5, zero},
		{"full", 7, full},
		{"random", 8, random},
		{"urandom", 9, random},
	} {
		fs.root.entries[d.name] = &Device{fs: fs, ino: vfs.NewIno(), major: 1, minor: d.minor, kind: d.kind}
	}
	for name, target := range map[string]string{
		"stdin":  "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2",
		"fd":     "/proc/self/fd",
	} {
		fs.root.entries[name] = &Symlink{fs: fs, ino: vfs.NewIno(), target: target}
	}
	return fs
}

// Root returns /dev itself.
func (fs *FS) Root() vfs.DirNode { return fs.root }

// ReadOnly reports true: the guest cannot add or remove device nodes.
func (fs *FS) ReadOnly() bool { return true }

// Name returns "devtmpfs".
func (fs *FS) Name() string { return "devtmpfs" }

// Add adds a node, e.g. a terminal device backed by the host tty. It fails
// with EEXIST if the name is taken.
func (fs *FS) Add(name string, n vfs.Node) error {
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	if n == nil {
		return unix.EINVAL
	}
	fs.root.mu.Lock()
	defer fs.root.mu.Unlock()
	if _, ok := fs.root.entries[name]; ok {
		return unix.EEXIST
	}
	fs.root.entries[name] = n
	return nil
}

// AddSymlink adds a symbolic link name -> target, e.g. /dev/ptmx ->
// pts/ptmx. It fails with EEXIST if the name is taken.
func (fs *FS) AddSymlink(name, target string) error {
	if target == "" {
		return unix.EINVAL
	}
	return fs.Add(name, &Symlink{fs: fs, ino: vfs.NewIno(), target: target})
}

// stat returns metadata common to devfs nodes, owned by root like on Linux.
func (fs *FS) stat(ino uint64, mode uint32) vfs.Stat {
	return vfs.Stat{
		Dev: fs.dev, Ino: ino, Nlink: 1, Mode: mode, Blksize: 4096,
		Atime: fs.time, Mtime: fs.time, Ctime: fs.time,
	}
}

// Dir is the /dev directory.
type Dir struct {
	fs  *FS
	ino uint64

	mu      sync.RWMutex
	entries map[string]vfs.Node
}

// Stat returns the directory's metadata (root-owned 0755).
func (d *Dir) Stat() (vfs.Stat, error) {
	st := d.fs.stat(d.ino, unix.S_IFDIR|0o755)
	st.Nlink = 2
	return st, nil
}

// Lookup finds a device or link.
func (d *Dir) Lookup(name string) (vfs.Node, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if n, ok := d.entries[name]; ok {
		return n, nil
	}
	return nil, unix.ENOENT
}

// ReadDir lists the entries sorted by name.
func (d *Dir) ReadDir() ([]vfs.DirEntry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]vfs.DirEntry, 0, len(d.entries))
	for name, n := range d.entries {
		st, err := n.Stat()
		if err != nil {
			continue
		}
		out = append(out, vfs.DirEntry{Name: name, Ino: st.Ino, Type: vfs.DTFromMode(st.Mode)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// The guest cannot change /dev.

func (d *Dir) Create(string, uint32) (vfs.Node, error)  { return nil, unix.EROFS }
func (d *Dir) Mkdir(string, uint32) error               { return unix.EROFS }
func (d *Dir) Unlink(string) error                      { return unix.EROFS }
func (d *Dir) Rmdir(string) error                       { return unix.EROFS }
func (d *Dir) Rename(string, vfs.DirNode, string) error { return unix.EROFS }
func (d *Dir) Symlink(string, string) error             { return unix.EROFS }

// Symlink is one of the stdio links into /proc/self/fd, or one added
// with AddSymlink.
type Symlink struct {
	fs     *FS
	ino    uint64
	target string
}

// Stat returns the link's metadata.
func (s *Symlink) Stat() (vfs.Stat, error) {
	st := s.fs.stat(s.ino, unix.S_IFLNK|0o777)
	st.Size = int64(len(s.target))
	return st, nil
}

// Readlink returns the target.
func (s *Symlink) Readlink() (string, error) { return s.target, nil }

type kind int

const (
	null kind = iota
	zero
	full
	random
)

// Device is a character device implemented in Go.
type Device struct {
	fs           *FS
	ino          uint64
	major, minor uint32
	kind         kind
}

// Stat reports a world-readable and -writable character device with the
// Linux major/minor numbers in Rdev.
func (d *Device) Stat() (vfs.Stat, error) {
	st := d.fs.stat(d.ino, unix.S_IFCHR|0o666)
	st.Rdev = unix.Mkdev(d.major, d.minor)
	return st, nil
}

// Open returns the device's operations; they are stateless, so one value
// serves every open.
func (d *Device) Open(int) (vfs.FileOps, error) { return devOps{d.kind}, nil }

type devOps struct{ kind kind }

// ReadAt ignores the offset: null is always at end of file, zero and full
// read zeros, random and urandom never block (as on modern Linux).
func (o devOps) ReadAt(p []byte, _ int64) (int, error) {
	switch o.kind {
	case null:
		return 0, io.EOF
	case random:
		if _, err := rand.Read(p); err != nil {
			return 0, unix.EIO
		}
	default:
		clear(p)
	}
	return len(p), nil
}

// WriteAt discards data; /dev/full is always full.
func (o devOps) WriteAt(p []byte, _ int64) (int, error) {
	if o.kind == full {
		return 0, unix.ENOSPC
	}
	return len(p), nil
}

func (o devOps) Truncate(int64) error { return unix.EINVAL }
func (o devOps) Sync() error          { return unix.EINVAL } // fsync on a char device
func (o devOps) Close() error         { return nil }

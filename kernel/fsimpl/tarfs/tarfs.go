// Package tarfs serves one uncompressed tar file as a read-only file
// system, read in place: nothing is extracted. Opening the file system
// reads the tar's headers once and builds a compact index (index.go); a
// regular file's bytes are one contiguous range of the tar, so reading
// the file is a ReadAt of the tar at an offset, and executables and
// shared libraries mapped by the guest are read the same way.
//
// The index may be cached in a directory (Options.IndexDir), named by
// the layer's digest (Options.Key), so the next sandbox on the same image
// skips the header scan (cache.go). A cached index is never trusted: it
// is checked in full when loaded and rebuilt from the tar when anything
// does not fit.
//
// Tar semantics are those of extracting the archive in order into an
// empty directory: a later entry of the same path replaces an earlier one
// (two directories merge: the later one's metadata wins, the children
// stay), a directory named only as the parent of some entry exists
// (0755, root, mtime 0), a hard link is another name of the same inode.
// Entries named .wh.* are ordinary entries: an overlay interprets them.
//
// Device nodes and FIFOs are shown as such (stat, readdir) but cannot be
// opened: ENXIO, as hostfs answers for the host's and as a "nodev" mount
// would refuse them (Linux says EACCES there; litebox uses ENXIO for
// every node it will not open, see the VFS). Nothing in an image can
// reach a host device.
package tarfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// The errors New and Open return wrap one of these (errors.Is).
var (
	// ErrCorrupt: a bad header, a truncated archive, an entry whose data
	// lies past the end of the tar, a name that cannot be a path, an
	// entry under a non-directory.
	ErrCorrupt = errors.New("corrupt tar")
	// ErrEscape: a name whose ".." leaves the root, or a hard link whose
	// target is outside the root or not an earlier entry.
	ErrEscape = errors.New("tar entry escapes the root")
	// ErrUnsupported: a valid tar that tarfs cannot serve in place
	// (sparse files, entry types that are neither files, directories,
	// links nor devices, names longer than PATH_MAX, more implied
	// directories than the tar's size allows, an index beyond the 32-bit
	// limits).
	ErrUnsupported = errors.New("unsupported tar")
)

// Options configures a tarfs instance.
type Options struct {
	// IndexDir is where the index is cached ("": built in memory each
	// time, never written). It must exist; the caller owns its mode.
	IndexDir string
	// Key names the cached index: the layer's digest, "sha256:<hex>".
	// With IndexDir set and Key empty nothing is cached.
	Key string
}

// Magic is the f_type statfs reports. Linux has no tar file system: this
// is litebox's own number ("tarf"), in no other file system's way.
const Magic = 0x74617266

// FS is one tar file served read-only. Nothing in it changes after New,
// so one FS is safe for concurrent use and may be mounted in any number
// of sandboxes at once (one index in memory for every sandbox of an
// image); Close it after the last of them is done.
type FS struct {
	r      io.ReaderAt
	size   int64
	closer io.Closer // the file Open opened; nil for New
	dev    uint64
	idx    *index
	cached bool // the index came from IndexDir
}

// Open opens the tar file at path and serves it; Close closes the file.
func Open(path string, opts Options) (*FS, error) {
	// O_NONBLOCK: a FIFO in place of the tar must not hang us before the
	// regular-file check below (it means nothing for regular files).
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tarfs: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tarfs: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("tarfs: %s: not a regular file", path)
	}
	fs, err := New(f, st.Size(), opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	fs.closer = f
	return fs, nil
}

// New serves the tar of size bytes that r reads. r must stay readable
// (and unchanged) while the file system is in use; ReadAt is called
// concurrently.
func New(r io.ReaderAt, size int64, opts Options) (*FS, error) {
	if size < 0 {
		return nil, fmt.Errorf("tarfs: %w: negative size", ErrCorrupt)
	}
	fs := &FS{r: r, size: size, dev: vfs.NewDev()}
	if opts.IndexDir != "" && opts.Key != "" {
		if err := checkKey(opts.Key); err != nil {
			return nil, err
		}
		if idx := loadIndex(opts.IndexDir, opts.Key, size); idx != nil {
			fs.idx, fs.cached = idx, true
			return fs, nil
		}
	}
	idx, err := build(r, size)
	if err != nil {
		return nil, err
	}
	fs.idx = idx
	if opts.IndexDir != "" && opts.Key != "" {
		storeIndex(opts.IndexDir, opts.Key, size, idx)
	}
	return fs, nil
}

// Close closes the tar file if Open opened it. Files of the file system
// fail (EIO) once it is closed.
func (fs *FS) Close() error {
	if fs.closer == nil {
		return nil
	}
	return fs.closer.Close()
}

// Root returns the root directory.
func (fs *FS) Root() vfs.DirNode { return &Dir{node{fs, 0}} }

// ReadOnly is always true.
func (fs *FS) ReadOnly() bool { return true }

// Name returns "tarfs".
func (fs *FS) Name() string { return "tarfs" }

// Cached reports whether the index was loaded from Options.IndexDir
// rather than built from the tar.
func (fs *FS) Cached() bool { return fs.cached }

// Inodes returns the number of inodes (entries after links and
// replacements, with the root and implied directories).
func (fs *FS) Inodes() int { return len(fs.idx.inodes) }

// IndexBytes is the memory the index holds (its slices and strings).
func (fs *FS) IndexBytes() int { return fs.idx.bytes() }

// StatFS reports the tar's size as the blocks in use, the inodes as the
// files, and nothing free.
func (fs *FS) StatFS() (vfs.StatFS, error) {
	const bs = 4096
	return vfs.StatFS{
		Type: Magic, Bsize: bs, Frsize: bs, Namelen: vfs.NameMax,
		Blocks: uint64((fs.size + bs - 1) / bs),
		Files:  uint64(len(fs.idx.inodes)),
	}, nil
}

// node is what every node has: the file system and its inode's index.
type node struct {
	fs *FS
	i  uint32
}

func (n *node) ino() *inode { return &n.fs.idx.inodes[n.i] }

// Stat reports the tar header's metadata; atime and ctime are the mtime
// (the tar has no other times the guest could rely on).
func (n *node) Stat() (vfs.Stat, error) {
	in := n.ino()
	t := unix.Timespec{Sec: in.mtime, Nsec: int64(in.mtimeNsec)}
	st := vfs.Stat{
		Dev: n.fs.dev, Ino: uint64(n.i) + 1, Nlink: uint64(in.nlink), Rdev: in.rdev,
		Mode: in.mode, Uid: in.uid, Gid: in.gid, Blksize: 4096,
		Atime: t, Mtime: t, Ctime: t,
	}
	switch in.mode & unix.S_IFMT {
	case unix.S_IFREG:
		st.Size = in.size
		st.Blocks = (in.size + 4095) / 4096 * 8
	case unix.S_IFLNK:
		st.Size = in.size
	case unix.S_IFDIR:
		st.Size, st.Blocks = 4096, 8
	}
	return st, nil
}

// The metadata of a read-only file system does not change.
func (n *node) Chmod(uint32) error                 { return unix.EROFS }
func (n *node) Utimes(_, _ unix.Timespec) error    { return unix.EROFS }
func (n *node) Chown(_, _ uint32) error            { return unix.EROFS }
func (n *node) SetXattr(string, []byte, int) error { return unix.EROFS }
func (n *node) RemoveXattr(string) error           { return unix.EROFS }

// GetXattr returns a PAX SCHILY.xattr.* attribute of the entry: ENODATA
// when it has none of that name.
func (n *node) GetXattr(name string) ([]byte, error) {
	var val []byte
	found := false
	n.fs.idx.eachXattr(n.ino(), func(k, v string) bool {
		if k == name {
			val, found = []byte(v), true
			return false
		}
		return true
	})
	if !found {
		return nil, unix.ENODATA
	}
	return val, nil
}

// ListXattr lists the entry's attribute names.
func (n *node) ListXattr() ([]string, error) {
	var names []string
	n.fs.idx.eachXattr(n.ino(), func(k, _ string) bool {
		names = append(names, k)
		return true
	})
	return names, nil
}

// nodeOf makes the node of inode i, typed by its mode.
func (fs *FS) nodeOf(i uint32) vfs.Node {
	n := node{fs, i}
	switch fs.idx.inodes[i].mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return &Dir{n}
	case unix.S_IFREG:
		return &File{n}
	case unix.S_IFLNK:
		return &Symlink{n}
	}
	return &Special{n}
}

// Dir is a directory of the tar.
type Dir struct{ node }

// children returns the directory's entries, sorted by name.
func (d *Dir) children() []dirent {
	in := d.ino()
	return d.fs.idx.dirents[in.off : in.off+in.size]
}

// Lookup finds name by binary search of the sorted entries.
func (d *Dir) Lookup(name string) (vfs.Node, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	kids := d.children()
	strs := d.fs.idx.strs
	j := sort.Search(len(kids), func(k int) bool { return kids[k].name(strs) >= name })
	if j == len(kids) || kids[j].name(strs) != name {
		return nil, unix.ENOENT
	}
	return d.fs.nodeOf(kids[j].ino), nil
}

// ReadDir lists the directory sorted by name.
func (d *Dir) ReadDir() ([]vfs.DirEntry, error) {
	kids := d.children()
	out := make([]vfs.DirEntry, len(kids))
	for k, e := range kids {
		out[k] = vfs.DirEntry{
			Name: e.name(d.fs.idx.strs), Ino: uint64(e.ino) + 1,
			Type: vfs.DTFromMode(d.fs.idx.inodes[e.ino].mode),
		}
	}
	return out, nil
}

// A read-only directory refuses every change (the VFS refuses first, on
// a read-only mount; this is the second line).
func (d *Dir) Create(string, uint32) (vfs.Node, error)  { return nil, unix.EROFS }
func (d *Dir) Mkdir(string, uint32) error               { return unix.EROFS }
func (d *Dir) Unlink(string) error                      { return unix.EROFS }
func (d *Dir) Rmdir(string) error                       { return unix.EROFS }
func (d *Dir) Rename(string, vfs.DirNode, string) error { return unix.EROFS }
func (d *Dir) Symlink(_, _ string) error                { return unix.EROFS }
func (d *Dir) Link(vfs.Node, string) error              { return unix.EROFS }
func (d *Dir) Mknod(string, uint32) error               { return unix.EROFS }

// Readlink returns the target as the tar holds it.
func (s *Symlink) Readlink() (string, error) {
	in := s.ino()
	return s.fs.idx.strs[in.off : in.off+in.size], nil
}

// Open opens the file for reading; any write access is EROFS.
func (f *File) Open(flags int) (vfs.FileOps, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EROFS
	}
	return &fileOps{f: f}, nil
}

func (o *fileOps) WriteAt([]byte, int64) (int, error) { return 0, unix.EROFS }
func (o *fileOps) Truncate(int64) error               { return unix.EROFS }
func (o *fileOps) Sync() error                        { return nil }
func (o *fileOps) Close() error                       { return nil }

// Stat is the file's (fstat).
func (o *fileOps) Stat() (vfs.Stat, error) { return o.f.Stat() }

// Symlink is a symbolic link of the tar; its target is kept verbatim
// (absolute targets are fine: the VFS resolves them in the guest's root).
type Symlink struct{ node }

// Special is a device node or FIFO: visible, never opened.
type Special struct{ node }

// File is a regular file of the tar.
type File struct{ node }

// fileOps is an open regular file: reads are ReadAt of the tar within
// the entry's range, with no state of their own, so any number of
// readers share the tar.
type fileOps struct{ f *File }

// ReadAt reads the file's bytes at off; io.EOF at and past its end.
func (o *fileOps) ReadAt(p []byte, off int64) (int, error) {
	in := o.f.ino()
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= in.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), in.size-off)
	n, err := o.f.fs.r.ReadAt(p[:want], in.off+off)
	switch {
	case int64(n) == want:
		if int64(n) < int64(len(p)) {
			return n, io.EOF
		}
		return n, nil
	case err == nil || errors.Is(err, io.EOF):
		// The tar shrank under us: its bytes are gone, which the guest
		// can only see as an I/O error.
		return n, unix.EIO
	}
	return n, fmt.Errorf("tarfs: read: %w", err)
}

// checkKey refuses keys that could name a file outside IndexDir.
func checkKey(key string) error {
	if len(key) > 200 || key == "" || strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-") != "" ||
		strings.HasPrefix(key, ".") {
		return fmt.Errorf("tarfs: bad index key %q: want a digest like sha256:<hex>", key)
	}
	return nil
}

// Package cover puts synthesized files over some names of a file
// system's root directory: the sandbox's /etc is the host's, read-only,
// except /etc/hosts, /etc/hostname and /etc/resolv.conf, which describe
// the sandbox (its hostname, its own network) instead of leaking the
// host's. Everything else is the inner file system's, untouched: only the
// root directory's Lookup and ReadDir are wrapped.
package cover

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Inner is a file system that reports its usage (hostfs does).
type Inner interface {
	vfs.FileSystem
	vfs.StatFSer
}

// FS is inner with covered names.
type FS struct {
	inner Inner
	root  *dir
}

// New covers the names of files in inner's root with files whose content
// is made by each function at every open (a snapshot per open file).
// The covering files are read-only, mode 0644, owned by the sandbox's
// root.
func New(inner Inner, files map[string]func() ([]byte, error)) *FS {
	d := &dir{DirNode: inner.Root(), files: map[string]*File{}}
	dev := vfs.NewDev()
	now := vfs.Now()
	for name, content := range files {
		d.files[name] = &File{dev: dev, ino: vfs.NewIno(), time: now, content: content}
	}
	return &FS{inner: inner, root: d}
}

// Root is the inner root with the covering files.
func (fs *FS) Root() vfs.DirNode { return fs.root }

// ReadOnly is the inner file system's.
func (fs *FS) ReadOnly() bool { return fs.inner.ReadOnly() }

// Name is the inner file system's (mount tables show it as what it is).
func (fs *FS) Name() string { return fs.inner.Name() }

// StatFS is the inner file system's.
func (fs *FS) StatFS() (vfs.StatFS, error) { return fs.inner.StatFS() }

// dir is the inner root with some names replaced.
type dir struct {
	vfs.DirNode
	files map[string]*File
}

// Lookup finds a covering file first, so the inner one is never
// reached.
func (d *dir) Lookup(name string) (vfs.Node, error) {
	if f, ok := d.files[name]; ok {
		return f, nil
	}
	return d.DirNode.Lookup(name)
}

// ReadDir lists the inner directory with the covered names replaced (and
// added where the inner one lacks them).
func (d *dir) ReadDir() ([]vfs.DirEntry, error) {
	ents, err := d.DirNode.ReadDir()
	if err != nil {
		return nil, err
	}
	ents = slices.DeleteFunc(ents, func(e vfs.DirEntry) bool { _, ok := d.files[e.Name]; return ok })
	names := make([]string, 0, len(d.files))
	for name := range d.files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ents = append(ents, vfs.DirEntry{Name: name, Ino: d.files[name].ino, Type: unix.DT_REG})
	}
	return ents, nil
}

// Unlink, Rename and the creating calls on a covered name fail as on a
// read-only file system; the VFS refuses them first on a read-only
// mount.
func (d *dir) Unlink(name string) error {
	if _, ok := d.files[name]; ok {
		return unix.EROFS
	}
	return d.DirNode.Unlink(name)
}

// NewFile makes one covering file on its own (read-only, mode 0644, owned
// by the sandbox's root, content made at every open), for a file system
// that covers names itself (the overlay of an image root).
func NewFile(content func() ([]byte, error)) *File {
	return &File{dev: fileDev, ino: vfs.NewIno(), time: vfs.Now(), content: content}
}

// fileDev is the device of the files NewFile makes.
var fileDev = vfs.NewDev()

// File is one covering file.
type File struct {
	dev, ino uint64
	time     unix.Timespec
	content  func() ([]byte, error)
}

// Stat reports a read-only regular file of the content's current size.
func (f *File) Stat() (vfs.Stat, error) {
	data, err := f.content()
	if err != nil {
		return vfs.Stat{}, err
	}
	n := int64(len(data))
	return vfs.Stat{Dev: f.dev, Ino: f.ino, Nlink: 1, Mode: unix.S_IFREG | 0o644, Size: n, Blksize: 4096,
		Blocks: (n + 511) / 512, Atime: f.time, Mtime: f.time, Ctime: f.time}, nil
}

// Open takes a snapshot of the content (EROFS for writing).
func (f *File) Open(flags int) (vfs.FileOps, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EROFS
	}
	data, err := f.content()
	if err != nil {
		return nil, err
	}
	return &snapshot{f: f, data: data}, nil
}

type snapshot struct {
	f    *File
	data []byte
}

func (s *snapshot) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= int64(len(s.data)) {
		return 0, nil
	}
	return copy(p, s.data[off:]), nil
}

func (s *snapshot) Stat() (vfs.Stat, error) {
	st, err := s.f.Stat()
	st.Size = int64(len(s.data))
	st.Blocks = (st.Size + 511) / 512
	return st, err
}

func (s *snapshot) WriteAt([]byte, int64) (int, error) { return 0, unix.EBADF }
func (s *snapshot) Truncate(int64) error               { return unix.EROFS }
func (s *snapshot) Sync() error                        { return nil }
func (s *snapshot) Close() error                       { return nil }

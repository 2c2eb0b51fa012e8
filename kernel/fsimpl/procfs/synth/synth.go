// Package synth builds synthetic read-only trees such as /proc: a
// directory's entries, a file's content and a symlink's target are
// produced by functions evaluated when the guest looks.
//
//	root := synth.NewDir(func() map[string]vfs.Node {
//		return map[string]vfs.Node{
//			"version": synth.NewFile(0o444, func() ([]byte, error) { return []byte("Linux\n"), nil }),
//			"self":    synth.NewSymlink(func() (string, error) { return strconv.Itoa(pid()), nil }),
//		}
//	})
//	fs := synth.NewFS("proc", root)
//
// Each node gets its inode number when it is constructed, so callers that
// want stable inode numbers should build nodes once and return the same
// values from their entry functions. Nodes report the Dev of the first
// FS they are reached through. Owners default to root; see SetOwner.
package synth

import (
	"context"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// FS is a read-only file system around a synthetic root directory.
type FS struct {
	name string
	root *Dir
}

// NewFS wraps root; name is the file system type reported in mount lists.
func NewFS(name string, root *Dir) *FS {
	root.adopt(vfs.NewDev())
	return &FS{name: name, root: root}
}

// Root returns the root directory.
func (fs *FS) Root() vfs.DirNode { return fs.root }

// ReadOnly reports true.
func (fs *FS) ReadOnly() bool { return true }

// Name returns the name given to NewFS.
func (fs *FS) Name() string { return fs.name }

// attr is the metadata every synthetic node carries.
type attr struct {
	ino  uint64
	dev  atomic.Uint64
	time unix.Timespec

	mu       sync.Mutex
	uid, gid uint32
}

func newAttr() attr { return attr{ino: vfs.NewIno(), time: vfs.Now()} }

// SetOwner sets the uid and gid the node reports (default 0:0).
func (a *attr) SetOwner(uid, gid uint32) {
	a.mu.Lock()
	a.uid, a.gid = uid, gid
	a.mu.Unlock()
}

// adopt records the device number of the file system the node was first
// reached through.
func (a *attr) adopt(dev uint64) { a.dev.CompareAndSwap(0, dev) }

func (a *attr) stat(mode uint32) vfs.Stat {
	a.mu.Lock()
	defer a.mu.Unlock()
	return vfs.Stat{
		Dev: a.dev.Load(), Ino: a.ino, Nlink: 1, Mode: mode,
		Uid: a.uid, Gid: a.gid, Blksize: 4096,
		Atime: a.time, Mtime: a.time, Ctime: a.time,
	}
}

// adopter is implemented by every synth node.
type adopter interface{ adopt(dev uint64) }

// Dir is a directory whose entries come from a function evaluated at every
// lookup and listing, so it always reflects the current state (e.g. the
// live processes).
type Dir struct {
	attr
	entries func() map[string]vfs.Node
}

// NewDir returns a directory listing entries(). A nil map is empty.
func NewDir(entries func() map[string]vfs.Node) *Dir {
	return &Dir{attr: newAttr(), entries: entries}
}

// NewStaticDir returns a directory with a fixed set of entries.
func NewStaticDir(entries map[string]vfs.Node) *Dir {
	return NewDir(func() map[string]vfs.Node { return entries })
}

// Stat reports a 0555 directory.
func (d *Dir) Stat() (vfs.Stat, error) {
	st := d.stat(unix.S_IFDIR | 0o555)
	st.Nlink = 2
	return st, nil
}

// child passes the directory's device number on to n.
func (d *Dir) child(n vfs.Node) vfs.Node {
	if a, ok := n.(adopter); ok {
		a.adopt(d.dev.Load())
	}
	return n
}

// Lookup evaluates the entry function and finds name in it.
func (d *Dir) Lookup(name string) (vfs.Node, error) {
	n, ok := d.entries()[name]
	if !ok || n == nil {
		return nil, unix.ENOENT
	}
	return d.child(n), nil
}

// ReadDir evaluates the entry function and lists it sorted by name.
func (d *Dir) ReadDir() ([]vfs.DirEntry, error) {
	m := d.entries()
	out := make([]vfs.DirEntry, 0, len(m))
	for name, n := range m {
		if n == nil || vfs.ValidName(name) != nil {
			continue
		}
		st, err := d.child(n).Stat()
		if err != nil {
			continue // vanished (e.g. an exited process)
		}
		out = append(out, vfs.DirEntry{Name: name, Ino: st.Ino, Type: vfs.DTFromMode(st.Mode)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Synthetic trees are read-only.

func (d *Dir) Create(string, uint32) (vfs.Node, error)  { return nil, unix.EROFS }
func (d *Dir) Mkdir(string, uint32) error               { return unix.EROFS }
func (d *Dir) Unlink(string) error                      { return unix.EROFS }
func (d *Dir) Rmdir(string) error                       { return unix.EROFS }
func (d *Dir) Rename(string, vfs.DirNode, string) error { return unix.EROFS }
func (d *Dir) Symlink(string, string) error             { return unix.EROFS }

// File is a regular file whose content is produced when it is opened.
type File struct {
	attr
	mode    uint32
	content func() ([]byte, error)
}

// NewFile returns a file with permission bits mode whose content is
// content(), evaluated once per open: readers see a consistent snapshot,
// as with Linux's seq_file-backed /proc files.
func NewFile(mode uint32, content func() ([]byte, error)) *File {
	return &File{attr: newAttr(), mode: mode & 0o7777, content: content}
}

// Stat reports a regular file of size 0, as Linux does for /proc files:
// computing the content just to stat it would be wasteful and could fail.
// An open file's fstat reports the size of its snapshot instead.
func (f *File) Stat() (vfs.Stat, error) {
	return f.stat(unix.S_IFREG | f.mode), nil
}

// Open takes the snapshot.
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

// snapshot is an open synthetic file.
type snapshot struct {
	f    *File
	data []byte
}

func (s *snapshot) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	return copy(p, s.data[off:]), nil
}

// Stat reports the snapshot's size.
func (s *snapshot) Stat() (vfs.Stat, error) {
	st, _ := s.f.Stat()
	st.Size = int64(len(s.data))
	st.Blocks = (st.Size + 511) / 512
	return st, nil
}

func (s *snapshot) WriteAt([]byte, int64) (int, error) { return 0, unix.EBADF }
func (s *snapshot) Truncate(int64) error               { return unix.EROFS }
func (s *snapshot) Sync() error                        { return nil }
func (s *snapshot) Close() error                       { return nil }

// Symlink is a symbolic link whose target is computed when it is read.
type Symlink struct {
	attr
	target func() (string, error)
}

// NewSymlink returns a link to target().
func NewSymlink(target func() (string, error)) *Symlink {
	return &Symlink{attr: newAttr(), target: target}
}

// Stat reports a 0777 symlink; its size is the current target length.
func (s *Symlink) Stat() (vfs.Stat, error) {
	st := s.stat(unix.S_IFLNK | 0o777)
	if t, err := s.target(); err == nil {
		st.Size = int64(len(t))
	}
	return st, nil
}

// Readlink evaluates the target.
func (s *Symlink) Readlink() (string, error) { return s.target() }

// CallerSymlink is a symlink whose target depends on the caller: the
// context a path walk passes (vfs.ContextSymlink).
type CallerSymlink struct {
	*Symlink
	forCaller func(ctx context.Context) (string, error)
}

// NewCallerSymlink returns a symlink evaluating target for each caller; a
// walk made without one (context.Background) gets target's answer for it.
func NewCallerSymlink(target func(ctx context.Context) (string, error)) *CallerSymlink {
	return &CallerSymlink{
		Symlink:   NewSymlink(func() (string, error) { return target(context.Background()) }),
		forCaller: target,
	}
}

// ReadlinkContext evaluates the target for the caller ctx.
func (s *CallerSymlink) ReadlinkContext(ctx context.Context) (string, error) { return s.forCaller(ctx) }

// Package memfs is an in-memory file system with tmpfs semantics:
// regular files, directories and symlinks, owned by the guest user and
// fully writable by it, with Linux-like link counts and timestamps.
//
// File data is stored sparsely in pages, so holes (from Truncate or writes
// far past the end) cost no memory. The optional size limit counts the
// logical size of all files that are still linked or open; growing past it
// fails with ENOSPC. No file may grow beyond MaxFileSize (EFBIG).
//
// Locking: FS.tree guards every directory's entries, Dir.parent and the
// link counts; each inode's mu guards its data and attributes. tree is
// always taken before an inode's mu.
package memfs

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// MaxFileSize is the largest size a file may have (1 TiB).
const MaxFileSize = 1 << 40

// FS is one tmpfs instance.
type FS struct {
	dev   uint64
	limit int64 // 0: unlimited
	used  atomic.Int64
	// lastIno numbers this instance's inodes on their own: nothing about
	// other file systems (or sandboxes) shows in them.
	lastIno atomic.Uint64

	tree sync.Mutex
	root *Dir
}

// New returns an empty file system whose files may hold at most limit
// bytes in total (0 means unlimited). The root directory is owned by the
// guest user with mode 0755.
func New(limit int64) *FS {
	fs := &FS{dev: vfs.NewDev(), limit: limit}
	fs.root = &Dir{inode: fs.newInode(unix.S_IFDIR, 0o755), entries: map[string]node{}}
	fs.root.nlink = 2
	return fs
}

// Root returns the root directory.
func (fs *FS) Root() vfs.DirNode { return fs.root }

// ReadOnly reports false: tmpfs is always writable.
func (fs *FS) ReadOnly() bool { return false }

// Name returns "tmpfs".
func (fs *FS) Name() string { return "tmpfs" }

// Used returns the bytes currently charged against the size limit.
func (fs *FS) Used() int64 { return fs.used.Load() }

// reserve charges delta bytes (negative to release) against the limit.
func (fs *FS) reserve(delta int64) error {
	if delta <= 0 || fs.limit <= 0 {
		fs.used.Add(delta)
		return nil
	}
	for {
		cur := fs.used.Load()
		if cur+delta > fs.limit {
			return unix.ENOSPC
		}
		if fs.used.CompareAndSwap(cur, cur+delta) {
			return nil
		}
	}
}

// available returns how many more bytes may be charged.
func (fs *FS) available() int64 {
	if fs.limit <= 0 {
		return MaxFileSize
	}
	return max(fs.limit-fs.used.Load(), 0)
}

// inode holds what all node types share.
type inode struct {
	fs  *FS
	ino uint64
	typ uint32 // S_IFMT bits; immutable, so it can be read without mu

	mu                  sync.Mutex
	perm                uint32 // 07777 bits
	uid, gid            uint32
	nlink               uint64
	atime, mtime, ctime unix.Timespec
}

func (fs *FS) newInode(typ, perm uint32) inode {
	now := vfs.Now()
	return inode{
		fs: fs, ino: fs.lastIno.Add(1), typ: typ, perm: perm & 0o7777,
		uid: vfs.GuestUID, gid: vfs.GuestGID, nlink: 1,
		atime: now, mtime: now, ctime: now,
	}
}

// node is implemented by *File, *Dir and *Symlink.
type node interface {
	vfs.Node
	meta() *inode
}

func (i *inode) meta() *inode { return i }

// statLocked fills the attributes shared by all types; i.mu must be held.
func (i *inode) statLocked() vfs.Stat {
	return vfs.Stat{
		Dev: i.fs.dev, Ino: i.ino, Nlink: i.nlink,
		Mode: i.typ | i.perm, Uid: i.uid, Gid: i.gid,
		Blksize: pageSize,
		Atime:   i.atime, Mtime: i.mtime, Ctime: i.ctime,
	}
}

// touchLocked sets mtime and ctime to now (content changed); i.mu must be held.
func (i *inode) touchLocked() {
	now := vfs.Now()
	i.mtime, i.ctime = now, now
}

// accessedLocked updates atime with Linux's relatime rule: only when it is
// older than mtime/ctime or than a day, which keeps reads cheap while
// still letting tools that compare atime and mtime work.
func (i *inode) accessedLocked() {
	now := vfs.Now()
	if !tsBefore(i.mtime, i.atime) || !tsBefore(i.ctime, i.atime) ||
		now.Sec-i.atime.Sec >= int64(24*time.Hour/time.Second) {
		i.atime = now
	}
}

func tsBefore(a, b unix.Timespec) bool {
	return a.Sec < b.Sec || a.Sec == b.Sec && a.Nsec < b.Nsec
}

// Chmod sets the permission bits.
func (i *inode) Chmod(mode uint32) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.perm = mode & 0o7777
	i.ctime = vfs.Now()
	return nil
}

// Utimes sets atime and mtime, honouring UTIME_NOW and UTIME_OMIT.
func (i *inode) Utimes(atime, mtime unix.Timespec) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	now := vfs.Now()
	i.atime = vfs.ResolveTime(atime, i.atime, now)
	i.mtime = vfs.ResolveTime(mtime, i.mtime, now)
	i.ctime = now
	return nil
}

// Symlink is a symbolic link.
type Symlink struct {
	inode
	target string // immutable
}

// Stat returns the link's metadata; its size is the target length.
func (s *Symlink) Stat() (vfs.Stat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.statLocked()
	st.Size = int64(len(s.target))
	return st, nil
}

// Readlink returns the target.
func (s *Symlink) Readlink() (string, error) {
	s.mu.Lock()
	s.accessedLocked()
	s.mu.Unlock()
	return s.target, nil
}

// Dir is a directory.
type Dir struct {
	inode
	// Guarded by fs.tree.
	parent  *Dir // nil for the root
	entries map[string]node
	dead    bool // removed: no new entries, lookups fail
}

// Stat returns the directory's metadata.
func (d *Dir) Stat() (vfs.Stat, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.statLocked()
	st.Size = pageSize
	st.Blocks = pageSize / 512
	return st, nil
}

// Lookup finds a child by name.
func (d *Dir) Lookup(name string) (vfs.Node, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	n, ok := d.entries[name]
	if !ok || d.dead {
		return nil, unix.ENOENT
	}
	return n, nil
}

// ReadDir lists the entries sorted by name.
func (d *Dir) ReadDir() ([]vfs.DirEntry, error) {
	d.fs.tree.Lock()
	out := make([]vfs.DirEntry, 0, len(d.entries))
	for name, n := range d.entries {
		m := n.meta()
		out = append(out, vfs.DirEntry{Name: name, Ino: m.ino, Type: vfs.DTFromMode(m.typ)})
	}
	d.fs.tree.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	d.mu.Lock()
	d.accessedLocked()
	d.mu.Unlock()
	return out, nil
}

// addLocked links n under name; fs.tree must be held. fresh is set for a
// newly made node (as opposed to a hard link).
func (d *Dir) addLocked(name string, n node, fresh bool) error {
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	if d.dead {
		return unix.ENOENT
	}
	if _, ok := d.entries[name]; ok {
		return unix.EEXIST
	}
	m := n.meta()
	d.mu.Lock()
	// In a set-group-ID directory new entries take the directory's group
	// and new subdirectories inherit the bit, as in Linux.
	if fresh && d.perm&unix.S_ISGID != 0 {
		m.gid = d.gid
		if m.typ == unix.S_IFDIR {
			m.perm |= unix.S_ISGID
		}
	}
	if m.typ == unix.S_IFDIR {
		d.nlink++
	}
	d.touchLocked()
	d.mu.Unlock()
	d.entries[name] = n
	return nil
}

// Create makes an empty regular file.
func (d *Dir) Create(name string, mode uint32) (vfs.Node, error) {
	f := &File{inode: d.fs.newInode(unix.S_IFREG, mode), pages: map[int64]*page{}}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	if err := d.addLocked(name, f, true); err != nil {
		return nil, err
	}
	return f, nil
}

// Mkdir makes an empty directory.
func (d *Dir) Mkdir(name string, mode uint32) error {
	nd := &Dir{inode: d.fs.newInode(unix.S_IFDIR, mode), entries: map[string]node{}}
	nd.nlink = 2
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	nd.parent = d
	return d.addLocked(name, nd, true)
}

// Symlink makes a symbolic link to target.
func (d *Dir) Symlink(target, name string) error {
	if target == "" {
		return unix.ENOENT
	}
	s := &Symlink{inode: d.fs.newInode(unix.S_IFLNK, 0o777), target: target}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	return d.addLocked(name, s, true)
}

// Link adds a hard link to an existing file of the same file system.
func (d *Dir) Link(target vfs.Node, name string) error {
	n, ok := target.(node)
	if !ok || n.meta().fs != d.fs {
		return unix.EXDEV
	}
	if n.meta().typ == unix.S_IFDIR {
		return unix.EPERM
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	m := n.meta()
	m.mu.Lock()
	dead := m.nlink == 0
	m.mu.Unlock()
	if dead {
		return unix.ENOENT // linking an unlinked file back in is not allowed
	}
	if err := d.addLocked(name, n, false); err != nil {
		return err
	}
	m.mu.Lock()
	m.nlink++
	m.ctime = vfs.Now()
	m.mu.Unlock()
	return nil
}

// dropLocked accounts for name (node n) leaving directory d; fs.tree must
// be held and the entry already removed from d.entries.
func (d *Dir) dropLocked(n node) {
	m := n.meta()
	now := vfs.Now()
	m.mu.Lock()
	if sub, ok := n.(*Dir); ok {
		sub.dead = true
		m.nlink = 0
	} else if m.nlink > 0 {
		m.nlink--
	}
	m.ctime = now
	m.mu.Unlock()
	if f, ok := n.(*File); ok {
		f.maybeRelease()
	}
	d.mu.Lock()
	if m.typ == unix.S_IFDIR {
		d.nlink--
	}
	d.mtime, d.ctime = now, now
	d.mu.Unlock()
}

// Unlink removes a non-directory entry.
func (d *Dir) Unlink(name string) error {
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	n, ok := d.entries[name]
	if !ok {
		return unix.ENOENT
	}
	if n.meta().typ == unix.S_IFDIR {
		return unix.EISDIR
	}
	delete(d.entries, name)
	d.dropLocked(n)
	return nil
}

// Rmdir removes an empty directory.
func (d *Dir) Rmdir(name string) error {
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	n, ok := d.entries[name]
	if !ok {
		return unix.ENOENT
	}
	sub, ok := n.(*Dir)
	if !ok {
		return unix.ENOTDIR
	}
	if len(sub.entries) > 0 {
		return unix.ENOTEMPTY
	}
	delete(d.entries, name)
	d.dropLocked(n)
	return nil
}

// Rename moves oldName to newDir/newName, replacing a compatible target.
func (d *Dir) Rename(oldName string, newDir vfs.DirNode, newName string) error {
	nd, ok := newDir.(*Dir)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	if err := vfs.ValidName(oldName); err != nil {
		return err
	}
	if err := vfs.ValidName(newName); err != nil {
		return err
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	if d.dead || nd.dead {
		return unix.ENOENT
	}
	src, ok := d.entries[oldName]
	if !ok {
		return unix.ENOENT
	}
	srcDir, srcIsDir := src.(*Dir)
	if srcIsDir {
		for p := nd; p != nil; p = p.parent {
			if p == srcDir {
				return unix.EINVAL // would move a directory into itself
			}
		}
	}
	dst, exists := nd.entries[newName]
	if exists {
		if dst == src {
			return nil // same file (or the same name): nothing to do
		}
		dstDir, dstIsDir := dst.(*Dir)
		switch {
		case srcIsDir && !dstIsDir:
			return unix.ENOTDIR
		case !srcIsDir && dstIsDir:
			return unix.EISDIR
		case dstIsDir && len(dstDir.entries) > 0:
			return unix.ENOTEMPTY
		}
	}
	delete(d.entries, oldName)
	if exists {
		delete(nd.entries, newName)
		nd.dropLocked(dst)
	}
	nd.entries[newName] = src
	now := vfs.Now()
	if srcIsDir && d != nd {
		srcDir.parent = nd
		d.mu.Lock()
		d.nlink--
		d.mu.Unlock()
		nd.mu.Lock()
		nd.nlink++
		nd.mu.Unlock()
	}
	for _, x := range []*Dir{d, nd} {
		x.mu.Lock()
		x.mtime, x.ctime = now, now
		x.mu.Unlock()
	}
	m := src.meta()
	m.mu.Lock()
	m.ctime = now
	m.mu.Unlock()
	return nil
}

// Package memfs is an in-memory file system with tmpfs semantics:
// regular files, directories and symlinks, owned by the guest user and
// fully writable by it, with Linux-like link counts and timestamps.
//
// File data is stored sparsely in pages, so holes (from Truncate or writes
// far past the end) cost no memory. Everything the file system holds is
// charged against its size limit: each data page a file holds (not its
// logical size), each inode, each directory entry with its name and each
// symlink target, at the costs below; running out fails with ENOSPC, as a
// full tmpfs does. The number of inodes is capped too (ENOSPC), like
// tmpfs's nr_inodes. No file may grow beyond MaxFileSize (EFBIG).
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

// What each object costs against the size limit, in bytes. They are at
// least what litebox's heap holds for it (TestChargesCoverHeap measures
// that), so that a file system full of names, links or empty files is as
// bounded as one full of data.
const (
	// InodeCost is charged for every file, directory and symlink, for as
	// long as it exists (a file until its last link and handle are gone).
	InodeCost = 512
	// DirentCost is charged for every directory entry, plus the bytes of
	// its name.
	DirentCost = 128
	// PageCost is charged for every data page a file holds: the page and
	// its slot in the file's page map. Holes cost nothing.
	PageCost = pageSize + 64
)

// bytesPerInode sets the default inode cap of a size-limited file system:
// one inode per page of its size (see New).
const bytesPerInode = pageSize

// account is what the limits are charged against; file systems made with
// Sharing draw from one account.
type account struct {
	limit     int64 // bytes; 0: unlimited
	used      atomic.Int64
	maxInodes int64 // 0: unlimited
	inodes    atomic.Int64
}

// FS is one tmpfs instance.
type FS struct {
	dev  uint64
	acct *account
	// lastIno numbers this instance's inodes on their own: nothing about
	// other file systems (or sandboxes) shows in them.
	lastIno atomic.Uint64

	tree sync.Mutex
	root *Dir
}

// New returns an empty file system that may hold at most limit bytes in
// total, data and metadata (0 means unlimited). A limited file system also
// holds at most limit/4096 inodes (as if every file took at least a page;
// SetInodeLimit changes that). The root directory is owned by the guest
// user with mode 0755.
func New(limit int64) *FS {
	a := &account{limit: max(limit, 0)}
	if limit > 0 {
		a.maxInodes = max(limit/bytesPerInode, 1)
	}
	return newFS(a)
}

// Sharing returns an empty file system that charges the limits of other:
// both together hold at most what other alone may.
func Sharing(other *FS) *FS { return newFS(other.acct) }

func newFS(a *account) *FS {
	fs := &FS{dev: vfs.NewDev(), acct: a}
	fs.root = &Dir{entries: map[string]node{}}
	if err := fs.initInode(&fs.root.inode, unix.S_IFDIR, 0o755, 0, vfs.GuestUID, vfs.GuestGID); err != nil {
		// Only a limit too small for one inode gets here; the root exists
		// anyway (charged) so that the file system is usable, if full.
		a.used.Add(InodeCost)
		a.inodes.Add(1)
		fs.root.charge = InodeCost
	}
	fs.root.nlink = 2
	return fs
}

// SetInodeLimit caps the inodes of the file system (and of those sharing
// its limits) at n; 0 means no cap beyond the size limit. Call it before
// the file system is used.
func (fs *FS) SetInodeLimit(n int64) { fs.acct.maxInodes = max(n, 0) }

// RaiseLimits adds bytes and inodes to the limits, if there are any: the
// sandbox grants what it stored itself (the root skeleton sharing /tmp's
// limits), so that the guest's share is exactly what was asked for.
func (fs *FS) RaiseLimits(bytes, inodes int64) {
	a := fs.acct
	if a.limit > 0 {
		a.limit += max(bytes, 0)
	}
	if a.maxInodes > 0 {
		a.maxInodes += max(inodes, 0)
	}
}

// Root returns the root directory.
func (fs *FS) Root() vfs.DirNode { return fs.root }

// ReadOnly reports false: tmpfs is always writable.
func (fs *FS) ReadOnly() bool { return false }

// Name returns "tmpfs".
func (fs *FS) Name() string { return "tmpfs" }

// Used returns the bytes currently charged against the size limit.
func (fs *FS) Used() int64 { return fs.acct.used.Load() }

// Inodes returns the number of inodes that exist.
func (fs *FS) Inodes() int64 { return fs.acct.inodes.Load() }

// reserve charges delta bytes (negative to release) against the limit.
func (fs *FS) reserve(delta int64) error {
	a := fs.acct
	if delta <= 0 || a.limit <= 0 {
		a.used.Add(delta)
		return nil
	}
	for {
		cur := a.used.Load()
		if cur+delta > a.limit {
			return unix.ENOSPC
		}
		if a.used.CompareAndSwap(cur, cur+delta) {
			return nil
		}
	}
}

// takeInode counts one more inode against the cap.
func (fs *FS) takeInode() error {
	a := fs.acct
	if a.maxInodes <= 0 {
		a.inodes.Add(1)
		return nil
	}
	for {
		cur := a.inodes.Load()
		if cur >= a.maxInodes {
			return unix.ENOSPC
		}
		if a.inodes.CompareAndSwap(cur, cur+1) {
			return nil
		}
	}
}

// direntCharge is what a directory entry called name costs.
func direntCharge(name string) int64 { return DirentCost + int64(len(name)) }

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
	// charge is what the inode itself holds of the size limit (InodeCost
	// plus a symlink's target, and its extended attributes); 0 once
	// released.
	charge int64
	// xattrs are the extended attributes (xattr.go), xattrNames the
	// bytes their names take in a listing.
	xattrs     map[string][]byte
	xattrNames int
}

// initInode charges an inode, with extra bytes of its own (a symlink's
// target), and fills in i, owned by uid:gid; ENOSPC when the inode cap or
// the size limit is reached. The charge is returned by releaseLocked.
func (fs *FS) initInode(i *inode, typ, perm uint32, extra int64, uid, gid uint32) error {
	now := vfs.Now()
	i.fs, i.ino, i.typ, i.perm = fs, fs.lastIno.Add(1), typ, perm&0o7777
	i.uid, i.gid, i.nlink = uid, gid, 1
	i.atime, i.mtime, i.ctime = now, now, now
	if err := fs.takeInode(); err != nil {
		return err
	}
	if err := fs.reserve(InodeCost + extra); err != nil {
		fs.acct.inodes.Add(-1)
		return err
	}
	i.charge = InodeCost + extra
	return nil
}

// releaseLocked returns the inode's charge, once; i.mu must be held.
func (i *inode) releaseLocked() {
	if i.charge == 0 {
		return
	}
	i.fs.reserve(-i.charge)
	i.fs.acct.inodes.Add(-1)
	i.charge = 0
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

// Chown sets the owner and group; ^uint32(0) leaves one as it is. The
// VFS has checked who may.
func (i *inode) Chown(uid, gid uint32) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if uid != ^uint32(0) {
		i.uid = uid
	}
	if gid != ^uint32(0) {
		i.gid = gid
	}
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

// addLocked links n under name, charging the entry; fs.tree must be held.
// fresh is set for a newly made node (as opposed to a hard link).
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
	if err := d.fs.reserve(direntCharge(name)); err != nil {
		return err
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

// addNew links a node just made under name, giving back the node's
// charge if that fails (an existing name, ENOSPC for the entry).
func (d *Dir) addNew(name string, n node) error {
	d.fs.tree.Lock()
	err := d.addLocked(name, n, true)
	d.fs.tree.Unlock()
	if err != nil {
		m := n.meta()
		m.mu.Lock()
		m.releaseLocked()
		m.mu.Unlock()
	}
	return err
}

// Create makes an empty regular file owned by the default guest user.
func (d *Dir) Create(name string, mode uint32) (vfs.Node, error) {
	return d.CreateOwned(name, mode, vfs.GuestUID, vfs.GuestGID)
}

// CreateOwned makes an empty regular file owned by uid:gid
// (vfs.OwnedCreator).
func (d *Dir) CreateOwned(name string, mode, uid, gid uint32) (vfs.Node, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	f := &File{pages: map[int64]*page{}, seals: unix.F_SEAL_SEAL}
	if err := d.fs.initInode(&f.inode, unix.S_IFREG, mode, 0, uid, gid); err != nil {
		return nil, err
	}
	if err := d.addNew(name, f); err != nil {
		return nil, err
	}
	return f, nil
}

// Mkdir makes an empty directory owned by the default guest user.
func (d *Dir) Mkdir(name string, mode uint32) error {
	return d.MkdirOwned(name, mode, vfs.GuestUID, vfs.GuestGID)
}

// MkdirOwned makes an empty directory owned by uid:gid (vfs.OwnedCreator).
func (d *Dir) MkdirOwned(name string, mode, uid, gid uint32) error {
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	nd := &Dir{parent: d, entries: map[string]node{}}
	if err := d.fs.initInode(&nd.inode, unix.S_IFDIR, mode, 0, uid, gid); err != nil {
		return err
	}
	nd.nlink = 2
	return d.addNew(name, nd)
}

// Symlink makes a symbolic link to target, owned by the default guest
// user; the target's bytes are charged with the link's inode.
func (d *Dir) Symlink(target, name string) error {
	return d.SymlinkOwned(target, name, vfs.GuestUID, vfs.GuestGID)
}

// SymlinkOwned is Symlink for a link owned by uid:gid (vfs.OwnedCreator).
func (d *Dir) SymlinkOwned(target, name string, uid, gid uint32) error {
	if target == "" {
		return unix.ENOENT
	}
	if len(target) > vfs.PathMax {
		return unix.ENAMETOOLONG
	}
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	sl := &Symlink{target: target}
	if err := d.fs.initInode(&sl.inode, unix.S_IFLNK, 0o777, int64(len(target)), uid, gid); err != nil {
		return err
	}
	return d.addNew(name, sl)
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
// be held and the entry already removed from d.entries. The entry's charge
// is returned, and the node's once its last link is gone (for a file, once
// also its last handle is closed).
func (d *Dir) dropLocked(name string, n node) {
	d.fs.reserve(-direntCharge(name))
	m := n.meta()
	now := vfs.Now()
	m.mu.Lock()
	if sub, ok := n.(*Dir); ok {
		sub.dead = true
		m.nlink = 0
	} else if m.nlink > 0 {
		m.nlink--
	}
	if _, file := n.(*File); !file && m.nlink == 0 {
		m.releaseLocked()
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
	d.dropLocked(name, n)
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
	d.dropLocked(name, n)
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
	// The entry changes name: charge the difference first, so that a
	// rename that does not fit changes nothing.
	if grow := direntCharge(newName) - direntCharge(oldName); grow > 0 {
		if err := d.fs.reserve(grow); err != nil {
			return err
		}
	} else {
		d.fs.reserve(grow)
	}
	delete(d.entries, oldName)
	if exists {
		delete(nd.entries, newName)
		nd.dropLocked(newName, dst)
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

package overlay

import (
	"encoding/binary"
	"runtime"
	"strings"
	"sync/atomic"
	"weak"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Internal markers in the upper memfs; never shown to the guest.
const (
	// whiteoutTarget is the target of the symlink that marks a removed
	// lower name. A guest's symlink target is a C string: it never holds
	// a NUL, so no guest link is ever taken for a whiteout.
	whiteoutTarget = "\x00litebox overlay whiteout"
	// xattrPrefix is the namespace of the overlay's own attributes.
	xattrPrefix = "trusted.overlay."
	// opaqueXattr marks an upper directory that hides the lower ones.
	opaqueXattr = xattrPrefix + "opaque"
	// originXattr holds the st_ino of the lower entry an upper one was
	// copied up from (8 bytes, little endian).
	originXattr = xattrPrefix + "origin"
)

// OCI whiteouts in the lower layers.
const (
	whPrefix = ".wh."
	whOpaque = ".wh..wh..opq"
)

// layerDir is a lower directory merged into an overlay directory.
type layerDir struct {
	layer int // 1 = top lower layer
	dir   vfs.DirNode
}

// upperRef boxes the upper node so that it can be read without FS.mu.
type upperRef struct{ n vfs.Node }

// base is the overlay node of one name: what the typed nodes (dirNode,
// fileNode, ...) point to. See the package comment.
type base struct {
	fs   *FS
	kind uint32 // S_IFMT: fixed for the node's life
	ino  uint64 // st_ino: fixed for the node's life

	up atomic.Pointer[upperRef] // the upper entry, once there is one

	// Set when the node is made, never changed after: the top lower
	// entry of the name (nil if none), its layer, and for a directory
	// the lower directories merged into it (top first).
	lower vfs.Node
	layer int
	dirs  []layerDir

	// Guarded by fs.mu.
	parent *base
	name   string
	// origin: the upper entry was copied up from a lower one (or stands
	// for it, as the root), so it is not a directory of its own.
	origin bool
	// whiteout: removing the name must leave a whiteout in the upper (a
	// lower entry of the name exists below).
	whiteout bool
	dead     bool                          // the name was removed
	children map[string]weak.Pointer[base] // the live nodes of a directory's names
	covers   map[string]vfs.Node           // see FS.Cover
	slot     *slot                         // where the node is cached, for its cleanup
}

// slot is where a node sits in its parent's children map; the cleanup of
// a collected node removes its entry from there.
type slot struct {
	fs     *FS
	parent *base
	name   string
	wp     weak.Pointer[base]
}

func (b *base) upper() vfs.Node {
	if r := b.up.Load(); r != nil {
		return r.n
	}
	return nil
}

func (b *base) setUpper(n vfs.Node) { b.up.Store(&upperRef{n}) }

// real is the entry the node's content and attributes come from: the
// upper one once there is one.
func (b *base) real() vfs.Node {
	if u := b.upper(); u != nil {
		return u
	}
	return b.lower
}

// node returns the typed node the VFS sees.
func (b *base) node() vfs.Node {
	switch b.kind {
	case unix.S_IFDIR:
		return dirNode{b}
	case unix.S_IFREG:
		return fileNode{b}
	case unix.S_IFLNK:
		return symlinkNode{b}
	case unix.S_IFIFO:
		return fifoNode{b}
	case unix.S_IFSOCK:
		return socketNode{b}
	}
	return specialNode{b}
}

// baseOf returns the overlay node behind a typed node of any overlay.
func baseOf(n vfs.Node) *base {
	switch t := n.(type) {
	case dirNode:
		return t.base
	case fileNode:
		return t.base
	case symlinkNode:
		return t.base
	case fifoNode:
		return t.base
	case socketNode:
		return t.base
	case specialNode:
		return t.base
	}
	return nil
}

// adopt caches c as name of p; fs.mu held.
func (fs *FS) adopt(p *base, name string, c *base) {
	c.parent, c.name = p, name
	if p.children == nil {
		p.children = map[string]weak.Pointer[base]{}
	}
	wp := weak.Make(c)
	p.children[name] = wp
	if c.slot == nil {
		c.slot = &slot{fs: fs}
		runtime.AddCleanup(c, (*slot).drop, c.slot)
	}
	c.slot.parent, c.slot.name, c.slot.wp = p, name, wp
}

// drop forgets a collected node's cache entry (if it is still its). It
// runs on the runtime's cleanup goroutine, which must not wait for a
// copy-up: when the overlay is busy, a goroutine of its own waits for the
// lock instead (the cleanup runs only once, so giving up would leave the
// dead entry until a lookup of its name replaced it).
func (s *slot) drop() {
	if !s.fs.mu.TryLock() {
		go func() {
			s.fs.mu.Lock()
			defer s.fs.mu.Unlock()
			s.dropLocked()
		}()
		return
	}
	defer s.fs.mu.Unlock()
	s.dropLocked()
}

// dropLocked is drop with fs.mu held.
func (s *slot) dropLocked() {
	if s.parent == nil {
		return // forgotten already
	}
	if wp, ok := s.parent.children[s.name]; ok && wp == s.wp && wp.Value() == nil {
		delete(s.parent.children, s.name)
		if len(s.parent.children) == 0 {
			s.parent.children = nil
		}
	}
}

// forget removes a node from its parent's cache and marks it removed;
// fs.mu held.
func (fs *FS) forget(c *base) {
	c.dead = true
	if p := c.parent; p != nil {
		if wp, ok := p.children[c.name]; ok && wp.Value() == c {
			delete(p.children, c.name)
		}
	}
	if c.slot != nil {
		c.slot.parent = nil
	}
}

// cached returns p's live node for name, or nil; fs.mu held.
func (p *base) cached(name string) *base {
	if wp, ok := p.children[name]; ok {
		if c := wp.Value(); c != nil && !c.dead {
			return c
		}
	}
	return nil
}

// path is the node's absolute path in the overlay; fs.mu held.
func (b *base) path() string {
	if b.parent == nil {
		return "/"
	}
	var names []string
	for c := b; c.parent != nil; c = c.parent {
		names = append(names, c.name)
	}
	var sb strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.WriteString(names[i])
	}
	return sb.String()
}

// isWhiteout reports whether an upper entry is the overlay's whiteout.
func isWhiteout(n vfs.Node) bool {
	sl, ok := n.(vfs.SymlinkNode)
	if !ok {
		return false
	}
	t, err := sl.Readlink()
	return err == nil && t == whiteoutTarget
}

// isOpaque reports whether an upper directory hides the lower ones.
func isOpaque(n vfs.Node) bool {
	x, ok := n.(vfs.Xattrer)
	if !ok {
		return false
	}
	_, err := x.GetXattr(opaqueXattr)
	return err == nil
}

// originOf returns the recorded origin inode number of an upper entry.
func originOf(n vfs.Node) (uint64, bool) {
	x, ok := n.(vfs.Xattrer)
	if !ok {
		return 0, false
	}
	v, err := x.GetXattr(originXattr)
	if err != nil || len(v) != 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(v), true
}

// lowerOpaque reports whether a lower directory holds the OCI opaque
// marker.
func lowerOpaque(d vfs.DirNode) bool {
	_, err := d.Lookup(whOpaque)
	return err == nil
}

// lowerWhiteout reports whether a lower directory whites out name.
func lowerWhiteout(d vfs.DirNode, name string) bool {
	if len(whPrefix)+len(name) > vfs.NameMax {
		return false
	}
	_, err := d.Lookup(whPrefix + name)
	return err == nil
}

// Stat reports the real entry's metadata as the overlay's: one st_dev, the
// node's stable st_ino.
func (b *base) Stat() (vfs.Stat, error) {
	n := b.real()
	if n == nil {
		return vfs.Stat{}, unix.ENOENT
	}
	st, err := n.Stat()
	if err != nil {
		return st, err
	}
	b.fix(&st)
	return st, nil
}

// fix makes a real entry's stat the overlay node's. A layer's ids and
// modes are the image's: a host directory's files (hostfs marks them
// Host, checked as a stranger's) are checked as the image's own, as tar
// layers are, since nothing the guest does reaches them (a change is a
// copy-up) and the host still checks every read litebox makes.
func (b *base) fix(st *vfs.Stat) {
	st.Dev, st.Ino = b.fs.dev, b.ino
	st.Host, st.HostIDs = false, 0
	if b.kind == unix.S_IFREG && (st.Nlink > 1 || b.upper() != nil && b.origin) {
		b.fs.fixNlink(b, st)
	}
	if b.kind == unix.S_IFDIR && (len(b.dirs) > 1 || len(b.dirs) == 1 && b.upper() != nil) {
		st.Nlink = 1 // merged: its subdirectories are not counted
	}
}

// upperAs copies b up and returns its upper node as a T, or missing when
// the upper node has no such method (memfs nodes have them all).
func upperAs[T any](b *base, missing error) (T, error) {
	var zero T
	u, err := b.fs.upperFor(b)
	if err != nil {
		return zero, err
	}
	t, ok := u.(T)
	if !ok {
		return zero, missing
	}
	return t, nil
}

// Chmod copies the node up and changes the upper's mode.
func (b *base) Chmod(mode uint32) error {
	sa, err := upperAs[vfs.SetAttrer](b, unix.EPERM)
	if err != nil {
		return err
	}
	return sa.Chmod(mode)
}

// Utimes copies the node up and sets the upper's times.
func (b *base) Utimes(atime, mtime unix.Timespec) error {
	sa, err := upperAs[vfs.SetAttrer](b, unix.EPERM)
	if err != nil {
		return err
	}
	return sa.Utimes(atime, mtime)
}

// Chown copies the node up and changes the upper's owner.
func (b *base) Chown(uid, gid uint32) error {
	ch, err := upperAs[vfs.Chowner](b, unix.EPERM)
	if err != nil {
		return err
	}
	return ch.Chown(uid, gid)
}

// GetXattr reads an attribute of the real entry; the overlay's own are
// not there for the guest.
func (b *base) GetXattr(name string) ([]byte, error) {
	if strings.HasPrefix(name, xattrPrefix) {
		return nil, unix.ENODATA
	}
	x, ok := b.real().(vfs.Xattrer)
	if !ok {
		return nil, unix.ENODATA
	}
	return x.GetXattr(name)
}

// ListXattr lists the real entry's attributes but the overlay's own.
func (b *base) ListXattr() ([]string, error) {
	x, ok := b.real().(vfs.Xattrer)
	if !ok {
		return nil, nil
	}
	names, err := x.ListXattr()
	if err != nil {
		return nil, err
	}
	kept := names[:0]
	for _, n := range names {
		if !strings.HasPrefix(n, xattrPrefix) {
			kept = append(kept, n)
		}
	}
	return kept, nil
}

// SetXattr copies the node up and sets the attribute there; the
// overlay's own namespace is refused (EOPNOTSUPP, as Linux's overlayfs).
func (b *base) SetXattr(name string, value []byte, flags int) error {
	if strings.HasPrefix(name, xattrPrefix) {
		return unix.EOPNOTSUPP
	}
	x, err := upperAs[vfs.Xattrer](b, unix.EOPNOTSUPP)
	if err != nil {
		return err
	}
	return x.SetXattr(name, value, flags)
}

// RemoveXattr copies the node up and removes the attribute there.
func (b *base) RemoveXattr(name string) error {
	if strings.HasPrefix(name, xattrPrefix) {
		return unix.EOPNOTSUPP
	}
	if _, err := b.GetXattr(name); err != nil {
		return err // nothing to copy up for
	}
	x, err := upperAs[vfs.Xattrer](b, unix.EOPNOTSUPP)
	if err != nil {
		return err
	}
	return x.RemoveXattr(name)
}

// upperFor copies b up (for a change) and returns its upper entry.
func (fs *FS) upperFor(b *base) (vfs.Node, error) {
	if fs.ro {
		return nil, unix.EROFS
	}
	if u := b.upper(); u != nil {
		return u, nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.copyUp(b); err != nil {
		return nil, err
	}
	return b.upper(), nil
}

// symlinkNode is a symbolic link.
type symlinkNode struct{ *base }

// Readlink reads the real link's target.
func (s symlinkNode) Readlink() (string, error) {
	sl, ok := s.real().(vfs.SymlinkNode)
	if !ok {
		return "", unix.EINVAL
	}
	return sl.Readlink()
}

// socketNode is a socket inode (an AF_UNIX name).
type socketNode struct{ *base }

// Socket returns the socket bound to the upper inode; a socket inode of a
// lower layer has none.
func (s socketNode) Socket() any {
	if sn, ok := s.upper().(vfs.SocketNode); ok {
		return sn.Socket()
	}
	return nil
}

// Unbind forgets sock on the upper inode.
func (s socketNode) Unbind(sock any) {
	if sn, ok := s.upper().(vfs.SocketNode); ok {
		sn.Unbind(sock)
	}
}

// specialNode is a device node of a layer: shown, never opened (ENXIO),
// and never copied up (EPERM): the guest's devices are litebox's /dev.
type specialNode struct{ *base }

// What the VFS and the kernel look for on the nodes.
var (
	_ vfs.DirNode        = dirNode{}
	_ vfs.OwnedCreator   = dirNode{}
	_ vfs.Linker         = dirNode{}
	_ vfs.Mknoder        = dirNode{}
	_ vfs.SocketMaker    = dirNode{}
	_ vfs.SetAttrer      = dirNode{}
	_ vfs.Chowner        = dirNode{}
	_ vfs.Xattrer        = dirNode{}
	_ vfs.OpenableNode   = fileNode{}
	_ vfs.BlockingOpener = fifoNode{}
	_ vfs.SymlinkNode    = symlinkNode{}
	_ vfs.SocketNode     = socketNode{}
	_ vfs.Stater         = (*handle)(nil)
	_ vfs.Appender       = (*handle)(nil)
	_ vfs.StatFSer       = (*FS)(nil)
)

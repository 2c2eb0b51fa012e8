package overlay

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// The changes to a directory. Each takes fs.mu, copies the directory up
// and changes the upper; a name that a lower layer has is removed by a
// whiteout, and a directory made where a lower one was removed is opaque.

// writable checks that d may change: the overlay is writable, d exists.
func (d dirNode) writable() error {
	if d.fs.ro {
		return unix.EROFS
	}
	if d.dead {
		return unix.ENOENT
	}
	return nil
}

// upperDir copies d up and returns its upper directory; fs.mu held.
func (fs *FS) upperDir(b *base) (vfs.DirNode, error) {
	if err := fs.copyUp(b); err != nil {
		return nil, err
	}
	u, ok := b.upper().(vfs.DirNode)
	if !ok {
		return nil, unix.ENOTDIR
	}
	return u, nil
}

// free checks that name of d is free for a new entry and returns what the
// layers hold there (a whiteout, perhaps); fs.mu held.
func (d dirNode) free(name string) (found, error) {
	if _, ok := d.covers[name]; ok {
		return found{}, unix.EEXIST
	}
	if d.cached(name) != nil {
		return found{}, unix.EEXIST
	}
	f, err := d.fs.resolve(d.base, name)
	if err != nil {
		return f, err
	}
	if f.exists() {
		return f, unix.EEXIST
	}
	return f, nil
}

// place makes a new entry name in d's upper with mk, over a whiteout if
// there is one (put back if mk fails), and returns its node; a directory
// made over a whiteout is opaque. fs.mu held.
func (d dirNode) place(name string, mk func(u vfs.DirNode) (vfs.Node, error)) (*base, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	if err := d.writable(); err != nil {
		return nil, err
	}
	fs := d.fs
	f, err := d.free(name)
	if err != nil {
		return nil, err
	}
	u, err := fs.upperDir(d.base)
	if err != nil {
		return nil, err
	}
	if f.upperWhiteout {
		if err := u.Unlink(name); err != nil {
			return nil, err
		}
	}
	n, err := mk(u)
	if err == nil && f.upperWhiteout {
		if _, isDir := n.(vfs.DirNode); isDir {
			if err = setOpaque(n); err != nil {
				_ = u.Rmdir(name)
			}
		}
	}
	if err != nil {
		if f.upperWhiteout {
			_ = makeWhiteout(u, name)
		}
		return nil, err
	}
	c, err := fs.newBase(&found{upper: n, upperWhiteout: f.upperWhiteout})
	if err != nil {
		return nil, err
	}
	fs.adopt(d.base, name, c)
	fs.coverDir(c)
	return c, nil
}

func setOpaque(n vfs.Node) error {
	x, ok := n.(vfs.Xattrer)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return x.SetXattr(opaqueXattr, []byte("y"), 0)
}

// makeWhiteout puts a whiteout called name into the upper directory u.
func makeWhiteout(u vfs.DirNode, name string) error {
	if oc, ok := u.(vfs.OwnedCreator); ok {
		return oc.SymlinkOwned(whiteoutTarget, name, 0, 0)
	}
	return u.Symlink(whiteoutTarget, name)
}

// tempName returns a name free in the upper directory u, at least as long
// as name, so that a rename from it to name charges nothing more (memfs
// charges a longer name). A whiteout under it resolves to nothing, as
// any whiteout. fs.mu held.
func (fs *FS) tempName(u vfs.DirNode, name string) string {
	for {
		fs.tmpSeq++
		tmp := fmt.Sprintf("%sovl.%d.", whPrefix, fs.tmpSeq)
		if n := len(name) - len(tmp); n > 0 {
			tmp += strings.Repeat("_", n)
		}
		if _, err := u.Lookup(tmp); err != nil {
			return tmp
		}
	}
}

// tempWhiteout makes a whiteout under a temporary name of u, to be
// renamed to name: made first, it is what can run out of space, before
// anything changed. fs.mu held.
func (fs *FS) tempWhiteout(u vfs.DirNode, name string) (string, error) {
	tmp := fs.tempName(u, name)
	if err := makeWhiteout(u, tmp); err != nil {
		return "", err
	}
	return tmp, nil
}

// cleanWhiteouts removes the whiteouts of an upper directory whose merged
// view is empty (before it is removed or replaced).
func cleanWhiteouts(u vfs.DirNode) error {
	ents, err := u.ReadDir()
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := u.Unlink(e.Name); err != nil {
			return err
		}
	}
	return nil
}

func (d dirNode) lockedPlace(name string, mk func(u vfs.DirNode) (vfs.Node, error)) (*base, error) {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	return d.place(name, mk)
}

// Create makes an empty regular file owned by the default guest user.
func (d dirNode) Create(name string, mode uint32) (vfs.Node, error) {
	return d.CreateOwned(name, mode, vfs.GuestUID, vfs.GuestGID)
}

// CreateOwned makes an empty regular file owned by uid:gid.
func (d dirNode) CreateOwned(name string, mode, uid, gid uint32) (vfs.Node, error) {
	c, err := d.lockedPlace(name, func(u vfs.DirNode) (vfs.Node, error) {
		oc, ok := u.(vfs.OwnedCreator)
		if !ok {
			return u.Create(name, mode)
		}
		return oc.CreateOwned(name, mode, uid, gid)
	})
	if err != nil {
		return nil, err
	}
	return c.node(), nil
}

// Mkdir makes a directory owned by the default guest user.
func (d dirNode) Mkdir(name string, mode uint32) error {
	return d.MkdirOwned(name, mode, vfs.GuestUID, vfs.GuestGID)
}

// MkdirOwned makes a directory owned by uid:gid; over a whiteout it is
// opaque.
func (d dirNode) MkdirOwned(name string, mode, uid, gid uint32) error {
	_, err := d.lockedPlace(name, func(u vfs.DirNode) (vfs.Node, error) {
		var err error
		if oc, ok := u.(vfs.OwnedCreator); ok {
			err = oc.MkdirOwned(name, mode, uid, gid)
		} else {
			err = u.Mkdir(name, mode)
		}
		if err != nil {
			return nil, err
		}
		return u.Lookup(name)
	})
	return err
}

// Symlink makes a symbolic link owned by the default guest user.
func (d dirNode) Symlink(target, name string) error {
	return d.SymlinkOwned(target, name, vfs.GuestUID, vfs.GuestGID)
}

// SymlinkOwned makes a symbolic link owned by uid:gid.
func (d dirNode) SymlinkOwned(target, name string, uid, gid uint32) error {
	_, err := d.lockedPlace(name, func(u vfs.DirNode) (vfs.Node, error) {
		var err error
		if oc, ok := u.(vfs.OwnedCreator); ok {
			err = oc.SymlinkOwned(target, name, uid, gid)
		} else {
			err = u.Symlink(target, name)
		}
		if err != nil {
			return nil, err
		}
		return u.Lookup(name)
	})
	return err
}

// Mknod makes a FIFO (vfs.Mknoder).
func (d dirNode) Mknod(name string, mode uint32) error {
	_, err := d.lockedPlace(name, func(u vfs.DirNode) (vfs.Node, error) {
		mk, ok := u.(vfs.Mknoder)
		if !ok {
			return nil, unix.EPERM
		}
		if err := mk.Mknod(name, mode); err != nil {
			return nil, err
		}
		return u.Lookup(name)
	})
	return err
}

// MakeSocket makes a socket inode for sock (vfs.SocketMaker): bind(2) of
// an AF_UNIX socket anywhere in the image works, in the upper.
func (d dirNode) MakeSocket(name string, mode, uid, gid uint32, sock any) (vfs.SocketNode, error) {
	c, err := d.lockedPlace(name, func(u vfs.DirNode) (vfs.Node, error) {
		mk, ok := u.(vfs.SocketMaker)
		if !ok {
			return nil, unix.EPERM
		}
		return mk.MakeSocket(name, mode, uid, gid, sock)
	})
	if err != nil {
		return nil, err
	}
	return socketNode{c}, nil
}

// Link adds name as a hard link to target, a non-directory of the same
// overlay, copying target up first (EXDEV for another file system's).
func (d dirNode) Link(target vfs.Node, name string) error {
	t := baseOf(target)
	if t == nil || t.fs != d.fs {
		return unix.EXDEV
	}
	if t.kind == unix.S_IFDIR {
		return unix.EPERM
	}
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := d.writable(); err != nil {
		return err
	}
	if t.dead {
		return unix.ENOENT
	}
	// Copy the target up before placing the name: a copy-up may copy
	// up d as well.
	if err := fs.copyUp(t); err != nil {
		return err
	}
	tu := t.upper()
	c, err := d.place(name, func(u vfs.DirNode) (vfs.Node, error) {
		l, ok := u.(vfs.Linker)
		if !ok {
			return nil, unix.EPERM
		}
		if err := l.Link(tu, name); err != nil {
			return nil, err
		}
		return tu, nil
	})
	if err != nil {
		return err
	}
	c.ino, c.origin = t.ino, t.origin // one file, one number
	return nil
}

// removable returns the node of name for Unlink and Rmdir; fs.mu held.
func (d dirNode) removable(name string) (*base, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	if err := d.writable(); err != nil {
		return nil, err
	}
	if _, ok := d.covers[name]; ok {
		return nil, unix.EBUSY
	}
	return d.fs.child(d.base, name)
}

// Unlink removes a non-directory; a lower one leaves a whiteout.
func (d dirNode) Unlink(name string) error {
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c, err := d.removable(name)
	if err != nil {
		return err
	}
	if c.kind == unix.S_IFDIR {
		return unix.EISDIR
	}
	u, err := fs.upperDir(d.base)
	if err != nil {
		return err
	}
	switch {
	case !c.whiteout:
		err = u.Unlink(name)
	case c.upper() == nil:
		err = makeWhiteout(u, name)
	default:
		// The whiteout replaces the upper entry in one rename.
		var tmp string
		if tmp, err = fs.tempWhiteout(u, name); err == nil {
			if err = u.Rename(tmp, u, name); err != nil {
				_ = u.Unlink(tmp)
			}
		}
	}
	if err != nil {
		return err
	}
	fs.lowerNameGone(c)
	fs.forget(c)
	return nil
}

// Rmdir removes a directory that is empty in the merged view; a lower one
// leaves a whiteout.
func (d dirNode) Rmdir(name string) error {
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c, err := d.removable(name)
	if err != nil {
		return err
	}
	if c.kind != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	if len(c.covers) > 0 {
		return unix.EBUSY // it holds the covering files (a bind mount's point)
	}
	if ok, err := fs.empty(c); err != nil {
		return err
	} else if !ok {
		return unix.ENOTEMPTY
	}
	u, err := fs.upperDir(d.base)
	if err != nil {
		return err
	}
	tmp := ""
	if c.whiteout && c.upper() != nil {
		if tmp, err = fs.tempWhiteout(u, name); err != nil {
			return err
		}
	}
	if cu, ok := c.upper().(vfs.DirNode); ok {
		if err = cleanWhiteouts(cu); err == nil {
			err = u.Rmdir(name)
		}
		if err == nil && tmp != "" {
			err = u.Rename(tmp, u, name)
		}
		if err != nil && tmp != "" {
			_ = u.Unlink(tmp)
		}
	} else {
		err = makeWhiteout(u, name)
	}
	if err != nil {
		return err
	}
	fs.forget(c)
	return nil
}

// Rename moves oldName to newName of newDir (a directory of the same
// overlay, EXDEV otherwise), copying a lower non-directory up first. A
// directory with lower content cannot move (EXDEV: see the package
// comment).
func (d dirNode) Rename(oldName string, newDir vfs.DirNode, newName string) error {
	nd, ok := newDir.(dirNode)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	if err := vfs.ValidName(oldName); err != nil {
		return err
	}
	if err := vfs.ValidName(newName); err != nil {
		return err
	}
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := d.writable(); err != nil {
		return err
	}
	if err := nd.writable(); err != nil {
		return err
	}
	if _, ok := d.covers[oldName]; ok {
		return unix.EBUSY
	}
	if _, ok := nd.covers[newName]; ok {
		return unix.EBUSY
	}
	src, err := fs.child(d.base, oldName)
	if err != nil {
		return err
	}
	if src.kind == unix.S_IFDIR && (src.origin || len(src.dirs) > 0) {
		return unix.EXDEV
	}
	dst, err := fs.child(nd.base, newName)
	if err != nil && err != unix.ENOENT {
		return err
	}
	if dst == src {
		return nil
	}
	var dstFound found
	if dst == nil {
		if dstFound, err = fs.resolve(nd.base, newName); err != nil {
			return err
		}
	} else {
		switch {
		case src.kind == unix.S_IFDIR && dst.kind != unix.S_IFDIR:
			return unix.ENOTDIR
		case src.kind != unix.S_IFDIR && dst.kind == unix.S_IFDIR:
			return unix.EISDIR
		case len(dst.covers) > 0:
			return unix.EBUSY
		case dst.kind == unix.S_IFDIR:
			if ok, err := fs.empty(dst); err != nil {
				return err
			} else if !ok {
				return unix.ENOTEMPTY
			}
		}
	}
	if err := fs.copyUp(src); err != nil {
		return err
	}
	nu, err := fs.upperDir(nd.base)
	if err != nil {
		return err
	}
	ou, err := fs.upperDir(d.base)
	if err != nil {
		return err
	}
	// Whatever the new name leaves below must stay hidden.
	dstWhiteout := dstFound.upperWhiteout || dst != nil && dst.whiteout
	isDir := src.kind == unix.S_IFDIR
	tmp := ""
	if src.whiteout {
		if tmp, err = fs.tempWhiteout(ou, oldName); err != nil {
			return err
		}
	}
	undo := func() {
		if tmp != "" {
			_ = ou.Unlink(tmp)
		}
	}
	// An upper directory replaced (empty in the merged view, but perhaps
	// holding whiteouts) moves aside first, so that a failing rename puts
	// it back as it was; it is removed once the rename is done.
	aside := ""
	if dst != nil && dst.kind == unix.S_IFDIR {
		if du, ok := dst.upper().(vfs.DirNode); ok {
			aside = fs.tempName(nu, newName)
			if err := nu.Rename(newName, nu, aside); err != nil {
				undo()
				return err
			}
			old := undo
			undo = func() {
				_ = nu.Rename(aside, nu, newName)
				aside = "" // back in place: nothing to remove
				old()
			}
			defer func() {
				if aside != "" {
					if cleanWhiteouts(du) == nil {
						_ = nu.Rmdir(aside)
					}
				}
			}()
		}
	}
	removedMarker := false
	if isDir && dstFound.upperWhiteout {
		// memfs cannot rename a directory over a non-directory.
		if err := nu.Unlink(newName); err != nil {
			undo()
			return err
		}
		removedMarker = true
	}
	if isDir && dstWhiteout {
		if err := setOpaque(src.upper()); err != nil {
			if removedMarker {
				_ = makeWhiteout(nu, newName)
			}
			undo()
			return err
		}
	}
	if err := ou.Rename(oldName, nu, newName); err != nil {
		if removedMarker {
			_ = makeWhiteout(nu, newName)
		}
		undo()
		return err
	}
	if tmp != "" {
		_ = ou.Rename(tmp, ou, oldName) // the old name is free now
	}
	if dst != nil {
		fs.lowerNameGone(dst)
		fs.forget(dst)
	}
	if wp, ok := d.children[oldName]; ok && wp.Value() == src {
		delete(d.children, oldName)
	}
	src.whiteout = dstWhiteout
	fs.adopt(nd.base, newName, src)
	return nil
}

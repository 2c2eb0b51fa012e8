package overlay

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// copyChunk is the buffer copy-up reads a lower file through.
const copyChunk = 128 << 10

// copyUp gives b an upper entry, a copy of its lower one, its parents
// first; fs.mu held. See the package comment for what is copied.
func (fs *FS) copyUp(b *base) error {
	if b.upper() != nil {
		return nil
	}
	if fs.ro {
		return unix.EROFS
	}
	if b.dead || b.parent == nil || b.lower == nil {
		return unix.ENOENT // removed: there is no name to copy it up to
	}
	if err := fs.copyUp(b.parent); err != nil {
		return err
	}
	pu, ok := b.parent.upper().(vfs.DirNode)
	if !ok {
		return unix.ENOTDIR
	}
	pst, err := pu.Stat()
	if err != nil {
		return err
	}
	st, err := b.lower.Stat()
	if err != nil {
		return err
	}
	n, linked, err := fs.copyEntry(pu, b, &st)
	if err != nil {
		return err
	}
	if !linked {
		if err := copyAttrs(n, b.lower, &st, b.ino); err != nil {
			_ = remove(pu, b.name, n)
			return err
		}
	}
	if b.kind == unix.S_IFREG && st.Nlink > 1 {
		fs.copiedUp(b.ino, st.Nlink, n)
	}
	// The parent's times are the image's still: a copy-up is no change
	// the guest made (as Linux restores them).
	if sa, ok := pu.(vfs.SetAttrer); ok {
		_ = sa.Utimes(pst.Atime, pst.Mtime)
	}
	b.setUpper(n)
	b.origin = true
	return nil
}

// copyEntry makes the upper copy of b's lower entry in pu; linked says it
// is another link to an upper file copied up before (attributes shared).
func (fs *FS) copyEntry(pu vfs.DirNode, b *base, st *vfs.Stat) (n vfs.Node, linked bool, err error) {
	oc, ok := pu.(vfs.OwnedCreator)
	if !ok {
		return nil, false, unix.EPERM
	}
	perm := st.Mode & 0o7777
	switch b.kind {
	case unix.S_IFREG:
		if u := fs.indexed(b.ino); u != nil && st.Nlink > 1 {
			if l, ok := pu.(vfs.Linker); ok && l.Link(u, b.name) == nil {
				return u, true, nil
			}
		}
		n, err = oc.CreateOwned(b.name, 0o600, st.Uid, st.Gid)
		if err != nil {
			return nil, false, err
		}
		if err := copyData(n, b.lower, st.Size); err != nil {
			_ = pu.Unlink(b.name)
			return nil, false, err
		}
		return n, false, nil
	case unix.S_IFDIR:
		err = oc.MkdirOwned(b.name, perm&0o1777, st.Uid, st.Gid)
	case unix.S_IFLNK:
		sl, ok := b.lower.(vfs.SymlinkNode)
		if !ok {
			return nil, false, unix.EIO
		}
		var target string
		if target, err = sl.Readlink(); err == nil {
			err = oc.SymlinkOwned(target, b.name, st.Uid, st.Gid)
		}
	case unix.S_IFIFO:
		mk, ok := pu.(vfs.Mknoder)
		if !ok {
			return nil, false, unix.EPERM
		}
		err = mk.Mknod(b.name, unix.S_IFIFO|perm)
	case unix.S_IFSOCK:
		mk, ok := pu.(vfs.SocketMaker)
		if !ok {
			return nil, false, unix.EPERM
		}
		n, err = mk.MakeSocket(b.name, unix.S_IFSOCK|perm, st.Uid, st.Gid, nil)
		return n, false, err
	default:
		// Device nodes: the upper cannot hold them, and the guest's
		// devices are litebox's own /dev.
		return nil, false, unix.EPERM
	}
	if err != nil {
		return nil, false, err
	}
	n, err = pu.Lookup(b.name)
	return n, false, err
}

// copyData copies size bytes of the lower file into the new upper file n,
// leaving runs of zeros as holes (they cost the upper nothing).
func copyData(n, lower vfs.Node, size int64) error {
	lo, ok := lower.(vfs.OpenableNode)
	uo, ok2 := n.(vfs.OpenableNode)
	if !ok || !ok2 || size < 0 {
		return unix.EIO
	}
	src, err := lo.Open(unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := uo.Open(unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := dst.Truncate(size); err != nil {
		return err
	}
	buf := make([]byte, min(size, copyChunk))
	for off := int64(0); off < size; {
		k, err := src.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if k == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil // shorter than it said: the rest is a hole
			}
			return err
		}
		if !allZero(buf[:k]) {
			for w := 0; w < k; {
				m, err := dst.WriteAt(buf[w:k], off+int64(w))
				if err != nil {
					return err
				}
				if m == 0 {
					return unix.EIO
				}
				w += m
			}
		}
		off += int64(k)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// copyAttrs gives the upper entry n the lower entry's owner, extended
// attributes, mode and times, and records its origin inode number. The
// mode comes after the data and the owner (a write or chown drops
// set-user-ID), the times last.
func copyAttrs(n, lower vfs.Node, st *vfs.Stat, origin uint64) error {
	if ch, ok := n.(vfs.Chowner); ok {
		if err := ch.Chown(st.Uid, st.Gid); err != nil {
			return err
		}
	}
	ux, ok := n.(vfs.Xattrer)
	if !ok {
		return unix.EOPNOTSUPP
	}
	if lx, ok := lower.(vfs.Xattrer); ok {
		names, err := lx.ListXattr()
		if err != nil {
			return err
		}
		for _, name := range names {
			if strings.HasPrefix(name, xattrPrefix) {
				continue
			}
			v, err := lx.GetXattr(name)
			if err != nil {
				continue // removed meanwhile, or not readable: not copied
			}
			if err := ux.SetXattr(name, v, 0); err != nil {
				return err
			}
		}
	}
	var o [8]byte
	binary.LittleEndian.PutUint64(o[:], origin)
	if err := ux.SetXattr(originXattr, o[:], 0); err != nil {
		return err
	}
	sa, ok := n.(vfs.SetAttrer)
	if !ok {
		return unix.EPERM
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := sa.Chmod(st.Mode & 0o7777); err != nil {
			return err
		}
	}
	return sa.Utimes(st.Atime, st.Mtime)
}

// remove takes the upper entry n (name in pu) away again.
func remove(pu vfs.DirNode, name string, n vfs.Node) error {
	if _, ok := n.(vfs.DirNode); ok {
		return pu.Rmdir(name)
	}
	return pu.Unlink(name)
}

package hostfs

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Guest ids (Options.GuestIDs): the host directory is the guest's own
// tree, made for its ids (an OCI bundle's rootfs, unpacked by the engine
// with the container's owners), so a file's host uid and gid are the
// guest's ids, the guest's credentials and capabilities are checked
// against them by the VFS as for its memfs files, new entries belong to
// the guest that makes them, and chown changes the host owner. The host
// sees what it would see of a runc container's writes: files of the
// container's ids in that directory and nowhere else (openat2 keeps
// every call beneath it), never a set-id executable (hostMode).
//
// Chowning needs litebox to be the host's root (or the root of the
// engine's user namespace): otherwise the host refuses, and the guest
// gets EPERM from chown and keeps litebox's ids on what it makes.

// hostID is the host form of an id for fchownat: NoID leaves it as it is
// (-1 there too).
func hostID(id uint32) int {
	if id == cred.NoID {
		return -1
	}
	return int(id)
}

// chownNew gives name, just made in the directory dfd, to uid:gid. A host
// that refuses (litebox is not root) leaves litebox's ids: the entry is
// made, as on a file system that ignores ownership.
func (fs *FS) chownNew(dfd int, name string, uid, gid uint32) {
	if !fs.opts.GuestIDs || (uid == fs.euid && gid == fs.egid) {
		return
	}
	_ = unix.Fchownat(dfd, name, hostID(uid), hostID(gid), unix.AT_SYMLINK_NOFOLLOW)
}

// CreateOwned makes an empty regular file of uid:gid (vfs.OwnedCreator).
func (d *Dir) CreateOwned(name string, mode, uid, gid uint32) (vfs.Node, error) {
	return d.create(name, mode, uid, gid)
}

// MkdirOwned makes a directory of uid:gid (vfs.OwnedCreator).
func (d *Dir) MkdirOwned(name string, mode, uid, gid uint32) error {
	if err := d.checkNew(name); err != nil {
		return err
	}
	err := d.withSelf(func(fd int) error {
		if err := unix.Mkdirat(fd, name, mode&0o7777); err != nil {
			return err
		}
		d.fs.chownNew(fd, name, uid, gid)
		return nil
	})
	if err != nil {
		return err
	}
	// Undo the host umask; best effort, the directory exists either way.
	(&base{fs: d.fs, rel: childRel(d.rel, name)}).Chmod(mode & 0o7777)
	return nil
}

// SymlinkOwned makes a symlink of uid:gid (vfs.OwnedCreator).
func (d *Dir) SymlinkOwned(target, name string, uid, gid uint32) error {
	if err := d.checkNew(name); err != nil {
		return err
	}
	return d.withSelf(func(fd int) error {
		if err := unix.Symlinkat(target, fd, name); err != nil {
			return err
		}
		d.fs.chownNew(fd, name, uid, gid)
		return nil
	})
}

// Chown changes the host owner (vfs.Chowner), for a file system of guest
// ids only: a host file's owner is the host's otherwise (EPERM). The VFS
// has checked that the guest may, and takes the set-id bits as Linux's
// chown does; the host's own rule (set-id bits go unless the caller has
// CAP_FSETID) only takes more.
func (b *base) Chown(uid, gid uint32) error {
	if b.fs.opts.ReadOnly {
		return unix.EROFS
	}
	if !b.fs.opts.GuestIDs {
		return unix.EPERM
	}
	return b.fs.withFd(b.rel, unix.O_PATH, func(fd int) error {
		return unix.Fchownat(fd, "", hostID(uid), hostID(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	})
}

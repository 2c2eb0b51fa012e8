package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"
)

// Flags the VFS consumes while opening; they are not passed to
// OpenableNode.Open.
const openOnlyFlags = unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_DIRECTORY |
	unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_PATH

// Flags that F_GETFL does not report (as in Linux, which drops them from
// f_flags after open; O_CLOEXEC is a descriptor flag, not a file flag).
const notStatusFlags = unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_CLOEXEC

// stat stats n, converting errors.
func stat(n Node) (Stat, error) {
	st, err := n.Stat()
	return st, toErrno(err)
}

// Open opens path. It implements O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY,
// O_NOFOLLOW, O_APPEND and O_PATH, and checks access (EACCES), read-only
// mounts (EROFS) and directories opened for writing (EISDIR). mode is used
// only when a file is created; the caller has already applied the umask.
func (v *VFS) Open(path string, flags int, mode uint32) (*File, error) {
	return v.OpenContext(context.Background(), path, flags, mode)
}

// OpenContext is Open for the caller ctx (see ContextSymlink).
func (v *VFS) OpenContext(ctx context.Context, path string, flags int, mode uint32) (*File, error) {
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		return nil, unix.EOPNOTSUPP
	}
	if flags&unix.O_PATH != 0 {
		// Linux ignores every other flag on an O_PATH open.
		flags &= unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	} else {
		if flags&unix.O_ACCMODE == unix.O_ACCMODE {
			return nil, unix.EINVAL
		}
		if flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
			return nil, unix.EINVAL // as Linux >= 6.4
		}
	}
	creat := flags&unix.O_CREAT != 0
	excl := creat && flags&unix.O_EXCL != 0
	o := walkOpts{
		// O_EXCL never follows: a symlink in the way is an existing file.
		follow: flags&unix.O_NOFOLLOW == 0 && !excl,
		parent: creat,
		mutate: creat, // O_CREAT applies its own trailing-slash rule
		cred:   &v.cred,
		ctx:    ctx,
	}
	// A concurrent creator can win the race between our lookup and Create;
	// without O_EXCL that is not an error, so look again.
	for attempt := 0; ; attempt++ {
		res, err := v.walk(path, o)
		if err != nil {
			return nil, err
		}
		if creat && res.slash {
			return nil, unix.EISDIR // as Linux, whether or not it exists
		}
		if res.node != nil {
			if excl {
				return nil, unix.EEXIST
			}
			return v.openNode(res, flags, false)
		}
		if err := v.mayCreate(res.parent); err != nil {
			return nil, err
		}
		n, err := res.parent.dir.Create(res.name, mode&0o7777)
		if ErrnoOf(err) == unix.EEXIST && !excl && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, toErrno(err)
		}
		res.node, res.mnt = n, res.parent.mnt
		return v.openNode(res, flags, true)
	}
}

// mayCreate checks that a new entry may be added to (or removed from) dir.
func (v *VFS) mayCreate(dir frame) error {
	if dir.mnt.readOnly() {
		return unix.EROFS
	}
	return v.cred.checkNode(dir.dir, mayWrite|mayExec)
}

// openNode opens the resolved node. created is set when Open just created
// it: like Linux, the new file's own mode is not checked for this open.
func (v *VFS) openNode(res *walkResult, flags int, created bool) (*File, error) {
	n := res.node
	st, err := stat(n)
	if err != nil {
		return nil, err
	}
	isDir := st.IsDir()
	if flags&unix.O_DIRECTORY != 0 && !isDir {
		return nil, unix.ENOTDIR
	}
	f := newFile(n, res.path, v, flags)
	if isDir {
		f.parentIno = res.parent.inoOf()
	}
	if flags&unix.O_PATH != 0 {
		return f, nil // no access check: O_PATH only names the file
	}
	if st.IsSymlink() {
		return nil, unix.ELOOP // O_NOFOLLOW on a symlink
	}
	if flags&unix.O_CREAT != 0 && isDir {
		return nil, unix.EISDIR
	}
	acc := flags & unix.O_ACCMODE
	write := acc != unix.O_RDONLY
	// O_TRUNC only means something for regular files; Linux ignores it on
	// devices and FIFOs, but it needs write access even with O_RDONLY.
	trunc := flags&unix.O_TRUNC != 0 && st.IsRegular() && !created
	if isDir && write {
		return nil, unix.EISDIR
	}
	if !created {
		if (write || trunc) && res.mnt.readOnly() && !roExempt(&st) {
			return nil, unix.EROFS
		}
		var want uint32
		if acc != unix.O_WRONLY {
			want |= mayRead
		}
		if write || trunc {
			want |= mayWrite
		}
		if err := v.cred.check(&st, want); err != nil {
			return nil, err
		}
	}
	if isDir {
		return f, nil
	}
	on, ok := n.(OpenableNode)
	if !ok {
		return nil, unix.ENXIO // sockets, FIFOs and the like
	}
	if trunc && !write {
		// O_RDONLY|O_TRUNC: truncate through a short-lived write handle so
		// the returned file stays read-only.
		if err := truncateNode(on, 0); err != nil {
			return nil, err
		}
		trunc = false
	}
	ops, err := on.Open(flags &^ openOnlyFlags)
	if err != nil {
		return nil, toErrno(err)
	}
	if trunc {
		if err := ops.Truncate(0); err != nil {
			ops.Close()
			return nil, toErrno(err)
		}
	}
	f.ops = ops
	f.stream = isStream(n, ops)
	return f, nil
}

func (fr frame) inoOf() uint64 {
	st, err := fr.dir.Stat()
	if err != nil {
		return 0
	}
	return st.Ino
}

func isStream(n Node, ops FileOps) bool {
	if s, ok := ops.(Streamer); ok && s.IsStream() {
		return true
	}
	s, ok := n.(Streamer)
	return ok && s.IsStream()
}

func truncateNode(on OpenableNode, size int64) error {
	ops, err := on.Open(unix.O_WRONLY)
	if err != nil {
		return toErrno(err)
	}
	err = ops.Truncate(size)
	if cerr := ops.Close(); err == nil {
		err = cerr
	}
	return toErrno(err)
}

// Stat returns the metadata of path; follow selects stat vs lstat.
func (v *VFS) Stat(path string, follow bool) (Stat, error) {
	return v.StatContext(context.Background(), path, follow)
}

// StatContext is Stat for the caller ctx (see ContextSymlink).
func (v *VFS) StatContext(ctx context.Context, path string, follow bool) (Stat, error) {
	res, err := v.walk(path, walkOpts{ctx: ctx, follow: follow, cred: &v.cred})
	if err != nil {
		return Stat{}, err
	}
	return stat(res.node)
}

// Readlink returns the target of the symlink at path (EINVAL if it is not
// a symlink).
func (v *VFS) Readlink(path string) (string, error) {
	return v.ReadlinkContext(context.Background(), path)
}

// ReadlinkContext is Readlink for the caller ctx (see ContextSymlink).
func (v *VFS) ReadlinkContext(ctx context.Context, path string) (string, error) {
	res, err := v.walk(path, walkOpts{ctx: ctx, cred: &v.cred})
	if err != nil {
		return "", err
	}
	sl, ok := res.node.(SymlinkNode)
	if !ok {
		return "", unix.EINVAL
	}
	t, err := readlink(ctx, sl)
	return t, toErrno(err)
}

// mutateWalk resolves the parent of path for an operation on its final
// name, which is never followed.
func (v *VFS) mutateWalk(path string) (*walkResult, error) {
	return v.walk(path, walkOpts{parent: true, mutate: true, cred: &v.cred})
}

// Mkdir creates a directory. mode is masked to 01777 as in Linux.
func (v *VFS) Mkdir(path string, mode uint32) error {
	res, err := v.mutateWalk(path)
	if err != nil {
		return err
	}
	if res.node != nil {
		return unix.EEXIST // also "/", "." and ".."
	}
	if err := v.mayCreate(res.parent); err != nil {
		return err
	}
	return toErrno(res.parent.dir.Mkdir(res.name, mode&0o1777))
}

// Symlink creates linkPath pointing at target (stored verbatim).
func (v *VFS) Symlink(target, linkPath string) error {
	if target == "" {
		return unix.ENOENT
	}
	if len(target) > PathMax {
		return unix.ENAMETOOLONG
	}
	res, err := v.mutateWalk(linkPath)
	if err != nil {
		return err
	}
	if res.node != nil {
		return unix.EEXIST
	}
	if res.slash {
		return unix.ENOENT
	}
	if err := v.mayCreate(res.parent); err != nil {
		return err
	}
	return toErrno(res.parent.dir.Symlink(target, res.name))
}

// Link creates newPath as a hard link to oldPath (linkat; follow is
// AT_SYMLINK_FOLLOW). As with Linux's protected_hardlinks, the caller must
// own the source or be able to read and write it.
func (v *VFS) Link(oldPath, newPath string, follow bool) error {
	src, err := v.walk(oldPath, walkOpts{follow: follow, cred: &v.cred})
	if err != nil {
		return err
	}
	dst, err := v.mutateWalk(newPath)
	if err != nil {
		return err
	}
	if dst.node != nil {
		return unix.EEXIST
	}
	if dst.slash {
		return unix.ENOENT
	}
	if src.mnt != dst.parent.mnt {
		return unix.EXDEV
	}
	if err := v.mayCreate(dst.parent); err != nil {
		return err
	}
	st, err := stat(src.node)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return unix.EPERM
	}
	if !v.cred.owns(&st) && !(st.IsRegular() && v.cred.permitted(&st, mayRead|mayWrite)) {
		return unix.EPERM
	}
	l, ok := dst.parent.dir.(Linker)
	if !ok {
		return unix.EPERM
	}
	return toErrno(l.Link(src.node, dst.name))
}

// mayDelete checks that res (an existing, named entry) may be removed from
// its parent: read-only mount, mount point, search/write permission on the
// parent and the sticky-directory rule.
func (v *VFS) mayDelete(res *walkResult, st *Stat) error {
	pst, err := stat(res.parent.dir)
	if err != nil {
		return err
	}
	if err := v.cred.check(&pst, mayWrite|mayExec); err != nil {
		return err
	}
	if err := v.cred.checkSticky(&pst, st); err != nil {
		return err
	}
	if v.isMountPoint(res.path) {
		return unix.EBUSY
	}
	return nil
}

// Unlink removes a non-directory.
func (v *VFS) Unlink(path string) error {
	res, err := v.mutateWalk(path)
	if err != nil {
		return err
	}
	if res.name == "" {
		return unix.EISDIR
	}
	if res.parent.mnt.readOnly() {
		return unix.EROFS
	}
	if res.node == nil {
		return unix.ENOENT
	}
	st, err := stat(res.node)
	if err != nil {
		return err
	}
	if res.slash && !st.IsDir() {
		return unix.ENOTDIR
	}
	if err := v.mayDelete(res, &st); err != nil {
		return err
	}
	if st.IsDir() {
		return unix.EISDIR
	}
	return toErrno(res.parent.dir.Unlink(res.name))
}

// Rmdir removes an empty directory.
func (v *VFS) Rmdir(path string) error {
	res, err := v.mutateWalk(path)
	if err != nil {
		return err
	}
	if res.name == "" {
		switch {
		case res.path == "/":
			return unix.EBUSY
		case strings.HasSuffix(strings.TrimRight(path, "/"), ".."):
			return unix.ENOTEMPTY
		}
		return unix.EINVAL // "."
	}
	if res.parent.mnt.readOnly() {
		return unix.EROFS
	}
	if res.node == nil {
		return unix.ENOENT
	}
	st, err := stat(res.node)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return unix.ENOTDIR
	}
	if err := v.mayDelete(res, &st); err != nil {
		return err
	}
	return toErrno(res.parent.dir.Rmdir(res.name))
}

// Rename renames oldPath to newPath, replacing newPath if allowed.
func (v *VFS) Rename(oldPath, newPath string) error {
	src, err := v.mutateWalk(oldPath)
	if err != nil {
		return err
	}
	dst, err := v.mutateWalk(newPath)
	if err != nil {
		return err
	}
	if src.parent.mnt != dst.parent.mnt {
		return unix.EXDEV
	}
	if src.name == "" || dst.name == "" {
		return unix.EBUSY
	}
	if src.parent.mnt.readOnly() {
		return unix.EROFS
	}
	if src.node == nil {
		return unix.ENOENT
	}
	sst, err := stat(src.node)
	if err != nil {
		return err
	}
	if !sst.IsDir() && (src.slash || dst.slash) {
		return unix.ENOTDIR
	}
	if sst.IsDir() && strings.HasPrefix(dst.path+"/", src.path+"/") && dst.path != src.path {
		return unix.EINVAL // into its own subtree
	}
	if dst.node != nil {
		dstSt, err := stat(dst.node)
		if err != nil {
			return err
		}
		if dstSt.Dev == sst.Dev && dstSt.Ino == sst.Ino {
			return nil // same file: rename(2) does nothing
		}
		if strings.HasPrefix(src.path+"/", dst.path+"/") {
			return unix.ENOTEMPTY // target is an ancestor of the source
		}
		if err := v.mayDelete(dst, &dstSt); err != nil {
			return err
		}
		switch {
		case sst.IsDir() && !dstSt.IsDir():
			return unix.ENOTDIR
		case !sst.IsDir() && dstSt.IsDir():
			return unix.EISDIR
		}
	} else if err := v.cred.checkNode(dst.parent.dir, mayWrite|mayExec); err != nil {
		return err
	}
	if err := v.mayDelete(src, &sst); err != nil {
		return err
	}
	if sst.IsDir() && src.parent.path != dst.parent.path {
		// Moving a directory rewrites its ".." entry.
		if err := v.cred.check(&sst, mayWrite); err != nil {
			return err
		}
	}
	return toErrno(src.parent.dir.Rename(src.name, dst.parent.dir, dst.name))
}

// Access implements access(2)/faccessat(2) for mode F_OK or a combination
// of R_OK, W_OK and X_OK.
func (v *VFS) Access(path string, mode uint32, follow bool) error {
	return v.AccessContext(context.Background(), path, mode, follow)
}

// AccessContext is Access for the caller ctx (see ContextSymlink).
func (v *VFS) AccessContext(ctx context.Context, path string, mode uint32, follow bool) error {
	if mode&^uint32(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return unix.EINVAL
	}
	res, err := v.walk(path, walkOpts{ctx: ctx, follow: follow, cred: &v.cred})
	if err != nil {
		return err
	}
	if mode == unix.F_OK {
		return nil
	}
	st, err := stat(res.node)
	if err != nil {
		return err
	}
	if mode&unix.W_OK != 0 && res.mnt.readOnly() && !roExempt(&st) {
		return unix.EROFS
	}
	return v.cred.check(&st, mode)
}

// setAttrTarget resolves path for chmod/utimes and checks the mount.
func (v *VFS) setAttrTarget(path string, follow bool) (SetAttrer, Stat, error) {
	res, err := v.walk(path, walkOpts{follow: follow, cred: &v.cred})
	if err != nil {
		return nil, Stat{}, err
	}
	if res.mnt.readOnly() {
		return nil, Stat{}, unix.EROFS
	}
	st, err := stat(res.node)
	if err != nil {
		return nil, Stat{}, err
	}
	sa, ok := res.node.(SetAttrer)
	if !ok {
		return nil, st, unix.EPERM
	}
	return sa, st, nil
}

// Chmod changes the permission bits (07777) of path. Only the owner may do
// so (EPERM); like Linux, S_ISGID is dropped when the caller is not in the
// file's group.
func (v *VFS) Chmod(path string, mode uint32, follow bool) error {
	sa, st, err := v.setAttrTarget(path, follow)
	if err != nil {
		return err
	}
	if !v.cred.owns(&st) {
		return unix.EPERM
	}
	mode &= 0o7777
	if !v.cred.inGroup(st.Gid) {
		mode &^= unix.S_ISGID
	}
	return toErrno(sa.Chmod(mode))
}

// Utimes sets access and modification times; each may be UTIME_NOW or
// UTIME_OMIT. The owner may set any time; others with write permission may
// only set both to "now" (EACCES otherwise, EPERM for explicit times).
func (v *VFS) Utimes(path string, atime, mtime unix.Timespec, follow bool) error {
	for _, ts := range []unix.Timespec{atime, mtime} {
		if ts.Nsec != unix.UTIME_NOW && ts.Nsec != unix.UTIME_OMIT && (ts.Nsec < 0 || ts.Nsec >= 1e9) {
			return unix.EINVAL
		}
	}
	sa, st, err := v.setAttrTarget(path, follow)
	if err != nil {
		return err
	}
	if atime.Nsec == unix.UTIME_OMIT && mtime.Nsec == unix.UTIME_OMIT {
		return nil
	}
	if !v.cred.owns(&st) {
		if atime.Nsec != unix.UTIME_NOW || mtime.Nsec != unix.UTIME_NOW {
			return unix.EPERM
		}
		if err := v.cred.check(&st, mayWrite); err != nil {
			return err
		}
	}
	return toErrno(sa.Utimes(atime, mtime))
}

// Truncate sets the size of the regular file at path.
func (v *VFS) Truncate(path string, size int64) error { return v.TruncateCheck(path, size, nil) }

// TruncateCheck is Truncate with a hook: once the file is found and may be
// written, grow (if not nil) is called with the current and the new size
// when the call would make the file larger, and its error fails the call.
// That is where the caller applies RLIMIT_FSIZE, after the permission
// checks, in the order Linux checks them.
func (v *VFS) TruncateCheck(path string, size int64, grow func(cur, size int64) error) error {
	if size < 0 {
		return unix.EINVAL
	}
	res, err := v.walk(path, walkOpts{follow: true, cred: &v.cred})
	if err != nil {
		return err
	}
	st, err := stat(res.node)
	if err != nil {
		return err
	}
	switch {
	case st.IsDir():
		return unix.EISDIR
	case !st.IsRegular():
		return unix.EINVAL
	case res.mnt.readOnly():
		return unix.EROFS
	}
	if err := v.cred.check(&st, mayWrite); err != nil {
		return err
	}
	on, ok := res.node.(OpenableNode)
	if !ok {
		return unix.EINVAL
	}
	if grow != nil && size > st.Size {
		if err := grow(st.Size, size); err != nil {
			return err
		}
	}
	return truncateNode(on, size)
}

// Canonical resolves path to the canonical absolute path of a directory
// the guest may enter, as chdir(2) requires (ENOTDIR, EACCES, ...).
func (v *VFS) Canonical(path string) (string, error) {
	return v.CanonicalContext(context.Background(), path)
}

// CanonicalContext is Canonical for the caller ctx (see ContextSymlink).
func (v *VFS) CanonicalContext(ctx context.Context, path string) (string, error) {
	res, err := v.walk(path, walkOpts{ctx: ctx, follow: true, cred: &v.cred})
	if err != nil {
		return "", err
	}
	st, err := stat(res.node)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", unix.ENOTDIR
	}
	if err := v.cred.check(&st, mayExec); err != nil {
		return "", err
	}
	return res.path, nil
}

// Realpath resolves path (following all symlinks) to the canonical path of
// whatever it names, like realpath(3).
func (v *VFS) Realpath(path string) (string, error) {
	res, err := v.walk(path, walkOpts{follow: true, cred: &v.cred})
	if err != nil {
		return "", err
	}
	return res.path, nil
}

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

// Open opens the absolute path (see OpenAt).
func (v *VFS) Open(path string, flags int, mode uint32) (*File, error) {
	return v.OpenAt(Loc{}, path, flags, mode)
}

// OpenAt opens path, resolved from at. It implements O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY,
// O_NOFOLLOW, O_APPEND and O_PATH, and checks access (EACCES), read-only
// mounts (EROFS) and directories opened for writing (EISDIR). mode is used
// only when a file is created; the caller has already applied the umask.
func (v *VFS) OpenAt(at Loc, path string, flags int, mode uint32) (*File, error) {
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
		cred:   v.credOf(at),
	}
	d, st, created, anon, err := v.openDentry(at, path, flags, mode, o)
	if err != nil {
		return nil, err
	}
	if anon != nil {
		return v.reopenAnon(o.cred, anon, &st, flags)
	}
	f, err := v.openNode(o.cred, d, &st, flags, created, at)
	if err != nil {
		d.DecRef()
		return nil, err
	}
	return f, nil
}

// openDentry resolves (and with O_CREAT creates) what OpenAt opens and
// returns its dentry, referenced, with its metadata; or, for an FDLink to
// an anonymous file (a pipe), that file (anon) and no dentry.
func (v *VFS) openDentry(at Loc, path string, flags int, mode uint32, o walkOpts) (d *Dentry, st Stat, created bool, anon *File, err error) {
	creat := o.parent
	excl := creat && flags&unix.O_EXCL != 0
	v.ns.RLock()
	defer v.ns.RUnlock()
	// A concurrent creator can win the race between our lookup and Create;
	// without O_EXCL that is not an error, so look again.
	for attempt := 0; ; attempt++ {
		res, err := v.walk(at, path, o)
		if err != nil {
			return nil, Stat{}, false, nil, err
		}
		if creat && res.slash {
			return nil, Stat{}, false, nil, unix.EISDIR // as Linux, whether or not it exists
		}
		created = false
		if res.node != nil {
			if excl {
				return nil, Stat{}, false, nil, unix.EEXIST
			}
		} else {
			if err := v.mayCreate(o.cred, res.parent()); err != nil {
				return nil, Stat{}, false, nil, err
			}
			n, err := createIn(o.cred, res.parent().dir, res.name, mode&0o7777)
			if ErrnoOf(err) == unix.EEXIST && !excl && attempt < 3 {
				continue
			}
			if err != nil {
				return nil, Stat{}, false, nil, toErrno(err)
			}
			res.node, res.mnt, created = n, res.parent().mnt, true
			v.notifyCreated(res.parent(), res.name, false)
		}
		if res.file != nil && res.d == nil {
			st, err := res.file.Stat()
			if err != nil {
				return nil, Stat{}, false, nil, err
			}
			return nil, st, false, res.file, nil
		}
		st, err := stat(res.node)
		if err != nil {
			return nil, Stat{}, false, nil, err
		}
		d, err := v.materialize(res)
		if err != nil {
			return nil, Stat{}, false, nil, err
		}
		return d, st, created, nil, nil
	}
}

// mayCreate checks that c may add a new entry to (or remove one from) dir.
func (v *VFS) mayCreate(c *Cred, dir frame) error {
	if dir.mnt.readOnly() {
		return unix.EROFS
	}
	if dir.d != nil && dir.d.dead {
		return unix.ENOENT // as Linux in a removed directory
	}
	return checkNode(c, dir.dir, mayWrite|mayExec)
}

// openNode opens the resolved node, taking over the caller's reference
// to d on success. created is set when Open just created it: like Linux,
// the new file's own mode is not checked for this open.
func (v *VFS) openNode(c *Cred, d *Dentry, st *Stat, flags int, created bool, at Loc) (*File, error) {
	w := at.Wait
	n := d.Node()
	isDir := st.IsDir()
	if flags&unix.O_DIRECTORY != 0 && !isDir {
		return nil, unix.ENOTDIR
	}
	if flags&unix.O_PATH != 0 {
		return newFile(n, d, "", flags), nil // no access check: O_PATH only names the file
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
		if (write || trunc) && d.mnt.readOnly() && !roExempt(st) {
			return nil, unix.EROFS
		}
		var want uint32
		if acc != unix.O_WRONLY {
			want |= mayRead
		}
		if write || trunc {
			want |= mayWrite
		}
		if err := check(c, st, want); err != nil {
			return nil, err
		}
	}
	if isDir {
		f := newFile(n, d, "", flags)
		f.notify(unix.IN_OPEN)
		return f, nil
	}
	on, ok := n.(OpenableNode)
	if !ok {
		return nil, unix.ENXIO // sockets, FIFOs and the like
	}
	truncated := false // by a short-lived handle, below
	if trunc && !write {
		// O_RDONLY|O_TRUNC: truncate through a short-lived write handle so
		// the returned file stays read-only.
		if err := truncateNode(on, 0); err != nil {
			return nil, err
		}
		trunc = false
		truncated = true
	}
	var ops FileOps
	var err error
	if co, ok := n.(CallerOpener); ok {
		ops, err = co.OpenCaller(flags&^openOnlyFlags, c, at.Ctx)
	} else if bo, ok := n.(BlockingOpener); ok {
		ctx := context.Background()
		if w != nil {
			ctx = w.Interruptible()
		}
		ops, err = bo.OpenBlocking(flags&^openOnlyFlags, ctx)
	} else {
		ops, err = on.Open(flags &^ openOnlyFlags)
	}
	if err != nil {
		return nil, toErrno(err)
	}
	if trunc {
		if err := ops.Truncate(0); err != nil {
			ops.Close()
			return nil, toErrno(err)
		}
	}
	f := newFile(n, d, "", flags)
	f.ops = ops
	f.stream = isStream(n, ops)
	f.notify(unix.IN_OPEN)
	if trunc || truncated {
		f.notify(unix.IN_MODIFY) // after IN_OPEN, as Linux truncates after the open
	}
	return f, nil
}

// reopenAnon opens an anonymous file again, reached through its FDLink
// (/proc/self/fd/N naming a pipe): a new open file description of the
// same object, with the access checked against the object's mode as
// Linux's may_open does. Objects that cannot be reopened (sockets) are
// ENXIO.
func (v *VFS) reopenAnon(c *Cred, f *File, st *Stat, flags int) (*File, error) {
	if flags&unix.O_DIRECTORY != 0 {
		return nil, unix.ENOTDIR
	}
	if flags&unix.O_PATH != 0 {
		return newFile(f.node, nil, f.name, flags), nil
	}
	var want uint32
	if acc := flags & unix.O_ACCMODE; acc != unix.O_WRONLY {
		want |= mayRead
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		want |= mayWrite
	}
	if err := check(c, st, want); err != nil {
		return nil, err
	}
	ro, ok := f.ops.(Reopener)
	if !ok {
		return nil, unix.ENXIO
	}
	ops, err := ro.Reopen(flags &^ openOnlyFlags)
	if err != nil {
		return nil, toErrno(err)
	}
	nf := newFile(f.node, nil, f.name, flags)
	nf.ops, nf.stream, nf.tty = ops, isStream(f.node, ops), f.tty
	return nf, nil
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

// Stat returns the metadata of the absolute path; follow selects stat vs
// lstat.
func (v *VFS) Stat(path string, follow bool) (Stat, error) { return v.StatAt(Loc{}, path, follow) }

// StatAt returns the metadata of path resolved from at.
func (v *VFS) StatAt(at Loc, path string, follow bool) (Stat, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: follow, cred: v.credOf(at)})
	if err != nil {
		return Stat{}, err
	}
	return stat(res.node)
}

// Readlink returns the target of the symlink at the absolute path (EINVAL
// if it is not a symlink).
func (v *VFS) Readlink(path string) (string, error) { return v.ReadlinkAt(Loc{}, path) }

// ReadlinkAt is Readlink for a path resolved from at.
func (v *VFS) ReadlinkAt(at Loc, path string) (string, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{cred: v.credOf(at)})
	if err != nil {
		return "", err
	}
	sl, ok := res.node.(SymlinkNode)
	if !ok {
		return "", unix.EINVAL
	}
	t, err := readlink(at.Ctx, sl)
	return t, toErrno(err)
}

// mutateWalk resolves the parent of path for an operation on its final
// name, which is never followed. The caller holds ns; locked says it
// holds it for writing.
func (v *VFS) mutateWalk(at Loc, path string, locked bool) (*walkResult, error) {
	return v.walk(at, path, walkOpts{parent: true, mutate: true, cred: v.credOf(at), locked: locked})
}

// Mkdir creates a directory at the absolute path (see MkdirAt).
func (v *VFS) Mkdir(path string, mode uint32) error { return v.MkdirAt(Loc{}, path, mode) }

// MkdirAt creates a directory. mode is masked to 01777 as in Linux.
func (v *VFS) MkdirAt(at Loc, path string, mode uint32) error {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.mutateWalk(at, path, false)
	if err != nil {
		return err
	}
	if res.node != nil {
		return unix.EEXIST // also "/", "." and ".."
	}
	if err := v.mayCreate(res.cred, res.parent()); err != nil {
		return err
	}
	if err := mkdirIn(res.cred, res.parent().dir, res.name, mode&0o1777); err != nil {
		return toErrno(err)
	}
	v.notifyCreated(res.parent(), res.name, true)
	return nil
}

// Symlink creates the absolute linkPath pointing at target (see SymlinkAt).
func (v *VFS) Symlink(target, linkPath string) error { return v.SymlinkAt(target, Loc{}, linkPath) }

// SymlinkAt creates linkPath, resolved from at, pointing at target (stored
// verbatim).
func (v *VFS) SymlinkAt(target string, at Loc, linkPath string) error {
	if target == "" {
		return unix.ENOENT
	}
	if len(target) > PathMax {
		return unix.ENAMETOOLONG
	}
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.newEntry(at, linkPath)
	if err != nil {
		return err
	}
	if err := symlinkIn(res.cred, res.parent().dir, target, res.name); err != nil {
		return toErrno(err)
	}
	v.notifyCreated(res.parent(), res.name, false)
	return nil
}

// Link creates the absolute newPath as a hard link to oldPath (see LinkAt).
func (v *VFS) Link(oldPath, newPath string, follow bool) error {
	return v.LinkAt(Loc{}, oldPath, Loc{}, newPath, follow)
}

// LinkAt creates newPath as a hard link to oldPath (linkat; follow is
// AT_SYMLINK_FOLLOW). As with Linux's protected_hardlinks, the caller must
// own the source or be able to read and write it.
func (v *VFS) LinkAt(oldAt Loc, oldPath string, newAt Loc, newPath string, follow bool) error {
	v.ns.RLock()
	defer v.ns.RUnlock()
	src, err := v.walk(oldAt, oldPath, walkOpts{follow: follow, cred: v.credOf(oldAt)})
	if err != nil {
		return err
	}
	dst, err := v.mutateWalk(newAt, newPath, false)
	if err != nil {
		return err
	}
	if dst.node != nil {
		return unix.EEXIST
	}
	if dst.slash {
		return unix.ENOENT
	}
	if src.mnt != dst.parent().mnt {
		return unix.EXDEV
	}
	if err := v.mayCreate(dst.cred, dst.parent()); err != nil {
		return err
	}
	st, err := stat(src.node)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return unix.EPERM
	}
	if !owns(src.cred, &st) && !(st.IsRegular() && permitted(src.cred, &st, mayRead|mayWrite)) {
		return unix.EPERM
	}
	l, ok := dst.parent().dir.(Linker)
	if !ok {
		return unix.EPERM
	}
	if err := l.Link(src.node, dst.name); err != nil {
		return toErrno(err)
	}
	if v.watching() {
		v.deliver(KeyOf(&st), Event{Mask: unix.IN_ATTRIB}, false) // the link count
		v.notifyCreated(dst.parent(), dst.name, false)
	}
	return nil
}

// mayDelete checks that res (an existing, named entry) may be removed from
// its parent: mount point, search/write permission on the parent and the
// sticky-directory rule.
func (v *VFS) mayDelete(res *walkResult, st *Stat) error {
	pst, err := stat(res.parent().dir)
	if err != nil {
		return err
	}
	if err := check(res.cred, &pst, mayWrite|mayExec); err != nil {
		return err
	}
	if err := checkSticky(res.cred, &pst, st); err != nil {
		return err
	}
	if res.mountRoot {
		return unix.EBUSY
	}
	return nil
}

// removed records in the dentry tree that name left dir: its dentry, if
// any, is dead from now on (holders keep it; paths show " (deleted)"),
// and returned. The caller holds ns for writing.
func (v *VFS) removed(dir frame, name string) *Dentry {
	if dir.d == nil || dir.d.dropped {
		return nil
	}
	v.dmu.Lock()
	defer v.dmu.Unlock()
	c := dir.d.children[name]
	if c != nil {
		delete(dir.d.children, name)
		c.dead = true
	}
	return c
}

// Unlink removes the non-directory at the absolute path (see UnlinkAt).
func (v *VFS) Unlink(path string) error { return v.UnlinkAt(Loc{}, path) }

// UnlinkAt removes a non-directory.
func (v *VFS) UnlinkAt(at Loc, path string) error {
	v.ns.Lock()
	defer v.ns.Unlock()
	res, err := v.mutateWalk(at, path, true)
	if err != nil {
		return err
	}
	if res.name == "" {
		return unix.EISDIR
	}
	if res.parent().mnt.readOnly() {
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
	if err := res.parent().dir.Unlink(res.name); err != nil {
		return toErrno(err)
	}
	held := v.removed(res.parent(), res.name)
	v.notifyRemoved(res.parent(), res.name, &st, held)
	return nil
}

// Rmdir removes the empty directory at the absolute path (see RmdirAt).
func (v *VFS) Rmdir(path string) error { return v.RmdirAt(Loc{}, path) }

// RmdirAt removes an empty directory.
func (v *VFS) RmdirAt(at Loc, path string) error {
	v.ns.Lock()
	defer v.ns.Unlock()
	res, err := v.mutateWalk(at, path, true)
	if err != nil {
		return err
	}
	if res.name == "" {
		switch {
		case res.d == v.root:
			return unix.EBUSY
		case strings.HasSuffix(strings.TrimRight(path, "/"), ".."):
			return unix.ENOTEMPTY
		}
		return unix.EINVAL // "."
	}
	if res.parent().mnt.readOnly() {
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
	if err := res.parent().dir.Rmdir(res.name); err != nil {
		return toErrno(err)
	}
	held := v.removed(res.parent(), res.name)
	v.notifyRemoved(res.parent(), res.name, &st, held)
	return nil
}

// Rename renames the absolute oldPath to newPath (see RenameAt).
func (v *VFS) Rename(oldPath, newPath string) error {
	return v.RenameAt(Loc{}, oldPath, Loc{}, newPath, false)
}

// RenameAt renames oldPath to newPath, replacing newPath if allowed, or
// failing with EEXIST if it exists and noReplace is set
// (RENAME_NOREPLACE). The dentries follow: whatever held the old name's
// dentry (a cwd, an open directory, a mount below it) now sees the new
// path, and a replaced entry's dentry is dead.
func (v *VFS) RenameAt(oldAt Loc, oldPath string, newAt Loc, newPath string, noReplace bool) error {
	v.ns.Lock()
	defer v.ns.Unlock()
	src, err := v.mutateWalk(oldAt, oldPath, true)
	if err != nil {
		return err
	}
	dst, err := v.mutateWalk(newAt, newPath, true)
	if err != nil {
		return err
	}
	if src.parent().mnt != dst.parent().mnt {
		return unix.EXDEV
	}
	if src.name == "" || dst.name == "" {
		return unix.EBUSY
	}
	if src.parent().mnt.readOnly() {
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
	// Where the two names are in the tree decides EINVAL and ENOTEMPTY:
	// the dentries of both parents say it exactly, across symlinks, ".."
	// and mounts.
	sp, err := v.parentDentry(src)
	if err != nil {
		return err
	}
	defer sp.DecRef()
	dp, err := v.parentDentry(dst)
	if err != nil {
		return err
	}
	defer dp.DecRef()
	if sst.IsDir() && under(dp, sp, src.name) {
		return unix.EINVAL // into its own subtree
	}
	var dstSt *Stat // what the new name named, if anything
	if dst.node != nil {
		if noReplace {
			return unix.EEXIST
		}
		st, err := stat(dst.node)
		if err != nil {
			return err
		}
		dstSt = &st
		if dstSt.Dev == sst.Dev && dstSt.Ino == sst.Ino {
			return nil // same file: rename(2) does nothing
		}
		if under(sp, dp, dst.name) {
			return unix.ENOTEMPTY // target is an ancestor of the source
		}
		if err := v.mayDelete(dst, dstSt); err != nil {
			return err
		}
		switch {
		case sst.IsDir() && !dstSt.IsDir():
			return unix.ENOTDIR
		case !sst.IsDir() && dstSt.IsDir():
			return unix.EISDIR
		}
	} else if err := checkNode(dst.cred, dst.parent().dir, mayWrite|mayExec); err != nil {
		return err
	}
	if err := v.mayDelete(src, &sst); err != nil {
		return err
	}
	if sst.IsDir() && sp != dp {
		// Moving a directory rewrites its ".." entry.
		if err := check(src.cred, &sst, mayWrite); err != nil {
			return err
		}
	}
	if err := src.parent().dir.Rename(src.name, dst.parent().dir, dst.name); err != nil {
		return toErrno(err)
	}
	replaced := v.moved(sp, src.name, dp, dst.parent().dir, dst.name)
	v.notifyMoved(src.parent(), src.name, dst.parent(), dst.name, &sst, dstSt, replaced)
	return nil
}

// under reports whether d is the entry name of dir, or below it. The
// caller holds ns.
func under(d, dir *Dentry, name string) bool {
	for c := d; c != nil; c = c.parent {
		if c.parent == dir && c.name == name {
			return true
		}
	}
	return false
}

// moved records a rename in the dentry tree: oldName of op is now name in
// dir (whose dentry is p), and whatever had that name is dead. The caller
// holds ns for writing and references on op and p. It returns the
// replaced entry's dentry, if something holds it.
func (v *VFS) moved(op *Dentry, oldName string, p *Dentry, dir DirNode, name string) (replaced *Dentry) {
	v.dmu.Lock()
	if c := p.children[name]; c != nil {
		delete(p.children, name)
		c.dead = true
		replaced = c
	}
	d := op.children[oldName]
	if d == nil {
		v.dmu.Unlock()
		return replaced // nothing holds the moved entry
	}
	delete(op.children, oldName)
	if p.children == nil {
		p.children = map[string]*Dentry{}
	}
	p.children[name] = d
	p.refs.Add(1)
	d.parent, d.name = p, name
	op.refs.Add(-1) // d's, moved to p; the caller still holds op
	v.dmu.Unlock()
	// A file system whose nodes are names (hostfs) answers with new nodes
	// for the moved entry and whatever is cached below it.
	v.refresh(d, dir, name)
	return replaced
}

// refresh looks d up again as name in dir and, when the file system
// answers with another node (its nodes are names, not objects), gives d
// and the cached dentries below it their new nodes. The caller holds ns
// for writing.
func (v *VFS) refresh(d *Dentry, dir DirNode, name string) {
	n, err := dir.Lookup(name)
	if err != nil || n == nil || n == d.Node() {
		return
	}
	d.setNode(n)
	sub, ok := n.(DirNode)
	if !ok {
		return
	}
	v.dmu.Lock()
	kids := make(map[string]*Dentry, len(d.children))
	for cn, c := range d.children {
		if c.mounted == nil { // a mount's nodes are its own file system's
			kids[cn] = c
		}
	}
	v.dmu.Unlock()
	for cn, c := range kids {
		v.refresh(c, sub, cn)
	}
}

// Access implements access(2) for the absolute path (see AccessAt).
func (v *VFS) Access(path string, mode uint32, follow bool) error {
	return v.AccessAt(Loc{}, path, mode, follow)
}

// AccessAt implements faccessat(2) for mode F_OK or a combination of R_OK,
// W_OK and X_OK.
func (v *VFS) AccessAt(at Loc, path string, mode uint32, follow bool) error {
	if mode&^uint32(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return unix.EINVAL
	}
	return v.onNode(at, path, follow, 0, func(c *Cred, n Node, m *mount) error { return access(c, n, m, mode) })
}

// onNode resolves path from at and applies fn to the caller's credentials,
// the node and its mount; when fn succeeds, event (if not 0) is reported
// to the node's watchers and its directory's.
func (v *VFS) onNode(at Loc, path string, follow bool, event uint32, fn func(c *Cred, n Node, m *mount) error) error {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: follow, cred: v.credOf(at)})
	if err != nil {
		return err
	}
	if err := fn(res.cred, res.node, res.mnt); err != nil {
		return err
	}
	if event != 0 && v.watching() {
		v.notifyWalked(res, event)
	}
	return nil
}

// AccessDentry is AccessAt for what d names, for c (execve checks X_OK on
// the file it opened, not on a path that may name another file by then).
func (v *VFS) AccessDentry(c *Cred, d *Dentry, mode uint32) error {
	if mode&^uint32(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return unix.EINVAL
	}
	return access(c, d.Node(), d.mnt, mode)
}

func access(c *Cred, n Node, m *mount, mode uint32) error {
	if mode == unix.F_OK {
		return nil
	}
	if n == nil {
		return unix.ENOENT
	}
	st, err := stat(n)
	if err != nil {
		return err
	}
	if mode&unix.W_OK != 0 && m.readOnly() && !roExempt(&st) {
		return unix.EROFS
	}
	return check(c, &st, mode)
}

// setAttrTarget checks that n on m may have its attributes changed.
func setAttrTarget(n Node, m *mount) (SetAttrer, Stat, error) {
	if m.readOnly() {
		return nil, Stat{}, unix.EROFS
	}
	if n == nil {
		return nil, Stat{}, unix.ENOENT
	}
	st, err := stat(n)
	if err != nil {
		return nil, Stat{}, err
	}
	sa, ok := n.(SetAttrer)
	if !ok {
		return nil, st, unix.EPERM
	}
	return sa, st, nil
}

// Chmod changes the permission bits of the absolute path (see ChmodAt).
func (v *VFS) Chmod(path string, mode uint32, follow bool) error {
	return v.ChmodAt(Loc{}, path, mode, follow)
}

// ChmodAt changes the permission bits (07777) of path. Only the owner (or
// CAP_FOWNER) may do so (EPERM); like Linux, S_ISGID is dropped when the
// caller is not in the file's group and lacks CAP_FSETID.
func (v *VFS) ChmodAt(at Loc, path string, mode uint32, follow bool) error {
	return v.onNode(at, path, follow, unix.IN_ATTRIB, func(c *Cred, n Node, m *mount) error { return chmod(c, n, m, mode) })
}

// ChmodDentry is ChmodAt for the node d names, for c (fchmod).
func (v *VFS) ChmodDentry(c *Cred, d *Dentry, mode uint32) error {
	return v.dentryAttr(d, unix.IN_ATTRIB, chmod(c, d.Node(), d.mnt, mode))
}

func chmod(c *Cred, n Node, m *mount, mode uint32) error {
	sa, st, err := setAttrTarget(n, m)
	if err != nil {
		return err
	}
	if !owns(c, &st) {
		return unix.EPERM
	}
	mode &= 0o7777
	if !inGroupOrCapable(c, &st) {
		mode &^= unix.S_ISGID
	}
	return toErrno(sa.Chmod(mode))
}

// Utimes sets the times of the absolute path (see UtimesAt).
func (v *VFS) Utimes(path string, atime, mtime unix.Timespec, follow bool) error {
	return v.UtimesAt(Loc{}, path, atime, mtime, follow)
}

// UtimesAt sets access and modification times; each may be UTIME_NOW or
// UTIME_OMIT. The owner may set any time; others with write permission may
// only set both to "now" (EACCES otherwise, EPERM for explicit times).
func (v *VFS) UtimesAt(at Loc, path string, atime, mtime unix.Timespec, follow bool) error {
	if err := checkTimes(atime, mtime); err != nil {
		return err
	}
	return v.onNode(at, path, follow, timesEvent(atime, mtime), func(c *Cred, n Node, m *mount) error { return utimes(c, n, m, atime, mtime) })
}

// UtimesDentry is UtimesAt for the node d names, for c (futimens).
func (v *VFS) UtimesDentry(c *Cred, d *Dentry, atime, mtime unix.Timespec) error {
	if err := checkTimes(atime, mtime); err != nil {
		return err
	}
	return v.dentryAttr(d, timesEvent(atime, mtime), utimes(c, d.Node(), d.mnt, atime, mtime))
}

func checkTimes(atime, mtime unix.Timespec) error {
	for _, ts := range []unix.Timespec{atime, mtime} {
		if ts.Nsec != unix.UTIME_NOW && ts.Nsec != unix.UTIME_OMIT && (ts.Nsec < 0 || ts.Nsec >= 1e9) {
			return unix.EINVAL
		}
	}
	return nil
}

func utimes(c *Cred, n Node, m *mount, atime, mtime unix.Timespec) error {
	sa, st, err := setAttrTarget(n, m)
	if err != nil {
		return err
	}
	if atime.Nsec == unix.UTIME_OMIT && mtime.Nsec == unix.UTIME_OMIT {
		return nil
	}
	if !owns(c, &st) {
		if atime.Nsec != unix.UTIME_NOW || mtime.Nsec != unix.UTIME_NOW {
			return unix.EPERM
		}
		if err := check(c, &st, mayWrite); err != nil {
			return err
		}
	}
	return toErrno(sa.Utimes(atime, mtime))
}

// Truncate sets the size of the regular file at the absolute path.
func (v *VFS) Truncate(path string, size int64) error { return v.TruncateCheck(Loc{}, path, size, nil) }

// TruncateCheck is Truncate for a path resolved from at, with a hook: once
// the file is found and may be written, grow (if not nil) is called with
// the current and the new size when the call would make the file larger,
// and its error fails the call. That is where the caller applies
// RLIMIT_FSIZE, after the permission checks, in the order Linux checks
// them.
func (v *VFS) TruncateCheck(at Loc, path string, size int64, grow func(cur, size int64) error) error {
	if size < 0 {
		return unix.EINVAL
	}
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: true, cred: v.credOf(at)})
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
	if err := check(res.cred, &st, mayWrite); err != nil {
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
	if err := truncateNode(on, size); err != nil {
		return err
	}
	if v.watching() {
		v.notifyWalked(res, unix.IN_MODIFY)
	}
	return nil
}

// Canonical resolves the absolute path to the canonical path of a
// directory the guest may enter (see Chdir).
func (v *VFS) Canonical(path string) (string, error) {
	d, err := v.Chdir(Loc{}, path)
	if err != nil {
		return "", err
	}
	defer d.DecRef()
	return d.Path(), nil
}

// Chdir resolves path from at to a directory the guest may enter, as
// chdir(2) requires (ENOTDIR, EACCES, ...), and returns its dentry,
// referenced.
func (v *VFS) Chdir(at Loc, path string) (*Dentry, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: true, cred: v.credOf(at)})
	if err != nil {
		return nil, err
	}
	if err := mayChdir(res.cred, res.node); err != nil {
		return nil, err
	}
	return v.materialize(res)
}

// ChdirDentry checks that d is a directory c may enter (fchdir) and
// returns it referenced.
func (v *VFS) ChdirDentry(c *Cred, d *Dentry) (*Dentry, error) {
	if err := mayChdir(c, d.Node()); err != nil {
		return nil, err
	}
	if !d.TryIncRef() {
		return nil, unix.EBADF
	}
	return d, nil
}

func mayChdir(c *Cred, n Node) error {
	if n == nil {
		return unix.ENOENT
	}
	st, err := stat(n)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return unix.ENOTDIR
	}
	return check(c, &st, mayExec)
}

// Realpath resolves the absolute path (following all symlinks) to the
// canonical path of whatever it names, like realpath(3).
func (v *VFS) Realpath(path string) (string, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(Loc{}, path, walkOpts{follow: true, cred: v.cred})
	if err != nil {
		return "", err
	}
	d, err := v.materialize(res)
	if err != nil {
		return "", err
	}
	defer d.DecRef()
	return d.Path(), nil
}

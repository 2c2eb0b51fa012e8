package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"
)

// Loc is where a path walk starts: Dir is the directory relative paths are
// resolved from (a process's cwd, or a dirfd's dentry), Root the directory
// absolute paths and absolute symlinks start from and ".." never climbs
// above (a process's root). nil fields mean the VFS root, so the zero Loc
// resolves absolute paths only (a relative path is EINVAL then).
//
// Ctx is the caller the walk is made for, passed to symlinks whose target
// depends on who asks (ContextSymlink: /proc/self); nil means no caller.
//
// Wait, when set, gives the context an open that must wait (a FIFO) is
// interrupted by; without it such an open waits uninterruptibly.
//
// Cred is the caller's credentials, which every permission check of the
// call uses; nil means the VFS's own (SetCred). The caller keeps it alive:
// it is a pointer to immutable credentials, so no walk copies or locks.
type Loc struct {
	Root, Dir *Dentry
	Ctx       context.Context
	Wait      Waiter
	Cred      *Cred
}

// frame is one directory on the walk stack. The stack mirrors the guest
// path that was actually resolved, so ".." is answered by popping it, and
// below the bottom by the bottom dentry's parent: this is what makes ".."
// at a mount root go to the mount point's parent in the guest tree, and
// what guarantees that a file system is never asked to resolve ".."
// (hostfs relies on that for containment).
//
// A frame has a dentry when one exists already; otherwise (d == nil) it is
// the child name of the frame below, and materialize creates its dentry if
// the caller needs one. The bottom frame always has one.
type frame struct {
	d    *Dentry
	dir  DirNode
	mnt  *mount
	name string
}

// walkOpts selects how the final component is treated.
type walkOpts struct {
	// follow: follow a trailing symlink.
	follow bool
	// parent: the final component may be missing; the result then has a nil
	// node and the caller creates it in the result's parent.
	parent bool
	// mutate: the caller removes/renames/creates the final name itself. A
	// trailing slash then never forces following a symlink and never yields
	// ENOTDIR here; the caller applies the per-operation slash rules.
	mutate bool
	// cred: nil disables permission checks (mount setup by the host).
	cred *Cred
	// locked: the caller holds ns (for writing); otherwise walk expects the
	// caller to hold it for reading.
	locked bool
}

// walkResult describes the resolved final component.
type walkResult struct {
	buf   [8]frame
	stack []frame // the directories walked; the last is the parent
	name  string  // final component; "" when the path ended in "/", "." or ".."
	dname string  // the node's name in its parent (name, or the directory's for "/", "." and "..")
	node  Node    // nil when missing (only with walkOpts.parent)
	mnt   *mount  // mount the node belongs to
	d     *Dentry // the node's dentry, when one exists already
	// mountRoot: node is the root of a mount (reached through its mount
	// point, or the VFS root itself).
	mountRoot bool
	// file is the open file a trailing FDLink stood for (node is its node,
	// d its dentry when it has one).
	file  *File
	slash bool  // the path had a trailing slash
	cred  *Cred // whom the walk checked permissions for
}

// parent is the directory containing the node (for a path ending in "/",
// "." or "..", the directory below the node on the stack, or the node).
func (r *walkResult) parent() frame { return r.stack[len(r.stack)-1] }

// isDirNode reports whether n is a directory, by type assertion.
func isDirNode(n Node) bool {
	_, ok := n.(DirNode)
	return ok
}

// splitPath splits p into its non-empty components, checking NameMax.
func splitPath(p string) ([]string, error) {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, c := range parts {
		if c == "" {
			continue
		}
		if len(c) > NameMax {
			return nil, unix.ENAMETOOLONG
		}
		out = append(out, c)
	}
	return out, nil
}

// checkPath applies the checks every path argument goes through. A
// relative path needs a starting directory (rel).
func checkPath(p string, rel bool) error {
	switch {
	case p == "":
		return unix.ENOENT
	case len(p) > PathMax:
		return unix.ENAMETOOLONG
	case p[0] != '/' && !rel:
		// Without a starting directory a relative path would silently
		// resolve against "/".
		return unix.EINVAL
	case strings.IndexByte(p, 0) >= 0:
		return unix.EINVAL
	}
	return nil
}

// frameOf is the frame of an existing directory dentry.
func frameOf(d *Dentry) frame {
	dir, _ := d.Node().(DirNode)
	return frame{d: d, dir: dir, mnt: d.mnt}
}

// walk resolves p component by component from at. The caller holds ns
// (for reading, or for writing with o.locked).
func (v *VFS) walk(at Loc, p string, o walkOpts) (*walkResult, error) {
	if err := checkPath(p, at.Dir != nil); err != nil {
		return nil, err
	}
	comps, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	root := at.Root
	if root == nil {
		root = v.root
	}
	start := at.Dir
	if start == nil || p[0] == '/' {
		start = root
	}
	r := &walkResult{slash: len(comps) > 0 && strings.HasSuffix(p, "/"), cred: o.cred}
	r.stack = append(r.buf[:0], frameOf(start))
	if r.stack[0].dir == nil {
		return nil, unix.ENOTDIR
	}
	links := 0
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		final := len(comps) == 0
		cur := r.stack[len(r.stack)-1]
		if o.cred != nil {
			if err := checkNode(o.cred, cur.dir, mayExec); err != nil {
				return nil, err
			}
		}
		switch name {
		case ".":
			continue
		case "..":
			switch {
			case len(r.stack) > 1:
				r.stack = r.stack[:len(r.stack)-1]
			case cur.d != root && cur.d.parent != nil:
				r.stack[0] = frameOf(cur.d.parent)
			}
			continue
		}
		child, cd, mnt, err := v.lookupChild(cur, name)
		if err != nil {
			if err == unix.ENOENT && final && o.parent {
				r.name, r.dname = name, name
				return r, nil
			}
			return nil, err
		}
		if sl, ok := child.(SymlinkNode); ok && (!final || o.follow || (r.slash && !o.mutate)) {
			links++
			if links > MaxSymlinks {
				return nil, unix.ELOOP
			}
			if fl, ok := sl.(FDLink); ok {
				done, err := r.jump(fl, cur, name, final)
				if err != nil {
					return nil, err
				}
				if done {
					return r, nil
				}
				continue
			}
			target, err := readlink(at.Ctx, sl)
			if err != nil {
				return nil, toErrno(err)
			}
			if target == "" {
				return nil, unix.ENOENT
			}
			if len(target) > PathMax {
				return nil, unix.ENAMETOOLONG
			}
			tcomps, err := splitPath(target)
			if err != nil {
				return nil, err
			}
			if target[0] == '/' {
				r.stack = append(r.stack[:0], frameOf(root))
			}
			if final && strings.HasSuffix(target, "/") {
				r.slash = true // "link -> dir/" must resolve to a directory
			}
			comps = append(tcomps, comps...)
			continue
		}
		if final {
			if r.slash && !o.mutate && !isDirNode(child) {
				return nil, unix.ENOTDIR
			}
			r.name, r.dname, r.node, r.d, r.mnt = name, name, child, cd, mnt
			r.mountRoot = cd != nil && cd == mnt.root
			return r, nil
		}
		dir, ok := child.(DirNode)
		if !ok {
			return nil, unix.ENOTDIR
		}
		r.stack = append(r.stack, frame{d: cd, dir: dir, mnt: mnt, name: name})
	}
	// The path ended at a directory reached through "/", "." or "..".
	top := r.stack[len(r.stack)-1]
	r.node, r.d, r.mnt, r.dname = top.dir, top.d, top.mnt, top.name
	r.mountRoot = top.d != nil && top.d == top.mnt.root
	if len(r.stack) > 1 {
		r.stack = r.stack[:len(r.stack)-1]
	} else if top.d.parent != nil && top.d != root {
		r.stack[0] = frameOf(top.d.parent)
	}
	return r, nil
}

// jump follows an FDLink found as name in cur: to the open file's dentry,
// as Linux's nd_jump_link, or, for a file without one (a pipe), to the
// file itself, which only a final component can name. done reports that
// the walk ends here (final), with the result filled in.
func (r *walkResult) jump(fl FDLink, cur frame, name string, final bool) (done bool, err error) {
	f, err := fl.LinkedFile()
	if err != nil {
		return false, toErrno(err)
	}
	d := f.Dentry()
	if !final {
		if d == nil || !isDirNode(d.Node()) {
			return false, unix.ENOTDIR
		}
		r.stack = append(r.stack[:0], frameOf(d))
		return false, nil
	}
	r.name, r.dname, r.file = name, name, f
	if d == nil {
		if r.slash {
			return true, unix.ENOTDIR
		}
		r.node, r.mnt = f.Node(), cur.mnt
		return true, nil
	}
	n := d.Node()
	if n == nil {
		return true, unix.ENOENT
	}
	if r.slash && !isDirNode(n) {
		return true, unix.ENOTDIR
	}
	r.node, r.d, r.mnt = n, d, d.mnt
	r.mountRoot = d == d.mnt.root
	return true, nil
}

// lookupChild looks name up in cur. A mount on the child's dentry takes
// precedence over whatever the underlying file system has (or lacks)
// there. It also returns the child's dentry when one exists.
func (v *VFS) lookupChild(cur frame, name string) (Node, *Dentry, *mount, error) {
	var cd *Dentry
	if cur.d != nil {
		if cd = v.cachedChild(cur.d, name); cd != nil && cd.mounted != nil {
			m := cd.mounted
			return m.root.Node(), m.root, m, nil
		}
	}
	if err := ValidName(name); err != nil {
		return nil, nil, nil, err
	}
	if cur.d != nil && cur.d.dead {
		// A removed directory is empty, whatever a file system whose
		// nodes are names (hostfs) would find at its old path now.
		return nil, nil, nil, unix.ENOENT
	}
	n, err := cur.dir.Lookup(name)
	if err != nil {
		return nil, nil, nil, toErrno(err)
	}
	if n == nil {
		return nil, nil, nil, unix.ENOENT
	}
	if cd != nil && cd.Node() != n {
		// The file system answers with another node than the dentry
		// holds: its nodes are names (hostfs), or the entry changed
		// behind the VFS. The dentry names what is there now.
		cd.setNode(n)
	}
	return n, cd, cur.mnt, nil
}

// materialize returns a referenced dentry for the result's node, creating
// the dentries of the directories walked, and of the node, that do not
// exist yet. The caller holds ns.
func (v *VFS) materialize(r *walkResult) (*Dentry, error) {
	v.dmu.Lock()
	defer v.dmu.Unlock()
	if r.file != nil {
		// Reached through an FDLink: the open file's own dentry, while
		// the file still holds it (never a new one in the fd directory).
		if r.d == nil || r.d.dropped || !r.d.TryIncRef() {
			return nil, unix.ENOENT
		}
		return r.d, nil
	}
	if r.d != nil && !r.d.dropped {
		r.d.refs.Add(1)
		return r.d, nil
	}
	made, err := v.fillLocked(r.stack)
	if err != nil {
		return nil, err
	}
	d, err := v.childLocked(r.parent().d, r.dname, r.node, r.mnt)
	if made != nil {
		made.refs.Add(-1) // held by d now, or dropped with it on failure
		v.dropLocked(made)
	}
	if err != nil {
		return nil, err
	}
	r.d = d
	return d, nil
}

// parentDentry returns a referenced dentry for the result's parent
// directory. The caller holds ns.
func (v *VFS) parentDentry(r *walkResult) (*Dentry, error) {
	v.dmu.Lock()
	defer v.dmu.Unlock()
	made, err := v.fillLocked(r.stack)
	if err != nil {
		return nil, err
	}
	d := r.parent().d
	d.refs.Add(1)
	if made != nil {
		made.refs.Add(-1)
	}
	return d, nil
}

// fillLocked gives every frame of stack a live dentry, creating the
// missing ones (a frame's dentry may also have been dropped since the walk
// saw it unreferenced). It returns the deepest dentry it created, which
// still holds the reference it was created with, for the caller to drop
// once it has referenced what it needs; on failure nothing is left behind.
func (v *VFS) fillLocked(stack []frame) (made *Dentry, err error) {
	for i := 1; i < len(stack); i++ {
		f := &stack[i]
		if f.d != nil && !f.d.dropped {
			continue
		}
		d, err := v.childLocked(stack[i-1].d, f.name, f.dir, f.mnt)
		if err != nil {
			if made != nil {
				made.refs.Add(-1)
				v.dropLocked(made)
			}
			return nil, err
		}
		if made != nil {
			made.refs.Add(-1) // now held by d, its child
		}
		f.d, made = d, d
	}
	return made, nil
}

// Release drops the references a Loc handed out by a caller holds (nil
// fields are skipped).
func (l Loc) Release() {
	if l.Root != nil {
		l.Root.DecRef()
	}
	if l.Dir != nil {
		l.Dir.DecRef()
	}
}

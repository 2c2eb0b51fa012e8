package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"
)

// frame is one directory on the walk stack. The stack mirrors the guest
// path that was actually resolved, so ".." is answered by popping it: this
// is what makes ".." at a mount root go to the mount point's parent in the
// guest tree, and what guarantees that a file system is never asked to
// resolve ".." (hostfs relies on that for containment).
type frame struct {
	path string // canonical guest path of dir
	dir  DirNode
	mnt  *mount
}

// walkOpts selects how the final component is treated.
type walkOpts struct {
	// ctx is the caller's context, passed to symlinks that resolve per
	// caller (ContextSymlink: /proc/self); nil means no caller.
	ctx context.Context
	// follow: follow a trailing symlink.
	follow bool
	// parent: the final component may be missing; the result then has a nil
	// node and the caller creates it in result.parent.
	parent bool
	// mutate: the caller removes/renames/creates the final name itself. A
	// trailing slash then never forces following a symlink and never yields
	// ENOTDIR here; the caller applies the per-operation slash rules.
	mutate bool
	// cred: nil disables permission checks (mount setup by the host).
	cred *Cred
}

// walkResult describes the resolved final component.
type walkResult struct {
	parent frame  // directory containing the node (the root for "/")
	name   string // final component; "" when the path ended in "/", "." or ".."
	node   Node   // nil when missing (only with walkOpts.parent)
	mnt    *mount // mount the node belongs to
	path   string // canonical guest path of the node
	slash  bool   // the path had a trailing slash
}

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

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// checkPath applies the checks every path argument goes through.
func checkPath(p string) error {
	switch {
	case p == "":
		return unix.ENOENT
	case len(p) > PathMax:
		return unix.ENAMETOOLONG
	case p[0] != '/':
		// The caller must join the cwd or dirfd path first; accepting
		// relative paths here would silently resolve them against "/".
		return unix.EINVAL
	case strings.IndexByte(p, 0) >= 0:
		return unix.EINVAL
	}
	return nil
}

// walk resolves p component by component.
func (v *VFS) walk(p string, o walkOpts) (*walkResult, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	comps, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	slash := len(comps) > 0 && strings.HasSuffix(p, "/")
	stack := []frame{v.rootFrame()}
	links := 0
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		final := len(comps) == 0
		cur := stack[len(stack)-1]
		if o.cred != nil {
			if err := o.cred.checkNode(cur.dir, mayExec); err != nil {
				return nil, err
			}
		}
		switch name {
		case ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		child, mnt, err := v.lookupChild(cur, name)
		if err != nil {
			if err == unix.ENOENT && final && o.parent {
				return &walkResult{parent: cur, name: name, path: joinPath(cur.path, name), slash: slash}, nil
			}
			return nil, err
		}
		if sl, ok := child.(SymlinkNode); ok && (!final || o.follow || (slash && !o.mutate)) {
			links++
			if links > MaxSymlinks {
				return nil, unix.ELOOP
			}
			target, err := readlink(o.ctx, sl)
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
				stack = stack[:1]
			}
			if final && strings.HasSuffix(target, "/") {
				slash = true // "link -> dir/" must resolve to a directory
			}
			comps = append(tcomps, comps...)
			continue
		}
		path := joinPath(cur.path, name)
		if final {
			if slash && !o.mutate && !isDirNode(child) {
				return nil, unix.ENOTDIR
			}
			return &walkResult{parent: cur, name: name, node: child, mnt: mnt, path: path, slash: slash}, nil
		}
		dir, ok := child.(DirNode)
		if !ok {
			return nil, unix.ENOTDIR
		}
		stack = append(stack, frame{path: path, dir: dir, mnt: mnt})
	}
	// The path ended at a directory reached through "/", "." or "..".
	top := stack[len(stack)-1]
	parent := top
	if len(stack) > 1 {
		parent = stack[len(stack)-2]
	}
	return &walkResult{parent: parent, node: top.dir, mnt: top.mnt, path: top.path, slash: slash}, nil
}

// lookupChild looks name up in cur, giving mounts precedence over whatever
// the underlying file system has (or lacks) at that path.
func (v *VFS) lookupChild(cur frame, name string) (Node, *mount, error) {
	if m := v.mountAt(joinPath(cur.path, name)); m != nil {
		return m.root, m, nil
	}
	if err := ValidName(name); err != nil {
		return nil, nil, err
	}
	n, err := cur.dir.Lookup(name)
	if err != nil {
		return nil, nil, toErrno(err)
	}
	if n == nil {
		return nil, nil, unix.ENOENT
	}
	return n, cur.mnt, nil
}

package vfs

import (
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// DentryCost is what one dentry costs against the charge function (see
// SetCharge), plus the bytes of its name: the dentry, its slot in its
// parent's child map and the node it holds (TestDentryCostCoversHeap
// measures them).
const DentryCost = 320

// NodeCoster is implemented by file systems that keep an object of their
// own for each name the VFS holds a dentry of (the overlay's nodes): what
// one costs is charged with the dentry, on top of DentryCost.
type NodeCoster interface {
	NodeCost() int64
}

// Dentry names one node: a name within its parent dentry, on one mount.
// The dentries of one VFS form a tree that mirrors the guest's view of
// the file system; following parent pointers from any dentry leads to the
// VFS root, crossing mount points (the root of a mount has the mount
// point's parent and name). A dentry is what a working directory, an open
// file and a mount point hold on to, so that they follow renames of the
// directories above them instead of remembering a path.
//
// Dentries are reference counted. A dentry exists only while something
// holds it (an open File, a process's root or cwd, a mount, a walk in
// progress) or while one of its children exists: each child holds a
// reference on its parent. The last DecRef drops it from the tree, so the
// number of dentries is bounded by what the guest holds, and each one is
// charged to the VFS's charge function (the sandbox's memory budget).
//
// Locking: VFS.ns (the namespace lock) is held for reading by every path
// walk and for writing by every operation that removes or moves a name
// (unlink, rmdir, rename, mount); VFS.dmu guards the child maps and the
// drop of unreferenced dentries. parent, name and dead change only with
// both held for writing, so a walk (holding ns) or dmu alone reads them
// consistently.
type Dentry struct {
	refs atomic.Int64
	node atomic.Pointer[nodeRef]
	mnt  *mount
	vfs  *VFS

	parent *Dentry // nil for the VFS root
	name   string  // "" for the VFS root
	// dead: the name was removed (unlink, rmdir, replaced by a rename);
	// holders keep using the node, paths show " (deleted)".
	dead bool

	// Guarded by VFS.dmu.
	children map[string]*Dentry // cached children (only held ones exist)
	mounted  *mount             // the mount whose mount point this is
	dropped  bool               // removed from the tree (refs reached 0)
	charged  int64              // what creating it charged
	// gone: removed while held, its inode's IN_DELETE_SELF is due when
	// it is dropped (fsnotify.go).
	gone *goneKey
}

// nodeRef boxes a Node so that it can be swapped atomically (a node of a
// file system whose nodes are names, like hostfs, is replaced by a fresh
// lookup after a rename).
type nodeRef struct{ n Node }

func (d *Dentry) setNode(n Node) { d.node.Store(&nodeRef{n}) }

// Node returns the node the dentry names now (nil for the implicit mount
// point of a skeleton directory).
func (d *Dentry) Node() Node {
	if r := d.node.Load(); r != nil {
		return r.n
	}
	return nil
}

// Stat stats the node.
func (d *Dentry) Stat() (Stat, error) {
	n := d.Node()
	if n == nil {
		return Stat{}, unix.ENOENT
	}
	return stat(n)
}

// ReadOnly reports whether the dentry is on a read-only mount.
func (d *Dentry) ReadOnly() bool { return d.mnt.readOnly() }

// IncRef adds a reference; the caller must already hold one.
func (d *Dentry) IncRef() { d.refs.Add(1) }

// TryIncRef adds a reference unless the dentry is being dropped (its count
// reached zero): for callers that found it through something that may be
// releasing it concurrently (a descriptor being closed).
func (d *Dentry) TryIncRef() bool {
	for {
		n := d.refs.Load()
		if n <= 0 {
			return false
		}
		if d.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// DecRef drops a reference; the last one drops the dentry from the tree
// (and with it the reference it held on its parent).
func (d *Dentry) DecRef() {
	if d.refs.Add(-1) > 0 {
		return
	}
	v := d.vfs
	v.dmu.Lock()
	v.dropLocked(d)
	v.dmu.Unlock()
}

// dropLocked removes d, and then every ancestor it leaves unreferenced,
// from the tree. A dentry found again (and referenced) through its
// parent's map before dmu was taken is kept.
func (v *VFS) dropLocked(d *Dentry) {
	for d != nil && d.refs.Load() <= 0 && !d.dropped {
		d.dropped = true
		p := d.parent
		if p != nil && p.children[d.name] == d {
			delete(p.children, d.name)
			if len(p.children) == 0 {
				p.children = nil // a Go map never shrinks: let it go
			}
		}
		v.uncharge(d.charged)
		if d.gone != nil {
			v.droppedGone(d)
		}
		if p == nil || p.refs.Add(-1) > 0 {
			return
		}
		d = p
	}
}

// childLocked returns the cached child name of p, creating it for node n
// on mount m when there is none, and adds a reference to it. A cached
// child naming another node than the walk just found (the file system
// changed it behind the VFS, or its nodes are names) takes the new node.
func (v *VFS) childLocked(p *Dentry, name string, n Node, m *mount) (*Dentry, error) {
	if c := p.children[name]; c != nil {
		if n != nil && c.Node() != n {
			c.setNode(n)
		}
		c.refs.Add(1)
		return c, nil
	}
	var cost int64 // what is given back at the drop: nothing before SetCharge
	if v.charge != nil {
		cost = int64(DentryCost + len(name))
		if nc, ok := m.fs.(NodeCoster); ok {
			cost += nc.NodeCost()
		}
		if err := v.chargeFor(cost); err != nil {
			return nil, err
		}
	}
	c := &Dentry{mnt: m, vfs: v, parent: p, name: name, charged: cost}
	c.refs.Store(1)
	if n != nil {
		c.setNode(n)
	}
	if p.children == nil {
		p.children = map[string]*Dentry{}
	}
	p.children[name] = c
	p.refs.Add(1)
	return c, nil
}

// cachedChild returns p's cached child name, or nil. It takes no
// reference: the caller holds ns, so the child cannot move or vanish
// meanwhile (a drop only removes what nothing holds, and the walk takes
// what it keeps through childLocked).
func (v *VFS) cachedChild(p *Dentry, name string) *Dentry {
	v.dmu.Lock()
	c := p.children[name]
	v.dmu.Unlock()
	return c
}

// Path returns the dentry's canonical guest path from the VFS root.
func (d *Dentry) Path() string {
	p, _ := d.PathFrom(nil)
	return p
}

// Deleted reports whether the dentry's name was removed.
func (d *Dentry) Deleted() bool {
	d.vfs.dmu.Lock()
	defer d.vfs.dmu.Unlock()
	return d.dead
}

// PathFrom returns the dentry's path as seen from root (nil: the VFS
// root). reachable is false when root is not an ancestor of d; the path is
// then the one from the VFS root, like the path Linux's getcwd prefixes
// with "(unreachable)".
func (d *Dentry) PathFrom(root *Dentry) (path string, reachable bool) {
	v := d.vfs
	v.dmu.Lock()
	defer v.dmu.Unlock()
	return d.pathLocked(root)
}

func (d *Dentry) pathLocked(root *Dentry) (string, bool) {
	var names []string
	reachable := root == nil
	c := d
	for ; c.parent != nil && c != root; c = c.parent {
		names = append(names, c.name)
	}
	if c == root {
		reachable = true
	}
	if len(names) == 0 {
		return "/", true
	}
	var b strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(names[i])
	}
	return b.String(), reachable
}

// linkPath is the path /proc/<pid>/fd/N and /proc/<pid>/cwd show: the
// canonical path, with " (deleted)" once the name was removed.
func (d *Dentry) linkPath() string {
	v := d.vfs
	v.dmu.Lock()
	defer v.dmu.Unlock()
	p, _ := d.pathLocked(nil)
	if d.dead {
		p += " (deleted)"
	}
	return p
}

// LinkPath returns the path Linux's /proc/<pid>/cwd shows for a working
// directory: the canonical path, with " (deleted)" once it was removed.
func (d *Dentry) LinkPath() string { return d.linkPath() }

package vfs

import (
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// mount is one mounted file system. Mounts are attached to dentries: the
// mount point is a dentry of the parent mount (pinned by the mount), and
// the walk crosses into root when it reaches point. Renaming a directory
// above a mount point therefore carries the mount along, as on Linux.
type mount struct {
	fs    FileSystem
	root  *Dentry // fs.Root(); its parent and name are the mount point's
	point *Dentry // nil for the root mount
	// fsType and source, when set, are what the mount table shows
	// instead of fs.Name() (SetLabel); guarded by the VFS's ns.
	fsType, source string
}

func (m *mount) readOnly() bool { return m.fs.ReadOnly() }

// VFS is the guest's file-system namespace: the dentry tree with its
// mounts, and the path walk. It is safe for concurrent use.
type VFS struct {
	cred *Cred // of walks without a caller's (SetCred)

	// ns is the namespace lock: read by every walk, written by whatever
	// removes or moves names (see Dentry).
	ns   sync.RWMutex
	dmu  sync.Mutex
	root *Dentry
	// mounts lists every mount, in mount order; guarded by ns.
	mounts []*mount
	// charge takes (n > 0) or gives back (n < 0) bytes for dentries; nil
	// charges nothing. Set once, before the guest runs (SetCharge).
	charge func(n int64) error
	// notify holds the inotify/dnotify watches (fsnotify.go).
	notify notifier
}

// New returns a VFS with fs mounted at "/".
func New(root FileSystem) *VFS {
	v := &VFS{cred: GuestCred}
	m := &mount{fs: root}
	d := &Dentry{mnt: m, vfs: v}
	d.refs.Store(1) // the mount's, for ever
	d.setNode(root.Root())
	m.root = d
	v.root = d
	v.mounts = []*mount{m}
	return v
}

// SetCharge makes every dentry created from now on charged to charge
// (DentryCost plus its name length; n < 0 gives back), so that what the
// guest makes the VFS hold counts against the sandbox's memory budget.
// An error from charge fails the operation that needed the dentry (the
// kernel returns ENOMEM). Call it before the VFS is shared.
func (v *VFS) SetCharge(charge func(n int64) error) { v.charge = charge }

func (v *VFS) chargeFor(n int64) error {
	if v.charge == nil {
		return nil
	}
	if err := v.charge(n); err != nil {
		return unix.ENOMEM
	}
	return nil
}

func (v *VFS) uncharge(n int64) {
	if v.charge != nil && n > 0 {
		_ = v.charge(-n)
	}
}

// Root returns the root dentry of the namespace. It is held by the root
// mount for as long as the VFS exists; callers that keep it IncRef it like
// any other dentry.
func (v *VFS) Root() *Dentry { return v.root }

// Mount mounts fs at guestPath. The path is resolved like any other
// (symlinks are followed) and the mount is attached to the dentry it
// resolves to. The mount point must be an existing directory; when it, or
// any directory leading to it, is missing from a read-only parent file
// system, an implicit empty read-only directory is mounted there instead
// (the "mount skeleton"), so that e.g. /proc can be mounted over a
// read-only host root that lacks it. Mounting twice on the same point
// fails with EBUSY.
func (v *VFS) Mount(guestPath string, fs FileSystem) error {
	if err := checkPath(guestPath, false); err != nil {
		return err
	}
	comps, err := splitPath(guestPath)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		return unix.EBUSY // "/" is mounted by New
	}
	v.ns.Lock()
	defer v.ns.Unlock()
	cur := v.root
	cur.IncRef()
	defer func() { cur.DecRef() }()
	for i, c := range comps {
		last := i == len(comps)-1
		res, err := v.walk(Loc{Dir: cur}, c, walkOpts{follow: true, locked: true})
		switch {
		case err == nil:
			if !isDirNode(res.node) {
				return unix.ENOTDIR
			}
			if last && res.mountRoot {
				return unix.EBUSY
			}
			next, err := v.materialize(res)
			if err != nil {
				return err
			}
			cur.DecRef()
			cur = next
			continue
		case err != unix.ENOENT:
			return err
		}
		if !cur.mnt.readOnly() {
			return unix.ENOENT
		}
		// An implicit mount point: a dentry without a node, covered at
		// once (by fs itself when it is the last component).
		v.dmu.Lock()
		point, err := v.childLocked(cur, c, nil, cur.mnt)
		v.dmu.Unlock()
		if err != nil {
			return err
		}
		mfs := fs
		if !last {
			mfs = newSkeleton()
		}
		m := v.attach(point, mfs)
		cur.DecRef()
		cur = m.root
		cur.IncRef()
	}
	if cur.Node() == nil || cur.mnt.fs == fs {
		return nil // mounted on an implicit point above
	}
	point := cur
	point.IncRef() // the mount's; cur's own is dropped by the defer
	v.attach(point, fs)
	return nil
}

// attach mounts fs on point, taking over the caller's reference to point.
// The caller holds ns for writing.
func (v *VFS) attach(point *Dentry, fs FileSystem) *mount {
	m := &mount{fs: fs, point: point}
	r := &Dentry{mnt: m, vfs: v, parent: point.parent, name: point.name}
	r.refs.Store(1) // the mount's, for ever
	r.setNode(fs.Root())
	m.root = r
	v.dmu.Lock()
	point.parent.refs.Add(1) // r's, as any child holds its parent
	point.mounted = m
	v.dmu.Unlock()
	v.mounts = append(v.mounts, m)
	return m
}

// MountInfo describes one mount, for /proc/self/mounts and friends.
type MountInfo struct {
	Path string
	FS   FileSystem
	// Parent is the index in the same list of the mount Path is on, -1
	// for the root mount.
	Parent int
	// Type and Source are what the mount table shows for it: FS.Name()
	// for both unless SetLabel named them.
	Type, Source string
}

// Mounts lists the mounts in the order they were made (as Linux's mount
// table: a mount comes after the one it is on), with the paths their
// mount points have now. Implicit skeleton directories are included;
// their Name is "skeleton".
func (v *VFS) Mounts() []MountInfo {
	v.ns.RLock()
	defer v.ns.RUnlock()
	out := make([]MountInfo, 0, len(v.mounts))
	index := make(map[*mount]int, len(v.mounts))
	for i, m := range v.mounts {
		index[m] = i
		info := MountInfo{Path: "/", FS: m.fs, Parent: -1, Type: m.fs.Name(), Source: m.fs.Name()}
		if m.point != nil {
			info.Path = m.point.Path()
			if p, ok := index[m.point.mnt]; ok {
				info.Parent = p
			}
		}
		if m.fsType != "" {
			info.Type = m.fsType
		}
		if m.source != "" {
			info.Source = m.source
		}
		out = append(out, info)
	}
	return out
}

// SetLabel makes the mount table name the topmost mount at guestPath with
// type fsType and source (either may be empty: the file system's name).
// The sandbox uses it for a file system of its own mounted where a
// container's config asked for one of a kind it serves that way (an OCI
// config's tmpfs at /dev, its "shm" source for /dev/shm). ENOENT if no
// mount is there.
func (v *VFS) SetLabel(guestPath, fsType, source string) error {
	if err := checkPath(guestPath, false); err != nil {
		return err
	}
	comps, err := splitPath(guestPath)
	if err != nil {
		return err
	}
	want := "/" + strings.Join(comps, "/")
	v.ns.Lock()
	defer v.ns.Unlock()
	for i := len(v.mounts) - 1; i >= 0; i-- {
		m := v.mounts[i]
		p := "/"
		if m.point != nil {
			p = m.point.Path()
		}
		if p == want {
			m.fsType, m.source = fsType, source
			return nil
		}
	}
	return unix.ENOENT
}

// mountChildren returns the mounts whose mount points are children of d,
// by name. Getdents merges them in so that implicit mount points show up
// in listings.
func (v *VFS) mountChildren(d *Dentry) map[string]*mount {
	v.dmu.Lock()
	defer v.dmu.Unlock()
	var out map[string]*mount
	for name, c := range d.children {
		if c.mounted == nil {
			continue
		}
		if out == nil {
			out = make(map[string]*mount)
		}
		out[name] = c.mounted
	}
	return out
}

// skeleton is an implicit, empty, read-only directory standing in for a
// mount point (or a directory on the way to one) that the parent file
// system does not have. Its only visible children are mounts, which the
// walk and Getdents supply from the dentry tree.
type skeleton struct {
	st Stat
}

func newSkeleton() *skeleton {
	now := Now()
	return &skeleton{st: Stat{
		Dev: NewDev(), Ino: NewIno(), Nlink: 2,
		Mode: unix.S_IFDIR | 0o755, Blksize: 4096,
		Atime: now, Mtime: now, Ctime: now,
	}}
}

func (s *skeleton) Root() DirNode       { return s }
func (s *skeleton) ReadOnly() bool      { return true }
func (s *skeleton) Name() string        { return "skeleton" }
func (s *skeleton) Stat() (Stat, error) { return s.st, nil }

func (s *skeleton) Lookup(string) (Node, error)          { return nil, unix.ENOENT }
func (s *skeleton) ReadDir() ([]DirEntry, error)         { return nil, nil }
func (s *skeleton) Create(string, uint32) (Node, error)  { return nil, unix.EROFS }
func (s *skeleton) Mkdir(string, uint32) error           { return unix.EROFS }
func (s *skeleton) Unlink(string) error                  { return unix.EROFS }
func (s *skeleton) Rmdir(string) error                   { return unix.EROFS }
func (s *skeleton) Rename(string, DirNode, string) error { return unix.EROFS }
func (s *skeleton) Symlink(string, string) error         { return unix.EROFS }

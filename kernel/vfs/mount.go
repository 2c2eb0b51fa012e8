package vfs

import (
	"path"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// mount is one entry of the mount table.
type mount struct {
	path string // canonical guest path of the mount point
	fs   FileSystem
	root DirNode // fs.Root(), cached
}

func (m *mount) readOnly() bool { return m.fs.ReadOnly() }

// VFS is the guest's file-system namespace: a mount table keyed by
// canonical guest path plus the path walk. It is safe for concurrent use.
type VFS struct {
	cred Cred

	mu     sync.RWMutex
	mounts map[string]*mount
}

// New returns a VFS with fs mounted at "/".
func New(root FileSystem) *VFS {
	v := &VFS{cred: GuestCred, mounts: make(map[string]*mount)}
	v.mounts["/"] = &mount{path: "/", fs: root, root: root.Root()}
	return v
}

func (v *VFS) mountAt(p string) *mount {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.mounts[p]
}

func (v *VFS) rootFrame() frame {
	m := v.mountAt("/")
	return frame{path: "/", dir: m.root, mnt: m}
}

// isMountPoint reports whether p (canonical) has something mounted on it.
func (v *VFS) isMountPoint(p string) bool { return v.mountAt(p) != nil }

// mountChildren returns the mounts whose mount point is a direct child of
// the canonical directory path dir, keyed by name. Getdents merges them in
// so that implicit mount points show up in listings.
func (v *VFS) mountChildren(dir string) map[string]*mount {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out map[string]*mount
	for p, m := range v.mounts {
		if p == "/" || path.Dir(p) != dir {
			continue
		}
		if out == nil {
			out = make(map[string]*mount)
		}
		out[path.Base(p)] = m
	}
	return out
}

// Mount mounts fs at guestPath. The path is resolved like any other
// (symlinks are followed, the key is the canonical path). The mount point
// must be an existing directory; when it, or any directory leading to it,
// is missing from a read-only parent file system, an implicit empty
// read-only directory is put there instead (the "mount skeleton"), so that
// e.g. /proc can be mounted over a read-only host root that lacks it.
// Mounting twice on the same path fails with EBUSY.
func (v *VFS) Mount(guestPath string, fs FileSystem) error {
	if err := checkPath(guestPath); err != nil {
		return err
	}
	comps, err := splitPath(guestPath)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		return unix.EBUSY // "/" is mounted by New
	}
	cur := "/" // canonical path resolved so far
	for i, c := range comps {
		last := i == len(comps)-1
		res, err := v.walk(joinPath(cur, c), walkOpts{follow: true})
		switch {
		case err == nil:
			if !isDirNode(res.node) {
				return unix.ENOTDIR
			}
			cur = res.path
			continue
		case err != unix.ENOENT:
			return err
		}
		parent, err := v.walk(cur, walkOpts{follow: true})
		if err != nil {
			return err
		}
		if !parent.mnt.readOnly() {
			return unix.ENOENT
		}
		cur = joinPath(cur, c)
		if !last {
			if err := v.addMount(cur, newSkeleton()); err != nil && err != unix.EBUSY {
				return err
			}
		}
	}
	return v.addMount(cur, fs)
}

func (v *VFS) addMount(p string, fs FileSystem) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.mounts[p]; ok {
		return unix.EBUSY
	}
	v.mounts[p] = &mount{path: p, fs: fs, root: fs.Root()}
	return nil
}

// MountInfo describes one mount, for /proc/self/mounts and friends.
type MountInfo struct {
	Path string
	FS   FileSystem
}

// Mounts lists the mount table sorted by path (parents before children).
// Implicit skeleton directories are included; their Name is "skeleton".
func (v *VFS) Mounts() []MountInfo {
	v.mu.RLock()
	out := make([]MountInfo, 0, len(v.mounts))
	for p, m := range v.mounts {
		out = append(out, MountInfo{Path: p, FS: m.fs})
	}
	v.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// skeleton is an implicit, empty, read-only directory standing in for a
// mount point (or a directory on the way to one) that the parent file
// system does not have. Its only visible children are mounts, which the
// walk and Getdents supply from the mount table.
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

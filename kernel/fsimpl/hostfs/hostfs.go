// Package hostfs exposes a host directory to the guest, read-only or
// read-write.
//
// Containment is the point of this package. The host directory is opened
// once as an O_PATH directory fd, and every later host access is made
// relative to that fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS). The host kernel therefore never follows a
// symlink or a ".." out of the root on our behalf: the VFS resolves guest
// symlinks itself (through Readlink) and never passes ".." down, so a node
// only ever holds a clean relative path of validated components. Mutating
// calls (mkdirat, unlinkat, renameat, symlinkat, linkat) take a parent
// directory fd obtained the same way plus a single validated name, so they
// cannot traverse anything either, and attribute changes go through an
// O_PATH fd of the node itself (fchmodat2/utimensat with AT_EMPTY_PATH).
//
// No host fd is kept per node (a guest walking a large tree must not
// exhaust descriptors): nodes open what they need and close it right away.
// Only open files (FileOps) hold one host fd each until Close.
//
// Device nodes, FIFOs and sockets found on the host can be stat'ed but not
// opened (ENXIO), as on a "nodev" mount, and only regular files are ever
// opened for I/O.
package hostfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform/pagecache"
)

// Options configures a hostfs instance.
type Options struct {
	// ReadOnly makes every mutating operation fail with EROFS, and host
	// files are opened O_RDONLY whatever the guest asks for.
	ReadOnly bool
	// Hide lists paths relative to the host directory (e.g. "shadow",
	// "ssh") that behave as if they did not exist: lookups fail with
	// ENOENT and listings omit them, which also makes everything below a
	// hidden directory unreachable. Creating such a name fails with EACCES.
	// Matching is by path: a host hard link under another name is not
	// hidden.
	Hide []string
	// OwnerAsGuest reports files owned by the host user running the
	// sandbox (effective uid/gid) as owned by the guest user, the way a
	// user namespace maps ids. It makes read-write mounts of the host
	// user's own directories usable; leave it off for system directories.
	OwnerAsGuest bool
	// Owner is, with OwnerAsGuest, the guest user the host user's files
	// show as (the sandbox's --user); nil: GuestUID:GuestGID.
	Owner *Owner
	// NoXDev refuses to cross host mount points below the directory
	// (RESOLVE_NO_XDEV), e.g. a host /proc or /sys under a mounted "/".
	NoXDev bool
	// FDs, when set, bounds the host descriptors that open files of every
	// file system sharing it hold at once (one sandbox's mounts): each
	// guest open of a host file costs litebox one, and litebox's own
	// RLIMIT_NOFILE is shared by every sandbox of the process.
	FDs *FDBudget
	// Memory is charged for the page caches of mapped files (mapped.go):
	// the sandbox's --memory budget. nil charges nothing.
	Memory *mm.Budget
	// Cache keeps what lookups and stats found (lookupcache.go), for a
	// directory the host does not change while the sandbox runs; it needs
	// ReadOnly.
	Cache bool
	// GuestIDs says the directory's owners are the guest's own ids (a
	// writable root: an OCI bundle's rootfs), not host ids: see
	// guestids.go. It replaces OwnerAsGuest.
	GuestIDs bool
}

// Owner is a guest uid and gid.
type Owner struct{ UID, GID uint32 }

// FDBudget counts host descriptors held by open files against a maximum.
//
// It also keeps every file system made with it (Options.FDs), so that the
// sandbox owning them releases their root descriptors at once (Close).
type FDBudget struct {
	Max  int64
	used atomic.Int64

	mu  sync.Mutex
	fss []*FS
}

// Close closes every file system made with b (their root descriptors):
// call it when nothing uses them any more (the sandbox ended). Later
// calls through them fail with EBADF; files open already stay usable.
func (b *FDBudget) Close() error {
	b.mu.Lock()
	fss := b.fss
	b.fss = nil
	b.mu.Unlock()
	var errs []error
	for _, fs := range fss {
		if err := fs.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// take reserves one descriptor: ENFILE (the system-wide table is full, as
// Linux says) when the budget is spent.
func (b *FDBudget) take() error {
	if b == nil {
		return nil
	}
	if b.used.Add(1) > b.Max {
		b.used.Add(-1)
		return unix.ENFILE
	}
	return nil
}

func (b *FDBudget) give() {
	if b != nil {
		b.used.Add(-1)
	}
}

// Used reports the descriptors held now.
func (b *FDBudget) Used() int64 { return b.used.Load() }

// FS is one mounted host directory.
type FS struct {
	dir string
	// rootFd is the directory's O_PATH fd, -1 once closed. Every use holds
	// rootMu for reading and Close holds it for writing, so a call racing
	// Close gets EBADF, never a descriptor number litebox has since
	// reused for another directory.
	rootMu  sync.RWMutex
	rootFd  int
	opts    Options
	resolve uint64
	hide    map[string]bool
	dev     uint64
	euid    uint32
	egid    uint32
	root    *Dir

	devMu sync.Mutex
	devs  map[uint64]uint64 // host st_dev -> guest Dev
	// inos hides host inode numbers: the guest sees this mount's own
	// stable numbering of them.
	inos *vfs.InoMap

	cacheMu sync.Mutex
	caches  map[inodeKey]*pageCache // host inodes mapped MAP_SHARED (mapped.go)

	// covers are the names served by other nodes, by directory rel path
	// (cover.go); set before the file system is shared.
	covers map[string]map[string]vfs.Node
	// cache is the lookup cache of a read-only mount, nil when not asked
	// for (lookupcache.go).
	cache *lookupCache
}

// New opens hostDir, which must be a readable directory, and returns a
// file system serving it. Call Close when it is no longer mounted.
func New(hostDir string, opts Options) (*FS, error) {
	if opts.Cache && !opts.ReadOnly {
		return nil, fmt.Errorf("hostfs: %s: only a read-only mount can cache lookups", hostDir)
	}
	inos, err := vfs.NewInoMap()
	if err != nil {
		return nil, fmt.Errorf("hostfs: %w", err)
	}
	fd, err := unix.Open(hostDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hostfs: open root %q: %w", hostDir, err)
	}
	fs := &FS{
		dir: hostDir, rootFd: fd, opts: opts,
		resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		hide:    map[string]bool{},
		dev:     vfs.NewDev(),
		euid:    uint32(unix.Geteuid()),
		egid:    uint32(unix.Getegid()),
		devs:    map[uint64]uint64{},
		inos:    inos,
	}
	if opts.NoXDev {
		fs.resolve |= unix.RESOLVE_NO_XDEV
	}
	for _, h := range opts.Hide {
		if rel := strings.TrimPrefix(path.Clean("/"+h), "/"); rel != "" {
			fs.hide[rel] = true
		}
	}
	// Fail now, not at the first guest access, if openat2 is unusable
	// (Linux < 5.6 or a seccomp filter): there is no safe fallback. This
	// also checks that the directory can be listed.
	probe, err := fs.open(".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("hostfs: cannot read %q through openat2: %w", hostDir, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(probe, &st)
	unix.Close(probe)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("hostfs: stat %q: %w", hostDir, err)
	}
	fs.devs[st.Dev] = fs.dev
	fs.root = &Dir{base{fs: fs, rel: "."}}
	if opts.Cache {
		fs.cache = &lookupCache{}
	}
	if b := opts.FDs; b != nil {
		b.mu.Lock()
		b.fss = append(b.fss, fs)
		b.mu.Unlock()
	}
	return fs, nil
}

// Close releases the host directory fd. Open files stay usable.
func (fs *FS) Close() error {
	fs.rootMu.Lock()
	defer fs.rootMu.Unlock()
	if fs.rootFd < 0 {
		return nil
	}
	err := unix.Close(fs.rootFd)
	fs.rootFd = -1
	return err
}

// Root returns the root directory.
func (fs *FS) Root() vfs.DirNode { return fs.root }

// ReadOnly reports whether the mount is read-only.
func (fs *FS) ReadOnly() bool { return fs.opts.ReadOnly }

// Name returns "hostfs".
func (fs *FS) Name() string { return "hostfs" }

// HostDir returns the host directory being served.
func (fs *FS) HostDir() string { return fs.dir }

// open opens rel beneath the root without following any symlink.
func (fs *FS) open(rel string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: fs.resolve,
	}
	fs.rootMu.RLock()
	defer fs.rootMu.RUnlock()
	if fs.rootFd < 0 {
		return -1, unix.EBADF
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(fs.rootFd, rel, &how)
		switch {
		case (err == unix.EINTR || err == unix.EAGAIN) && i < 16:
			continue // EAGAIN: a concurrent rename raced the resolution
		case err == unix.EXDEV:
			// Leaving the root (impossible with our clean paths) or
			// crossing a host mount with NoXDev: refuse, in terms the
			// guest understands.
			return -1, unix.EACCES
		}
		return fd, err
	}
}

// withFd runs fn with an fd of rel opened with flags.
func (fs *FS) withFd(rel string, flags int, fn func(fd int) error) error {
	fd, err := fs.open(rel, flags)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd)
}

func (fs *FS) hidden(rel string) bool { return len(fs.hide) > 0 && fs.hide[rel] }

// guestDev maps a host device number to a guest one, so that Dev is
// distinct per instance while (Dev, Ino) stays unique when the directory
// spans several host file systems. Inode numbers are mapped by fs.inos, a
// permutation, so (host dev, host ino) -> (guest dev, guest ino) is
// one-to-one: hard links share a number, distinct files never do.
func (fs *FS) guestDev(hostDev uint64) uint64 {
	fs.devMu.Lock()
	defer fs.devMu.Unlock()
	d, ok := fs.devs[hostDev]
	if !ok {
		d = vfs.NewDev()
		fs.devs[hostDev] = d
	}
	return d
}

func (fs *FS) convert(st *unix.Stat_t) vfs.Stat {
	out := vfs.Stat{
		Dev: fs.guestDev(st.Dev), Ino: fs.inos.Map(st.Ino), Nlink: st.Nlink, Rdev: st.Rdev,
		Mode: st.Mode, Uid: st.Uid, Gid: st.Gid,
		Size: st.Size, Blksize: st.Blksize, Blocks: st.Blocks,
		Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim,
	}
	if fs.opts.GuestIDs {
		return out // the guest's own tree: its ids, its capabilities
	}
	out.Host, out.HostIDs = true, vfs.HostUID|vfs.HostGID
	if fs.opts.OwnerAsGuest {
		owner := Owner{vfs.GuestUID, vfs.GuestGID}
		if fs.opts.Owner != nil {
			owner = *fs.opts.Owner
		}
		if out.Uid == fs.euid {
			out.Uid = owner.UID
			out.HostIDs &^= vfs.HostUID
		}
		if out.Gid == fs.egid {
			out.Gid = owner.GID
			out.HostIDs &^= vfs.HostGID
		}
	}
	return out
}

// childRel joins a directory's rel path and a validated name.
func childRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// splitRel splits a node's rel path into its parent's rel path and name.
func splitRel(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

// base is what every node has: the file system and a clean relative path
// ("." for the root).
type base struct {
	fs  *FS
	rel string
}

// Stat returns the host metadata of the node itself (never a link target).
func (b *base) Stat() (vfs.Stat, error) {
	if e, ok := b.fs.cache.get(b.rel); ok {
		return e.st, e.err
	}
	var st unix.Stat_t
	err := b.fs.withFd(b.rel, unix.O_PATH, func(fd int) error { return unix.Fstat(fd, &st) })
	if err != nil {
		b.fs.cache.put(b.rel, vfs.Stat{}, err)
		return vfs.Stat{}, err
	}
	out := b.fs.convert(&st)
	b.fs.cache.put(b.rel, out, nil)
	return out, nil
}

// Chmod changes the permission bits through an O_PATH fd, so a symlink
// swapped in concurrently is never followed (chmod of a symlink itself is
// EOPNOTSUPP, as on Linux).
func (b *base) Chmod(mode uint32) error {
	if b.fs.opts.ReadOnly {
		return unix.EROFS
	}
	return b.fs.withFd(b.rel, unix.O_PATH, func(fd int) error {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		mode = hostMode(mode, st.Mode&unix.S_IFMT == unix.S_IFDIR)
		err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
		if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
			return err
		}
		// Kernels before 6.6 lack fchmodat2.
		return viaProcFd(fd, func(p string) error { return unix.Chmod(p, mode) })
	})
}

// hostMode is the mode litebox gives a host file for a guest's mode: the
// permission bits, without the set-user-ID bit and, on an executable
// non-directory, the set-group-ID bit. litebox may run as the host's root,
// and every file it makes is the host user's: a set-id bit kept would let
// a guest leave a set-id executable of that user in a host directory for
// a host process to run (the guest never gains by it: the kernel honours
// no set-id bit, and no_new_privs holds). A directory's set-group-ID (new
// entries take its group) grants nothing and stays.
func hostMode(mode uint32, dir bool) uint32 {
	m := mode & 0o7777
	if dir {
		return m
	}
	m &^= unix.S_ISUID
	if m&unix.S_IXGRP != 0 {
		m &^= unix.S_ISGID
	}
	return m
}

// Utimes sets the times through an O_PATH fd (UTIME_NOW/OMIT are passed
// to the host, which interprets them).
func (b *base) Utimes(atime, mtime unix.Timespec) error {
	if b.fs.opts.ReadOnly {
		return unix.EROFS
	}
	ts := []unix.Timespec{atime, mtime}
	return b.fs.withFd(b.rel, unix.O_PATH, func(fd int) error {
		err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
		if err != unix.EINVAL && err != unix.ENOENT {
			return err
		}
		// Kernels before 5.8 reject AT_EMPTY_PATH for utimensat.
		return viaProcFd(fd, func(p string) error { return unix.UtimesNano(p, ts) })
	})
}

// viaProcFd applies fn to the /proc/self/fd magic link of an O_PATH fd,
// which names exactly the already-resolved inode, so nothing is looked up
// again. It refuses symlinks, where the call would act on the target.
func viaProcFd(fd int, fn func(path string) error) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	return fn(fmt.Sprintf("/proc/self/fd/%d", fd))
}

// Symlink is a host symbolic link. It is only ever read, never followed by
// the host.
type Symlink struct{ base }

// Readlink reads the link with readlinkat on an O_PATH fd of the parent.
func (s *Symlink) Readlink() (string, error) {
	dir, name := splitRel(s.rel)
	var target string
	err := s.fs.withFd(dir, unix.O_PATH|unix.O_DIRECTORY, func(fd int) error {
		for size := 256; ; size *= 2 {
			buf := make([]byte, size)
			n, err := unix.Readlinkat(fd, name, buf)
			if err != nil {
				return err
			}
			if n < size {
				target = string(buf[:n])
				return nil
			}
			if size > vfs.PathMax {
				return unix.ENAMETOOLONG
			}
		}
	})
	return target, err
}

// Special is a host device node, FIFO or socket: visible, not openable.
type Special struct{ base }

// File is a host regular file.
type File struct{ base }

// Open opens the host file. The fd is opened O_NONBLOCK|O_NOCTTY so that a
// FIFO or terminal swapped in after the lookup cannot block us or become
// our controlling tty, and anything but a regular file is refused.
func (f *File) Open(flags int) (vfs.FileOps, error) {
	acc := flags & unix.O_ACCMODE
	if f.fs.opts.ReadOnly {
		if acc != unix.O_RDONLY {
			return nil, unix.EROFS
		}
	}
	if err := f.fs.opts.FDs.take(); err != nil {
		return nil, err
	}
	fd, err := f.fs.open(f.rel, acc|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		f.fs.opts.FDs.give()
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		f.fs.opts.FDs.give()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		f.fs.opts.FDs.give()
		return nil, unix.ENXIO
	}
	if acc != unix.O_RDONLY && hostMode(st.Mode, false) != st.Mode&0o7777 {
		// A set-id file the guest may now change (the rootfs's own su, a
		// host file of a :rw mount) loses its set-id bits first, as Linux
		// takes them from a file written by an unprivileged writer: litebox
		// may be the host's root, whose writes keep them.
		if err := unix.Fchmod(fd, hostMode(st.Mode, false)); err != nil {
			unix.Close(fd)
			f.fs.opts.FDs.give()
			return nil, err
		}
	}
	return &fileOps{fs: f.fs, fd: fd, key: inodeKey{st.Dev, st.Ino}, writable: acc == unix.O_RDWR}, nil
}

// fileOps is an open host file; it owns one host fd. Every use holds mu
// for reading and Close holds it for writing, so an operation racing a
// close (one guest thread reading while another closes the descriptor)
// gets EBADF, never a host fd number litebox has since reused for another
// file, perhaps another sandbox's.
type fileOps struct {
	fs       *FS
	mu       sync.RWMutex
	fd       int // -1 once closed
	key      inodeKey
	writable bool       // opened O_RDWR
	cache    *pageCache // set once mapped MAP_SHARED (guarded by fs.cacheMu)
}

// use runs fn with the host fd while it is open.
func (o *fileOps) use(fn func(fd int) error) error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.fd < 0 {
		return unix.EBADF
	}
	return fn(o.fd)
}

func (o *fileOps) ReadAt(p []byte, off int64) (n int, err error) {
	err = o.use(func(fd int) error {
		for {
			var e error
			n, e = unix.Pread(fd, p, off)
			if e == unix.EINTR {
				continue
			}
			n = max(n, 0)
			if n == 0 && e == nil && len(p) > 0 {
				return io.EOF
			}
			return e
		}
	})
	if n > 0 {
		if c := o.fs.cacheOf(o.key); c != nil {
			c.overlay(p[:n], off)
		}
	}
	return n, err
}

// CacheKey names the host file's current version for the page cache, on
// read-only mounts, whose files only the host changes: a change there
// gives a new size, mtime or ctime (nanoseconds; the host kernel makes
// ctime fine-grained once it has been read, as it is here), so a new key.
// A writable mount's file is not cached: a guest's own stores would have
// to reach the entries (not built).
func (o *fileOps) CacheKey() (pagecache.Key, bool) {
	if !o.fs.opts.ReadOnly || o.writable {
		return pagecache.Key{}, false
	}
	var st unix.Stat_t
	if o.use(func(fd int) error { return unix.Fstat(fd, &st) }) != nil {
		return pagecache.Key{}, false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return pagecache.Key{}, false
	}
	return pagecache.Key{Dev: st.Dev, Ino: st.Ino, FileSize: st.Size, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true
}

func (o *fileOps) WriteAt(p []byte, off int64) (n int, err error) {
	if o.fs.opts.ReadOnly {
		return 0, unix.EROFS
	}
	err = o.use(func(fd int) error {
		for {
			var e error
			n, e = unix.Pwrite(fd, p, off)
			if e == unix.EINTR {
				continue
			}
			n = max(n, 0)
			return e
		}
	})
	if n > 0 {
		if c := o.fs.cacheOf(o.key); c != nil {
			c.update(p[:n], off)
		}
	}
	return n, err
}

func (o *fileOps) Truncate(size int64) error {
	if o.fs.opts.ReadOnly {
		return unix.EROFS
	}
	err := o.use(func(fd int) error { return unix.Ftruncate(fd, size) })
	if err == nil {
		if c := o.fs.cacheOf(o.key); c != nil {
			c.truncated(size)
		}
	}
	return err
}

// Sync writes back what mappings stored into the file's cached pages
// (fsync and fdatasync of a mapped file, as Linux writes its dirty page
// cache), then syncs the host file.
func (o *fileOps) Sync() error {
	if c := o.fs.cacheOf(o.key); c != nil {
		if err := c.SyncPages(0, ^uint64(0)); err != nil {
			return err
		}
	}
	return o.use(unix.Fsync)
}

func (o *fileOps) Stat() (st vfs.Stat, err error) {
	err = o.use(func(fd int) error {
		var hst unix.Stat_t
		if err := unix.Fstat(fd, &hst); err != nil {
			return err
		}
		st = o.fs.convert(&hst)
		return nil
	})
	return st, err
}

func (o *fileOps) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fd < 0 {
		return unix.EBADF
	}
	err := unix.Close(o.fd)
	o.fd = -1
	o.fs.opts.FDs.give()
	o.fs.cacheMu.Lock()
	c := o.cache
	o.cache = nil
	o.fs.cacheMu.Unlock()
	if c != nil {
		o.fs.detach(c)
	}
	return err
}

// Dir is a host directory.
type Dir struct{ base }

// nodeFor builds the node for rel from its host metadata.
func (fs *FS) nodeFor(rel string, mode uint32) vfs.Node {
	b := base{fs: fs, rel: rel}
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return &Dir{b}
	case unix.S_IFLNK:
		return &Symlink{b}
	case unix.S_IFREG:
		return &File{b}
	}
	return &Special{b}
}

// withSelf runs fn with an O_PATH fd of the directory itself, for *at
// calls that take one validated name.
func (d *Dir) withSelf(fn func(fd int) error) error {
	return d.fs.withFd(d.rel, unix.O_PATH|unix.O_DIRECTORY, fn)
}

// Lookup finds name in the directory (without following it).
func (d *Dir) Lookup(name string) (vfs.Node, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	if n, ok := d.fs.covered(d.rel, name); ok {
		return n, nil
	}
	rel := childRel(d.rel, name)
	if d.fs.hidden(rel) {
		return nil, unix.ENOENT
	}
	if e, ok := d.fs.cache.get(rel); ok {
		if e.err != nil {
			return nil, e.err
		}
		return d.fs.nodeFor(rel, e.st.Mode), nil
	}
	var st unix.Stat_t
	err := d.withSelf(func(fd int) error {
		return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		if err == unix.ENOENT {
			d.fs.cache.put(rel, vfs.Stat{}, err)
		}
		return nil, err
	}
	d.fs.cache.put(rel, d.fs.convert(&st), nil)
	return d.fs.nodeFor(rel, st.Mode), nil
}

// ReadDir lists the directory, omitting hidden names.
func (d *Dir) ReadDir() ([]vfs.DirEntry, error) {
	var out []vfs.DirEntry
	err := d.fs.withFd(d.rel, unix.O_RDONLY|unix.O_DIRECTORY, func(fd int) error {
		buf := make([]byte, 32<<10)
		for {
			n, err := unix.Getdents(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if n <= 0 {
				return nil
			}
			out = d.parseDirents(fd, buf[:n], out)
		}
	})
	if err != nil {
		return nil, err
	}
	return d.fs.withCovers(d.rel, out), nil
}

// parseDirents decodes linux_dirent64 records:
// u64 ino, s64 off, u16 reclen, u8 type, name NUL-terminated.
func (d *Dir) parseDirents(fd int, buf []byte, out []vfs.DirEntry) []vfs.DirEntry {
	for len(buf) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			break
		}
		rec := buf[:reclen]
		buf = buf[reclen:]
		name := rec[19:]
		if i := strings.IndexByte(string(name), 0); i >= 0 {
			name = name[:i]
		}
		// d_ino is numbered like st_ino (entries are on the directory's
		// host file system; a mount point's is its covered directory's,
		// as on Linux).
		e := vfs.DirEntry{Name: string(name), Ino: d.fs.inos.Map(binary.NativeEndian.Uint64(rec[0:8])), Type: rec[18]}
		if e.Name == "." || e.Name == ".." || d.fs.hidden(childRel(d.rel, e.Name)) {
			continue
		}
		if e.Type == unix.DT_UNKNOWN { // some file systems do not fill d_type
			var st unix.Stat_t
			if unix.Fstatat(fd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				e.Type = vfs.DTFromMode(st.Mode)
			}
		}
		out = append(out, e)
	}
	return out
}

// checkNew validates a name about to be created.
func (d *Dir) checkNew(name string) error {
	if d.fs.opts.ReadOnly {
		return unix.EROFS
	}
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	if d.fs.hidden(childRel(d.rel, name)) {
		return unix.EACCES // cannot pretend to create what we hide
	}
	if _, ok := d.fs.covered(d.rel, name); ok {
		return unix.EEXIST
	}
	return nil
}

// checkOld validates the name of an existing entry about to be removed.
func (d *Dir) checkOld(name string) error {
	if d.fs.opts.ReadOnly {
		return unix.EROFS
	}
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	rel := childRel(d.rel, name)
	if d.fs.hidden(rel) {
		return unix.ENOENT
	}
	if _, ok := d.fs.covered(d.rel, name); ok || d.fs.holdsCovers(rel) {
		return unix.EBUSY // a mount point, or a directory above one
	}
	return nil
}

// Create makes an empty regular file with exactly mode (the host umask is
// undone with fchmod). O_EXCL guarantees no symlink is followed.
func (d *Dir) Create(name string, mode uint32) (vfs.Node, error) {
	return d.create(name, mode, d.fs.euid, d.fs.egid)
}

// create is Create of a file for uid:gid (chownNew).
func (d *Dir) create(name string, mode, uid, gid uint32) (vfs.Node, error) {
	if err := d.checkNew(name); err != nil {
		return nil, err
	}
	err := d.withSelf(func(dfd int) error {
		fd, err := unix.Openat(dfd, name,
			unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, hostMode(mode, false))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		d.fs.chownNew(dfd, name, uid, gid)
		return unix.Fchmod(fd, hostMode(mode, false))
	})
	if err != nil {
		return nil, err
	}
	return &File{base{fs: d.fs, rel: childRel(d.rel, name)}}, nil
}

// Mkdir makes a directory with exactly mode.
func (d *Dir) Mkdir(name string, mode uint32) error {
	return d.MkdirOwned(name, mode, d.fs.euid, d.fs.egid)
}

// Symlink creates a host symlink holding target verbatim. The host never
// follows it on our behalf.
func (d *Dir) Symlink(target, name string) error {
	return d.SymlinkOwned(target, name, d.fs.euid, d.fs.egid)
}

// Unlink removes a non-directory.
func (d *Dir) Unlink(name string) error {
	if err := d.checkOld(name); err != nil {
		return err
	}
	return d.withSelf(func(fd int) error { return unix.Unlinkat(fd, name, 0) })
}

// Rmdir removes an empty directory.
func (d *Dir) Rmdir(name string) error {
	if err := d.checkOld(name); err != nil {
		return err
	}
	return d.withSelf(func(fd int) error { return unix.Unlinkat(fd, name, unix.AT_REMOVEDIR) })
}

// Rename renames within this file system instance (EXDEV otherwise).
func (d *Dir) Rename(oldName string, newDir vfs.DirNode, newName string) error {
	nd, ok := newDir.(*Dir)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	if err := d.checkOld(oldName); err != nil {
		return err
	}
	if _, ok := nd.fs.covered(nd.rel, newName); ok || nd.fs.holdsCovers(childRel(nd.rel, newName)) {
		return unix.EBUSY
	}
	if err := nd.checkNew(newName); err != nil {
		return err
	}
	return d.withSelf(func(ofd int) error {
		return nd.withSelf(func(nfd int) error { return unix.Renameat(ofd, oldName, nfd, newName) })
	})
}

// Link makes a hard link to target, a node of this file system.
func (d *Dir) Link(target vfs.Node, name string) error {
	var tb *base
	switch t := target.(type) {
	case *File:
		tb = &t.base
	case *Symlink:
		tb = &t.base
	case *Special:
		tb = &t.base
	case *Dir:
		return unix.EPERM
	default:
		return unix.EXDEV
	}
	if tb.fs != d.fs {
		return unix.EXDEV
	}
	if err := d.checkNew(name); err != nil {
		return err
	}
	tdir, tname := splitRel(tb.rel)
	return d.fs.withFd(tdir, unix.O_PATH|unix.O_DIRECTORY, func(tfd int) error {
		return d.withSelf(func(dfd int) error {
			// Single names and no AT_SYMLINK_FOLLOW: nothing is resolved.
			return unix.Linkat(tfd, tname, dfd, name, 0)
		})
	})
}

// StatFS reports the host file system's statfs of the mount's root: its
// type, block and inode counts, which are what df and shutil.disk_usage
// need; its fsid (a host identity) and mount flags are not passed on (the
// VFS sets the guest's own flags).
func (fs *FS) StatFS() (vfs.StatFS, error) {
	var hs unix.Statfs_t
	fs.rootMu.RLock()
	var err error = unix.EBADF
	if fs.rootFd >= 0 {
		err = unix.Fstatfs(fs.rootFd, &hs)
	}
	fs.rootMu.RUnlock()
	if err != nil {
		return vfs.StatFS{}, err
	}
	return vfs.StatFS{Type: hs.Type, Bsize: hs.Bsize, Blocks: hs.Blocks, Bfree: hs.Bfree, Bavail: hs.Bavail,
		Files: hs.Files, Ffree: hs.Ffree, Namelen: hs.Namelen, Frsize: hs.Frsize}, nil
}

package vfs

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/pagecache"
)

// File is an open file description, shared by dup'ed descriptors: it owns
// the file offset, the status flags and the directory cursor.
//
// The methods follow syscall semantics rather than io.Reader's: end of file
// is a zero-length read with a nil error, and every error is a unix.Errno.
type File struct {
	node Node
	ops  FileOps // nil for directories and O_PATH files
	// dentry names the file in the VFS (nil for anonymous and stream
	// files, which have name instead); the file holds a reference on it.
	dentry *Dentry
	name   string
	stream bool
	tty    Terminal
	refs   atomic.Int64
	// access holds the O_ACCMODE and O_PATH bits, fixed at open, so that
	// access checks need no lock while SetFlags changes f.flags.
	access int

	mu    sync.Mutex
	off   int64
	flags int
	dents []DirEntry // directory snapshot, taken on first Getdents
	// onLastClose runs when the last reference goes (see OnLastClose).
	onLastClose []func()
	hasLockHook bool
	// watchers run when the last reference goes, like onLastClose, but
	// each can be cancelled (see WatchRelease); released is set then.
	watchers  map[uint64]func()
	watchNext uint64
	released  bool
}

// IncRef adds a reference (dup, fork, SCM_RIGHTS...).
func (f *File) IncRef() { f.refs.Add(1) }

// DecRef drops a reference; the last one closes the file.
func (f *File) DecRef() error {
	switch n := f.refs.Add(-1); {
	case n > 0:
		return nil
	case n < 0:
		return unix.EBADF // more DecRefs than references: a caller bug
	}
	f.mu.Lock()
	hooks := f.onLastClose
	f.onLastClose = nil
	watchers := f.watchers
	f.watchers = nil
	f.released = true
	f.mu.Unlock()
	for _, fn := range hooks {
		fn()
	}
	for _, fn := range watchers {
		fn()
	}
	if f.writable() {
		f.notify(unix.IN_CLOSE_WRITE)
	} else {
		f.notify(unix.IN_CLOSE_NOWRITE)
	}
	var err error
	if f.ops != nil {
		err = toErrno(f.ops.Close())
	}
	if f.dentry != nil {
		f.dentry.DecRef()
	}
	return err
}

// OnLastClose registers fn to run when the last reference goes. Only the
// first registration is kept: its one use is releasing the locks owned by
// the open file description, and one release covers them all.
func (f *File) OnLastClose(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hasLockHook {
		return
	}
	f.hasLockHook = true
	f.onLastClose = append(f.onLastClose, fn)
}

// WatchRelease registers fn to run when the last reference goes and
// returns a function that unregisters it (safe to call more than once, and
// after fn ran). It reports false, registering nothing, when the file is
// already released: a concurrent close won the race. Epoll items use it, as
// Linux's eventpoll_release does, to leave their interest lists with the
// file rather than with one of its descriptors.
func (f *File) WatchRelease(fn func()) (cancel func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		return nil, false
	}
	if f.watchers == nil {
		f.watchers = map[uint64]func(){}
	}
	id := f.watchNext
	f.watchNext++
	f.watchers[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.watchers, id)
		f.mu.Unlock()
	}, true
}

// Node returns the node the file was opened on.
func (f *File) Node() Node { return f.node }

// Path returns the file's canonical guest path now, derived from its
// dentry, so it follows renames of the file and of the directories above
// it; " (deleted)" is appended once its name was removed, as in
// /proc/<pid>/fd. Anonymous and stream files return their name
// ("pipe:[3]", the name given to NewStreamFile).
func (f *File) Path() string {
	if f.dentry != nil {
		return f.dentry.linkPath()
	}
	return f.name
}

// Dentry returns the file's dentry (nil for anonymous and stream files).
// It is valid while the file is referenced; callers that keep it take a
// reference with TryIncRef.
func (f *File) Dentry() *Dentry { return f.dentry }

// dirNode is the node directory operations use: the dentry's current one,
// which a file system whose nodes are names (hostfs) renews after a rename
// of the directory.
func (f *File) dirNode() Node {
	if f.dentry != nil {
		if n := f.dentry.Node(); n != nil {
			return n
		}
	}
	return f.node
}

// Flags returns the status flags as fcntl(F_GETFL) reports them, including
// the access mode.
func (f *File) Flags() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flags
}

// SetFlags implements fcntl(F_SETFL): only O_APPEND and O_NONBLOCK change.
func (f *File) SetFlags(flags int) {
	const changeable = unix.O_APPEND | unix.O_NONBLOCK
	f.mu.Lock()
	f.flags = f.flags&^changeable | flags&changeable
	f.mu.Unlock()
}

func (f *File) isPath() bool { return f.access&unix.O_PATH != 0 }

func (f *File) readable() bool {
	return !f.isPath() && f.access&unix.O_ACCMODE != unix.O_WRONLY
}

func (f *File) writable() bool {
	return !f.isPath() && f.access&unix.O_ACCMODE != unix.O_RDONLY
}

// newFile returns a File with one reference, taking over the caller's
// reference to d (nil: an anonymous file called name).
func newFile(n Node, d *Dentry, name string, flags int) *File {
	f := &File{node: n, dentry: d, name: name, flags: flags &^ notStatusFlags,
		access: flags & (unix.O_ACCMODE | unix.O_PATH)}
	f.refs.Store(1)
	return f
}

// ioCheck validates a read (write=false) or write on the file.
func (f *File) ioCheck(write bool) error {
	if write && !f.writable() || !write && !f.readable() {
		return unix.EBADF
	}
	if f.ops == nil {
		return unix.EISDIR // an open directory
	}
	return nil
}

// ioResult maps a FileOps result to syscall semantics: a partial transfer
// is reported without its error (the next call will see it), io.EOF is a
// zero-length read, and other errors become errnos.
func ioResult(n int, err error) (int, error) {
	if n > 0 {
		return n, nil
	}
	return 0, toErrno(err)
}

// Read reads at the file offset and advances it.
func (f *File) Read(p []byte) (int, error) {
	if err := f.ioCheck(false); err != nil {
		return 0, err
	}
	if f.stream {
		// No lock: a read blocking on a terminal must not hold up writers
		// sharing the description (fds 0-2 are often one tty).
		return f.accessed(ioResult(f.ops.ReadAt(p, 0)))
	}
	f.mu.Lock()
	n, err := f.ops.ReadAt(p, f.off)
	f.off += int64(n)
	f.mu.Unlock()
	return f.accessed(ioResult(n, err))
}

// accessed reports IN_ACCESS for a read that returned data.
func (f *File) accessed(n int, err error) (int, error) {
	if n > 0 {
		f.notify(unix.IN_ACCESS)
	}
	return n, err
}

// modified reports IN_MODIFY for a write that wrote something.
func (f *File) modified(n int, err error) (int, error) {
	if n > 0 {
		f.notify(unix.IN_MODIFY)
	}
	return n, err
}

// Write writes at the file offset (or the end with O_APPEND) and advances it.
func (f *File) Write(p []byte) (int, error) {
	if err := f.ioCheck(true); err != nil {
		return 0, err
	}
	if f.stream {
		return f.modified(ioResult(f.ops.WriteAt(p, 0)))
	}
	f.mu.Lock()
	if f.flags&unix.O_APPEND != 0 {
		n, end, err := f.appendLocked(p)
		if err == nil || n > 0 {
			f.off = end
		}
		f.mu.Unlock()
		return f.modified(ioResult(n, err))
	}
	n, err := f.ops.WriteAt(p, f.off)
	f.off += int64(n)
	f.mu.Unlock()
	return f.modified(ioResult(n, err))
}

// appendLocked writes p at end of file, returning the new end.
func (f *File) appendLocked(p []byte) (int, int64, error) {
	if a, ok := f.ops.(Appender); ok {
		return a.Append(p)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	n, err := f.ops.WriteAt(p, st.Size)
	return n, st.Size + int64(n), err
}

// PageCacheKeyer is file operations whose bytes the page cache may hold
// for private mappings (mm.Cacheable): a file system that can name the
// version of a file's bytes (a read-only host mount, an image layer).
type PageCacheKeyer interface {
	CacheKey() (pagecache.Key, bool)
}

// CacheKey names the version of the file's bytes for the page cache;
// false if its file system cannot.
func (f *File) CacheKey() (pagecache.Key, bool) {
	if k, ok := f.ops.(PageCacheKeyer); ok {
		return k.CacheKey()
	}
	return pagecache.Key{}, false
}

// Pread reads at off without touching the file offset.
func (f *File) Pread(p []byte, off int64) (int, error) {
	if err := f.ioCheck(false); err != nil {
		return 0, err
	}
	if f.stream {
		return 0, unix.ESPIPE
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return f.accessed(ioResult(f.ops.ReadAt(p, off)))
}

// Pwrite writes at off without touching the file offset. As on Linux, a
// file opened with O_APPEND appends regardless of off.
func (f *File) Pwrite(p []byte, off int64) (int, error) {
	if err := f.ioCheck(true); err != nil {
		return 0, err
	}
	if f.stream {
		return 0, unix.ESPIPE
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	if f.flags&unix.O_APPEND == 0 {
		f.mu.Unlock()
		return f.modified(ioResult(f.ops.WriteAt(p, off)))
	}
	n, _, err := f.appendLocked(p)
	f.mu.Unlock()
	return f.modified(ioResult(n, err))
}

// Seek implements lseek for SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA and
// SEEK_HOLE (files have no holes as far as the guest can tell). On a
// directory the offset is the index of the next Getdents entry, and
// seeking to 0 (rewinddir) refreshes the listing.
func (f *File) Seek(off int64, whence int) (int64, error) {
	if f.isPath() {
		return 0, unix.EBADF
	}
	if f.stream {
		return 0, unix.ESPIPE
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var pos int64
	switch whence {
	case unix.SEEK_SET:
		pos = off
	case unix.SEEK_CUR:
		pos = f.off + off
	case unix.SEEK_END, unix.SEEK_DATA, unix.SEEK_HOLE:
		if f.ops == nil {
			return 0, unix.EINVAL
		}
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		switch whence {
		case unix.SEEK_END:
			pos = st.Size + off
		case unix.SEEK_DATA:
			if off < 0 || off >= st.Size {
				return 0, unix.ENXIO
			}
			pos = off
		case unix.SEEK_HOLE:
			if off < 0 || off >= st.Size {
				return 0, unix.ENXIO
			}
			pos = st.Size
		}
	default:
		return 0, unix.EINVAL
	}
	if pos < 0 || (whence == unix.SEEK_CUR && off > 0 && pos < f.off) {
		return 0, unix.EINVAL // negative or overflowed
	}
	if f.ops == nil && pos == 0 {
		f.dents = nil
	}
	f.off = pos
	return pos, nil
}

// Stat returns the node's metadata, through the open handle when the
// FileOps support it (so it keeps working after unlink). It does not take
// f.mu, so it may be called with the lock held.
func (f *File) Stat() (Stat, error) {
	if s, ok := f.ops.(Stater); ok {
		st, err := s.Stat()
		return st, toErrno(err)
	}
	return stat(f.dirNode())
}

// Truncate implements ftruncate.
func (f *File) Truncate(size int64) error {
	if f.isPath() {
		return unix.EBADF
	}
	if size < 0 || f.ops == nil || !f.writable() {
		return unix.EINVAL
	}
	if err := f.ops.Truncate(size); err != nil {
		return toErrno(err)
	}
	f.notify(unix.IN_MODIFY)
	return nil
}

// Sync implements fsync/fdatasync.
func (f *File) Sync() error {
	if f.isPath() {
		return unix.EBADF
	}
	if f.ops == nil {
		return nil
	}
	return toErrno(f.ops.Sync())
}

// Ioctl forwards terminal ioctls; anything else is ENOTTY.
func (f *File) Ioctl(req uint, arg []byte) (int, error) {
	if f.isPath() {
		return 0, unix.EBADF
	}
	t := f.tty
	if t == nil {
		if nt, ok := f.node.(Terminal); ok {
			t = nt
		} else if ot, ok := f.ops.(Terminal); ok {
			t = ot
		}
	}
	if t == nil {
		return 0, unix.ENOTTY
	}
	n, err := t.Ioctl(req, arg)
	return n, toErrno(err)
}

// Getdents returns up to max entries (max <= 0: all remaining) starting at
// the cursor and advances it. "." and ".." come first; an empty slice
// means the end. The cursor is the index of the next entry, so the d_off
// of the i-th returned entry is the offset before the call plus i+1.
func (f *File) Getdents(max int) ([]DirEntry, error) {
	out := []DirEntry{}
	err := f.GetdentsFunc(func(e DirEntry, _ int64) bool {
		if max > 0 && len(out) >= max {
			return false
		}
		out = append(out, e)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetdentsFunc calls fn for each entry from the cursor on, with the
// cursor value after that entry (d_off). Returning false stops without
// consuming the entry, so the caller can stop exactly when its buffer is
// full.
func (f *File) GetdentsFunc(fn func(e DirEntry, next int64) bool) error {
	if f.isPath() {
		return unix.EBADF
	}
	dn, ok := f.dirNode().(DirNode)
	if !ok || f.ops != nil {
		return unix.ENOTDIR
	}
	f.mu.Lock()
	if f.dents == nil {
		d, err := f.snapshot(dn)
		if err != nil {
			f.mu.Unlock()
			return err
		}
		f.dents = d
	}
	for f.off < int64(len(f.dents)) {
		if !fn(f.dents[f.off], f.off+1) {
			break
		}
		f.off++
	}
	f.mu.Unlock()
	f.notify(unix.IN_ACCESS) // iterate_dir's, on every call
	return nil
}

// snapshot lists the directory, adding "." and ".." and any mount points
// that the underlying file system does not have.
func (f *File) snapshot(dn DirNode) ([]DirEntry, error) {
	st, err := stat(dn)
	if err != nil {
		return nil, err
	}
	list, err := dn.ReadDir()
	if err != nil {
		return nil, toErrno(err)
	}
	out := make([]DirEntry, 0, len(list)+2)
	out = append(out,
		DirEntry{Name: ".", Ino: st.Ino, Type: unix.DT_DIR},
		DirEntry{Name: "..", Ino: f.parentIno(st.Ino), Type: unix.DT_DIR})
	out = append(out, list...)
	if f.dentry == nil {
		return out, nil
	}
	mounts := f.dentry.vfs.mountChildren(f.dentry)
	if len(mounts) == 0 {
		return out, nil
	}
	for _, e := range list {
		delete(mounts, e.Name)
	}
	var extra []DirEntry
	for name, m := range mounts {
		var ino uint64
		if mst, err := m.root.Stat(); err == nil {
			ino = mst.Ino
		}
		extra = append(extra, DirEntry{Name: name, Ino: ino, Type: unix.DT_DIR})
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Name < extra[j].Name })
	return append(out, extra...), nil
}

// parentIno is the inode number getdents reports for "..": the directory's
// parent's now (self is its own at the root).
func (f *File) parentIno(self uint64) uint64 {
	if f.dentry == nil {
		return 0
	}
	v := f.dentry.vfs
	v.dmu.Lock()
	p := f.dentry.parent
	v.dmu.Unlock()
	if p == nil {
		return self
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return st.Ino
}

// CancelReader is implemented by stream operations whose reads may wait:
// they honour the file's status flags (O_NONBLOCK) and give up with
// ERESTARTSYS when ctx is done (a signal arrived).
type CancelReader interface {
	ReadCancel(p []byte, flags int, ctx context.Context) (int, error)
}

// CancelWriter is the write-side counterpart of CancelReader.
type CancelWriter interface {
	WriteCancel(p []byte, flags int, ctx context.Context) (int, error)
}

// ReadCancel is Read for a caller that can be interrupted: streams that
// wait give up when ctx is done.
func (f *File) ReadCancel(p []byte, ctx context.Context) (int, error) {
	if cr, ok := f.ops.(CancelReader); ok && f.stream {
		if err := f.ioCheck(false); err != nil {
			return 0, err
		}
		return f.accessed(ioResult(cr.ReadCancel(p, f.Flags(), ctx)))
	}
	return f.Read(p)
}

// WriteCancel is Write for a caller that can be interrupted.
func (f *File) WriteCancel(p []byte, ctx context.Context) (int, error) {
	if cw, ok := f.ops.(CancelWriter); ok && f.stream {
		if err := f.ioCheck(true); err != nil {
			return 0, err
		}
		return f.modified(ioResult(cw.WriteCancel(p, f.Flags(), ctx)))
	}
	return f.Write(p)
}

// Poller is implemented by operations that can report poll readiness
// (POLLIN, POLLOUT, POLLHUP, POLLERR); files without it are always ready.
type Poller interface {
	Readiness() int16
}

// Readiness returns the poll events the file is ready for.
func (f *File) Readiness() int16 {
	if p, ok := f.ops.(Poller); ok {
		return p.Readiness()
	}
	return unix.POLLIN | unix.POLLOUT
}

// Ops returns the file's operations (nil for directories and O_PATH files).
func (f *File) Ops() FileOps { return f.ops }

// NewAnonFile returns an open file for a node that lives in no file system
// (pipes, eventfds, sockets), with flags' access mode and status flags.
// Operations implementing Streamer make it a stream (no offsets).
func NewAnonFile(name string, n Node, ops FileOps, flags int) *File {
	f := newFile(n, nil, name, flags)
	f.ops = ops
	if s, ok := ops.(Streamer); ok && s.IsStream() {
		f.stream = true
	}
	return f
}

// SetTerminal makes the file answer terminal ioctls through tty (an
// anonymous file standing for the host's terminal).
func (f *File) SetTerminal(tty Terminal) { f.tty = tty }

// Owner is implemented by the nodes or operations of anonymous files
// whose owner is set when they are handed to a process (pipes, the
// sandbox's stdio streams).
type Owner interface{ SetOwner(uid, gid uint32) }

// SetOwner gives an anonymous file its owner when its node or operations
// can have one (Owner); other files keep theirs.
func (f *File) SetOwner(uid, gid uint32) {
	if o, ok := f.node.(Owner); ok {
		o.SetOwner(uid, gid)
	} else if o, ok := f.ops.(Owner); ok {
		o.SetOwner(uid, gid)
	}
}

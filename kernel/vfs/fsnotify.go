package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Change notification (inotify, dnotify): the VFS tells the watchers of an
// inode what happens to it, and the watchers of a directory what happens
// to its entries, at the points where it creates, removes, renames, opens,
// reads, writes, truncates, changes attributes and closes. Watches are
// keyed by inode (WatchKey: device and inode number, as Stat reports
// them), so a file system whose nodes are names (hostfs) is watched as
// well as one whose nodes are objects. Only what goes through this VFS is
// seen: a change the host makes to a hostfs directory directly is not.
//
// Cost when nothing is watched: one atomic load per hook, no lock, no
// allocation. Lock order: the namespace lock and dmu may be held when an
// event is delivered; nmu is taken after them and a Watcher takes only its
// own locks under it.

// WatchKey names a watched inode.
type WatchKey struct{ Dev, Ino uint64 }

// KeyOf returns the watch key of what st describes.
func KeyOf(st *Stat) WatchKey { return WatchKey{st.Dev, st.Ino} }

// Event is one change, as inotify reports it: the IN_* mask (with IN_ISDIR
// when the subject is a directory), the rename cookie, and for an event a
// directory's watcher gets about one of its entries, the entry's name.
type Event struct {
	Mask   uint32
	Cookie uint32
	Name   string
	// Unlinked: the event came through a name that was removed since it
	// was opened (IN_EXCL_UNLINK drops those).
	Unlinked bool
}

// Watcher is a watch on an inode (an inotify watch, a dnotify
// registration). Notify is called with the registry's lock held and must
// only take locks of its own; it returns true when the watch is done
// (IN_ONESHOT) and leaves the inode. Ignored is called, under the same
// lock, when the watch left the inode (done, or the inode was deleted;
// not when RemoveWatch removed it).
type Watcher interface {
	Notify(e Event) (done bool)
	Ignored()
}

// notifier is a VFS's watch registry.
type notifier struct {
	// count is the number of watched inodes: zero makes every hook a
	// single load.
	count  atomic.Int32
	cookie atomic.Uint32
	mu     sync.Mutex // nmu
	marks  map[WatchKey][]Watcher
}

// watching reports whether any inode is watched: the hooks' fast path.
func (v *VFS) watching() bool { return v.notify.count.Load() != 0 }

// AddWatch makes w watch the inode key names.
func (v *VFS) AddWatch(key WatchKey, w Watcher) {
	n := &v.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.marks == nil {
		n.marks = map[WatchKey][]Watcher{}
	}
	if len(n.marks[key]) == 0 {
		n.count.Add(1)
	}
	n.marks[key] = append(n.marks[key], w)
}

// RemoveWatch removes w from the inode key names, reporting whether it
// was there (it may have left with its inode meanwhile).
func (v *VFS) RemoveWatch(key WatchKey, w Watcher) bool {
	n := &v.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.removeLocked(key, w)
}

func (n *notifier) removeLocked(key WatchKey, w Watcher) bool {
	ws := n.marks[key]
	for i, x := range ws {
		if x != w {
			continue
		}
		ws = append(ws[:i], ws[i+1:]...)
		if len(ws) == 0 {
			delete(n.marks, key)
			n.count.Add(-1)
		} else {
			n.marks[key] = ws
		}
		return true
	}
	return false
}

// deliver gives e to the watchers of key; a done watcher leaves. With
// dying, every watcher leaves afterwards (the inode is gone:
// IN_DELETE_SELF, then IN_IGNORED).
func (v *VFS) deliver(key WatchKey, e Event, dying bool) {
	n := &v.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	ws := n.marks[key]
	if len(ws) == 0 {
		return
	}
	// A copy: done watchers leave the slice while it is walked.
	for _, w := range append([]Watcher(nil), ws...) {
		if w.Notify(e) && !dying && n.removeLocked(key, w) {
			w.Ignored()
		}
	}
	if dying {
		for _, w := range n.marks[key] {
			w.Ignored()
		}
		if _, ok := n.marks[key]; ok {
			delete(n.marks, key)
			n.count.Add(-1)
		}
	}
}

// NewCookie returns a fresh rename cookie (never 0).
func (v *VFS) newCookie() uint32 {
	for {
		if c := v.notify.cookie.Add(1); c != 0 {
			return c
		}
	}
}

// isDirBit is IN_ISDIR for a directory.
func isDirBit(st *Stat) uint32 {
	if st.IsDir() {
		return unix.IN_ISDIR
	}
	return 0
}

// notifyEntry sends mask about the entry name to the watchers of dir.
func (v *VFS) notifyEntry(dir Node, name string, mask, cookie uint32, unlinked bool) {
	st, err := dir.Stat()
	if err != nil {
		return
	}
	v.deliver(KeyOf(&st), Event{Mask: mask, Cookie: cookie, Name: name, Unlinked: unlinked}, false)
}

// notifyDentry sends mask about what d names: to its parent directory's
// watchers with its name, then to its own (fsnotify_parent, then the
// inode, as Linux orders them). A mount root has no parent to tell.
func (v *VFS) notifyDentry(d *Dentry, mask uint32) {
	st, err := d.Node().Stat()
	if err != nil {
		return
	}
	v.notifyDentryStat(d, &st, mask)
}

// notifyDentryStat is notifyDentry for an inode whose metadata the caller
// has (an open file's: a removed hostfs file's node can no longer be
// looked up by name).
func (v *VFS) notifyDentryStat(d *Dentry, st *Stat, mask uint32) {
	mask |= isDirBit(st)
	v.dmu.Lock()
	p, name, dead := d.parent, d.name, d.dead
	if d == d.mnt.root {
		p = nil
	}
	var pn Node
	if p != nil {
		pn = p.Node()
	}
	v.dmu.Unlock()
	if pn != nil {
		v.notifyEntry(pn, name, mask, 0, dead)
	}
	v.deliver(KeyOf(st), Event{Mask: mask, Unlinked: dead}, false)
}

// notify reports an access to the open file (IN_ACCESS, IN_MODIFY,
// IN_OPEN, IN_CLOSE_*), unless nothing is watched or the file is an O_PATH
// or anonymous one.
func (f *File) notify(mask uint32) {
	if d := f.dentry; d != nil && d.vfs.watching() && !f.isPath() {
		if st, err := f.Stat(); err == nil {
			d.vfs.notifyDentryStat(d, &st, mask)
		}
	}
}

// Notify lets the kernel report accesses the VFS does not see itself
// (splice, sendfile, copy_file_range move bytes through FileOps).
func (f *File) Notify(mask uint32) { f.notify(mask) }

// notifyCreated reports a new entry of dir (a frame of a walk).
func (v *VFS) notifyCreated(dir frame, name string, isDir bool) {
	if !v.watching() {
		return
	}
	mask := uint32(unix.IN_CREATE)
	if isDir {
		mask |= unix.IN_ISDIR
	}
	v.notifyEntry(dir.dir, name, mask, 0, false)
}

// goneKey is recorded on a removed dentry that something still holds:
// its inode dies (IN_DELETE_SELF) when the last holder lets go, if no
// other name links it by then.
type goneKey struct {
	key   WatchKey
	isDir bool
}

// notifyRemoved reports that name (whose inode st described before) left
// dir: IN_ATTRIB for the link count of a file, IN_DELETE_SELF when the
// inode died (its last name, and nothing holds it), then IN_DELETE to the
// directory. held is the dentry still held (nil if none). The caller
// holds ns for writing.
func (v *VFS) notifyRemoved(dir frame, name string, st *Stat, held *Dentry) {
	if !v.watching() {
		return
	}
	key := KeyOf(st)
	isDir := st.IsDir()
	if !isDir {
		v.deliver(key, Event{Mask: unix.IN_ATTRIB}, false)
	}
	v.inodeGone(key, st, held)
	v.notifyEntry(dir.dir, name, unix.IN_DELETE|isDirBit(st), 0, false)
}

// inodeGone sends IN_DELETE_SELF now if the name removed was the inode's
// last one and nothing holds it, or marks the held dentry so that its
// drop sends it.
func (v *VFS) inodeGone(key WatchKey, st *Stat, held *Dentry) {
	isDir := st.IsDir()
	if !isDir && st.Nlink > 1 {
		return // other names remain
	}
	if held != nil {
		v.dmu.Lock()
		if !held.dropped {
			held.gone = &goneKey{key: key, isDir: isDir}
			v.dmu.Unlock()
			return
		}
		v.dmu.Unlock()
	}
	v.deliver(key, Event{Mask: unix.IN_DELETE_SELF}, true)
}

// droppedGone sends the IN_DELETE_SELF a removed dentry's drop owes (see
// inodeGone). Called with dmu held.
func (v *VFS) droppedGone(d *Dentry) {
	g := d.gone
	d.gone = nil
	if !g.isDir {
		if st, err := d.Node().Stat(); err == nil && st.Nlink > 0 {
			return // linked again (or still linked elsewhere)
		}
	}
	v.deliver(g.key, Event{Mask: unix.IN_DELETE_SELF}, true)
}

// notifyMoved reports a rename: IN_MOVED_FROM and IN_MOVED_TO with one
// cookie, IN_ATTRIB to a replaced file, IN_MOVE_SELF to the moved inode,
// and IN_DELETE_SELF to a replaced inode that died. The caller holds ns
// for writing.
func (v *VFS) notifyMoved(from frame, oldName string, to frame, newName string, sst, dst *Stat, replaced *Dentry) {
	if !v.watching() {
		return
	}
	cookie := v.newCookie()
	isDir := isDirBit(sst)
	v.notifyEntry(from.dir, oldName, unix.IN_MOVED_FROM|isDir, cookie, false)
	v.notifyEntry(to.dir, newName, unix.IN_MOVED_TO|isDir, cookie, false)
	if dst != nil && !dst.IsDir() {
		v.deliver(KeyOf(dst), Event{Mask: unix.IN_ATTRIB}, false)
	}
	v.deliver(KeyOf(sst), Event{Mask: unix.IN_MOVE_SELF}, false) // no IN_ISDIR on self events, as Linux
	if dst != nil {
		v.inodeGone(KeyOf(dst), dst, replaced)
	}
}

// notifyWalked reports event about a walk's result: to its directory's
// watchers with its name, then to its own. The caller holds ns.
func (v *VFS) notifyWalked(res *walkResult, event uint32) {
	st, err := res.node.Stat()
	if err != nil {
		return
	}
	event |= isDirBit(&st)
	if res.name != "" && !res.mountRoot && len(res.stack) > 0 {
		v.notifyEntry(res.parent().dir, res.dname, event, 0, false)
	}
	v.deliver(KeyOf(&st), Event{Mask: event}, false)
}

// dentryAttr reports event about d when err (the change's result) is nil,
// and returns err.
func (v *VFS) dentryAttr(d *Dentry, event uint32, err error) error {
	if err == nil && event != 0 && v.watching() {
		v.notifyDentry(d, event)
	}
	return err
}

// timesEvent is the event of a utimes: IN_ATTRIB when both times change,
// IN_ACCESS or IN_MODIFY when only one does (Linux's fsnotify_change).
func timesEvent(atime, mtime unix.Timespec) uint32 {
	a, m := atime.Nsec != unix.UTIME_OMIT, mtime.Nsec != unix.UTIME_OMIT
	switch {
	case a && m:
		return unix.IN_ATTRIB
	case a:
		return unix.IN_ACCESS
	case m:
		return unix.IN_MODIFY
	}
	return 0
}

// WatchStatAt resolves what inotify_add_watch names: path from at,
// following a trailing symlink if follow, ENOTDIR for a non-directory
// when onlyDir, and EACCES unless the caller may read it (Linux's
// inotify_find_inode).
func (v *VFS) WatchStatAt(at Loc, path string, follow, onlyDir bool) (Stat, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: follow, cred: v.credOf(at)})
	if err != nil {
		return Stat{}, err
	}
	st, err := stat(res.node)
	if err != nil {
		return Stat{}, err
	}
	if onlyDir && !st.IsDir() {
		return Stat{}, unix.ENOTDIR
	}
	if err := check(res.cred, &st, mayRead); err != nil {
		return Stat{}, err
	}
	return st, nil
}

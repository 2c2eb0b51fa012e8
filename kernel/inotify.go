package kernel

import (
	"context"
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// inotify(7) inside the kernel: an instance is an anonymous file holding a
// queue of events; its watches are vfs.Watchers on inodes of the guest's
// VFS, which reports what happens through it (kernel/vfs/fsnotify.go).
// Changes the host makes to a hostfs directory directly are not seen.

// Linux's /proc/sys/fs/inotify defaults, the limits per user (here per
// user of the sandbox: the effective uid that made the instance).
const (
	InotifyMaxQueuedEvents  = 16384
	InotifyMaxUserInstances = 128
	InotifyMaxUserWatches   = 8192
)

// What inotify objects cost against the memory budget: an instance, a
// watch, and each queued event (plus its name).
const (
	InotifyCost      = 1024
	InotifyWatchCost = 256
	InotifyEventCost = 64
)

// inotifyEventSize is sizeof(struct inotify_event).
const inotifyEventSize = 16

// inotifyFlagBits are the bits of an inotify_add_watch mask that are not
// events (Linux's ALL_INOTIFY_BITS minus IN_ALL_EVENTS).
const inotifyFlagBits = unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK |
	unix.IN_MASK_ADD | unix.IN_MASK_CREATE | unix.IN_ONESHOT

// inotifyUsage counts one user's instances and watches.
type inotifyUsage struct{ instances, watches int }

type inotifyEvent struct {
	wd           int32
	mask, cookie uint32
	name         string
	charged      uint64
	overflow     bool
}

// size is the event's length as read(2) returns it: the name padded with
// NULs to a multiple of the header's size.
func (e *inotifyEvent) size() int {
	if e.name == "" {
		return inotifyEventSize
	}
	return inotifyEventSize + (len(e.name)+inotifyEventSize)/inotifyEventSize*inotifyEventSize
}

// inotify is one instance.
type inotify struct {
	k     *Kernel
	fs    *vfs.VFS
	uid   uint32
	ino   uint64
	owner [2]uint32 // the creator's fs uid and gid

	mu      sync.Mutex
	queue   []inotifyEvent
	bytes   int // the queue's read(2) size (FIONREAD)
	watches map[int32]*inotifyWatch
	byKey   map[vfs.WatchKey]*inotifyWatch
	lastWD  int32
	closed  bool
}

type inotifyWatch struct {
	in   *inotify
	wd   int32
	key  vfs.WatchKey
	mask uint32 // events and IN_EXCL_UNLINK|IN_ONESHOT; guarded by in.mu
}

// InotifyInit1 implements inotify_init1 (IN_NONBLOCK, IN_CLOEXEC).
func (p *Process) InotifyInit1(flags int) (int, error) {
	if flags&^(unix.IN_NONBLOCK|unix.IN_CLOEXEC) != 0 {
		return -1, unix.EINVAL
	}
	k := p.k
	uid := p.Creds().EUID
	k.inotifyMu.Lock()
	u := k.inotifyUse(uid)
	if u.instances >= InotifyMaxUserInstances {
		k.inotifyMu.Unlock()
		k.auditLimit("inotify_instances", p.PID)
		return -1, unix.EMFILE
	}
	u.instances++
	k.inotifyMu.Unlock()
	if err := k.charge(InotifyCost); err != nil {
		k.inotifyRelease(uid, 1, 0)
		return -1, err
	}
	in := &inotify{k: k, fs: k.cfg.FS, uid: uid, ino: vfs.NewIno(), owner: fsOwner(p),
		watches: map[int32]*inotifyWatch{}, byKey: map[vfs.WatchKey]*inotifyWatch{}}
	f := vfs.NewAnonFile("anon_inode:inotify", in, in, unix.O_RDONLY|flags&unix.O_NONBLOCK)
	fd, err := p.FDs.Install(f, 0, flags&unix.IN_CLOEXEC != 0)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

// inotifyUse returns uid's counts; the caller holds inotifyMu.
func (k *Kernel) inotifyUse(uid uint32) *inotifyUsage {
	if k.inotifyUsers == nil {
		k.inotifyUsers = map[uint32]*inotifyUsage{}
	}
	u := k.inotifyUsers[uid]
	if u == nil {
		u = &inotifyUsage{}
		k.inotifyUsers[uid] = u
	}
	return u
}

// inotifyRelease gives back instances and watches of uid.
func (k *Kernel) inotifyRelease(uid uint32, instances, watches int) {
	k.inotifyMu.Lock()
	u := k.inotifyUse(uid)
	u.instances -= instances
	u.watches -= watches
	if u.instances <= 0 && u.watches <= 0 {
		delete(k.inotifyUsers, uid)
	}
	k.inotifyMu.Unlock()
}

// instanceOf returns the inotify instance open as fd: EBADF, or EINVAL
// for another kind of file.
func (p *Process) instanceOf(fd int) (*inotify, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, err
	}
	in, ok := f.Ops().(*inotify)
	if !ok {
		return nil, unix.EINVAL
	}
	return in, nil
}

// InotifyAddWatch implements inotify_add_watch, with Linux's order of
// checks: the mask, the descriptor, the path, then the limit.
func (p *Process) InotifyAddWatch(fd int, path string, mask uint32) (int, error) {
	if mask&unix.IN_MASK_ADD != 0 && mask&unix.IN_MASK_CREATE != 0 {
		return -1, unix.EINVAL
	}
	if mask&(unix.IN_ALL_EVENTS|inotifyFlagBits) == 0 {
		return -1, unix.EINVAL
	}
	in, err := p.instanceOf(fd)
	if err != nil {
		return -1, err
	}
	at, err := p.at(unix.AT_FDCWD, path)
	if err != nil {
		return -1, err
	}
	defer at.Release()
	st, err := in.fs.WatchStatAt(at, path, mask&unix.IN_DONT_FOLLOW == 0, mask&unix.IN_ONLYDIR != 0)
	if err != nil {
		return -1, err
	}
	key := vfs.KeyOf(&st)
	want := mask & (unix.IN_ALL_EVENTS | unix.IN_EXCL_UNLINK | unix.IN_ONESHOT)
	in.mu.Lock()
	if w := in.byKey[key]; w != nil {
		defer in.mu.Unlock()
		switch {
		case mask&unix.IN_MASK_CREATE != 0:
			return -1, unix.EEXIST
		case mask&unix.IN_MASK_ADD != 0:
			w.mask |= want
		default:
			w.mask = want
		}
		return int(w.wd), nil
	}
	in.mu.Unlock()
	if err := p.k.inotifyAddWatch(in.uid, p.PID); err != nil {
		return -1, err
	}
	in.mu.Lock()
	if in.closed || in.byKey[key] != nil {
		// Closed meanwhile, or a concurrent add won: answer as if after it.
		in.mu.Unlock()
		p.k.inotifyDropWatches(in.uid, 1)
		if in.closed {
			return -1, unix.EBADF
		}
		return p.InotifyAddWatch(fd, path, mask)
	}
	w := &inotifyWatch{in: in, wd: in.nextWD(), key: key, mask: want}
	in.watches[w.wd] = w
	in.byKey[key] = w
	in.mu.Unlock()
	in.fs.AddWatch(key, w)
	return int(w.wd), nil
}

// nextWD allocates a watch descriptor as Linux's idr_alloc_cyclic does:
// the next unused one after the last given, from 1. The caller holds mu.
func (in *inotify) nextWD() int32 {
	for {
		in.lastWD++
		if in.lastWD <= 0 {
			in.lastWD = 1
		}
		if in.watches[in.lastWD] == nil {
			return in.lastWD
		}
	}
}

// inotifyAddWatch accounts for one more watch of uid: ENOSPC past
// max_user_watches, ENOMEM when the budget has no room.
func (k *Kernel) inotifyAddWatch(uid uint32, pid int) error {
	k.inotifyMu.Lock()
	u := k.inotifyUse(uid)
	if u.watches >= InotifyMaxUserWatches {
		k.inotifyMu.Unlock()
		k.auditLimit("inotify_watches", pid)
		return unix.ENOSPC
	}
	u.watches++
	k.inotifyMu.Unlock()
	if err := k.charge(InotifyWatchCost); err != nil {
		k.inotifyRelease(uid, 0, 1)
		return err
	}
	return nil
}

// inotifyDropWatches gives back n watches of uid.
func (k *Kernel) inotifyDropWatches(uid uint32, n int) {
	if n > 0 {
		k.inotifyRelease(uid, 0, n)
		k.uncharge(uint64(n) * InotifyWatchCost)
	}
}

// InotifyRmWatch implements inotify_rm_watch: the watch goes and
// IN_IGNORED is queued for it.
func (p *Process) InotifyRmWatch(fd int, wd int32) error {
	in, err := p.instanceOf(fd)
	if err != nil {
		return err
	}
	in.mu.Lock()
	w := in.watches[wd]
	in.mu.Unlock()
	if w == nil {
		return unix.EINVAL
	}
	if !in.fs.RemoveWatch(w.key, w) {
		return unix.EINVAL // it left with its inode meanwhile
	}
	w.Ignored()
	return nil
}

// Notify queues the event if the watch asked for it (vfs.Watcher).
func (w *inotifyWatch) Notify(e vfs.Event) bool {
	in := w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.watches[w.wd] != w || e.Mask&w.mask&unix.IN_ALL_EVENTS == 0 {
		return false
	}
	if e.Unlinked && w.mask&unix.IN_EXCL_UNLINK != 0 {
		return false
	}
	in.queueLocked(w.wd, e.Mask, e.Cookie, e.Name)
	return w.mask&unix.IN_ONESHOT != 0
}

// Ignored queues IN_IGNORED and forgets the watch (vfs.Watcher).
func (w *inotifyWatch) Ignored() {
	in := w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.watches[w.wd] != w {
		return
	}
	delete(in.watches, w.wd)
	delete(in.byKey, w.key)
	in.queueLocked(w.wd, unix.IN_IGNORED, 0, "")
	in.k.inotifyDropWatches(in.uid, 1)
}

// queueLocked adds an event, as Linux's fsnotify_add_event: an event equal
// to the last one queued is merged into it, and a full queue (or no memory
// for the event) gets one IN_Q_OVERFLOW instead. The caller holds mu.
func (in *inotify) queueLocked(wd int32, mask, cookie uint32, name string) {
	if in.closed {
		return
	}
	if n := len(in.queue); n > 0 {
		last := &in.queue[n-1]
		if last.overflow {
			return // nothing is queued behind an overflow until it is read
		}
		if last.wd == wd && last.mask == mask && last.cookie == cookie && last.name == name {
			return
		}
	}
	e := inotifyEvent{wd: wd, mask: mask, cookie: cookie, name: name}
	e.charged = uint64(InotifyEventCost + len(name))
	if len(in.queue) >= InotifyMaxQueuedEvents || in.k.charge(e.charged) != nil {
		e = inotifyEvent{wd: -1, mask: unix.IN_Q_OVERFLOW, overflow: true}
	}
	in.queue = append(in.queue, e)
	in.bytes += e.size()
	in.k.poll.notify()
}

// Read returns whole events: EINVAL when the next does not fit, EAGAIN
// (non-blocking) or a wait when none is queued.
func (in *inotify) ReadCancel(p []byte, flags int, ctx context.Context) (int, error) {
	return in.k.waitReady(flags&unix.O_NONBLOCK != 0, ctx, func() (int, bool, error) {
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.queue) == 0 {
			return 0, false, nil
		}
		n, err := in.readLocked(p)
		return n, true, err
	})
}

func (in *inotify) readLocked(p []byte) (int, error) {
	n, i := 0, 0
	for ; i < len(in.queue); i++ {
		e := &in.queue[i]
		sz := e.size()
		if n+sz > len(p) {
			break
		}
		le := binary.LittleEndian
		le.PutUint32(p[n:], uint32(e.wd))
		le.PutUint32(p[n+4:], e.mask)
		le.PutUint32(p[n+8:], e.cookie)
		le.PutUint32(p[n+12:], uint32(sz-inotifyEventSize))
		clear(p[n+inotifyEventSize : n+sz])
		copy(p[n+inotifyEventSize:], e.name)
		n += sz
		in.bytes -= sz
		if !e.overflow {
			in.k.uncharge(e.charged)
		}
	}
	if i == 0 {
		return 0, unix.EINVAL
	}
	in.queue = append(in.queue[:0], in.queue[i:]...)
	if len(in.queue) == 0 && cap(in.queue) > 64 {
		in.queue = nil // let a burst's backing array go
	}
	return n, nil
}

func (in *inotify) ReadAt(p []byte, _ int64) (int, error) {
	return in.ReadCancel(p, unix.O_NONBLOCK, context.Background())
}

func (in *inotify) WriteAt([]byte, int64) (int, error) { return 0, unix.EINVAL }

// Buffered is FIONREAD: the bytes a read could return.
func (in *inotify) Buffered() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.bytes
}

func (in *inotify) Readiness() int16 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.queue) > 0 {
		return unix.POLLIN
	}
	return 0
}

func (in *inotify) IsStream() bool       { return true }
func (in *inotify) Truncate(int64) error { return unix.EINVAL }
func (in *inotify) Sync() error          { return unix.EINVAL }

func (in *inotify) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: anonDev, Ino: in.ino, Nlink: 1, Mode: 0o600, Uid: in.owner[0], Gid: in.owner[1],
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

// Close drops every watch and the queue, and gives back what they cost.
func (in *inotify) Close() error {
	in.mu.Lock()
	in.closed = true
	ws := make([]*inotifyWatch, 0, len(in.watches))
	for _, w := range in.watches {
		ws = append(ws, w)
	}
	in.mu.Unlock()
	for _, w := range ws {
		in.fs.RemoveWatch(w.key, w)
	}
	in.mu.Lock()
	// Watches that left with their inode meanwhile gave theirs back in
	// Ignored; what is left in the maps is what was just removed.
	for _, e := range in.queue {
		if !e.overflow {
			in.k.uncharge(e.charged)
		}
	}
	in.queue, in.bytes = nil, 0
	n := len(in.watches)
	in.watches, in.byKey = nil, nil
	in.mu.Unlock()
	in.k.inotifyDropWatches(in.uid, n)
	in.k.inotifyRelease(in.uid, 1, 0)
	in.k.uncharge(InotifyCost)
	return nil
}

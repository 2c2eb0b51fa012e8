package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Linux's rules for epoll instances watching epoll instances
// (fs/eventpoll.c): no cycles, chains of at most epMaxNests links (so at
// most five instances), and a bounded number of wakeup paths of each length
// from any watched file (paths of one link are not limited).
const epMaxNests = 4 // EP_MAX_NESTS

var epPathLimits = [epMaxNests + 1]int{1000, 500, 100, 50, 10}

// Event bits Linux treats specially.
const (
	epollExclusiveOK = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLERR | unix.EPOLLHUP |
		unix.EPOLLWAKEUP | unix.EPOLLET | unix.EPOLLEXCLUSIVE
)

// epollGraph is the sandbox's epoll topology: every interest list and, for
// each watched file, the items watching it (Linux's file->f_ep). One mutex
// guards all of it, and no code holds it while asking a file for its
// readiness: a nested instance's readiness is computed without any epoll
// lock held, so no arrangement of instances can make the kernel wait on
// itself. The mutex also serialises the loop checks with the insertions, as
// Linux's epnested_mutex does, so two racing adds cannot build a cycle.
type epollGraph struct {
	mu       sync.Mutex
	watchers map[*vfs.File]map[*epollItem]struct{}
}

// epollKey names an item as Linux does: the watched file and the
// descriptor it was added through.
type epollKey struct {
	file *vfs.File
	fd   int
}

// epollFile is an epoll instance.
type epollFile struct {
	k     *Kernel
	ino   uint64
	owner [2]uint32 // the creator's fs uid and gid
	self  *vfs.File // the instance's own open file, which other instances watch

	// Guarded by k.epoll.mu. order is the scan order: items reported by
	// epoll_wait move to its end, as Linux requeues them at the tail of
	// its ready list, so that a small maxevents cannot starve anyone.
	items map[epollKey]*epollItem
	order []*epollItem
}

// epollItem is one entry of an interest list; guarded by k.epoll.mu.
type epollItem struct {
	ep       *epollFile
	key      epollKey
	events   uint32 // as given, plus EPOLLERR|EPOLLHUP (always reported)
	data     uint64
	disabled bool   // EPOLLONESHOT fired
	last     int16  // readiness last reported, for edge-triggered items
	lastWake uint64 // the file's WakeCount when last reported (wakeCounter)
	gen      uint64 // bumped by EPOLL_CTL_MOD
	removed  bool
	unwatch  func()
}

// EpollCreate creates an epoll instance.
func (p *Process) EpollCreate(flags int) (int, error) {
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return -1, unix.EINVAL
	}
	if err := p.k.charge(EpollCost); err != nil {
		return -1, err
	}
	ep := &epollFile{k: p.k, ino: vfs.NewIno(), owner: fsOwner(p), items: map[epollKey]*epollItem{}}
	f := vfs.NewAnonFile("anon_inode:[eventpoll]", ep, ep, unix.O_RDWR)
	ep.self = f
	fd, err := p.FDs.Install(f, 0, flags&unix.EPOLL_CLOEXEC != 0)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

func (ep *epollFile) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: anonDev, Ino: ep.ino, Nlink: 1, Mode: 0o600, Uid: ep.owner[0], Gid: ep.owner[1],
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}
func (ep *epollFile) IsStream() bool                     { return true }
func (ep *epollFile) ReadAt([]byte, int64) (int, error)  { return 0, unix.EINVAL }
func (ep *epollFile) WriteAt([]byte, int64) (int, error) { return 0, unix.EINVAL }
func (ep *epollFile) Truncate(int64) error               { return unix.EINVAL }
func (ep *epollFile) Sync() error                        { return unix.EINVAL }

// Close runs when the instance's last reference goes: its items leave the
// files they watch. (Instances watching this one dropped their items just
// before, through their release watches.)
func (ep *epollFile) Close() error {
	g := &ep.k.epoll
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, it := range append([]*epollItem(nil), ep.order...) {
		g.remove(it)
	}
	ep.k.uncharge(EpollCost)
	return nil
}

// Readiness: an epoll instance is readable when one of its items is ready.
func (ep *epollFile) Readiness() int16 {
	return ep.readiness(0, &epollScan{})
}

// epollScan carries what one readiness computation learned about nested
// instances, so that an instance reachable along many paths is asked once:
// the work stays proportional to the number of items, whatever the shape.
type epollScan struct {
	ready map[*epollFile]int16
}

func (ep *epollFile) readiness(depth int, sc *epollScan) int16 {
	if r, ok := sc.ready[ep]; ok {
		return r
	}
	if sc.ready == nil {
		sc.ready = map[*epollFile]int16{}
	}
	sc.ready[ep] = 0 // while computing: a (never legal) cycle reads "not ready"
	var r int16
	if len(ep.scan(1, false, depth, sc)) > 0 {
		r = unix.POLLIN | unix.EPOLLRDNORM
	}
	sc.ready[ep] = r
	return r
}

// itemReadiness is the current readiness of a watched file.
func itemReadiness(f *vfs.File, depth int, sc *epollScan) int16 {
	inner, ok := f.Ops().(*epollFile)
	if !ok {
		return f.Readiness()
	}
	if depth >= epMaxNests+1 {
		return 0 // deeper than EPOLL_CTL_ADD allows: cannot happen
	}
	return inner.readiness(depth+1, sc)
}

// pollable reports whether epoll accepts the file (Linux: file_can_poll).
func pollable(f *vfs.File) bool {
	st, err := f.Stat()
	if err != nil {
		return true
	}
	t := st.Mode & unix.S_IFMT
	return t != unix.S_IFREG && t != unix.S_IFDIR
}

// EpollCtl adds, modifies or removes fd in the interest list of epfd, with
// Linux's checks in Linux's order (fs/eventpoll.c, do_epoll_ctl).
func (p *Process) EpollCtl(epfd, op, fd int, events uint32, data uint64) error {
	ef, err := p.FDs.Get(epfd)
	if err != nil {
		return err
	}
	tf, err := p.FDs.Get(fd)
	if err != nil {
		return err
	}
	if !pollable(tf) {
		return unix.EPERM
	}
	ep, ok := ef.Ops().(*epollFile)
	if !ok || ef == tf {
		return unix.EINVAL // not an epoll instance, or the instance itself (even through a dup)
	}
	// EPOLLWAKEUP needs CAP_BLOCK_SUSPEND; Linux drops it silently.
	events &^= unix.EPOLLWAKEUP
	tep, targetIsEpoll := tf.Ops().(*epollFile)
	if op != unix.EPOLL_CTL_DEL && events&unix.EPOLLEXCLUSIVE != 0 {
		if op == unix.EPOLL_CTL_MOD {
			return unix.EINVAL
		}
		if op == unix.EPOLL_CTL_ADD && (targetIsEpoll || events&^epollExclusiveOK != 0) {
			return unix.EINVAL
		}
	}
	g := &p.k.epoll
	g.mu.Lock()
	err = g.ctl(ep, p.PID, op, epollKey{file: tf, fd: fd}, tep, events, data)
	g.mu.Unlock()
	if err == nil {
		p.k.poll.notify()
	}
	return err
}

// ctl is the part of EpollCtl that reads and changes the graph; g.mu held.
func (g *epollGraph) ctl(ep *epollFile, pid, op int, key epollKey, tep *epollFile, events uint32, data uint64) error {
	// Linux checks the topology on an add when the instance is itself
	// watched or the target is an instance.
	fullCheck := op == unix.EPOLL_CTL_ADD && (len(g.watchers[ep.self]) > 0 || tep != nil)
	var leaves map[*vfs.File]struct{}
	if fullCheck {
		leaves = map[*vfs.File]struct{}{}
		if tep != nil && !g.loopCheck(ep, tep, leaves) {
			return unix.ELOOP
		}
		if tep == nil {
			leaves[key.file] = struct{}{}
		}
	}
	it := ep.items[key]
	switch op {
	case unix.EPOLL_CTL_ADD:
		if it != nil {
			return unix.EEXIST
		}
		if err := ep.k.addWatch(pid); err != nil {
			return err
		}
		it = &epollItem{ep: ep, key: key, events: events | unix.EPOLLERR | unix.EPOLLHUP, data: data}
		unwatch, ok := key.file.WatchRelease(func() { g.released(it) })
		if !ok {
			ep.k.dropWatches(1)
			return unix.EBADF // closed under us by another thread
		}
		it.unwatch = unwatch
		g.insert(it)
		if fullCheck && !g.reversePathCheck(leaves) {
			g.remove(it)
			return unix.EINVAL
		}
	case unix.EPOLL_CTL_DEL:
		if it == nil {
			return unix.ENOENT
		}
		g.remove(it)
	case unix.EPOLL_CTL_MOD:
		if it == nil {
			return unix.ENOENT
		}
		if it.events&unix.EPOLLEXCLUSIVE != 0 {
			return unix.EINVAL
		}
		it.events, it.data = events|unix.EPOLLERR|unix.EPOLLHUP, data
		it.disabled, it.last, it.lastWake = false, 0, 0
		it.gen++
	default:
		return unix.EINVAL
	}
	return nil
}

func (g *epollGraph) insert(it *epollItem) {
	ep := it.ep
	ep.items[it.key] = it
	ep.order = append(ep.order, it)
	if g.watchers == nil {
		g.watchers = map[*vfs.File]map[*epollItem]struct{}{}
	}
	w := g.watchers[it.key.file]
	if w == nil {
		w = map[*epollItem]struct{}{}
		g.watchers[it.key.file] = w
	}
	w[it] = struct{}{}
}

// remove takes it out of its interest list; g.mu held.
func (g *epollGraph) remove(it *epollItem) {
	if it.removed {
		return
	}
	it.removed = true
	ep := it.ep
	delete(ep.items, it.key)
	for i, x := range ep.order {
		if x == it {
			ep.order = append(ep.order[:i], ep.order[i+1:]...)
			break
		}
	}
	if w := g.watchers[it.key.file]; w != nil {
		delete(w, it)
		if len(w) == 0 {
			delete(g.watchers, it.key.file)
		}
	}
	if it.unwatch != nil {
		it.unwatch()
	}
	ep.k.dropWatches(1) // charged by the add that inserted it
}

// released runs when the file an item watches has lost its last reference.
func (g *epollGraph) released(it *epollItem) {
	g.mu.Lock()
	g.remove(it)
	g.mu.Unlock()
}

// loopCheck is Linux's ep_loop_check for adding instance to into ep: it
// fails if ep is reachable from to (a cycle) or if the longest chain
// through the new link would exceed epMaxNests links. It collects the
// non-instance files below to, for the path check. g.mu held.
func (g *epollGraph) loopCheck(ep, to *epollFile, leaves map[*vfs.File]struct{}) bool {
	down := g.depthBelow(ep, to, 0, map[*epollFile]int{}, leaves)
	if down > epMaxNests {
		return false
	}
	up := g.depthAbove(ep, map[*epollFile]int{})
	return down+1+up <= epMaxNests
}

// depthBelow returns the longest chain of links below e, or more than
// epMaxNests if into is reachable or the walk gets too deep. Each instance
// is visited once.
func (g *epollGraph) depthBelow(into, e *epollFile, depth int, seen map[*epollFile]int, leaves map[*vfs.File]struct{}) int {
	if d, ok := seen[e]; ok {
		return d
	}
	seen[e] = epMaxNests + 1 // reached again while still walking it: a cycle
	result := 0
	for _, it := range e.order {
		child, ok := it.key.file.Ops().(*epollFile)
		if !ok {
			leaves[it.key.file] = struct{}{}
			continue
		}
		if child == into || depth > epMaxNests {
			result = epMaxNests + 1
		} else {
			result = max(result, g.depthBelow(into, child, depth+1, seen, leaves)+1)
		}
		if result > epMaxNests {
			break
		}
	}
	seen[e] = result
	return result
}

// depthAbove returns the longest chain of instances watching e.
func (g *epollGraph) depthAbove(e *epollFile, seen map[*epollFile]int) int {
	if d, ok := seen[e]; ok {
		return d
	}
	seen[e] = epMaxNests + 1
	result := 0
	for it := range g.watchers[e.self] {
		result = max(result, g.depthAbove(it.ep, seen)+1)
		if result > epMaxNests {
			break
		}
	}
	seen[e] = result
	return result
}

// reversePathCheck is Linux's reverse_path_check: from each file, the
// chains of instances leading up to an unwatched instance are counted by
// length, and none may be longer than epMaxNests+1 instances or more
// numerous than epPathLimits allows. g.mu held.
func (g *epollGraph) reversePathCheck(files map[*vfs.File]struct{}) bool {
	for f := range files {
		var count [epMaxNests + 1]int
		if !g.pathsFrom(f, 0, &count) {
			return false
		}
	}
	return true
}

func (g *epollGraph) pathsFrom(f *vfs.File, depth int, count *[epMaxNests + 1]int) bool {
	if depth > epMaxNests {
		return false
	}
	for it := range g.watchers[f] {
		parent := it.ep.self
		if len(g.watchers[parent]) > 0 {
			if !g.pathsFrom(parent, depth+1, count) {
				return false
			}
			continue
		}
		if depth > 0 {
			count[depth]++
			if count[depth] > epPathLimits[depth] {
				return false
			}
		}
	}
	return true
}

// wakeCounter is implemented by files that count their wake-ups (AF_UNIX
// sockets): an edge-triggered item is reported again after a wake-up even
// if its readiness bits look the same as when last reported, as on Linux,
// where a readiness that dropped and came back between two epoll_waits
// (a listener's backlog drained and refilled) is a new edge.
type wakeCounter interface {
	WakeCount() uint64
}

// EpollEvent is one ready item.
type EpollEvent struct {
	Events uint32
	Data   uint64
}

// scan returns up to max ready events of ep. With consume it is an
// epoll_wait: edge-triggered and one-shot state advances and reported items
// move to the end of the scan order; without, it only looks. The items'
// readiness is asked with no epoll lock held; an item removed or modified
// meanwhile is skipped.
func (ep *epollFile) scan(max int, consume bool, depth int, sc *epollScan) []EpollEvent {
	g := &ep.k.epoll
	type snap struct {
		it    *epollItem
		gen   uint64
		ready int16
		wakes uint64
	}
	g.mu.Lock()
	snaps := make([]snap, 0, len(ep.order))
	for _, it := range ep.order {
		if !it.disabled {
			snaps = append(snaps, snap{it: it, gen: it.gen})
		}
	}
	g.mu.Unlock()
	for i := range snaps {
		f := snaps[i].it.key.file
		if w, ok := f.Ops().(wakeCounter); ok {
			snaps[i].wakes = w.WakeCount() // before the readiness: a later wake is seen next time
		}
		snaps[i].ready = itemReadiness(f, depth, sc)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	var out []EpollEvent
	var reported map[*epollItem]bool
	for _, s := range snaps {
		if len(out) >= max {
			break
		}
		it := s.it
		if it.removed || it.gen != s.gen || it.disabled {
			continue
		}
		got := s.ready & int16(it.events)
		if it.events&unix.EPOLLET != 0 {
			newBits := got &^ it.last
			if s.wakes != it.lastWake {
				newBits = got // woken since the last report: an edge, as ep_poll_callback
			}
			if consume {
				it.last, it.lastWake = got, s.wakes
			}
			got = newBits
		}
		if got == 0 {
			continue
		}
		out = append(out, EpollEvent{Events: uint32(uint16(got)), Data: it.data})
		if !consume {
			continue
		}
		if it.events&unix.EPOLLONESHOT != 0 {
			it.disabled = true
		}
		if reported == nil {
			reported = map[*epollItem]bool{}
		}
		reported[it] = true
	}
	if len(reported) > 0 {
		order := make([]*epollItem, 0, len(ep.order))
		var back []*epollItem
		for _, it := range ep.order {
			if reported[it] {
				back = append(back, it)
			} else {
				order = append(order, it)
			}
		}
		ep.order = append(order, back...)
	}
	return out
}

// EpollWait waits for ready items of epfd.
func (t *Task) EpollWait(epfd, max int, timeout *time.Duration) ([]EpollEvent, error) {
	if max <= 0 || max > 1<<20 {
		return nil, unix.EINVAL
	}
	f, err := t.Proc.FDs.Get(epfd)
	if err != nil {
		return nil, err
	}
	ep, ok := f.Ops().(*epollFile)
	if !ok {
		return nil, unix.EINVAL
	}
	var timer <-chan time.Time
	if timeout != nil && *timeout > 0 {
		tm := time.NewTimer(*timeout)
		defer tm.Stop()
		timer = tm.C
	}
	for {
		changed := t.Proc.k.poll.wait()
		if evs := ep.scan(max, true, 0, &epollScan{}); len(evs) > 0 {
			return evs, nil
		}
		if timeout != nil && *timeout <= 0 {
			return nil, nil
		}
		select {
		case <-changed:
		case <-timer:
			return nil, nil
		case <-t.Interruptible().Done():
			return nil, ERESTARTNOHAND
		}
	}
}

// Package lock implements Linux advisory file locks inside the sandbox:
// POSIX record locks and open-file-description (OFD) locks for fcntl
// (F_GETLK, F_SETLK, F_SETLKW and their F_OFD_ forms) and whole-file locks
// for flock(2).
//
// Nothing is delegated to the host: guest files may be synthetic or shared
// between guests that the host sees as one process, so host locks would
// neither cover every file nor separate the owners correctly. All state lives
// in a Manager in kernel memory.
//
// As on Linux, fcntl locks and flock locks are separate namespaces and never
// conflict with each other, while POSIX and OFD locks share one namespace and
// do conflict (they differ only in who owns them).
package lock

import (
	"context"
	"math"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// Key identifies a file: locks on the same (Dev, Ino) interact.
type Key struct{ Dev, Ino uint64 }

// Owner is a lock owner. The shim passes a *Process for classic POSIX locks
// and an open file description pointer for OFD locks and flock. It must be
// comparable (pointers are); it is used as a map key.
type Owner any

// Lock is a lock request or a held lock over the absolute byte range
// [Start, End] inclusive. End = math.MaxInt64 means "to end of file and
// beyond", which is how the shim spells l_len == 0.
type Lock struct {
	Type       int16 // unix.F_RDLCK, unix.F_WRLCK, unix.F_UNLCK
	Start, End int64
	Pid        int32 // for F_GETLK reports: the owner's pid, -1 for OFD locks
}

// ToEOF is the End of a lock that extends to the end of the file and beyond.
const ToEOF = math.MaxInt64

// restartSys is the kernel's ERESTARTSYS (see kernel.ERESTARTSYS, which this
// package cannot import without a cycle): the shim restarts the call or fails
// it with EINTR.
const restartSys = unix.Errno(512)

// Validate reports EINVAL for a type other than F_RDLCK, F_WRLCK or F_UNLCK,
// a negative start or an empty range. Set checks this itself; the shim calls
// it before Test, which has no error result. (Linux also rejects F_GETLK with
// F_UNLCK; that check is the shim's.)
func (l Lock) Validate() error {
	switch l.Type {
	case unix.F_RDLCK, unix.F_WRLCK, unix.F_UNLCK:
	default:
		return unix.EINVAL
	}
	if l.Start < 0 || l.End < l.Start {
		return unix.EINVAL
	}
	return nil
}

func (l Lock) overlaps(start, end int64) bool {
	return l.Start <= end && start <= l.End
}

// conflicts reports whether locks of types a and b over overlapping ranges
// of different owners exclude each other: only two read locks coexist.
func conflicts(a, b int16) bool {
	return a == unix.F_WRLCK || b == unix.F_WRLCK
}

// record is a held fcntl lock.
type record struct {
	owner Owner
	Lock         // Pid is what Test reports for it
	seq   uint64 // orders records with the same Start in a tree
}

// flockRecord is a held flock lock; it always covers the whole file.
type flockRecord struct {
	owner Owner
	typ   int16 // F_RDLCK for LOCK_SH, F_WRLCK for LOCK_EX
}

// file is the lock state of one Key.
type file struct {
	// posix holds the fcntl locks of all owners; owners holds each owner's
	// own (which never overlap one another) for the calls that change
	// them. Every record is in both.
	posix  tree
	owners map[Owner]*tree
	flocks []flockRecord

	// waiters counts goroutines sleeping on changed. While it is non-zero
	// the file stays in Manager.files even without locks, so that a later
	// release closes the very channel those goroutines hold.
	waiters int
	// changed is closed, and dropped, whenever the locks change: a broadcast
	// to every waiter, each of which re-examines the state. It is made only
	// when someone waits, so changes with no waiters cost nothing.
	changed chan struct{}
}

func (f *file) empty() bool {
	return f.posix.n == 0 && len(f.flocks) == 0 && f.waiters == 0
}

// wake broadcasts a change. Spurious wake-ups are harmless: a woken waiter
// re-checks and sleeps again.
func (f *file) wake() {
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// waiter is a POSIX owner's blocked F_SETLKW, recorded for deadlock
// detection: the owner waits for whoever holds locks conflicting with lock
// on key.
type waiter struct {
	key  Key
	lock Lock
}

// DefaultMaxLocks is how many locks (fcntl records and flock locks
// together) a Manager holds at most when MaxLocks is 0.
const DefaultMaxLocks = 1 << 16

// LockCost is what each held lock is charged through Manager.Charge: at
// least what it takes on the heap (TestLockCostCoversHeap measures it).
const LockCost = 320

// Manager holds every advisory lock of the kernel. The zero value is ready;
// it is safe for concurrent use. One mutex guards everything, because
// deadlock detection walks the wait-for graph across files.
//
// What it holds is bounded: a call that would make it hold more than
// MaxLocks locks, or whose locks Charge refuses, fails with ENOLCK and
// changes nothing, as Linux does when it cannot allocate a lock (which
// can happen on an unlock too, when it splits a lock in two).
type Manager struct {
	// MaxLocks caps the locks held; 0 means DefaultMaxLocks. Set it before
	// first use.
	MaxLocks int
	// Charge, if set, is asked for LockCost bytes per lock before it is
	// held (an error refuses the lock), and called with the negative
	// amount when locks go. Set it before first use.
	Charge func(bytes int64) error

	mu    sync.Mutex
	files map[Key]*file
	// byOwner indexes the files on which each owner holds locks, so that
	// releasing an owner's locks does not visit every file.
	byOwner map[Owner]map[Key]bool
	held    int    // locks held, fcntl and flock
	seq     uint64 // last record sequence number
	// waiting maps each POSIX owner blocked in Set to its requests (a
	// multi-threaded process may have several at once). OFD owners are never
	// entered, as Linux leaves them out of deadlock detection.
	waiting map[Owner][]*waiter
}

// reserve accounts for n more locks (n < 0: fewer); m.mu is held. It fails
// with ENOLCK, charging nothing, when they do not fit.
func (m *Manager) reserve(n int) error {
	if n > 0 {
		limit := m.MaxLocks
		if limit <= 0 {
			limit = DefaultMaxLocks
		}
		if m.held+n > limit {
			return unix.ENOLCK
		}
		if m.Charge != nil && m.Charge(int64(n)*LockCost) != nil {
			return unix.ENOLCK
		}
	} else if n < 0 && m.Charge != nil {
		_ = m.Charge(int64(n) * LockCost)
	}
	m.held += n
	return nil
}

// Held returns the number of locks held, fcntl and flock.
func (m *Manager) Held() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held
}

// index records that o holds locks on k (or, with on false, no more).
func (m *Manager) index(o Owner, k Key, on bool) {
	if on {
		if m.byOwner == nil {
			m.byOwner = map[Owner]map[Key]bool{}
		}
		if m.byOwner[o] == nil {
			m.byOwner[o] = map[Key]bool{}
		}
		m.byOwner[o][k] = true
		return
	}
	if ks := m.byOwner[o]; ks != nil {
		delete(ks, k)
		if len(ks) == 0 {
			delete(m.byOwner, o)
		}
	}
}

// holds reports whether o has any lock on f.
func (f *file) holds(o Owner) bool {
	if t := f.owners[o]; t != nil && t.n > 0 {
		return true
	}
	return slices.ContainsFunc(f.flocks, func(r flockRecord) bool { return r.owner == o })
}

// file returns k's state, creating it; m.mu is held. Callers pair it with
// release so that files without locks or waiters do not accumulate.
func (m *Manager) file(k Key) *file {
	if m.files == nil {
		m.files = map[Key]*file{}
	}
	f := m.files[k]
	if f == nil {
		f = &file{}
		m.files[k] = f
	}
	return f
}

// release forgets k's state once nothing refers to it; m.mu is held.
func (m *Manager) release(k Key, f *file) {
	if f.empty() && m.files[k] == f {
		delete(m.files, k)
	}
}

// block sleeps until f changes or ctx is done (ERESTARTSYS). m.mu is held
// on entry and on return, and dropped while asleep. Taking the channel under
// m.mu is what makes a wake between the caller's check and the sleep
// impossible to miss.
func (m *Manager) block(f *file, ctx context.Context) error {
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	ch := f.changed
	f.waiters++
	m.mu.Unlock()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = restartSys
	}
	m.mu.Lock()
	f.waiters--
	return err
}

// Test implements F_GETLK: it returns the first lock (lowest Start) of
// another owner that conflicts with l, or l with Type F_UNLCK when l could
// be placed. o's own locks never conflict, as for F_SETLK. l should have
// passed Validate; an F_UNLCK l conflicts with nothing.
func (m *Manager) Test(k Key, o Owner, l Lock) Lock {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.files[k]; f != nil && l.Type != unix.F_UNLCK {
		if r, ok := f.conflict(o, l); ok {
			return r.Lock
		}
	}
	l.Type = unix.F_UNLCK
	return l
}

// conflict returns the first lock (lowest Start) of an owner other than o
// that excludes l.
func (f *file) conflict(o Owner, l Lock) (record, bool) {
	var found *record
	f.posix.overlapping(l.Start, l.End, func(r *record) bool {
		if r.owner != o && conflicts(r.Type, l.Type) {
			found = r
			return false
		}
		return true
	})
	if found == nil {
		return record{}, false
	}
	return *found, true
}

// Set implements F_SETLK and F_SETLKW (wait) and their OFD forms.
//
// F_UNLCK removes o's locks within the range, splitting locks that straddle
// its ends. F_RDLCK and F_WRLCK replace o's own locks within the range, which
// is how a process upgrades or downgrades (part of) a lock, and merge the
// result with o's adjacent or overlapping locks of the same type, so o never
// holds two touching locks of one type. A conflicting lock of another owner
// gives EAGAIN, or with wait sleeps until the lock can be placed, cancel
// closes (ERESTARTSYS), or placing it would close a cycle of POSIX owners
// each waiting for the next (EDEADLK).
//
// pid is what Test reports for o's locks. A negative pid marks o as an open
// file description: its locks report pid -1 and it takes no part in deadlock
// detection, as on Linux, where an OFD may be shared by many processes and a
// cycle through it proves nothing.
func (m *Manager) Set(k Key, o Owner, pid int32, l Lock, wait bool, ctx context.Context) error {
	if err := l.Validate(); err != nil {
		return err
	}
	posix := pid >= 0
	if !posix {
		pid = -1
	}
	l.Pid = pid

	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.file(k)
	defer m.release(k, f)

	if l.Type == unix.F_UNLCK {
		changed, err := m.set(k, f, o, l)
		if changed {
			f.wake()
		}
		return err
	}
	for registered := false; ; {
		if _, ok := f.conflict(o, l); !ok {
			if _, err := m.set(k, f, o, l); err != nil {
				return err
			}
			// Wake even on a plain new lock: replacing o's locks may have
			// downgraded or shrunk them, and waiters re-check deadlocks.
			f.wake()
			return nil
		}
		if !wait {
			return unix.EAGAIN
		}
		if posix {
			// Checked before every sleep, not just the first: the holders
			// may have changed, and a cycle may have formed meanwhile.
			if m.deadlock(k, o, l) {
				return unix.EDEADLK
			}
			if !registered {
				registered = true
				defer m.unwait(o, m.await(k, o, l))
			}
		}
		if err := m.block(f, ctx); err != nil {
			return err
		}
	}
}

// set applies l (any type) to o's locks in f and reports whether they
// changed: o's locks are cut out of [l.Start, l.End], l is added unless it
// is F_UNLCK, and o's same-type locks that overlap or touch l are merged
// into it, so o never holds two touching locks of one type. Only o's locks
// within one byte of the range are looked at. If the result would hold
// more locks than fit (reserve), nothing changes and the error is ENOLCK.
// m.mu is held.
func (m *Manager) set(k Key, f *file, o Owner, l Lock) (bool, error) {
	mine := f.owners[o]
	lo, hi := l.Start, l.End
	if lo > 0 {
		lo-- // a lock ending just before l touches it
	}
	if hi < ToEOF {
		hi++ // and one starting just after
	}
	var gone, parts []*record
	merged := l
	if mine != nil {
		mine.overlapping(lo, hi, func(r *record) bool {
			inside := r.overlaps(l.Start, l.End)
			switch {
			case l.Type != unix.F_UNLCK && r.Type == l.Type:
				// Same type, overlapping or touching: absorbed into l.
				merged.Start, merged.End = min(merged.Start, r.Start), max(merged.End, r.End)
				gone = append(gone, r)
			case inside:
				gone = append(gone, r)
				if r.Start < l.Start { // keep the part before the range
					left := *r
					left.End = l.Start - 1
					parts = append(parts, &left)
				}
				if r.End > l.End { // keep the part after; l.End < r.End, so no overflow
					right := *r
					right.Start = l.End + 1
					parts = append(parts, &right)
				}
			}
			return true
		})
	}
	if l.Type != unix.F_UNLCK {
		rec := merged
		parts = append(parts, &record{owner: o, Lock: rec})
	}
	if len(gone) == 0 && len(parts) == 0 {
		return false, nil
	}
	if err := m.reserve(len(parts) - len(gone)); err != nil {
		return false, err
	}
	if mine == nil {
		mine = &tree{}
		if f.owners == nil {
			f.owners = map[Owner]*tree{}
		}
		f.owners[o] = mine
	}
	for _, r := range gone {
		mine.remove(r)
		f.posix.remove(r)
	}
	for _, r := range parts {
		m.seq++
		r.seq = m.seq
		mine.insert(r)
		f.posix.insert(r)
	}
	if mine.n == 0 {
		delete(f.owners, o)
	}
	m.index(o, k, f.holds(o))
	return true, nil
}

// await records that POSIX owner o sleeps for l on k.
func (m *Manager) await(k Key, o Owner, l Lock) *waiter {
	if m.waiting == nil {
		m.waiting = map[Owner][]*waiter{}
	}
	w := &waiter{key: k, lock: l}
	m.waiting[o] = append(m.waiting[o], w)
	return w
}

// unwait undoes await; m.mu is held.
func (m *Manager) unwait(o Owner, w *waiter) {
	ws := slices.DeleteFunc(m.waiting[o], func(x *waiter) bool { return x == w })
	if len(ws) == 0 {
		delete(m.waiting, o)
	} else {
		m.waiting[o] = ws
	}
}

// deadlock reports whether o sleeping for l on k would close a cycle: o
// waits for the holders of conflicting locks, each of which (as a sleeping
// POSIX owner) waits for the holders of the locks it wants, and so on back
// to o. Edges are computed from the current locks rather than remembered,
// so they never go stale. Linux follows only the first blocker to a depth of
// ten; following all of them finds every cycle and terminates because each
// owner is expanded once.
func (m *Manager) deadlock(k Key, o Owner, l Lock) bool {
	seen := map[Owner]bool{}
	var reaches func(k Key, from Owner, l Lock) bool
	reaches = func(k Key, from Owner, l Lock) bool {
		f := m.files[k]
		if f == nil {
			return false
		}
		found := false
		f.posix.overlapping(l.Start, l.End, func(r *record) bool {
			if r.owner == from || !conflicts(r.Type, l.Type) {
				return true
			}
			if r.owner == o {
				found = true
				return false
			}
			if seen[r.owner] {
				return true
			}
			seen[r.owner] = true
			for _, w := range m.waiting[r.owner] {
				if reaches(w.key, r.owner, w.lock) {
					found = true
					return false
				}
			}
			return true
		})
		return found
	}
	return reaches(k, o, l)
}

// ReleaseOwner drops every lock of o on k, fcntl and flock alike: the shim
// calls it on any close of the file by a process (POSIX locks) and on the
// last close of an open file description (its OFD and flock locks).
func (m *Manager) ReleaseOwner(k Key, o Owner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.files[k]; f != nil {
		m.drop(k, f, o)
	}
}

// ReleaseAll drops every lock of o on every file, as at process exit.
func (m *Manager) ReleaseAll(o Owner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.byOwner[o] {
		if f := m.files[k]; f != nil {
			m.drop(k, f, o)
		}
	}
	delete(m.byOwner, o)
}

// drop removes o's locks from f and wakes waiters if there were any.
func (m *Manager) drop(k Key, f *file, o Owner) {
	n := f.posix.n + len(f.flocks)
	if mine := f.owners[o]; mine != nil {
		for _, r := range mine.all() {
			f.posix.remove(r)
		}
		delete(f.owners, o)
	}
	f.flocks = slices.DeleteFunc(f.flocks, func(r flockRecord) bool { return r.owner == o })
	if dropped := n - f.posix.n - len(f.flocks); dropped > 0 {
		_ = m.reserve(-dropped)
		f.wake()
	}
	m.index(o, k, false)
	m.release(k, f)
}

// Flock implements flock(2) for open file description o. op is LOCK_SH,
// LOCK_EX or LOCK_UN, optionally with LOCK_NB; anything else is EINVAL.
// Locking again with the held type is a no-op. A conflict gives EWOULDBLOCK
// with LOCK_NB and otherwise sleeps until the lock is free or ctx is done
// (ERESTARTSYS).
//
// Converting between LOCK_SH and LOCK_EX is not atomic, as on Linux and BSD
// (see flock(2)): the held lock is released first, so a pending request of
// another owner may be granted in between, and a conversion that fails
// (LOCK_NB) or is interrupted leaves o with no lock at all.
func (m *Manager) Flock(k Key, o Owner, op int, ctx context.Context) error {
	var typ int16
	switch op &^ unix.LOCK_NB {
	case unix.LOCK_SH:
		typ = unix.F_RDLCK
	case unix.LOCK_EX:
		typ = unix.F_WRLCK
	case unix.LOCK_UN:
		typ = unix.F_UNLCK
	default:
		return unix.EINVAL
	}
	nonblock := op&unix.LOCK_NB != 0

	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.file(k)
	defer m.release(k, f)

	if i := slices.IndexFunc(f.flocks, func(r flockRecord) bool { return r.owner == o }); i >= 0 {
		if f.flocks[i].typ == typ {
			return nil
		}
		f.flocks = slices.Delete(f.flocks, i, i+1)
		_ = m.reserve(-1)
		m.index(o, k, f.holds(o))
		f.wake()
	}
	if typ == unix.F_UNLCK {
		return nil
	}
	for {
		if !f.flockConflict(o, typ) {
			if err := m.reserve(1); err != nil {
				return err
			}
			// A new lock frees nothing, so there is no one to wake.
			f.flocks = append(f.flocks, flockRecord{owner: o, typ: typ})
			m.index(o, k, true)
			return nil
		}
		if nonblock {
			return unix.EWOULDBLOCK
		}
		if err := m.block(f, ctx); err != nil {
			return err
		}
	}
}

func (f *file) flockConflict(o Owner, typ int16) bool {
	for _, r := range f.flocks {
		if r.owner != o && conflicts(r.typ, typ) {
			return true
		}
	}
	return false
}

// Empty reports whether no file has any lock or waiter, so that callers can
// skip work (a stat per close) in the common case of a sandbox without locks.
func (m *Manager) Empty() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.files) == 0
}

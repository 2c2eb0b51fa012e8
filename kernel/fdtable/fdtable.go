// Package fdtable is a process's file descriptor table: small integers
// naming shared open file descriptions, with the close-on-exec flag kept per
// descriptor as on Linux.
package fdtable

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// File is an open file description with shared ownership.
type File interface {
	IncRef()
	DecRef() error
}

type entry[F File] struct {
	file    F
	cloexec bool
}

// Table maps descriptors to files. It is safe for concurrent use.
type Table[F File] struct {
	mu    sync.Mutex
	fds   map[int]entry[F]
	limit int // RLIMIT_NOFILE: descriptors must be < limit
	// sharers counts the processes using the table beyond the first
	// (CLONE_FILES without CLONE_THREAD; see Share).
	sharers int
}

// New returns an empty table allowing descriptors below limit.
func New[F File](limit int) *Table[F] {
	return &Table[F]{fds: make(map[int]entry[F]), limit: limit}
}

// Limit returns the descriptor limit.
func (t *Table[F]) Limit() int { t.mu.Lock(); defer t.mu.Unlock(); return t.limit }

// SetLimit changes the descriptor limit; existing descriptors stay.
func (t *Table[F]) SetLimit(n int) { t.mu.Lock(); t.limit = n; t.mu.Unlock() }

// Get returns the file for fd, or EBADF.
func (t *Table[F]) Get(fd int) (F, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if !ok {
		var zero F
		return zero, unix.EBADF
	}
	return e.file, nil
}

// Install gives f the lowest free descriptor >= min. The table takes over the
// caller's reference to f.
func (t *Table[F]) Install(f F, min int, cloexec bool) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if min < 0 || min >= t.limit {
		return -1, unix.EINVAL
	}
	for fd := min; fd < t.limit; fd++ {
		if _, used := t.fds[fd]; !used {
			t.fds[fd] = entry[F]{file: f, cloexec: cloexec}
			return fd, nil
		}
	}
	return -1, unix.EMFILE
}

// InstallAt puts f at exactly fd, closing what was there (dup2 semantics).
// The table takes over the caller's reference to f.
func (t *Table[F]) InstallAt(fd int, f F, cloexec bool) error {
	t.mu.Lock()
	if fd < 0 || fd >= t.limit {
		t.mu.Unlock()
		return unix.EBADF
	}
	old, had := t.fds[fd]
	t.fds[fd] = entry[F]{file: f, cloexec: cloexec}
	t.mu.Unlock()
	if had {
		_ = old.file.DecRef() // errors of an implicit close are dropped, as on Linux
	}
	return nil
}

// Close removes fd and drops its reference.
func (t *Table[F]) Close(fd int) error {
	t.mu.Lock()
	e, ok := t.fds[fd]
	delete(t.fds, fd)
	t.mu.Unlock()
	if !ok {
		return unix.EBADF
	}
	return e.file.DecRef()
}

// CloseOnExec reports the close-on-exec flag of fd.
func (t *Table[F]) CloseOnExec(fd int) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if !ok {
		return false, unix.EBADF
	}
	return e.cloexec, nil
}

// SetCloseOnExec sets the close-on-exec flag of fd.
func (t *Table[F]) SetCloseOnExec(fd int, on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if !ok {
		return unix.EBADF
	}
	e.cloexec = on
	t.fds[fd] = e
	return nil
}

// FDs returns the open descriptors in ascending order.
func (t *Table[F]) FDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int, 0, len(t.fds))
	for fd := range t.fds {
		out = append(out, fd)
	}
	sort.Ints(out)
	return out
}

// CloseAll drops every descriptor (process exit).
func (t *Table[F]) CloseAll() {
	t.mu.Lock()
	fds := t.fds
	t.fds = make(map[int]entry[F])
	t.mu.Unlock()
	for _, e := range fds {
		_ = e.file.DecRef()
	}
}

// Clone returns a copy of the table for a forked process: the same open
// files, each with one more reference, and the same close-on-exec flags.
func (t *Table[F]) Clone() *Table[F] {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &Table[F]{fds: make(map[int]entry[F], len(t.fds)), limit: t.limit}
	for fd, e := range t.fds {
		e.file.IncRef()
		c.fds[fd] = e
	}
	return c
}

// CloseOnExecAll closes every descriptor marked close-on-exec (execve).
func (t *Table[F]) CloseOnExecAll() {
	t.mu.Lock()
	var closing []F
	for fd, e := range t.fds {
		if e.cloexec {
			closing = append(closing, e.file)
			delete(t.fds, fd)
		}
	}
	t.mu.Unlock()
	for _, f := range closing {
		_ = f.DecRef()
	}
}

// Share returns the table for one more process (clone with CLONE_FILES):
// the same table, now released only when every sharer has released it.
func (t *Table[F]) Share() *Table[F] {
	t.mu.Lock()
	t.sharers++
	t.mu.Unlock()
	return t
}

// Shared reports whether another process uses the table too.
func (t *Table[F]) Shared() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.sharers > 0 }

// Release drops one process's use of the table (its exit): the last one
// closes every descriptor.
func (t *Table[F]) Release() {
	t.mu.Lock()
	if t.sharers > 0 {
		t.sharers--
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.CloseAll()
}

// Unshare returns a table of the caller's own: t itself when nobody else
// uses it, else a copy (unshare(CLONE_FILES), execve, close_range's
// CLOSE_RANGE_UNSHARE), t keeping its other sharers.
func (t *Table[F]) Unshare() *Table[F] {
	t.mu.Lock()
	if t.sharers == 0 {
		t.mu.Unlock()
		return t
	}
	t.sharers--
	t.mu.Unlock()
	return t.Clone()
}

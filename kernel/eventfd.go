package kernel

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// eventFD is an eventfd counter (eventfd2).
type eventFD struct {
	mu        sync.Mutex
	count     uint64
	semaphore bool
	ino       uint64
	k         *Kernel
}

const eventfdMax = ^uint64(0) - 1

// Eventfd creates an eventfd and returns its descriptor.
func (p *Process) Eventfd(initval uint, flags int) (int, error) {
	if flags&^(unix.EFD_CLOEXEC|unix.EFD_NONBLOCK|unix.EFD_SEMAPHORE) != 0 {
		return -1, unix.EINVAL
	}
	if err := p.k.charge(EventfdCost); err != nil {
		return -1, err
	}
	e := &eventFD{count: uint64(initval), semaphore: flags&unix.EFD_SEMAPHORE != 0, ino: vfs.NewIno(), k: p.k}
	f := vfs.NewAnonFile("anon_inode:[eventfd]", e, e, unix.O_RDWR|flags&unix.O_NONBLOCK)
	fd, err := p.FDs.Install(f, 0, flags&unix.EFD_CLOEXEC != 0)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

func (e *eventFD) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: anonDev, Ino: e.ino, Nlink: 1, Mode: 0o600, Uid: GuestUID, Gid: GuestGID,
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

// anonDev is the device of anonymous inodes (eventfd, epoll).
var anonDev = vfs.NewDev()

func (e *eventFD) IsStream() bool { return true }

func (e *eventFD) ReadAt(p []byte, _ int64) (int, error) { return e.ReadCancel(p, 0, nil) }

func (e *eventFD) WriteAt(p []byte, _ int64) (int, error) { return e.WriteCancel(p, 0, nil) }

func (e *eventFD) ReadCancel(p []byte, flags int, cancel <-chan struct{}) (int, error) {
	if len(p) < 8 {
		return 0, unix.EINVAL
	}
	for {
		changed := e.k.poll.wait()
		e.mu.Lock()
		if e.count > 0 {
			v := e.count
			if e.semaphore {
				v = 1
			}
			e.count -= v
			e.mu.Unlock()
			binary.LittleEndian.PutUint64(p, v)
			e.k.poll.notify()
			return 8, nil
		}
		e.mu.Unlock()
		if flags&unix.O_NONBLOCK != 0 {
			return 0, unix.EAGAIN
		}
		select {
		case <-changed:
		case <-cancel:
			return 0, ERESTARTSYS
		}
	}
}

func (e *eventFD) WriteCancel(p []byte, flags int, cancel <-chan struct{}) (int, error) {
	if len(p) < 8 {
		return 0, unix.EINVAL
	}
	v := binary.LittleEndian.Uint64(p)
	if v == ^uint64(0) {
		return 0, unix.EINVAL
	}
	for {
		changed := e.k.poll.wait()
		e.mu.Lock()
		if eventfdMax-e.count >= v {
			e.count += v
			e.mu.Unlock()
			e.k.poll.notify()
			return 8, nil
		}
		e.mu.Unlock()
		if flags&unix.O_NONBLOCK != 0 {
			return 0, unix.EAGAIN
		}
		select {
		case <-changed:
		case <-cancel:
			return 0, ERESTARTSYS
		}
	}
}

func (e *eventFD) Readiness() int16 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ev int16
	if e.count > 0 {
		ev |= unix.POLLIN
	}
	if e.count < eventfdMax {
		ev |= unix.POLLOUT
	}
	return ev
}

func (e *eventFD) Truncate(int64) error { return unix.EINVAL }
func (e *eventFD) Sync() error          { return unix.EINVAL }
func (e *eventFD) Close() error         { e.k.uncharge(EventfdCost); return nil }

// epollFile is an epoll instance.
type epollFile struct {
	mu       sync.Mutex
	interest map[int]*epollItem
	ino      uint64
	p        *Process
}

type epollItem struct {
	file     *vfs.File
	events   uint32
	data     uint64
	disabled bool  // EPOLLONESHOT fired
	last     int16 // readiness last reported, for edge-triggered items
}

// EpollCreate creates an epoll instance.
func (p *Process) EpollCreate(flags int) (int, error) {
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return -1, unix.EINVAL
	}
	if err := p.k.charge(EpollCost); err != nil {
		return -1, err
	}
	ep := &epollFile{interest: map[int]*epollItem{}, ino: vfs.NewIno(), p: p}
	f := vfs.NewAnonFile("anon_inode:[eventpoll]", ep, ep, unix.O_RDWR)
	fd, err := p.FDs.Install(f, 0, flags&unix.EPOLL_CLOEXEC != 0)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

func (ep *epollFile) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: anonDev, Ino: ep.ino, Nlink: 1, Mode: 0o600, Uid: GuestUID, Gid: GuestGID,
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}
func (ep *epollFile) IsStream() bool                     { return true }
func (ep *epollFile) ReadAt([]byte, int64) (int, error)  { return 0, unix.EINVAL }
func (ep *epollFile) WriteAt([]byte, int64) (int, error) { return 0, unix.EINVAL }
func (ep *epollFile) Truncate(int64) error               { return unix.EINVAL }
func (ep *epollFile) Sync() error                        { return unix.EINVAL }

// Close gives back the instance's charge and its watches'.
func (ep *epollFile) Close() error {
	ep.mu.Lock()
	n := len(ep.interest)
	ep.interest = map[int]*epollItem{}
	ep.mu.Unlock()
	ep.p.k.dropWatches(n)
	ep.p.k.uncharge(EpollCost)
	return nil
}

// Readiness: an epoll fd is readable when one of its items is ready.
func (ep *epollFile) Readiness() int16 {
	if len(ep.collect(1, true)) > 0 {
		return unix.POLLIN
	}
	return 0
}

func (p *Process) epoll(epfd int) (*epollFile, error) {
	f, err := p.FDs.Get(epfd)
	if err != nil {
		return nil, err
	}
	ep, ok := f.Ops().(*epollFile)
	if !ok {
		return nil, unix.EINVAL
	}
	return ep, nil
}

// EpollCtl adds, modifies or removes fd in the interest list of epfd.
func (p *Process) EpollCtl(epfd, op, fd int, events uint32, data uint64) error {
	ep, err := p.epoll(epfd)
	if err != nil {
		return err
	}
	f, err := p.FDs.Get(fd)
	if err != nil {
		return err
	}
	if fd == epfd {
		return unix.EINVAL
	}
	if st, err := f.Stat(); err == nil && (st.Mode&unix.S_IFMT == unix.S_IFREG || st.Mode&unix.S_IFMT == unix.S_IFDIR) {
		return unix.EPERM // regular files and directories cannot be polled by epoll
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	it, exists := ep.interest[fd]
	if exists && it.file != f {
		delete(ep.interest, fd) // the fd was closed and reused
		p.k.dropWatches(1)
		exists = false
	}
	switch op {
	case unix.EPOLL_CTL_ADD:
		if exists {
			return unix.EEXIST
		}
		if err := p.k.addWatch(p.PID); err != nil {
			return err
		}
		ep.interest[fd] = &epollItem{file: f, events: events, data: data}
	case unix.EPOLL_CTL_MOD:
		if !exists {
			return unix.ENOENT
		}
		it.events, it.data, it.disabled, it.last = events, data, false, 0
	case unix.EPOLL_CTL_DEL:
		if !exists {
			return unix.ENOENT
		}
		delete(ep.interest, fd)
		p.k.dropWatches(1)
	default:
		return unix.EINVAL
	}
	p.k.poll.notify()
	return nil
}

// EpollEvent is one ready item.
type EpollEvent struct {
	Events uint32
	Data   uint64
}

// collect returns up to max ready events; peek leaves edge/oneshot state.
func (ep *epollFile) collect(max int, peek bool) []EpollEvent {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var out []EpollEvent
	for fd, it := range ep.interest {
		if len(out) >= max {
			break
		}
		if cur, err := ep.p.FDs.Get(fd); err != nil || cur != it.file {
			delete(ep.interest, fd) // closed: Linux drops it with the file
			ep.p.k.dropWatches(1)
			continue
		}
		if it.disabled {
			continue
		}
		ready := it.file.Readiness()
		mask := int16(it.events) | unix.POLLERR | unix.POLLHUP
		got := ready & mask
		if it.events&unix.EPOLLET != 0 {
			newBits := got &^ it.last
			if !peek {
				it.last = got
			}
			got = newBits
		}
		if got == 0 {
			continue
		}
		if !peek && it.events&unix.EPOLLONESHOT != 0 {
			it.disabled = true
		}
		out = append(out, EpollEvent{Events: uint32(uint16(got)), Data: it.data})
	}
	return out
}

// EpollWait waits for ready items of epfd.
func (t *Task) EpollWait(epfd, max int, timeout *time.Duration) ([]EpollEvent, error) {
	if max <= 0 || max > 1<<20 {
		return nil, unix.EINVAL
	}
	ep, err := t.Proc.epoll(epfd)
	if err != nil {
		return nil, err
	}
	var timer <-chan time.Time
	if timeout != nil && *timeout > 0 {
		tm := time.NewTimer(*timeout)
		defer tm.Stop()
		timer = tm.C
	}
	for {
		changed := t.Proc.k.poll.wait()
		if evs := ep.collect(max, false); len(evs) > 0 {
			return evs, nil
		}
		if timeout != nil && *timeout <= 0 {
			return nil, nil
		}
		select {
		case <-changed:
		case <-timer:
			return nil, nil
		case <-t.Interrupted():
			return nil, ERESTARTNOHAND
		}
	}
}

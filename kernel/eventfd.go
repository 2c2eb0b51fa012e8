package kernel

import (
	"context"
	"encoding/binary"
	"sync"

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
	owner     [2]uint32 // the creator's fs uid and gid
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
	e := &eventFD{count: uint64(initval), semaphore: flags&unix.EFD_SEMAPHORE != 0, ino: vfs.NewIno(), k: p.k,
		owner: fsOwner(p)}
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
	return vfs.Stat{Dev: anonDev, Ino: e.ino, Nlink: 1, Mode: 0o600, Uid: e.owner[0], Gid: e.owner[1],
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

// anonDev is the device of anonymous inodes (eventfd, epoll).
var anonDev = vfs.NewDev()

func (e *eventFD) IsStream() bool { return true }

func (e *eventFD) ReadAt(p []byte, _ int64) (int, error) {
	return e.ReadCancel(p, 0, context.Background())
}

func (e *eventFD) WriteAt(p []byte, _ int64) (int, error) {
	return e.WriteCancel(p, 0, context.Background())
}

func (e *eventFD) ReadCancel(p []byte, flags int, ctx context.Context) (int, error) {
	if len(p) < 8 {
		return 0, unix.EINVAL
	}
	return e.k.waitReady(flags&unix.O_NONBLOCK != 0, ctx, func() (int, bool, error) {
		e.mu.Lock()
		if e.count == 0 {
			e.mu.Unlock()
			return 0, false, nil
		}
		v := e.count
		if e.semaphore {
			v = 1
		}
		e.count -= v
		e.mu.Unlock()
		binary.LittleEndian.PutUint64(p, v)
		e.k.poll.notify()
		return 8, true, nil
	})
}

func (e *eventFD) WriteCancel(p []byte, flags int, ctx context.Context) (int, error) {
	if len(p) < 8 {
		return 0, unix.EINVAL
	}
	v := binary.LittleEndian.Uint64(p)
	if v == ^uint64(0) {
		return 0, unix.EINVAL
	}
	return e.k.waitReady(flags&unix.O_NONBLOCK != 0, ctx, func() (int, bool, error) {
		e.mu.Lock()
		if eventfdMax-e.count < v {
			e.mu.Unlock()
			return 0, false, nil
		}
		e.count += v
		e.mu.Unlock()
		e.k.poll.notify()
		return 8, true, nil
	})
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

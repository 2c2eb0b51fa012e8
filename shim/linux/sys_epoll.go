package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func sysEventfd(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Proc.Eventfd(uint(uint32(a[0])), 0)
	return uint64(fd), err
}

func sysEventfd2(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Proc.Eventfd(uint(uint32(a[0])), int(a[1]))
	return uint64(fd), err
}

func sysEpollCreate(t *kernel.Task, a args) (uint64, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	fd, err := t.Proc.EpollCreate(0)
	return uint64(fd), err
}

func sysEpollCreate1(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Proc.EpollCreate(int(a[0]))
	return uint64(fd), err
}

func sysEpollCtl(t *kernel.Task, a args) (uint64, error) {
	var events uint32
	var data uint64
	if int(a[1]) != unix.EPOLL_CTL_DEL {
		b, err := t.CopyIn(a[3], 12) // struct epoll_event is packed on x86-64
		if err != nil {
			return 0, err
		}
		events, data = binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint64(b[4:])
	}
	return 0, t.Proc.EpollCtl(fdArg(a[0]), int(a[1]), fdArg(a[2]), events, data)
}

func sysEpollWait(t *kernel.Task, a args) (uint64, error) {
	return epollWait(t, a[0], a[1], a[2], int32(a[3]))
}

func sysEpollPwait(t *kernel.Task, a args) (uint64, error) {
	if a[4] != 0 {
		m, err := readSigset(t, a[4], a[5])
		if err != nil {
			return 0, err
		}
		t.SaveMask(m)
		n, err := epollWait(t, a[0], a[1], a[2], int32(a[3]))
		if err == nil {
			t.RestoreMask()
		}
		return n, err
	}
	return epollWait(t, a[0], a[1], a[2], int32(a[3]))
}

func epollWait(t *kernel.Task, epfd, addr, max uint64, ms int32) (uint64, error) {
	var timeout *time.Duration
	if ms >= 0 {
		d := time.Duration(ms) * time.Millisecond
		timeout = &d
	}
	if int32(max) <= 0 || max > 1<<20 {
		return 0, unix.EINVAL
	}
	evs, err := t.EpollWait(fdArg(epfd), int(max), timeout)
	if err != nil {
		return 0, err
	}
	b := make([]byte, 12*len(evs))
	for i, e := range evs {
		binary.LittleEndian.PutUint32(b[i*12:], e.Events)
		binary.LittleEndian.PutUint64(b[i*12+4:], e.Data)
	}
	return uint64(len(evs)), t.CopyOut(addr, b)
}

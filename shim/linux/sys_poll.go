package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func sysPipe(t *kernel.Task, a args) (uint64, error) { return makePipe(t, a[0], 0) }

func sysPipe2(t *kernel.Task, a args) (uint64, error) { return makePipe(t, a[0], int(a[1])) }

func sysPoll(t *kernel.Task, a args) (uint64, error) {
	var timeout *time.Duration
	if ms := int32(a[2]); ms >= 0 {
		d := time.Duration(ms) * time.Millisecond
		timeout = &d
	}
	return poll(t, a[0], a[1], timeout)
}

func sysPpoll(t *kernel.Task, a args) (uint64, error) {
	timeout, err := optTimespec(t, a[2])
	if err != nil {
		return 0, err
	}
	if a[3] != 0 {
		m, err := readSigset(t, a[3], a[4])
		if err != nil {
			return 0, err
		}
		t.SaveMask(m)
		n, err := poll(t, a[0], a[1], timeout)
		if err == nil {
			t.RestoreMask()
		}
		return n, err
	}
	return poll(t, a[0], a[1], timeout)
}

func sysSelect(t *kernel.Task, a args) (uint64, error) {
	var timeout *time.Duration
	if a[4] != 0 {
		b, err := t.CopyIn(a[4], 16)
		if err != nil {
			return 0, err
		}
		sec, usec := int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
		if sec < 0 || usec < 0 || usec >= 1e6 {
			return 0, unix.EINVAL
		}
		d := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		timeout = &d
	}
	return sel(t, a, timeout)
}

func sysPselect6(t *kernel.Task, a args) (uint64, error) {
	timeout, err := optTimespec(t, a[4])
	if err != nil {
		return 0, err
	}
	// The sixth argument is struct { const sigset_t *ss; size_t ss_len; }:
	// the mask to wait with, as ppoll's (make's jobserver waits for
	// SIGCHLD that way).
	if a[5] != 0 {
		b, err := t.CopyIn(a[5], 16)
		if err != nil {
			return 0, err
		}
		if ss := binary.LittleEndian.Uint64(b); ss != 0 {
			m, err := readSigset(t, ss, binary.LittleEndian.Uint64(b[8:]))
			if err != nil {
				return 0, err
			}
			t.SaveMask(m)
			n, err := sel(t, a, timeout)
			if err == nil {
				t.RestoreMask()
			}
			return n, err
		}
	}
	return sel(t, a, timeout)
}

func optTimespec(t *kernel.Task, addr uint64) (*time.Duration, error) {
	if addr == 0 {
		return nil, nil
	}
	d, err := readTimespec(t, addr)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func makePipe(t *kernel.Task, addr uint64, flags int) (uint64, error) {
	r, w, err := t.Proc.Pipe2(flags)
	if err != nil {
		return 0, err
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(r))
	b = binary.LittleEndian.AppendUint32(b, uint32(w))
	if err := t.CopyOut(addr, b); err != nil {
		_ = t.Proc.Close(r)
		_ = t.Proc.Close(w)
		return 0, err
	}
	return 0, nil
}

func poll(t *kernel.Task, addr, nfds uint64, timeout *time.Duration) (uint64, error) {
	if nfds > uint64(t.Proc.FDs.Limit()) {
		return 0, unix.EINVAL
	}
	raw, err := t.CopyIn(addr, int(nfds)*8)
	if err != nil {
		return 0, err
	}
	fds := make([]kernel.PollFd, nfds)
	for i := range fds {
		fds[i] = kernel.PollFd{Fd: int(int32(binary.LittleEndian.Uint32(raw[i*8:]))),
			Events: int16(binary.LittleEndian.Uint16(raw[i*8+4:]))}
	}
	n, err := t.Poll(fds, timeout)
	if err != nil {
		return 0, err
	}
	for i, f := range fds {
		binary.LittleEndian.PutUint16(raw[i*8+6:], uint16(f.Revents))
	}
	return uint64(n), t.CopyOut(addr, raw)
}

// sel serves select and pselect6 by translating fd_sets to a poll set.
func sel(t *kernel.Task, a args, timeout *time.Duration) (uint64, error) {
	nfds := int(int32(a[0]))
	if nfds < 0 || nfds > t.Proc.FDs.Limit() {
		return 0, unix.EINVAL
	}
	setBytes := (nfds + 63) / 64 * 8
	var sets [3][]byte
	for i, addr := range []uint64{a[1], a[2], a[3]} {
		if addr == 0 {
			continue
		}
		b, err := t.CopyIn(addr, setBytes)
		if err != nil {
			return 0, err
		}
		sets[i] = b
	}
	isSet := func(s []byte, fd int) bool { return s != nil && s[fd/8]&(1<<(fd%8)) != 0 }
	var fds []kernel.PollFd
	for fd := 0; fd < nfds; fd++ {
		var ev int16
		if isSet(sets[0], fd) {
			ev |= unix.POLLIN
		}
		if isSet(sets[1], fd) {
			ev |= unix.POLLOUT
		}
		if isSet(sets[2], fd) {
			ev |= unix.POLLPRI
		}
		if ev != 0 {
			if _, err := t.Proc.FDs.Get(fd); err != nil {
				return 0, unix.EBADF
			}
			fds = append(fds, kernel.PollFd{Fd: fd, Events: ev})
		}
	}
	if _, err := t.Poll(fds, timeout); err != nil {
		return 0, err
	}
	var out [3][]byte
	for i := range out {
		if sets[i] != nil {
			out[i] = make([]byte, setBytes)
		}
	}
	count := 0
	mark := func(i, fd int) {
		if out[i] != nil {
			out[i][fd/8] |= 1 << (fd % 8)
			count++
		}
	}
	for _, f := range fds {
		if f.Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 && f.Events&unix.POLLIN != 0 {
			mark(0, f.Fd)
		}
		if f.Revents&(unix.POLLOUT|unix.POLLERR) != 0 && f.Events&unix.POLLOUT != 0 {
			mark(1, f.Fd)
		}
		if f.Revents&unix.POLLPRI != 0 {
			mark(2, f.Fd)
		}
	}
	for i, addr := range []uint64{a[1], a[2], a[3]} {
		if out[i] != nil {
			if err := t.CopyOut(addr, out[i]); err != nil {
				return 0, err
			}
		}
	}
	return uint64(count), nil
}

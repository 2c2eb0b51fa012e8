package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/pipe"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// splice(2) and tee(2): pipes to files, files to pipes, pipes to pipes,
// through a kernel buffer (nothing is shared with the host, so "moving
// pages" is a copy; SPLICE_F_MOVE, SPLICE_F_MORE and SPLICE_F_GIFT are
// accepted and change nothing, as on Linux for most files).

// The splice flags (linux/splice.h).
const (
	SpliceFMove     = 0x1
	SpliceFNonblock = 0x2
	SpliceFMore     = 0x4
	SpliceFGift     = 0x8
	spliceFAll      = SpliceFMove | SpliceFNonblock | SpliceFMore | SpliceFGift
)

// pipeOf returns the pipe a file is an end of, or nil.
func pipeOf(f *vfs.File) *pipe.Pipe {
	if pf, ok := f.Ops().(pipeFile); ok {
		return pf.Pipe()
	}
	return nil
}

// canPosition reports whether the file has offsets (FMODE_PREAD/PWRITE).
func canPosition(f *vfs.File) bool {
	_, err := f.Seek(0, unix.SEEK_CUR)
	return err != unix.ESPIPE
}

// Splice implements splice(2) with Linux's order of checks; inOff and
// outOff are the offsets the caller passed (nil: none), advanced by what
// moved. A pipe that loses its readers gives EPIPE (the caller raises
// SIGPIPE).
func (t *Task) Splice(in int, inOff *int64, out int, outOff *int64, n uint64, flags uint32) (int, error) {
	if n == 0 {
		return 0, nil
	}
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	fin, err := t.Proc.FDs.Get(in)
	if err != nil {
		return 0, err
	}
	fout, err := t.Proc.FDs.Get(out)
	if err != nil {
		return 0, err
	}
	ip, op := pipeOf(fin), pipeOf(fout)
	if ip != nil && inOff != nil || op != nil && outOff != nil {
		return 0, unix.ESPIPE
	}
	if _, err := t.Proc.readable(in); err != nil {
		return 0, err
	}
	if _, err := t.Proc.writable(out); err != nil {
		return 0, err
	}
	size := int(min(n, maxRW))
	nonblock := flags&SpliceFNonblock != 0
	switch {
	case ip != nil && op != nil:
		if ip == op {
			return 0, unix.EINVAL
		}
		nonblock = nonblock || (fin.Flags()|fout.Flags())&unix.O_NONBLOCK != 0
		return ip.Transfer(op, size, false, nonblock, t.Interruptible())
	case ip != nil:
		if outOff != nil && !canPosition(fout) {
			return 0, unix.EINVAL
		}
		if fout.Flags()&unix.O_APPEND != 0 {
			return 0, unix.EINVAL
		}
		if outOff != nil && *outOff < 0 {
			return 0, unix.EINVAL
		}
		nonblock = nonblock || fin.Flags()&unix.O_NONBLOCK != 0
		return t.pipeToFile(ip, out, outOff, size, nonblock)
	case op != nil:
		if inOff != nil && !canPosition(fin) {
			return 0, unix.EINVAL
		}
		if inOff != nil && *inOff < 0 {
			return 0, unix.EINVAL
		}
		nonblock = nonblock || fout.Flags()&unix.O_NONBLOCK != 0
		return t.fileToPipe(in, inOff, op, size, nonblock)
	}
	return 0, unix.EINVAL
}

// pipeToFile writes what the pipe holds (up to n bytes, waiting for some
// unless nonblock) to out at *off or its position, taking from the pipe
// what was written.
func (t *Task) pipeToFile(p *pipe.Pipe, out int, off *int64, n int, nonblock bool) (int, error) {
	avail, err := p.WaitData(nonblock, t.Interruptible())
	if avail == 0 || err != nil {
		return 0, err
	}
	buf := make([]byte, min(n, avail))
	buf = buf[:p.Peek(buf)]
	var w int
	if off != nil {
		w, err = t.Pwrite(out, buf, *off)
	} else {
		w, err = t.Write(out, buf)
	}
	if w <= 0 {
		return 0, err
	}
	p.Discard(w)
	if off != nil {
		*off += int64(w)
	}
	return w, nil
}

// fileToPipe reads from in (at *off or its position) as much as the pipe
// has room for, up to n bytes, waiting for room unless nonblock.
func (t *Task) fileToPipe(in int, off *int64, p *pipe.Pipe, n int, nonblock bool) (int, error) {
	room, err := p.WaitRoom(nonblock, t.Interruptible())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, min(n, room))
	var r int
	if off != nil {
		r, err = t.Proc.Pread(in, buf, *off)
	} else {
		r, err = t.Read(in, buf)
	}
	if err == unix.EISDIR {
		err = unix.EINVAL // a directory has no splice_read
	}
	if r <= 0 {
		return 0, err
	}
	// The room was there; a racing writer may have taken some of it, and
	// then this waits like a write.
	w, err := p.Write(buf[:r], false, t.Interruptible())
	if off != nil {
		*off += int64(w)
	}
	if w > 0 {
		return w, nil
	}
	return 0, err
}

// Tee implements tee(2): copies up to n bytes from the pipe in to the
// pipe out without taking them.
func (t *Task) Tee(in, out int, n uint64, flags uint32) (int, error) {
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	if n == 0 {
		return 0, nil
	}
	fin, err := t.Proc.readable(in)
	if err != nil {
		return 0, err
	}
	fout, err := t.Proc.writable(out)
	if err != nil {
		return 0, err
	}
	ip, op := pipeOf(fin), pipeOf(fout)
	if ip == nil || op == nil || ip == op {
		return 0, unix.EINVAL
	}
	nonblock := flags&SpliceFNonblock != 0 || (fin.Flags()|fout.Flags())&unix.O_NONBLOCK != 0
	return ip.Transfer(op, int(min(n, maxRW)), true, nonblock, t.Interruptible())
}

// VmsplicePipe returns the pipe open as fd for vmsplice(2) (nil when fd
// is open but no pipe: the caller answers EBADF once it has checked the
// iovecs, in Linux's order) and whether fd is open for writing (guest
// memory goes into the pipe) or only reading (the pipe's data goes to
// guest memory).
func (p *Process) VmsplicePipe(fd int, flags uint32) (pp *pipe.Pipe, write bool, err error) {
	if flags&^spliceFAll != 0 {
		return nil, false, unix.EINVAL
	}
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, false, err
	}
	fl := f.Flags()
	if fl&unix.O_PATH != 0 {
		return nil, false, unix.EBADF
	}
	return pipeOf(f), fl&unix.O_ACCMODE != unix.O_RDONLY, nil
}

package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/lock"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Flock is the l_* part of struct flock after decoding.
type Flock struct {
	Type   int16
	Whence int16
	Start  int64
	Len    int64
	Pid    int32
}

func lockKey(f *vfs.File) (lock.Key, error) {
	st, err := f.Stat()
	if err != nil {
		return lock.Key{}, err
	}
	return lock.Key{Dev: st.Dev, Ino: st.Ino}, nil
}

// toRange turns a struct flock into an absolute inclusive byte range.
func toRange(f *vfs.File, fl Flock) (lock.Lock, error) {
	var base int64
	switch int(fl.Whence) {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off, err := f.Seek(0, unix.SEEK_CUR)
		if err != nil {
			return lock.Lock{}, err
		}
		base = off
	case unix.SEEK_END:
		st, err := f.Stat()
		if err != nil {
			return lock.Lock{}, err
		}
		base = st.Size
	default:
		return lock.Lock{}, unix.EINVAL
	}
	start := base + fl.Start
	end := int64(lock.ToEOF)
	switch {
	case fl.Len > 0:
		end = start + fl.Len - 1
	case fl.Len < 0:
		end = start - 1
		start += fl.Len
	}
	l := lock.Lock{Type: fl.Type, Start: start, End: end}
	if start < 0 {
		return l, unix.EINVAL
	}
	return l, l.Validate()
}

// RecordLock serves F_GETLK/F_SETLK/F_SETLKW and their OFD variants.
func (t *Task) RecordLock(fd, cmd int, fl Flock) (Flock, error) {
	p := t.Proc
	f, err := p.FDs.Get(fd)
	if err != nil {
		return fl, err
	}
	if f.Flags()&unix.O_PATH != 0 {
		return fl, unix.EBADF
	}
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	if ofd && fl.Pid != 0 {
		return fl, unix.EINVAL
	}
	var owner lock.Owner = p
	pid := int32(p.PID)
	if ofd {
		owner, pid = f, -1
		f.OnLastClose(func() { p.k.locks.ReleaseAll(f) })
	}
	l, err := toRange(f, fl)
	if err != nil {
		return fl, err
	}
	k, err := lockKey(f)
	if err != nil {
		return fl, err
	}
	switch cmd {
	case unix.F_GETLK, unix.F_OFD_GETLK:
		if fl.Type == unix.F_UNLCK {
			return fl, unix.EINVAL
		}
		c := p.k.locks.Test(k, owner, l)
		out := Flock{Type: c.Type, Whence: unix.SEEK_SET, Start: c.Start, Pid: c.Pid}
		if c.Type == unix.F_UNLCK {
			out = fl
			out.Type = unix.F_UNLCK
			return out, nil
		}
		if c.End != lock.ToEOF {
			out.Len = c.End - c.Start + 1
		}
		return out, nil
	}
	acc := f.Flags() & unix.O_ACCMODE
	if (fl.Type == unix.F_RDLCK && acc == unix.O_WRONLY) || (fl.Type == unix.F_WRLCK && acc == unix.O_RDONLY) {
		return fl, unix.EBADF
	}
	wait := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	return fl, p.k.locks.Set(k, owner, pid, l, wait, t.Interruptible())
}

// Flock serves flock(2).
func (t *Task) Flock(fd, op int) error {
	f, err := t.Proc.FDs.Get(fd)
	if err != nil {
		return err
	}
	if f.Flags()&unix.O_PATH != 0 {
		return unix.EBADF
	}
	k, err := lockKey(f)
	if err != nil {
		return err
	}
	p := t.Proc
	f.OnLastClose(func() { p.k.locks.ReleaseAll(f) })
	return p.k.locks.Flock(k, f, op, t.Interruptible())
}

// releasePOSIXLocks drops the process's record locks on the file behind a
// descriptor being closed: POSIX locks die with any close of the file.
func (p *Process) releasePOSIXLocks(f *vfs.File) {
	if p.k.locks.Empty() {
		return
	}
	if k, err := lockKey(f); err == nil {
		p.k.locks.ReleaseOwner(k, p)
	}
}

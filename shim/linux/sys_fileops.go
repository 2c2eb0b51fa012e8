package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// File syscalls added for issue 11 (FIFOs, ...), kept apart from sys_fs.go.

func sysMknod(t *kernel.Task, a args) (uint64, error) {
	return mknodat(t, unix.AT_FDCWD, a[0], a[1])
}

func sysMknodat(t *kernel.Task, a args) (uint64, error) {
	return mknodat(t, fdArg(a[0]), a[1], a[2])
}

// mknodat makes a FIFO or an empty regular file; device nodes are EPERM
// (the dev argument only matters for them, so it is not read).
func mknodat(t *kernel.Task, dirfd int, pathAddr, mode uint64) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Mknodat(dirfd, path, uint32(mode))
}

// encodeStatfs lays out struct statfs for x86-64 (120 bytes).
func encodeStatfs(st vfs.StatFS) []byte {
	b := make([]byte, 120)
	le := binary.LittleEndian
	for i, v := range []uint64{uint64(st.Type), uint64(st.Bsize), st.Blocks, st.Bfree, st.Bavail, st.Files, st.Ffree} {
		le.PutUint64(b[8*i:], v)
	}
	le.PutUint32(b[56:], uint32(st.Fsid[0]))
	le.PutUint32(b[60:], uint32(st.Fsid[1]))
	le.PutUint64(b[64:], uint64(st.Namelen))
	le.PutUint64(b[72:], uint64(st.Frsize))
	le.PutUint64(b[80:], uint64(st.Flags))
	return b
}

func sysStatfs(t *kernel.Task, a args) (uint64, error) {
	path, err := readPath(t, a[0])
	if err != nil {
		return 0, err
	}
	st, err := t.Proc.Statfs(path)
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeStatfs(st))
}

func sysFstatfs(t *kernel.Task, a args) (uint64, error) {
	st, err := t.Proc.Fstatfs(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeStatfs(st))
}

func sysSync(*kernel.Task, args) (uint64, error) { return 0, nil }

func sysSyncfs(t *kernel.Task, a args) (uint64, error) { return 0, t.Proc.Syncfs(fdArg(a[0])) }

func sysCloseRange(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.CloseRange(uint32(a[0]), uint32(a[1]), uint32(a[2]))
}

// RWF_* flags of preadv2/pwritev2 (linux/fs.h).
const (
	rwfHipri  = 0x01
	rwfDsync  = 0x02
	rwfSync   = 0x04
	rwfNowait = 0x08
	rwfAppend = 0x10
	rwfKnown  = rwfHipri | rwfDsync | rwfSync | rwfNowait | rwfAppend
)

// rwv2 validates preadv2/pwritev2's offset and flags: -1 is the file
// position (readv/writev), other negative offsets are EINVAL, unknown
// flags EOPNOTSUPP. RWF_NOWAIT on a stream that would wait is EAGAIN (on
// files nothing waits); RWF_HIPRI only asks for polling, which changes
// nothing here.
func rwv2(t *kernel.Task, fd int, off int64, flags uint64, write bool) error {
	if off < -1 {
		return unix.EINVAL
	}
	if flags&^rwfKnown != 0 {
		return unix.EOPNOTSUPP
	}
	if err := checkIO(t, fd, write); err != nil {
		return err
	}
	if flags&rwfNowait != 0 {
		f, err := t.Proc.FDs.Get(fd)
		if err != nil {
			return err
		}
		want := int16(unix.POLLIN)
		if write {
			want = unix.POLLOUT
		}
		if ev := f.Readiness(); ev&(want|unix.POLLHUP|unix.POLLERR) == 0 {
			return unix.EAGAIN
		}
	}
	return nil
}

func sysPreadv2(t *kernel.Task, a args) (uint64, error) {
	fd, off, flags := fdArg(a[0]), int64(a[3]), a[5]
	if err := rwv2(t, fd, off, flags, false); err != nil {
		return 0, err
	}
	if off == -1 {
		return sysReadv(t, a)
	}
	return sysPreadv(t, a)
}

func sysPwritev2(t *kernel.Task, a args) (uint64, error) {
	fd, off, flags := fdArg(a[0]), int64(a[3]), a[5]
	if err := rwv2(t, fd, off, flags, true); err != nil {
		return 0, err
	}
	var n uint64
	var err error
	switch {
	case flags&rwfAppend != 0:
		n, err = appendv(t, fd, a[1], a[2], off == -1)
	case off == -1:
		n, err = sysWritev(t, a)
	default:
		n, err = sysPwritev(t, a)
	}
	if err == nil && flags&(rwfDsync|rwfSync) != 0 {
		if serr := t.Proc.Fsync(fd); serr != nil && serr != unix.EINVAL {
			return n, serr
		}
	}
	return n, err
}

// appendv writes the iovecs at the end of the file whatever the offset
// (RWF_APPEND); with the file position (offset -1) it moves that too.
func appendv(t *kernel.Task, fd int, iov, cnt uint64, movePos bool) (uint64, error) {
	f, err := t.Proc.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	n, err := vectored(t, iov, cnt, func(v iovec) (uint64, error) {
		return writeFrom(t, v.base, v.len, func(b []byte) (int, error) {
			st, err := f.Stat()
			if err != nil {
				return 0, err
			}
			if !st.IsRegular() {
				return t.Write(fd, b)
			}
			return t.Pwrite(fd, b, st.Size)
		})
	})
	if movePos && n > 0 {
		_, _ = f.Seek(0, unix.SEEK_END)
	}
	return brokenPipe(t, n, err)
}

func sysFallocate(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Fallocate(fdArg(a[0]), uint32(a[1]), int64(a[2]), int64(a[3]))
}

// readOff reads the loff_t at addr (0: none).
func readOff(t *kernel.Task, addr uint64) (*int64, error) {
	if addr == 0 {
		return nil, nil
	}
	b, err := t.CopyIn(addr, 8)
	if err != nil {
		return nil, err
	}
	off := int64(binary.LittleEndian.Uint64(b))
	return &off, nil
}

// writeOff stores the advanced offset back at addr.
func writeOff(t *kernel.Task, addr uint64, off *int64) error {
	if off == nil {
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(*off))
	return t.CopyOut(addr, b[:])
}

func sysSendfile(t *kernel.Task, a args) (uint64, error) {
	out, in, offAddr, count := fdArg(a[0]), fdArg(a[1]), a[2], int64(a[3])
	if err := checkIO(t, in, false); err != nil {
		return 0, err
	}
	if err := checkIO(t, out, true); err != nil {
		return 0, err
	}
	of, _ := t.Proc.FDs.Get(out)
	if of.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	off, err := readOff(t, offAddr)
	if err != nil {
		return 0, err
	}
	if off != nil {
		if *off < 0 {
			return 0, unix.EINVAL
		}
		if _, err := t.Proc.Seek(in, 0, unix.SEEK_CUR); err == unix.ESPIPE {
			return 0, unix.ESPIPE
		}
	}
	if count <= 0 {
		return 0, writeOff(t, offAddr, off)
	}
	n, err := t.CopyFiles(in, out, off, nil, count)
	if werr := writeOff(t, offAddr, off); werr != nil && err == nil {
		err = werr
	}
	return brokenPipe(t, uint64(n), err)
}

func sysCopyFileRange(t *kernel.Task, a args) (uint64, error) {
	in, inAddr, out, outAddr, count, flags := fdArg(a[0]), a[1], fdArg(a[2]), a[3], int64(a[4]), a[5]
	if uint32(flags) != 0 {
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
	sin, err := fin.Stat()
	if err != nil {
		return 0, err
	}
	sout, err := fout.Stat()
	if err != nil {
		return 0, err
	}
	switch {
	case sin.IsDir() || sout.IsDir():
		return 0, unix.EISDIR
	case !sin.IsRegular() || !sout.IsRegular():
		return 0, unix.EINVAL
	}
	if checkIO(t, in, false) != nil || checkIO(t, out, true) != nil || fout.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	inOff, err := readOff(t, inAddr)
	if err != nil {
		return 0, err
	}
	outOff, err := readOff(t, outAddr)
	if err != nil {
		return 0, err
	}
	posOf := func(fd int, off *int64) int64 {
		if off != nil {
			return *off
		}
		pos, _ := t.Proc.Seek(fd, 0, unix.SEEK_CUR)
		return pos
	}
	pin, pout := posOf(in, inOff), posOf(out, outOff)
	if pin < 0 || pout < 0 {
		return 0, unix.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	if sin.Dev == sout.Dev && sin.Ino == sout.Ino && pin < pout+count && pout < pin+count {
		return 0, unix.EINVAL // overlapping ranges of one file
	}
	n, err := t.CopyFiles(in, out, inOff, outOff, count)
	if werr := writeOff(t, inAddr, inOff); werr != nil && err == nil {
		err = werr
	}
	if werr := writeOff(t, outAddr, outOff); werr != nil && err == nil {
		err = werr
	}
	return uint64(n), err
}

func sysMemfdCreate(t *kernel.Task, a args) (uint64, error) {
	name, err := readString(t, a[0], 249) // MFD_NAME_MAX_LEN
	if err == unix.ENAMETOOLONG {
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, err
	}
	fd, err := t.Proc.MemfdCreate(name, uint32(a[1]))
	return uint64(fd), err
}

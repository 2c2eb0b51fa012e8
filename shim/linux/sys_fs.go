package linux

import (
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func sysOpen(t *kernel.Task, a args) (uint64, error) {
	return openat(t, unix.AT_FDCWD, a[0], a[1], a[2])
}

func sysOpenat(t *kernel.Task, a args) (uint64, error) {
	return openat(t, fdArg(a[0]), a[1], a[2], a[3])
}

func sysCreat(t *kernel.Task, a args) (uint64, error) {
	return openat(t, unix.AT_FDCWD, a[0], unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, a[1])
}

func sysClose(t *kernel.Task, a args) (uint64, error) { return 0, t.Proc.Close(fdArg(a[0])) }

func sysStat(t *kernel.Task, a args) (uint64, error) { return fstatat(t, unix.AT_FDCWD, a[0], a[1], 0) }

func sysLstat(t *kernel.Task, a args) (uint64, error) {
	return fstatat(t, unix.AT_FDCWD, a[0], a[1], unix.AT_SYMLINK_NOFOLLOW)
}

func sysNewfstatat(t *kernel.Task, a args) (uint64, error) {
	return fstatat(t, fdArg(a[0]), a[1], a[2], int(a[3]))
}

func sysMkdir(t *kernel.Task, a args) (uint64, error) { return mkdirat(t, unix.AT_FDCWD, a[0], a[1]) }

func sysMkdirat(t *kernel.Task, a args) (uint64, error) { return mkdirat(t, fdArg(a[0]), a[1], a[2]) }

func sysUnlink(t *kernel.Task, a args) (uint64, error) { return unlinkat(t, unix.AT_FDCWD, a[0], 0) }

func sysRmdir(t *kernel.Task, a args) (uint64, error) {
	return unlinkat(t, unix.AT_FDCWD, a[0], unix.AT_REMOVEDIR)
}

func sysUnlinkat(t *kernel.Task, a args) (uint64, error) {
	return unlinkat(t, fdArg(a[0]), a[1], int(a[2]))
}

func sysRename(t *kernel.Task, a args) (uint64, error) {
	return renameat(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
}

func sysRenameat(t *kernel.Task, a args) (uint64, error) {
	return renameat(t, fdArg(a[0]), a[1], fdArg(a[2]), a[3], 0)
}

func sysRenameat2(t *kernel.Task, a args) (uint64, error) {
	return renameat(t, fdArg(a[0]), a[1], fdArg(a[2]), a[3], uint(a[4]))
}

func sysLink(t *kernel.Task, a args) (uint64, error) {
	return linkat(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
}

func sysLinkat(t *kernel.Task, a args) (uint64, error) {
	return linkat(t, fdArg(a[0]), a[1], fdArg(a[2]), a[3], int(int32(a[4])))
}

func sysSymlink(t *kernel.Task, a args) (uint64, error) {
	return symlinkat(t, a[0], unix.AT_FDCWD, a[1])
}

func sysSymlinkat(t *kernel.Task, a args) (uint64, error) {
	return symlinkat(t, a[0], fdArg(a[1]), a[2])
}

func sysReadlink(t *kernel.Task, a args) (uint64, error) {
	return readlinkat(t, unix.AT_FDCWD, a[0], a[1], a[2])
}

func sysReadlinkat(t *kernel.Task, a args) (uint64, error) {
	return readlinkat(t, fdArg(a[0]), a[1], a[2], a[3])
}

func sysAccess(t *kernel.Task, a args) (uint64, error) {
	return faccessat(t, unix.AT_FDCWD, a[0], a[1], 0)
}

func sysFaccessat(t *kernel.Task, a args) (uint64, error) {
	return faccessat(t, fdArg(a[0]), a[1], a[2], 0)
}

func sysFaccessat2(t *kernel.Task, a args) (uint64, error) {
	return faccessat(t, fdArg(a[0]), a[1], a[2], int(a[3]))
}

func sysFlock(t *kernel.Task, a args) (uint64, error) { return 0, t.Flock(fdArg(a[0]), int(a[1])) }

func sysDup(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Proc.Dup(fdArg(a[0]), 0, false)
	return uint64(fd), err
}

func sysDup2(t *kernel.Task, a args) (uint64, error) {
	return a[1], t.Proc.Dup2(fdArg(a[0]), fdArg(a[1]))
}

func sysDup3(t *kernel.Task, a args) (uint64, error) {
	return a[1], t.Proc.Dup3(fdArg(a[0]), fdArg(a[1]), int(a[2]))
}

func sysChdir(t *kernel.Task, a args) (uint64, error) {
	p, err := readPath(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Chdir(p)
}

func sysFchdir(t *kernel.Task, a args) (uint64, error) { return 0, t.Proc.Fchdir(fdArg(a[0])) }

func sysUmask(t *kernel.Task, a args) (uint64, error) { return uint64(t.Proc.Umask(uint32(a[0]))), nil }

func sysFtruncate(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Ftruncate(fdArg(a[0]), int64(a[1]))
}

func sysTruncate(t *kernel.Task, a args) (uint64, error) {
	p, err := readPath(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, t.Truncate(p, int64(a[1]))
}

func sysFsync(t *kernel.Task, a args) (uint64, error) { return 0, t.Proc.Fsync(fdArg(a[0])) }

func sysFdatasync(t *kernel.Task, a args) (uint64, error) { return 0, t.Proc.Fsync(fdArg(a[0])) }

func sysChmod(t *kernel.Task, a args) (uint64, error) { return fchmodat(t, unix.AT_FDCWD, a[0], a[1]) }

func sysFchmodat(t *kernel.Task, a args) (uint64, error) { return fchmodat(t, fdArg(a[0]), a[1], a[2]) }

func sysFchmod(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.Fchmod(fdArg(a[0]), uint32(a[1]))
}

// fdArg decodes a descriptor argument: the kernel reads it as a C int.
func fdArg(v uint64) int { return int(int32(v)) }

// checkIO validates fd for reading or writing before any guest memory is
// touched: Linux reports a bad or wrongly opened descriptor with EBADF
// even when the buffer is bad too.
func checkIO(t *kernel.Task, fd int, write bool) error {
	f, err := t.Proc.FDs.Get(fd)
	if err != nil {
		return err
	}
	fl := f.Flags()
	if mode := fl & unix.O_ACCMODE; fl&unix.O_PATH != 0 ||
		write && mode == unix.O_RDONLY || !write && mode == unix.O_WRONLY {
		return unix.EBADF
	}
	return nil
}

// readInto fills guest memory at addr with up to count bytes from rd,
// chunk by chunk, stopping at the first short read.
func readInto(t *kernel.Task, addr, count uint64, rd func([]byte) (int, error)) (uint64, error) {
	count = min(count, maxIO)
	buf, release := ioBuffer(count)
	defer release()
	var done uint64
	for done < count || count == 0 {
		chunk := buf[:min(uint64(len(buf)), count-done)]
		n, err := rd(chunk)
		n = min(max(n, 0), len(chunk)) // never past what rd could have filled
		if n > 0 {
			if cerr := t.CopyOut(addr+done, chunk[:n]); cerr != nil {
				if done > 0 {
					return done, nil
				}
				return 0, cerr
			}
			done += uint64(n)
		}
		if err != nil && done == 0 {
			if errors.Is(err, io.EOF) {
				return 0, nil
			}
			return 0, err
		}
		if err != nil || n < len(chunk) || count == 0 {
			break
		}
	}
	return done, nil
}

// writeFrom moves up to count bytes from guest memory at addr into wr.
func writeFrom(t *kernel.Task, addr, count uint64, wr func([]byte) (int, error)) (uint64, error) {
	count = min(count, maxIO)
	if count == 0 {
		_, err := wr(nil)
		return 0, err
	}
	var done uint64
	for done < count {
		chunk, err := t.CopyIn(addr+done, int(min(count-done, ioChunk)))
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		n, err := wr(chunk)
		done += uint64(n)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if n < len(chunk) {
			break
		}
	}
	return done, nil
}

func sysRead(t *kernel.Task, a args) (uint64, error) {
	fd := fdArg(a[0])
	if err := checkIO(t, fd, false); err != nil {
		return 0, err
	}
	return readInto(t, a[1], a[2], func(b []byte) (int, error) { return t.Read(fd, b) })
}

func sysWrite(t *kernel.Task, a args) (uint64, error) {
	fd := fdArg(a[0])
	if err := checkIO(t, fd, true); err != nil {
		return 0, err
	}
	wr := func(b []byte) (int, error) { return t.Write(fd, b) }
	if copiesWrites(t, fd) {
		n, err := writeFromScratch(t, a[1], a[2], wr)
		return brokenPipe(t, n, err)
	}
	n, err := writeFrom(t, a[1], a[2], wr)
	return brokenPipe(t, n, err)
}

// copiesWrites reports whether fd is a file whose writes copy the bytes
// they are given before they return, so the caller may reuse the buffer:
// an Internet socket (netstack copies into its own buffers). Other files
// may keep the slice (a Unix socket queues it).
func copiesWrites(t *kernel.Task, fd int) bool {
	_, s, err := t.Proc.SocketOf(fd)
	if err != nil {
		return false
	}
	fam := s.Family()
	return fam == unix.AF_INET || fam == unix.AF_INET6
}

// writeFromScratch is writeFrom for a wr that copies what it is given
// (copiesWrites): the guest's bytes go through one borrowed buffer rather
// than a fresh one per chunk.
func writeFromScratch(t *kernel.Task, addr, count uint64, wr func([]byte) (int, error)) (uint64, error) {
	count = min(count, maxIO)
	if count == 0 {
		_, err := wr(nil)
		return 0, err
	}
	buf, release := ioBuffer(count)
	defer release()
	var done uint64
	for done < count {
		chunk := buf[:min(uint64(len(buf)), count-done)]
		if _, err := t.Mem.CopyIn(addr+done, chunk); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EFAULT
		}
		n, err := wr(chunk)
		done += uint64(n)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if n < len(chunk) {
			break
		}
	}
	return done, nil
}

// brokenPipe raises SIGPIPE for a write that failed with EPIPE, as Linux
// does; its default action ends the process.
func brokenPipe(t *kernel.Task, n uint64, err error) (uint64, error) {
	if err != unix.EPIPE {
		return n, err
	}
	_ = t.SendSignal(senderInfo(t, unix.SIGPIPE, kernel.SIKernel))
	return 0, unix.EPIPE
}

func sysPread(t *kernel.Task, a args) (uint64, error) {
	fd, off := fdArg(a[0]), int64(a[3])
	if off < 0 {
		return 0, unix.EINVAL
	}
	if err := checkIO(t, fd, false); err != nil {
		return 0, err
	}
	return readInto(t, a[1], a[2], func(b []byte) (int, error) {
		n, err := t.Proc.Pread(fd, b, off)
		off += int64(n)
		return n, err
	})
}

func sysPwrite(t *kernel.Task, a args) (uint64, error) {
	fd, off := fdArg(a[0]), int64(a[3])
	if off < 0 {
		return 0, unix.EINVAL
	}
	if err := checkIO(t, fd, true); err != nil {
		return 0, err
	}
	return writeFrom(t, a[1], a[2], func(b []byte) (int, error) {
		n, err := t.Pwrite(fd, b, off)
		off += int64(n)
		return n, err
	})
}

// vectored copies the iovec array at iovAddr and transfers through it.
func vectored(t *kernel.Task, iovAddr, count uint64, xfer func(iovec) (uint64, error)) (uint64, error) {
	iovs, err := readIovecs(t, iovAddr, count)
	if err != nil {
		return 0, err
	}
	return vectoredIovs(t, iovs, xfer)
}

func sysReadv(t *kernel.Task, a args) (uint64, error) {
	fd := fdArg(a[0])
	if err := checkIO(t, fd, false); err != nil {
		return 0, err
	}
	return vectored(t, a[1], a[2], func(v iovec) (uint64, error) {
		return readInto(t, v.base, v.len, func(b []byte) (int, error) { return t.Read(fd, b) })
	})
}

func sysWritev(t *kernel.Task, a args) (uint64, error) {
	fd := fdArg(a[0])
	if err := checkIO(t, fd, true); err != nil {
		return 0, err
	}
	write := writeFrom
	if copiesWrites(t, fd) {
		write = writeFromScratch
	}
	n, err := vectored(t, a[1], a[2], func(v iovec) (uint64, error) {
		return write(t, v.base, v.len, func(b []byte) (int, error) { return t.Write(fd, b) })
	})
	return brokenPipe(t, n, err)
}

func sysPreadv(t *kernel.Task, a args) (uint64, error) {
	fd, off := fdArg(a[0]), int64(a[3])
	if off < 0 {
		return 0, unix.EINVAL
	}
	if err := checkIO(t, fd, false); err != nil {
		return 0, err
	}
	return vectored(t, a[1], a[2], func(v iovec) (uint64, error) {
		return readInto(t, v.base, v.len, func(b []byte) (int, error) {
			n, err := t.Proc.Pread(fd, b, off)
			off += int64(n)
			return n, err
		})
	})
}

func sysPwritev(t *kernel.Task, a args) (uint64, error) {
	fd, off := fdArg(a[0]), int64(a[3])
	if off < 0 {
		return 0, unix.EINVAL
	}
	if err := checkIO(t, fd, true); err != nil {
		return 0, err
	}
	return vectored(t, a[1], a[2], func(v iovec) (uint64, error) {
		return writeFrom(t, v.base, v.len, func(b []byte) (int, error) {
			n, err := t.Pwrite(fd, b, off)
			off += int64(n)
			return n, err
		})
	})
}

func openat(t *kernel.Task, dirfd int, pathAddr, flags, mode uint64) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	fd, err := t.Openat(dirfd, path, int(int32(flags)), uint32(mode))
	return uint64(fd), err
}

func sysLseek(t *kernel.Task, a args) (uint64, error) {
	off, err := t.Proc.Seek(fdArg(a[0]), int64(a[1]), int(int32(a[2])))
	return uint64(off), err
}

// encodeStat lays out struct stat for x86-64.
func encodeStat(st vfs.Stat) []byte {
	b := make([]byte, 144)
	le := binary.LittleEndian
	le.PutUint64(b[0:], st.Dev)
	le.PutUint64(b[8:], st.Ino)
	le.PutUint64(b[16:], st.Nlink)
	le.PutUint32(b[24:], st.Mode)
	le.PutUint32(b[28:], st.Uid)
	le.PutUint32(b[32:], st.Gid)
	le.PutUint64(b[40:], st.Rdev)
	le.PutUint64(b[48:], uint64(st.Size))
	le.PutUint64(b[56:], uint64(st.Blksize))
	le.PutUint64(b[64:], uint64(st.Blocks))
	for i, ts := range []unix.Timespec{st.Atime, st.Mtime, st.Ctime} {
		le.PutUint64(b[72+16*i:], uint64(ts.Sec))
		le.PutUint64(b[80+16*i:], uint64(ts.Nsec))
	}
	return b
}

func sysFstat(t *kernel.Task, a args) (uint64, error) {
	st, err := t.Proc.Fstat(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeStat(st))
}

func fstatat(t *kernel.Task, dirfd int, pathAddr, buf uint64, flags int) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil && !(err == unix.EFAULT && pathAddr == 0 && flags&unix.AT_EMPTY_PATH != 0) {
		return 0, err
	}
	st, err := t.Proc.Fstatat(dirfd, path, flags)
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(buf, encodeStat(st))
}

func sysStatx(t *kernel.Task, a args) (uint64, error) {
	dirfd, flags := fdArg(a[0]), int(int32(a[2]))
	path, err := readPath(t, a[1])
	if err != nil && !(a[1] == 0 && flags&unix.AT_EMPTY_PATH != 0) {
		return 0, err
	}
	if uint32(a[3])&unix.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	st, err := t.Proc.Fstatat(dirfd, path, flags&^0x6000)
	if err != nil {
		return 0, err
	}
	b := make([]byte, 256)
	le := binary.LittleEndian
	le.PutUint32(b[0:], unix.STATX_BASIC_STATS)
	le.PutUint32(b[4:], uint32(st.Blksize))
	le.PutUint32(b[16:], uint32(st.Nlink))
	le.PutUint32(b[20:], st.Uid)
	le.PutUint32(b[24:], st.Gid)
	le.PutUint16(b[28:], uint16(st.Mode))
	le.PutUint64(b[32:], st.Ino)
	le.PutUint64(b[40:], uint64(st.Size))
	le.PutUint64(b[48:], uint64(st.Blocks))
	for off, ts := range map[int]unix.Timespec{64: st.Atime, 96: st.Ctime, 112: st.Mtime} {
		le.PutUint64(b[off:], uint64(ts.Sec))
		le.PutUint32(b[off+8:], uint32(ts.Nsec))
	}
	le.PutUint32(b[128:], unix.Major(st.Rdev))
	le.PutUint32(b[132:], unix.Minor(st.Rdev))
	le.PutUint32(b[136:], unix.Major(st.Dev))
	le.PutUint32(b[140:], unix.Minor(st.Dev))
	return 0, t.CopyOut(a[4], b)
}

func sysGetdents64(t *kernel.Task, a args) (uint64, error) {
	return getdents(t, a, direntSize64, putDirent64)
}

// sysGetdents is the legacy getdents: struct linux_dirent, whose d_type is
// the record's last byte, after the name's NUL (old static binaries, such
// as busybox 1.28, still call it).
func sysGetdents(t *kernel.Task, a args) (uint64, error) {
	return getdents(t, a, direntSize, putDirent)
}

// linux_dirent64: ino, off, reclen, type, name, NUL, padded to 8.
func direntSize64(name string) int { return (19 + len(name) + 1 + 7) &^ 7 }

func putDirent64(rec []byte, e vfs.DirEntry, next int64) {
	binary.LittleEndian.PutUint64(rec[0:], e.Ino)
	binary.LittleEndian.PutUint64(rec[8:], uint64(next))
	binary.LittleEndian.PutUint16(rec[16:], uint16(len(rec)))
	rec[18] = e.Type
	copy(rec[19:], e.Name)
}

// linux_dirent: ino, off, reclen, name, NUL, (padding), type as the last
// byte, padded to 8 (Linux's ALIGN(offsetof(d_name) + namlen + 2)).
func direntSize(name string) int { return (18 + len(name) + 2 + 7) &^ 7 }

func putDirent(rec []byte, e vfs.DirEntry, next int64) {
	binary.LittleEndian.PutUint64(rec[0:], e.Ino)
	binary.LittleEndian.PutUint64(rec[8:], uint64(next))
	binary.LittleEndian.PutUint16(rec[16:], uint16(len(rec)))
	copy(rec[18:], e.Name)
	rec[len(rec)-1] = e.Type
}

// getdents fills the guest's buffer with as many records of the open
// directory as fit (at most 1 MiB per call), each made by put in size(name)
// bytes.
func getdents(t *kernel.Task, a args, size func(name string) int, put func(rec []byte, e vfs.DirEntry, next int64)) (uint64, error) {
	fd, addr, count := fdArg(a[0]), a[1], min(a[2], 1<<20)
	f, err := t.Proc.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	var out []byte
	err = f.GetdentsFunc(func(e vfs.DirEntry, next int64) bool {
		reclen := size(e.Name)
		if uint64(len(out)+reclen) > count {
			return false // stays for the next call
		}
		rec := make([]byte, reclen)
		put(rec, e, next)
		out = append(out, rec...)
		return true
	})
	if err != nil {
		return 0, err
	}
	if len(out) == 0 && count > 0 {
		// Either the end of the directory or a buffer too small for the
		// next entry; Linux tells the two apart with EINVAL.
		var pending bool
		_ = f.GetdentsFunc(func(vfs.DirEntry, int64) bool { pending = true; return false })
		if pending {
			return 0, unix.EINVAL
		}
	}
	return uint64(len(out)), t.CopyOut(addr, out)
}

func mkdirat(t *kernel.Task, dirfd int, pathAddr, mode uint64) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Mkdirat(dirfd, path, uint32(mode))
}

func unlinkat(t *kernel.Task, dirfd int, pathAddr uint64, flags int) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Unlinkat(dirfd, path, flags)
}

func renameat(t *kernel.Task, olddir int, oldAddr uint64, newdir int, newAddr uint64, flags uint) (uint64, error) {
	oldPath, err := readPath(t, oldAddr)
	if err != nil {
		return 0, err
	}
	newPath, err := readPath(t, newAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Renameat2(olddir, oldPath, newdir, newPath, flags)
}

func linkat(t *kernel.Task, olddir int, oldAddr uint64, newdir int, newAddr uint64, flags int) (uint64, error) {
	oldPath, err := readPath(t, oldAddr)
	if err != nil {
		return 0, err
	}
	newPath, err := readPath(t, newAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Linkat(olddir, oldPath, newdir, newPath, flags)
}

func symlinkat(t *kernel.Task, targetAddr uint64, dirfd int, pathAddr uint64) (uint64, error) {
	target, err := readPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Symlinkat(target, dirfd, path)
}

func readlinkat(t *kernel.Task, dirfd int, pathAddr, buf, size uint64) (uint64, error) {
	if int64(size) <= 0 {
		return 0, unix.EINVAL
	}
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	target, err := t.Proc.Readlinkat(dirfd, path)
	if err != nil {
		return 0, err
	}
	b := []byte(target)[:min(uint64(len(target)), size)]
	return uint64(len(b)), t.CopyOut(buf, b)
}

func faccessat(t *kernel.Task, dirfd int, pathAddr, mode uint64, flags int) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Faccessat(dirfd, path, uint32(mode), flags)
}

func fchmodat(t *kernel.Task, dirfd int, pathAddr, mode uint64) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Fchmodat(dirfd, path, uint32(mode))
}

func sysUtimensat(t *kernel.Task, a args) (uint64, error) {
	dirfd, flags := fdArg(a[0]), int(int32(a[3]))
	var path string
	if a[1] != 0 {
		var err error
		if path, err = readPath(t, a[1]); err != nil {
			return 0, err
		}
	}
	now := unix.NsecToTimespec(timeNow().UnixNano())
	times := [2]unix.Timespec{now, now}
	if a[2] != 0 {
		raw, err := t.CopyIn(a[2], 32)
		if err != nil {
			return 0, err
		}
		for i := range times {
			sec := int64(binary.LittleEndian.Uint64(raw[16*i:]))
			nsec := int64(binary.LittleEndian.Uint64(raw[16*i+8:]))
			switch nsec {
			case unix.UTIME_NOW:
			case unix.UTIME_OMIT:
				times[i] = unix.Timespec{Sec: 0, Nsec: unix.UTIME_OMIT}
			default:
				if nsec < 0 || nsec >= 1e9 {
					return 0, unix.EINVAL
				}
				times[i] = unix.Timespec{Sec: sec, Nsec: nsec}
			}
		}
	}
	return 0, t.Proc.Utimensat(dirfd, path, times[0], times[1], flags)
}

// The legacy time-setting calls (utime, utimes, futimesat: old libcs and
// static binaries, e.g. a 2018 busybox's touch) are utimensat with coarser
// times: NULL is now for both, as utimensat's NULL.

// sysUtime is utime(path, struct utimbuf *): whole seconds.
func sysUtime(t *kernel.Task, a args) (uint64, error) {
	path, err := readPath(t, a[0])
	if err != nil {
		return 0, err
	}
	times, err := legacyTimes(t, a[1], 16, func(raw []byte, i int) (unix.Timespec, error) {
		return unix.Timespec{Sec: int64(binary.LittleEndian.Uint64(raw[8*i:]))}, nil
	})
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Utimensat(unix.AT_FDCWD, path, times[0], times[1], 0)
}

// sysUtimes is utimes(path, struct timeval[2]).
func sysUtimes(t *kernel.Task, a args) (uint64, error) {
	return futimesat(t, unix.AT_FDCWD, a[0], a[1], false)
}

// sysFutimesat is futimesat(dirfd, path, struct timeval[2]); a NULL path
// names dirfd itself, as Linux's do_utimes.
func sysFutimesat(t *kernel.Task, a args) (uint64, error) {
	return futimesat(t, fdArg(a[0]), a[1], a[2], true)
}

func futimesat(t *kernel.Task, dirfd int, pathPtr, timesPtr uint64, nullPath bool) (uint64, error) {
	var path string
	if pathPtr != 0 || !nullPath {
		var err error
		if path, err = readPath(t, pathPtr); err != nil {
			return 0, err
		}
	}
	times, err := legacyTimes(t, timesPtr, 32, func(raw []byte, i int) (unix.Timespec, error) {
		sec := int64(binary.LittleEndian.Uint64(raw[16*i:]))
		usec := int64(binary.LittleEndian.Uint64(raw[16*i+8:]))
		if usec < 0 || usec >= 1e6 {
			return unix.Timespec{}, unix.EINVAL
		}
		return unix.Timespec{Sec: sec, Nsec: usec * 1000}, nil
	})
	if err != nil {
		return 0, err
	}
	return 0, t.Proc.Utimensat(dirfd, path, times[0], times[1], 0)
}

// legacyTimes reads the two times at ptr (size bytes, decoded by each);
// NULL is now for both.
func legacyTimes(t *kernel.Task, ptr uint64, size int, each func(raw []byte, i int) (unix.Timespec, error)) ([2]unix.Timespec, error) {
	now := unix.NsecToTimespec(timeNow().UnixNano())
	times := [2]unix.Timespec{now, now}
	if ptr == 0 {
		return times, nil
	}
	raw, err := t.CopyIn(ptr, size)
	if err != nil {
		return times, err
	}
	for i := range times {
		if times[i], err = each(raw, i); err != nil {
			return times, err
		}
	}
	return times, nil
}

func sysGetcwd(t *kernel.Task, a args) (uint64, error) {
	path, err := t.Proc.Cwd()
	if err != nil {
		return 0, err
	}
	cwd := append([]byte(path), 0)
	if uint64(len(cwd)) > a[1] {
		return 0, unix.ERANGE
	}
	return uint64(len(cwd)), t.CopyOut(a[0], cwd)
}

// fionbio is FIONBIO, which x/sys/unix does not export.
const fionbio = 0x5421

func sysFcntl(t *kernel.Task, a args) (uint64, error) {
	fd, cmd := fdArg(a[0]), int(int32(a[1]))
	switch cmd {
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		raw, err := t.CopyIn(a[2], 32) // struct flock
		if err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		fl := kernel.Flock{Type: int16(le.Uint16(raw[0:])), Whence: int16(le.Uint16(raw[2:])),
			Start: int64(le.Uint64(raw[8:])), Len: int64(le.Uint64(raw[16:])), Pid: int32(le.Uint32(raw[24:]))}
		out, err := t.RecordLock(fd, cmd, fl)
		if err != nil {
			return 0, err
		}
		if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
			le.PutUint16(raw[0:], uint16(out.Type))
			le.PutUint16(raw[2:], uint16(out.Whence))
			le.PutUint64(raw[8:], uint64(out.Start))
			le.PutUint64(raw[16:], uint64(out.Len))
			le.PutUint32(raw[24:], uint32(out.Pid))
			return 0, t.CopyOut(a[2], raw)
		}
		return 0, nil
	}
	r, err := t.Proc.FcntlInt(fd, cmd, a[2])
	return uint64(r), err
}

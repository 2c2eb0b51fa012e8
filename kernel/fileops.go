package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/pipe"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Openat is Process.Openat for a thread: an open that waits (a FIFO
// waiting for its other end) is interrupted by signals for t.
func (t *Task) Openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	return t.Proc.openat(dirfd, path, flags, mode, t)
}

// pipeFile is implemented by the operations of files that are pipe ends
// (FIFOs, pipes reopened through /proc/self/fd).
type pipeFile interface{ Pipe() *pipe.Pipe }

// watchPipe hooks a newly opened pipe end to the kernel's poll notifier:
// a FIFO's pipe is made by the open, outside the kernel.
func (p *Process) watchPipe(f *vfs.File) {
	if pf, ok := f.Ops().(pipeFile); ok {
		pf.Pipe().SetNotify(p.k.poll.notify)
	}
}

// Mknodat makes a FIFO (S_IFIFO, or a mode without a type: a regular
// file, which mknod then makes); device nodes need CAP_MKNOD, which the
// guest never has: EPERM, as Linux says to an unprivileged caller.
func (p *Process) Mknodat(dirfd int, path string, mode uint32) error {
	switch mode & unix.S_IFMT {
	case 0, unix.S_IFREG:
		fd, err := p.openat(dirfd, path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, mode&0o7777, nil)
		if err != nil {
			return err
		}
		return p.Close(fd)
	case unix.S_IFIFO:
	case unix.S_IFCHR, unix.S_IFBLK:
		return unix.EPERM
	case unix.S_IFSOCK:
		// A socket inode no socket is bound to: connect gets ECONNREFUSED.
		return p.create(dirfd, path, mode, func(at vfs.Loc, path string, mode uint32) error {
			_, err := p.k.cfg.FS.BindSocketAt(at, path, mode, nil)
			return err
		})
	default:
		return unix.EINVAL
	}
	return p.create(dirfd, path, mode, p.k.cfg.FS.MknodAt)
}

// Statfs answers statfs(2) for a path.
func (p *Process) Statfs(path string) (vfs.StatFS, error) {
	at, err := p.at(unix.AT_FDCWD, path)
	if err != nil {
		return vfs.StatFS{}, err
	}
	defer at.Release()
	return p.k.cfg.FS.StatFSAt(at, path)
}

// Fstatfs answers fstatfs(2) (O_PATH descriptors included, as on Linux).
func (p *Process) Fstatfs(fd int) (vfs.StatFS, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return vfs.StatFS{}, err
	}
	return f.StatFS()
}

// Syncfs checks fd: every file system of the sandbox writes through at
// once (memfs holds memory only, hostfs writes reach the host kernel as
// they are made), so there is nothing left to flush.
func (p *Process) Syncfs(fd int) error {
	_, err := p.FDs.Get(fd)
	return err
}

// Close-range flags (linux/close_range.h).
const (
	closeRangeUnshare = 1 << 1
	closeRangeCloexec = 1 << 2
)

// CloseRange closes (or, with CLOSE_RANGE_CLOEXEC, marks close-on-exec)
// the open descriptors from first to last. With CLOSE_RANGE_UNSHARE the
// process first gets a table of its own if a CLONE_FILES sibling process
// shares it. Descriptor tables are per process here (Linux's are per
// thread, shared by pthreads): a multi-threaded caller whose table another
// process shares cannot unshare it for itself alone, and gets EINVAL
// (logged).
func (p *Process) CloseRange(first, last uint32, flags uint32) error {
	if flags&^(closeRangeUnshare|closeRangeCloexec) != 0 || first > last {
		return unix.EINVAL
	}
	if flags&closeRangeUnshare != 0 && p.FDs.Shared() {
		if p.ThreadCount() > 1 {
			p.k.Unsupported("close_range(CLOSE_RANGE_UNSHARE) in a multi-threaded process sharing its table", unix.SYS_CLOSE_RANGE, p.PID)
			return unix.EINVAL
		}
		p.unshareFiles()
	}
	for _, fd := range p.FDs.FDs() {
		if fd < 0 || uint32(fd) < first || uint32(fd) > last {
			continue
		}
		if flags&closeRangeCloexec != 0 {
			_ = p.FDs.SetCloseOnExec(fd, true)
		} else {
			_ = p.Close(fd)
		}
	}
	return nil
}

// fcntlFile serves the fcntl commands of issue 11: the pipe buffer size,
// seals, and F_NOTIFY (dnotify, kernel/dnotify.go).
func (p *Process) fcntlFile(f *vfs.File, cmd int, arg uint64) (int, error) {
	switch cmd {
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		pf, ok := f.Ops().(pipeFile)
		if !ok {
			return -1, unix.EBADF
		}
		if cmd == unix.F_GETPIPE_SZ {
			return pf.Pipe().Cap(), nil
		}
		return pf.Pipe().SetCap(uint32(arg))
	case unix.F_GET_SEALS, unix.F_ADD_SEALS:
		s, ok := f.Ops().(sealer)
		if !ok {
			return -1, unix.EINVAL // not a memfs file (Linux: not shmem)
		}
		if cmd == unix.F_GET_SEALS {
			return s.Seals()
		}
		return 0, s.AddSeals(int(int32(arg)))
	case unix.F_NOTIFY:
		return p.fcntlNotify(f, uint32(arg))
	}
	return -1, unix.EINVAL
}

// sealer is implemented by FileOps of files that carry seals (memfs).
type sealer interface {
	Seals() (int, error)
	AddSeals(seals int) error
}

// allocator is implemented by FileOps that can reserve space (memfs).
type allocator interface {
	Allocate(mode uint32, off, n int64) error
}

// Fallocate implements fallocate modes 0 and FALLOC_FL_KEEP_SIZE on memfs
// files; other modes, and other file systems, are EOPNOTSUPP. Growing past
// RLIMIT_FSIZE raises SIGXFSZ as a write would.
func (t *Task) Fallocate(fd int, mode uint32, off, n int64) error {
	p := t.Proc
	f, err := p.FDs.Get(fd)
	if err != nil {
		return err
	}
	if off < 0 || n <= 0 {
		return unix.EINVAL
	}
	if mode&^unix.FALLOC_FL_KEEP_SIZE != 0 {
		return unix.EOPNOTSUPP
	}
	if fl := f.Flags(); fl&unix.O_PATH != 0 || fl&unix.O_ACCMODE == unix.O_RDONLY {
		return unix.EBADF
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return unix.EISDIR
	case unix.S_IFIFO:
		return unix.ESPIPE
	default:
		return unix.ENODEV
	}
	if off+n < 0 {
		return unix.EFBIG
	}
	a, ok := f.Ops().(allocator)
	if !ok {
		return unix.EOPNOTSUPP
	}
	if mode&unix.FALLOC_FL_KEEP_SIZE == 0 {
		if err := t.checkGrow(st.Size, off+n); err != nil {
			return err
		}
	}
	return a.Allocate(mode, off, n)
}

// maxRW is MAX_RW_COUNT: Linux moves at most this much in one call.
const maxRW = 0x7ffff000

// CopyFiles moves up to n bytes from descriptor in to out through a
// kernel buffer (sendfile, copy_file_range): from *inOff (nil: in's file
// position) to *outOff (nil: out's), advancing what it was given. It stops
// at end of file, at a short write, or when a signal interrupts it after
// some bytes moved (the count is returned then, as Linux does).
func (t *Task) CopyFiles(in, out int, inOff, outOff *int64, n int64) (int64, error) {
	n = min(n, maxRW)
	buf := make([]byte, min(n, 1<<16))
	var done int64
	for done < n {
		chunk := buf[:min(int64(len(buf)), n-done)]
		var r int
		var err error
		if inOff != nil {
			r, err = t.Proc.Pread(in, chunk, *inOff)
		} else {
			r, err = t.Read(in, chunk)
		}
		if r <= 0 {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		w := 0
		for w < r {
			var m int
			if outOff != nil {
				m, err = t.Pwrite(out, chunk[w:r], *outOff+int64(w))
			} else {
				m, err = t.Write(out, chunk[w:r])
			}
			if m <= 0 {
				break
			}
			w += m
		}
		if inOff != nil {
			*inOff += int64(w)
		} else if w < r {
			// Give back what was read but not written, where in can.
			_, _ = t.Proc.Seek(in, int64(w-r), unix.SEEK_CUR)
		}
		if outOff != nil {
			*outOff += int64(w)
		}
		done += int64(w)
		if w < r {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if r < len(chunk) {
			break
		}
	}
	return done, nil
}

// memfd_create flags (linux/memfd.h).
const (
	mfdCloexec      = 0x1
	mfdAllowSealing = 0x2
	mfdHugetlb      = 0x4
	mfdNoexecSeal   = 0x8
	mfdExec         = 0x10
	// memfdNameMax is the longest name: NAME_MAX minus "memfd:".
	memfdNameMax = 249
)

// unlinkedMaker is a file system that makes files linked nowhere (memfs).
type unlinkedMaker interface {
	NewUnlinked(sealing bool) (vfs.Node, vfs.FileOps, error)
}

// MemfdCreate makes an anonymous memory file (memfd_create): a memfs file
// linked in no directory, charged to the root file system's budget (the
// one /tmp shares), shown as "/memfd:NAME (deleted)". MFD_HUGETLB is
// EINVAL, as on a host without huge pages.
func (p *Process) MemfdCreate(name string, flags uint32) (int, error) {
	if flags&^(mfdCloexec|mfdAllowSealing|mfdHugetlb|mfdNoexecSeal|mfdExec) != 0 ||
		flags&(mfdExec|mfdNoexecSeal) == mfdExec|mfdNoexecSeal {
		return -1, unix.EINVAL
	}
	if flags&mfdHugetlb != 0 {
		p.k.Unsupported("memfd_create(MFD_HUGETLB)", unix.SYS_MEMFD_CREATE, p.PID)
		return -1, unix.EINVAL
	}
	if len(name) > memfdNameMax {
		return -1, unix.EINVAL
	}
	mk, ok := p.k.cfg.FS.RootFS().(unlinkedMaker)
	if !ok {
		p.k.Unsupported("memfd_create (no memory file system)", unix.SYS_MEMFD_CREATE, p.PID)
		return -1, unix.ENOSYS
	}
	n, ops, err := mk.NewUnlinked(flags&(mfdAllowSealing|mfdNoexecSeal) != 0)
	if err != nil {
		return -1, err
	}
	f := vfs.NewAnonFile("/memfd:"+name+" (deleted)", n, ops, unix.O_RDWR|unix.O_LARGEFILE)
	fd, err := p.FDs.Install(f, 0, flags&mfdCloexec != 0)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

// unshareFiles gives the process a descriptor table of its own, if it
// shares one with another process (CLONE_FILES). The caller is the
// process's only thread (execve once the others are gone, close_range).
func (p *Process) unshareFiles() {
	if t := p.FDs.Unshare(); t != p.FDs {
		p.mu.Lock()
		p.FDs = t
		p.mu.Unlock()
	}
}

// ThreadCount returns the number of live threads of the process.
func (p *Process) ThreadCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tasks)
}

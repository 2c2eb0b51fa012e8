package kernel

import (
	"encoding/binary"
	"log/slog"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/socket"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// pathMax bounds every guest path, as PATH_MAX does on Linux.
const pathMax = 4096

// at returns where a walk of path given relative to dirfd (or the working
// directory for AT_FDCWD) starts: the process's root, and the working
// directory's or dirfd's dentry. The references it holds are released with
// Loc.Release.
func (p *Process) at(dirfd int, path string) (vfs.Loc, error) {
	if path == "" {
		return vfs.Loc{}, unix.ENOENT
	}
	if len(path) >= pathMax {
		return vfs.Loc{}, unix.ENAMETOOLONG
	}
	rel := path[0] != '/'
	loc, err := p.fs.at(rel && dirfd == unix.AT_FDCWD)
	loc.Ctx = p.ctx // /proc/self answers for p
	loc.Cred = p.Creds()
	if err != nil || !rel || dirfd == unix.AT_FDCWD {
		return loc, err
	}
	d, err := p.dirDentry(dirfd)
	if err != nil {
		loc.Release()
		return vfs.Loc{}, err
	}
	loc.Dir = d
	return loc, nil
}

// dirDentry returns the dentry of the directory open as fd, referenced:
// EBADF, or ENOTDIR when fd is not a directory.
func (p *Process) dirDentry(fd int) (*vfs.Dentry, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	d := f.Dentry()
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || d == nil {
		return nil, unix.ENOTDIR
	}
	if !d.TryIncRef() {
		return nil, unix.EBADF // closed meanwhile
	}
	return d, nil
}

// Path resolves a guest path given relative to dirfd (or the working
// directory for AT_FDCWD) into an absolute guest path: the path the
// directory's dentry has now, joined without cleaning (".." must be walked
// by the VFS, after symlinks). Callers that can should walk from the
// dentry instead (at), which no rename can race.
func (p *Process) Path(dirfd int, path string) (string, error) {
	loc, err := p.at(dirfd, path)
	if err != nil {
		return "", err
	}
	defer loc.Release()
	if loc.Dir == nil {
		return path, nil
	}
	return strings.TrimSuffix(loc.Dir.Path(), "/") + "/" + path, nil
}

// Openat opens a file and returns the new descriptor. An open that must
// wait (a FIFO) waits uninterruptibly; threads use Task.Openat.
func (p *Process) Openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	return p.openat(dirfd, path, flags, mode, nil)
}

// openat opens a file for p; w (nil: none) interrupts an open that waits.
func (p *Process) openat(dirfd int, path string, flags int, mode uint32, w vfs.Waiter) (int, error) {
	at, err := p.at(dirfd, path)
	if err != nil {
		return -1, err
	}
	defer at.Release()
	at.Wait = w
	p.mu.Lock()
	mode &^= p.umask
	p.mu.Unlock()
	f, err := p.k.cfg.FS.OpenAt(at, path, flags, mode&0o7777)
	if err != nil {
		return -1, err
	}
	p.watchPipe(f)
	p.openedTerminal(f, flags)
	fd, err := p.FDs.Install(f, 0, flags&unix.O_CLOEXEC != 0)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

// OpenFile opens a guest path for the kernel's own use (the loader).
func (p *Process) OpenFile(path string, flags int) (*vfs.File, error) {
	at, err := p.at(unix.AT_FDCWD, path)
	if err != nil {
		return nil, err
	}
	defer at.Release()
	return p.k.cfg.FS.OpenAt(at, path, flags, 0)
}

// Close closes a descriptor, dropping the process's record locks on the
// file as POSIX requires.
func (p *Process) Close(fd int) error {
	if f, err := p.FDs.Get(fd); err == nil {
		p.releasePOSIXLocks(f)
	}
	return p.FDs.Close(fd)
}

// Pread reads at an offset without moving the file position.
func (p *Process) Pread(fd int, b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	f, err := p.readable(fd)
	if err != nil {
		return 0, err
	}
	return f.Pread(b, off)
}

func (p *Process) readable(fd int) (*vfs.File, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, err
	}
	if fl := f.Flags(); fl&unix.O_PATH != 0 || fl&unix.O_ACCMODE == unix.O_WRONLY {
		return nil, unix.EBADF
	}
	return f, nil
}

func (p *Process) writable(fd int) (*vfs.File, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, err
	}
	if fl := f.Flags(); fl&unix.O_PATH != 0 || fl&unix.O_ACCMODE == unix.O_RDONLY {
		return nil, unix.EBADF
	}
	return f, nil
}

// Seek moves the file position.
func (p *Process) Seek(fd int, off int64, whence int) (int64, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	return f.Seek(off, whence)
}

// Fstat returns the attributes of an open file.
func (p *Process) Fstat(fd int) (vfs.Stat, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return vfs.Stat{}, err
	}
	return f.Stat()
}

// Fstatat returns the attributes of a path (AT_SYMLINK_NOFOLLOW and
// AT_EMPTY_PATH are honoured).
func (p *Process) Fstatat(dirfd int, path string, flags int) (vfs.Stat, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 {
		return vfs.Stat{}, unix.EINVAL
	}
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 {
		if dirfd == unix.AT_FDCWD {
			at, err := p.fs.at(true)
			if err != nil {
				return vfs.Stat{}, err
			}
			defer at.Release()
			return at.Dir.Stat()
		}
		return p.Fstat(dirfd)
	}
	at, err := p.at(dirfd, path)
	if err != nil {
		return vfs.Stat{}, err
	}
	defer at.Release()
	return p.k.cfg.FS.StatAt(at, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

// Mkdirat creates a directory.
func (p *Process) Mkdirat(dirfd int, path string, mode uint32) error {
	return p.create(dirfd, path, mode, p.k.cfg.FS.MkdirAt)
}

// create makes a new name with mode less the umask (mkdir, mknod).
func (p *Process) create(dirfd int, path string, mode uint32, mk func(vfs.Loc, string, uint32) error) error {
	at, err := p.at(dirfd, path)
	if err != nil {
		return err
	}
	defer at.Release()
	p.mu.Lock()
	mode &^= p.umask
	p.mu.Unlock()
	return mk(at, path, mode&0o7777)
}

// Unlinkat removes a file, or a directory with AT_REMOVEDIR.
func (p *Process) Unlinkat(dirfd int, path string, flags int) error {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return unix.EINVAL
	}
	at, err := p.at(dirfd, path)
	if err != nil {
		return err
	}
	defer at.Release()
	if flags&unix.AT_REMOVEDIR != 0 {
		return p.k.cfg.FS.RmdirAt(at, path)
	}
	return p.k.cfg.FS.UnlinkAt(at, path)
}

// Renameat2 renames a file; only flags 0 and RENAME_NOREPLACE are served.
func (p *Process) Renameat2(olddirfd int, oldpath string, newdirfd int, newpath string, flags uint) error {
	if flags&^unix.RENAME_NOREPLACE != 0 {
		return unix.EINVAL
	}
	oldAt, err := p.at(olddirfd, oldpath)
	if err != nil {
		return err
	}
	defer oldAt.Release()
	newAt, err := p.at(newdirfd, newpath)
	if err != nil {
		return err
	}
	defer newAt.Release()
	return p.k.cfg.FS.RenameAt(oldAt, oldpath, newAt, newpath, flags&unix.RENAME_NOREPLACE != 0)
}

// Linkat makes a hard link newpath to oldpath, which is followed only with
// AT_SYMLINK_FOLLOW (link(2) never follows it on Linux either).
// AT_EMPTY_PATH with an empty oldpath (linking an open file) needs a
// capability the guest never has: ENOENT, as Linux says then.
func (p *Process) Linkat(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) error {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	oldAt, err := p.at(olddirfd, oldpath)
	if err != nil {
		return err
	}
	defer oldAt.Release()
	newAt, err := p.at(newdirfd, newpath)
	if err != nil {
		return err
	}
	defer newAt.Release()
	return p.k.cfg.FS.LinkAt(oldAt, oldpath, newAt, newpath, flags&unix.AT_SYMLINK_FOLLOW != 0)
}

// Symlinkat creates a symbolic link.
func (p *Process) Symlinkat(target string, dirfd int, path string) error {
	if target == "" {
		return unix.ENOENT
	}
	at, err := p.at(dirfd, path)
	if err != nil {
		return err
	}
	defer at.Release()
	return p.k.cfg.FS.SymlinkAt(target, at, path)
}

// Readlinkat returns a symbolic link's target.
func (p *Process) Readlinkat(dirfd int, path string) (string, error) {
	at, err := p.at(dirfd, path)
	if err != nil {
		return "", err
	}
	defer at.Release()
	return p.k.cfg.FS.ReadlinkAt(at, path)
}

// Faccessat checks access to a path for the guest's credentials.
func (p *Process) Faccessat(dirfd int, path string, mode uint32, flags int) error {
	if mode&^(unix.R_OK|unix.W_OK|unix.X_OK) != 0 ||
		flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	at, err := p.at(dirfd, path)
	if err != nil {
		return err
	}
	defer at.Release()
	if flags&unix.AT_EACCESS == 0 {
		at.Cred = at.Cred.ForAccess() // access(2) checks with the real ids
	}
	return p.k.cfg.FS.AccessAt(at, path, mode, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

// Fchmodat changes permission bits of a path.
func (p *Process) Fchmodat(dirfd int, path string, mode uint32) error {
	at, err := p.at(dirfd, path)
	if err != nil {
		return err
	}
	defer at.Release()
	return p.k.cfg.FS.ChmodAt(at, path, mode&0o7777, true)
}

// Fchmod changes permission bits of an open file.
func (p *Process) Fchmod(fd int, mode uint32) error {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return err
	}
	d := f.Dentry()
	if d == nil {
		return unix.EINVAL // pipes, sockets: no file-system node to change
	}
	return p.k.cfg.FS.ChmodDentry(p.Creds(), d, mode&0o7777)
}

// Utimensat sets a path's access and modification times.
func (p *Process) Utimensat(dirfd int, path string, atime, mtime unix.Timespec, flags int) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	if path == "" {
		// futimens and utimensat(fd, NULL): the file itself.
		var d *vfs.Dentry
		if dirfd == unix.AT_FDCWD {
			at, err := p.fs.at(true)
			if err != nil {
				return err
			}
			defer at.Release()
			d = at.Dir
		} else {
			f, err := p.FDs.Get(dirfd)
			if err != nil {
				return err
			}
			if d = f.Dentry(); d == nil {
				return unix.EINVAL // pipes, sockets: no file-system node to change
			}
		}
		return p.k.cfg.FS.UtimesDentry(p.Creds(), d, atime, mtime)
	}
	at, err := p.at(dirfd, path)
	if err != nil {
		return err
	}
	defer at.Release()
	return p.k.cfg.FS.UtimesAt(at, path, atime, mtime, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

// Ftruncate changes the size of an open file. Growing it past
// RLIMIT_FSIZE raises SIGXFSZ and fails with EFBIG, whatever the file
// system (a sparse host file must not grow past --fsize either).
func (t *Task) Ftruncate(fd int, size int64) error {
	p := t.Proc
	if size < 0 {
		return unix.EINVAL
	}
	f, err := p.writable(fd)
	if err != nil {
		if err == unix.EBADF {
			if _, gerr := p.FDs.Get(fd); gerr == nil {
				return unix.EINVAL // open but not for writing
			}
		}
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG && size > st.Size {
		if err := t.checkGrow(st.Size, size); err != nil {
			return err
		}
	}
	return f.Truncate(size)
}

// Truncate changes the size of a file by path, within RLIMIT_FSIZE like
// Ftruncate.
func (t *Task) Truncate(path string, size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	at, err := t.Proc.at(unix.AT_FDCWD, path)
	if err != nil {
		return err
	}
	defer at.Release()
	return t.Proc.k.cfg.FS.TruncateCheck(at, path, size, t.checkGrow)
}

// checkGrow applies RLIMIT_FSIZE to a file growing from cur to size bytes
// without a write (truncate), as Linux's inode_newsize_ok: a file may grow
// to exactly the limit; beyond it the caller gets SIGXFSZ and EFBIG.
func (t *Task) checkGrow(cur, size int64) error {
	lim, _ := t.Proc.Getrlimit(unix.RLIMIT_FSIZE)
	if lim.Cur == unix.RLIM_INFINITY || size <= cur || uint64(size) <= lim.Cur {
		return nil
	}
	return t.fileSizeExceeded(lim.Cur)
}

// fileSizeExceeded records and signals an attempt to pass RLIMIT_FSIZE
// (limit bytes) and returns EFBIG, the error the call fails with when the
// signal does not kill the process.
func (t *Task) fileSizeExceeded(limit uint64) error {
	t.Proc.k.AuditEvent("limit_exceeded", slog.String("limit", "fsize"), slog.Uint64("max", limit),
		slog.Int("pid", t.Proc.PID))
	_ = t.SendSignal(SigInfo{Signo: unix.SIGXFSZ, Code: SIKernel})
	return unix.EFBIG
}

// Fsync flushes an open file.
func (p *Process) Fsync(fd int) error {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return err
	}
	return f.Sync()
}

// Dup duplicates a descriptor onto the lowest free number >= min.
func (p *Process) Dup(fd, min int, cloexec bool) (int, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return -1, err
	}
	f.IncRef()
	nfd, err := p.FDs.Install(f, min, cloexec)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return nfd, nil
}

// Dup3 duplicates oldfd onto newfd.
func (p *Process) Dup3(oldfd, newfd int, flags int) error {
	if flags&^unix.O_CLOEXEC != 0 || oldfd == newfd {
		return unix.EINVAL
	}
	f, err := p.FDs.Get(oldfd)
	if err != nil {
		return err
	}
	f.IncRef()
	if err := p.FDs.InstallAt(newfd, f, flags&unix.O_CLOEXEC != 0); err != nil {
		_ = f.DecRef()
		return err
	}
	return nil
}

// Dup2 is dup3 without flags, allowing oldfd == newfd.
func (p *Process) Dup2(oldfd, newfd int) error {
	if oldfd == newfd {
		_, err := p.FDs.Get(oldfd)
		return err
	}
	return p.Dup3(oldfd, newfd, 0)
}

// FcntlInt serves the integer fcntl commands.
func (p *Process) FcntlInt(fd, cmd int, arg uint64) (int, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return -1, err
	}
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		if arg >= uint64(p.FDs.Limit()) {
			return -1, unix.EINVAL
		}
		return p.Dup(fd, int(arg), cmd == unix.F_DUPFD_CLOEXEC)
	case unix.F_GETFD:
		ce, err := p.FDs.CloseOnExec(fd)
		if ce {
			return unix.FD_CLOEXEC, err
		}
		return 0, err
	case unix.F_SETFD:
		return 0, p.FDs.SetCloseOnExec(fd, arg&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return f.Flags(), nil
	case unix.F_SETFL:
		f.SetFlags(int(arg))
		return 0, nil
	}
	return p.fcntlFile(f, cmd, arg)
}

// Ioctl serves terminal queries on terminals and ENOTTY elsewhere.
func (p *Process) Ioctl(fd int, req uint, arg []byte) (int, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return -1, err
	}
	switch req {
	case fioclex:
		return 0, p.FDs.SetCloseOnExec(fd, true)
	case fionclex:
		return 0, p.FDs.SetCloseOnExec(fd, false)
	case fionread:
		if n, ok := bytesReadable(f); ok && len(arg) >= 4 {
			binary.LittleEndian.PutUint32(arg, uint32(min(n, 1<<31-1)))
			return 0, nil
		}
	}
	return f.Ioctl(req, arg)
}

// Getcwd returns the working directory's path as it is now (its last
// path, if it was removed), for the kernel's and the sandbox's own use.
// The guest's getcwd(2) is Cwd.
func (p *Process) Getcwd() string {
	at, err := p.fs.at(true)
	if err != nil {
		return "/"
	}
	defer at.Release()
	return at.Dir.Path()
}

// Cwd answers getcwd(2) from the working directory's dentry: ENOENT once
// it was removed, and, as Linux, a path prefixed with "(unreachable)" when
// it is not below the process's root.
func (p *Process) Cwd() (string, error) {
	at, err := p.fs.at(true)
	if err != nil {
		return "", err
	}
	defer at.Release()
	if at.Dir.Deleted() {
		return "", unix.ENOENT
	}
	path, reachable := at.Dir.PathFrom(at.Root)
	if !reachable {
		path = "(unreachable)" + path
	}
	return path, nil
}

// CwdLink is the target /proc/<pid>/cwd shows: the working directory's
// path, with " (deleted)" once it was removed; ENOENT for a zombie.
func (p *Process) CwdLink() (string, error) {
	at, err := p.fs.at(true)
	if err != nil {
		return "", err
	}
	defer at.Release()
	return at.Dir.LinkPath(), nil
}

// Chdir changes the working directory.
func (p *Process) Chdir(path string) error {
	at, err := p.at(unix.AT_FDCWD, path)
	if err != nil {
		return err
	}
	defer at.Release()
	d, err := p.k.cfg.FS.Chdir(at, path)
	if err != nil {
		return err
	}
	p.fs.setCwd(d)
	return nil
}

// Fchdir changes the working directory to an open directory: its dentry,
// wherever it is now.
func (p *Process) Fchdir(fd int) error {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return err
	}
	if f.Dentry() == nil {
		return unix.ENOTDIR
	}
	d, err := p.k.cfg.FS.ChdirDentry(p.Creds(), f.Dentry())
	if err != nil {
		return err
	}
	p.fs.setCwd(d)
	return nil
}

// Constants x/sys/unix does not export.
const (
	atStatxSyncType = 0x6000 // AT_STATX_SYNC_TYPE
	fioclex         = 0x5451 // FIOCLEX
	fionclex        = 0x5450 // FIONCLEX
	fionread        = 0x541b // FIONREAD
)

// bytesReadable answers FIONREAD: bytes buffered in a pipe or socket, or
// left to read in a regular file.
func bytesReadable(f *vfs.File) (int64, bool) {
	if b, ok := f.Ops().(interface{ Buffered() int }); ok {
		return int64(b.Buffered()), true
	}
	st, err := f.Stat()
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false
	}
	off, err := f.Seek(0, unix.SEEK_CUR)
	if err != nil {
		return 0, false
	}
	return max(st.Size-off, 0), true
}

// Read reads from a descriptor; a read that waits (pipes, the terminal)
// gives up with ERESTARTSYS when a signal arrives for the thread.
func (t *Task) Read(fd int, b []byte) (int, error) {
	f, err := t.Proc.readable(fd)
	if err != nil {
		return 0, err
	}
	if err := t.terminalIO(f, false); err != nil {
		return 0, err
	}
	if s, ok := f.Ops().(*signalFD); ok {
		return t.readSignalfd(s, b, f.Flags()) // the reader's signals
	}
	if s, ok := socket.Of(f); ok {
		return t.sockRead(s, f, b)
	}
	return f.ReadCancel(b, t.Interruptible())
}

// Write writes to a descriptor, interruptible like Read.
func (t *Task) Write(fd int, b []byte) (int, error) {
	f, err := t.Proc.writable(fd)
	if err != nil {
		return 0, err
	}
	if b, err = t.limitFileSize(f, b, -1); err != nil {
		return 0, err
	}
	if err := t.terminalIO(f, true); err != nil {
		return 0, err
	}
	if s, ok := socket.Of(f); ok {
		return t.sockWrite(s, f, b)
	}
	return f.WriteCancel(b, t.Interruptible())
}

// Pwrite writes at an offset, within the file-size limit.
func (t *Task) Pwrite(fd int, b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	f, err := t.Proc.writable(fd)
	if err != nil {
		return 0, err
	}
	if b, err = t.limitFileSize(f, b, off); err != nil {
		return 0, err
	}
	return f.Pwrite(b, off)
}

// limitFileSize applies RLIMIT_FSIZE to a write of b at off (-1: the file
// position, or the end with O_APPEND): the write is shortened to the limit,
// and one wholly beyond it fails with EFBIG after SIGXFSZ, as on Linux.
func (t *Task) limitFileSize(f *vfs.File, b []byte, off int64) ([]byte, error) {
	lim, _ := t.Proc.Getrlimit(unix.RLIMIT_FSIZE)
	if lim.Cur == unix.RLIM_INFINITY || len(b) == 0 {
		return b, nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return b, nil
	}
	if off < 0 {
		if f.Flags()&unix.O_APPEND != 0 {
			off = st.Size
		} else if off, err = f.Seek(0, unix.SEEK_CUR); err != nil {
			return b, nil
		}
	}
	if uint64(off) >= lim.Cur {
		return nil, t.fileSizeExceeded(lim.Cur)
	}
	if uint64(off)+uint64(len(b)) > lim.Cur {
		b = b[:lim.Cur-uint64(off)]
	}
	return b, nil
}

package vfs

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Limits enforced by the path walk, identical to Linux.
const (
	// PathMax is the longest accepted path in bytes (PATH_MAX minus the NUL).
	PathMax = 4095
	// NameMax is the longest accepted path component in bytes.
	NameMax = 255
	// MaxSymlinks is the number of symlinks one resolution may traverse
	// before failing with ELOOP.
	MaxSymlinks = 40
)

// The identity the guest runs as. Every guest process sees itself as this
// unprivileged "sandbox user"; there is no root inside the sandbox, so all
// permission checks are done against these ids.
const (
	GuestUID = 1000
	GuestGID = 1000
)

// Stat is the metadata of a node, laid out like struct stat.
type Stat struct {
	Dev, Ino, Nlink, Rdev uint64
	Mode                  uint32 // S_IFMT type bits | permission bits
	Uid, Gid              uint32
	Size, Blksize, Blocks int64
	Atime, Mtime, Ctime   unix.Timespec
	// Host marks a host file (hostfs), whose access the host checks
	// against litebox, not the guest: the guest's capabilities never
	// override its bits, and a Uid or Gid the file system did not map to
	// the guest user (HostIDs) is a host id that no guest id matches. So a
	// guest root is no one on the host. Never shown to the guest.
	Host    bool
	HostIDs HostIDs
}

// HostIDs says which of a host file's ids are host ids.
type HostIDs uint8

// The HostIDs bits.
const (
	HostUID HostIDs = 1 << iota
	HostGID
)

// IsDir reports whether the stat describes a directory.
func (s *Stat) IsDir() bool { return s.Mode&unix.S_IFMT == unix.S_IFDIR }

// IsRegular reports whether the stat describes a regular file.
func (s *Stat) IsRegular() bool { return s.Mode&unix.S_IFMT == unix.S_IFREG }

// IsSymlink reports whether the stat describes a symbolic link.
func (s *Stat) IsSymlink() bool { return s.Mode&unix.S_IFMT == unix.S_IFLNK }

// DirEntry is one directory entry as returned by getdents64.
type DirEntry struct {
	Name string
	Ino  uint64
	Type uint8 // unix.DT_*
}

// Node is one file-system object; implementations: memfs, hostfs, devfs, synth.
type Node interface {
	Stat() (Stat, error)
}

// DirNode is a directory. Names passed to its methods are single path
// components that the VFS has already validated (see ValidName); "." and ".."
// are never passed because the VFS resolves them itself. Implementations
// should still validate names as a second line of defence.
type DirNode interface {
	Node
	Lookup(name string) (Node, error)              // ENOENT
	ReadDir() ([]DirEntry, error)                  // without "." and ".."
	Create(name string, mode uint32) (Node, error) // regular file; EEXIST; EROFS
	Mkdir(name string, mode uint32) error
	Unlink(name string) error                                    // EISDIR for dirs
	Rmdir(name string) error                                     // ENOTEMPTY, ENOTDIR
	Rename(oldName string, newDir DirNode, newName string) error // EXDEV across fs
	Symlink(target, name string) error
}

// SymlinkNode is a symbolic link. The VFS follows links itself by calling
// Readlink; file systems never resolve links on their own.
type SymlinkNode interface {
	Node
	Readlink() (string, error)
}

// ContextSymlink is a symlink whose target depends on who asks (/proc/self):
// path walks made for a caller (the ...Context methods) pass its context.
type ContextSymlink interface {
	SymlinkNode
	ReadlinkContext(ctx context.Context) (string, error)
}

// readlink reads sl's target for the caller ctx (nil: no caller).
func readlink(ctx context.Context, sl SymlinkNode) (string, error) {
	if cs, ok := sl.(ContextSymlink); ok && ctx != nil {
		return cs.ReadlinkContext(ctx)
	}
	return sl.Readlink()
}

// FDLink is a symlink that stands for an open file (/proc/<pid>/fd/N,
// Linux's "magic links"): a walk that follows it reaches the open file
// itself, not its path, so it works for files that have no path (pipes)
// and for files whose name was removed. Readlink still gives the path
// Linux shows ("pipe:[N]", "/tmp/f (deleted)"). The file is not
// referenced: the walk re-checks that it is still open where it matters.
type FDLink interface {
	SymlinkNode
	LinkedFile() (*File, error)
}

// Reopener may be implemented by the FileOps of an anonymous file: opening
// its FDLink makes a new open file description of the same object with
// the flags asked for (a pipe end, as Linux's fifo_open). Anonymous files
// without it (sockets, eventfds) cannot be opened that way: ENXIO, as
// Linux answers for a socket.
type Reopener interface {
	Reopen(flags int) (FileOps, error)
}

// Waiter gives the context an open that waits (a FIFO waiting for its
// other end) ends with: the caller's interruptible wait (kernel.Task).
type Waiter interface {
	Interruptible() context.Context
}

// BlockingOpener is implemented by nodes whose open may wait (FIFOs); the
// VFS calls it instead of Open, with the caller's interruptible context
// (context.Background when the walk has no Waiter).
type BlockingOpener interface {
	OpenBlocking(flags int, ctx context.Context) (FileOps, error)
}

// CallerOpener is implemented by nodes whose open depends on who opens
// them (terminals: /dev/tty is the opener's controlling terminal, a pty
// made by /dev/ptmx is owned by its opener). The VFS calls it instead of
// Open with the walk's credentials and caller (Loc.Ctx; nil without one).
type CallerOpener interface {
	OpenCaller(flags int, c *Cred, ctx context.Context) (FileOps, error)
}

// Mknoder is implemented by directories that can hold FIFOs: Mknod makes
// one (mode carries S_IFIFO and the permission bits).
type Mknoder interface {
	Mknod(name string, mode uint32) error
}

// OpenableNode is a node with I/O operations (regular files, devices).
//
// Open receives the access mode (O_RDONLY/O_WRONLY/O_RDWR) and the status
// flags (O_APPEND, O_NONBLOCK, ...). The VFS handles O_CREAT, O_EXCL,
// O_TRUNC, O_DIRECTORY, O_NOFOLLOW, O_PATH and O_CLOEXEC itself and strips
// them, and it has already checked permissions and read-only mounts.
type OpenableNode interface {
	Node
	Open(flags int) (FileOps, error)
}

// FileOps are the I/O operations of one open node. ReadAt may signal end of
// file either with (0, nil) or with io.EOF; the File layer maps both to a
// zero-length read.
type FileOps interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error) // EBADF/EROFS as appropriate
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Streamer may be implemented by a node or its FileOps: streams ignore
// offsets (pread/pwrite and lseek fail with ESPIPE).
type Streamer interface{ IsStream() bool }

// SetAttrer is implemented by nodes whose metadata can be changed. Chmod
// receives permission bits only (07777). Utimes receives raw timespecs that
// may carry unix.UTIME_NOW or unix.UTIME_OMIT in Nsec; the implementation
// interprets them and always sets ctime to now.
type SetAttrer interface {
	Chmod(mode uint32) error
	Utimes(atime, mtime unix.Timespec) error
}

// Terminal is implemented by nodes that forward ioctls to a host terminal.
type Terminal interface {
	Ioctl(req uint, arg []byte) (int, error) // host tty queries only
}

// Stater may be implemented by FileOps to report metadata through the open
// handle (fstat), which stays valid after the node was unlinked or renamed.
type Stater interface {
	Stat() (Stat, error)
}

// Appender may be implemented by FileOps to append atomically: it writes p
// at the current end of file and returns the new end of file. Without it the
// File falls back to Stat + WriteAt, which is atomic only within one File.
type Appender interface {
	Append(p []byte) (n int, end int64, err error)
}

// Linker is implemented by directories that support hard links. target is
// a node of the same file system (EXDEV otherwise) and never a directory.
type Linker interface {
	Link(target Node, name string) error
}

// FileSystem is one mountable file system instance.
type FileSystem interface {
	Root() DirNode
	ReadOnly() bool
	Name() string
}

// ValidName checks a single path component handed to a DirNode method.
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return unix.EINVAL
	case len(name) > NameMax:
		return unix.ENAMETOOLONG
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return unix.EINVAL
		}
	}
	return nil
}

// ErrnoOf converts err into the errno the guest should see: nil -> 0,
// an Errno (possibly wrapped) -> itself, io.EOF -> 0, anything else -> EIO.
func ErrnoOf(err error) unix.Errno {
	if err == nil || errors.Is(err, io.EOF) {
		return 0
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return unix.EIO
}

// toErrno makes sure an error crossing the VFS boundary is an Errno, so the
// shim can always turn it into -errno. io.EOF maps to nil.
func toErrno(err error) error {
	if e := ErrnoOf(err); e != 0 {
		return e
	}
	return nil
}

// DTFromMode returns the unix.DT_* type for an S_IFMT mode.
func DTFromMode(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFCHR:
		return unix.DT_CHR
	case unix.S_IFBLK:
		return unix.DT_BLK
	case unix.S_IFIFO:
		return unix.DT_FIFO
	case unix.S_IFSOCK:
		return unix.DT_SOCK
	}
	return unix.DT_UNKNOWN
}

// Now returns the current time as a Timespec.
func Now() unix.Timespec { return unix.NsecToTimespec(time.Now().UnixNano()) }

// ResolveTime interprets a utimensat timespec: UTIME_NOW yields now,
// UTIME_OMIT yields old, anything else is returned unchanged.
func ResolveTime(ts, old, now unix.Timespec) unix.Timespec {
	switch ts.Nsec {
	case unix.UTIME_NOW:
		return now
	case unix.UTIME_OMIT:
		return old
	}
	return ts
}

var (
	devCounter atomic.Uint32
	inoCounter atomic.Uint64
)

// NewDev allocates a device number for a new file system instance so that
// (Dev, Ino) pairs stay unique across mounts. Like Linux's anonymous block
// devices they use major 0.
func NewDev() uint64 {
	return unix.Mkdev(0, 0x40+devCounter.Add(1))
}

// NewIno allocates a process-wide unique inode number, for file systems that
// have no natural inode numbering of their own.
func NewIno() uint64 { return inoCounter.Add(1) + 1 }

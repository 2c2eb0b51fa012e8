// Package vfs is the sandbox kernel's virtual file system: the node
// interfaces every file system implements (the file systems themselves are
// siblings under kernel/fsimpl), the VFS type (the dentry tree, its mounts
// and the path walk) and File, the open file description. It is consumed
// by shim/linux and the kernel.
//
// # Errors
//
// All errors returned are unix.Errno (golang.org/x/sys/unix) or wrap one,
// so that errors.As(err, &errno) works; the shim turns them into -errno
// for the guest. ErrnoOf does that conversion (anything else becomes EIO).
// The VFS and File methods return bare Errno values, so == comparisons
// work on them too.
//
// # Dentries and paths
//
// The namespace is a tree of reference-counted dentries (see Dentry). A
// dentry names a node: a name within its parent dentry, on one mount.
// What must follow renames holds a dentry, never a path: a process's
// root and working directory (the kernel's FSContext), every open File
// (File.Path is derived from it), every mount point. Rename, unlink and
// rmdir update the tree, so a held dentry follows its directory, and a
// removed one is dead (its path shows " (deleted)", creating in it is
// ENOENT). Unreferenced dentries are dropped at once: the tree holds only
// what something holds, and each dentry is charged to the function given
// to SetCharge (the sandbox's memory budget).
//
// A walk starts from a dentry: Loc{Root, Dir} names the walker's root (for
// absolute paths, absolute symlinks and the limit of "..") and the
// directory relative paths start from (a cwd, a dirfd's dentry). The *At
// methods take one; the path-only methods (Open, Stat, ...) resolve
// absolute paths from the VFS root and refuse relative ones (EINVAL). The
// VFS walks component by component itself, handling ".", "..", mount
// points and symlinks:
//
//   - at most MaxSymlinks (40) symlinks per resolution, then ELOOP;
//   - a component longer than 255 bytes or a path longer than 4095 bytes
//     is ENAMETOOLONG; an empty path is ENOENT;
//   - a non-directory in the middle of a path is ENOTDIR, and so is a
//     trailing slash after one;
//   - ".." is resolved against the dentry tree, never by a file system:
//     ".." at a mount root goes to the mount point's parent in the guest
//     tree, ".." at the walker's root stays there, and ".." from a
//     directory that was moved goes to its new parent. A file system is
//     never asked to look up "." or ".." (hostfs relies on this for
//     containment);
//   - search (X) permission is checked on every directory traversed.
//
// Locking: every walk holds the namespace lock for reading; unlink, rmdir,
// rename and mount hold it for writing, so no walk sees a half-done move.
//
// # What a file system implements
//
// A file system is a FileSystem whose Root is a DirNode; the VFS keeps the
// dentries, so a file system keeps no names, parents or mounts of its own
// and never resolves a path. What the VFS relies on:
//
//   - Lookup, ReadDir, Create, Mkdir, Unlink, Rmdir, Rename, Symlink (and
//     Link) receive single validated names, never "." or "..", and
//     directories the VFS looked up through the same file system.
//   - A node may be an object (memfs: Lookup returns the same value for as
//     long as the entry exists) or a name (hostfs: a path below the root,
//     so each Lookup returns a new value). After a rename the VFS looks the
//     moved entry up again in its new directory, and when the answer is
//     another value it gives that node, and the nodes of the entries held
//     below it, to their dentries. Whenever a walk finds a node other than
//     the one a dentry holds for that name, the dentry takes the new one.
//     Either kind works; a node must simply stay valid for as long as its
//     name does, and be comparable with == (a pointer, in practice).
//   - Open files keep what they need in their FileOps (a host descriptor,
//     a page list): nodes and dentries hold no host resources, so holding
//     many dentries (directories, working directories) costs no host fds.
//   - A read-only file system (tar images, lower layers) reports ReadOnly;
//     the VFS then refuses every mutation with EROFS itself. An overlay is
//     a file system like any other (kernel/fsimpl/overlay): its nodes are
//     objects, one per live name, whose copy-up gives them an upper node
//     in place. A file system keeping such an object per name the VFS
//     holds says what one costs (NodeCoster), and each dentry of it is
//     charged that much more.
//
// # Identity and permissions
//
// Every check is made for the caller's credentials (Cred, kernel/cred):
// Loc.Cred for walks, an argument for the *Dentry calls, the VFS's own
// (SetCred; GuestCred by default) otherwise. Permission bits are checked
// with Linux's generic_permission against whatever owner a node reports:
// owner by fs uid, group by fs gid or a supplementary group, other; then
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH; CAP_FOWNER stands in for the
// owner and CAP_CHOWN allows any chown. memfs files belong to their
// creator's fs ids, host files keep their host owner and mode, devfs and
// synth nodes belong to root. Failures are EACCES (EPERM for chmod,
// chown and utimes by a non-owner and for the sticky-directory rule).
// Every mutating operation on a read-only file system fails with EROFS,
// including open with O_WRONLY, O_RDWR, O_TRUNC, or O_CREAT when the file
// has to be created; as in Linux, device nodes stay writable on a
// read-only mount, and an O_CREAT open of an existing file for reading
// succeeds.
//
// # Mounts
//
// A mount is attached to its mount point's dentry, which the walk checks
// before asking the parent file system, so a mount hides whatever the
// parent has there, and renaming a directory above a mount point carries
// the mount along. A mount point must be a directory in its parent; when the
// parent file system is read-only and lacks it (or directories leading to
// it), implicit empty read-only directories are put in place (the mount
// skeleton). Listings of a directory include its child mount points.
// Renaming or linking across mounts is EXDEV; removing or renaming a mount
// point is EBUSY. Each file system instance reports its own Dev, and inode
// numbers are stable per node.
//
// # API contract
//
// These declarations are what other packages are written against; their
// names and signatures do not change.
//
//	type Stat struct {
//	    Dev, Ino, Nlink, Rdev uint64
//	    Mode                  uint32 // S_IFMT type bits | permission bits
//	    Uid, Gid              uint32
//	    Size, Blksize, Blocks int64
//	    Atime, Mtime, Ctime   unix.Timespec
//	}
//	type DirEntry struct { Name string; Ino uint64; Type uint8 /* unix.DT_* */ }
//
//	// Node is one file-system object; implementations: memfs, hostfs, devfs, synth.
//	type Node interface { Stat() (Stat, error) }
//	type DirNode interface {
//	    Node
//	    Lookup(name string) (Node, error)              // ENOENT
//	    ReadDir() ([]DirEntry, error)                  // without "." and ".."
//	    Create(name string, mode uint32) (Node, error) // regular file; EEXIST; EROFS
//	    Mkdir(name string, mode uint32) error
//	    Unlink(name string) error                      // EISDIR for dirs
//	    Rmdir(name string) error                       // ENOTEMPTY, ENOTDIR
//	    Rename(oldName string, newDir DirNode, newName string) error // EXDEV across fs
//	    Symlink(target, name string) error
//	}
//	type SymlinkNode interface { Node; Readlink() (string, error) }
//	// Openable nodes (regular files, devices) return their I/O operations.
//	type OpenableNode interface { Node; Open(flags int) (FileOps, error) }
//	type FileOps interface {
//	    ReadAt(p []byte, off int64) (int, error)
//	    WriteAt(p []byte, off int64) (int, error) // EBADF/EROFS as appropriate
//	    Truncate(size int64) error
//	    Sync() error
//	    Close() error
//	}
//	// Optional extras a node or FileOps may implement:
//	type Streamer interface { IsStream() bool } // offsets ignored, lseek -> ESPIPE
//	type SetAttrer interface { Chmod(mode uint32) error; Utimes(atime, mtime unix.Timespec) error }
//	type Terminal interface { Ioctl(req uint, arg []byte) (int, error) } // host tty queries only
//
//	type FileSystem interface { Root() DirNode; ReadOnly() bool; Name() string }
//
//	func New(root FileSystem) *VFS
//	func (v *VFS) Mount(guestPath string, fs FileSystem) error
//	func (v *VFS) Open(path string, flags int, mode uint32) (*File, error) // O_CREAT/O_EXCL/O_TRUNC/O_DIRECTORY/O_NOFOLLOW/O_APPEND/O_PATH; EACCES/EROFS/EISDIR
//	func (v *VFS) Stat(path string, follow bool) (Stat, error)
//	func (v *VFS) Readlink(path string) (string, error) // EINVAL if not a symlink
//	func (v *VFS) Mkdir(path string, mode uint32) error
//	func (v *VFS) Unlink(path string) error
//	func (v *VFS) Rmdir(path string) error
//	func (v *VFS) Rename(oldPath, newPath string) error
//	func (v *VFS) Symlink(target, linkPath string) error
//	func (v *VFS) Access(path string, mode uint32, follow bool) error // F_OK/R_OK/W_OK/X_OK; W_OK on a read-only fs -> EROFS
//	func (v *VFS) Chmod(path string, mode uint32, follow bool) error
//	func (v *VFS) Utimes(path string, atime, mtime unix.Timespec, follow bool) error
//	func (v *VFS) Truncate(path string, size int64) error
//	func (v *VFS) Canonical(path string) (string, error) // resolved absolute path (for chdir/getcwd); ENOTDIR etc.
//
//	// Dentries and walks from them (see "Dentries and paths").
//	type Loc struct{ Root, Dir *Dentry }
//	func (v *VFS) Root() *Dentry
//	func (v *VFS) OpenAt(at Loc, path string, flags int, mode uint32) (*File, error)
//	// ... StatAt, ReadlinkAt, MkdirAt, UnlinkAt, RmdirAt, RenameAt, SymlinkAt, LinkAt,
//	// AccessAt, ChmodAt, UtimesAt, TruncateCheck: the path methods from at.
//	func (v *VFS) Chdir(at Loc, path string) (*Dentry, error) // a directory the guest may enter, referenced
//	func (d *Dentry) IncRef(); func (d *Dentry) TryIncRef() bool; func (d *Dentry) DecRef()
//	func (d *Dentry) Path() string; func (d *Dentry) PathFrom(root *Dentry) (string, bool)
//	func (f *File) Dentry() *Dentry
//
//	// File is an open file description (shared by dup'ed fds).
//	func NewStreamFile(name string, r io.Reader, w io.Writer, tty Terminal) *File // host stdio
//	func (f *File) Read(p []byte) (int, error)
//	func (f *File) Write(p []byte) (int, error)
//	func (f *File) Pread(p []byte, off int64) (int, error) // ESPIPE on streams
//	func (f *File) Pwrite(p []byte, off int64) (int, error)
//	func (f *File) Seek(off int64, whence int) (int64, error) // SEEK_SET/CUR/END; EINVAL for negative result
//	func (f *File) Stat() (Stat, error)
//	func (f *File) Getdents(max int) ([]DirEntry, error) // cursor kept in File; "." and ".." first; empty slice at end
//	func (f *File) Path() string       // canonical guest path now, from its dentry; " (deleted)" once removed
//	func (f *File) Flags() int         // status flags as fcntl(F_GETFL) reports, incl. access mode
//	func (f *File) SetFlags(flags int) // only O_APPEND|O_NONBLOCK are changeable
//	func (f *File) Truncate(size int64) error
//	func (f *File) Sync() error
//	func (f *File) Node() Node
//	func (f *File) Ioctl(req uint, arg []byte) (int, error) // ENOTTY unless the node is a Terminal
//	func (f *File) IncRef(); func (f *File) DecRef() error  // Close happens at the last DecRef
//
// Additions beyond the contract: VFS.Link, VFS.Realpath, VFS.Mounts,
// VFS.SetCharge and the *Dentry variants (ChmodDentry, UtimesDentry,
// ChdirDentry) for calls on an open file;
// File.GetdentsFunc; the optional Linker, Stater and Appender interfaces;
// Cred/GuestCred, the GuestUID/GuestGID and limit constants; and helpers
// for file system implementations (ValidName, ErrnoOf, DTFromMode, Now,
// ResolveTime, NewDev, NewIno).
//
// # File semantics
//
// File methods follow syscall semantics rather than io.Reader's: end of
// file is a zero-length read with a nil error. The offset is shared by
// all descriptors of one File and updated atomically with each read or
// write; O_APPEND writes go to the end of file (atomically when the
// FileOps implement Appender, as memfs does), and, as on Linux, so does
// Pwrite on an O_APPEND file. Streams (NewStreamFile, or any node or
// FileOps whose IsStream reports true) ignore offsets: Pread, Pwrite and
// Seek fail with ESPIPE, and reads do not hold the File's lock so a read
// blocking on a terminal never stalls writers. On a directory the offset
// is the index of the next Getdents entry, so lseek doubles as
// telldir/seekdir and seeking to 0 refreshes the listing. The mode passed
// to Open and Mkdir is used as is: the caller applies the umask.
package vfs

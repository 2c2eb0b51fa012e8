package vfs

import "golang.org/x/sys/unix"

// StatFS is what statfs(2) reports of a file system (struct statfs).
type StatFS struct {
	Type, Bsize                         int64
	Blocks, Bfree, Bavail, Files, Ffree uint64
	Fsid                                [2]int32
	Namelen, Frsize, Flags              int64
}

// StatFSer is implemented by file systems that report their usage; the
// VFS fills in Flags (ST_RDONLY and the flags every mount has). Others
// report their type only, from their name, with no blocks or inodes (as
// Linux's procfs does).
type StatFSer interface {
	StatFS() (StatFS, error)
}

// Magic numbers of f_type, as in linux/magic.h.
const (
	TmpfsMagic     = 0x01021994
	procMagic      = 0x9fa0
	pipefsMagic    = 0x50495045
	sockfsMagic    = 0x534f434b
	anonInodeMagic = 0x09041934
)

// stRelatime and stValid are f_flags bits Linux sets for every mount
// (relatime is the default; ST_VALID says f_flags is meaningful).
const (
	stRelatime = 0x1000
	stValid    = 0x0020
)

// fsStat answers statfs for one mount.
func fsStat(m *mount) (StatFS, error) {
	var st StatFS
	if s, ok := m.fs.(StatFSer); ok {
		var err error
		if st, err = s.StatFS(); err != nil {
			return StatFS{}, toErrno(err)
		}
	} else {
		st = StatFS{Bsize: 4096, Frsize: 4096, Namelen: NameMax}
		switch m.fs.Name() {
		case "proc":
			st.Type = procMagic
		case "tmpfs", "devtmpfs":
			st.Type = TmpfsMagic
		}
	}
	st.Flags = stValid | stRelatime
	if m.readOnly() {
		st.Flags |= unix.ST_RDONLY
	}
	return st, nil
}

// StatFSAt implements statfs(2): the file system path (followed) is on.
func (v *VFS) StatFSAt(at Loc, path string) (StatFS, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: true, cred: v.credOf(at)})
	if err != nil {
		return StatFS{}, err
	}
	if res.file != nil && res.d == nil {
		return res.file.StatFS()
	}
	return fsStat(res.mnt)
}

// StatFS implements fstatfs(2): the file system of the open file, or for
// an anonymous file the kernel-internal one Linux reports (pipefs, sockfs,
// anon_inodefs).
func (f *File) StatFS() (StatFS, error) {
	if f.dentry != nil {
		return fsStat(f.dentry.mnt)
	}
	st, err := f.Stat()
	if err != nil {
		return StatFS{}, err
	}
	out := StatFS{Type: anonInodeMagic, Bsize: 4096, Frsize: 4096, Namelen: NameMax, Flags: stValid}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		out.Type = pipefsMagic
	case unix.S_IFSOCK:
		out.Type = sockfsMagic
	}
	return out, nil
}

// RootFS returns the file system mounted at the VFS root (the sandbox's
// memfs root, which shares /tmp's limits): where the kernel makes files
// that are linked nowhere (memfd_create).
func (v *VFS) RootFS() FileSystem { return v.root.mnt.fs }

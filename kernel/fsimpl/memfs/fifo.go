package memfs

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/pipe"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Fifo is a named pipe (mkfifo, mknod S_IFIFO). Its opens meet in one
// kernel pipe (pipe.FIFO) with Linux's open rules; the data it buffers is
// charged to the file system's size limit, like a file's pages.
type Fifo struct {
	inode
	fifo *pipe.FIFO
}

// Mknod makes a FIFO; mode carries S_IFIFO and the permission bits. Other
// node types are the caller's to refuse (device nodes need a privilege
// the guest never has).
func (d *Dir) Mknod(name string, mode uint32) error {
	if mode&unix.S_IFMT != unix.S_IFIFO {
		return unix.EPERM
	}
	if err := vfs.ValidName(name); err != nil {
		return err
	}
	f := &Fifo{}
	f.fifo = pipe.NewFIFO(d.fs.chargePipe)
	if err := d.fs.initInode(&f.inode, unix.S_IFIFO, mode, 0, vfs.GuestUID, vfs.GuestGID); err != nil {
		return err
	}
	return d.addNew(name, f)
}

// chargePipe adapts reserve to a pipe's charge function: ENOSPC when the
// file system is full.
func (fs *FS) chargePipe(n int64) error { return fs.reserve(n) }

// Stat returns the FIFO's metadata (size 0, as on Linux).
func (f *Fifo) Stat() (vfs.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statLocked(), nil
}

// Open opens the FIFO without an interruptible wait (the VFS calls
// OpenBlocking; this is for callers that have no caller context).
func (f *Fifo) Open(flags int) (vfs.FileOps, error) {
	return f.OpenBlocking(flags, context.Background())
}

// OpenBlocking opens the FIFO with fifo(7)'s rules; a wait for the other
// end gives up with ERESTARTSYS when ctx is done.
func (f *Fifo) OpenBlocking(flags int, ctx context.Context) (vfs.FileOps, error) {
	e, err := f.fifo.Open(flags, ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.accessedLocked()
	f.mu.Unlock()
	return &fifoEnd{End: e, f: f}, nil
}

// fifoEnd is an open FIFO: the pipe end, stat'ing as the FIFO's inode.
type fifoEnd struct {
	*pipe.End
	f *Fifo
}

// Stat reports the FIFO node, not the anonymous pipe behind it.
func (e *fifoEnd) Stat() (vfs.Stat, error) { return e.f.Stat() }

// StatFS reports the size and inode limits and what is used of them, as
// tmpfs does: without a limit the counts are 0 (Linux's size=0, nr_inodes=0).
func (fs *FS) StatFS() (vfs.StatFS, error) {
	a := fs.acct
	st := vfs.StatFS{Type: vfs.TmpfsMagic, Bsize: pageSize, Frsize: pageSize, Namelen: vfs.NameMax}
	if a.limit > 0 {
		st.Blocks = uint64(a.limit / pageSize)
		used := uint64((a.used.Load() + pageSize - 1) / pageSize)
		st.Bfree = st.Blocks - min(used, st.Blocks)
		st.Bavail = st.Bfree
	}
	if a.maxInodes > 0 {
		st.Files = uint64(a.maxInodes)
		st.Ffree = st.Files - min(uint64(a.inodes.Load()), st.Files)
	}
	return st, nil
}

package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// anonInode is what the anonymous-inode files of timers, signals and
// pidfds (timerfd, signalfd, pidfd) share: an inode number on the
// anonymous device, their stat, and the operations none of them has.
// Each embeds it and overrides what it does serve.
type anonInode struct{ ino uint64 }

func newAnonInode() anonInode { return anonInode{ino: vfs.NewIno()} }

func (a anonInode) Stat() (vfs.Stat, error) {
	now := vfs.Now()
	return vfs.Stat{Dev: anonDev, Ino: a.ino, Nlink: 1, Mode: 0o600, Uid: GuestUID, Gid: GuestGID,
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now}, nil
}

func (anonInode) IsStream() bool                     { return true }
func (anonInode) ReadAt([]byte, int64) (int, error)  { return 0, unix.EINVAL }
func (anonInode) WriteAt([]byte, int64) (int, error) { return 0, unix.EINVAL }
func (anonInode) Truncate(int64) error               { return unix.EINVAL }
func (anonInode) Sync() error                        { return unix.EINVAL }

// installAnon opens ops as an anonymous file called name (with the
// O_NONBLOCK of status) in p's descriptor table.
func (p *Process) installAnon(name string, ops interface {
	vfs.Node
	vfs.FileOps
}, status int, cloexec bool) (int, error) {
	f := vfs.NewAnonFile(name, ops, ops, unix.O_RDWR|status&unix.O_NONBLOCK)
	fd, err := p.FDs.Install(f, 0, cloexec)
	if err != nil {
		_ = f.DecRef()
		return -1, err
	}
	return fd, nil
}

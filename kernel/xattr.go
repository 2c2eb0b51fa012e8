package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Xattr applies an extended-attribute call to path (follow: the *xattr
// calls, not l*xattr), for the process's credentials.
func (p *Process) Xattr(path string, follow bool, op vfs.XattrOp) (vfs.XattrResult, error) {
	at, err := p.at(unix.AT_FDCWD, path)
	if err != nil {
		return vfs.XattrResult{}, err
	}
	defer at.Release()
	return p.k.cfg.FS.XattrAt(at, path, follow, op)
}

// FXattr applies an extended-attribute call to the file open as fd.
func (p *Process) FXattr(fd int, op vfs.XattrOp) (vfs.XattrResult, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return vfs.XattrResult{}, err
	}
	return p.k.cfg.FS.XattrFile(p.Creds(), f, op)
}

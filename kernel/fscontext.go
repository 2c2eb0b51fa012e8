package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// FSContext is a process's root and working directory (Linux's
// fs_struct): references to dentries, not paths, so that a working
// directory follows renames of itself and of the directories above it.
// Processes made by clone with CLONE_FS share one; fork copies it.
type FSContext struct {
	mu    sync.Mutex
	root  *vfs.Dentry
	cwd   *vfs.Dentry
	users int // processes sharing it; the last one releases the dentries
}

// newFSContext returns a context with root and cwd at the VFS root.
func newFSContext(v *vfs.VFS) *FSContext {
	r := v.Root()
	r.IncRef()
	r.IncRef()
	return &FSContext{root: r, cwd: r, users: 1}
}

// fork returns the context of a child: this one shared (CLONE_FS) or a
// copy holding the same dentries.
func (c *FSContext) fork(share bool) *FSContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	if share {
		c.users++
		return c
	}
	c.root.IncRef()
	c.cwd.IncRef()
	return &FSContext{root: c.root, cwd: c.cwd, users: 1}
}

// release drops one user; the last drops the dentries.
func (c *FSContext) release() {
	c.mu.Lock()
	c.users--
	if c.users > 0 {
		c.mu.Unlock()
		return
	}
	root, cwd := c.root, c.cwd
	c.root, c.cwd = nil, nil
	c.mu.Unlock()
	if root != nil {
		root.DecRef()
		cwd.DecRef()
	}
}

// at returns where a walk starts, referenced (release it with
// vfs.Loc.Release): the root, and with cwd the working directory too.
// ENOENT once the context was released (the process is a zombie).
func (c *FSContext) at(cwd bool) (vfs.Loc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.root == nil {
		return vfs.Loc{}, unix.ENOENT
	}
	c.root.IncRef()
	loc := vfs.Loc{Root: c.root}
	if cwd {
		c.cwd.IncRef()
		loc.Dir = c.cwd
	}
	return loc, nil
}

// setCwd makes d (referenced by the caller, who hands the reference over)
// the working directory.
func (c *FSContext) setCwd(d *vfs.Dentry) {
	c.mu.Lock()
	old := c.cwd
	if c.root == nil {
		old = d // released meanwhile: drop d instead
	} else {
		c.cwd = d
	}
	c.mu.Unlock()
	old.DecRef()
}

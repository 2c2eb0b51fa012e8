package vfs

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
)

// Extended attributes: the VFS applies Linux's rules (xattr_permission and
// the capability checks of security.*), and a file system that keeps
// attributes implements Xattrer (memfs). Everything else (hostfs, devfs,
// procfs, pipes) has none: EOPNOTSUPP, and an empty list, as Linux for a
// file system without xattr handlers.

// Xattrer is implemented by nodes that keep extended attributes. Names
// arrive validated and with a namespace the VFS serves.
type Xattrer interface {
	GetXattr(name string) ([]byte, error)
	SetXattr(name string, value []byte, flags int) error // XATTR_CREATE, XATTR_REPLACE
	ListXattr() ([]string, error)
	RemoveXattr(name string) error
}

// Limits of extended attributes (linux/limits.h).
const (
	XattrNameMax = 255
	XattrSizeMax = 65536
	XattrListMax = 65536
)

// capSysAdmin is CAP_SYS_ADMIN, which trusted.* and writing security.* need.
const capSysAdmin cred.Cap = 21

// XattrOp is one extended-attribute call on a resolved file.
type XattrOp struct {
	Kind  XattrKind
	Name  string
	Value []byte // Set
	Flags int    // Set
}

// XattrKind says which call an XattrOp is.
type XattrKind int

// The extended-attribute calls.
const (
	XattrGet XattrKind = iota
	XattrSet
	XattrList
	XattrRemove
)

// XattrResult is what a Get (Value) or List (Names) returned.
type XattrResult struct {
	Value []byte
	Names []string
}

// XattrAt applies op to what path names from at (follow: the *xattr calls
// rather than the l*xattr ones).
func (v *VFS) XattrAt(at Loc, path string, follow bool, op XattrOp) (XattrResult, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	res, err := v.walk(at, path, walkOpts{follow: follow, cred: v.credOf(at)})
	if err != nil {
		return XattrResult{}, err
	}
	out, err := xattr(res.cred, res.node, res.mnt.readOnly(), op)
	if err == nil && (op.Kind == XattrSet || op.Kind == XattrRemove) && v.watching() {
		v.notifyWalked(res, unix.IN_ATTRIB)
	}
	return out, err
}

// XattrFile applies op to an open file (the f*xattr calls).
func (v *VFS) XattrFile(c *Cred, f *File, op XattrOp) (XattrResult, error) {
	if f.isPath() {
		return XattrResult{}, unix.EBADF
	}
	ro := f.dentry != nil && f.dentry.mnt.readOnly()
	out, err := xattr(c, f.dirNode(), ro, op)
	if err == nil && (op.Kind == XattrSet || op.Kind == XattrRemove) {
		f.notify(unix.IN_ATTRIB)
	}
	return out, err
}

func xattr(c *Cred, n Node, readOnly bool, op XattrOp) (XattrResult, error) {
	if n == nil {
		return XattrResult{}, unix.ENOENT
	}
	st, err := stat(n)
	if err != nil {
		return XattrResult{}, err
	}
	xn, has := n.(Xattrer)
	if op.Kind == XattrList {
		if !has {
			return XattrResult{}, nil
		}
		names, err := xn.ListXattr()
		if err != nil {
			return XattrResult{}, toErrno(err)
		}
		if !c.Capable(capSysAdmin) {
			// trusted.* is listed to the privileged only.
			kept := names[:0]
			for _, nm := range names {
				if !strings.HasPrefix(nm, "trusted.") {
					kept = append(kept, nm)
				}
			}
			names = kept
		}
		return XattrResult{Names: names}, nil
	}
	write := op.Kind != XattrGet
	if write && readOnly && !roExempt(&st) {
		// As Linux's mnt_want_write; device nodes are exempt as for
		// open (a read-only /dev is litebox's, Linux's is writable).
		return XattrResult{}, unix.EROFS
	}
	if err := xattrPermission(c, &st, op.Name, write); err != nil {
		return XattrResult{}, err
	}
	if write && strings.HasPrefix(op.Name, "security.") && !c.Capable(capSysAdmin) {
		return XattrResult{}, unix.EPERM // cap_inode_setxattr, cap_inode_removexattr
	}
	if err := xattrNamespace(op.Name); err != nil {
		return XattrResult{}, err
	}
	if !has {
		return XattrResult{}, unix.EOPNOTSUPP
	}
	switch op.Kind {
	case XattrGet:
		val, err := xn.GetXattr(op.Name)
		return XattrResult{Value: val}, toErrno(err)
	case XattrSet:
		return XattrResult{}, toErrno(xn.SetXattr(op.Name, op.Value, op.Flags))
	default:
		return XattrResult{}, toErrno(xn.RemoveXattr(op.Name))
	}
}

// xattrPermission is Linux's xattr_permission: trusted.* needs
// CAP_SYS_ADMIN (EPERM to write, ENODATA to read), user.* lives only on
// regular files and directories and, on a sticky directory, is written by
// its owner; then the file's read or write permission.
func xattrPermission(c *Cred, st *Stat, name string, write bool) error {
	deny := unix.ENODATA
	if write {
		deny = unix.EPERM
	}
	switch {
	case strings.HasPrefix(name, "security."), strings.HasPrefix(name, "system."):
		return nil
	case strings.HasPrefix(name, "trusted."):
		if !c.Capable(capSysAdmin) {
			return deny
		}
		return nil
	case strings.HasPrefix(name, "user."):
		if !st.IsRegular() && !st.IsDir() {
			return deny
		}
		if st.IsDir() && st.Mode&unix.S_ISVTX != 0 && write && !owns(c, st) {
			return unix.EPERM
		}
	}
	want := uint32(mayRead)
	if write {
		want = mayWrite
	}
	return check(c, st, want)
}

// xattrNamespace resolves the name's namespace as Linux's
// xattr_resolve_name does for memfs's handlers (user, trusted, security):
// EINVAL for a bare prefix, EOPNOTSUPP for any other namespace (system.*:
// no POSIX ACLs).
func xattrNamespace(name string) error {
	for _, p := range []string{"user.", "trusted.", "security."} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			if rest == "" {
				return unix.EINVAL
			}
			return nil
		}
	}
	return unix.EOPNOTSUPP
}

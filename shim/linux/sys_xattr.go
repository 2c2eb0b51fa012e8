package linux

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// The extended-attribute calls, in Linux 6.13+'s order: the name (and a
// value to set) is copied and checked before the path is resolved; the
// VFS applies the namespace and permission rules (kernel/vfs/xattr.go).

// xattrTarget is the file a call names: a path (followed or not) or a
// descriptor.
type xattrTarget struct {
	pathAddr uint64
	fd       int
	byFD     bool
	follow   bool
}

func (x xattrTarget) do(t *kernel.Task, op vfs.XattrOp) (vfs.XattrResult, error) {
	if x.byFD {
		return t.Proc.FXattr(x.fd, op)
	}
	path, err := readPath(t, x.pathAddr)
	if err != nil {
		return vfs.XattrResult{}, err
	}
	return t.Proc.Xattr(path, x.follow, op)
}

// readXattrName copies an attribute name: ERANGE when empty or longer
// than XATTR_NAME_MAX.
func readXattrName(t *kernel.Task, addr uint64) (string, error) {
	name, err := readString(t, addr, vfs.XattrNameMax)
	switch {
	case err == unix.ENAMETOOLONG:
		return "", unix.ERANGE
	case err != nil:
		return "", err
	case name == "":
		return "", unix.ERANGE
	}
	return name, nil
}

func setxattr(t *kernel.Task, x xattrTarget, a args) (uint64, error) {
	nameAddr, valAddr, size, flags := a[1], a[2], a[3], a[4]
	if flags&^uint64(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return 0, unix.EINVAL
	}
	name, err := readXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	if size > vfs.XattrSizeMax {
		return 0, unix.E2BIG
	}
	val, err := t.CopyIn(valAddr, int(size))
	if err != nil {
		return 0, err
	}
	_, err = x.do(t, vfs.XattrOp{Kind: vfs.XattrSet, Name: name, Value: val, Flags: int(flags)})
	return 0, err
}

func getxattr(t *kernel.Task, x xattrTarget, a args) (uint64, error) {
	nameAddr, valAddr, size := a[1], a[2], min(a[3], vfs.XattrSizeMax)
	name, err := readXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	r, err := x.do(t, vfs.XattrOp{Kind: vfs.XattrGet, Name: name})
	if err != nil {
		return 0, err
	}
	return copyXattrOut(t, valAddr, size, a[3], r.Value, vfs.XattrSizeMax)
}

// copyXattrOut answers a get or list: the length when size is 0, ERANGE
// when the buffer is too small (E2BIG when it was already the largest),
// else the bytes.
func copyXattrOut(t *kernel.Task, addr, size, asked uint64, b []byte, max uint64) (uint64, error) {
	if asked == 0 {
		return uint64(len(b)), nil
	}
	if uint64(len(b)) > size {
		if asked >= max {
			return 0, unix.E2BIG
		}
		return 0, unix.ERANGE
	}
	return uint64(len(b)), t.CopyOut(addr, b)
}

func listxattr(t *kernel.Task, x xattrTarget, a args) (uint64, error) {
	r, err := x.do(t, vfs.XattrOp{Kind: vfs.XattrList})
	if err != nil {
		return 0, err
	}
	var list []byte
	if len(r.Names) > 0 {
		list = []byte(strings.Join(r.Names, "\x00") + "\x00")
	}
	return copyXattrOut(t, a[1], min(a[2], vfs.XattrListMax), a[2], list, vfs.XattrListMax)
}

func removexattr(t *kernel.Task, x xattrTarget, a args) (uint64, error) {
	name, err := readXattrName(t, a[1])
	if err != nil {
		return 0, err
	}
	_, err = x.do(t, vfs.XattrOp{Kind: vfs.XattrRemove, Name: name})
	return 0, err
}

func pathX(a args, follow bool) xattrTarget { return xattrTarget{pathAddr: a[0], follow: follow} }
func fdX(a args) xattrTarget                { return xattrTarget{fd: fdArg(a[0]), byFD: true} }

func sysSetxattr(t *kernel.Task, a args) (uint64, error)    { return setxattr(t, pathX(a, true), a) }
func sysLsetxattr(t *kernel.Task, a args) (uint64, error)   { return setxattr(t, pathX(a, false), a) }
func sysFsetxattr(t *kernel.Task, a args) (uint64, error)   { return setxattr(t, fdX(a), a) }
func sysGetxattr(t *kernel.Task, a args) (uint64, error)    { return getxattr(t, pathX(a, true), a) }
func sysLgetxattr(t *kernel.Task, a args) (uint64, error)   { return getxattr(t, pathX(a, false), a) }
func sysFgetxattr(t *kernel.Task, a args) (uint64, error)   { return getxattr(t, fdX(a), a) }
func sysListxattr(t *kernel.Task, a args) (uint64, error)   { return listxattr(t, pathX(a, true), a) }
func sysLlistxattr(t *kernel.Task, a args) (uint64, error)  { return listxattr(t, pathX(a, false), a) }
func sysFlistxattr(t *kernel.Task, a args) (uint64, error)  { return listxattr(t, fdX(a), a) }
func sysRemovexattr(t *kernel.Task, a args) (uint64, error) { return removexattr(t, pathX(a, true), a) }
func sysLremovexattr(t *kernel.Task, a args) (uint64, error) {
	return removexattr(t, pathX(a, false), a)
}
func sysFremovexattr(t *kernel.Task, a args) (uint64, error) { return removexattr(t, fdX(a), a) }

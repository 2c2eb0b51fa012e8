package memfs

import (
	"sort"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Extended attributes (the user.*, trusted.* and security.* namespaces;
// the VFS applies Linux's permission rules before asking). They are
// charged to the file system's size limit: XattrCost plus the name and the
// value each, given back when they go or with the inode.

// XattrCost is what each extended attribute costs besides its name and
// value.
const XattrCost = 64

// xattrNamesMax bounds the names of one inode together (with their NULs),
// Linux's XATTR_LIST_MAX: more could never be listed.
const xattrNamesMax = 65536

func xattrCharge(name string, value []byte) int64 {
	return XattrCost + int64(len(name)+len(value))
}

// GetXattr returns the value of the attribute name: ENODATA if unset.
func (i *inode) GetXattr(name string) ([]byte, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	v, ok := i.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return append([]byte(nil), v...), nil
}

// SetXattr sets the attribute name to value: with XATTR_CREATE it must not
// exist (EEXIST), with XATTR_REPLACE it must (ENODATA); ENOSPC past the
// size limit.
func (i *inode) SetXattr(name string, value []byte, flags int) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	old, exists := i.xattrs[name]
	switch {
	case exists && flags&unix.XATTR_CREATE != 0:
		return unix.EEXIST
	case !exists && flags&unix.XATTR_REPLACE != 0:
		return unix.ENODATA
	}
	if !exists && i.xattrNames+len(name)+1 > xattrNamesMax {
		return unix.ENOSPC
	}
	delta := xattrCharge(name, value)
	if exists {
		delta -= xattrCharge(name, old)
	}
	if err := i.fs.reserve(delta); err != nil {
		return err
	}
	if i.xattrs == nil {
		i.xattrs = map[string][]byte{}
	}
	if !exists {
		i.xattrNames += len(name) + 1
	}
	i.xattrs[name] = append([]byte(nil), value...)
	i.charge += delta
	i.ctime = vfs.Now()
	return nil
}

// ListXattr returns the attribute names, sorted.
func (i *inode) ListXattr() ([]string, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	names := make([]string, 0, len(i.xattrs))
	for n := range i.xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// RemoveXattr removes the attribute name: ENODATA if unset.
func (i *inode) RemoveXattr(name string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	v, ok := i.xattrs[name]
	if !ok {
		return unix.ENODATA
	}
	delete(i.xattrs, name)
	if len(i.xattrs) == 0 {
		i.xattrs = nil
	}
	i.xattrNames -= len(name) + 1
	c := xattrCharge(name, v)
	i.charge -= c
	i.fs.reserve(-c)
	i.ctime = vfs.Now()
	return nil
}

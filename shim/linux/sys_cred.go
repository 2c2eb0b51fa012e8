package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/cred"
)

// The identity calls read and change the calling process's credentials
// (kernel/cred has the rules, which are Linux's). uid_t and gid_t are 32
// bits: the kernel reads the low half of the register, so (uid_t)-1 passed
// as a 64-bit -1 is cred.NoID.

func sysGetuid(t *kernel.Task, a args) (uint64, error)  { return uint64(t.Proc.Creds().UID), nil }
func sysGeteuid(t *kernel.Task, a args) (uint64, error) { return uint64(t.Proc.Creds().EUID), nil }
func sysGetgid(t *kernel.Task, a args) (uint64, error)  { return uint64(t.Proc.Creds().GID), nil }
func sysGetegid(t *kernel.Task, a args) (uint64, error) { return uint64(t.Proc.Creds().EGID), nil }

// putIDs writes three ids for getresuid and getresgid, in Linux's order
// (each pointer is checked as it is written: EFAULT).
func putIDs(t *kernel.Task, a args, ids [3]uint32) error {
	for i, id := range ids {
		if err := t.WriteU32(a[i], id); err != nil {
			return err
		}
	}
	return nil
}

func sysGetresuid(t *kernel.Task, a args) (uint64, error) {
	c := t.Proc.Creds()
	return 0, putIDs(t, a, [3]uint32{c.UID, c.EUID, c.SUID})
}

func sysGetresgid(t *kernel.Task, a args) (uint64, error) {
	c := t.Proc.Creds()
	return 0, putIDs(t, a, [3]uint32{c.GID, c.EGID, c.SGID})
}

func sysSetuid(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) { return c.SetUID(uint32(a[0])) })
}

func sysSetgid(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) { return c.SetGID(uint32(a[0])) })
}

func sysSetreuid(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
		return c.SetREUID(uint32(a[0]), uint32(a[1]))
	})
}

func sysSetregid(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
		return c.SetREGID(uint32(a[0]), uint32(a[1]))
	})
}

func sysSetresuid(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
		return c.SetRESUID(uint32(a[0]), uint32(a[1]), uint32(a[2]))
	})
}

func sysSetresgid(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
		return c.SetRESGID(uint32(a[0]), uint32(a[1]), uint32(a[2]))
	})
}

// sysSetfsuid returns the previous fs uid whether or not it changed it,
// as Linux (which has no error for this call).
func sysSetfsuid(t *kernel.Task, a args) (uint64, error) {
	var old uint32
	_ = t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
		o, n := c.SetFSUID(uint32(a[0]))
		old = o
		return n, nil
	})
	return uint64(old), nil
}

func sysSetfsgid(t *kernel.Task, a args) (uint64, error) {
	var old uint32
	_ = t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) {
		o, n := c.SetFSGID(uint32(a[0]))
		old = o
		return n, nil
	})
	return uint64(old), nil
}

// sysGetgroups returns the number of supplementary groups and, when size
// is not 0, copies them out: EINVAL for a negative size or one too small.
func sysGetgroups(t *kernel.Task, a args) (uint64, error) {
	size := int32(a[0])
	if size < 0 {
		return 0, unix.EINVAL
	}
	g := t.Proc.Creds().Groups()
	if size == 0 || len(g) == 0 {
		return uint64(len(g)), nil
	}
	if len(g) > int(size) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(g)) // at most NGROUPS_MAX ids: 256 KiB
	for i, id := range g {
		binary.LittleEndian.PutUint32(b[4*i:], id)
	}
	return uint64(len(g)), t.CopyOut(a[1], b)
}

// sysSetgroups checks the caller's right (EPERM) and the size (EINVAL,
// bounding the copy to NGROUPS_MAX ids) before it reads the list
// (EFAULT), as Linux.
func sysSetgroups(t *kernel.Task, a args) (uint64, error) {
	size := int64(int32(a[0]))
	if err := t.Proc.Creds().CheckSetGroups(size); err != nil {
		return 0, err
	}
	var groups []uint32
	if size > 0 {
		b, err := t.CopyIn(a[1], int(size)*4)
		if err != nil {
			return 0, err
		}
		groups = make([]uint32, size)
		for i := range groups {
			groups[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
	}
	return 0, t.Proc.ChangeCreds(func(c *cred.Creds) (*cred.Creds, error) { return c.SetGroups(groups) })
}

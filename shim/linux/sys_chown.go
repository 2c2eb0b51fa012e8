package linux

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

func sysChown(t *kernel.Task, a args) (uint64, error) {
	return chown(t, unix.AT_FDCWD, a[0], a[1], a[2], 0)
}

func sysLchown(t *kernel.Task, a args) (uint64, error) {
	return chown(t, unix.AT_FDCWD, a[0], a[1], a[2], unix.AT_SYMLINK_NOFOLLOW)
}

func sysFchownat(t *kernel.Task, a args) (uint64, error) {
	return chown(t, fdArg(a[0]), a[1], a[2], a[3], int(a[4]))
}

func sysFchown(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.Fchown(fdArg(a[0]), uint32(a[1]), uint32(a[2]))
}

// chown serves the chown family under the caller's credentials (the rules
// are the kernel's: kernel/vfs ChownAt). uid_t and gid_t are 32 bits;
// (uid_t)-1 leaves an id unchanged. Nothing ever reaches the host: a host
// file's owner never changes.
func chown(t *kernel.Task, dirfd int, pathAddr, uid, gid uint64, flags int) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil && !(pathAddr != 0 && flags&unix.AT_EMPTY_PATH != 0) {
		return 0, err
	}
	return 0, t.Proc.Fchownat(dirfd, path, uint32(uid), uint32(gid), flags)
}

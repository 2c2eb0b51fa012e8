package linux

import (
	"log/slog"

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
	st, err := t.Proc.Fstat(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, chownIDs(t, st.Uid, a[1], a[2])
}

// chown serves the chown family. The guest is an unprivileged user (uid
// and gid 1000) and owns what it creates, so the only ownership change it
// may make is to itself — a no-op — as on Linux for a non-root user;
// anything else is EPERM. Nothing ever reaches the host.
func chown(t *kernel.Task, dirfd int, pathAddr, uid, gid uint64, flags int) (uint64, error) {
	path, err := readPath(t, pathAddr)
	if err != nil && !(pathAddr != 0 && flags&unix.AT_EMPTY_PATH != 0) {
		return 0, err
	}
	st, err := t.Proc.Fstatat(dirfd, path, flags&(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH))
	if err != nil {
		return 0, err
	}
	return 0, chownIDs(t, st.Uid, uid, gid)
}

// chownIDs decides a chown of a file owned by owner: an unprivileged user
// may only "change" the owner and group of its own files to itself.
func chownIDs(t *kernel.Task, owner uint32, uid, gid uint64) error {
	const keep = ^uint32(0) // (uid_t)-1: leave unchanged
	u, g := uint32(uid), uint32(gid)
	if u == keep && g == keep {
		return nil
	}
	if owner == kernel.GuestUID && (u == keep || u == kernel.GuestUID) && (g == keep || g == kernel.GuestGID) {
		t.Proc.Kernel().AuditEvent("chown_noop", slog.Int("pid", t.Proc.PID), slog.Uint64("uid", uint64(u)),
			slog.Uint64("gid", uint64(g)))
		return nil
	}
	return unix.EPERM
}

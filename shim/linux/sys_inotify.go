package linux

import (
	"github.com/litebox-go/litebox/kernel"
)

// inotify(7): the instances and their watches are the kernel's
// (kernel/inotify.go); the events come from the VFS.

func sysInotifyInit(t *kernel.Task, _ args) (uint64, error) {
	fd, err := t.Proc.InotifyInit1(0)
	return uint64(fd), err
}

func sysInotifyInit1(t *kernel.Task, a args) (uint64, error) {
	fd, err := t.Proc.InotifyInit1(int(int32(a[0])))
	return uint64(fd), err
}

func sysInotifyAddWatch(t *kernel.Task, a args) (uint64, error) {
	path, err := readPath(t, a[1])
	if err != nil {
		return 0, err
	}
	wd, err := t.Proc.InotifyAddWatch(fdArg(a[0]), path, uint32(a[2]))
	return uint64(wd), err
}

func sysInotifyRmWatch(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.InotifyRmWatch(fdArg(a[0]), int32(a[1]))
}

package spec

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsTypes are the namespace types of linux.namespaces and the clone flag
// NS_GET_NSTYPE reports for a namespace file of each.
var nsTypes = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// nsName names a namespace by its clone flag, for errors.
func nsName(flag int) string {
	for t, f := range nsTypes {
		if f == flag {
			return string(t)
		}
	}
	return fmt.Sprintf("unknown (%#x)", flag)
}

// checkNamespacePath verifies that path, a linux.namespaces entry's, is a
// namespace file (nsfs: /proc/PID/ns/*, a bind of one under /run/netns)
// of type typ, as the spec requires a runtime to (runc's setns fails on
// the others). It only opens and inspects the file: nothing is joined.
func checkNamespacePath(typ specs.LinuxNamespaceType, path string) error {
	want := nsTypes[typ]
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		// A namespace file is a regular one; a FIFO would block the open.
		return fmt.Errorf("%s: not a namespace file", path)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if st.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("%s: not a namespace file", path)
	}
	got, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		return &os.PathError{Op: "NS_GET_NSTYPE", Path: path, Err: err}
	}
	if got != want {
		return fmt.Errorf("%s: a %s namespace, want %s", path, nsName(got), typ)
	}
	return nil
}

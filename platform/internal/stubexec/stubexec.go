// Package stubexec starts a platform's holder stub: the image is written to
// a sealed memfd and executed, traced, in new user, mount, pid, net, ipc
// and uts namespaces, as root of its user namespace mapped to an
// unprivileged host user.
package stubexec

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exec starts image with files as its descriptors 0..n-1 and returns its
// pid. The caller's OS thread becomes its tracer.
func Exec(image []byte, files []uintptr) (int, error) {
	fd, err := unix.MemfdCreate("litebox-stub", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return 0, fmt.Errorf("memfd for stub: %w", err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, image); err != nil {
		return 0, fmt.Errorf("writing stub: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return 0, fmt.Errorf("sealing stub: %w", err)
	}
	// nobody when litebox runs as root, else litebox's own user.
	hostUID, hostGID := os.Getuid(), os.Getgid()
	if hostUID == 0 {
		hostUID, hostGID = 65534, 65534
	}
	pid, err := syscall.ForkExec(fmt.Sprintf("/proc/self/fd/%d", fd), []string{"litebox-stub"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: files,
		Sys: &syscall.SysProcAttr{
			Ptrace:  true,
			Setpgid: true, // terminal signals go to litebox, which decides
			Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
				unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostUID, Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostGID, Size: 1}},
			GidMappingsEnableSetgroups: false,
			// Become the namespace's root before exec, so the exec keeps
			// the capabilities the set-up needs (it then drops them all).
			Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
		},
	})
	if err != nil {
		return 0, fmt.Errorf("starting the stub in new namespaces (user namespaces must be enabled): %w", err)
	}
	return pid, nil
}

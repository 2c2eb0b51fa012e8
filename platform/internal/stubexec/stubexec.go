// Package stubexec starts a platform's holder stub: the image is written to
// a sealed memfd and executed, traced, in new user, mount, pid, net, ipc
// and uts namespaces, as root of its user namespace mapped to an
// unprivileged host user.
package stubexec

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/seccomp"
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
	// The child execs /proc/self/fd/N after placing files at 0..n-1, and
	// on the way moves each file numbered below its place to numbers above
	// the highest of files: the image's descriptor must be none of those
	// numbers, or the child would exec whatever file landed there
	// (ENOEXEC).
	above := len(files)
	for _, f := range files {
		above = max(above, int(f)+1)
	}
	above += len(files) + 1
	if fd < above {
		high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, above)
		if err != nil {
			return 0, fmt.Errorf("moving the stub's descriptor: %w", err)
		}
		defer unix.Close(high)
		fd = high
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

// ReapHolder kills the holder pid and waits until it is reaped, reaping
// on the way every child of the holder that is a zombie: a stub killed
// while a litebox thread traced it (a timeout during a fork) stays a
// zombie until it is reaped, and the holder, the init of the stubs' pid
// namespace, cannot finish its exit before. wait4 on a specific pid from
// any thread of litebox reaps it, whichever thread traces it, and never
// touches another sandbox's processes. It gives up after timeout.
func ReapHolder(pid int, timeout time.Duration) {
	_ = unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	// The holder dies within a millisecond or so of SIGKILL (its stubs'
	// address spaces go with it): poll soon, then less often, so that a
	// sandbox's end is not a fixed sleep longer than the death itself.
	pause := 100 * time.Microsecond
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if got, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil); got == pid || err == unix.ECHILD {
			if got == pid && ws.Stopped() {
				_ = unix.PtraceCont(pid, 0) // a last ptrace stop on its way out
				continue
			}
			return
		}
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				if got, _ := unix.Wait4(c, &ws, unix.WALL|unix.WNOHANG, nil); got == c && ws.Stopped() {
					_ = unix.PtraceCont(c, 0)
				}
			}
		}
		time.Sleep(pause)
		pause = min(2*pause, 2*time.Millisecond)
	}
}

// HostRules are the host syscalls litebox makes to drive stubs started
// with Exec, whichever platform: platforms declare them to the registry so
// that litebox's own seccomp allowlist includes them.
var HostRules = []seccomp.Rule{
	{Name: "ptrace", Nr: unix.SYS_PTRACE, Why: "trace stub threads (SEIZE, SYSEMU, GETREGS/SETREGS, CONT...)"},
	{Name: "wait4", Nr: unix.SYS_WAIT4, Why: "stub stops and deaths"},
	{Name: "kill", Nr: unix.SYS_KILL, Why: "killing stubs (sandbox end, execve); is a stub still alive"},
	{Name: "process_vm_readv", Nr: unix.SYS_PROCESS_VM_READV, Why: "checked copies from guest memory"},
	{Name: "process_vm_writev", Nr: unix.SYS_PROCESS_VM_WRITEV, Why: "checked copies to guest memory"},
}

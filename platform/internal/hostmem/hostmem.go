// Package hostmem copies between litebox's memory and a stub process's
// with process_vm_readv/writev, which go through the stub's page tables and
// protections exactly as the guest's own accesses would.
package hostmem

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxAddr bounds guest addresses (x86-64 user space with 4-level paging).
const MaxAddr = 0x7ffffffff000

// remoteIovec is an iovec naming memory in another process; keeping the
// address as an integer stops Go from treating it as a pointer.
type remoteIovec struct{ base, len uint64 }

// Read copies from pid's memory at addr into buf; an unmapped or
// unreadable page ends the copy with EFAULT and the count copied so far.
func Read(pid int, addr uint64, buf []byte) (int, error) {
	return copyVM(pid, addr, buf, unix.SYS_PROCESS_VM_READV)
}

// Write copies buf into pid's memory at addr; unmapped or read-only pages
// end the copy with EFAULT.
func Write(pid int, addr uint64, buf []byte) (int, error) {
	return copyVM(pid, addr, buf, unix.SYS_PROCESS_VM_WRITEV)
}

func copyVM(pid int, addr uint64, buf []byte, nr uintptr) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	if addr+uint64(len(buf)) < addr || addr+uint64(len(buf)) > MaxAddr {
		return 0, unix.EFAULT
	}
	done := 0
	for done < len(buf) {
		local := unix.Iovec{Base: &buf[done]}
		local.SetLen(len(buf) - done)
		remote := remoteIovec{base: addr + uint64(done), len: uint64(len(buf) - done)}
		n, _, errno := unix.Syscall6(nr, uintptr(pid),
			uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || n == 0 {
			return done, unix.EFAULT
		}
		done += int(n)
	}
	return done, nil
}

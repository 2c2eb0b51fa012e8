package linux

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/audit"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform"
)

// newProcTask returns a task of a fresh process on an empty tmpfs, its
// memory laid out as in newMemTask but mapped through the process's MM,
// so the kernel's record and the fake memory agree.
func newProcTask(t *testing.T, log *audit.Log) (*kernel.Task, *fakeMem) {
	t.Helper()
	mem := newFakeMem()
	k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), Audit: log})
	p, err := k.NewProcess(mm.New(mem, nil, 0x7fe000000000), [3]*vfs.File{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.FDs.CloseAll() })
	for _, r := range []struct {
		addr, len uint64
		prot      int
	}{
		{memBase, memEnd - memBase, unix.PROT_READ | unix.PROT_WRITE},
		{rwPage, pageSize, unix.PROT_READ | unix.PROT_WRITE},
		{noAccess, pageSize, unix.PROT_NONE},
	} {
		if _, err := p.MM.Mmap(mm.MapRequest{Addr: r.addr, Length: r.len, Prot: r.prot, Fixed: true}); err != nil {
			t.Fatal(err)
		}
	}
	task := p.Leader()
	task.Mem, task.Regs = mem, &platform.Regs{}
	return task, mem
}

// testABI serves the tests' syscalls: no usage record, no panic hook.
var testABI = &ABI{}

// atFDCWD is AT_FDCWD (-100) as it arrives in a register.
const atFDCWD = ^uint64(-unix.AT_FDCWD - 1)

// syscall runs one syscall through Dispatch and returns rax.
func syscall(t *testing.T, task *kernel.Task, nr uint64, a ...uint64) uint64 {
	t.Helper()
	var args [6]uint64
	copy(args[:], a)
	r := task.Regs
	r.Orig_rax, r.Rax = nr, 0xdead // rax must be overwritten
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = args[0], args[1], args[2], args[3], args[4], args[5]
	if exit := testABI.Syscall(task); exit != nil {
		t.Fatalf("%s: unexpected exit: %v", Name(nr), exit)
	}
	return r.Rax
}

// errnoOf decodes rax: -4095..-1 are errors, everything else a result.
func errnoOf(rax uint64) unix.Errno {
	if rax >= ^uint64(4095) { // -4095 as an unsigned register value
		return unix.Errno(-rax)
	}
	return 0
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func TestSyscallNames(t *testing.T) {
	n := 0
	for nr := range uint64(len(table)) {
		if !Implemented(nr) {
			continue
		}
		n++
		if got := Name(nr); got == fmt.Sprintf("syscall_%d", nr) {
			t.Errorf("syscall %d is registered but has no name", nr)
		}
	}
	if n == 0 {
		t.Fatal("no syscalls registered")
	}
	for _, tt := range []struct {
		nr   uint64
		want string
	}{
		{unix.SYS_READ, "read"},
		{unix.SYS_OPENAT, "openat"},
		{unix.SYS_GETRANDOM, "getrandom"},
		{uint64(NumSyscalls()), fmt.Sprintf("syscall_%d", NumSyscalls())},
		{1 << 40, "syscall_1099511627776"},
	} {
		if got := Name(tt.nr); got != tt.want {
			t.Errorf("Name(%d) = %q, want %q", tt.nr, got, tt.want)
		}
	}
}

func TestDispatchUnimplemented(t *testing.T) {
	tests := []struct {
		nr       uint64
		wantName string
	}{
		// Syscalls a sandboxed guest will never be served.
		{unix.SYS_REBOOT, "reboot"},
		{unix.SYS_KEXEC_LOAD, "kexec_load"},
		{unix.SYS_INIT_MODULE, "init_module"},
		// Numbers past the table must not index out of it.
		{uint64(len(table)), fmt.Sprintf("syscall_%d", len(table))},
		{1 << 32, "syscall_4294967296"},
		{^uint64(0), "syscall_18446744073709551615"},
	}
	for _, tt := range tests {
		t.Run(tt.wantName, func(t *testing.T) {
			var buf bytes.Buffer
			log := audit.New(&buf, audit.Options{})
			task, _ := newProcTask(t, log)
			if Implemented(tt.nr) {
				t.Fatalf("%s is implemented", tt.wantName)
			}
			if got := errnoOf(syscall(t, task, tt.nr, 1, 2, 3)); got != unix.ENOSYS {
				t.Errorf("rax = -%d, want -ENOSYS", got)
			}
			// The operator learns which syscall the guest wanted.
			if err := log.Close(); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf(`"syscall":%q`, tt.wantName); !strings.Contains(buf.String(), want) ||
				!strings.Contains(buf.String(), "unsupported_syscall") {
				t.Errorf("audit log %q does not report %s", buf.String(), want)
			}
		})
	}
}

func TestDispatchExit(t *testing.T) {
	task, _ := newProcTask(t, nil)
	task.Regs.Orig_rax, task.Regs.Rdi = unix.SYS_EXIT_GROUP, 300
	exit := testABI.Syscall(task)
	if exit == nil || exit.Code != 300&0xff || exit.Signal != 0 {
		t.Fatalf("exit_group(300) = %v, want status %d", exit, 300&0xff)
	}
	if !task.Proc.Exiting() || task.Proc.Status() != kernel.WaitStatusExited(300&0xff) {
		t.Fatalf("after exit_group(300): exiting=%v status=%#x, want the process exiting with status %#x",
			task.Proc.Exiting(), task.Proc.Status(), kernel.WaitStatusExited(300&0xff))
	}
}

func TestDispatch(t *testing.T) {
	const buf = memBase + 0x100 // scratch space in the read-write region
	tests := []struct {
		name string
		// setup prepares the task and returns the syscall's arguments.
		setup   func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64
		nr      uint64
		want    uint64
		wantErr unix.Errno
		check   func(t *testing.T, task *kernel.Task, mem *fakeMem)
	}{
		{name: "uname", nr: unix.SYS_UNAME,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{buf} },
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				u := mem.peek(t, buf, 6*65)
				for i, want := range []string{"Linux", "litebox", Release, "", "x86_64", "(none)"} {
					field := u[i*65 : (i+1)*65]
					if field[64] != 0 {
						t.Errorf("utsname field %d is not NUL-terminated", i)
					}
					if got := cstring(field); want != "" && got != want {
						t.Errorf("utsname field %d = %q, want %q", i, got, want)
					}
				}
			}},
		{name: "uname NULL", nr: unix.SYS_UNAME, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{0} }},
		{name: "uname running into an unmapped page", nr: unix.SYS_UNAME, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{memEnd - 100} }},

		{name: "getrandom", nr: unix.SYS_GETRANDOM, want: 64,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{buf, 64, 0} },
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				got := mem.peek(t, buf, 65)
				if bytes.Equal(got[:64], make([]byte, 64)) {
					t.Error("getrandom wrote no random bytes")
				}
				if got[64] != 0 {
					t.Error("getrandom wrote past the buffer")
				}
			}},
		{name: "getrandom nothing", nr: unix.SYS_GETRANDOM, want: 0,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{0, 0, 0} }},
		{name: "getrandom nonblocking insecure", nr: unix.SYS_GETRANDOM, want: 16,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{buf, 16, unix.GRND_NONBLOCK | unix.GRND_INSECURE}
			}},
		{name: "getrandom GRND_RANDOM", nr: unix.SYS_GETRANDOM, want: 16,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{buf, 16, unix.GRND_RANDOM}
			}},
		// The two are contradictory: Linux refuses the pair.
		{name: "getrandom GRND_RANDOM|GRND_INSECURE", nr: unix.SYS_GETRANDOM, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{buf, 16, unix.GRND_RANDOM | unix.GRND_INSECURE}
			}},
		{name: "getrandom unknown flag", nr: unix.SYS_GETRANDOM, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{buf, 16, 0x8} }},
		{name: "getrandom NULL", nr: unix.SYS_GETRANDOM, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{0, 16, 0} }},
		// Like Linux, report the bytes written before the fault.
		{name: "getrandom running into an unmapped page", nr: unix.SYS_GETRANDOM, want: 16,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{memEnd - 16, 64, 0} }},
		{name: "getrandom caps one call at 32 MiB - 1", nr: unix.SYS_GETRANDOM, want: 1<<25 - 1,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				addr, err := task.Proc.MM.Mmap(mm.MapRequest{Length: 1<<25 + pageSize, Prot: unix.PROT_READ | unix.PROT_WRITE})
				if err != nil {
					t.Fatal(err)
				}
				return []uint64{addr, 1 << 25, 0}
			}},

		{name: "getcpu", nr: unix.SYS_GETCPU,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, buf, bytes.Repeat([]byte{0xff}, 8))
				return []uint64{buf, buf + 4, 0}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				b := mem.peek(t, buf, 8)
				cpu, node := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
				if cpu >= uint32(runtime.NumCPU()) || node != 0 {
					t.Errorf("getcpu: cpu %d node %d, want a CPU of the affinity mask on node 0", cpu, node)
				}
			}},
		{name: "getcpu NULL", nr: unix.SYS_GETCPU,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{0, 0, 0} }},
		{name: "getcpu bad node pointer", nr: unix.SYS_GETCPU, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{buf, noAccess, 0} }},

		{name: "clock_gettime monotonic", nr: unix.SYS_CLOCK_GETTIME,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{unix.CLOCK_MONOTONIC, buf}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				ts := mem.peek(t, buf, 16)
				sec, nsec := binary.LittleEndian.Uint64(ts), binary.LittleEndian.Uint64(ts[8:])
				// Monotonic time counts from the sandbox's boot, just now.
				if sec > 60 || nsec >= 1e9 {
					t.Errorf("CLOCK_MONOTONIC = %d.%09d", sec, nsec)
				}
			}},
		{name: "clock_gettime realtime", nr: unix.SYS_CLOCK_GETTIME,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{unix.CLOCK_REALTIME, buf}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				sec := int64(binary.LittleEndian.Uint64(mem.peek(t, buf, 8)))
				if d := time.Now().Unix() - sec; d < 0 || d > 60 {
					t.Errorf("CLOCK_REALTIME = %d, now %d", sec, time.Now().Unix())
				}
			}},
		{name: "clock_gettime process CPU time", nr: unix.SYS_CLOCK_GETTIME,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				task.CPUTime = func() (int64, error) { return 1_500_000_000, nil }
				return []uint64{unix.CLOCK_PROCESS_CPUTIME_ID, buf}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				ts := mem.peek(t, buf, 16)
				if sec, nsec := binary.LittleEndian.Uint64(ts), binary.LittleEndian.Uint64(ts[8:]); sec != 1 || nsec != 5e8 {
					t.Errorf("CLOCK_PROCESS_CPUTIME_ID = %d.%09d, want 1.5", sec, nsec)
				}
			}},
		{name: "clock_gettime CPU time without a source", nr: unix.SYS_CLOCK_GETTIME, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{unix.CLOCK_THREAD_CPUTIME_ID, buf}
			}},
		{name: "clock_gettime bad clock", nr: unix.SYS_CLOCK_GETTIME, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{100, buf} }},
		// The id is a 32-bit int: high bits must not turn a bad id into a good one.
		{name: "clock_gettime bad clock, high bits", nr: unix.SYS_CLOCK_GETTIME, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{1<<32 | 100, buf} }},
		{name: "clock_gettime bad pointer", nr: unix.SYS_CLOCK_GETTIME, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{unix.CLOCK_REALTIME, memEnd - 8}
			}},

		{name: "write to a bad fd", nr: unix.SYS_WRITE, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, buf, 4} }},
		{name: "write to fd -1", nr: unix.SYS_WRITE, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{^uint64(0), buf, 4} }},
		// Linux looks at the descriptor before the buffer.
		{name: "write to a bad fd from a bad buffer", nr: unix.SYS_WRITE, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, 0, 4} }},
		{name: "write to a read-only fd from a bad buffer", nr: unix.SYS_WRITE, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{uint64(openFile(t, task, "/f", unix.O_CREAT|unix.O_RDONLY)), 0, 4}
			}},
		{name: "read from a bad fd into a bad buffer", nr: unix.SYS_READ, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, 0, 4} }},
		{name: "read from a write-only fd into a bad buffer", nr: unix.SYS_READ, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{uint64(openFile(t, task, "/f", unix.O_CREAT|unix.O_WRONLY)), 0, 4}
			}},
		{name: "pwrite to a bad fd from a bad buffer", nr: unix.SYS_PWRITE64, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, 0, 4, 0} }},
		{name: "pread from a bad fd into a bad buffer", nr: unix.SYS_PREAD64, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, 0, 4, 0} }},
		{name: "writev to a bad fd from a bad iovec array", nr: unix.SYS_WRITEV, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, 0, 1} }},
		{name: "pwritev to a bad fd from a bad iovec array", nr: unix.SYS_PWRITEV, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, 0, 1, 0} }},
		{name: "readv from a write-only fd into a bad iovec array", nr: unix.SYS_READV, wantErr: unix.EBADF,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{uint64(openFile(t, task, "/f", unix.O_CREAT|unix.O_WRONLY)), 0, 1}
			}},
		// pwrite checks the offset before the descriptor, as Linux does.
		{name: "pwrite at a negative offset to a bad fd", nr: unix.SYS_PWRITE64, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{99, buf, 4, ^uint64(0)} }},
		{name: "write to a file", nr: unix.SYS_WRITE, want: 5,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, buf, []byte("hello"))
				return []uint64{uint64(openFile(t, task, "/f", unix.O_CREAT|unix.O_RDWR)), buf, 5}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				got := make([]byte, 16)
				n, err := task.Proc.Pread(0, got, 0)
				if err != nil || string(got[:n]) != "hello" {
					t.Errorf("file holds %q, %v; want %q", got[:n], err, "hello")
				}
			}},

		{name: "openat a missing path", nr: unix.SYS_OPENAT, wantErr: unix.ENOENT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, buf, []byte("/missing\x00"))
				return []uint64{atFDCWD, buf, unix.O_RDONLY}
			}},
		{name: "openat in a missing directory", nr: unix.SYS_OPENAT, wantErr: unix.ENOENT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, buf, []byte("/no/such/file\x00"))
				return []uint64{atFDCWD, buf, unix.O_CREAT | unix.O_RDWR, 0o644}
			}},
		{name: "openat creates", nr: unix.SYS_OPENAT, want: 0, // the lowest free descriptor
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, buf, []byte("/new\x00"))
				return []uint64{atFDCWD, buf, unix.O_CREAT | unix.O_RDWR, 0o644}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				if _, err := task.Proc.Fstatat(unix.AT_FDCWD, "/new", 0); err != nil {
					t.Errorf("created file: %v", err)
				}
			}},
		{name: "openat NULL path", nr: unix.SYS_OPENAT, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{atFDCWD, 0, unix.O_RDONLY}
			}},
		{name: "openat path running into an unmapped page", nr: unix.SYS_OPENAT, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, memEnd-4, []byte("/abc"))
				return []uint64{atFDCWD, memEnd - 4, unix.O_RDONLY}
			}},
		{name: "openat path too long", nr: unix.SYS_OPENAT, wantErr: unix.ENAMETOOLONG,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, memBase, []byte("/"+strings.Repeat("a", unix.PathMax)+"\x00"))
				return []uint64{atFDCWD, memBase, unix.O_RDONLY}
			}},

		// Hard links: one inode under two names.
		{name: "link", nr: unix.SYS_LINK,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				linkSource(t, task)
				mem.poke(t, buf, []byte("/f\x00/g\x00"))
				return []uint64{buf, buf + 3}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				f, _ := task.Proc.Fstatat(unix.AT_FDCWD, "/f", 0)
				g, err := task.Proc.Fstatat(unix.AT_FDCWD, "/g", 0)
				if err != nil || g.Ino != f.Ino || g.Dev != f.Dev || g.Nlink != 2 {
					t.Errorf("link: %+v, %v; want the inode of /f (%d) with 2 links", g, err, f.Ino)
				}
			}},
		{name: "link onto an existing name", nr: unix.SYS_LINK, wantErr: unix.EEXIST,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				linkSource(t, task)
				mem.poke(t, buf, []byte("/f\x00/f\x00"))
				return []uint64{buf, buf + 3}
			}},
		{name: "link to a directory", nr: unix.SYS_LINK, wantErr: unix.EPERM,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, buf, []byte("/\x00/g\x00"))
				return []uint64{buf, buf + 2}
			}},
		{name: "linkat relative to AT_FDCWD with AT_SYMLINK_FOLLOW", nr: unix.SYS_LINKAT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				linkSource(t, task)
				if err := task.Proc.Symlinkat("/f", unix.AT_FDCWD, "/s"); err != nil {
					t.Fatal(err)
				}
				mem.poke(t, buf, []byte("s\x00g\x00"))
				return []uint64{atFDCWD, buf, atFDCWD, buf + 2, unix.AT_SYMLINK_FOLLOW}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				f, _ := task.Proc.Fstatat(unix.AT_FDCWD, "/f", 0)
				g, _ := task.Proc.Fstatat(unix.AT_FDCWD, "/g", unix.AT_SYMLINK_NOFOLLOW)
				if g.Ino != f.Ino {
					t.Errorf("AT_SYMLINK_FOLLOW linked inode %d, want the target's %d", g.Ino, f.Ino)
				}
			}},
		{name: "linkat unknown flag", nr: unix.SYS_LINKAT, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				linkSource(t, task)
				mem.poke(t, buf, []byte("/f\x00/g\x00"))
				return []uint64{atFDCWD, buf, atFDCWD, buf + 3, 0x1}
			}},
		{name: "linkat AT_EMPTY_PATH with an empty path", nr: unix.SYS_LINKAT, wantErr: unix.ENOENT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				linkSource(t, task)
				mem.poke(t, buf, []byte("\x00/g\x00"))
				return []uint64{atFDCWD, buf, atFDCWD, buf + 1, unix.AT_EMPTY_PATH}
			}},
		{name: "link from a bad pointer", nr: unix.SYS_LINK, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				mem.poke(t, buf, []byte("/g\x00"))
				return []uint64{noAccess, buf}
			}},

		{name: "arch_prctl ARCH_SET_FS", nr: unix.SYS_ARCH_PRCTL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				return []uint64{archSetFS, 0x7f0000001000}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				if task.Regs.Fs_base != 0x7f0000001000 {
					t.Errorf("fs_base = %#x, want %#x", task.Regs.Fs_base, 0x7f0000001000)
				}
			}},
		// A non-canonical base would fault on the host's return to the guest.
		{name: "arch_prctl ARCH_SET_FS non-canonical", nr: unix.SYS_ARCH_PRCTL, wantErr: unix.EPERM,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				task.Regs.Fs_base = 0x1234
				return []uint64{archSetFS, 1 << 47}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				if task.Regs.Fs_base != 0x1234 {
					t.Errorf("fs_base changed to %#x", task.Regs.Fs_base)
				}
			}},
		{name: "arch_prctl ARCH_GET_FS", nr: unix.SYS_ARCH_PRCTL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 {
				task.Regs.Fs_base = 0x7f0000002000
				return []uint64{archGetFS, buf}
			},
			check: func(t *testing.T, task *kernel.Task, mem *fakeMem) {
				if got := binary.LittleEndian.Uint64(mem.peek(t, buf, 8)); got != 0x7f0000002000 {
					t.Errorf("ARCH_GET_FS wrote %#x", got)
				}
			}},
		{name: "arch_prctl ARCH_GET_FS bad pointer", nr: unix.SYS_ARCH_PRCTL, wantErr: unix.EFAULT,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{archGetFS, noAccess} }},
		{name: "arch_prctl unknown code", nr: unix.SYS_ARCH_PRCTL, wantErr: unix.EINVAL,
			setup: func(t *testing.T, task *kernel.Task, mem *fakeMem) []uint64 { return []uint64{0x1011, 0} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, mem := newProcTask(t, nil)
			args := tt.setup(t, task, mem)
			rax := syscall(t, task, tt.nr, args...)
			if got := errnoOf(rax); got != tt.wantErr {
				t.Fatalf("rax = %#x: errno %v (%d), want %v (%d)", rax, got, int(got), tt.wantErr, int(tt.wantErr))
			}
			if tt.wantErr == 0 && rax != tt.want {
				t.Errorf("rax = %#x, want %#x", rax, tt.want)
			}
			if tt.check != nil {
				tt.check(t, task, mem)
			}
		})
	}
}

// openFile opens path in the task's process for a test's setup.
func openFile(t *testing.T, task *kernel.Task, path string, flags int) int {
	t.Helper()
	fd, err := task.Proc.Openat(unix.AT_FDCWD, path, flags, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return fd
}

// linkSource creates the regular file /f for the link tests.
func linkSource(t *testing.T, task *kernel.Task) {
	t.Helper()
	fd, err := task.Proc.Openat(unix.AT_FDCWD, "/f", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Proc.FDs.Close(fd); err != nil {
		t.Fatal(err)
	}
}

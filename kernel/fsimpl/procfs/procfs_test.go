package procfs_test

import (
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/procfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestSelfIsTheCaller: /proc/self names the process whose path walk it is,
// whichever goroutine or OS thread serves the call (the kernel no longer
// maps OS threads to tasks).
func TestSelfIsTheCaller(t *testing.T) {
	fs := vfs.New(memfs.New(0))
	k := kernel.New(kernel.Config{FS: fs})
	if err := fs.Mkdir("/proc", 0o555); err != nil {
		t.Fatal(err)
	}
	if err := fs.Mount("/proc", procfs.New(k)); err != nil {
		t.Fatal(err)
	}
	var procs []*kernel.Process
	for range 3 {
		p, err := k.NewProcess(nil, [3]*vfs.File{}, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.FDs.CloseAll() })
		procs = append(procs, p)
	}
	for _, p := range procs {
		want := strconv.Itoa(p.PID)
		if got, err := p.Readlinkat(unix.AT_FDCWD, "/proc/self"); err != nil || got != want {
			t.Errorf("pid %d: readlink /proc/self = %q, %v; want %q", p.PID, got, err, want)
		}
		// Through the link, as a path component.
		st, err := p.Fstatat(unix.AT_FDCWD, "/proc/self", 0)
		if err != nil {
			t.Fatalf("pid %d: stat /proc/self: %v", p.PID, err)
		}
		dir, err := p.Fstatat(unix.AT_FDCWD, "/proc/"+want, 0)
		if err != nil || dir.Ino != st.Ino {
			t.Errorf("pid %d: /proc/self is inode %d, /proc/%s is %d (%v)", p.PID, st.Ino, want, dir.Ino, err)
		}
		// A link inside it: each process sees its own executable.
		exe := "/bin/prog" + want
		p.SetExe(exe)
		if got, err := p.Readlinkat(unix.AT_FDCWD, "/proc/self/exe"); err != nil || got != exe {
			t.Errorf("pid %d: readlink /proc/self/exe = %q, %v; want %q", p.PID, got, err, exe)
		}
	}
	// Outside any process (the sandbox itself), the lowest live pid.
	if got, err := fs.Readlink("/proc/self"); err != nil || got != "1" {
		t.Errorf("readlink /proc/self outside a process = %q, %v; want \"1\"", got, err)
	}
}

package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/loader"
	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/pagecache"
)

// Guest address-space layout: the mmap area sits below the platform's
// reserved ranges.
const mmapTop = 0x7fe000000000

// maxShebangDepth bounds #! interpreters of interpreters, as Linux does.
const maxShebangDepth = 4

// PlatformError marks a failure to create an address space (as opposed to
// a program that cannot be loaded): the platform cannot run guests here.
type PlatformError struct{ Err error }

func (e *PlatformError) Error() string { return e.Err.Error() }
func (e *PlatformError) Unwrap() error { return e.Err }

// image is a loaded program ready to run.
type image struct {
	as   platform.AddressSpace
	mm   *mm.MM
	img  loader.Image
	path string
	argv []string
	// creds are the process's credentials once the image is committed.
	creds *cred.Creds
}

func (im *image) release() {
	im.as.Release()
	im.mm.Release()
}

// Load gives t, the first thread of a process made by NewProcess, its
// first program: path (a guest path, #! lines followed) loaded into a fresh
// address space of plat, whose syscalls abi serves. The process and its
// descendants keep plat and abi (execve loads with them again). Address
// spaces are made on the calling goroutine, which must then call Run (the
// ptrace platform ties a stub's first thread to it). A *PlatformError says
// plat cannot make address spaces here; other errors are the program's
// (ENOENT, EACCES, ENOEXEC...).
func (t *Task) Load(plat platform.Platform, abi ABI, path string, argv, envp []string) error {
	p := t.Proc
	p.mu.Lock()
	p.plat = plat
	p.mu.Unlock()
	t.abi = abi
	im, err := t.load(path, argv, envp)
	if err != nil {
		return err
	}
	th, err := im.as.NewThread()
	if err != nil {
		im.release()
		return fmt.Errorf("the first guest thread: %w", err)
	}
	t.Regs = new(platform.Regs)
	t.setImage(im, th)
	return nil
}

// Execve replaces the calling thread's program: path (an absolute guest
// path) with argv and envp. The new image is loaded into a fresh address
// space first; only then do the other threads and the old image go. On an
// error before that point the old image is untouched.
func (t *Task) Execve(path string, argv, envp []string) error {
	im, err := t.load(path, argv, envp)
	if err != nil {
		return err
	}
	// The point of no return: other threads go, then the old image. If
	// this thread is killed while waiting for them, the exec is abandoned
	// (the process is dying anyway).
	if !t.KillOthers() {
		im.release()
		return unix.EINTR
	}
	t.exitRobustList() // the old image's mutexes (Linux's exec_mm_release)
	old := t.Proc.MM
	if old.Put() {
		t.Proc.imageDone(old, t.cpuNow()) // getrusage counts the old image
		t.AS.Release()
		old.Release()
	} else {
		t.Proc.imageDone(old, 0)
		t.Thread.Exit() // a vfork parent still uses the old address space
	}
	th, err := im.as.NewThread()
	if err != nil {
		im.release()
		t.Proc.Kill(WaitStatusSignaled(unix.SIGKILL, false))
		return err
	}
	t.setImage(im, th)
	t.SetKick(th.Interrupt)
	return th.Bind()
}

// setImage makes im, run by th, the task's image.
func (t *Task) setImage(im *image, th platform.Thread) {
	t.AS, t.Mem, t.Thread = im.as, im.as, th
	t.CPUTime = cpuTime(im.as)
	*t.Regs = platform.Regs{Rip: im.img.Entry, Rsp: im.img.Stack}
	t.execImage(im.mm, im.path, im.argv)
	t.Proc.execCreds(im.creds)
}

// cpuTime returns the CPU-time reader of an address space.
func cpuTime(as platform.AddressSpace) func() (int64, error) {
	return func() (int64, error) {
		d, err := as.CPUTime()
		return int64(d), err
	}
}

// load creates a fresh address space on the calling goroutine and loads
// path into it, following #! lines.
func (t *Task) load(path string, argv, envp []string) (*image, error) {
	p := t.Proc
	execOp := opExec
	for depth := 0; ; depth++ {
		f, err := openProgram(p, path)
		if err != nil {
			return nil, err
		}
		head := make([]byte, 256)
		n, _ := f.ReadAt(head, 0)
		interp, arg, ok := ParseShebang(head[:n])
		if ok {
			err = p.k.checkProgram(f, opScript)
		}
		_ = f.Close() // the loader opens the program again
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		execOp = opScriptInterp
		if depth == maxShebangDepth {
			return nil, unix.ELOOP
		}
		na := []string{interp}
		if arg != "" {
			na = append(na, arg)
		}
		na = append(na, path)
		if len(argv) > 1 {
			na = append(na, argv[1:]...)
		}
		path, argv = interp, na
		if !strings.HasPrefix(path, "/") {
			path = strings.TrimSuffix(p.Getcwd(), "/") + "/" + path
		}
	}
	p.mu.Lock()
	plat := p.plat
	p.mu.Unlock()
	if plat == nil {
		return nil, &PlatformError{errors.New("the process has no platform")}
	}
	as, err := plat.NewAddressSpace()
	if err != nil {
		return nil, &PlatformError{fmt.Errorf("creating the guest address space: %w", err)}
	}
	var reserved []mm.Range
	for _, r := range as.Reserved() {
		reserved = append(reserved, mm.Range{Start: r.Start, End: r.End})
	}
	m := mm.New(as, reserved, mmapTop)
	m.SetBudget(p.k.cfg.Memory)
	m.SetLimit(p.asLimit()) // RLIMIT_AS is kept across execve
	opened := 0
	open := func(path string) (loader.File, error) {
		f, err := openProgram(p, path)
		if err != nil {
			return nil, err
		}
		// The loader opens the program, then its PT_INTERP.
		op := execOp
		if opened++; opened > 1 {
			op = opELFInterp
		}
		if err := p.k.checkProgram(f, op); err != nil {
			_ = f.Close()
			return nil, err
		}
		return f, nil
	}
	creds, secure := p.Creds().Exec()
	layout := loader.Layout{IDs: loader.IDs{UID: creds.UID, EUID: creds.EUID, GID: creds.GID, EGID: creds.EGID,
		Secure: secure}}
	if base, err := p.k.clock.Map(m, as); err == nil {
		layout.SysInfoEHDR = base
	} else {
		// The program runs without a vDSO (its C library makes syscalls).
		p.k.Log().Debug("no vDSO for the new image", "pid", p.PID, "err", err)
	}
	p.k.setExecCheck(m) // after the vDSO: litebox's own code is not the manifest's
	img, err := loader.Load(m, open, path, argv, envp, hardware(), layout)
	if err != nil {
		as.Release()
		m.Release() // the memory and files the partial image held
		return nil, err
	}
	canon, err := p.k.FS().Realpath(path)
	if err != nil {
		canon = path
	}
	return &image{as: as, mm: m, img: img, path: canon, argv: argv, creds: creds}, nil
}

// ParseShebang reads a "#!interpreter [arg]" line as Linux does: at most
// one argument, the rest of the line included, whitespace-trimmed.
func ParseShebang(head []byte) (interp, arg string, ok bool) {
	if len(head) < 2 || head[0] != '#' || head[1] != '!' {
		return "", "", false
	}
	line := string(head[2:])
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(strings.ReplaceAll(line, "\t", " "))
	if line == "" {
		return "", "", false
	}
	interp, arg, _ = strings.Cut(line, " ")
	return interp, strings.TrimSpace(arg), true
}

// programFile adapts an open guest file for the loader.
type programFile struct {
	f  *vfs.File
	st vfs.Stat
}

func (p *programFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.f.Pread(b, off)
	if err == nil && n < len(b) {
		err = io.EOF
	}
	return n, err
}
func (p *programFile) Size() (int64, error) { return p.st.Size, nil }
func (p *programFile) Info() mm.FileInfo {
	return mm.FileInfo{Path: p.f.Path(), Dev: p.st.Dev, Ino: p.st.Ino}
}

// Ref is the open file the program's mappings keep open.
func (p *programFile) Ref() mm.FileRef { return p.f }

// CacheKey lets the program's mappings come from the page cache
// (mm.Cacheable).
func (p *programFile) CacheKey() (pagecache.Key, bool) { return p.f.CacheKey() }

// Close drops the opener's reference (each open holds a host fd for a
// host file).
func (p *programFile) Close() error { return p.f.DecRef() }

// openProgram opens a program file as execve does: it must be a regular
// file the guest may execute.
func openProgram(proc *Process, path string) (loader.File, error) {
	f, err := proc.OpenFile(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = unix.EACCES
	}
	if err == nil && (f.Dentry() == nil || f.Dentry().NoExec()) {
		err = unix.EACCES // not a named file, or on a noexec mount
	}
	if err == nil {
		err = proc.Kernel().FS().AccessDentry(proc.Creds(), f.Dentry(), unix.X_OK)
	}
	if err != nil {
		_ = f.DecRef()
		return nil, err
	}
	return &programFile{f: f, st: st}, nil
}

// hardware reads the CPU capability words of our own auxv, so the guest
// sees the machine it actually runs on.
func hardware() loader.Hardware {
	var hw loader.Hardware
	raw, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return hw
	}
	for i := 0; i+16 <= len(raw); i += 16 {
		k, v := binary.LittleEndian.Uint64(raw[i:]), binary.LittleEndian.Uint64(raw[i+8:])
		switch k {
		case 16: // AT_HWCAP
			hw.HWCap = v
		case 26: // AT_HWCAP2
			hw.HWCap2 = v
		case 51: // AT_MINSIGSTKSZ
			hw.MinSigStkSz = v
		}
	}
	return hw
}

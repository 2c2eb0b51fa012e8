package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/loader"
	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/ptrace"
	"github.com/litebox-go/litebox/shim/linux"
)

// DefaultPath is the guest's PATH when the caller gives none.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// DefaultEnv is the guest's environment when the caller gives none: nothing
// of the host's environment reaches the guest unless asked for.
var DefaultEnv = []string{"PATH=" + DefaultPath, "HOME=/tmp"}

// Cmd is one guest program to run, shaped like os/exec.Cmd.
type Cmd struct {
	Path   string   // guest path or name looked up in the guest's PATH
	Args   []string // argv, including argv[0]
	Env    []string // nil means DefaultEnv
	Dir    string   // guest working directory; "" means "/"
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	sb *Sandbox
}

// Command returns a Cmd that runs name with args in the sandbox.
func (s *Sandbox) Command(name string, args ...string) *Cmd {
	return &Cmd{Path: name, Args: append([]string{name}, args...), sb: s}
}

// ProgramError says why a program could not be started.
type ProgramError struct {
	Path string
	Err  error // wraps ErrNotFound or ErrNotExecutable, and the cause
}

func (e *ProgramError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *ProgramError) Unwrap() error { return e.Err }

// Run runs the program to completion. It returns nil for exit status 0, an
// *ExitError for any other end of the guest, a *ProgramError when the
// program cannot be started, and other errors for host failures.
func (c *Cmd) Run() error {
	env := c.Env
	if env == nil {
		env = DefaultEnv
	}
	path, err := c.sb.lookPath(c.Path, env, c.Dir)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	// ptrace ties a tracee to the OS thread that attached it, so the whole
	// guest runs on one locked thread. The goroutine never unlocks it: the
	// thread ends with the goroutine, and the stub's parent-death signal
	// then guarantees the stub is gone too.
	go func() {
		runtime.LockOSThread()
		done <- c.run(path, env)
	}()
	return <-done
}

func (s *Sandbox) lookPath(name string, env []string, dir string) (string, error) {
	if name == "" {
		return "", &ProgramError{Path: name, Err: ErrNotFound}
	}
	cwd := dir
	if cwd == "" {
		cwd = "/"
	}
	var candidates []string
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			name = strings.TrimSuffix(cwd, "/") + "/" + name
		}
		candidates = []string{name}
	} else {
		pathVar := DefaultPath
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				pathVar = v
			}
		}
		for _, d := range strings.Split(pathVar, ":") {
			if d == "" {
				d = cwd
			}
			candidates = append(candidates, strings.TrimSuffix(d, "/")+"/"+name)
		}
	}
	var firstErr error
	for _, p := range candidates {
		st, err := s.fs.Stat(p, true)
		if err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			firstErr = fmt.Errorf("%w: not a regular file", ErrNotExecutable)
			continue
		}
		if err := s.fs.Access(p, unix.X_OK, true); err != nil {
			firstErr = fmt.Errorf("%w: %v", ErrNotExecutable, err)
			continue
		}
		return p, nil
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%w in the sandbox's file system", ErrNotFound)
	}
	return "", &ProgramError{Path: name, Err: firstErr}
}

// Guest address-space layout: the mmap area sits below the platform's
// reserved ranges.
const mmapTop = 0x7fe000000000

func (c *Cmd) run(path string, env []string) error {
	s := c.sb
	plat := ptrace.New()
	as, err := plat.NewAddressSpace()
	if err != nil {
		return fmt.Errorf("creating the guest address space: %w", err)
	}
	defer as.Release()
	var reserved []mm.Range
	for _, r := range as.Reserved() {
		reserved = append(reserved, mm.Range{Start: r.Start, End: r.End})
	}
	m := mm.New(as, reserved, mmapTop)
	stdio := [3]*vfs.File{
		vfs.NewStreamFile("pipe:[stdin]", c.Stdin, nil, hostTerminal(c.Stdin)),
		vfs.NewStreamFile("pipe:[stdout]", nil, c.Stdout, hostTerminal(c.Stdout)),
		vfs.NewStreamFile("pipe:[stderr]", nil, c.Stderr, hostTerminal(c.Stderr)),
	}
	proc, err := s.kernel.NewProcess(m, stdio, c.Dir)
	if err != nil {
		return &ProgramError{Path: c.Dir, Err: fmt.Errorf("%w: working directory: %v", ErrNotFound, err)}
	}
	defer proc.Exit()

	open := func(p string) (loader.File, error) { return openProgram(proc, p) }
	img, err := loader.Load(m, open, path, c.Args, env, hardware(), loader.Layout{})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return &ProgramError{Path: path, Err: fmt.Errorf("%w: %v", ErrNotFound, err)}
		}
		return &ProgramError{Path: path, Err: fmt.Errorf("%w: %v", ErrNotExecutable, err)}
	}
	proc.SetExe(path)
	proc.SetArgs(c.Args)
	th, err := as.NewThread()
	if err != nil {
		return err
	}
	s.kernel.AuditEvent("sandbox_start", slog.String("program", path), slog.Int("pid", proc.PID))
	start := time.Now()
	regs := platform.Regs{Rip: img.Entry, Rsp: img.Stack}
	task := &linux.Task{Proc: proc, Mem: as, Regs: &regs, Log: s.log,
		CPUTime: func() (int64, error) { d, err := as.CPUTime(); return int64(d), err }}
	exit, err := loop(th, task)
	if err != nil {
		return err
	}
	cpu, _ := as.CPUTime()
	s.kernel.AuditEvent("sandbox_exit", slog.Int("status", exit.Code), slog.Int("signal", int(exit.Signal)),
		slog.Duration("wall", time.Since(start)), slog.Duration("cpu", cpu), slog.Uint64("mapped_bytes", m.Mapped()))
	if exit.Signal != 0 || exit.Code != 0 {
		return &ExitError{Status: exit.Code, Signal: int(exit.Signal)}
	}
	return nil
}

// loop switches into the guest until it exits.
func loop(th platform.Thread, task *linux.Task) (*linux.Exit, error) {
	for {
		ev, err := th.Switch(task.Regs)
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case platform.EventSyscall:
			if exit := linux.Dispatch(task); exit != nil {
				return exit, nil
			}
		case platform.EventFault:
			outcome, err := task.Proc.SendSignal(ev.Signal)
			if err != nil {
				return nil, err
			}
			if outcome == kernel.SignalIgnored && !synchronous(ev.Signal) {
				continue
			}
			if outcome == kernel.SignalHandled {
				task.Proc.Kernel().Unsupported("signal delivery to a guest handler", 0, task.Proc.PID)
			}
			// A synchronous fault cannot be ignored or blocked: re-running
			// the instruction would fault again.
			return &linux.Exit{Signal: ev.Signal}, nil
		}
	}
}

func synchronous(sig unix.Signal) bool {
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS:
		return true
	}
	return false
}

// programFile adapts an open guest file for the loader.
type programFile struct {
	f  *vfs.File
	st vfs.Stat
}

func (p programFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.f.Pread(b, off)
	if err == nil && n < len(b) {
		err = io.EOF
	}
	return n, err
}
func (p programFile) Size() (int64, error) { return p.st.Size, nil }
func (p programFile) Info() mm.FileInfo {
	return mm.FileInfo{Path: p.f.Path(), Dev: p.st.Dev, Ino: p.st.Ino}
}

// openProgram opens a program file as execve does: it must be a regular
// file the guest may execute.
func openProgram(proc *kernel.Process, path string) (loader.File, error) {
	f, err := proc.OpenFile(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, unix.EACCES
	}
	if err := proc.Kernel().FS().Access(f.Path(), unix.X_OK, true); err != nil {
		return nil, err
	}
	return programFile{f: f, st: st}, nil
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
		case 16:
			hw.HWCap = v
		case 26:
			hw.HWCap2 = v
		case 51:
			hw.MinSigStkSz = v
		}
	}
	return hw
}

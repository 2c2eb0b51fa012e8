package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/pipe"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/ptrace"
	"github.com/litebox-go/litebox/platform/systrap"
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

	sb   *Sandbox
	mu   sync.Mutex
	init *kernel.Process
	// limitHit says which limit ended the run, if one did.
	limitHit string
	// done delivers the run's result to Wait; nil before Start.
	done chan error
	// killed is closed when the run is ended from outside (Kill, the
	// timeout, the CPU limit's SIGKILL); made on demand.
	killed     chan struct{}
	killedOnce sync.Once
	// abandoned receives the result when the guest's threads did not end
	// in time after the sandbox ended (see watchEnd).
	abandoned chan error
	// exitOnce makes the sandbox_exit audit event and the result once,
	// whichever of the run and its abandonment gets there first.
	exitOnce sync.Once
	exitErr  error
}

// endGrace is how long the guest's threads get to go once the sandbox ends
// (pid 1 died or the run was killed) before Run returns without them. They
// normally take milliseconds; only a kernel bug can keep one (a wait that
// does not give way), and the sandbox's end must not depend on it.
const endGrace = 500 * time.Millisecond

func (c *Cmd) killedCh() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed == nil {
		c.killed = make(chan struct{})
	}
	return c.killed
}

// markKilled records that the run is being ended from outside.
func (c *Cmd) markKilled() {
	ch := c.killedCh()
	c.killedOnce.Do(func() { close(ch) })
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

// Run runs the program to completion: Start, then Wait.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Start starts the program and returns at once; Wait gives the result. A
// program that cannot be found is reported by Start, one that cannot be
// executed by Wait. A sandbox runs one Cmd.
func (c *Cmd) Start() error {
	if c.done != nil {
		return errors.New("sandbox: Cmd already started")
	}
	env := c.Env
	if env == nil {
		env = DefaultEnv
	}
	path, err := c.sb.lookPath(c.Path, env, c.Dir)
	if err != nil {
		return err
	}
	c.done = make(chan error, 1)
	c.abandoned = make(chan error, 1)
	// The first thread runs on this goroutine (see run); the platform
	// locks it to an OS thread if it needs to (ptrace does).
	go func() { c.done <- c.run(path, env) }()
	return nil
}

// Wait waits for the program started by Start to end. It returns nil for
// exit status 0, an *ExitError for any other end of the guest, a
// *ProgramError when the program cannot be executed, an *InternalError when
// a bug in litebox ended the sandbox, and other errors for host failures.
func (c *Cmd) Wait() error {
	if c.done == nil {
		return errors.New("sandbox: Cmd not started")
	}
	select {
	case err := <-c.done:
		return err
	case err := <-c.abandoned:
		return err
	}
}

// watchEnd gives up on the guest's threads: once the sandbox is ending or
// the run was killed, if they are not all gone (tasksDone) within grace,
// abandon runs. It returns when the threads are gone or abandon ran.
func watchEnd(ending, killed, tasksDone <-chan struct{}, grace time.Duration, abandon func()) {
	select {
	case <-ending:
	case <-killed:
	case <-tasksDone:
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-tasksDone:
	case <-t.C:
		abandon()
	}
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

// firstImage picks the platform (systrap when the host allows it, for
// "auto") and has the kernel load the first program with it.
func (s *Sandbox) firstImage(leader *kernel.Task, abi kernel.ABI, path string, argv, envp []string) (platform.Platform, error) {
	load := func(p platform.Platform) error { return leader.Load(s.spaces.platform(p), abi, path, argv, envp) }
	switch s.cfg.Platform {
	case "ptrace":
		p := ptrace.New()
		return p, load(p)
	case "systrap":
		p := systrap.New()
		return p, load(p)
	}
	p := systrap.New()
	err := load(p)
	var pe *kernel.PlatformError
	if errors.As(err, &pe) {
		p.Close()
		s.log.Info("systrap unavailable, using ptrace", "err", err)
		q := ptrace.New()
		return q, load(q)
	}
	return p, err
}

// crashGrace is how long the end of a run waits for the guest threads once
// a kernel bug ended the sandbox: they were all killed and normally leave
// at once, but a thread stuck on state the panic broke must not hold the
// run (and with it the embedder) forever. Past it, the run ends anyway and
// the platform's teardown removes every stub.
const crashGrace = time.Second

// waitEnd waits for the end of the sandbox: pid 1's death ends it, then
// every other task must go (or, after a crash, crashGrace passes).
func (s *Sandbox) waitEnd() {
	ended := make(chan struct{})
	go func() {
		<-s.kernel.InitDone()
		s.kernel.WaitTasks()
		close(ended)
	}()
	select {
	case <-ended:
	case <-s.kernel.Crashed():
		select {
		case <-ended:
		case <-time.After(crashGrace):
			s.log.Error("guest threads did not end after a kernel panic; leaving them behind")
		}
	}
}

// panicHook is the PanicOnSyscall test hook for the shim, nil when unset.
func (s *Sandbox) panicHook() func(uint64) bool {
	if s.cfg.PanicOnSyscall == "" {
		return nil
	}
	want, _ := linux.Number(s.cfg.PanicOnSyscall) // checked by New
	return func(nr uint64) bool { return nr == want }
}

func (c *Cmd) run(path string, env []string) (err error) {
	s := c.sb
	defer func() {
		// A bug outside the guest threads' own loops (loading, the run's
		// bookkeeping) ends this sandbox too, not the process. Deferred
		// first, so it runs last: after the platform's teardown, and
		// before the audit log is closed on every way out (the normal end
		// closes it earlier, right after sandbox_exit).
		if r := recover(); r != nil {
			s.kernel.Crash(r, debug.Stack())
			err = s.kernel.CrashError()
		}
		s.audit.Close()
	}()
	stdin, err := stdinFile(s.kernel, c.Stdin)
	if err != nil {
		return err
	}
	// Guest output reaches the host through one writer goroutine, so that
	// a host reader that stops reading blocks the guest in an
	// interruptible wait, never in a host write.
	out := newHostOutput()
	stdio := [3]*vfs.File{stdin,
		vfs.NewStreamFile("pipe:[stdout]", nil, out.sink(c.Stdout), hostTerminal(c.Stdout)),
		vfs.NewStreamFile("pipe:[stderr]", nil, out.sink(c.Stderr), hostTerminal(c.Stderr)),
	}
	proc, err := s.kernel.NewProcess(nil, stdio, c.Dir)
	if err != nil {
		out.close(nil, 0)
		return &ProgramError{Path: c.Dir, Err: fmt.Errorf("%w: working directory: %v", ErrNotFound, err)}
	}
	usage := s.newSyscallUsage()
	abi := &linux.ABI{Usage: usage, PanicOn: s.panicHook()}
	leader := proc.Leader()
	// One platform per run: its holder stub owns the run's namespaces.
	plat, err := s.firstImage(leader, abi, path, c.Args, env)
	if plat != nil {
		defer plat.Close()
	}
	if err != nil {
		out.close(nil, 0)
		proc.Leader().ExitTask(127)
		if errors.Is(err, unix.ENOENT) {
			return &ProgramError{Path: path, Err: fmt.Errorf("%w: %v", ErrNotFound, err)}
		}
		return &ProgramError{Path: path, Err: fmt.Errorf("%w: %v", ErrNotExecutable, err)}
	}
	if s.cfg.Harden != nil {
		if err := s.cfg.Harden(); err != nil {
			out.close(nil, 0)
			leader.AS.Release()
			return fmt.Errorf("confining litebox itself: %w", err)
		}
	}
	s.kernel.AuditCritical("sandbox_start", slog.String("program", path), slog.Int("pid", proc.PID))
	start := time.Now()
	c.mu.Lock()
	c.init = proc
	c.mu.Unlock()
	stopWatch := s.watchLimits(func(reason string) {
		c.mu.Lock()
		c.limitHit = reason
		c.mu.Unlock()
	}, c.markKilled)
	defer stopWatch()
	tasksDone := make(chan struct{})
	go watchEnd(s.kernel.Ending(), c.killedCh(), tasksDone, endGrace, func() {
		defer s.kernel.Recover()
		s.log.Error("guest threads did not end after the sandbox ended: leaving them behind", "grace", endGrace)
		s.kernel.AuditEvent("kernel_error", slog.String("error", "guest threads did not end after the sandbox ended"),
			slog.Duration("grace", endGrace))
		out.close(nil, endGrace)
		c.abandoned <- c.exit(proc, start, nil)
	})
	// The first thread runs on this goroutine, which made its address
	// space (see kernel.Task.Load); clone runs the others.
	leader.Run()
	s.waitEnd()
	close(tasksDone)
	// What the guest wrote reaches the host before Run returns, unless the
	// run is killed meanwhile (a host reader that never reads).
	out.close(c.killedCh(), 0)
	return c.exit(proc, start, s.writeSyscallTrace(usage))
}

// exit writes the sandbox_exit audit event (the log's last line, after
// every pending event and count) and makes Run's result, once: the run's
// end and its abandonment (watchEnd) may both get there.
func (c *Cmd) exit(proc *kernel.Process, start time.Time, err error) error {
	c.exitOnce.Do(func() {
		s := c.sb
		status := proc.Status()
		aerr := s.audit.Finish("sandbox_exit", slog.Int("wait_status", status),
			slog.Duration("wall", time.Since(start)), slog.Duration("cpu", s.spaces.cpuTime()),
			slog.Duration("litebox_cpu", s.serve.total()), slog.Uint64("peak_mapped_bytes", s.budget.Peak()))
		if aerr != nil && err == nil {
			err = fmt.Errorf("writing the audit log: %w", aerr)
		}
		if ie := s.kernel.CrashError(); ie != nil {
			c.exitErr = ie
			return
		}
		if err != nil {
			c.exitErr = err
			return
		}
		c.mu.Lock()
		reason := c.limitHit
		c.mu.Unlock()
		switch {
		case status&0x7f != 0:
			c.exitErr = &ExitError{Signal: status & 0x7f, Reason: reason}
		case status>>8&0xff != 0:
			c.exitErr = &ExitError{Status: status >> 8 & 0xff, Reason: reason}
		}
	})
	return c.exitErr
}

// Signal sends sig to the guest's foreground process group (the first
// process's group), as a terminal's Ctrl-C does. It does nothing before the
// guest starts or after it ended.
func (c *Cmd) Signal(sig unix.Signal) {
	defer c.sb.kernel.Recover()
	c.mu.Lock()
	p := c.init
	c.mu.Unlock()
	if p == nil {
		return
	}
	_ = c.sb.kernel.KillGroup(p.Pgid(), kernel.SigInfo{Signo: sig, Code: kernel.SIKernel})
}

// Kill ends the whole sandbox: every guest process dies of sig.
func (c *Cmd) Kill(sig unix.Signal) {
	defer c.sb.kernel.Recover()
	c.mu.Lock()
	p := c.init
	c.mu.Unlock()
	if p != nil {
		c.markKilled()
		p.Kill(kernel.WaitStatusSignaled(sig, false))
	}
}

// stdinFile makes the guest's standard input: a kernel pipe fed from r by
// a goroutine, so that a guest read can be interrupted by signals.
func stdinFile(k *kernel.Kernel, r io.Reader) (*vfs.File, error) {
	p := pipe.New()
	re, we := p.Ends()
	f := vfs.NewAnonFile("pipe:[stdin]", re, re, unix.O_RDONLY)
	if tty := hostTerminal(r); tty != nil {
		f.SetTerminal(tty)
	}
	if r == nil {
		_ = we.Close()
		return f, nil
	}
	go func() {
		defer k.Recover()
		defer we.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if _, werr := we.WriteCancel(buf[:n], 0, context.Background()); werr != nil {
					return // the guest closed its stdin
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return f, nil
}

// watchLimits enforces the wall-clock and CPU-time limits: past the CPU
// limit (the stubs' CPU time plus litebox's serving the guest, see
// serveCPU) every process gets SIGXCPU, and SIGKILL a second later (as with
// RLIMIT_CPU's soft and hard limits); past the timeout the sandbox is
// killed. killing is called just before the sandbox is killed.
func (s *Sandbox) watchLimits(hit func(reason string), killing func()) (stop func()) {
	lim := s.cfg.Limits
	done := make(chan struct{})
	if lim.Timeout > 0 {
		t := time.AfterFunc(lim.Timeout, func() {
			defer s.kernel.Recover()
			s.kernel.AuditEvent("limit_exceeded", slog.String("limit", "timeout"), slog.Duration("max", lim.Timeout))
			hit(fmt.Sprintf("wall-clock limit (--timeout %v) reached: the sandbox was killed", lim.Timeout))
			killing()
			s.kernel.KillEverything(unix.SIGKILL)
			s.spaces.killAll()
		})
		go func() { <-done; t.Stop() }()
	}
	if lim.CPUTime > 0 {
		go func() {
			defer s.kernel.Recover()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			var xcpuAt time.Time
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				// The guest's CPU and litebox's work serving it, as
				// RLIMIT_CPU counts user and system time.
				if s.spaces.cpuTime()+s.serve.total() < lim.CPUTime {
					continue
				}
				if xcpuAt.IsZero() {
					xcpuAt = time.Now()
					s.kernel.AuditEvent("limit_exceeded", slog.String("limit", "cpu-time"), slog.Duration("max", lim.CPUTime))
					hit(fmt.Sprintf("CPU-time limit (--cpu-time %v) reached: SIGXCPU sent", lim.CPUTime))
					s.kernel.SignalEverything(unix.SIGXCPU)
				} else if time.Since(xcpuAt) > time.Second {
					killing()
					s.kernel.KillEverything(unix.SIGKILL)
					s.spaces.killAll()
					return
				}
			}
		}()
	}
	return func() { close(done) }
}

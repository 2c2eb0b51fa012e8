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
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/pipe"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/shim/linux"
)

// DefaultPath is the guest's PATH when the caller gives none.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// DefaultEnv is the guest's environment when the caller gives none: nothing
// of the host's environment reaches the guest unless asked for.
var DefaultEnv = []string{"PATH=" + DefaultPath, "HOME=/tmp"}

// Cmd is one guest program to run, shaped like os/exec.Cmd. A Sandbox runs
// any number of them, one after another and at the same time, sharing its
// file systems and its pid space; each is a job of the kernel (see
// kernel.Job): a new session and process group, ended with everything it
// started when its first process ends.
type Cmd struct {
	Path   string   // guest path or name looked up in the guest's PATH
	Args   []string // argv, including argv[0]
	Env    []string // nil means DefaultEnv
	Dir    string   // guest working directory; "" means "/"
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TTY, when set, gives the command a terminal instead of pipes (see
	// TTY, pty.go).
	TTY *TTY
	// User, when set, is whom this command runs as instead of the
	// sandbox's Config.User (an OCI exec's process.user).
	User *User
	// Umask, when set, is the first process's umask (022 otherwise).
	Umask *uint32
	// Rlimits are set on the first process before it runs: guest limits
	// (getrlimit, the kernel's checks), never litebox's host ones; they
	// may raise a hard limit, as the runtime starting a process may. See
	// oci.go.
	Rlimits []Rlimit
	// Capabilities, when set, are the first process's capability sets
	// instead of its user's (all for uid 0, none otherwise): the guest's
	// view and the kernel's checks, never host capabilities.
	Capabilities *Caps

	// Process is the command's first process, set by a successful Start.
	Process *Process

	sb  *Sandbox
	ctx context.Context // CommandContext's; nil for Command
	mu  sync.Mutex
	// init is the command's first process, the leader of its job.
	init *kernel.Process
	// started is set by Start, waited by Wait (each once, as in os/exec).
	started, waited bool
	// done delivers the run's result to Wait; nil before Start.
	done chan error
	// jobOver is closed when every thread of the command is gone (before
	// its output is flushed): Wait then closes the pipes, as os/exec does
	// once the process exited.
	jobOver chan struct{}
	// killed is closed when the run is ended from outside (Kill, a
	// cancelled context, Sandbox.Close, the timeout, the CPU limit's
	// SIGKILL); made on demand.
	killed     chan struct{}
	killedOnce sync.Once
	// ctxErr is the context's error once its end killed the command.
	ctxErr error
	// pipes are the ends StdinPipe, StdoutPipe and StderrPipe made.
	pipes cmdPipes
	// abandoned receives the result when the guest's threads did not end
	// in time after the command ended (see watchEnd).
	abandoned chan error
	// exitOnce makes the command_exit audit event and the result once,
	// whichever of the run and its abandonment gets there first.
	exitOnce sync.Once
	exitErr  error
	// term is the command's terminal (TTY), once made.
	term *cmdTerminal
}

// endGrace is how long the guest's threads get to go once a command ends
// (its first process died or it was killed) before Wait returns without
// them. They normally take milliseconds; only a kernel bug can keep one (a
// wait that does not give way), and the command's end must not depend on
// it.
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

// CommandContext is Command with a context: if ctx is done before the
// command ends, the whole command (every process of its job) is killed with
// SIGKILL, and Wait reports it as os/exec does: an *ExitError for the
// killed guest, which unwraps to ctx.Err() (errors.Is(err,
// context.Canceled) holds), or ctx.Err() itself should the guest still
// exit with status 0. Start with a done ctx returns ctx.Err().
func (s *Sandbox) CommandContext(ctx context.Context, name string, args ...string) *Cmd {
	if ctx == nil {
		panic("sandbox: nil Context")
	}
	c := s.Command(name, args...)
	c.ctx = ctx
	return c
}

// ProgramError says why a program could not be started.
type ProgramError struct {
	Path string
	Err  error // wraps ErrNotFound or ErrNotExecutable, and the cause
}

func (e *ProgramError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *ProgramError) Unwrap() error { return e.Err }

// workdirError is a Cmd.Dir the first process cannot start in. It is
// ErrNotFound (exit 127, as Docker gives for a missing working directory
// of a container), but says what was not found.
type workdirError struct{ err error }

func (e workdirError) Error() string        { return "cannot be the working directory: " + e.err.Error() }
func (e workdirError) Unwrap() error        { return e.err }
func (e workdirError) Is(target error) bool { return target == ErrNotFound }

// Run runs the program to completion: Start, then Wait.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Errors of the Cmd's life cycle, as os/exec reports them.
var (
	errStarted    = errors.New("sandbox: already started")
	errNotStarted = errors.New("sandbox: not started")
	errWaited     = errors.New("sandbox: Wait was already called")
	errNoSandbox  = errors.New("sandbox: Cmd not made by Sandbox.Command")
)

// Start starts the program and returns once it is loaded, about to run its
// first instruction; Wait gives the result. Like os/exec's, it reports
// every failure to start: a *ProgramError for a program that cannot be
// found or executed (or a working directory that does not exist),
// ErrClosed for a sandbox that was closed or ended by a limit, ctx.Err()
// for a CommandContext whose context is done. Start may be called once.
func (c *Cmd) Start() error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errStarted
	}
	c.started = true
	c.mu.Unlock()
	s := c.sb
	if s == nil {
		return errNoSandbox
	}
	if c.ctx != nil {
		if err := c.ctx.Err(); err != nil {
			c.pipes.closeAll()
			return err
		}
	}
	env := c.Env
	if env == nil {
		env = DefaultEnv
	}
	// Closed first: a closed sandbox's view is gone too (its host
	// directories closed), so the lookup would fail for that reason.
	if !s.addRun() {
		c.pipes.closeAll()
		return ErrClosed
	}
	path, err := s.lookPath(c.Path, env, c.Dir, c.creds())
	if err != nil {
		s.runs.Done()
		c.pipes.closeAll()
		return err
	}
	// ready receives Start's result from the run goroutine: nil once the
	// program is loaded and about to run.
	ready := make(chan error, 1)
	done := make(chan error, 1)
	c.jobOver = make(chan struct{})
	c.abandoned = make(chan error, 1)
	// The first thread runs on the run goroutine (see run); the platform
	// locks it to an OS thread if it needs to (ptrace does).
	go func() {
		defer s.runs.Done()
		done <- c.run(path, env, ready)
	}()
	if err := <-ready; err != nil {
		<-done
		c.pipes.closeAll()
		return err
	}
	c.mu.Lock()
	c.done = done
	c.Process = &Process{Pid: c.init.PID, p: c.init, cmd: c}
	c.mu.Unlock()
	if c.ctx != nil {
		go c.watchCtx()
	}
	return nil
}

// watchCtx kills the command when its context is done first.
func (c *Cmd) watchCtx() {
	select {
	case <-c.jobOver:
	case <-c.ctx.Done():
		c.mu.Lock()
		c.ctxErr = c.ctx.Err()
		c.mu.Unlock()
		c.Kill(unix.SIGKILL)
	}
}

// Wait waits for the program started by Start to end: every process of the
// command, not only the first (the others are killed when it ends). It
// returns nil for exit status 0, an *ExitError for any other end of the
// guest, an *InternalError when a bug in litebox ended the sandbox, and
// other errors for host failures. As in os/exec, Wait may be called once,
// only after a successful Start, and it closes the command's pipes once the
// command ended: read them to the end before calling Wait.
func (c *Cmd) Wait() error {
	c.mu.Lock()
	done, waited := c.done, c.waited
	c.waited = c.waited || done != nil
	c.mu.Unlock()
	switch {
	case done == nil:
		return errNotStarted
	case waited:
		return errWaited
	}
	select {
	case <-c.jobOver:
	case err := <-done:
		c.pipes.closeParentEnds()
		return err
	case err := <-c.abandoned:
		c.pipes.closeParentEnds()
		return err
	}
	// A host side that never reads its pipe must not keep the output's
	// flush, and Wait, waiting: the guest is gone, so its pipes close.
	c.pipes.closeParentEnds()
	select {
	case err := <-done:
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

// SearchPath lists the guest paths a command name is looked for at, in
// order, as execvp does: name itself (made absolute against cwd) when it
// has a slash, else name in each directory of env's PATH (DefaultPath
// without one; an empty entry is cwd).
func SearchPath(name string, env []string, cwd string) []string {
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			name = strings.TrimSuffix(cwd, "/") + "/" + name
		}
		return []string{name}
	}
	pathVar := DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	var out []string
	for _, d := range strings.Split(pathVar, ":") {
		if d == "" {
			d = cwd
		}
		out = append(out, strings.TrimSuffix(d, "/")+"/"+name)
	}
	return out
}

func (s *Sandbox) lookPath(name string, env []string, dir string, as *cred.Creds) (string, error) {
	if name == "" {
		return "", &ProgramError{Path: name, Err: ErrNotFound}
	}
	cwd := dir
	if cwd == "" {
		cwd = "/"
	}
	var firstErr error
	for _, p := range SearchPath(name, env, cwd) {
		// As the command's user when it has its own (nil: the VFS's, the
		// sandbox's user).
		at := vfs.Loc{Cred: as}
		st, err := s.fs.StatAt(at, p, true)
		if err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			firstErr = fmt.Errorf("%w: not a regular file", ErrNotExecutable)
			continue
		}
		if err := s.fs.AccessAt(at, p, unix.X_OK, true); err != nil {
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

// firstImage picks the platform (the most preferred one the host allows,
// for "auto") and has the kernel load the first program with it.
func (s *Sandbox) firstImage(leader *kernel.Task, abi kernel.ABI, path string, argv, envp []string) (platform.Platform, error) {
	return s.withPlatform(func(p platform.Platform) error {
		return leader.Load(s.spaces.platform(p), abi, path, argv, envp)
	})
}

// crashGrace is how long the end of a run waits for the guest threads once
// a kernel bug ended the sandbox: they were all killed and normally leave
// at once, but a thread stuck on state the panic broke must not hold the
// run (and with it the embedder) forever. Past it, the run ends anyway and
// the platform's teardown removes every stub.
const crashGrace = time.Second

// waitJob waits for the end of a command: its first process's death ends
// it, then every other task of its job must go (or, after a crash,
// crashGrace passes).
func (s *Sandbox) waitJob(j *kernel.Job) {
	select {
	case <-j.Done():
	case <-s.kernel.Crashed():
		select {
		case <-j.Done():
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

func (c *Cmd) run(path string, env []string, readyCh chan<- error) (err error) {
	s := c.sb
	var readyOnce sync.Once
	ready := func(err error) { readyOnce.Do(func() { readyCh <- err }) }
	defer func() {
		// A bug outside the guest threads' own loops (loading, the run's
		// bookkeeping) ends this sandbox too, not the process.
		if r := recover(); r != nil {
			s.kernel.Crash(r, debug.Stack())
			err = s.kernel.CrashError()
			s.finishAudit()
		}
		ready(err)
	}()
	stdio, out, err := c.stdio()
	if err != nil {
		return err
	}
	// The command's first process: a new job, session and process group.
	proc, err := s.kernel.NewProcessAs(c.creds(), nil, stdio, c.Dir)
	if err != nil {
		out.close(nil, 0)
		return &ProgramError{Path: c.Dir, Err: workdirError{err}}
	}
	if err := c.setup(proc); err != nil {
		out.close(nil, 0)
		proc.Leader().ExitTask(127)
		return err
	}
	if c.term != nil {
		if err := c.term.attach(proc); err != nil {
			out.close(nil, 0)
			proc.Leader().ExitTask(127)
			return fmt.Errorf("giving the command its terminal: %w", err)
		}
	}
	if !s.admit(c) {
		// Closed meanwhile: its kill may have missed this process.
		out.close(nil, 0)
		proc.Leader().ExitTask(127)
		return ErrClosed
	}
	usage := s.newSyscallUsage()
	abi := &linux.ABI{Usage: usage, PanicOn: s.panicHook()}
	leader := proc.Leader()
	defer s.leave(c)
	err = s.image(leader, abi, path, c.Args, env)
	if err != nil {
		out.close(nil, 0)
		proc.Leader().ExitTask(127)
		if errors.Is(err, unix.ENOENT) {
			return &ProgramError{Path: path, Err: fmt.Errorf("%w: %v", ErrNotFound, err)}
		}
		return &ProgramError{Path: path, Err: fmt.Errorf("%w: %v", ErrNotExecutable, err)}
	}
	if err := s.harden(); err != nil {
		out.close(nil, 0)
		leader.AS.Release()
		proc.MM.Release()
		leader.ExitTask(127)
		return err
	}
	s.kernel.AuditCritical("sandbox_start", append([]slog.Attr{slog.String("program", path), slog.Int("pid", proc.PID)},
		s.cfg.Network.auditAttrs()...)...)
	start := s.startLimits()
	c.mu.Lock()
	c.init = proc
	c.mu.Unlock()
	ready(nil)
	job := proc.Job()
	tasksDone := make(chan struct{})
	go watchEnd(job.Ending(), c.killedCh(), tasksDone, endGrace, func() {
		defer s.kernel.Recover()
		s.log.Error("guest threads did not end after the command ended: leaving them behind", "grace", endGrace)
		s.kernel.AuditEvent("kernel_error", slog.String("error", "guest threads did not end after the command ended"),
			slog.Duration("grace", endGrace))
		out.close(nil, endGrace)
		c.abandoned <- c.exit(proc, start, nil)
	})
	// The first thread runs on this goroutine, which made its address
	// space (see kernel.Task.Load); clone runs the others.
	leader.Run()
	s.waitJob(job)
	close(tasksDone)
	close(c.jobOver)
	// What the guest wrote reaches the host before Wait returns, unless the
	// command is killed meanwhile (a host reader that never reads).
	out.close(c.killedCh(), 0)
	c.pipes.closeChildEnds()
	return c.exit(proc, start, s.writeSyscallTrace(usage))
}

// exit writes the command_exit audit event and makes Wait's result, once:
// the run's end and its abandonment (watchEnd) may both get there. A
// sandbox a kernel bug ended has run its last command: its audit log is
// finished (sandbox_exit) here.
func (c *Cmd) exit(proc *kernel.Process, start time.Time, err error) error {
	c.exitOnce.Do(func() {
		s := c.sb
		status := proc.Status()
		s.commandEnded(status)
		s.kernel.AuditCritical("command_exit", slog.Int("pid", proc.PID), slog.Int("wait_status", status),
			slog.Duration("wall", time.Since(start)))
		if ie := s.kernel.CrashError(); ie != nil {
			s.finishAudit()
			c.exitErr = ie
			return
		}
		if err != nil {
			c.exitErr = err
			return
		}
		c.mu.Lock()
		ctxErr := c.ctxErr
		c.mu.Unlock()
		ws := syscall.WaitStatus(status)
		switch {
		case ws.Exited() && ws.ExitStatus() == 0:
			c.exitErr = ctxErr // nil unless the context's end came first
		default:
			c.exitErr = &ExitError{WaitStatus: ws, Reason: s.limitReason(), ctxErr: ctxErr}
		}
	})
	return c.exitErr
}

// Signal sends sig to the command's foreground process group (its first
// process's group), as a terminal's Ctrl-C does (pid 1: see
// Config.ContainerInit). It does nothing before the command starts or
// after it ended.
func (c *Cmd) Signal(sig unix.Signal) {
	defer c.sb.kernel.Recover()
	c.mu.Lock()
	p := c.init
	c.mu.Unlock()
	if p == nil {
		return
	}
	pgid := p.Pgid()
	if fg := c.foreground(); fg != 0 {
		pgid = fg // a terminal's foreground group (TTY)
	}
	_ = c.sb.kernel.KillGroup(pgid, kernel.SigInfo{Signo: sig, Code: kernel.SIKernel}, c.sb.outside())
}

// Kill ends the whole command: its first process dies of sig, every other
// process of its job of SIGKILL. Other commands of the sandbox go on.
func (c *Cmd) Kill(sig unix.Signal) {
	defer c.sb.kernel.Recover()
	c.mu.Lock()
	p := c.init
	c.mu.Unlock()
	if p != nil {
		c.markKilled()
		p.Job().Kill(kernel.WaitStatusSignaled(sig, false))
	}
}

// stdinFile makes the guest's standard input: a kernel pipe fed from r by
// a goroutine, so that a guest read can be interrupted by signals. When
// the guest closes its end, a StdinPipe's writer gets an error, as a
// host pipe's writer gets EPIPE.
func (c *Cmd) stdinFile(r io.Reader) (*vfs.File, error) {
	k := c.sb.kernel
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
					c.pipes.stdinGone()
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
	if lim.CPUs > 0 {
		go s.shareCPU(done)
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
					s.kernel.SignalEverything(unix.SIGXCPU, s.outside())
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

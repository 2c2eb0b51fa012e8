package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/oci/spec"
	"github.com/litebox-go/litebox/sandbox"
	"github.com/litebox-go/litebox/sandbox/hostpolicy"
)

// SuperviseOptions are the supervisor's (the hidden `supervise` command
// create starts).
type SuperviseOptions struct {
	Root          Root
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string
	// Ready receives one JSON line once the container is created (or why
	// it could not be), then is closed: create waits on it.
	Ready io.WriteCloser
	Log   *slog.Logger
	// Stdin, Stdout, Stderr are the container's stdio when it has no
	// terminal: the engine's, inherited through create.
	Stdin, Stdout, Stderr *os.File
}

// supervisor owns one container's sandbox for its whole life.
type supervisor struct {
	o    SuperviseOptions
	log  *slog.Logger
	sb   *sandbox.Sandbox
	init *sandbox.Cmd
	pty  *hostPty
	ln   *net.UnixListener
	plan *spec.Plan // the bundle's: its root gives an exec's HOME

	mu      sync.Mutex
	started bool
	over    bool
	status  syscall.WaitStatus // the first process's, once over
	ended   chan struct{}      // closed once the container is over
	execs   map[*sandbox.Cmd]bool
	execWG  sync.WaitGroup
}

// Supervise creates the container and runs it to its end; it returns the
// wait status of the container's first process (the caller exits with it:
// ExitWith). Errors before the container exists are sent on Ready and
// returned.
func Supervise(o SuperviseOptions) (syscall.WaitStatus, error) {
	s := &supervisor{o: o, log: o.Log, ended: make(chan struct{}), execs: map[*sandbox.Cmd]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// A write to a closed stdout (the engine is gone) must fail with
	// EPIPE, not kill the container; a handler (not SIG_IGN) so that the
	// stubs litebox starts do not inherit it.
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	closeAll, err := s.setUp()
	ready := reply{Pid: os.Getpid()}
	if err != nil {
		ready = reply{Error: err.Error()}
	}
	if o.Ready != nil {
		(&readyWriter{o.Ready}).send(ready)
		o.Ready.Close()
	}
	if err != nil {
		closeAll()
		return 0, err
	}
	go s.forwardSignals()
	go s.serve()
	<-s.ended
	s.ln.Close()
	closeAll()
	// Exec'd commands were killed with the sandbox: let their callers
	// hear how they ended.
	waited := make(chan struct{})
	go func() { s.execWG.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(time.Second):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status, nil
}

type readyWriter struct{ w io.Writer }

func (r *readyWriter) send(v reply) {
	b, _ := json.Marshal(v)
	_, _ = r.w.Write(append(b, '\n'))
}

// setUp builds the sandbox from the bundle, prepares (but does not start)
// the container's process, and serves the control socket. closeAll undoes
// what was made, in order.
func (s *supervisor) setUp() (closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	bspec, err := spec.Load(s.o.Bundle)
	if err != nil {
		return closeAll, err
	}
	plan, err := spec.Translate(bspec, s.o.Bundle)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, func() { plan.Close() })
	s.plan = plan
	if plan.Process.Terminal && s.o.ConsoleSocket == "" {
		return closeAll, errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if !plan.Process.Terminal && s.o.ConsoleSocket != "" {
		return closeAll, errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	cfg := plan.Config
	cfg.Log = s.log
	if cfg.Platform == "" {
		cfg.Platform = platformOf()
	}
	// Once the container's process is loaded, the supervisor confines
	// itself as litebox run does, plus what serving the control socket
	// needs (hostpolicy.Options.Control).
	policy := cfg.Network.HostPolicy()
	policy.Control = true
	cfg.Harden = func() error { return hostpolicy.InstallFor(policy) }
	if plan.NetNS != "" {
		// The engine's network namespace: the guest's stack takes over its
		// interface (hostnet/netns), so the engine's port mappings apply.
		if cfg.Network.Egress || len(cfg.Network.Allow) > 0 {
			return closeAll, fmt.Errorf("annotation dev.litebox.net=egress: the engine gave a network namespace (%s), whose network the container has", plan.NetNS)
		}
		cfg.Network.NetNS = plan.NetNS
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		return closeAll, err
	}
	s.sb = sb
	closers = append(closers, func() {
		if err := sb.Close(); err != nil {
			s.log.Warn("closing the sandbox", "err", err)
		}
	})
	p := plan.Process
	sb.MakeWorkDir(p.Cwd)
	c, err := s.command(&p)
	if err != nil {
		return closeAll, err
	}
	s.init = c
	if p.Terminal {
		pty, err := s.terminal(c, &p, s.o.ConsoleSocket, nil)
		if err != nil {
			return closeAll, err
		}
		s.pty = pty
		closers = append(closers, pty.close)
	} else {
		c.Stdin, c.Stdout, c.Stderr = s.o.Stdin, s.o.Stdout, s.o.Stderr
	}
	ctl := s.o.Root.CtlPath(s.o.ID)
	_ = os.Remove(ctl)
	name := ctl
	if len(name) > maxSunPath {
		// A socket address holds 107 bytes: bind the name relative to
		// the container's directory (the supervisor's cwd from now on).
		if err := os.Chdir(filepath.Dir(ctl)); err != nil {
			return closeAll, fmt.Errorf("control socket: %w", err)
		}
		name = filepath.Base(ctl)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return closeAll, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(ctl, 0o600); err != nil {
		ln.Close()
		return closeAll, fmt.Errorf("control socket: %w", err)
	}
	s.ln = ln
	if err := WritePidFile(s.o.PidFile, os.Getpid()); err != nil {
		ln.Close()
		return closeAll, fmt.Errorf("--pid-file: %w", err)
	}
	return closeAll, nil
}

// command makes the Cmd of process p, refusing a program that is not
// there (as runc's create does: the engine learns it before start).
func (s *supervisor) command(p *spec.Process) (*sandbox.Cmd, error) {
	if len(p.Args) == 0 {
		return nil, errors.New("process.args must not be empty")
	}
	if err := s.lookPath(p.Args[0], p.Env, p.Cwd); err != nil {
		return nil, err
	}
	return p.Command(s.sb), nil
}

// lookPath checks that name resolves to a file in the sandbox, in runc's
// words when it does not.
func (s *supervisor) lookPath(name string, env []string, cwd string) error {
	fs := s.sb.FS()
	root := vfs.Loc{Cred: cred.New(0, 0, nil)}
	paths := sandbox.SearchPath(name, env, cwd)
	if strings.Contains(name, "/") {
		if _, err := fs.StatAt(root, paths[0], true); err != nil {
			return fmt.Errorf("unable to start container process: exec: %q: stat %s: no such file or directory", paths[0], paths[0])
		}
		return nil
	}
	for _, p := range paths {
		st, err := fs.StatAt(root, p, true)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			return nil
		}
	}
	return fmt.Errorf("unable to start container process: exec: %q: executable file not found in $PATH", name)
}

// terminal gives c a terminal shown on a host pty whose master goes to the
// console socket.
func (s *supervisor) terminal(c *sandbox.Cmd, p *spec.Process, console string, consoleConn *os.File) (*hostPty, error) {
	pty, err := openHostPty()
	if err != nil {
		return nil, err
	}
	if b := p.ConsoleSize; b != nil && b.Height <= 0xffff && b.Width <= 0xffff {
		pty.setSize(uint16(b.Height), uint16(b.Width))
	}
	send := func() error { return pty.sendMaster(console) }
	if consoleConn != nil {
		send = func() error { return pty.sendMasterOn(consoleConn) }
	}
	if err := send(); err != nil {
		pty.close()
		return nil, err
	}
	rows, cols := pty.size()
	c.TTY = &sandbox.TTY{Rows: rows, Cols: cols}
	c.Stdin, c.Stdout = pty.slave, pty.slave
	return pty, nil
}

// platformOf is the platform when the bundle's annotation
// dev.litebox.platform names none: $LITEBOX_PLATFORM, else auto.
func platformOf() string {
	if p := os.Getenv("LITEBOX_PLATFORM"); p != "" {
		return p
	}
	return "auto"
}

// forwardSignals passes the signals the supervisor itself receives (an
// engine that signals the container's pid directly) to the container's
// first process, as they would reach runc's container init.
func (s *supervisor) forwardSignals() {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	for sig := range ch {
		if err := s.kill(int(sig.(syscall.Signal)), false); err != nil {
			s.log.Debug("forwarding a signal", "signal", sig, "err", err)
		}
	}
}

// serve answers control connections until the listener closes.
func (s *supervisor) serve() {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		if !peerIsUs(c) {
			c.Close()
			continue
		}
		go s.handle(&conn{c: c})
	}
}

func (s *supervisor) handle(c *conn) {
	defer c.c.Close()
	defer s.recover()
	var req request
	files, err := c.recv(&req, 3)
	if err != nil {
		return
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if req.Op == "exec" {
		s.exec(c, req, files)
		return
	}
	var r reply
	switch req.Op {
	case "start":
		r.Pid, err = s.start()
	case "kill":
		err = s.kill(req.Signal, req.All)
	default:
		err = fmt.Errorf("unknown control request %q", req.Op)
	}
	if err != nil {
		r.Error = err.Error()
	}
	_ = c.send(r)
}

// recover keeps a bug in serving one request from ending the container
// (the supervisor's stderr is the container's: it goes to the log).
func (s *supervisor) recover() {
	if r := recover(); r != nil {
		s.log.Error("supervisor: internal error serving a request", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// start runs the container's process.
func (s *supervisor) start() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.over:
		return 0, errors.New("cannot start a container that has stopped")
	case s.started:
		return 0, errors.New("cannot start an already running container")
	}
	s.started = true
	if err := s.init.Start(); err != nil {
		// The container is over: runc's too, when its exec fails.
		s.endLocked(syscall.WaitStatus(127 << 8))
		return 0, fmt.Errorf("unable to start container process: %w", err)
	}
	if s.pty != nil {
		go s.pty.watchSize(s.init.Resize, s.ended)
	}
	go func() {
		ws := waitStatus(s.init.Wait(), s.log)
		s.mu.Lock()
		s.endLocked(ws)
		s.mu.Unlock()
	}()
	return s.init.Process.Pid, nil
}

// endLocked marks the container over with status ws (once).
func (s *supervisor) endLocked(ws syscall.WaitStatus) {
	if s.over {
		return
	}
	s.over, s.status = true, ws
	close(s.ended)
}

// kill sends sig to the container's first process (with all, to every
// command's first process). Before start there is no process yet: the
// container ends as killed by sig, unless sig is one whose default is to
// be ignored.
func (s *supervisor) kill(sig int, all bool) error {
	if sig <= 0 || sig > 64 {
		return fmt.Errorf("invalid signal %d", sig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return errors.New("container not running")
	}
	if !s.started {
		if !ignoredByDefault(unix.Signal(sig)) {
			s.endLocked(syscall.WaitStatus(sig))
		}
		return nil
	}
	if all {
		// Every guest process, of the first command and of every exec,
		// as runc signals every process of the container's cgroup.
		s.sb.SignalAll(unix.Signal(sig))
		return nil
	}
	err := s.init.Process.Signal(unix.Signal(sig))
	if errors.Is(err, os.ErrProcessDone) {
		return errors.New("container not running")
	}
	return err
}

func ignoredByDefault(sig unix.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH:
		return true
	}
	return false
}

// exec runs a new command in the sandbox for an exec client: its stdio the
// client's descriptors (or a terminal on its console socket).
func (s *supervisor) exec(c *conn, req request, files []*os.File) {
	fail := func(err error) { _ = c.send(reply{Error: err.Error()}) }
	s.mu.Lock()
	running := s.started && !s.over
	s.mu.Unlock()
	if !running {
		fail(errors.New("cannot exec in a stopped container"))
		return
	}
	if req.Process == nil {
		fail(errors.New("exec: no process"))
		return
	}
	if req.Process.Cwd == "" {
		req.Process.Cwd = "/"
	}
	p, err := spec.TranslateProcess(req.Process)
	if err != nil {
		fail(err)
		return
	}
	s.plan.SetHome(&p)
	for _, u := range p.Unapplied {
		s.log.Warn("exec: not applied", "field", u.Field, "value", u.Value, "reason", u.Reason)
	}
	cmd, err := s.command(&p)
	if err != nil {
		fail(err)
		return
	}
	var pty *hostPty
	if p.Terminal {
		if !req.Console || len(files) != 1 {
			fail(errors.New("cannot allocate tty if runc will detach without setting console socket"))
			return
		}
		if pty, err = s.terminal(cmd, &p, "", files[0]); err != nil {
			fail(err)
			return
		}
		defer pty.close()
	} else {
		if req.Console || len(files) != 3 {
			fail(fmt.Errorf("exec: want 3 stdio descriptors, got %d", len(files)))
			return
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = files[0], files[1], files[2]
	}
	s.mu.Lock()
	if s.over {
		s.mu.Unlock()
		fail(errors.New("cannot exec in a stopped container"))
		return
	}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		fail(fmt.Errorf("exec failed: unable to start container process: %w", err))
		return
	}
	s.execs[cmd] = true
	s.execWG.Add(1)
	s.mu.Unlock()
	defer s.execWG.Done()
	// Our copies of the stdio go once the command has them (the guest
	// reads and writes through the sandbox's pipes fed from them).
	_ = c.send(reply{Pid: cmd.Process.Pid})
	done := make(chan struct{})
	if pty != nil {
		go pty.watchSize(cmd.Resize, done)
	}
	go func() {
		// Signals from the client; its going away kills the command.
		defer s.recover()
		for {
			var r request
			if _, err := c.recv(&r, 0); err != nil {
				select {
				case <-done:
				default:
					cmd.Kill(unix.SIGKILL)
				}
				return
			}
			if r.Op == "signal" && r.Signal > 0 && r.Signal <= 64 {
				_ = cmd.Process.Signal(unix.Signal(r.Signal))
			}
		}
	}()
	ws := int(waitStatus(cmd.Wait(), s.log))
	close(done)
	s.mu.Lock()
	delete(s.execs, cmd)
	s.mu.Unlock()
	_ = c.send(reply{Exit: &ws})
}

// waitStatus is a Cmd's result as a wait status: an *ExitError's, 0 for
// nil, exit 255 for litebox's own failures (logged).
func waitStatus(err error, log *slog.Logger) syscall.WaitStatus {
	if err == nil {
		return 0
	}
	var ee *sandbox.ExitError
	if errors.As(err, &ee) {
		return ee.WaitStatus
	}
	log.Error("container process", "err", err)
	return syscall.WaitStatus(255 << 8)
}

// ExitWith ends the calling process the way ws says a process ended, so
// that its parent's waitpid sees what it would see of runc's container
// process: exit(N), or death by the same signal (the signal's default
// action restored first, core dumps off).
func ExitWith(ws syscall.WaitStatus) {
	if !ws.Signaled() {
		os.Exit(ws.ExitStatus())
	}
	sig := ws.Signal()
	_ = unix.Prlimit(0, unix.RLIMIT_CORE, &unix.Rlimit{}, nil)
	signal.Reset(sig)
	// The Go runtime's own handler (for SIGSEGV and the like) would report
	// a crash: set SIG_DFL with the raw call, then unblock and raise.
	var act [4]uint64 // struct kernel_sigaction, all zero: SIG_DFL
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafePointer(&act)), 0, 8, 0, 0)
	var set unix.Sigset_t
	set.Val[0] = 1 << (uint(sig) - 1)
	_ = unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	// tgkill: the supervisor's seccomp policy has no kill(2); a fatal
	// signal to one thread ends the whole process all the same.
	_ = unix.Tgkill(os.Getpid(), unix.Gettid(), sig)
	time.Sleep(time.Second)
	os.Exit(128 + int(sig))
}

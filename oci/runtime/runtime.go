package runtime

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/oci/spec"
)

// Runtime runs the commands of the runc contract against one state root.
type Runtime struct {
	Root Root
	// Exe is the runtime binary, re-executed for the hidden supervise
	// and exec-proxy commands; GlobalArgs are the global flags to give it
	// (--root, --log, --log-format, --debug).
	Exe        string
	GlobalArgs []string
	Log        *slog.Logger
}

func (r *Runtime) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// CreateOptions are create's.
type CreateOptions struct {
	ID, Bundle, PidFile, ConsoleSocket string
	// Stdin, Stdout, Stderr are given to the supervisor, whose they stay:
	// the container's stdio (nil: /dev/null).
	Stdin, Stdout, Stderr *os.File
}

// Create makes container o.ID from its bundle: it starts the supervisor
// (a detached child: once create exits, the engine's subreaper is its
// parent) and returns once the container is created, its process ready
// to start. The returned process is the supervisor's (run waits on it).
func (r *Runtime) Create(o CreateOptions) (*os.Process, error) {
	if err := CheckID(o.ID); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bundle); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("bundle %s: %w", bundle, unwrapPath(err))
	}
	bspec, err := spec.Load(bundle)
	if err != nil {
		return nil, err
	}
	pidFile := o.PidFile
	if pidFile != "" {
		if pidFile, err = filepath.Abs(pidFile); err != nil {
			return nil, err
		}
	}
	st := &State{OCIState: OCIState{OCIVersion: OCIVersion, ID: o.ID, Status: Creating, Bundle: bundle,
		Created: time.Now().UTC(), Owner: "", Annotations: bspec.Annotations}}
	if bspec.Root != nil {
		st.Rootfs = bspec.Root.Path
		if !filepath.IsAbs(st.Rootfs) {
			st.Rootfs = filepath.Join(bundle, st.Rootfs)
		}
	}
	unlock, err := r.Root.create(st)
	if err != nil {
		return nil, err
	}
	defer unlock()
	fail := func(err error) (*os.Process, error) {
		_ = r.Root.remove(o.ID)
		return nil, err
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer rd.Close()
	args := append(append([]string{}, r.GlobalArgs...), "supervise", "--bundle", bundle)
	if pidFile != "" {
		args = append(args, "--pid-file", pidFile)
	}
	if o.ConsoleSocket != "" {
		cs, err := filepath.Abs(o.ConsoleSocket)
		if err != nil {
			wr.Close()
			return fail(err)
		}
		args = append(args, "--console-socket", cs)
	}
	args = append(args, "--", o.ID)
	cmd := exec.Command(r.Exe, args...)
	if bspec.Process == nil || !bspec.Process.Terminal {
		// The container's stdio are create's (the engine's pipes).
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	// With a terminal the container's stdio is the pty: the supervisor
	// keeps nothing of create's (/dev/null), as runc's container process
	// does not; an engine reading create's output to its end (go-runc,
	// for a terminal) would otherwise wait for the container's exit.
	cmd.ExtraFiles = []*os.File{wr} // fd 3: the ready line
	cmd.Dir = "/"
	// Its own session: the engine's terminal signals and process group
	// kills aimed at create do not reach the container.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		wr.Close()
		return fail(fmt.Errorf("starting the supervisor: %w", err))
	}
	wr.Close()
	var ready reply
	line, rerr := bufio.NewReader(rd).ReadBytes('\n')
	if rerr == nil {
		rerr = json.Unmarshal(line, &ready)
	}
	if rerr != nil || ready.Error != "" {
		werr := cmd.Wait()
		if ready.Error != "" {
			return fail(errors.New(ready.Error))
		}
		return fail(fmt.Errorf("the supervisor ended before the container was created: %v", werr))
	}
	pid := cmd.Process.Pid
	t, err := startTime(pid)
	if err != nil {
		return fail(fmt.Errorf("the supervisor ended before the container was created: %w", err))
	}
	st.Status, st.Pid, st.Supervisor, st.StartTime = Created, pid, pid, t
	if err := r.Root.Save(st); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fail(err)
	}
	r.log().Debug("container created", "id", o.ID, "pid", pid)
	return cmd.Process, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// withState runs f with container id's lock held and its state loaded.
func (r *Runtime) withState(id string, f func(*State) error) error {
	unlock, err := r.Root.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := r.Root.Load(id)
	if err != nil {
		return err
	}
	return f(st)
}

// Start runs the created container's process.
func (r *Runtime) Start(id string) error {
	return r.withState(id, func(st *State) error {
		switch st.Status {
		case Stopped:
			return errors.New("cannot start a container that has stopped")
		case Running:
			return errors.New("cannot start an already running container")
		}
		if _, err := call(r.Root.CtlPath(id), request{Op: "start"}); err != nil {
			return err
		}
		st.Status = Running
		return r.Root.Save(st)
	})
}

// State returns the container's state.
func (r *Runtime) State(id string) (*State, error) {
	var out *State
	err := r.withState(id, func(st *State) error { out = st; return nil })
	return out, err
}

// Public is the state as the OCI spec (and `runc state`) shows it.
func (st *State) Public() OCIState { return st.OCIState }

// Kill sends sig to the container's first process (all: to every
// command's).
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	return r.withState(id, func(st *State) error {
		if st.Status == Stopped {
			return errors.New("container not running")
		}
		_, err := call(r.Root.CtlPath(id), request{Op: "kill", Signal: int(sig), All: all})
		return err
	})
}

// deleteWait bounds how long delete waits for a killed supervisor to go.
const deleteWait = 10 * time.Second

// Delete removes the container; a created one is killed first, a running
// one only with force.
func (r *Runtime) Delete(id string, force bool) error {
	return r.withState(id, func(st *State) error {
		switch st.Status {
		case Running:
			if !force {
				return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st.Status)
			}
			fallthrough
		case Created, Creating:
			if _, err := call(r.Root.CtlPath(id), request{Op: "kill", Signal: int(unix.SIGKILL), All: true}); err != nil {
				r.log().Debug("delete: kill", "id", id, "err", err)
			}
			deadline := time.Now().Add(deleteWait)
			for st.alive() {
				if time.Now().After(deadline) {
					return fmt.Errorf("container %s: its supervisor (pid %d) did not end", id, st.Supervisor)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		return r.Root.remove(id)
	})
}

// List returns the state of every container under the root.
func (r *Runtime) List() ([]*State, error) {
	ids, err := r.Root.List()
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, id := range ids {
		st, err := r.State(id)
		if err != nil {
			continue // deleted meanwhile, or not a container
		}
		out = append(out, st)
	}
	return out, nil
}

// Pids are the host processes of the container: its supervisor (every
// guest process is served by it; the stubs that run guest code are its
// children, not processes of the container's own).
func (r *Runtime) Pids(id string) ([]int, error) {
	st, err := r.State(id)
	if err != nil {
		return nil, err
	}
	if st.Status == Stopped {
		return []int{}, nil
	}
	return []int{st.Pid}, nil
}

// ExecOptions are exec's.
type ExecOptions struct {
	ID            string
	Process       *specs.Process
	ConsoleSocket string
	// Stdin, Stdout, Stderr are passed to the supervisor: the command's
	// stdio when it has no terminal.
	Stdin, Stdout, Stderr *os.File
}

// Exec is a command running in a container for its caller: the control
// connection that started it and will say how it ended.
type Exec struct {
	Pid int // in the sandbox's pid space
	c   *conn
}

// LoadProcess reads an exec --process file (an OCI process JSON), checked
// as the supervisor will check it.
func LoadProcess(path string) (*specs.Process, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMsg/2+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMsg/2 {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxMsg/2)
	}
	var p specs.Process
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := spec.TranslateProcess(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// Exec starts a new command in the running container.
func (r *Runtime) Exec(o ExecOptions) (*Exec, error) {
	var ctl string
	err := r.withState(o.ID, func(st *State) error {
		switch st.Status {
		case Stopped:
			return errors.New("cannot exec in a stopped container")
		case Created, Creating:
			return errors.New("cannot exec in a container that has not started")
		}
		ctl = r.Root.CtlPath(o.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The lock is not held for the command's life: other calls go on.
	c, err := dial(ctl)
	if err != nil {
		return nil, err
	}
	req := request{Op: "exec", Process: o.Process}
	var fds []int
	if o.Process == nil {
		return nil, errors.New("exec: no process")
	}
	if o.Process.Terminal {
		if o.ConsoleSocket == "" {
			c.c.Close()
			return nil, errors.New("cannot allocate tty if runc will detach without setting console socket")
		}
		// The caller connects to the console socket and hands the
		// connection over: the supervisor makes no sockets.
		cs, err := net.DialTimeout("unix", o.ConsoleSocket, 10*time.Second)
		if err != nil {
			c.c.Close()
			return nil, fmt.Errorf("console socket: %w", err)
		}
		f, err := cs.(*net.UnixConn).File()
		cs.Close()
		if err != nil {
			c.c.Close()
			return nil, fmt.Errorf("console socket: %w", err)
		}
		defer f.Close()
		req.Console = true
		fds = append(fds, int(f.Fd()))
	} else {
		for _, f := range []*os.File{o.Stdin, o.Stdout, o.Stderr} {
			if f == nil {
				c.c.Close()
				return nil, errors.New("exec: stdio missing")
			}
			fds = append(fds, int(f.Fd()))
		}
	}
	if err := c.send(req, fds...); err != nil {
		c.c.Close()
		return nil, fmt.Errorf("talking to the container's supervisor: %w", err)
	}
	var rep reply
	if _, err := c.recv(&rep, 0); err != nil {
		c.c.Close()
		return nil, fmt.Errorf("talking to the container's supervisor: %w", err)
	}
	if rep.Error != "" {
		c.c.Close()
		return nil, errors.New(rep.Error)
	}
	return &Exec{Pid: rep.Pid, c: c}, nil
}

// Wait forwards the signals the caller receives to the command and returns
// its wait status once it ended.
func (e *Exec) Wait() syscall.WaitStatus {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(ch)
	go func() {
		for sig := range ch {
			_ = e.c.send(request{Op: "signal", Signal: int(sig.(syscall.Signal))})
		}
	}()
	defer e.c.c.Close()
	for {
		var rep reply
		if _, err := e.c.recv(&rep, 0); err != nil {
			// The supervisor is gone: the container ended, and the
			// command with it.
			return syscall.WaitStatus(unix.SIGKILL)
		}
		if rep.Exit != nil {
			return syscall.WaitStatus(*rep.Exit)
		}
	}
}

// File is the control connection as a file, for a proxy process to take
// over (exec --detach), and what was already read from it but not
// consumed (a quick command's {"exit"} can arrive with its {"pid"}): the
// proxy must start from those bytes. The Exec must not be used after.
func (e *Exec) File() (*os.File, []byte, error) {
	f, err := e.c.c.File()
	e.c.c.Close()
	return f, e.c.buf, err
}

// ExecFromFile is the proxy's side of File.
func ExecFromFile(f *os.File, buffered []byte) (*Exec, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, errors.New("exec proxy: not a unix connection")
	}
	return &Exec{c: &conn{c: uc, buf: buffered}}, nil
}

// StartProxy starts the detached exec proxy holding e's connection: the
// process engines wait on for an exec --detach (its pid goes to the pid
// file), which exits with the command's status.
func (r *Runtime) StartProxy(e *Exec) (*os.Process, error) {
	f, buffered, err := e.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	args := append(append([]string{}, r.GlobalArgs...), "exec-proxy")
	if len(buffered) > 0 {
		args = append(args, "--buffered", base64.StdEncoding.EncodeToString(buffered))
	}
	cmd := exec.Command(r.Exe, args...)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the exec proxy: %w", err)
	}
	return cmd.Process, nil
}

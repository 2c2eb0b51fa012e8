// Command litebox-runtime is LiteBox-Go's OCI runtime: the runc
// command-line contract that Podman (conmon), containerd and Docker call,
// over sandboxes of litebox's kernel. Each container lives in a detached
// supervisor process (see package oci/runtime).
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	ociruntime "github.com/litebox-go/litebox/oci/runtime"
)

// version and gitCommit are set at build time (make build: -ldflags
// "-X main.gitCommit=..."); without it the commit comes from the build's
// VCS stamp, if it has one.
var (
	version   = "0.14.0-dev"
	gitCommit = ""
)

func commit() string {
	if gitCommit != "" {
		return gitCommit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// exitError carries an exit code that is not an error to report (run and
// exec end with their command's status).
type exitError struct{ code int }

func (e exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// globals are the global flags.
type globals struct {
	root, logFile, logFormat string
	debug, systemdCgroup     bool
	rootless                 string
	logger                   *slog.Logger
	logClose                 func()
	stderr                   io.Writer
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	g := &globals{stderr: stderr, logClose: func() {}}
	defer func() {
		if r := recover(); r != nil {
			g.fatal(fmt.Errorf("internal error: %v", r))
			code = 1
		}
		g.logClose()
	}()
	root := newRootCmd(g, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	g.fatal(err)
	return 1
}

// fatal reports err as runc does: one error line on the log (--log), or
// on stderr when there is none.
func (g *globals) fatal(err error) {
	if g.logger == nil {
		g.setUpLog()
	}
	g.logger.Error(strings.ReplaceAll(err.Error(), "\n", " "))
}

// setUpLog makes the logger of --log and --log-format: runc's JSON lines
// ({"level","msg","time"}) or logrus-like text.
func (g *globals) setUpLog() {
	var w io.Writer = g.stderr
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err == nil {
			w = f
			g.logClose = func() { f.Close() }
		}
	}
	level := slog.LevelInfo
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.TimeKey:
			return slog.String("time", a.Value.Time().UTC().Format(time.RFC3339))
		case slog.LevelKey:
			l := strings.ToLower(a.Value.String())
			if l == "warn" {
				l = "warning"
			}
			return slog.String("level", l)
		}
		return a
	}}
	if g.logFormat == "json" {
		g.logger = slog.New(slog.NewJSONHandler(w, opts))
	} else {
		g.logger = slog.New(slog.NewTextHandler(w, opts))
	}
}

// runtime is the Runtime of the global flags.
func (g *globals) runtime() (*ociruntime.Runtime, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding litebox-runtime's own binary: %w", err)
	}
	args := []string{"--root", g.root}
	if g.logFile != "" {
		args = append(args, "--log", g.logFile)
	}
	args = append(args, "--log-format", g.logFormat)
	if g.debug {
		args = append(args, "--debug")
	}
	return &ociruntime.Runtime{Root: ociruntime.Root{Dir: g.root}, Exe: exe, GlobalArgs: args, Log: g.logger}, nil
}

func newRootCmd(g *globals, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "litebox-runtime",
		Short: "An OCI runtime (runc's command line) that runs containers in LiteBox sandboxes",
		Long: `litebox-runtime is an OCI runtime: container engines call it as they call runc,
and every container runs in a LiteBox sandbox, its system calls served by
litebox's own kernel, never the host's.

  podman --runtime /usr/local/bin/litebox-runtime run --rm IMAGE echo hi
  ctr run --runc-binary /usr/local/bin/litebox-runtime IMAGE ID
  dockerd --add-runtime litebox=/usr/local/bin/litebox-runtime; docker run --runtime=litebox ...

By hand, with a bundle (a directory with config.json and its rootfs):

  litebox-runtime create --bundle DIR --pid-file DIR/pid ID
  litebox-runtime start ID
  litebox-runtime state ID
  litebox-runtime kill ID TERM
  litebox-runtime delete ID`,
		Version:           version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.logFormat != "text" && g.logFormat != "json" {
				return fmt.Errorf("invalid log-format: %s", g.logFormat)
			}
			g.setUpLog()
			if g.systemdCgroup {
				g.logger.Debug("--systemd-cgroup: accepted and ignored: litebox makes no cgroups (limits are its kernel's)")
			}
			return nil
		},
	}
	root.SetVersionTemplate(fmt.Sprintf("litebox-runtime version %s\ncommit: %s\nspec: %s\n", version, commit(), ociruntime.OCIVersion))
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", ociruntime.DefaultRoot, "root directory for the state of containers")
	pf.StringVar(&g.logFile, "log", "", "append the runtime's log (errors, and debug lines with --debug) to `FILE` instead of stderr")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json (runc's JSON lines)")
	pf.BoolVar(&g.debug, "debug", false, "log debug lines")
	pf.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "accepted for engines; litebox makes no cgroups")
	pf.StringVar(&g.rootless, "rootless", "auto", "accepted for engines; litebox needs no privileges either way")
	_ = pf.MarkHidden("rootless")
	root.AddCommand(newCreateCmd(g), newStartCmd(g), newStateCmd(g, stdout), newKillCmd(g), newDeleteCmd(g),
		newExecCmd(g), newPsCmd(g, stdout), newFeaturesCmd(stdout), newListCmd(g, stdout), newRunCmd(g),
		newSuperviseCmd(g), newExecProxyCmd(g))
	for _, u := range []struct{ name, why string }{
		{"pause", "a sandbox cannot be frozen yet"},
		{"resume", "a sandbox cannot be frozen yet"},
		{"update", "limits are fixed when the sandbox is made"},
		{"events", "no event or stats stream yet"},
		{"checkpoint", "no checkpoint/restore"},
		{"restore", "no checkpoint/restore"},
	} {
		root.AddCommand(unsupportedCmd(u.name, u.why))
	}
	return root
}

// unsupportedCmd is a runc command litebox-runtime does not have: a clear
// refusal (engines report it), never a fake success.
func unsupportedCmd(name, why string) *cobra.Command {
	return &cobra.Command{
		Use: name, Short: "Not supported by litebox-runtime (" + why + ")",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("%s is not supported by litebox-runtime: %s", name, why)
		},
	}
}

// idArg takes exactly one container id (with runc's message otherwise).
func idArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s: requires exactly 1 argument, the container id (got %d)", cmd.Name(), len(args))
	}
	return nil
}

type createFlags struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (f *createFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", ".", "the bundle: a directory with config.json and the root file system it names")
	fl.StringVar(&f.pidFile, "pid-file", "", "write the container's pid (its supervisor's) to `FILE`")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "send the terminal's pty master to the unix socket at `PATH` (process.terminal)")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "accepted; litebox never pivots the host's root")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "accepted; litebox makes no host keyrings")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "extra descriptors to pass (not supported: must be 0)")
}

func (f *createFlags) create(g *globals, id string) (*os.Process, error) {
	if f.preserveFDs != 0 {
		return nil, errors.New("--preserve-fds is not supported by litebox-runtime")
	}
	rt, err := g.runtime()
	if err != nil {
		return nil, err
	}
	return rt.Create(ociruntime.CreateOptions{ID: id, Bundle: f.bundle, PidFile: f.pidFile,
		ConsoleSocket: f.consoleSocket, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

func newCreateCmd(g *globals) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [flags] ID",
		Short: "Create a container from a bundle (its process waits for start)",
		Args:  idArg,
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := f.create(g, args[0])
			if err == nil {
				_ = p.Release() // the engine's subreaper waits on it
			}
			return err
		},
	}
	f.add(cmd)
	return cmd
}

func newStartCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "start ID", Short: "Start a created container's process", Args: idArg,
		RunE: func(_ *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Start(args[0])
		},
	}
}

func newStateCmd(g *globals, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use: "state ID", Short: "Print a container's OCI state (JSON)", Args: idArg,
		RunE: func(_ *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			st, err := rt.State(args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(st.Public(), "", "  ")
			if err != nil {
				return err
			}
			_, err = stdout.Write(b)
			return err
		},
	}
}

func newKillCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [--all] ID [SIGNAL]",
		Short: "Send a signal (default SIGTERM; a name like TERM or SIGKILL, or a number) to the container's process",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("kill: want ID [SIGNAL], got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			sigName := "SIGTERM"
			if len(args) == 2 {
				sigName = args[1]
			}
			sig, err := ociruntime.ParseSignal(sigName)
			if err != nil {
				return err
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Kill(args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every command of the container (its process and every exec)")
	return cmd
}

func newDeleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "delete [--force] ID", Short: "Delete a stopped (or created) container; --force kills a running one first", Args: idArg,
		RunE: func(_ *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			err = rt.Delete(args[0], force)
			if force && errors.Is(err, ociruntime.ErrNotExist) {
				return nil // runc's delete --force of nothing succeeds
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container (SIGKILL) if it is running")
	return cmd
}

func newExecCmd(g *globals) *cobra.Command {
	var (
		processFile, pidFile, consoleSocket, cwd, user string
		detach, tty                                    bool
		envs                                           []string
		preserveFDs                                    int
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] ID [COMMAND [ARG...]]",
		Short: "Run a new command in a running container (--process FILE: an OCI process JSON)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return errors.New("exec: requires the container id")
			}
			if processFile == "" && len(args) < 2 {
				return errors.New("exec: give --process FILE or a command after the id")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if preserveFDs != 0 {
				return errors.New("--preserve-fds is not supported by litebox-runtime")
			}
			var p *specs.Process
			if processFile != "" {
				var err error
				if p, err = ociruntime.LoadProcess(processFile); err != nil {
					return fmt.Errorf("--process: %w", err)
				}
			} else {
				// runc's defaults for a command line exec.
				p = &specs.Process{Args: args[1:], Cwd: "/", Terminal: tty,
					Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
			}
			if cwd != "" {
				p.Cwd = cwd
			}
			if tty {
				p.Terminal = true
			}
			p.Env = append(p.Env, envs...)
			if user != "" {
				u, err := parseUser(user)
				if err != nil {
					return err
				}
				p.User = u
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			e, err := rt.Exec(ociruntime.ExecOptions{ID: args[0], Process: p, ConsoleSocket: consoleSocket,
				Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
			if err != nil {
				return err
			}
			if detach {
				proxy, err := rt.StartProxy(e)
				if err != nil {
					return err
				}
				if err := ociruntime.WritePidFile(pidFile, proxy.Pid); err != nil {
					_ = proxy.Kill()
					return fmt.Errorf("--pid-file: %w", err)
				}
				_ = proxy.Release()
				return nil
			}
			if err := ociruntime.WritePidFile(pidFile, os.Getpid()); err != nil {
				return fmt.Errorf("--pid-file: %w", err)
			}
			return exitError{statusCode(e.Wait())}
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.StringVarP(&processFile, "process", "p", "", "the process to run: an OCI process JSON `FILE`")
	fl.BoolVarP(&detach, "detach", "d", false, "return once the command started; a small proxy process (its pid in --pid-file) exits with its status")
	fl.StringVar(&pidFile, "pid-file", "", "write the command's pid (the proxy's with --detach, else this process's) to `FILE`")
	fl.StringVar(&consoleSocket, "console-socket", "", "send the terminal's pty master to the unix socket at `PATH` (process.terminal)")
	fl.BoolVarP(&tty, "tty", "t", false, "give the command a terminal (needs --console-socket)")
	fl.StringVar(&cwd, "cwd", "", "working directory of the command")
	fl.StringArrayVarP(&envs, "env", "e", nil, "add an environment variable KEY=VALUE")
	fl.StringVarP(&user, "user", "u", "", "run as `UID[:GID]` (numeric, as runc)")
	fl.IntVar(&preserveFDs, "preserve-fds", 0, "extra descriptors to pass (not supported: must be 0)")
	return cmd
}

// parseUser reads exec --user UID[:GID].
func parseUser(s string) (specs.User, error) {
	us, gs, hasG := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return specs.User{}, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
	}
	u := specs.User{UID: uint32(uid)}
	if hasG {
		gid, err := strconv.ParseUint(gs, 10, 32)
		if err != nil {
			return specs.User{}, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
		}
		u.GID = uint32(gid)
	}
	return u, nil
}

// statusCode is a wait status as a shell shows it: the exit code, or
// 128+N for death by signal N.
func statusCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func newPsCmd(g *globals, stdout io.Writer) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [--format table|json] ID [PS-ARGS...]",
		Short: "List the container's host processes (json: their pids; table: ps(1) of them)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return errors.New("ps: requires the container id")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			pids, err := rt.Pids(args[0])
			if err != nil {
				return err
			}
			switch format {
			case "json":
				b, _ := json.Marshal(pids)
				_, err = stdout.Write(b)
				return err
			case "table":
				psArgs := args[1:]
				if len(psArgs) == 0 {
					psArgs = []string{"-f"}
				}
				if len(pids) == 0 {
					fmt.Fprintln(stdout, "UID        PID  PPID  C STIME TTY          TIME CMD")
					return nil
				}
				var list []string
				for _, p := range pids {
					list = append(list, strconv.Itoa(p))
				}
				out, err := exec.Command("ps", append(psArgs, "-p", strings.Join(list, ","))...).Output()
				if err != nil {
					return fmt.Errorf("ps: %w", err)
				}
				_, err = stdout.Write(out)
				return err
			}
			return fmt.Errorf("invalid format option: %s", format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func newFeaturesCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use: "features", Short: "Print what this runtime supports (JSON)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			b, err := json.MarshalIndent(ociruntime.GetFeatures(version, commit()), "", "    ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		},
	}
}

func newListCmd(g *globals, stdout io.Writer) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use: "list", Short: "List the containers under --root", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			sts, err := rt.List()
			if err != nil {
				return err
			}
			if quiet {
				for _, st := range sts {
					fmt.Fprintln(stdout, st.ID)
				}
				return nil
			}
			switch format {
			case "json":
				pub := []ociruntime.OCIState{}
				for _, st := range sts {
					pub = append(pub, st.Public())
				}
				b, _ := json.Marshal(pub)
				_, err = fmt.Fprintf(stdout, "%s\n", b)
				return err
			case "table":
				w := tabwriter.NewWriter(stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, st := range sts {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.Pid, st.Status, st.Bundle,
						st.Created.Format(time.RFC3339Nano), st.Owner)
				}
				return w.Flush()
			}
			return fmt.Errorf("invalid format option: %s", format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the ids")
	return cmd
}

func newRunCmd(g *globals) *cobra.Command {
	var f createFlags
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] ID",
		Short: "Create and start a container, and wait for it (exit status: its process's)",
		Args:  idArg,
		RunE: func(_ *cobra.Command, args []string) error {
			id := args[0]
			p, err := f.create(g, id)
			if err != nil {
				return err
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			if err := rt.Start(id); err != nil {
				_ = rt.Delete(id, true)
				_, _ = p.Wait()
				return err
			}
			if detach {
				_ = p.Release()
				return nil
			}
			st, err := p.Wait()
			if !keep {
				_ = rt.Delete(id, true)
			}
			if err != nil {
				return err
			}
			return exitError{statusCode(st.Sys().(syscall.WaitStatus))}
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the container started")
	cmd.Flags().BoolVar(&keep, "keep", false, "do not delete the container once it stopped")
	return cmd
}

// newSuperviseCmd is the hidden command create starts: the container's
// supervisor, owning its sandbox until its process ends.
func newSuperviseCmd(g *globals) *cobra.Command {
	var bundle, pidFile, consoleSocket string
	cmd := &cobra.Command{
		Use: "supervise", Hidden: true, Args: idArg,
		RunE: func(_ *cobra.Command, args []string) error {
			ready := os.NewFile(3, "ready")
			if ready == nil {
				return errors.New("supervise is started by create, not by hand")
			}
			// The supervisor's stderr is the container's: its own lines
			// go to --log only.
			log := g.logger
			if g.logFile == "" {
				log = slog.New(slog.DiscardHandler)
			}
			ws, err := ociruntime.Supervise(ociruntime.SuperviseOptions{
				Root: ociruntime.Root{Dir: g.root}, ID: args[0], Bundle: bundle, PidFile: pidFile,
				ConsoleSocket: consoleSocket, Ready: ready, Log: log,
				Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			})
			if err != nil {
				return exitError{1} // create reported it
			}
			g.logClose()
			ociruntime.ExitWith(ws)
			return nil
		},
	}
	cmd.Flags().StringVar(&bundle, "bundle", "", "")
	cmd.Flags().StringVar(&pidFile, "pid-file", "", "")
	cmd.Flags().StringVar(&consoleSocket, "console-socket", "", "")
	return cmd
}

// newExecProxyCmd is the hidden process of exec --detach: it holds the
// command's control connection (fd 3) and exits as the command did.
func newExecProxyCmd(g *globals) *cobra.Command {
	var buffered string
	cmd := &cobra.Command{
		Use: "exec-proxy", Hidden: true, Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			f := os.NewFile(3, "ctl")
			if f == nil {
				return errors.New("exec-proxy is started by exec, not by hand")
			}
			pending, err := base64.StdEncoding.DecodeString(buffered)
			if err != nil {
				return fmt.Errorf("exec-proxy --buffered: %w", err)
			}
			e, err := ociruntime.ExecFromFile(f, pending)
			if err != nil {
				return err
			}
			ws := e.Wait()
			g.logClose()
			ociruntime.ExitWith(ws)
			return nil
		},
	}
	// --buffered: the bytes exec read past its reply (base64).
	cmd.Flags().StringVar(&buffered, "buffered", "", "")
	return cmd
}

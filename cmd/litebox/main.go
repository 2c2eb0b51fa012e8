// Command litebox runs unmodified Linux x86-64 programs in a sandbox whose
// every system call is served by LiteBox-Go's own kernel.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/sandbox"
	"github.com/litebox-go/litebox/sandbox/hostpolicy"
)

// Exit codes of litebox's own failures, distinct from any guest status
// that is not itself one of these (as in shells and container runtimes).
const (
	exitInternal = 70  // a bug in litebox ended the sandbox (EX_SOFTWARE)
	exitUsage    = 125 // bad flags, bad mount, litebox could not start
	exitCannot   = 126 // the program exists but cannot be executed
	exitMissing  = 127 // the program does not exist in the sandbox
)

// usageError marks errors caused by how litebox was invoked.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		// Last line of defence on the main goroutine (every goroutine
		// serving a sandbox recovers on its own): a bug must not print a
		// stack trace at the user; it becomes one clear line.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "litebox: %v\n", (&sandbox.InternalError{Value: r}).Error())
			code = exitInternal
		}
	}()
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var exit *sandbox.ExitError
	var internal *sandbox.InternalError
	var bad unverified
	switch {
	case errors.As(err, &internal):
		// One line; the stack is in the audit log (kernel_error).
		fmt.Fprintf(stderr, "litebox: %v\n", internal)
	case errors.As(err, &exit):
		if exit.Reason != "" {
			fmt.Fprintf(stderr, "litebox: %s\n", exit.Reason)
		}
	case errors.As(err, &bad):
		fmt.Fprintf(stderr, "litebox: %v\n", err)
		return exitUnverified
	default:
		fmt.Fprintf(stderr, "litebox: %v\n", err)
	}
	return exitStatus(err)
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "litebox",
		Short: "Run unmodified Linux programs in a library-OS sandbox",
		Long: `litebox runs unmodified Linux x86-64 programs in a sandbox. Every system call
the program makes is trapped and served by LiteBox-Go's own kernel, written in
Go; the program never talks to the host kernel directly.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCmd(stdin, stdout, stderr))
	root.AddCommand(newPolicyCmd(stdout))
	root.AddCommand(newPullCmd(stdout, stderr))
	root.AddCommand(newImagesCmd(stdout))
	root.AddCommand(newManifestCmd(stdout, stderr))
	root.AddCommand(newRecordCmd(stdout))
	return root
}

func newRunCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var (
		mounts       []string
		envs         []string
		cwd          string
		platform     string
		logFlag      bool
		audit        string
		auditMax     string
		panicSyscall string
		tmpSize      string
		trace        string
		memory       string
		fsize        string
		tmpInodes    int64
		pids         int
		nofile       int
		cpuTime      time.Duration
		timeout      time.Duration
		noHostPolicy bool
		user         string
		ttyFlag      bool
		interactive  bool
		netMode      string
		allow        []string
		publish      []string
		dnsUpstream  string
		img          imageFlags
		verified     verifyFlags
		recordF      recordFlags
	)
	cmd := &cobra.Command{
		Use:   "run [flags] -- PROGRAM [ARGS...]\n  litebox run --image REF [flags] [-- PROGRAM [ARGS...]]",
		Short: "Run a program in a new sandbox",
		Long: `Run PROGRAM in a new sandbox and exit with its exit status (128+N if it is
killed by signal N).

The sandbox sees a read-only view of the host's /usr /bin /sbin /lib /lib64 and
/etc (without shadow files, ssh keys or sudoers), a fresh in-memory /tmp, its own
/dev and /proc, and the host directories added with --mount. PROGRAM is a path in
that view, or a name looked up in the guest's PATH.

With --image REF (or --rootfs PATH) the guest's root is the image instead and
nothing of the host is visible but the --mount directories: its layers are
read in place, stacked under a writable in-memory layer that is thrown away
when the sandbox ends (--read-only: none). /proc, /dev, /tmp and the name
files /etc/hosts, /etc/hostname, /etc/resolv.conf are litebox's. The image's
Entrypoint and Cmd run when no PROGRAM is given (PROGRAM ARGS replace Cmd);
its Env (then -e), WorkingDir (then --cwd) and User (then --user; names from
the image's /etc/passwd; none: root) apply. Every blob is checked against its
sha256 the first time it is read; compressed layers are decompressed once into
the store's cache (--store).

With --verify MANIFEST --trust PUBKEY, the kernel runs only what the signed
manifest lists: any program, ELF interpreter, #! script or interpreter, and any
file mapped executable (shared libraries, dlopen, Python C extensions) whose
SHA-256 is not the listed one is refused with EACCES and an exec_denied audit
event. Data and scripts' later reads are not checked; JIT code (anonymous
memory) is allowed unless --no-exec-anon, which also makes JITs fail. --record
FILE --record-key KEY writes a signed record of the run (litebox record verify).

litebox's own failures print one line starting with "litebox:" and exit with
70 (internal error: a bug in litebox ended the sandbox), 125 (bad usage or
configuration), 126 (PROGRAM cannot be executed) or 127 (PROGRAM not found).`,
		Example: `  litebox run -- /bin/echo hello
  litebox run --mount ./data:/data -- /usr/bin/sha256sum /data/input
  litebox run -e NAME=value --mount /srv/out:/out:rw -- /usr/bin/env
  litebox run --net egress --allow example.com:443 -- /usr/bin/curl https://example.com/
  litebox run --net egress --allow 127.0.0.1:8080 -- /usr/bin/curl http://10.0.2.2:8080/
  litebox run -p 8080:8000 -- /usr/bin/python3 -m http.server --bind 0.0.0.0 8000
  litebox run --net netns:/run/netns/c1 --mount ./www:/www -- /bin/busybox httpd -f -p 80 -h /www
  litebox run --image oci:./debian-layout:bookworm -- /usr/bin/python3 -c 'print(1)'
  litebox run --image docker-archive:app.tar -e DEBUG=1 -p 8080:8000
  litebox run --rootfs ./alpine-minirootfs.tar.gz --read-only -- /bin/sh -c 'cat /etc/os-release'
  litebox run --verify host.signed.json --trust key.pub --record run.json --record-key key.pem -- /usr/bin/python3 -c pass`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !img.any() {
				return usageError{errors.New("give a program to run: litebox run [flags] -- PROGRAM [ARGS...] (or --image REF)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := sandbox.Config{Platform: platform, LogUnsupported: logFlag, PanicOnSyscall: panicSyscall}
			// The manifest is checked first: nothing runs unless it verifies.
			vopts, err := verified.options(recordF.path != "")
			if err != nil {
				return usageError{err}
			}
			cfg.Verify = vopts
			rec, err := recordF.open()
			if err != nil {
				return usageError{err}
			}
			defer rec.abandon() // unless written: a run that never started has no record
			network, err := parseNetwork(netMode, allow, publish)
			if err != nil {
				return usageError{err}
			}
			network.DNSUpstream = dnsUpstream
			cfg.Network = network
			if logFlag {
				cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()}))
			}
			im, err := img.open(cfg.Log)
			if err != nil {
				return usageError{err}
			}
			if im != nil {
				defer im.Close() // after the sandbox's Close below: its root reads the layers
				if hint := exposedHint(im.Config); hint != "" && cfg.Log != nil {
					cfg.Log.Info(hint)
				}
			}
			if !noHostPolicy {
				opts := network.HostPolicy()
				cfg.Harden = func() error { return hostpolicy.InstallFor(opts) }
			}
			for _, spec := range mounts {
				m, err := sandbox.ParseMount(spec)
				if err != nil {
					return usageError{err}
				}
				cfg.Mounts = append(cfg.Mounts, m)
			}
			for _, sz := range []struct {
				flag, val string
				dst       func(int64)
			}{
				{"--tmpfs-size", tmpSize, func(n int64) { cfg.TmpSize = n }},
				{"--memory", memory, func(n int64) { cfg.Limits.Memory = uint64(n) }},
				{"--fsize", fsize, func(n int64) { cfg.Limits.FileSize = uint64(n) }},
				{"--audit-max-size", auditMax, func(n int64) { cfg.AuditMaxSize = n }},
			} {
				if sz.val == "0" || sz.val == "" {
					continue
				}
				n, err := parseSize(sz.val)
				if err != nil {
					return usageError{fmt.Errorf("%s: %w", sz.flag, err)}
				}
				sz.dst(n)
			}
			if tmpInodes < 0 {
				return usageError{fmt.Errorf("--tmpfs-inodes must not be negative")}
			}
			cfg.TmpInodes = tmpInodes
			if user != "" && im == nil {
				u, err := sandbox.ParseUser(user)
				if err != nil {
					return usageError{fmt.Errorf("--user: %w", err)}
				}
				cfg.User = &u
			}
			if pids < 0 || nofile < 3 || nofile > 1<<20 || cpuTime < 0 || timeout < 0 {
				return usageError{fmt.Errorf("limits must be positive (--nofile between 3 and %d)", 1<<20)}
			}
			cfg.Limits.Tasks, cfg.Limits.NoFile = pids, nofile
			cfg.Limits.CPUTime, cfg.Limits.Timeout = cpuTime, timeout
			if audit != "" {
				f, err := os.OpenFile(audit, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
				if err != nil {
					return usageError{fmt.Errorf("--audit: %w", err)}
				}
				defer f.Close()
				cfg.Audit = f
			}
			if trace != "" {
				f, err := os.OpenFile(trace, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
				if err != nil {
					return usageError{fmt.Errorf("--trace-syscalls: %w", err)}
				}
				defer f.Close()
				cfg.SyscallTrace = f
			}
			env, err := guestEnv(envs)
			if err != nil {
				return usageError{err}
			}
			dir := cwd
			if im != nil {
				if len(im.Layers) == 0 {
					return usageError{errors.New("the image has no layers")}
				}
				root := &sandbox.Root{Layers: im.Layers, ReadOnly: img.readOnly}
				p, err := plan(img.config(im), args, envs, cwd, user, root.ReadFile)
				if err != nil {
					return usageError{err}
				}
				args, env, dir, cfg.User, cfg.Root = p.args, p.env, p.dir, &p.user, root
			}
			_ = interactive // stdin is always the guest's: -i is Docker's spelling of that
			var term *hostTerminal
			if ttyFlag {
				if term, err = openHostTerminal(stdin); err != nil {
					return usageError{err}
				}
			}
			if rec != nil {
				ref := img.image
				if ref == "" {
					ref = img.rootfs
				}
				rec.configure(&cfg, args, im, ref, &verified, netMode, allow, publish)
			}
			sb, err := sandbox.New(cfg)
			if err != nil {
				return usageError{err}
			}
			if im != nil {
				sb.MakeWorkDir(dir)
			}
			c := sb.Command(args[0], args[1:]...)
			c.Env, c.Dir = env, dir
			c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
			restore := func() {}
			if term != nil {
				rows, cols := term.size()
				c.TTY = &sandbox.TTY{Rows: rows, Cols: cols}
				if err := term.makeRaw(); err != nil {
					return usageError{err}
				}
				// Every way out gives the terminal back: this return, a
				// panic unwinding through it, the signals' forced exit.
				restore = term.restore
				defer restore()
				defer term.forwardResize(c)()
			}
			stop := forwardSignals(c, restore)
			defer stop()
			// One command: the sandbox ends with it (Close tears the
			// platform down and writes the audit log's sandbox_exit).
			err = c.Run()
			if cerr := sb.Close(); err == nil {
				err = cerr
			}
			if verr := verified.wait(); verr != nil {
				// The first program's check waited for it and refused:
				// nothing of the guest ran.
				return usageError{verr}
			}
			if rec != nil {
				if rerr := rec.finish(sb, err); rerr != nil {
					if err == nil {
						return usageError{rerr}
					}
					fmt.Fprintf(stderr, "litebox: %v\n", rerr)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringArrayVar(&mounts, "mount", nil, "add a host directory: HOSTDIR:GUESTDIR[:ro|:rw] (read-only unless :rw)")
	f.StringArrayVarP(&envs, "env", "e", nil, "set a guest environment variable: KEY=VALUE, or KEY to copy the host's value")
	f.StringVar(&cwd, "cwd", "", "guest working directory (default /)")
	f.StringVar(&platform, "platform", "auto", platformHelp())
	f.StringVar(&user, "user", "", "run as the guest user `UID[:GID]` (default 1000:1000; with --image also NAME[:GROUP] of the image, default its User or root); 0 is root to litebox's kernel only, never to the host")
	img.add(f)
	verified.add(f)
	recordF.add(f)
	f.BoolVar(&logFlag, "log", false, "report unsupported syscalls and kernel diagnostics on stderr")
	f.StringVar(&audit, "audit", "", "append JSON-lines audit events to `FILE`")
	f.StringVar(&auditMax, "audit-max-size", "64M", "cap the --audit file's size; one audit_truncated event ends it (0: unlimited)")
	f.StringVar(&tmpSize, "tmpfs-size", "1G", "cap the bytes stored in /tmp, data and metadata (K, M, G suffixes; 0: unlimited)")
	f.Int64Var(&tmpInodes, "tmpfs-inodes", 0, "cap the files, directories and symlinks in /tmp (0: one per 4 KiB of --tmpfs-size)")
	f.StringVar(&memory, "memory", "4G", "cap the memory committed by all guest processes together, as Linux's commit accounting: writable private memory, shared memory, kernel objects; PROT_NONE and read-only reservations are free (0: unlimited)")
	f.StringVar(&fsize, "fsize", "4G", "largest file a guest may write (SIGXFSZ/EFBIG beyond; 0: unlimited)")
	f.IntVar(&pids, "pids", 512, "most processes and threads alive at once (fork gives EAGAIN beyond; 0: unlimited)")
	f.IntVar(&nofile, "nofile", 1024, "most open descriptors per process (EMFILE beyond)")
	f.DurationVar(&cpuTime, "cpu-time", 0, "CPU time for all guest processes and litebox's work for them: SIGXCPU, then SIGKILL 1s later (0: unlimited)")
	f.DurationVar(&timeout, "timeout", 0, "wall-clock limit for the whole run, e.g. 30s (0: none)")
	f.BoolVarP(&ttyFlag, "tty", "t", false, "give the program a terminal (a pty of the sandbox) over the host terminal, which must be stdin")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open (it always is; accepted for Docker's -it)")
	f.StringVar(&netMode, "net", "none", netHelp)
	f.StringArrayVar(&allow, "allow", nil, allowHelp)
	f.StringArrayVarP(&publish, "publish", "p", nil, publishHelp)
	f.BoolVar(&noHostPolicy, "no-host-seccomp", false, "do not confine litebox itself with its seccomp allowlist (debugging only)")
	// --trace-syscalls is a development aid, not part of the CLI contract:
	// `make syscalls-doc` has the integration tests append the syscalls each
	// guest used to a file per test, to learn which tests exercise which
	// syscalls. Hidden so that users do not come to depend on it.
	f.StringVar(&trace, "trace-syscalls", "", "append the names of the syscalls the guest used to `FILE`")
	// --test-panic-syscall is a test hook: the kernel panics, as a bug
	// would, when the guest issues the named syscall, so that the tests can
	// check how litebox ends a sandbox on an internal error. Only whoever
	// starts litebox can set it; the guest cannot.
	f.StringVar(&panicSyscall, "test-panic-syscall", "", "make the kernel panic on the named guest syscall (tests only)")
	// --test-dns-upstream is a test hook: litebox's DNS for the guest asks
	// this server (host:port, e.g. a test's server on 127.0.0.1) instead
	// of the host's resolv.conf servers, so that tests can serve names of
	// their own. Set by whoever starts litebox, never by the guest.
	f.StringVar(&dnsUpstream, "test-dns-upstream", "", "ask this DNS server `HOST:PORT` for the guest's names (tests only)")
	for _, name := range []string{"trace-syscalls", "test-panic-syscall", "test-dns-upstream"} {
		if err := f.MarkHidden(name); err != nil {
			panic(err) // only if the flag above were not defined
		}
	}
	return cmd
}

// forwardSignals gives the guest what a terminal would: Ctrl-C (SIGINT) and
// SIGQUIT go to the guest's foreground process group, and SIGTERM or SIGHUP
// to litebox end the whole sandbox with that signal.
func forwardSignals(c *sandbox.Cmd, restore func()) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				sig := s.(unix.Signal)
				switch sig {
				case unix.SIGINT, unix.SIGQUIT:
					c.Signal(sig)
				default:
					// If the sandbox does not end promptly (a kernel bug, a
					// deadlock), leave anyway: the stubs die with us (their
					// tracers or their pid namespace's holder go too). Armed
					// first, so that not even a Kill that blocks can stop it.
					time.AfterFunc(3*time.Second, func() { restore(); os.Exit(128 + int(sig)) })
					c.Kill(sig)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// logLevel is Info, or Debug (guest faults too) when LITEBOX_DEBUG is set.
func logLevel() slog.Level {
	if os.Getenv("LITEBOX_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

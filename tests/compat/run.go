package compat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// Python is the interpreter whose test package Debian's
// libpython3.11-testsuite fills; named by absolute path, the same natively
// and in the guest (a PATH lookup could find a host-only pyenv shim).
const Python = "/usr/bin/python3"

// TestsuiteMarker is a file only libpython3.11-testsuite installs: without
// it `python3 -m test` finds no test modules.
const TestsuiteMarker = "/usr/lib/python3.11/test/test_os.py"

// Modules are the regression-test modules issue 11 asks to match native.
var Modules = []string{
	"test_os", "test_posix", "test_shutil", "test_pathlib", "test_mmap",
	"test_signal", "test_subprocess", "test_pty", "test_io", "test_time",
	"test_fcntl", "test_resource", "test_tarfile", "test_eintr",
	"test_multiprocessing_fork", "test_concurrent_futures", "test_threading",
	"test_select", "test_poll", "test_tempfile",
}

// NetModules are the socket modules of issue 12 (AF_INET, AF_UNIX, epoll
// and the event loops on them), a set of their own (tools/compat -set net)
// so that the issue-11 table stays as it is. Their Internet cases skip
// natively and in the guest alike: no regrtest resource (-u network) is
// enabled.
var NetModules = []string{
	"test_socket", "test_asyncio", "test_epoll", "test_selectors", "test_socketserver",
}

// DefaultSet is the module set tools/compat runs unless told otherwise.
const DefaultSet = "issue11"

// ModuleSets are the module lists tools/compat runs by name (-set).
var ModuleSets = map[string][]string{
	DefaultSet: Modules,
	"net":      NetModules,
}

// ModuleTimeouts are regrtest --timeout values for modules that need more
// than Runner.Timeout: those that run for many minutes natively and longer
// in the sandbox, more so on a loaded machine (test_multiprocessing_fork
// took 4.6 minutes natively at a load of 10 on 2 cores). A run uses the
// larger of this and Runner.Timeout.
var ModuleTimeouts = map[string]time.Duration{
	"test_multiprocessing_fork": 40 * time.Minute,
	"test_concurrent_futures":   25 * time.Minute,
}

// ModuleSandboxFlags are `litebox run` flags a module needs on top of
// SandboxFlags (later flags win). test_multiprocessing_fork forks 100
// children of its multi-threaded regrtest process at once
// (WithProcessesTestProcess.test_many_processes). Its --memory 256G dates
// from when --memory charged virtual size (PROT_NONE reservations
// included: glibc reserves 64 MiB for each thread's malloc arena) and a
// fork the parent's whole mapped size; --memory now follows Linux's
// commit accounting (kernel/mm VMA.commits), under which 100 forks of a
// Python process with 8 threads fit in 4G, so the override can go once a
// full run of the module confirms it.
var ModuleSandboxFlags = map[string][]string{
	"test_multiprocessing_fork": {"--memory", "256G"},
}

// Platforms are litebox's platforms, each a column of the comparison.
var Platforms = []string{"systrap", "ptrace"}

// NativeConfig names the native run, the baseline of every comparison.
const NativeConfig = "native"

// guestOut is where the run directory is mounted in the guest.
const guestOut = "/compat"

// Runner runs regrtest modules natively and under litebox.
type Runner struct {
	Litebox string // the litebox binary
	OutDir  string // per-configuration logs and XML files go below it
	// Timeout is regrtest's --timeout for one module (faulthandler ends
	// the run and dumps the stacks), or ModuleTimeouts' if larger;
	// litebox's --timeout and the harness kill add a margin on top.
	Timeout time.Duration
	// NativeCred is the identity of native runs. The guest is an
	// unprivileged user (uid/gid 1000) whatever litebox runs as, so when
	// the harness runs as root the native baseline drops to the same ids;
	// otherwise every "needs root"/"skip if root" test would differ for a
	// reason that has nothing to do with litebox. Nil keeps the caller's.
	NativeCred *syscall.Credential
	// TraceTest names the guest runs for `make syscalls-doc` (see
	// harness.Guest.Test); "" for none.
	TraceTest string
}

// GuestUID and GuestGID are the ids the guest runs as (kernel.GuestUID).
const GuestUID, GuestGID = 1000, 1000

// DefaultNativeCred returns the guest's identity when running as root, nil
// otherwise.
func DefaultNativeCred() *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.Credential{Uid: GuestUID, Gid: GuestGID, Groups: []uint32{}}
}

// regrtestArgs are the arguments after the interpreter: verbose progress
// (the fallback when there is no XML), the XML file, the per-module
// timeout, one module, run in this process (no -j: the sandbox sees exactly
// one regrtest).
func (r *Runner) regrtestArgs(module, xmlPath string) []string {
	args := []string{"-m", "test", "-v", "--junit-xml", xmlPath,
		"--timeout", strconv.Itoa(int(r.timeout(module) / time.Second))}
	if res, ok := ModuleResources[module]; ok {
		args = append(args, "-u", res)
	}
	return append(args, module)
}

// ModuleResources are regrtest resources (-u) a module gets, natively and
// in the guest alike; every other module runs with none. test_socketserver
// asks for "network" at import though it talks only to localhost
// (socket_helper.HOST): without it the whole module skips and compares
// nothing.
var ModuleResources = map[string]string{
	"test_socketserver": "network",
}

// timeout is regrtest's --timeout for module.
func (r *Runner) timeout(module string) time.Duration {
	return max(r.Timeout, ModuleTimeouts[module])
}

// SandboxFlags are the `litebox run` flags every compat run gets, chosen
// so that the suite can run at all: the run directory writable (for the
// XML), more memory, descriptors and tasks than the defaults (the native
// run's soft RLIMIT_NOFILE, so that tests reading the limit agree), no
// file-size limit (as natively), a
// larger /tmp (regrtest's work directory and the tests' files live there)
// and a wall-clock limit a little above regrtest's own.
func (r *Runner) SandboxFlags(module, runDir string) []string {
	nofile := 1024
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur >= 3 && lim.Cur <= 1<<20 {
		nofile = int(lim.Cur)
	}
	return append([]string{
		"--mount", runDir + ":" + guestOut + ":rw",
		"--cwd", "/tmp",
		"--memory", "8G",
		"--tmpfs-size", "4G",
		"--pids", "4096",
		// Native RLIMIT_FSIZE is unlimited, and test_resource checks it;
		// test_mmap's large-file tests write past 4 GiB (sparse).
		"--fsize", "0",
		"--nofile", strconv.Itoa(nofile),
		"--timeout", (r.timeout(module) + time.Minute).String(),
	}, ModuleSandboxFlags[module]...)
}

// Run runs module in config (NativeConfig or a platform name).
func (r *Runner) Run(module, config string) (ModuleResult, error) {
	runDir := filepath.Join(r.OutDir, config)
	if err := os.MkdirAll(runDir, 0o777); err != nil {
		return ModuleResult{}, err
	}
	// World-writable: the native run may be an unprivileged user.
	if err := os.Chmod(runDir, 0o777); err != nil {
		return ModuleResult{}, err
	}
	xmlName := module + ".xml"
	os.Remove(filepath.Join(runDir, xmlName))
	cmd := harness.Cmd{
		Env:     harness.MinimalEnv(),
		Timeout: r.timeout(module) + 2*time.Minute,
	}
	if config == NativeConfig {
		work, err := os.MkdirTemp(runDir, module+"-cwd-")
		if err != nil {
			return ModuleResult{}, err
		}
		defer os.RemoveAll(work)
		if c := r.NativeCred; c != nil {
			if err := os.Chown(work, int(c.Uid), int(c.Gid)); err != nil {
				return ModuleResult{}, err
			}
		}
		cmd.Dir = work
		cmd.Cred = r.NativeCred
		cmd.Argv = append([]string{Python}, r.regrtestArgs(module, filepath.Join(runDir, xmlName))...)
	} else {
		g := harness.Guest{Flags: append(r.SandboxFlags(module, runDir), "--platform", config), Test: r.TraceTest}
		cmd.Dir = runDir
		cmd.Env = nil // litebox itself gets the host environment; the guest gets MinimalEnv
		cmd.Argv = g.Argv(r.Litebox, Python, r.regrtestArgs(module, guestOut+"/"+xmlName)...)
	}
	res := harness.Run(cmd)
	if res.Err != nil && !errors.Is(res.Err, harness.ErrTimeout) {
		return ModuleResult{}, fmt.Errorf("%s in %s: %w", module, config, res.Err)
	}
	out := append(append([]byte(nil), res.Stdout...), res.Stderr...)
	if err := os.WriteFile(filepath.Join(runDir, module+".log"), out, 0o644); err != nil {
		return ModuleResult{}, err
	}
	junit, _ := os.ReadFile(filepath.Join(runDir, xmlName)) // missing after a crash
	mr, err := Parse(module, out, junit, res.ExitCode)
	mr.Config = config
	mr.Seconds = res.Duration.Seconds()
	if res.Err != nil || (config != NativeConfig && res.ExitCode == 128+int(syscall.SIGKILL) && mr.Outcome == "crashed") {
		// Killed by the harness or by litebox's --timeout.
		mr.Outcome = "timeout"
	}
	return mr, err
}

// CommandLine is the command a config runs for module, for printing.
func (r *Runner) CommandLine(module, config string) []string {
	runDir := filepath.Join(r.OutDir, config)
	if config == NativeConfig {
		return append([]string{Python}, r.regrtestArgs(module, filepath.Join(runDir, module+".xml"))...)
	}
	g := harness.Guest{Flags: append(r.SandboxFlags(module, runDir), "--platform", config)}
	return g.Argv(r.Litebox, Python, r.regrtestArgs(module, guestOut+"/"+module+".xml")...)
}

// HaveTestsuite reports whether libpython3.11-testsuite is installed.
func HaveTestsuite() error {
	if _, err := os.Stat(TestsuiteMarker); err != nil {
		return fmt.Errorf("CPython's test modules are missing (apt-get install libpython3.11-testsuite): %w", err)
	}
	return nil
}

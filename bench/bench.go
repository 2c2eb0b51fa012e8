// Package bench measures what a sandbox costs compared with running the same
// program natively: the price of one trapped system call, of a
// fork+exec+wait and of a futex round trip between two threads, the
// start-up time of a static program and of python3, the throughput of the
// in-memory /tmp, a CPU-bound Python workload and, in net.go, TCP
// throughput, HTTP requests per second and TCP connection set-ups. Each
// measurement runs on a
// System: natively, under litebox on each of its platforms (ptrace,
// systrap), and under two peer sandboxes for comparison, gVisor (runsc, on
// its ptrace platform) and bubblewrap. The measurements are shared by the
// Go benchmarks (bench_test.go) and the Markdown/JSON/PNG report
// (cmd/report).
//
// Every measurement but the file throughput is a wall-clock time taken from
// outside the measured process, so native and sandboxed runs are timed the
// same way. Per-operation figures are the difference between a run doing n
// operations and a run doing none, divided by n, so that process start-up
// and exit cancel out. The file throughput has four phases in one process,
// which times each itself (CLOCK_MONOTONIC, read through the vDSO natively,
// bwrap, gVisor); the TCP throughput and the HTTP rate are what iperf3 and
// wrk report.
package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// GetppidIterations is the loop length of the per-syscall measurement:
// long enough that the loop, not process start-up, dominates the run.
const GetppidIterations = 100000

// ClockIterations is the loop length of the clock_gettime measurement
// (the C library's call, through the vDSO where there is one).
const ClockIterations = 200000

// ForkExecIterations is how many times bench_forkexec forks, execs
// /bin/true and waits for it in the per-process measurement.
const ForkExecIterations = 200

// FutexRoundTrips is how many ping-pong rounds the two threads of
// bench_futex play in the per-round-trip measurement.
const FutexRoundTrips = 20000

// FileIOMiB is the size of the file bench_fileio writes and reads back in
// the throughput measurement, in MiB.
const FileIOMiB = 256

// FileIOBlocks are the block sizes, in bytes, of the throughput measurement:
// each is one write phase and one read phase.
var FileIOBlocks = []int{4 << 10, 1 << 20}

// PythonPrimesLimit is the argument of the CPU-bound Python workload
// (PythonPrimesScript): counting the primes below it by trial division takes
// about one second natively on a current x86-64 core.
const PythonPrimesLimit = 600000

// PythonPath is the interpreter of the Python measurements. It is an
// absolute path the guest also sees (the host's /usr is visible read-only),
// and not whatever python3 comes first in PATH, which on a developer machine
// may be a shim (pyenv) the sandbox hides.
const PythonPath = "/usr/bin/python3"

// PythonPrimesScript is the CPU-bound Python workload, run with `python3 -c`
// after formatting in the limit: pure-Python loops and integer arithmetic,
// no I/O or system calls besides the final print of the count.
const PythonPrimesScript = `
def count_primes(limit):
    count = 0
    for i in range(2, limit):
        j = 2
        while j * j <= i:
            if i %% j == 0:
                break
            j += 1
        else:
            count += 1
    return count

print(count_primes(%d))
`

// programs are the testdata C programs the measurements run.
var programs = []string{"getppid_loop", "bench_true", "bench_forkexec", "bench_futex", "bench_fileio", "bench_clock", "bench_connect"}

// Names of the systems, in the order of Env.Systems.
const (
	Native         = "native"
	LiteboxPtrace  = "litebox-ptrace"
	LiteboxSystrap = "litebox-systrap"
	GVisor         = "gvisor"
	Bwrap          = "bwrap"
)

// NotInstalled is the Unavailable reason of a peer sandbox whose command is
// not in PATH.
const NotInstalled = "not installed"

// GVisorPlatform is the gVisor platform of the gvisor system. ptrace is the
// one that runs anywhere (no /dev/kvm, any kernel) and the closest to
// litebox's own ptrace platform.
const GVisorPlatform = "ptrace"

// gvisorFlagSets are the extra runsc flags tried in turn, the first that
// runs a program being kept: as root on a host with cgroups none are
// needed; without cgroup access --ignore-cgroups, and as a user --rootless.
var gvisorFlagSets = [][]string{
	nil,
	{"--ignore-cgroups"},
	{"--rootless"},
	{"--rootless", "--ignore-cgroups"},
}

type systemKind int

const (
	kindNative systemKind = iota
	kindLitebox
	kindPrefix // a command line the program and its arguments are appended to
)

// System is one way of running the benchmark programs: natively, under
// litebox on one platform, or under a peer sandbox.
type System struct {
	// Name is one of Native, LiteboxPtrace, LiteboxSystrap, GVisor, Bwrap.
	Name string
	// Command is the command line the program and its arguments are
	// appended to (the program as the system sees it: under /work for
	// litebox, the host path otherwise); empty natively.
	Command []string
	// Unavailable says why the system cannot run here: NotInstalled, or
	// "unavailable: REASON". Empty if it can.
	Unavailable string
	// Peer is set for the sandboxes other than litebox: they are there for
	// comparison, so the report does not fail when one of them does.
	Peer bool
	// TmpDir is the directory, as the program sees it, where bench_fileio
	// writes its file: the sandbox's own in-memory /tmp, or natively a
	// tmpfs directory of the host.
	TmpDir string
	// TmpNote describes TmpDir for the report.
	TmpNote string

	kind systemKind
}

// Env holds a freshly built litebox binary (LITEBOX_BIN selects an existing
// one instead), the guest programs and the systems they run on.
type Env struct {
	Litebox string
	// Systems are, in this order: native, litebox-ptrace, litebox-systrap,
	// gvisor, bwrap. The last three may be Unavailable.
	Systems []*System

	liteboxErr error
	programs   *harness.Programs
	variant    harness.Variant
	dir        string
	nativeTmp  string      // created by Setup, removed by Close
	net        netState    // the network rows' probes (net.go)
	img        imageState  // the image rows' fixture and store (image.go)
	eng        engineState // the engine row's runtime build and Podman store (engines.go)
	multi      multiState  // the density rows' multibox build (density.go)
	ver        verifyState // the verified-execution row's manifest (verify.go)
}

// Setup builds litebox and the benchmark programs into a temporary
// directory and finds out which systems run here (a probe run of
// bench_true on each). Call Close to remove the directory.
func Setup() (*Env, error) {
	root, err := harness.ModuleRoot()
	if err != nil {
		return nil, err
	}
	if err := harness.HaveGCC(); err != nil {
		return nil, fmt.Errorf("gcc is needed to build the benchmark programs: %w", err)
	}
	dir, err := os.MkdirTemp("", "litebox-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{dir: dir, programs: harness.NewPrograms(root, dir), variant: harness.Variants[0]}
	// A litebox that does not build fails only the sandboxed measurements.
	if bin := os.Getenv("LITEBOX_BIN"); bin != "" {
		e.Litebox = bin
	} else {
		e.Litebox, e.liteboxErr = harness.BuildLitebox(root, dir)
	}
	for _, p := range programs {
		if _, err := e.programs.Build(p, e.variant); err != nil {
			e.Close()
			return nil, err
		}
	}
	if err := e.setupSystems(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close removes the temporary directories.
func (e *Env) Close() {
	os.RemoveAll(e.dir)
	if e.nativeTmp != "" {
		os.RemoveAll(e.nativeTmp)
	}
}

// System returns the system called name, or nil.
func (e *Env) System(name string) *System {
	for _, s := range e.Systems {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// tmpfsMagic is statfs's f_type of a tmpfs (TMPFS_MAGIC).
const tmpfsMagic = 0x01021994

func isTmpfs(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == tmpfsMagic
}

// nativeTmpDir creates the directory of the native file throughput runs: in
// the host's temporary directory if it is a tmpfs, like the sandboxes' /tmp,
// or else in /dev/shm, so that no run measures a disk.
func nativeTmpDir() (dir, note string, err error) {
	base := os.TempDir()
	switch {
	case isTmpfs(base):
		note = base + " (tmpfs)"
	case isTmpfs("/dev/shm"):
		note = fmt.Sprintf("/dev/shm (tmpfs; %s is not one)", base)
		base = "/dev/shm"
	default:
		note = base + " (not a tmpfs: no tmpfs found)"
	}
	dir, err = os.MkdirTemp(base, "litebox-bench-io-")
	return dir, note, err
}

func (e *Env) setupSystems() error {
	tmp, note, err := nativeTmpDir()
	if err != nil {
		return err
	}
	e.nativeTmp = tmp
	e.Systems = []*System{{Name: Native, kind: kindNative, TmpDir: tmp, TmpNote: note}}

	for _, platform := range []string{"ptrace", "systrap"} {
		s := &System{
			Name: "litebox-" + platform,
			kind: kindLitebox,
			// The command as the report shows it; argv builds the real one.
			Command: harness.Guest{
				Mounts: []string{e.programs.Dir(e.variant) + ":/work"},
				Flags:  []string{"--platform", platform},
			}.Argv("litebox", ""),
			TmpDir:  "/tmp",
			TmpNote: "/tmp (litebox's in-memory file system)",
		}
		s.Command = s.Command[:len(s.Command)-1] // the empty program
		if e.liteboxErr != nil {
			s.Unavailable = "unavailable: " + firstLine(e.liteboxErr.Error(), maxReason)
		} else if err := e.probe(s); err != nil {
			s.Unavailable = "unavailable: " + firstLine(err.Error(), maxReason)
		}
		e.Systems = append(e.Systems, s)
	}

	gv := &System{Name: GVisor, Peer: true, kind: kindPrefix, TmpDir: "/tmp",
		TmpNote: "/tmp (in the root overlay of `runsc do`, whose upper layer is gVisor's in-memory tmpfs)"}
	gvisor := func(flags []string) []string {
		cmd := append([]string{"runsc"}, flags...)
		return append(cmd, "--network=none", "--platform="+GVisorPlatform, "do")
	}
	gv.Command = gvisor(nil)
	if _, err := exec.LookPath("runsc"); err != nil {
		gv.Unavailable = NotInstalled
	} else {
		var first error
		for _, flags := range gvisorFlagSets {
			gv.Command = gvisor(flags)
			err := e.probe(gv)
			if err == nil {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			// Report the plain command and why it failed.
			gv.Command = gvisor(nil)
			gv.Unavailable = "unavailable: " + firstLine(first.Error(), maxReason)
		}
	}
	e.Systems = append(e.Systems, gv)

	// --tmpfs /tmp hides the host's /tmp, where the programs are built:
	// bind their directory back, read-only, at the same path.
	progs := e.programs.Dir(e.variant)
	bw := &System{Name: Bwrap, Peer: true, kind: kindPrefix, TmpDir: "/tmp", TmpNote: "/tmp (bwrap --tmpfs)",
		Command: []string{"bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
			"--tmpfs", "/tmp", "--unshare-all", "--ro-bind", progs, progs, "--"}}
	if _, err := exec.LookPath("bwrap"); err != nil {
		bw.Unavailable = NotInstalled
	} else if err := e.probe(bw); err != nil {
		bw.Unavailable = "unavailable: " + firstLine(err.Error(), maxReason)
	}
	e.Systems = append(e.Systems, bw)
	return nil
}

// probeTimeout bounds a probe run: bench_true takes milliseconds, about
// 0.1 s in gVisor.
const probeTimeout = 20 * time.Second

// probe runs bench_true on s, trying a second time if the first run fails
// so that one hiccup does not take a whole column out of a report. Its
// error is the first run's, short: why the run could not start, or its exit
// code and the last line of its standard error.
func (e *Env) probe(s *System) error {
	path, err := e.programs.Build("bench_true", e.variant)
	if err != nil {
		return err
	}
	var first error
	for range 2 {
		res, err := e.run(s, probeTimeout, path, "/work/"+filepath.Base(path))
		switch {
		case err == nil:
			return nil
		case first != nil:
			// Keep the first run's error.
		case res.Err != nil:
			first = res.Err
		case res.ExitCode != 0:
			lines := strings.Split(strings.TrimSpace(string(res.Stderr)), "\n")
			first = fmt.Errorf("exit code %d: %s", res.ExitCode, lines[len(lines)-1])
		default:
			first = err
		}
	}
	return first
}

// maxReason bounds the length of an Unavailable reason.
const maxReason = 300

// firstLine returns the first non-empty line of msg, shortened to at most
// limit runes (and an ellipsis), with the characters that would break a
// Markdown table replaced.
func firstLine(msg string, limit int) string {
	line := ""
	for l := range strings.SplitSeq(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			line = l
			break
		}
	}
	line = strings.ReplaceAll(line, "|", "/")
	if r := []rune(line); len(r) > limit {
		line = string(r[:limit]) + "…"
	}
	return line
}

// argv returns the command line running a program on s: hostPath natively
// and in the peer sandboxes, which see the host's files (bwrap via its
// bind mounts, gVisor through its overlay), guestPath under litebox.
func (e *Env) argv(s *System, hostPath, guestPath string, args ...string) ([]string, error) {
	if s.Unavailable != "" {
		return nil, fmt.Errorf("%s is %s", s.Name, s.Unavailable)
	}
	switch s.kind {
	case kindNative:
		return append([]string{hostPath}, args...), nil
	case kindLitebox:
		if e.liteboxErr != nil {
			return nil, e.liteboxErr
		}
		argv := append([]string{e.Litebox}, s.Command[1:]...)
		argv = append(argv, guestPath)
		return append(argv, args...), nil
	default:
		argv := append(append([]string(nil), s.Command...), hostPath)
		return append(argv, args...), nil
	}
}

// run runs a program once on s in the guests' minimal environment, killing
// it after timeout (0: harness.DefaultTimeout). A non-zero exit is an
// error: a failing run must not be mistaken for a fast one.
func (e *Env) run(s *System, timeout time.Duration, hostPath, guestPath string, args ...string) (harness.Result, error) {
	argv, err := e.argv(s, hostPath, guestPath, args...)
	if err != nil {
		return harness.Result{}, err
	}
	res := harness.Run(harness.Cmd{Argv: argv, Env: harness.MinimalEnv(), Dir: os.TempDir(), Timeout: timeout})
	if res.Err != nil || res.ExitCode != 0 {
		return res, fmt.Errorf("%q failed:\n%s", argv, res)
	}
	return res, nil
}

// RunResult runs a benchmark program of testdata/ once on s and returns
// the result. litebox sees the programs under /work.
func (e *Env) RunResult(s *System, prog string, args ...string) (harness.Result, error) {
	path, err := e.programs.Build(prog, e.variant)
	if err != nil {
		return harness.Result{}, err
	}
	return e.run(s, 0, path, "/work/"+filepath.Base(path), args...)
}

// Run runs a benchmark program of testdata/ once on s and returns its
// wall-clock time.
func (e *Env) Run(s *System, prog string, args ...string) (time.Duration, error) {
	res, err := e.RunResult(s, prog, args...)
	return res.Duration, err
}

// RunHost runs a program of the host once on s and returns the result.
// path must be visible at the same place in every sandbox (for example
// under /usr).
func (e *Env) RunHost(s *System, path string, args ...string) (harness.Result, error) {
	return e.run(s, 0, path, path, args...)
}

// Sample is one measurement on one system: its value and the wall-clock
// times of the process runs it was computed from.
type Sample struct {
	Ns   float64         // the value: nanoseconds per operation, per run or per phase
	Runs []time.Duration // wall-clock time of each process run, in order
}

// perOperation measures the cost in nanoseconds of one operation of prog,
// which performs as many as its argument says: the difference between a
// run doing n of them and a run doing none, divided by n. Runs holds the
// full run, then the empty one.
func (e *Env) perOperation(s *System, prog string, n int) (Sample, error) {
	if n < 1 {
		return Sample{}, fmt.Errorf("%s: the number of operations must be positive, not %d", prog, n)
	}
	full, err := e.Run(s, prog, strconv.Itoa(n))
	if err != nil {
		return Sample{}, err
	}
	empty, err := e.Run(s, prog, "0")
	if err != nil {
		return Sample{}, err
	}
	return Sample{Ns: float64(full-empty) / float64(n), Runs: []time.Duration{full, empty}}, nil
}

// wholeRun turns the result of one run into a Sample of its wall-clock time.
func wholeRun(res harness.Result, err error) (Sample, error) {
	if err != nil {
		return Sample{}, err
	}
	return Sample{Ns: float64(res.Duration), Runs: []time.Duration{res.Duration}}, nil
}

// SyscallCost measures the cost in nanoseconds of one getppid system call
// on s, over a loop of n calls.
func (e *Env) SyscallCost(s *System, n int) (Sample, error) {
	return e.perOperation(s, "getppid_loop", n)
}

// ClockCost measures the cost in nanoseconds of one clock_gettime
// (CLOCK_MONOTONIC) of the C library on s, over n calls: a vDSO call where
// s gives the program a vDSO, a trapped syscall where it does not.
func (e *Env) ClockCost(s *System, n int) (Sample, error) {
	return e.perOperation(s, "bench_clock", n)
}

// ForkExecCost measures the cost in nanoseconds of one fork, execve of
// /bin/true (a dynamically linked program) and waitpid on s, over n of them
// in a static driver program.
func (e *Env) ForkExecCost(s *System, n int) (Sample, error) {
	return e.perOperation(s, "bench_forkexec", n)
}

// FutexRoundTrip measures the cost in nanoseconds of one round trip
// between two threads waking each other with FUTEX_WAKE and waiting with
// FUTEX_WAIT on s, over n round trips.
func (e *Env) FutexRoundTrip(s *System, n int) (Sample, error) {
	return e.perOperation(s, "bench_futex", n)
}

// Startup measures the wall-clock time of one run of bench_true, a static
// program that does nothing: exec, loading, the C runtime's start and exit.
func (e *Env) Startup(s *System) (Sample, error) {
	return wholeRun(e.RunResult(s, "bench_true"))
}

// PythonStartup measures the wall-clock time of one `python3 -c pass`: a
// dynamically linked interpreter loading its shared libraries and the
// modules of its start-up, then exiting.
func (e *Env) PythonStartup(s *System) (Sample, error) {
	return wholeRun(e.RunHost(s, PythonPath, "-c", "pass"))
}

// PythonPrimes measures the wall-clock time of one run of the CPU-bound
// Python workload with the given limit (including the interpreter's
// start-up), after checking that it printed the right count.
func (e *Env) PythonPrimes(s *System, limit int) (Sample, error) {
	res, err := e.RunHost(s, PythonPath, "-c", fmt.Sprintf(PythonPrimesScript, limit))
	if err != nil {
		return Sample{}, err
	}
	if got, want := string(bytes.TrimSpace(res.Stdout)), strconv.Itoa(countPrimes(limit)); got != want {
		return Sample{}, fmt.Errorf("the Python workload printed %q, want %s (primes below %d)", got, want, limit)
	}
	return wholeRun(res, nil)
}

// FileIOPhase is one phase of the file throughput measurement.
type FileIOPhase struct {
	Op    string // "write" or "read"
	Block int    // bytes per write or read call
	Ns    float64
}

// Name is the phase's short name, as in "write-4K" or "read-1M".
func (p FileIOPhase) Name() string {
	return p.Op + "-" + BlockName(p.Block)
}

// BlockName writes a block size as 4K or 1M.
func BlockName(block int) string {
	switch {
	case block >= 1<<20 && block%(1<<20) == 0:
		return fmt.Sprintf("%dM", block>>20)
	case block >= 1<<10 && block%(1<<10) == 0:
		return fmt.Sprintf("%dK", block>>10)
	default:
		return strconv.Itoa(block)
	}
}

// FileIO runs bench_fileio once on s: for each block size of blocks, it
// writes a file of mib MiB in s's TmpDir, reads it back and removes it.
// The phases come in the order write, read for each block size; the
// process times them itself. Run is the wall-clock time of the process.
func (e *Env) FileIO(s *System, mib int, blocks []int) (phases []FileIOPhase, run time.Duration, err error) {
	if mib < 1 || len(blocks) == 0 {
		return nil, 0, fmt.Errorf("bench_fileio: the size (%d MiB) must be positive and there must be block sizes", mib)
	}
	args := []string{filepath.Join(s.TmpDir, "bench_fileio.dat"), strconv.Itoa(mib)}
	for _, b := range blocks {
		args = append(args, strconv.Itoa(b))
	}
	res, err := e.RunResult(s, "bench_fileio", args...)
	if err != nil {
		return nil, 0, err
	}
	phases, err = parseFileIO(res.Stdout)
	if err == nil && len(phases) != 2*len(blocks) {
		err = fmt.Errorf("%d phases, want %d", len(phases), 2*len(blocks))
	}
	for i, p := range phases {
		if err == nil && (p.Block != blocks[i/2] || p.Op != [2]string{"write", "read"}[i%2]) {
			err = fmt.Errorf("phase %d is %s, want %s of %d-byte blocks", i, p.Name(), [2]string{"write", "read"}[i%2], blocks[i/2])
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("bench_fileio printed %s: %w", harness.Abbrev(res.Stdout), err)
	}
	return phases, res.Duration, nil
}

// parseFileIO parses the "OP BLOCK NANOSECONDS" lines of bench_fileio.
func parseFileIO(out []byte) ([]FileIOPhase, error) {
	var phases []FileIOPhase
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || (f[0] != "write" && f[0] != "read") {
			return nil, fmt.Errorf("unexpected line %q", sc.Text())
		}
		block, err1 := strconv.Atoi(f[1])
		ns, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || block <= 0 || ns <= 0 {
			return nil, fmt.Errorf("unexpected line %q", sc.Text())
		}
		phases = append(phases, FileIOPhase{Op: f[0], Block: block, Ns: float64(ns)})
	}
	return phases, sc.Err()
}

// countPrimes returns the number of primes below limit (sieve of
// Eratosthenes), what PythonPrimesScript prints.
func countPrimes(limit int) int {
	if limit < 3 {
		return 0
	}
	composite := make([]bool, limit)
	count := 0
	for i := 2; i < limit; i++ {
		if composite[i] {
			continue
		}
		count++
		for j := i * i; j < limit; j += i {
			composite[j] = true
		}
	}
	return count
}

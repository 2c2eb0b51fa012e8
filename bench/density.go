package bench

// The density rows (issue 15): N idle python3 interpreters at once, N in
// DensityCounts, started DensityInFlight at a time, on each system as
// separate processes (one sandbox, one `litebox run`, one `runsc do`, one
// bwrap per interpreter) and, for litebox-multi, all N sandboxes in one
// process through the embedding API (bench/cmd/multibox). Per system and N:
// the PSS of every process of every sandbox summed and divided by N (what
// one more idle sandbox costs the machine), and the start latency of each,
// from starting it to the guest printing "ready", as percentiles.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// LiteboxMulti is the density rows' column of one litebox process hosting
// every sandbox (multibox, on the systrap platform).
const LiteboxMulti = "litebox-multi"

// MultiPlatform is the platform of litebox-multi's sandboxes.
const MultiPlatform = "systrap"

// DensityCounts are the numbers of sandboxes of the density rows.
var DensityCounts = []int{1, 10, 50, 100}

// DensityInFlight is the most sandboxes starting at the same time: the next
// one starts when one of those is ready.
const DensityInFlight = 8

// DensityScript is the idle guest: it prints "ready" once python3 has
// started and blocks until its standard input closes.
const DensityScript = memoryScript

// densityReadyTimeout bounds one start (python3 under ptrace with eight
// others starting on two busy cores takes seconds).
const densityReadyTimeout = 2 * time.Minute

// Density is the density measurement of N sandboxes on one system.
type Density struct {
	N int `json:"n"`
	// PSS is the proportional set size of every process of every sandbox
	// (the supervisor — litebox, runsc, bwrap, multibox — and everything
	// under it: stubs, gofers, the guests' processes) summed and divided by
	// N, in bytes: what one more idle sandbox costs the machine.
	PSS float64 `json:"pss_bytes"`
	// SupervisorPSS is the part of PSS in the top process of each sandbox
	// (litebox's, runsc's, bwrap's; multibox's one for all; natively
	// python3 itself), divided by N.
	SupervisorPSS float64 `json:"supervisor_pss_bytes"`
	// MemfdBytes is the memory allocated to the memory files (memfds) the
	// processes hold open, each counted once, divided by N: a check on PSS,
	// which counts such pages only where some process maps them (litebox's
	// page cache and pool, gVisor's memory file are memfds).
	MemfdBytes float64 `json:"memfd_bytes"`
	// Processes is how many host processes the N sandboxes are.
	Processes int `json:"processes"`
	// StartsNs are the start latencies, in order of readiness: from
	// starting the sandbox (its process, or multibox's sandbox.New) to the
	// guest printing "ready", with DensityInFlight starts in flight.
	StartsNs []int64 `json:"starts_ns"`
	// StartP50Ns and StartP99Ns are percentiles of StartsNs (nearest rank).
	StartP50Ns int64 `json:"start_p50_ns"`
	StartP99Ns int64 `json:"start_p99_ns"`
	// WallNs is the time from the first start to the last ready.
	WallNs int64 `json:"wall_ns"`
}

// DensitySystems are the columns of the density rows: the systems of Env
// in their order with litebox-multi after litebox-systrap.
func (e *Env) DensitySystems() []string {
	var out []string
	for _, s := range e.Systems {
		out = append(out, s.Name)
		if s.Name == LiteboxSystrap {
			out = append(out, LiteboxMulti)
		}
	}
	return out
}

// DensityUnavailable says why the density rows cannot run on the system
// called name ("" if they can).
func (e *Env) DensityUnavailable(name string) string {
	if name == LiteboxMulti {
		name = "litebox-" + MultiPlatform
	}
	if s := e.System(name); s == nil {
		return "unavailable: unknown system"
	} else if s.Unavailable != "" {
		return s.Unavailable
	}
	if _, err := os.Stat(PythonPath); err != nil {
		return "unavailable: no " + PythonPath
	}
	return ""
}

// DensityMultiCommand is litebox-multi's command line for n sandboxes,
// for the report (multibox as it is built into the bench's directory).
func DensityMultiCommand(n int) []string {
	return []string{"multibox", "-n", strconv.Itoa(n), "-inflight", strconv.Itoa(DensityInFlight),
		"-platform", MultiPlatform, "--", PythonPath, "-c", DensityScript}
}

// multibox builds bench/cmd/multibox once into the bench's directory.
func (e *Env) multibox() (string, error) {
	e.multi.once.Do(func() {
		root, err := harness.ModuleRoot()
		if err != nil {
			e.multi.err = err
			return
		}
		bin := filepath.Join(e.dir, "multibox")
		build := exec.Command("go", "build", "-o", bin, "./bench/cmd/multibox")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			e.multi.err = fmt.Errorf("go build ./bench/cmd/multibox: %v\n%s", err, out)
			return
		}
		e.multi.bin = bin
	})
	return e.multi.bin, e.multi.err
}

type multiState struct {
	once sync.Once
	bin  string
	err  error
}

// running is one host process of the measurement (a sandbox, or multibox)
// kept alive until its standard input closes.
type running struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startProcess starts argv in a process group of its own with piped
// standard input and output.
func startProcess(argv []string) (*running, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = harness.MinimalEnv()
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = io.Discard
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &running{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}, nil
}

// stop closes every process's standard input, which ends the guests, and
// waits for them, killing a process group that has not ended in 30 s.
func stopAll(procs []*running) {
	for _, p := range procs {
		p.stdin.Close()
	}
	for _, p := range procs {
		done := make(chan struct{})
		go func() {
			io.Copy(io.Discard, p.out)
			p.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// readLine reads one line of p's output within timeout.
func readLine(p *running, timeout time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := p.out.ReadString('\n')
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-time.After(timeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		return "", fmt.Errorf("no output after %v", timeout)
	}
}

// MeasureDensity starts n idle python3 sandboxes on the system called name
// (one of DensitySystems), DensityInFlight at a time, and measures them
// once all are ready.
func (e *Env) MeasureDensity(name string, n int) (Density, error) {
	if n < 1 {
		return Density{}, fmt.Errorf("the number of sandboxes must be positive, not %d", n)
	}
	if why := e.DensityUnavailable(name); why != "" {
		return Density{}, fmt.Errorf("%s is %s", name, why)
	}
	var procs []*running
	defer func() { stopAll(procs) }()
	var multi string
	if name == LiteboxMulti {
		var err error
		if multi, err = e.multibox(); err != nil { // built before the clock starts
			return Density{}, err
		}
	}
	var starts []time.Duration
	t0 := time.Now()
	if name == LiteboxMulti {
		argv := DensityMultiCommand(n)
		argv[0] = multi
		p, err := startProcess(argv)
		if err != nil {
			return Density{}, err
		}
		procs = append(procs, p)
		var lines []string
		for {
			// Each line comes within one start's timeout of the one before.
			line, err := readLine(p, densityReadyTimeout)
			if err != nil {
				return Density{}, fmt.Errorf("multibox -n %d: %w (after %d lines)", n, err, len(lines))
			}
			lines = append(lines, line)
			if strings.HasPrefix(line, "ready ") {
				break
			}
		}
		if starts, err = parseMultibox(lines, n); err != nil {
			return Density{}, fmt.Errorf("multibox -n %d: %w", n, err)
		}
	} else {
		s := e.System(name)
		argv, err := e.argv(s, PythonPath, PythonPath, "-c", DensityScript)
		if err != nil {
			return Density{}, err
		}
		var mu sync.Mutex
		var first error
		sem := make(chan struct{}, DensityInFlight)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			sem <- struct{}{}
			mu.Lock()
			if first == nil {
				first = memoryGuard(i, n, name)
			}
			failed := first != nil
			mu.Unlock()
			if failed {
				<-sem
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				start := time.Now()
				p, err := startProcess(argv)
				if err == nil {
					mu.Lock()
					procs = append(procs, p)
					mu.Unlock()
					var line string
					line, err = readLine(p, densityReadyTimeout)
					if err == nil && line != "ready\n" {
						err = fmt.Errorf("printed %q, want \"ready\"", line)
					} else if errors.Is(err, io.EOF) {
						err = errors.New("ended without printing \"ready\"")
					}
				}
				d := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if first == nil {
						first = fmt.Errorf("sandbox %d of %d on %s: %w", i+1, n, name, err)
					}
					return
				}
				starts = append(starts, d)
			}()
		}
		wg.Wait()
		if first != nil {
			return Density{}, first
		}
	}
	d := Density{N: n, WallNs: time.Since(t0).Nanoseconds()}
	for _, s := range starts {
		d.StartsNs = append(d.StartsNs, s.Nanoseconds())
	}
	d.StartP50Ns = Percentile(d.StartsNs, 50)
	d.StartP99Ns = Percentile(d.StartsNs, 99)

	children := childrenMap()
	var total, top int64
	memfds := map[[2]uint64]int64{}
	for _, p := range procs {
		pid := p.cmd.Process.Pid
		for i, q := range descendants(children, pid) {
			heldMemfds(q, memfds)
			pss, err := pssOf(q)
			if err != nil {
				if i == 0 {
					return Density{}, fmt.Errorf("%s: %w", name, err)
				}
				continue // a process that just exited
			}
			total += pss
			if i == 0 {
				top += pss
			}
			d.Processes++
		}
	}
	for _, b := range memfds {
		d.MemfdBytes += float64(b) / float64(n)
	}
	d.PSS = float64(total) / float64(n)
	d.SupervisorPSS = float64(top) / float64(n)
	return d, nil
}

// heldMemfds adds the memfds process pid holds open to seen, by device
// and inode, with their allocated bytes. A process or descriptor that goes
// away meanwhile is skipped.
func heldMemfds(pid int, seen map[[2]uint64]int64) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range ents {
		path := filepath.Join(dir, ent.Name())
		target, err := os.Readlink(path)
		if err != nil || !strings.HasPrefix(target, "/memfd:") {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(path, &st) != nil {
			continue
		}
		seen[[2]uint64{st.Dev, st.Ino}] = st.Blocks * 512
	}
}

// minAvailable is the host memory (MemAvailable) below which the density
// rows start no more sandboxes: the machine is shared, and a system that
// needs more than that for N sandboxes is reported as unable to run N here.
const minAvailable = 2 << 30

// memoryGuard returns an error if starting sandbox i of n would take the
// host below minAvailable.
func memoryGuard(i, n int, name string) error {
	avail, err := kBField("/proc/meminfo", "MemAvailable:")
	if err != nil || avail >= minAvailable {
		return nil // no MemAvailable (an old kernel): no guard
	}
	return fmt.Errorf("unavailable: stopped before sandbox %d of %d on %s: the host has %d MiB available, under the %d MiB floor",
		i+1, n, name, avail>>20, minAvailable>>20)
}

// parseMultibox checks multibox's output for n sandboxes ("start INDEX NS"
// per sandbox, once each, then "ready N") and returns the start latencies
// in the order printed.
func parseMultibox(lines []string, n int) ([]time.Duration, error) {
	seen := make([]bool, n)
	var starts []time.Duration
	for i, line := range lines {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "ready":
			if i != len(lines)-1 {
				return nil, fmt.Errorf("line %q before the end", strings.TrimSpace(line))
			}
			if got, err := strconv.Atoi(f[1]); err != nil || got != n {
				return nil, fmt.Errorf("%q, want \"ready %d\"", strings.TrimSpace(line), n)
			}
		case len(f) == 3 && f[0] == "start":
			idx, err1 := strconv.Atoi(f[1])
			ns, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil || idx < 0 || idx >= n || ns <= 0 {
				return nil, fmt.Errorf("unexpected line %q", strings.TrimSpace(line))
			}
			if seen[idx] {
				return nil, fmt.Errorf("sandbox %d started twice", idx)
			}
			seen[idx] = true
			starts = append(starts, time.Duration(ns))
		default:
			return nil, fmt.Errorf("unexpected line %q", strings.TrimSpace(line))
		}
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "ready ") {
		return nil, errors.New("no \"ready\" line")
	}
	if len(starts) != n {
		return nil, fmt.Errorf("%d starts, want %d", len(starts), n)
	}
	return starts, nil
}

// Percentile returns the p-th percentile (0 < p <= 100) of vals by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it. It returns 0 for no values.
func Percentile(vals []int64, p float64) int64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
	"github.com/litebox-go/litebox/tests/imagefixture"
)

// The image rows (issue 13) run python3 from the Debian bookworm image of
// package imagefixture (mmdebstrap's minbase with python3, about 210 MB in
// a 80 MB gzip layer and three small ones; built once per machine into the
// test cache): under litebox with `--image oci:DIR:TAG`, natively chroot'ed
// into umoci's unpacking of the same image, under bwrap with that unpacking
// bound read-only as its root. gVisor's `runsc do` always runs the host's
// root, so it has no image column.

// ImageSandboxes is how many sandboxes the memory measurement runs at once
// on the one image.
const ImageSandboxes = 20

// imageState is the image fixture, built or found on first use, and the
// warm store litebox's image runs share.
type imageState struct {
	once   sync.Once
	debian *imagefixture.Debian
	err    error
	store  string          // the warm $LITEBOX_STORE
	warm   map[string]bool // systems that ran once with the warm store
	mu     sync.Mutex
}

// image returns the Debian fixture, building it into the test cache if
// needed (half a minute, once per machine).
func (e *Env) image() (*imagefixture.Debian, error) {
	e.img.once.Do(func() {
		e.img.debian, e.img.err = imagefixture.GetDebian(func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...)
		})
		e.img.store = filepath.Join(e.dir, "image-store")
		e.img.warm = map[string]bool{}
	})
	return e.img.debian, e.img.err
}

// ImageUnavailable says why s has no image column ("" if it has one).
func (e *Env) ImageUnavailable(s *System) string {
	switch {
	case s.Unavailable != "":
		return s.Unavailable
	case s.Name == GVisor:
		return "unavailable: runsc do runs the host's root, not an image"
	case os.Geteuid() != 0 && (s.kind == kindNative || s.Name == Bwrap):
		return "unavailable: the native image column chroots, which needs root"
	}
	return ""
}

// imageArgv returns the command line running argv in the Debian image on s
// with store as litebox's $LITEBOX_STORE, and the environment to run it
// with.
func (e *Env) imageArgv(s *System, store string, argv ...string) ([]string, []string, error) {
	d, err := e.image()
	if err != nil {
		return nil, nil, err
	}
	if why := e.ImageUnavailable(s); why != "" {
		return nil, nil, fmt.Errorf("%s is %s", s.Name, why)
	}
	env := harness.MinimalEnv()
	switch {
	case s.kind == kindNative:
		return append([]string{"chroot", d.Rootfs}, argv...), env, nil
	case s.kind == kindLitebox:
		if e.liteboxErr != nil {
			return nil, nil, e.liteboxErr
		}
		platform := strings.TrimPrefix(s.Name, "litebox-")
		full := []string{e.Litebox, "run", "--image", "oci:" + d.OCI + ":" + imagefixture.DebianTag, "--platform", platform, "--"}
		return append(full, argv...), append(env, "LITEBOX_STORE="+store), nil
	case s.Name == Bwrap:
		full := []string{"bwrap", "--ro-bind", d.Rootfs, "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-all", "--"}
		return append(full, argv...), env, nil
	}
	return nil, nil, fmt.Errorf("%s has no image column", s.Name)
}

// runImage runs argv once in the image on s; a failure is an error.
func (e *Env) runImage(s *System, store string, argv ...string) (harness.Result, error) {
	full, env, err := e.imageArgv(s, store, argv...)
	if err != nil {
		return harness.Result{}, err
	}
	res := harness.Run(harness.Cmd{Argv: full, Env: env, Dir: os.TempDir(), Timeout: 5 * time.Minute})
	if res.Err != nil || res.ExitCode != 0 {
		return res, fmt.Errorf("%q failed:\n%s", full, res)
	}
	return res, nil
}

// ImagePythonStartup measures one `python3 -c pass` from the image on s,
// with the layers already decompressed and indexed (a run with the warm
// store goes first, untimed, the first time s is measured): compare with
// PythonStartup, the same program from the host's view.
func (e *Env) ImagePythonStartup(s *System) (Sample, error) {
	if _, err := e.image(); err != nil {
		return Sample{}, err
	}
	e.img.mu.Lock()
	warm := e.img.warm[s.Name]
	e.img.warm[s.Name] = true
	e.img.mu.Unlock()
	if !warm {
		if _, err := e.runImage(s, e.img.store, "/usr/bin/python3", "-c", "pass"); err != nil {
			return Sample{}, err
		}
	}
	return wholeRun(e.runImage(s, e.img.store, "/usr/bin/python3", "-c", "pass"))
}

// ImageStarts measures the first start of the image on s with a fresh
// store (litebox checks the blobs' digests, decompresses the 80 MB gzip
// layer into its cache and indexes the 210 MB tar) and the second one,
// with everything cached; both run `python3 -c pass`. Natively and in
// bwrap, which run umoci's unpacking made once beforehand, both are an
// ordinary start: the ratios then show what the first start costs.
func (e *Env) ImageStarts(s *System) (first, second Sample, err error) {
	store, err := os.MkdirTemp(e.dir, "image-store-")
	if err != nil {
		return first, second, err
	}
	defer os.RemoveAll(store)
	if first, err = wholeRun(e.runImage(s, store, "/usr/bin/python3", "-c", "pass")); err != nil {
		return first, second, err
	}
	second, err = wholeRun(e.runImage(s, store, "/usr/bin/python3", "-c", "pass"))
	return first, second, err
}

// Memory is the memory measurement of ImageSandboxes sandboxes running at
// once on one image.
type Memory struct {
	Sandboxes int `json:"sandboxes"`
	// LiteboxRSS is the mean resident set of one litebox process (VmRSS),
	// in bytes; 0 natively.
	LiteboxRSS float64 `json:"litebox_rss_bytes"`
	// PSS is the proportional set size of one sandbox, all its processes
	// (litebox, the guest's host processes, python3) summed and the pages
	// they share with the others divided among them: what one more
	// sandbox costs the machine, in bytes.
	PSS float64 `json:"pss_bytes"`
}

// memoryReady is what the guest prints once python3 has started; it then
// waits for its standard input to close.
const memoryScript = `import sys; print("ready", flush=True); sys.stdin.read()`

// ImageMemory starts ImageSandboxes python3 interpreters from the image on
// s at once, waits until each has printed that it is ready, and measures
// the memory of each sandbox's process tree.
func (e *Env) ImageMemory(s *System) (Memory, error) {
	if _, err := e.image(); err != nil {
		return Memory{}, err
	}
	if s.kind == kindLitebox { // the layers decompressed and indexed
		if _, err := e.ImagePythonStartup(s); err != nil {
			return Memory{}, err
		}
	}
	type sandbox struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
	}
	var boxes []sandbox
	defer func() {
		for _, b := range boxes {
			b.stdin.Close()
		}
		for _, b := range boxes {
			done := make(chan struct{})
			go func() { b.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
	}()
	for range ImageSandboxes {
		argv, env, err := e.imageArgv(s, e.img.store, "/usr/bin/python3", "-c", memoryScript)
		if err != nil {
			return Memory{}, err
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Dir = os.TempDir()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return Memory{}, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return Memory{}, err
		}
		if err := cmd.Start(); err != nil {
			return Memory{}, err
		}
		boxes = append(boxes, sandbox{cmd, stdin})
		ready := make(chan error, 1)
		go func() {
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err == nil && line != "ready\n" {
				err = fmt.Errorf("printed %q", line)
			}
			ready <- err
			io.Copy(io.Discard, stdout)
		}()
		select {
		case err := <-ready:
			if err != nil {
				return Memory{}, fmt.Errorf("sandbox %d of %d on %s: %w", len(boxes), ImageSandboxes, s.Name, err)
			}
		case <-time.After(2 * time.Minute):
			return Memory{}, fmt.Errorf("sandbox %d of %d on %s: not ready after 2 minutes", len(boxes), ImageSandboxes, s.Name)
		}
	}
	m := Memory{Sandboxes: ImageSandboxes}
	children := childrenMap()
	for _, b := range boxes {
		pid := b.cmd.Process.Pid
		if s.kind == kindLitebox {
			rss, err := statusField(pid, "VmRSS:")
			if err != nil {
				return Memory{}, err
			}
			m.LiteboxRSS += float64(rss) / ImageSandboxes
		}
		for _, p := range descendants(children, pid) {
			pss, err := pssOf(p)
			if err != nil {
				continue // a process that just exited
			}
			m.PSS += float64(pss) / ImageSandboxes
		}
	}
	return m, nil
}

// childrenMap maps each process id to its children's, from /proc.
func childrenMap() map[int][]int {
	out := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses
		// and may contain anything.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		out[ppid] = append(out[ppid], pid)
	}
	return out
}

func descendants(children map[int][]int, pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statusField returns a "kB" field of /proc/PID/status in bytes.
func statusField(pid int, name string) (int64, error) {
	return kBField(fmt.Sprintf("/proc/%d/status", pid), name)
}

// pssOf returns the proportional set size of a process in bytes.
func pssOf(pid int) (int64, error) {
	return kBField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

func kBField(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, name)
}

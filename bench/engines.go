package bench

// The engine row (issue 14): `podman run --rm IMAGE true` with each OCI
// runtime, the image a busybox-static root imported by the bench into a
// Podman store of its own (vfs, under the bench's temp dir). The columns map
// to runtimes: native = crun (or runc) when it can run a container here,
// litebox-* = litebox-runtime with the dev.litebox.platform annotation,
// gvisor = runsc (network=none, ignore-cgroups: see EngineUnavailable),
// bwrap = not an OCI runtime.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

const engineImage = "localhost/litebox-bench:busybox"

type engineState struct {
	once    sync.Once
	err     error
	podman  []string // podman and its store flags
	runtime string   // litebox-runtime
	native  string   // crun or runc if one runs here
	nativeE string   // why neither does
}

func (e *Env) engines() error {
	st := &e.eng
	st.once.Do(func() { st.err = e.setupEngines() })
	return st.err
}

func (e *Env) setupEngines() error {
	st := &e.eng
	podman, err := exec.LookPath("podman")
	if err != nil {
		return fmt.Errorf("podman is not installed")
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	st.runtime = filepath.Join(e.dir, "litebox-runtime")
	build := exec.Command("go", "build", "-o", st.runtime, "./cmd/litebox-runtime")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/litebox-runtime: %v\n%s", err, out)
	}
	pm := filepath.Join(e.dir, "pm")
	st.podman = []string{podman, "--root", filepath.Join(pm, "root"), "--runroot", filepath.Join(pm, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(pm, "tmp")}
	// The image: busybox-static and its applet links.
	rootfs := filepath.Join(pm, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "proc", "dev", "sys"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is needed: %w", err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), bb, 0o755); err != nil {
		return err
	}
	for _, a := range []string{"sh", "true"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			return err
		}
	}
	tarball := filepath.Join(pm, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	if out, err := exec.Command(st.podman[0], append(st.podman[1:], "import", tarball, engineImage)...).CombinedOutput(); err != nil {
		return fmt.Errorf("podman import: %v: %s", err, out)
	}
	var why []string
	for _, rt := range []string{"crun", "runc"} {
		if _, err := exec.LookPath(rt); err != nil {
			why = append(why, rt+" is not installed")
			continue
		}
		res := e.podmanRun(rt, nil, nil)
		if res.Err == nil && res.ExitCode == 0 {
			st.native = rt
			break
		}
		why = append(why, rt+": "+firstLine(string(res.Stderr), 120))
	}
	st.nativeE = strings.Join(why, "; ")
	return nil
}

// podmanRun runs `podman --runtime rt GLOBAL... run --rm RUN... IMAGE true`.
func (e *Env) podmanRun(rt string, global, run []string) harness.Result {
	argv := append(append(append([]string{}, e.eng.podman...), "--runtime", rt), global...)
	argv = append(append(append(argv, "run", "--rm"), run...), engineImage, "true")
	return harness.Run(harness.Cmd{Argv: argv, Timeout: 2 * time.Minute})
}

// EngineUnavailable says why s has no column in the engine row.
func (e *Env) EngineUnavailable(s *System) string {
	if err := e.engines(); err != nil {
		return "unavailable: " + err.Error()
	}
	switch s.Name {
	case Native:
		if e.eng.native == "" {
			return "unavailable: no runc-like runtime runs a container under Podman here (" + e.eng.nativeE + ")"
		}
	case Bwrap:
		return "unavailable: bwrap is not an OCI runtime"
	case GVisor:
		if _, err := exec.LookPath("runsc"); err != nil {
			return NotInstalled
		}
	}
	return ""
}

// PodmanRunTrue measures one `podman run --rm IMAGE true` on s's runtime
// (whole run of the podman command: engine, conmon, runtime, container).
func (e *Env) PodmanRunTrue(s *System) (Sample, error) {
	if err := e.engines(); err != nil {
		return Sample{}, err
	}
	var res harness.Result
	switch s.Name {
	case Native:
		res = e.podmanRun(e.eng.native, nil, nil)
	case LiteboxPtrace, LiteboxSystrap:
		res = e.podmanRun(e.eng.runtime, nil, []string{"--annotation", "dev.litebox.platform=" + strings.TrimPrefix(s.Name, "litebox-")})
	case GVisor:
		// Debian's runsc refuses Podman's network namespace here ("cannot
		// run with network enabled in root network namespace", see
		// README.md) and this host's hybrid cgroups.
		res = e.podmanRun("runsc", []string{"--runtime-flag", "network=none", "--runtime-flag", "ignore-cgroups"}, nil)
	default:
		return Sample{}, fmt.Errorf("%s: no OCI runtime", s.Name)
	}
	if res.Err != nil || res.ExitCode != 0 {
		return Sample{}, fmt.Errorf("podman run on %s failed:\n%s", s.Name, res)
	}
	return Sample{Ns: float64(res.Duration), Runs: []time.Duration{res.Duration}}, nil
}

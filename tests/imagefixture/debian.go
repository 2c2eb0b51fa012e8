package imagefixture

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// debianVersion names the layout of the Debian fixture: change it when the
// build below changes, and every machine's cache rebuilds it once.
const debianVersion = "debian-bookworm-5"

// DebianTag is the tag of the Debian image in its OCI layout, and
// DebianArchiveRef its name inside the docker archive.
const (
	DebianTag        = "bookworm"
	DebianArchiveRef = "litebox-fixture/bookworm:latest"
)

// RootfsSourceEnv set to "host" skips mmdebstrap and builds the root file
// system from the host's files, the path taken when mmdebstrap fails
// (no network): a way to test that path.
const RootfsSourceEnv = "LITEBOX_TEST_ROOTFS"

// DebianMirror is the Debian mirror mmdebstrap downloads from.
const DebianMirror = "http://deb.debian.org/debian"

// Debian is the Debian-with-python3 fixture.
type Debian struct {
	Dir string
	// Source is "mmdebstrap" (a real Debian bookworm minbase with python3)
	// or "host" (busybox and the host's python3 with its libraries and
	// standard library: no dpkg).
	Source string
	// Steps is how long each build step took, in seconds, when it was built.
	Steps map[string]float64
	// RootfsTar is the root file system as one plain tar (mmdebstrap's
	// output), for --rootfs FILE.tar.
	RootfsTar string
	// OCI is an OCI image layout holding the image under DebianTag: the
	// root file system as one layer, then three small layers (umoci insert)
	// adding /opt/fixture, replacing /etc/issue and whiting out /etc/motd,
	// and a config with Cmd, Env and WorkingDir (umoci config).
	OCI string
	// DockerArchive is the same image as a docker archive (skopeo copy),
	// named DebianArchiveRef.
	DockerArchive string
	// Base is RootfsTar unpacked (tar -x as root): the native side of
	// --rootfs FILE.tar. Never write to it.
	Base string
	// Rootfs is umoci's unpacking of the OCI image: the native side's root
	// (chroot), and the --rootfs DIR of the guest. Never write to it.
	Rootfs string
	// HasDpkg says whether dpkg-query works in the image.
	HasDpkg bool
}

// Image config of the Debian fixture, as umoci config sets it.
var (
	DebianCmd        = []string{"/usr/bin/python3", "/opt/fixture/hello.py"}
	DebianWorkingDir = "/opt/fixture"
	DebianEnv        = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FIXTURE=debian"}
)

// DebianExposedPort is the image's one ExposedPorts entry (litebox shows it as
// a hint only).
const DebianExposedPort = "8080/tcp"

// DebianHelloPy is /opt/fixture/hello.py, the image's Cmd.
const DebianHelloPy = `import os, sys
print("hello from", os.environ.get("FIXTURE"), "in", os.getcwd())
print(sys.version_info[:2] >= (3, 0), len(sys.argv))
`

// DebianIssue replaces /etc/issue in the third layer.
const DebianIssue = "LiteBox fixture image\n"

// GetDebian returns the Debian fixture, building it first if the cache does
// not hold it (about half a minute with the network, less from the host's
// files). logf, if not nil, tells what it does.
func GetDebian(logf func(format string, args ...any)) (*Debian, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := HaveTools("umoci", "skopeo", "tar"); err != nil {
		return nil, err
	}
	dir, st, err := cached("debian", debianVersion, func(dir string, step func(string, time.Time)) (string, error) {
		return buildDebian(dir, step, logf)
	})
	if err != nil {
		return nil, err
	}
	d := &Debian{
		Dir: dir, Source: st.Source, Steps: st.Steps,
		RootfsTar:     filepath.Join(dir, "rootfs.tar"),
		OCI:           filepath.Join(dir, "oci"),
		DockerArchive: filepath.Join(dir, "docker.tar"),
		Rootfs:        filepath.Join(dir, "bundle", "rootfs"),
		Base:          filepath.Join(dir, "base"),
	}
	_, err = os.Stat(filepath.Join(d.Rootfs, "usr/bin/dpkg-query"))
	d.HasDpkg = err == nil
	return d, nil
}

func buildDebian(dir string, step func(string, time.Time), logf func(string, ...any)) (string, error) {
	tarPath := filepath.Join(dir, "rootfs.tar")
	source := "mmdebstrap"
	t := time.Now()
	var err error
	if os.Getenv(RootfsSourceEnv) == "host" {
		err = fmt.Errorf("%s=host", RootfsSourceEnv)
	} else if err = HaveTools("mmdebstrap"); err == nil {
		logf("imagefixture: mmdebstrap bookworm minbase + python3 from %s", DebianMirror)
		err = run(dir, "mmdebstrap", "--quiet", "--variant=minbase", "--include=python3", "--mode=root",
			"bookworm", tarPath, DebianMirror)
	}
	if err != nil {
		logf("imagefixture: mmdebstrap unavailable (%v); building the root from the host's files", firstLine(err))
		source = "host"
		os.Remove(tarPath)
		t = time.Now()
		if err := hostRootfsTar(dir, tarPath); err != nil {
			return "", fmt.Errorf("root file system from the host: %w", err)
		}
	}
	step("rootfs-"+source, t)

	// umoci insert takes a directory: unpack the tar (as root: owners,
	// modes, device nodes as they are).
	src := filepath.Join(dir, "base")
	t = time.Now()
	if err := os.Mkdir(src, 0o755); err != nil {
		return "", err
	}
	if err := run(dir, "tar", "-xpf", tarPath, "-C", src, "--numeric-owner"); err != nil {
		return "", err
	}
	extra := filepath.Join(dir, "extra")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(extra, "hello.py"), []byte(DebianHelloPy), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(extra, "data.txt"), []byte("fixture data\n"), 0o600); err != nil {
		return "", err
	}
	issue := filepath.Join(dir, "issue")
	if err := os.WriteFile(issue, []byte(DebianIssue), 0o644); err != nil {
		return "", err
	}
	step("extract", t)

	oci := filepath.Join(dir, "oci")
	ref := oci + ":" + DebianTag
	t = time.Now()
	cmds := [][]string{
		{"umoci", "init", "--layout", oci},
		{"umoci", "new", "--image", ref},
		{"umoci", "insert", "--no-history", "--image", ref, src, "/"},
	}
	for _, c := range cmds {
		if err := run(dir, c...); err != nil {
			return "", err
		}
	}
	step("umoci-base-layer", t)
	t = time.Now()
	cmds = [][]string{
		{"umoci", "insert", "--no-history", "--image", ref, extra, "/opt/fixture"},
		{"umoci", "insert", "--no-history", "--image", ref, issue, "/etc/issue"},
		{"umoci", "insert", "--no-history", "--image", ref, "--whiteout", "/etc/motd"},
	}
	cfg := []string{"umoci", "config", "--no-history", "--image", ref, "--config.workingdir", DebianWorkingDir, "--clear=config.env", "--clear=config.cmd", "--config.exposedports", DebianExposedPort}
	for _, e := range DebianEnv {
		cfg = append(cfg, "--config.env", e)
	}
	for _, c := range DebianCmd {
		cfg = append(cfg, "--config.cmd", c)
	}
	cmds = append(cmds, cfg, []string{"umoci", "gc", "--layout", oci})
	for _, c := range cmds {
		if err := run(dir, c...); err != nil {
			return "", err
		}
	}
	step("umoci-small-layers", t)

	t = time.Now()
	if err := run(dir, "umoci", "unpack", "--image", ref, filepath.Join(dir, "bundle")); err != nil {
		return "", err
	}
	step("umoci-unpack", t)
	t = time.Now()
	if err := run(dir, "skopeo", "copy", "--quiet", "oci:"+ref, "docker-archive:"+filepath.Join(dir, "docker.tar")+":"+DebianArchiveRef); err != nil {
		return "", err
	}
	step("skopeo-docker-archive", t)
	for _, p := range []string{extra, issue} {
		if err := os.RemoveAll(p); err != nil {
			return "", err
		}
	}
	return source, nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// hostRootfsTar writes a root file system made of the host's files to
// tarPath: busybox as /bin/sh and the usual tools, python3 with the shared
// libraries it and its extension modules load and its standard library
// (without the test suite and the GUI and packaging modules), a minimal
// /etc. Top-level symlinks (merged /usr) are kept as on the host.
func hostRootfsTar(dir, tarPath string) error {
	if err := HaveTools("busybox", "python3", "ldd", "cp"); err != nil {
		return err
	}
	src := filepath.Join(dir, "hostsrc")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(src)
	for _, top := range []string{"bin", "lib", "lib64", "sbin"} {
		if target, err := os.Readlink("/" + top); err == nil {
			if err := os.Symlink(target, filepath.Join(src, top)); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{"usr/bin", "usr/lib", "etc", "tmp", "root", "dev", "proc", "opt"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(src, "tmp"), 0o1777)
	python, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		return err
	}
	stdlib := filepath.Join("/usr/lib", filepath.Base(python)) // /usr/lib/python3.11
	paths := []string{"/bin/busybox", "/usr/bin/python3", python}
	var libs []string
	skip := map[string]bool{"test": true, "idlelib": true, "tkinter": true, "turtledemo": true, "ensurepip": true, "lib2to3": true, "site-packages": true, "dist-packages": true}
	err = filepath.WalkDir(stdlib, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skip[d.Name()] {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			paths = append(paths, p)
			if strings.HasSuffix(p, ".so") {
				libs = append(libs, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	deps, err := sharedLibs(append(libs, python))
	if err != nil {
		return err
	}
	paths = append(paths, deps...)
	for _, p := range paths {
		if err := copyWithLinks(p, src); err != nil {
			return err
		}
	}
	for _, applet := range []string{"sh", "ls", "cat", "find", "stat", "mv", "rm", "echo", "chmod", "ln", "mkdir",
		"touch", "sort", "wc", "readlink", "cp", "head", "tr", "sed", "test", "true", "printf", "rmdir", "id", "env", "grep"} {
		os.Symlink("busybox", filepath.Join(src, "usr/bin", applet))
	}
	files := map[string]string{
		"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"etc/group":      "root:x:0:\nnogroup:x:65534:\n",
		"etc/issue":      "host-built fixture\n",
		"etc/motd":       "motd\n",
		"etc/os-release": "PRETTY_NAME=\"litebox host-built fixture\"\nID=litebox-fixture\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return run(dir, "tar", "-cf", tarPath, "-C", src, "--numeric-owner", ".")
}

// sharedLibs returns the shared libraries (and the dynamic loader) that
// ldd lists for the given ELF files.
func sharedLibs(files []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		b, err := exec.Command("ldd", f).Output()
		if err != nil {
			continue // not dynamic, or ldd refuses it: nothing to add
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			for _, fl := range fields {
				if strings.HasPrefix(fl, "/") && !seen[fl] {
					seen[fl] = true
					out = append(out, fl)
				}
			}
		}
	}
	return out, nil
}

// copyWithLinks copies host path p into the tree at root, at the same path:
// each symlink on the way (of the file itself) is copied as a symlink and
// its target copied too, so that the copy resolves as on the host.
func copyWithLinks(p, root string) error {
	for range 16 {
		// Resolve the directories (merged /usr: /lib -> usr/lib), not the
		// file itself.
		parent, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return err
		}
		p = filepath.Join(parent, filepath.Base(p))
		dst := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if _, err := os.Lstat(dst); err == nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return run("", "cp", "-a", p, dst)
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return fmt.Errorf("%s: too many levels of symbolic links", p)
}

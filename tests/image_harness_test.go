package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
	"github.com/litebox-go/litebox/tests/imagefixture"
)

// The image tests (issue 13) run the same commands in an image twice:
// natively, chroot'ed into umoci's unpacking of the image (the reference:
// umoci applies the layers with their whiteouts independently of litebox),
// and under `litebox run --image REF` or `--rootfs PATH`. A native run that
// writes gets a fresh kernel overlayfs over the unpacked image (the upper
// directory in the test's temporary directory), so that the unpacked image
// is never modified and Linux's own overlay is the reference for copy-up,
// whiteouts of removed lower entries, inode numbers and rename.

// imageFixtures holds each fixture, built (or found in the cache) once per
// test binary.
var imageFixtures struct {
	debianOnce, layeredOnce sync.Once
	debian                  *imagefixture.Debian
	layered                 *imagefixture.Layered
	debianErr, layeredErr   error
}

// needImageTools skips (fails in CI) without root, chroot or the image
// tools.
func needImageTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "the image tests run the native side in a chroot and mount overlays: they need root")
	}
	if err := imagefixture.HaveTools("chroot", "umoci", "skopeo", "tar", "mount"); err != nil {
		skipOrFail(t, "%v", err)
	}
}

// debianImage returns the Debian fixture (see imagefixture.GetDebian).
func debianImage(t *testing.T) *imagefixture.Debian {
	t.Helper()
	needImageTools(t)
	imageFixtures.debianOnce.Do(func() {
		start := time.Now()
		imageFixtures.debian, imageFixtures.debianErr = imagefixture.GetDebian(func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, f+"\n", a...)
		})
		if d := time.Since(start); d > 2*time.Second {
			fmt.Fprintf(os.Stderr, "image tests: built the Debian fixture in %v\n", d.Round(time.Millisecond))
		}
	})
	if imageFixtures.debianErr != nil {
		t.Fatalf("Debian image fixture: %v", imageFixtures.debianErr)
	}
	return imageFixtures.debian
}

// layeredImage returns the hand-made layered fixture.
func layeredImage(t *testing.T) *imagefixture.Layered {
	t.Helper()
	needImageTools(t)
	needBusybox(t)
	imageFixtures.layeredOnce.Do(func() {
		imageFixtures.layered, imageFixtures.layeredErr = imagefixture.GetLayered()
	})
	if imageFixtures.layeredErr != nil {
		t.Fatalf("layered image fixture: %v", imageFixtures.layeredErr)
	}
	return imageFixtures.layered
}

// imageStore is the litebox image store and layer cache ($LITEBOX_STORE)
// the image tests share: in the test cache, so that the gzip layers are
// decompressed and the tar indexes built once per machine, not per run.
// The tests of the first start use a fresh one of their own.
func imageStore(t *testing.T) string {
	t.Helper()
	cache, err := imagefixture.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "store")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// imageRef is one way of naming an image to litebox.
type imageRef struct {
	name  string
	flags []string // --image REF or --rootfs PATH
	// config is set when the reference carries the image config (an OCI
	// layout, a docker archive), not for a bare root file system.
	config bool
	// workdir is the image's WorkingDir when the reference carries the
	// config: the native side then starts there too.
	workdir string
	// base is set for the Debian --rootfs FILE.tar, mmdebstrap's tar: the
	// base layer alone, without the fixture's small layers on top.
	base bool
}

func debianRefs(d *imagefixture.Debian) []imageRef {
	return []imageRef{
		{name: "oci", flags: []string{"--image", "oci:" + d.OCI + ":" + imagefixture.DebianTag}, config: true, workdir: imagefixture.DebianWorkingDir},
		{name: "docker-archive", flags: []string{"--image", "docker-archive:" + d.DockerArchive}, config: true, workdir: imagefixture.DebianWorkingDir},
		{name: "rootfs-dir", flags: []string{"--rootfs", d.Rootfs}},
		{name: "rootfs-tar", flags: []string{"--rootfs", d.RootfsTar}, base: true},
	}
}

func layeredRefs(l *imagefixture.Layered) []imageRef {
	return []imageRef{
		{name: "oci", flags: []string{"--image", "oci:" + l.OCI + ":" + imagefixture.LayeredTag}, config: true, workdir: imagefixture.LayeredConfig.WorkingDir},
		{name: "docker-archive", flags: []string{"--image", "docker-archive:" + l.DockerArchive + ":" + imagefixture.LayeredArchiveRef}, config: true, workdir: imagefixture.LayeredConfig.WorkingDir},
		{name: "rootfs-dir", flags: []string{"--rootfs", l.Rootfs}},
		{name: "rootfs-tar", flags: []string{"--rootfs", l.RootfsTar}},
		{name: "rootfs-tar-gz", flags: []string{"--rootfs", l.RootfsTarGz}},
	}
}

// imageTimeout bounds a guest run in an image: a first start decompresses
// and indexes a 200 MB image, and the full-tree listings run thousands of
// stat calls.
const imageTimeout = 3 * time.Minute

// runImage runs argv under `litebox run` with the image flags of ref, the
// further flags of g (Env, Cwd, Flags, Mounts) and store as $LITEBOX_STORE.
// An empty argv runs no command: the image's Entrypoint and Cmd.
func runImage(t *testing.T, store string, ref imageRef, g harness.Guest, stdin []byte, argv ...string) harness.Result {
	t.Helper()
	g.Test = t.Name()
	g.Flags = append(append([]string(nil), ref.flags...), g.Flags...)
	prog := ""
	if len(argv) > 0 {
		prog = argv[0]
		argv = argv[1:]
	}
	full := g.Argv(litebox(t), prog, argv...)
	if prog == "" {
		full = full[:len(full)-2] // no "--" and no program
	}
	res := harness.Run(harness.Cmd{
		Argv: full,
		// The last LITEBOX_STORE wins over one in the environment of the
		// test (os/exec keeps the last of duplicate keys).
		Env:     append(os.Environ(), hostOnlyVar+"=leaked", "LITEBOX_STORE="+store),
		Dir:     t.TempDir(),
		Stdin:   stdin,
		Timeout: imageTimeout,
	})
	if res.Err != nil {
		t.Fatalf("litebox %q: %v", full[1:], res.Err)
	}
	checkNoPanic(t, res)
	return res
}

// runChroot runs argv natively, chroot'ed into root, in cwd (inside the
// root; "" is /) with exactly env.
func runChroot(t *testing.T, root, cwd string, env []string, stdin []byte, argv ...string) harness.Result {
	t.Helper()
	full := []string{"chroot", root}
	if cwd != "" && cwd != "/" {
		full = append(full, "/bin/sh", "-c", `cd "$0" && exec "$@"`, cwd)
	}
	full = append(full, argv...)
	res := harness.Run(harness.Cmd{Argv: full, Env: env, Dir: t.TempDir(), Stdin: stdin, Timeout: imageTimeout})
	if res.Err != nil {
		t.Fatalf("native %q: %v", full, res.Err)
	}
	return res
}

// nativeRoot returns a root for the native side over the unpacked image
// lower: with writable, a fresh kernel overlay (index=on, so that a hard
// link stays one file when one of its names is copied up, as POSIX wants;
// without index Linux breaks the link); else lower itself, which the run
// must not write. With readOnly, the overlay is mounted read-only and a
// tmpfs over its /tmp stands for litebox's own /tmp. Everything is
// unmounted when the test ends.
func nativeRoot(t *testing.T, lower string, writable, readOnly bool) string {
	t.Helper()
	if !writable && !readOnly {
		return lower
	}
	dir := t.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=on", lower, upper, work)
	var flags uintptr
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("overlay", merged, "overlay", flags, opts); err != nil {
		skipOrFail(t, "mounting a kernel overlay for the native side: %v", err)
	}
	t.Cleanup(func() { unmountAll(t, merged) })
	if readOnly {
		if err := syscall.Mount("tmpfs", filepath.Join(merged, "tmp"), "tmpfs", 0, "mode=1777"); err != nil {
			t.Fatalf("tmpfs over the read-only native root's /tmp: %v", err)
		}
	}
	return merged
}

// unmountAll detaches merged and everything mounted below it.
func unmountAll(t *testing.T, merged string) {
	out, err := exec.Command("umount", "-R", "-l", merged).CombinedOutput()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("umount -R %s: %v: %s", merged, err, out)
	}
}

// imageEnv is the environment of both sides of the commands that are not
// about the image config: the guest gets it with -e (on top of whatever
// the image sets), the native side exactly. PYTHONDONTWRITEBYTECODE: the
// native runs that do not write use the unpacked image itself, where a
// python3 as root would otherwise leave .pyc files behind.
var imageEnv = []string{"PATH=/usr/bin:/bin", "HOME=/root", "LC_ALL=C", "PYTHONDONTWRITEBYTECODE=1"}

// imageCase is one command run natively in the image and in the guest.
type imageCase struct {
	name string
	argv []string
	// writes runs natively on a fresh overlay (the guest always has its
	// own fresh upper layer).
	writes bool
	// layers: the command depends on the fixture's layers above the base
	// (skipped on the Debian --rootfs FILE.tar, which is the base alone).
	layers bool
	// needsDpkg: skipped on a host-built root file system, which has no
	// dpkg.
	needsDpkg bool
	// filter, if set, is applied to stdout of both runs before comparing;
	// it must say why in a comment where it is defined.
	filter func(string) string
}

// compareImageCase runs c natively (in root, the unpacked image) and
// under litebox with ref, and compares exit code, stdout and stderr.
func compareImageCase(t *testing.T, store, root string, ref imageRef, c imageCase) {
	t.Helper()
	native := runChroot(t, nativeRoot(t, root, c.writes, false), ref.workdir, imageEnv, nil, c.argv...)
	guest := runImage(t, store, ref, harness.Guest{Env: imageEnv}, nil, c.argv...)
	if c.filter != nil {
		native.Stdout = []byte(c.filter(string(native.Stdout)))
		guest.Stdout = []byte(c.filter(string(guest.Stdout)))
	}
	if native.ExitCode != 0 && !c.writes {
		t.Logf("note: the native run exits %d: %s", native.ExitCode, harness.Abbrev(native.Stderr))
	}
	checkResult(t, guest, native, true)
}

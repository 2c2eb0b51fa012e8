package sandbox_test

import (
	"archive/tar"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/tarfs"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/sandbox"
	"github.com/litebox-go/litebox/tests/harness"
)

// entry is one file of an image layer: a directory (dir), a symlink
// (link), or a regular file with text (or the host file from). OCI
// whiteouts are plain files called .wh.NAME and .wh..wh..opq.
type entry struct {
	path       string
	dir        bool
	link, text string
	from       string
	hard       string // a hard link to this path of the same layer
	mode       uint32
}

// The image of the tests: busybox in the bottom layer, and a top layer
// that deletes, replaces and adds.
var (
	bottomLayer = []entry{
		{path: "bin", dir: true, mode: 0o755},
		{path: "bin/busybox", from: "/bin/busybox", mode: 0o755},
		{path: "bin/sh", link: "busybox"},
		{path: "bin/ls", link: "busybox"}, {path: "bin/cat", link: "busybox"}, {path: "bin/stat", link: "busybox"},
		{path: "bin/mv", link: "busybox"}, {path: "bin/rm", link: "busybox"}, {path: "bin/ln", link: "/bin/busybox"},
		{path: "bin/mkdir", link: "busybox"}, {path: "bin/touch", link: "busybox"}, {path: "bin/chmod", link: "busybox"},
		{path: "bin/mkfifo", link: "busybox"}, {path: "bin/grep", link: "busybox"}, {path: "bin/head", link: "busybox"},
		{path: "bin/wc", link: "busybox"},
		{path: "etc", dir: true, mode: 0o755},
		{path: "etc/passwd", text: "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n", mode: 0o644},
		{path: "etc/hostname", text: "image-hostname\n", mode: 0o644},
		{path: "etc/os-release", text: "ID=bottom\n", mode: 0o644},
		{path: "etc/motd", text: "bottom motd\n", mode: 0o644},
		{path: "usr/share/marker", text: "bottom marker\n", mode: 0o644},
		{path: "usr/share/doc/a", text: "doc a\n", mode: 0o644},
		{path: "usr/share/doc/b", text: "doc b\n", mode: 0o644},
		{path: "data/a", text: "data a\n", mode: 0o644},
		{path: "data/b", text: "data b\n", mode: 0o644},
		{path: "old", text: "old file\n", mode: 0o644},
		{path: "opaque/hidden", text: "hidden\n", mode: 0o644},
		{path: "run", dir: true, mode: 0o755},
	}
	topLayer = []entry{
		{path: ".wh.old"},
		{path: "etc/os-release", text: "ID=top\n", mode: 0o644},
		{path: "etc/.wh.motd"},
		{path: "usr/share/top", text: "top file\n", mode: 0o644},
		{path: "opaque/.wh..wh..opq"},
		{path: "opaque/shown", text: "shown\n", mode: 0o644},
	}
)

// memLayer makes a layer of entries as a memfs, whiteouts included.
func memLayer(t *testing.T, ents []entry) vfs.FileSystem {
	t.Helper()
	fs := memfs.New(0)
	v := vfs.New(fs)
	for _, e := range ents {
		p := "/" + e.path
		mkParents(t, v, filepath.Dir(p))
		switch {
		case e.dir:
			if _, err := v.Stat(p, false); err != nil {
				must(t, v.Mkdir(p, e.mode))
			}
		case e.link != "":
			must(t, v.Symlink(e.link, p))
		case e.hard != "":
			must(t, v.Link("/"+e.hard, p, false))
		default:
			text := []byte(e.text)
			if e.from != "" {
				var err error
				if text, err = os.ReadFile(e.from); err != nil {
					t.Skipf("the image needs %s: %v", e.from, err)
				}
			}
			f, err := v.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, e.mode)
			must(t, err)
			if _, err := f.Write(text); err != nil {
				t.Fatal(err)
			}
			f.DecRef()
			must(t, v.Chmod(p, e.mode, false))
		}
	}
	return fs
}

func mkParents(t *testing.T, v *vfs.VFS, dir string) {
	t.Helper()
	if dir == "/" {
		return
	}
	if _, err := v.Stat(dir, false); err == nil {
		return
	}
	mkParents(t, v, filepath.Dir(dir))
	must(t, v.Mkdir(dir, 0o755))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// unpack applies the layers (bottom first) to a host directory as an OCI
// runtime does: whiteouts remove what the layers below have, then the
// layer's files are written. This is the native side of the comparison,
// made without the overlay.
func unpack(t *testing.T, dir string, layers ...[]entry) {
	t.Helper()
	for _, l := range layers {
		for _, e := range l {
			base := filepath.Base(e.path)
			parent := filepath.Join(dir, filepath.Dir(e.path))
			switch {
			case base == ".wh..wh..opq":
				kids, _ := os.ReadDir(parent)
				for _, k := range kids {
					must(t, os.RemoveAll(filepath.Join(parent, k.Name())))
				}
			case strings.HasPrefix(base, ".wh."):
				must(t, os.RemoveAll(filepath.Join(parent, strings.TrimPrefix(base, ".wh."))))
			}
		}
		for _, e := range l {
			if strings.HasPrefix(filepath.Base(e.path), ".wh.") {
				continue
			}
			p := filepath.Join(dir, e.path)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			switch {
			case e.dir:
				must(t, os.MkdirAll(p, os.FileMode(e.mode)))
			case e.link != "":
				_ = os.Remove(p)
				must(t, os.Symlink(e.link, p))
			case e.hard != "":
				_ = os.Remove(p)
				must(t, os.Link(filepath.Join(dir, e.hard), p))
			default:
				text := []byte(e.text)
				if e.from != "" {
					var err error
					if text, err = os.ReadFile(e.from); err != nil {
						t.Skipf("the image needs %s: %v", e.from, err)
					}
				}
				must(t, os.WriteFile(p, text, os.FileMode(e.mode)))
				must(t, os.Chmod(p, os.FileMode(e.mode)))
			}
		}
	}
	// What litebox mounts over the image: its mount points are there.
	for _, d := range []string{"proc", "dev", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	must(t, os.Chmod(filepath.Join(dir, "tmp"), 0o1777))
	// And the name files it synthesizes (their content is compared
	// elsewhere).
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		if _, err := os.Stat(filepath.Join(dir, "etc")); err == nil {
			must(t, os.WriteFile(filepath.Join(dir, "etc", f), nil, 0o644))
		}
	}
	// The layers' files are the guest user's, as memfs makes them.
	must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 1000, 1000)
	}))
}

// runNative runs busybox sh -c script in a chroot of dir as 1000:1000
// (a read-only bind mount of it when ro).
func runNative(t *testing.T, dir, script string, ro bool) (string, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the native side needs root for chroot")
	}
	chroot := "exec env -i PATH=/bin HOME=/ /usr/sbin/chroot --userspec=1000:1000 " + dir + " /bin/busybox sh -c \"$0\""
	cmd := exec.Command("sh", "-c", chroot, script)
	if ro {
		cmd = exec.Command("unshare", "-m", "sh", "-c",
			"mount --bind "+dir+" "+dir+" && mount -o remount,bind,ro "+dir+" && mount -t tmpfs tmpfs "+dir+"/tmp && "+chroot, script)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("native run: %v\n%s", err, out)
	}
	return string(out), code
}

// runRoot runs busybox sh -c script in a sandbox whose root is the two
// layers.
func runRoot(t *testing.T, cfg sandbox.Config, script string) (string, int) {
	t.Helper()
	cfg.Platform = os.Getenv(harness.PlatformEnv)
	if cfg.User == nil {
		cfg.User = &sandbox.User{UID: 1000, GID: 1000}
	}
	s, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out lockedBuf
	c := s.Command("/bin/busybox", "sh", "-c", script)
	c.Env = []string{"PATH=/bin", "HOME=/"}
	c.Stdout, c.Stderr = &out, &out
	err = c.Run()
	code := 0
	if ee, ok := err.(*sandbox.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sandbox run: %v\n%s", err, out.String())
	}
	return out.String(), code
}

func imageRoot(t *testing.T, ro bool) *sandbox.Root {
	return &sandbox.Root{Layers: []vfs.FileSystem{memLayer(t, bottomLayer), memLayer(t, topLayer)}, ReadOnly: ro}
}

// The scripts compared: what the image shows, and what changes do to it.
const (
	rootReadScript = `ls /; ls -a /etc /usr/share /opaque /data; cat /etc/os-release /usr/share/top /usr/share/marker
test -e /old && echo old-present || echo old-gone
test -e /etc/motd && echo motd-present || echo motd-gone
test -e /usr/bin && echo usr-bin || echo no-usr-bin
test -e /lib && echo lib || echo no-lib
stat -c '%n %a %s %F %h' /etc/passwd /usr/share/doc /bin/sh /bin /data/a`
	rootWriteScript = `set -e
echo new > /data/new; echo more >> /usr/share/marker; cat /usr/share/marker
mv /usr/share/marker /data/moved; ls /usr/share /data
rm /data/b; ls /data; echo again > /data/b; cat /data/b
i1=$(stat -c %i /data/a); echo x >> /data/a; i2=$(stat -c %i /data/a); test "$i1" = "$i2" && echo same-ino
ln /data/a /data/a2; stat -c '%h' /data/a; test "$(stat -c %i /data/a2)" = "$i1" && echo link-same-ino
mkdir /data/dir; touch /data/dir/f; rm -r /data/dir; ls /data
rm -r /usr/share/doc; ls /usr/share; mkdir /usr/share/doc; ls -a /usr/share/doc
mv /usr/share /share2; ls /share2; test -e /usr/share && echo still || echo moved
chmod 600 /etc/os-release; stat -c '%a' /etc/os-release
echo written > /etc/newconf; cat /etc/newconf
mkfifo /run/fifo; stat -c %F /run/fifo
ls /`
	rootROScript = `touch /newfile; echo touch=$?; echo x >> /data/a; echo append=$?; rm /data/b; echo rm=$?
mkdir /d; echo mkdir=$?; chmod 600 /data/a; echo chmod=$?; cat /data/a; echo tmp > /tmp/t && cat /tmp/t`
)

func TestRootImageView(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		ro           bool
	}{
		{"read", rootReadScript, false},
		{"write", rootWriteScript, false},
		{"read-only", rootROScript, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			unpack(t, dir, bottomLayer, topLayer)
			want, wantCode := runNative(t, dir, tc.script, tc.ro)
			got, code := runRoot(t, sandbox.Config{Root: imageRoot(t, tc.ro)}, tc.script)
			if got != want || code != wantCode {
				t.Errorf("litebox (exit %d):\n%s\nnative (exit %d):\n%s", code, got, wantCode, want)
			}
		})
	}
}

// The name files are the sandbox's, over the image's, and the host's own
// directories are not there: only what the layers and the mounts hold.
func TestRootSynthesizedEtcAndMounts(t *testing.T) {
	host := t.TempDir()
	must(t, os.WriteFile(filepath.Join(host, "in"), []byte("from the host\n"), 0o644))
	cfg := sandbox.Config{Root: imageRoot(t, false), Hostname: "boxname",
		Mounts: []sandbox.Mount{{HostPath: host, GuestPath: "/mnt/host"}}}
	got, code := runRoot(t, cfg, `cat /etc/hostname; grep -c boxname /etc/hosts; test -s /etc/resolv.conf && echo resolv
cat /mnt/host/in; ls /; rm /etc/hostname; echo rm=$?; cat /etc/passwd | head -1`)
	want := "boxname\n1\nresolv\nfrom the host\nbin\ndata\ndev\netc\nmnt\nopaque\nproc\nrun\ntmp\nusr\n" +
		"rm: can't remove '/etc/hostname': Device or resource busy\nrm=1\nroot:x:0:0:root:/root:/bin/sh\n"
	if got != want || code != 0 {
		t.Errorf("got (exit %d):\n%s\nwant:\n%s", code, got, want)
	}
}

// An image without /etc still gets the name files.
func TestRootWithoutEtc(t *testing.T) {
	l := memLayer(t, []entry{{path: "bin/busybox", from: "/bin/busybox", mode: 0o755}})
	got, code := runRoot(t, sandbox.Config{Root: &sandbox.Root{Layers: []vfs.FileSystem{l}, ReadOnly: true},
		Hostname: "bare"}, `cat /etc/hostname; ls /etc`)
	if got != "bare\nhostname\nhosts\nresolv.conf\n" || code != 0 {
		t.Errorf("got (exit %d):\n%s", code, got)
	}
}

// The writable layer shares /tmp's limits: copying a file up into a full
// one is ENOSPC for the guest, never more.
func TestRootUpperLimit(t *testing.T) {
	big := strings.Repeat("z", 1<<20)
	l := memLayer(t, []entry{{path: "bin/busybox", from: "/bin/busybox", mode: 0o755},
		{path: "big", text: big, mode: 0o644}})
	got, code := runRoot(t, sandbox.Config{Root: &sandbox.Root{Layers: []vfs.FileSystem{l}}, TmpSize: 512 << 10},
		`echo x >> /big; echo append=$?; wc -c < /big`)
	want := "sh: can't create /big: No space left on device\nappend=1\n1048576\n"
	if got != want || code != 0 {
		t.Errorf("got (exit %d):\n%s\nwant:\n%s", code, got, want)
	}
}

// What litebox reads of the image itself (the image helper's --user names).
func TestRootReadFile(t *testing.T) {
	r := imageRoot(t, false)
	b, err := r.ReadFile("/etc/os-release")
	if err != nil || string(b) != "ID=top\n" {
		t.Errorf("os-release: %q %v", b, err)
	}
	if _, err := r.ReadFile("/etc/motd"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("a whited-out file: %v", err)
	}
	if b, err := r.ReadFile("/bin/sh"); err != nil || len(b) < 1000 {
		t.Errorf("through a link: %d bytes, %v", len(b), err)
	}
}

// A real image's / is root's 0755: litebox still makes its mount points
// there (as the image's root), and the guest user cannot write there.
func TestRootOwnedImage(t *testing.T) {
	l := memLayer(t, []entry{{path: "bin/busybox", from: "/bin/busybox", mode: 0o755}})
	v := vfs.New(l)
	must(t, v.Chmod("/", 0o755, false))
	root, err := l.Root().Lookup("bin")
	must(t, err)
	for _, n := range []vfs.Node{l.Root(), root} {
		must(t, n.(vfs.Chowner).Chown(0, 0))
	}
	got, code := runRoot(t, sandbox.Config{Root: &sandbox.Root{Layers: []vfs.FileSystem{l}},
		Mounts: []sandbox.Mount{{HostPath: t.TempDir(), GuestPath: "/srv/data"}}},
		`ls /; stat -c '%u %a' / /bin; touch /x; echo touch=$?; touch /tmp/x && echo tmp-ok`)
	want := "bin\ndev\netc\nproc\nsrv\ntmp\n0 755\n0 755\ntouch: /x: Permission denied\ntouch=1\ntmp-ok\n"
	if got != want || code != 0 {
		t.Errorf("got (exit %d):\n%s\nwant:\n%s", code, got, want)
	}
}

// testdata/overlay.c changes an image's files through the syscalls a
// program uses (copy-up by write, O_TRUNC, chmod, utimensat, a shared
// mapping, fallocate, unlink/rmdir and making the names again, renames
// and hard links, a socket and a FIFO in an image directory): the same
// output in litebox on layers as natively in a chroot of them unpacked.
func TestRootOverlayProgram(t *testing.T) {
	_, prog := guestProgram(t, "overlay")
	bottom := []entry{
		{path: "bin/overlay", from: prog, mode: 0o755},
		{path: "img/file", text: "lower file\n", mode: 0o644},
		{path: "img/link", hard: "img/file"},
		{path: "img/dir/a", text: "a\n", mode: 0o644},
		{path: "run", dir: true, mode: 0o755},
	}
	top := []entry{
		{path: "img/dir/b", text: "b\n", mode: 0o644},
		{path: "img/gone", text: "gone\n", mode: 0o644},
	}
	dir := t.TempDir()
	unpack(t, dir, bottom, top)
	if os.Geteuid() != 0 {
		t.Skip("the native side needs root for chroot")
	}
	out, err := exec.Command("/usr/sbin/chroot", dir, "/bin/overlay").CombinedOutput()
	if err != nil {
		t.Fatalf("native run: %v\n%s", err, out)
	}
	r := &sandbox.Root{Layers: []vfs.FileSystem{memLayer(t, bottom), memLayer(t, top)}}
	s, err := sandbox.New(sandbox.Config{Platform: os.Getenv(harness.PlatformEnv), Root: r})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got lockedBuf
	c := s.Command("/bin/overlay")
	c.Stdout, c.Stderr = &got, &got
	if err := c.Run(); err != nil {
		t.Fatalf("litebox: %v\n%s", err, got.String())
	}
	if got.String() != string(out) {
		t.Errorf("litebox:\n%s\nnative:\n%s", got.String(), out)
	}
}

// tarLayer makes a layer of entries as a tar read in place by tarfs (the
// form an image's layers have), whiteouts included, owned by 1000:1000
// as memfs makes them.
func tarLayer(t *testing.T, ents []entry) vfs.FileSystem {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.Create(path)
	must(t, err)
	tw := tar.NewWriter(f)
	// The root as memfs makes it (a tar without "./" implies root's).
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, Uid: 1000, Gid: 1000}))
	seen := map[string]bool{}
	var parents func(p string)
	parents = func(p string) {
		if p == "." || seen[p] {
			return
		}
		parents(filepath.Dir(p))
		seen[p] = true
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755, Uid: 1000, Gid: 1000}))
	}
	for _, e := range ents {
		parents(filepath.Dir(e.path))
		h := &tar.Header{Name: e.path, Mode: int64(e.mode), Uid: 1000, Gid: 1000}
		var body []byte
		switch {
		case e.dir:
			if seen[e.path] {
				continue
			}
			seen[e.path] = true
			h.Typeflag, h.Name = tar.TypeDir, e.path+"/"
		case e.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.link, 0o777
		case e.hard != "":
			h.Typeflag, h.Linkname = tar.TypeLink, e.hard
		default:
			body = []byte(e.text)
			if e.from != "" {
				if body, err = os.ReadFile(e.from); err != nil {
					t.Skipf("the image needs %s: %v", e.from, err)
				}
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(body))
		}
		must(t, tw.WriteHeader(h))
		_, err := tw.Write(body)
		must(t, err)
	}
	must(t, tw.Close())
	must(t, f.Close())
	l, err := tarfs.Open(path, tarfs.Options{})
	must(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// The same scripts on tar layers, as images have them.
func TestRootTarLayers(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"read", rootReadScript}, {"write", rootWriteScript},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			unpack(t, dir, bottomLayer, topLayer)
			want, wantCode := runNative(t, dir, tc.script, false)
			r := &sandbox.Root{Layers: []vfs.FileSystem{tarLayer(t, bottomLayer), tarLayer(t, topLayer)}}
			got, code := runRoot(t, sandbox.Config{Root: r}, tc.script)
			if got != want || code != wantCode {
				t.Errorf("litebox (exit %d):\n%s\nnative (exit %d):\n%s", code, got, wantCode, want)
			}
		})
	}
}

package overlay

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/tarfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// tarLayer makes a tarfs layer of headers (a file's Linkname is its
// content, to keep the tables short).
func tarLayer(t testing.TB, hdrs ...tar.Header) vfs.FileSystem {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h := h
		var body []byte
		if h.Typeflag == tar.TypeReg {
			body = []byte(h.Linkname)
			h.Linkname, h.Size = "", int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		h.Format = tar.FormatPAX
		must(t, "header "+h.Name, tw.WriteHeader(&h))
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	must(t, "close tar", tw.Close())
	fs, err := tarfs.New(bytes.NewReader(buf.Bytes()), int64(buf.Len()), tarfs.Options{})
	must(t, "tarfs", err)
	return fs
}

func reg(name, content string) tar.Header {
	return tar.Header{Typeflag: tar.TypeReg, Name: name, Linkname: content}
}

func dir(name string) tar.Header { return tar.Header{Typeflag: tar.TypeDir, Name: name} }

func TestTarLayers(t *testing.T) {
	bottom := tarLayer(t,
		dir("etc/"), reg("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), reg("etc/motd", "hello\n"),
		tar.Header{Typeflag: tar.TypeReg, Name: "usr/bin/tool", Linkname: "#!tool", Mode: 0o4755, Uid: 0, Gid: 0,
			PAXRecords: map[string]string{"SCHILY.xattr.user.tag": "v1", "SCHILY.xattr.trusted.overlay.opaque": "y"}},
		tar.Header{Typeflag: tar.TypeLink, Name: "usr/bin/tool2", Linkname: "usr/bin/tool"},
		tar.Header{Typeflag: tar.TypeSymlink, Name: "bin", Linkname: "usr/bin"},
		tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo"},
		tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Devmajor: 1, Devminor: 3},
		reg("var/lib/a", "a"), reg("var/lib/b", "b"),
	)
	top := tarLayer(t,
		reg("etc/.wh.motd", ""), reg("var/lib/.wh..wh..opq", ""), reg("var/lib/c", "c"),
		reg("etc/hostname", "image\n"),
	)
	_, v := stack(t, Options{}, top, bottom)
	v.SetCred(cred.New(0, 0, nil)) // the image's files are root's
	wantList(t, v, "/", "bin", "dev", "etc", "run", "usr", "var")
	wantList(t, v, "/etc", "hostname", "passwd")
	wantList(t, v, "/var/lib", "c")
	if got := mustRead(t, v, "/bin/tool"); got != "#!tool" {
		t.Errorf("through the link: %q", got)
	}
	a, _ := v.Stat("/usr/bin/tool", false)
	b, _ := v.Stat("/usr/bin/tool2", false)
	if a.Ino != b.Ino || a.Nlink != 2 || a.Mode != unix.S_IFREG|0o4755 || a.Uid != 0 {
		t.Errorf("hard links in the tar: %+v %+v", a, b)
	}
	// The tar's own trusted.overlay.* attributes are not the overlay's.
	res, err := v.XattrAt(vfs.Loc{}, "/usr/bin/tool", false, vfs.XattrOp{Kind: vfs.XattrList})
	if err != nil || strings.Join(res.Names, ",") != "user.tag" {
		t.Errorf("xattrs %q %v", res.Names, err)
	}

	// Copy-up of a linked file: both names follow, set-user-ID survives
	// (the copy is the image's, not a write of the guest), the
	// attribute is copied.
	f, err := v.Open("/usr/bin/tool", unix.O_RDWR, 0)
	must(t, "open rw", err)
	f.DecRef()
	a2, _ := v.Stat("/usr/bin/tool", false)
	if a2.Ino != a.Ino || a2.Mode != a.Mode || a2.Mtime != a.Mtime || a2.Uid != 0 {
		t.Errorf("after copy-up %+v, before %+v", a2, a)
	}
	writeFile(t, v, "/usr/bin/tool", "new")
	if got := mustRead(t, v, "/usr/bin/tool2"); got != "new" {
		t.Errorf("other link: %q", got)
	}
	res, _ = v.XattrAt(vfs.Loc{}, "/usr/bin/tool", false, vfs.XattrOp{Kind: vfs.XattrGet, Name: "user.tag"})
	if string(res.Value) != "v1" {
		t.Errorf("xattr after copy-up: %q", res.Value)
	}

	// The tar's FIFO works once opened (its pipe is the upper's); the
	// device is shown, never opened.
	p, err := v.Open("/run/fifo", unix.O_RDWR, 0)
	must(t, "open fifo", err)
	p.DecRef()
	st, _ := v.Stat("/dev/null", false)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device: %+v", st)
	}
	_, err = v.Open("/dev/null", unix.O_RDONLY, 0)
	wantErrno(t, "open device", err, unix.ENXIO)
	wantErrno(t, "chmod device", v.Chmod("/dev/null", 0o600, false), unix.EPERM)

	// Deleting across layers, and the layer's whiteouts stay hidden.
	must(t, "unlink", v.Unlink("/etc/passwd"))
	must(t, "unlink", v.Unlink("/var/lib/c"))
	must(t, "rmdir", v.Rmdir("/var/lib"))
	wantList(t, v, "/var")
	wantList(t, v, "/etc", "hostname")
}

// The upper's usage is what the guest changed: a copy-up of one file of a
// large image costs about that file.
func TestCopyUpCharges(t *testing.T) {
	var hdrs []tar.Header
	for i := range 100 {
		hdrs = append(hdrs, reg("d/f"+strings.Repeat("x", i), strings.Repeat("y", 10000)))
	}
	upper := memfs.New(0)
	o, err := New(upper, []vfs.FileSystem{tarLayer(t, hdrs...)}, Options{})
	must(t, "New", err)
	v := vfs.New(o)
	v.SetCred(cred.New(0, 0, nil))
	before := upper.Used()
	writeFile(t, v, "/d/fxx", "z")
	grew := upper.Used() - before
	// The file (one page now), its directory, two entries and the
	// attributes of each.
	if grew <= 0 || grew > 4*memfs.InodeCost+2*memfs.PageCost {
		t.Errorf("one copy-up charged %d bytes", grew)
	}
}

// A host directory as the one layer (--rootfs DIR): read through hostfs,
// changed in the upper only.
func TestHostfsLayer(t *testing.T) {
	host := t.TempDir()
	for _, p := range []string{"d/sub", "e"} {
		must(t, "mkdir", os.MkdirAll(filepath.Join(host, p), 0o777))
	}
	for p, text := range map[string]string{"d/f": "host f", "d/sub/g": "host g", "top": "top"} {
		must(t, "write", os.WriteFile(filepath.Join(host, p), []byte(text), 0o666))
	}
	l, err := hostfs.New(host, hostfs.Options{ReadOnly: true, OwnerAsGuest: true})
	must(t, "hostfs", err)
	_, v := stack(t, Options{}, l)
	wantList(t, v, "/", "d", "e", "top")
	wantList(t, v, "/d", "f", "sub")
	writeFile(t, v, "/d/f", "changed")
	must(t, "unlink", v.Unlink("/top"))
	must(t, "rmdir", v.Rmdir("/e"))
	wantErrno(t, "rename host dir", v.Rename("/d/sub", "/sub"), unix.EXDEV)
	must(t, "rename host file", v.Rename("/d/sub/g", "/g"))
	if got := mustRead(t, v, "/d/f"); got != "changed" {
		t.Errorf("read %q", got)
	}
	wantList(t, v, "/", "d", "g")
	for p, want := range map[string]string{"d/f": "host f", "d/sub/g": "host g", "top": "top"} {
		if b, err := os.ReadFile(filepath.Join(host, p)); err != nil || string(b) != want {
			t.Errorf("host %s: %q %v", p, b, err)
		}
	}
}

// A host directory's files are the image's in the overlay: the guest's
// root may change a root-owned directory of it (in the upper), which
// hostfs alone refuses for host files (Stat.Host).
func TestHostfsLayerIDsAreTheImages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root-owned host files")
	}
	host := t.TempDir()
	must(t, "mkdir", os.Mkdir(filepath.Join(host, "etc"), 0o755))
	must(t, "write", os.WriteFile(filepath.Join(host, "etc", "conf"), []byte("c"), 0o644))
	l, err := hostfs.New(host, hostfs.Options{ReadOnly: true})
	must(t, "hostfs", err)
	_, v := stack(t, Options{}, l)
	v.SetCred(cred.New(0, 0, nil))
	writeFile(t, v, "/etc/conf", "guest root")
	writeFile(t, v, "/etc/new", "n")
	st, err := v.Stat("/etc/new", false)
	if err != nil || st.Uid != 0 || st.Host {
		t.Errorf("new file %+v %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "etc", "conf")); string(b) != "c" {
		t.Errorf("host file changed: %q", b)
	}
}

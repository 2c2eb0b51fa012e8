package tarfs

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// hostTree makes a directory with what layers hold: files of sizes
// around the tar block, long names, symlinks (relative, absolute,
// dangling), hard links, set-id modes, a FIFO, and as root a device and
// other owners. It returns what it could not make.
func hostTree(t *testing.T) (string, []string) {
	t.Helper()
	root := t.TempDir()
	var skipped []string
	mk := func(rel string, size int, mode os.FileMode) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i*7 + len(rel))
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{0, 1, 511, 512, 513, 10000, 1 << 20} {
		mk(filepath.Join("usr/share/data", strings.Repeat("s", size%7+1)+"-"+string(rune('a'+size%26))), size, 0o644)
	}
	mk("usr/bin/tool", 4096, 0o755)
	mk("usr/bin/su", 100, 0o4755)
	mk("var/mail/box", 10, 0o2660)
	long := filepath.Join(strings.Repeat("long-directory-name-", 6), strings.Repeat("f", 200))
	mk(long, 300, 0o600)
	if err := os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "tool3")); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"bin": "usr/bin", "abs": "/usr/bin/tool", "dangling": "nowhere/at/all",
		"usr/share/up": "../bin", "longlink": "/" + strings.Repeat("t", 150)} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "empty/dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o640); err != nil {
		skipped = append(skipped, "fifo")
	}
	if err := unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		skipped = append(skipped, "device")
	}
	if err := unix.Setxattr(filepath.Join(root, "usr/bin/tool"), "user.mime", []byte("application/x-tool"), 0); err != nil {
		skipped = append(skipped, "xattr")
	}
	if err := unix.Setxattr(filepath.Join(root, "empty"), "user.empty", nil, 0); err != nil {
		skipped = append(skipped, "xattr")
	}
	if err := os.Lchown(filepath.Join(root, "var/mail/box"), 1234, 5678); err != nil {
		skipped = append(skipped, "owner")
	}
	return root, skipped
}

// TestGNUTar tars a real directory with the host's GNU tar in each of its
// formats and checks that tarfs shows exactly what the directory holds:
// names, types, modes, owners, sizes, mtimes, link counts, targets,
// device numbers and contents.
func TestGNUTar(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar on the host")
	}
	if out, _ := exec.Command(tarBin, "--version").Output(); !bytes.Contains(out, []byte("GNU tar")) {
		t.Skip("the host's tar is not GNU tar")
	}
	src, skipped := hostTree(t)
	if len(skipped) > 0 {
		t.Logf("not in the tree (not root?): %v", skipped)
	}
	for _, format := range []string{"gnu", "posix", "oldgnu", "posix --xattrs"} {
		t.Run(format, func(t *testing.T) {
			tarPath := filepath.Join(t.TempDir(), "layer.tar")
			args := append(strings.Fields("--format="+format), "-C", src, "-cf", tarPath, ".")
			out, err := exec.Command(tarBin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("tar: %v: %s", err, out)
			}
			tfs, err := Open(tarPath, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tfs.Close()
			compareTree(t, src, tfs, strings.HasPrefix(format, "posix"), strings.Contains(format, "xattrs"))
		})
	}
}

func compareTree(t *testing.T, src string, tfs *FS, nsec, xattrs bool) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			rel = ""
		}
		seen++
		var want unix.Stat_t
		if err := unix.Lstat(p, &want); err != nil {
			return err
		}
		n, err := walk(tfs, rel)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		got, _ := n.Stat()
		mtimeOK := got.Mtime.Sec == want.Mtim.Sec && (!nsec || got.Mtime.Nsec == want.Mtim.Nsec)
		if got.Mode != want.Mode || got.Uid != want.Uid || got.Gid != want.Gid || !mtimeOK {
			t.Errorf("%s: mode %o owner %d:%d mtime %v; host %o %d:%d %v", rel, got.Mode, got.Uid, got.Gid, got.Mtime,
				want.Mode, want.Uid, want.Gid, want.Mtim)
		}
		if xattrs && want.Mode&unix.S_IFMT != unix.S_IFLNK {
			if got, want := xattrsOfNode(t, n), hostXattrs(t, p); got != want {
				t.Errorf("%s: xattrs %q, host %q", rel, got, want)
			}
		}
		switch want.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			if got.Size != want.Size || got.Nlink != want.Nlink || content(t, tfs, rel) != string(b) {
				t.Errorf("%s: size %d nlink %d (host %d %d) or content differs", rel, got.Size, got.Nlink, want.Size, want.Nlink)
			}
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			if got, _ := n.(vfs.SymlinkNode).Readlink(); got != target {
				t.Errorf("%s -> %q, host %q", rel, got, target)
			}
		case unix.S_IFCHR, unix.S_IFBLK:
			if got.Rdev != want.Rdev {
				t.Errorf("%s: rdev %#x, host %#x", rel, got.Rdev, want.Rdev)
			}
		case unix.S_IFDIR:
			es, _ := os.ReadDir(p)
			var hostNames []string
			for _, e := range es {
				hostNames = append(hostNames, e.Name())
			}
			if got, want := names(t, tfs, rel), strings.Join(hostNames, " "); got != want {
				t.Errorf("%s: entries %q, host %q", rel, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != tfs.Inodes()+2 /* two more names of usr/bin/tool */ {
		t.Errorf("host tree has %d names, tarfs %d inodes", seen, tfs.Inodes())
	}
}

func xattrsOfNode(t *testing.T, n vfs.Node) string {
	x := n.(vfs.Xattrer)
	names, _ := x.ListXattr()
	var out []string
	for _, nm := range names {
		v, err := x.GetXattr(nm)
		if err != nil {
			t.Errorf("GetXattr %s: %v", nm, err)
		}
		out = append(out, nm+"="+string(v))
	}
	return strings.Join(out, ",")
}

// hostXattrs lists a host file's user.* attributes as xattrsOfNode does.
func hostXattrs(t *testing.T, p string) string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for nm := range strings.SplitSeq(string(buf[:n]), "\x00") {
		if strings.HasPrefix(nm, "user.") {
			names = append(names, nm)
		}
	}
	slices.Sort(names)
	var out []string
	for _, nm := range names {
		v := make([]byte, 65536)
		k, err := unix.Lgetxattr(p, nm, v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, nm+"="+string(v[:k]))
	}
	return strings.Join(out, ",")
}

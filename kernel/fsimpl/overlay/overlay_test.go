package overlay

import (
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// layer builds a memfs layer from specs: "d/" a directory, "f=text" a
// file, "l->target" a symlink; parents are made as needed. OCI whiteouts
// are plain files: ".wh.x=", "d/.wh..wh..opq=".
func layer(t *testing.T, specs ...string) *memfs.FS {
	t.Helper()
	fs := memfs.New(0)
	v := vfs.New(fs)
	mkdirs := func(p string) {
		parts := strings.Split(strings.Trim(p, "/"), "/")
		cur := ""
		for _, c := range parts {
			if c == "" {
				continue
			}
			cur += "/" + c
			if _, err := v.Stat(cur, false); err == nil {
				continue
			}
			must(t, "mkdir "+cur, v.Mkdir(cur, 0o755))
		}
	}
	for _, s := range specs {
		switch {
		case strings.HasSuffix(s, "/"):
			mkdirs(s)
		case strings.Contains(s, "->"):
			name, target, _ := strings.Cut(s, "->")
			mkdirs(dirOf(name))
			must(t, "symlink "+name, v.Symlink(target, "/"+name))
		default:
			name, text, _ := strings.Cut(s, "=")
			mkdirs(dirOf(name))
			writeFile(t, v, "/"+name, text)
		}
	}
	return fs
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// stack makes an overlay of the layers (top first) with a fresh upper.
func stack(t *testing.T, opts Options, lowers ...vfs.FileSystem) (*FS, *vfs.VFS) {
	t.Helper()
	o, err := New(memfs.New(0), lowers, opts)
	must(t, "New", err)
	return o, vfs.New(o)
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErrno(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	var got unix.Errno
	if err != nil && !errors.As(err, &got) {
		t.Fatalf("%s: error %v (%T) is not an errno", what, err, err)
	}
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func writeFile(t *testing.T, v *vfs.VFS, path, text string) {
	t.Helper()
	f, err := v.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	must(t, "create "+path, err)
	defer f.DecRef()
	if _, err := f.Write([]byte(text)); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func readFile(v *vfs.VFS, path string) (string, error) {
	f, err := v.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.DecRef()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		sb.Write(buf[:n])
		if n == 0 || err == io.EOF {
			return sb.String(), nil
		}
		if err != nil {
			return sb.String(), err
		}
	}
}

func mustRead(t *testing.T, v *vfs.VFS, path string) string {
	t.Helper()
	s, err := readFile(v, path)
	must(t, "read "+path, err)
	return s
}

// list returns the names of directory path, in getdents order, and
// checks that each d_ino is the entry's st_ino.
func list(t *testing.T, v *vfs.VFS, path string) []string {
	t.Helper()
	f, err := v.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "opendir "+path, err)
	defer f.DecRef()
	ents, err := f.Getdents(1 << 20)
	must(t, "getdents "+path, err)
	var names []string
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		names = append(names, e.Name)
		st, err := v.Stat(strings.TrimSuffix(path, "/")+"/"+e.Name, false)
		must(t, "stat "+e.Name, err)
		if st.Ino != e.Ino {
			t.Errorf("%s/%s: d_ino %#x, st_ino %#x", path, e.Name, e.Ino, st.Ino)
		}
		if vfs.DTFromMode(st.Mode) != e.Type {
			t.Errorf("%s/%s: d_type %d, mode %#o", path, e.Name, e.Type, st.Mode)
		}
	}
	return names
}

func wantList(t *testing.T, v *vfs.VFS, path string, want ...string) {
	t.Helper()
	got := list(t, v, path)
	if !slices.Equal(got, want) {
		t.Errorf("ls %s: %q, want %q", path, got, want)
	}
}

func TestReadThroughAndShadowing(t *testing.T) {
	bottom := layer(t, "a=bottom a", "b=bottom b", "d/x=bx", "d/y=by", "s->a", "e/")
	top := layer(t, "a=top a", "d/y=ty", "d/z=tz", "c=top c")
	o, v := stack(t, Options{}, top, bottom)
	for _, tc := range []struct{ path, want string }{
		{"/a", "top a"}, {"/b", "bottom b"}, {"/c", "top c"},
		{"/d/x", "bx"}, {"/d/y", "ty"}, {"/d/z", "tz"}, {"/s", "top a"},
	} {
		if got := mustRead(t, v, tc.path); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, got, tc.want)
		}
	}
	wantList(t, v, "/", "a", "b", "c", "d", "e", "s")
	wantList(t, v, "/d", "x", "y", "z")
	st, err := v.Stat("/d/x", true)
	must(t, "stat", err)
	if st.Dev != o.dev {
		t.Errorf("st_dev %#x, want the overlay's %#x", st.Dev, o.dev)
	}
	root, _ := v.Stat("/", true)
	d, _ := v.Stat("/d", true)
	if d.Nlink != 1 || root.Dev != o.dev {
		t.Errorf("merged dir nlink %d (want 1), root dev %#x", d.Nlink, root.Dev)
	}
	// The upper is untouched by reading.
	if ents, _ := o.Upper().Root().ReadDir(); len(ents) != 0 {
		t.Errorf("upper after reads: %v", ents)
	}
}

func TestWhiteoutsAndOpaque(t *testing.T) {
	bottom := layer(t, "gone=x", "keep=k", "d/old=o", "d/sub/deep=d", "o/hidden=h", "o/also=h", "w/a=a", "w/b=b",
		"keepdir/stale=s")
	middle := layer(t, ".wh.gone=", "d/.wh.old=", "o/.wh..wh..opq=", "o/new=n", "w/c=c",
		".wh.keepdir=", "keepdir/fresh=f")
	top := layer(t, "w/.wh.b=", ".wh.nothing=")
	_, v := stack(t, Options{}, top, middle, bottom)
	wantList(t, v, "/", "d", "keep", "keepdir", "o", "w")
	wantList(t, v, "/keepdir", "fresh") // whited out and made again in one layer
	wantList(t, v, "/d", "sub")
	wantList(t, v, "/o", "new")
	wantList(t, v, "/w", "a", "c")
	for _, p := range []string{"/keepdir/stale", "/gone", "/d/old", "/o/hidden", "/w/b", "/.wh.gone", "/d/.wh.old", "/o/.wh..wh..opq", "/nothing"} {
		_, err := v.Stat(p, false)
		wantErrno(t, "stat "+p, err, unix.ENOENT)
	}
	// A whited-out name can be made again; a directory made there is
	// opaque.
	writeFile(t, v, "/gone", "again")
	if got := mustRead(t, v, "/gone"); got != "again" {
		t.Errorf("recreated: %q", got)
	}
	must(t, "unlink /w/a", v.Unlink("/w/a"))
	wantList(t, v, "/w", "c")
}

func TestCopyUpOnOpen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags int
		write string
		want  string
	}{
		{"wronly", unix.O_WRONLY, "AB", "ABcdef"},
		{"rdwr", unix.O_RDWR, "XY", "XYcdef"},
		{"trunc", unix.O_WRONLY | unix.O_TRUNC, "new", "new"},
		{"rdonly-trunc", unix.O_RDONLY | unix.O_TRUNC, "", ""},
		{"append", unix.O_WRONLY | unix.O_APPEND, "gh", "abcdefgh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			low := layer(t, "dir/f=abcdef", "dir/other=o")
			o, v := stack(t, Options{}, low)
			before, _ := v.Stat("/dir/f", true)
			f, err := v.Open("/dir/f", tc.flags, 0)
			must(t, "open", err)
			if tc.write != "" {
				if _, err := f.Write([]byte(tc.write)); err != nil {
					t.Fatal(err)
				}
			}
			fst, err := f.Stat()
			must(t, "fstat", err)
			f.DecRef()
			if got := mustRead(t, v, "/dir/f"); got != tc.want {
				t.Errorf("overlay: %q, want %q", got, tc.want)
			}
			lv := vfs.New(low)
			if got := mustRead(t, lv, "/dir/f"); got != "abcdef" {
				t.Errorf("the layer changed: %q", got)
			}
			after, _ := v.Stat("/dir/f", true)
			if after.Ino != before.Ino || fst.Ino != before.Ino || after.Dev != before.Dev || fst.Dev != o.dev {
				t.Errorf("ino %#x -> %#x (fstat %#x), dev %#x -> %#x", before.Ino, after.Ino, fst.Ino, before.Dev, after.Dev)
			}
			// Only the file and its directory went up.
			uv := vfs.New(o.Upper())
			if _, err := uv.Stat("/dir/f", false); err != nil {
				t.Errorf("not copied up: %v", err)
			}
			if _, err := uv.Stat("/dir/other", false); err == nil {
				t.Errorf("a sibling was copied up")
			}
			wantList(t, v, "/dir", "f", "other")
		})
	}
}

func TestReadOpenDoesNotCopyUp(t *testing.T) {
	low := layer(t, "f=data")
	o, v := stack(t, Options{}, low)
	f, err := v.Open("/f", unix.O_RDONLY, 0)
	must(t, "open", err)
	// A read-only handle keeps reading the lower file after a copy-up
	// by another open, as on Linux.
	writeFile(t, v, "/f", "changed")
	buf := make([]byte, 16)
	n, _ := f.Pread(buf, 0)
	if string(buf[:n]) != "data" {
		t.Errorf("old handle reads %q", buf[:n])
	}
	f.DecRef()
	if ents, _ := o.Upper().Root().ReadDir(); len(ents) != 1 {
		t.Errorf("upper: %v", ents)
	}
}

func TestAttributeCopyUp(t *testing.T) {
	low := layer(t, "d/f=text", "d/l->f")
	lv := vfs.New(low)
	must(t, "chmod", lv.Chmod("/d/f", 0o640, false))
	old := unix.Timespec{Sec: 1000, Nsec: 5}
	must(t, "utimes", lv.Utimes("/d/f", old, old, false))
	must(t, "utimes dir", lv.Utimes("/d", old, old, false))
	_, err := lv.XattrAt(vfs.Loc{}, "/d/f", false, vfs.XattrOp{Kind: vfs.XattrSet, Name: "user.k", Value: []byte("v")})
	must(t, "setxattr", err)
	for _, tc := range []struct {
		name  string
		op    func(v *vfs.VFS) error
		check func(t *testing.T, st vfs.Stat)
	}{
		{"chmod", func(v *vfs.VFS) error { return v.Chmod("/d/f", 0o600, true) }, func(t *testing.T, st vfs.Stat) {
			if st.Mode&0o7777 != 0o600 || st.Mtime != old {
				t.Errorf("mode %#o mtime %v", st.Mode, st.Mtime)
			}
		}},
		{"utimes", func(v *vfs.VFS) error {
			return v.Utimes("/d/f", unix.Timespec{Sec: 7}, unix.Timespec{Sec: 8}, true)
		}, func(t *testing.T, st vfs.Stat) {
			if st.Mtime.Sec != 8 || st.Atime.Sec != 7 || st.Mode&0o7777 != 0o640 {
				t.Errorf("mode %#o atime %v mtime %v", st.Mode, st.Atime, st.Mtime)
			}
		}},
		{"setxattr", func(v *vfs.VFS) error {
			_, err := v.XattrAt(vfs.Loc{}, "/d/f", true, vfs.XattrOp{Kind: vfs.XattrSet, Name: "user.n", Value: []byte("w")})
			return err
		}, func(t *testing.T, st vfs.Stat) {
			if st.Mode&0o7777 != 0o640 || st.Mtime != old {
				t.Errorf("mode %#o mtime %v", st.Mode, st.Mtime)
			}
		}},
		{"lutimes-symlink", func(v *vfs.VFS) error {
			return v.Utimes("/d/l", unix.Timespec{Sec: 9}, unix.Timespec{Sec: 9}, false)
		}, func(t *testing.T, st vfs.Stat) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, v := stack(t, Options{}, low)
			before, _ := v.Stat("/d/f", false)
			must(t, tc.name, tc.op(v))
			st, err := v.Stat("/d/f", false)
			must(t, "stat", err)
			tc.check(t, st)
			if st.Ino != before.Ino || st.Size != 4 || mustRead(t, v, "/d/f") != "text" {
				t.Errorf("ino %#x -> %#x, size %d", before.Ino, st.Ino, st.Size)
			}
			res, err := v.XattrAt(vfs.Loc{}, "/d/f", false, vfs.XattrOp{Kind: vfs.XattrGet, Name: "user.k"})
			if err != nil || string(res.Value) != "v" {
				t.Errorf("user.k after copy-up: %q %v", res.Value, err)
			}
			res, err = v.XattrAt(vfs.Loc{}, "/d/f", false, vfs.XattrOp{Kind: vfs.XattrList})
			must(t, "listxattr", err)
			for _, n := range res.Names {
				if strings.HasPrefix(n, "trusted.overlay") {
					t.Errorf("internal xattr listed: %q", res.Names)
				}
			}
			// The parent's times stay the image's.
			if d, _ := v.Stat("/d", false); d.Mtime != old {
				t.Errorf("parent mtime %v, want %v", d.Mtime, old)
			}
			if l, _ := lv.Stat("/d/f", false); l.Mode&0o7777 != 0o640 || l.Mtime != old {
				t.Errorf("the layer changed: %+v", l)
			}
			if _, err := vfs.New(o.Upper()).Stat("/d/f", false); err != nil && tc.name != "lutimes-symlink" {
				t.Errorf("not in the upper: %v", err)
			}
		})
	}
}

func TestInternalXattrsRefused(t *testing.T) {
	_, v := stack(t, Options{}, layer(t, "f=x"))
	writeFile(t, v, "/f", "y") // copied up: the upper file records its origin
	n, err := v.RootFS().Root().Lookup("f")
	must(t, "lookup", err)
	x := n.(vfs.Xattrer)
	_, err = x.GetXattr(originXattr)
	wantErrno(t, "get origin", err, unix.ENODATA)
	wantErrno(t, "set opaque", x.SetXattr(opaqueXattr, []byte("y"), 0), unix.EOPNOTSUPP)
	wantErrno(t, "remove origin", x.RemoveXattr(originXattr), unix.EOPNOTSUPP)
	names, err := x.ListXattr()
	if err != nil || len(names) != 0 {
		t.Errorf("list: %q %v", names, err)
	}
}

func TestUnlinkRmdirRecreate(t *testing.T) {
	low := layer(t, "f=lower", "d/a=1", "d/b=2", "e/", "keep=k")
	ov, v := stack(t, Options{}, low)
	must(t, "unlink /f", v.Unlink("/f"))
	_, err := v.Stat("/f", false)
	wantErrno(t, "stat after unlink", err, unix.ENOENT)
	wantErrno(t, "unlink again", v.Unlink("/f"), unix.ENOENT)
	wantList(t, v, "/", "d", "e", "keep")
	wantErrno(t, "rmdir non-empty", v.Rmdir("/d"), unix.ENOTEMPTY)
	must(t, "unlink d/a", v.Unlink("/d/a"))
	must(t, "unlink d/b", v.Unlink("/d/b"))
	wantList(t, v, "/d")
	must(t, "rmdir d", v.Rmdir("/d"))
	must(t, "rmdir e", v.Rmdir("/e"))
	wantList(t, v, "/", "keep")
	// Recreated names do not bring the lower ones back.
	must(t, "mkdir d", v.Mkdir("/d", 0o755))
	wantList(t, v, "/d")
	writeFile(t, v, "/f", "upper")
	if got := mustRead(t, v, "/f"); got != "upper" {
		t.Errorf("recreated: %q", got)
	}
	wantList(t, v, "/", "d", "f", "keep")
	must(t, "unlink recreated", v.Unlink("/f"))
	_, err = v.Stat("/f", false)
	wantErrno(t, "stat after second unlink", err, unix.ENOENT)
	must(t, "rmdir recreated", v.Rmdir("/d"))
	_, err = v.Stat("/d/a", false)
	wantErrno(t, "stat /d/a", err, unix.ENOENT)
	wantList(t, v, "/", "keep")
	// The layer is as it was.
	wantList(t, vfs.New(low), "/", "d", "e", "f", "keep")
	// The new overlay after the guest's changes are dropped from memory.
	if ov.Upper().Inodes() > 8 {
		t.Errorf("upper holds %d inodes", ov.Upper().Inodes())
	}
}

func TestRename(t *testing.T) {
	low := layer(t, "f=lower f", "dir/x=x", "empty/", "g=lower g")
	t.Run("upper-within-upper", func(t *testing.T) {
		_, v := stack(t, Options{}, low)
		writeFile(t, v, "/new", "n")
		must(t, "rename", v.Rename("/new", "/moved"))
		wantList(t, v, "/", "dir", "empty", "f", "g", "moved")
		if mustRead(t, v, "/moved") != "n" {
			t.Error("content")
		}
	})
	t.Run("lower-file", func(t *testing.T) {
		_, v := stack(t, Options{}, low)
		before, _ := v.Stat("/f", false)
		must(t, "rename", v.Rename("/f", "/dir/f2"))
		_, err := v.Stat("/f", false)
		wantErrno(t, "old name", err, unix.ENOENT)
		after, err := v.Stat("/dir/f2", false)
		must(t, "stat new", err)
		if after.Ino != before.Ino || mustRead(t, v, "/dir/f2") != "lower f" {
			t.Errorf("ino %#x -> %#x", before.Ino, after.Ino)
		}
		wantList(t, v, "/", "dir", "empty", "g")
		wantList(t, v, "/dir", "f2", "x")
		// Over a lower file: that one is gone for good.
		must(t, "rename over", v.Rename("/dir/f2", "/g"))
		if mustRead(t, v, "/g") != "lower f" {
			t.Error("replaced content")
		}
		must(t, "unlink g", v.Unlink("/g"))
		_, err = v.Stat("/g", false)
		wantErrno(t, "g after unlink", err, unix.ENOENT)
		wantList(t, v, "/", "dir", "empty")
		if mustRead(t, vfs.New(low), "/f") != "lower f" {
			t.Error("the layer changed")
		}
	})
	t.Run("lower-dir-exdev", func(t *testing.T) {
		_, v := stack(t, Options{}, low)
		wantErrno(t, "rename dir", v.Rename("/dir", "/dir2"), unix.EXDEV)
		// Copied up is still from a layer.
		writeFile(t, v, "/dir/new", "n")
		wantErrno(t, "rename merged dir", v.Rename("/dir", "/dir2"), unix.EXDEV)
	})
	t.Run("upper-dir-over-lower-dir", func(t *testing.T) {
		_, v := stack(t, Options{}, low)
		must(t, "mkdir", v.Mkdir("/mine", 0o755))
		writeFile(t, v, "/mine/in", "i")
		must(t, "rename over empty lower dir", v.Rename("/mine", "/empty"))
		wantList(t, v, "/empty", "in")
		wantErrno(t, "over non-empty", v.Rename("/empty", "/dir"), unix.ENOTEMPTY)
		must(t, "rename back", v.Rename("/empty", "/mine2"))
		wantList(t, v, "/", "dir", "f", "g", "mine2")
		wantList(t, v, "/mine2", "in")
	})
	t.Run("cached-dentries-follow", func(t *testing.T) {
		_, v := stack(t, Options{}, low)
		must(t, "mkdir", v.Mkdir("/a", 0o755))
		d, err := v.Open("/a", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, "open dir", err)
		defer d.DecRef()
		must(t, "rename", v.Rename("/a", "/b"))
		writeFile(t, v, "/b/x", "x")
		ents, err := d.Getdents(1 << 16)
		must(t, "getdents", err)
		found := false
		for _, e := range ents {
			found = found || e.Name == "x"
		}
		if !found || d.Path() != "/b" {
			t.Errorf("held dir %s sees %v", d.Path(), ents)
		}
	})
}

func TestHardLinks(t *testing.T) {
	low := layer(t, "f=shared", "d/")
	// A lower file with two links.
	must(t, "lower link", vfs.New(low).Link("/f", "/d/f2", false))
	t.Run("link-lower-file", func(t *testing.T) {
		_, v := stack(t, Options{}, low)
		before, _ := v.Stat("/f", false)
		must(t, "link", v.Link("/f", "/h", false))
		a, _ := v.Stat("/f", false)
		h, _ := v.Stat("/h", false)
		// f, h and the lower d/f2: three names of one file.
		if a.Ino != before.Ino || h.Ino != a.Ino || h.Nlink != 3 || a.Nlink != 3 {
			t.Errorf("ino %#x %#x %#x nlink %d %d", before.Ino, a.Ino, h.Ino, h.Nlink, a.Nlink)
		}
		must(t, "unlink d/f2", v.Unlink("/d/f2"))
		if st, _ := v.Stat("/h", false); st.Nlink != 2 {
			t.Errorf("nlink after removing the lower name: %d", st.Nlink)
		}
		writeFile(t, v, "/h", "via h")
		if mustRead(t, v, "/f") != "via h" {
			t.Errorf("links diverged")
		}
	})
	t.Run("lower-links-stay-linked", func(t *testing.T) {
		_, v := stack(t, Options{}, low)
		writeFile(t, v, "/f", "changed")
		if got := mustRead(t, v, "/d/f2"); got != "changed" {
			t.Errorf("other link reads %q", got)
		}
		a, _ := v.Stat("/f", false)
		b, _ := v.Stat("/d/f2", false)
		if a.Ino != b.Ino {
			t.Errorf("ino %#x vs %#x", a.Ino, b.Ino)
		}
	})
}

func TestReadDirMerge(t *testing.T) {
	bottom := layer(t, "d/c=1", "d/a=1", "d/sub/", "d/both=1")
	top := layer(t, "d/b=2", "d/both=2", "d/sub/x=2")
	_, v := stack(t, Options{}, top, bottom)
	writeFile(t, v, "/d/both", "3")
	writeFile(t, v, "/d/aa", "3")
	wantList(t, v, "/d", "a", "aa", "b", "both", "c", "sub")
	wantList(t, v, "/d/sub", "x")
}

func TestReadOnly(t *testing.T) {
	low := layer(t, "f=x", "d/g=y", "e/")
	_, v := stack(t, Options{ReadOnly: true}, low)
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"open-wronly", func() error { _, err := v.Open("/f", unix.O_WRONLY, 0); return err }},
		{"open-rdonly-trunc", func() error { _, err := v.Open("/f", unix.O_RDONLY|unix.O_TRUNC, 0); return err }},
		{"create", func() error { _, err := v.Open("/n", unix.O_WRONLY|unix.O_CREAT, 0o644); return err }},
		{"mkdir", func() error { return v.Mkdir("/m", 0o755) }},
		{"unlink", func() error { return v.Unlink("/f") }},
		{"rmdir", func() error { return v.Rmdir("/e") }},
		{"rename", func() error { return v.Rename("/f", "/f2") }},
		{"link", func() error { return v.Link("/f", "/f2", false) }},
		{"symlink", func() error { return v.Symlink("f", "/l") }},
		{"chmod", func() error { return v.Chmod("/f", 0o600, true) }},
		{"utimes", func() error { return v.Utimes("/f", unix.Timespec{Sec: 1}, unix.Timespec{Sec: 1}, true) }},
		{"truncate", func() error { return v.Truncate("/f", 0) }},
		{"setxattr", func() error {
			_, err := v.XattrAt(vfs.Loc{}, "/f", true, vfs.XattrOp{Kind: vfs.XattrSet, Name: "user.a", Value: []byte("1")})
			return err
		}},
		{"mkfifo", func() error { return v.MknodAt(vfs.Loc{}, "/p", unix.S_IFIFO|0o644) }},
		{"bind", func() error { _, err := v.BindSocketAt(vfs.Loc{}, "/s", 0o755, nil); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErrno(t, tc.name, tc.op(), unix.EROFS) })
	}
	// And the methods themselves refuse, below the VFS's checks.
	root := v.RootFS().Root()
	_, err := root.Create("x", 0o644)
	wantErrno(t, "Create", err, unix.EROFS)
	wantErrno(t, "Unlink", root.Unlink("f"), unix.EROFS)
	n, _ := root.Lookup("f")
	wantErrno(t, "Chmod", n.(vfs.SetAttrer).Chmod(0), unix.EROFS)
	_, err = n.(vfs.OpenableNode).Open(unix.O_RDWR)
	wantErrno(t, "Open", err, unix.EROFS)
	if mustRead(t, v, "/d/g") != "y" {
		t.Error("read")
	}
}

func TestCopyUpENOSPC(t *testing.T) {
	low := layer(t, "small=s")
	lv := vfs.New(low)
	f, err := lv.Open("/big", unix.O_WRONLY|unix.O_CREAT, 0o644)
	must(t, "create big", err)
	chunk := []byte(strings.Repeat("z", 64<<10))
	for range 16 { // 1 MiB of data
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	f.DecRef()
	upper := memfs.New(256 << 10)
	o, err := New(upper, []vfs.FileSystem{low}, Options{})
	must(t, "New", err)
	v := vfs.New(o)
	_, err = v.Open("/big", unix.O_RDWR, 0)
	wantErrno(t, "copy-up of 1 MiB into 256 KiB", err, unix.ENOSPC)
	if st, err := v.Stat("/big", false); err != nil || st.Size != 1<<20 {
		t.Errorf("after the failed copy-up: %+v %v", st, err)
	}
	if _, err := vfs.New(upper).Stat("/big", false); err == nil {
		t.Errorf("a partial copy is left in the upper")
	}
	wantList(t, v, "/", "big", "small")
	writeFile(t, v, "/small", "fits")
	if mustRead(t, v, "/small") != "fits" {
		t.Error("small copy-up")
	}
}

func TestSparseCopyUp(t *testing.T) {
	low := layer(t, "s=")
	must(t, "truncate", vfs.New(low).Truncate("/s", 64<<20))
	upper := memfs.New(1 << 20)
	o, err := New(upper, []vfs.FileSystem{low}, Options{})
	must(t, "New", err)
	v := vfs.New(o)
	f, err := v.Open("/s", unix.O_RDWR, 0)
	must(t, "copy-up of a 64 MiB hole into a 1 MiB upper", err)
	f.DecRef()
	if st, _ := v.Stat("/s", false); st.Size != 64<<20 || st.Blocks != 0 {
		t.Errorf("size %d blocks %d", st.Size, st.Blocks)
	}
}

func TestHandleInterfaces(t *testing.T) {
	low := layer(t, "f=abc")
	_, v := stack(t, Options{}, low)
	ro, err := v.Open("/f", unix.O_RDONLY, 0)
	must(t, "open ro", err)
	defer ro.DecRef()
	h := ro.Ops().(*handle)
	if sf, _ := h.SharedPages(); sf != nil {
		t.Errorf("a lower file offers shared pages")
	}
	if _, ok := any(h).(interface{ Seals() (int, error) }); ok {
		t.Errorf("an overlay file serves seals (Linux: EINVAL)")
	}
	rw, err := v.Open("/f", unix.O_RDWR, 0)
	must(t, "open rw", err)
	defer rw.DecRef()
	h = rw.Ops().(*handle)
	if sf, _ := h.SharedPages(); sf == nil {
		t.Errorf("the upper file offers no shared pages")
	}
	must(t, "fallocate", h.Allocate(0, 0, 8192))
	if st, _ := rw.Stat(); st.Size != 8192 {
		t.Errorf("size after fallocate %d", st.Size)
	}
	if _, isShared := rw.Node().(interface{ Object() any }); isShared {
		t.Errorf("the node claims shared pages: mmap must go through the handle")
	}
}

func TestSocketsAndFIFOs(t *testing.T) {
	low := layer(t, "run/", "var/run->/run")
	o, v := stack(t, Options{}, low)
	sock := new(int)
	sn, err := v.BindSocketAt(vfs.Loc{}, "/var/run/x.sock", 0o755, sock)
	must(t, "bind in a lower dir", err)
	got, err := v.SocketAt(vfs.Loc{}, "/run/x.sock")
	if err != nil || got != sock {
		t.Errorf("connect: %v %v", got, err)
	}
	sn.Unbind(sock)
	_, err = v.SocketAt(vfs.Loc{}, "/run/x.sock")
	wantErrno(t, "after unbind", err, unix.ECONNREFUSED)
	_, err = v.BindSocketAt(vfs.Loc{}, "/run/x.sock", 0o755, sock)
	wantErrno(t, "bind again", err, unix.EEXIST)
	st, err := v.Stat("/run/x.sock", false)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Dev != o.dev {
		t.Errorf("stat socket %+v %v", st, err)
	}
	must(t, "mkfifo", v.MknodAt(vfs.Loc{}, "/run/p", unix.S_IFIFO|0o644))
	st, err = v.Stat("/run/p", false)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("stat fifo %+v %v", st, err)
	}
	f, err := v.Open("/run/p", unix.O_RDWR, 0) // O_RDWR opens a FIFO at once
	must(t, "open fifo", err)
	if _, err := f.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, _ := f.Read(buf); string(buf[:n]) != "hi" {
		t.Errorf("fifo read %q", buf[:n])
	}
	f.DecRef()
	wantList(t, v, "/run", "p", "x.sock")
}

func TestHeldDirectoryCopyUp(t *testing.T) {
	low := layer(t, "d/old=o")
	_, v := stack(t, Options{}, low)
	d, err := v.Open("/d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "open dir", err)
	defer d.DecRef()
	// Through the held dentry, relative to it (as a cwd).
	f, err := v.OpenAt(vfs.Loc{Dir: d.Dentry()}, "new", unix.O_WRONLY|unix.O_CREAT, 0o644)
	must(t, "create relative", err)
	f.DecRef()
	ents, err := d.Getdents(1 << 16)
	must(t, "getdents", err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	if !slices.Contains(names, "new") || !slices.Contains(names, "old") {
		t.Errorf("held dir lists %q", names)
	}
}

func TestCover(t *testing.T) {
	low := layer(t, "etc/hosts=image hosts", "etc/passwd=root:x:0:0::/root:/bin/sh")
	o, err := New(memfs.New(0), []vfs.FileSystem{low}, Options{})
	must(t, "New", err)
	mine := memfs.New(0)
	n, err := mine.Root().Create("hosts", 0o644)
	must(t, "cover file", err)
	o.Cover("/etc", map[string]vfs.Node{"hosts": n, "hostname": n})
	v := vfs.New(o)
	if got := mustRead(t, v, "/etc/hosts"); got != "" {
		t.Errorf("covered hosts: %q", got)
	}
	if got := mustRead(t, v, "/etc/passwd"); !strings.HasPrefix(got, "root:") {
		t.Errorf("passwd: %q", got)
	}
	wantErrno(t, "unlink covered", v.Unlink("/etc/hosts"), unix.EBUSY)
	wantErrno(t, "rename over covered", v.Rename("/etc/passwd", "/etc/hostname"), unix.EBUSY)
	must(t, "mkdir", v.Mkdir("/empty", 0o755))
	wantErrno(t, "rename over the covered dir", v.Rename("/empty", "/etc"), unix.EBUSY)
	writeFile(t, v, "/etc/new", "n")
	f, err := v.Open("/etc", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "opendir", err)
	ents, _ := f.Getdents(1 << 16)
	f.DecRef()
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{".", "..", "hostname", "hosts", "new", "passwd"}) {
		t.Errorf("ls /etc: %q", names)
	}
	// Emptied of the image's files, it still holds the covering ones.
	for _, n := range []string{"/etc/new", "/etc/passwd", "/etc/hosts"} {
		v.Unlink(n)
	}
	wantErrno(t, "rmdir the covered dir", v.Rmdir("/etc"), unix.EBUSY)
}

func TestNodeIdentity(t *testing.T) {
	low := layer(t, "d/f=x")
	_, v := stack(t, Options{}, low)
	root := v.RootFS().Root()
	a, _ := root.Lookup("d")
	b, _ := root.Lookup("d")
	if a != b {
		t.Errorf("two lookups, two nodes")
	}
	// A node held across a copy-up sees it.
	fa, _ := a.(vfs.DirNode).Lookup("f")
	writeFile(t, v, "/d/f", "changed")
	st, _ := fa.Stat()
	if st.Size != int64(len("changed")) {
		t.Errorf("held node size %d", st.Size)
	}
}

func TestTooManyLayers(t *testing.T) {
	ls := make([]vfs.FileSystem, maxLayers+1)
	for i := range ls {
		ls[i] = memfs.New(0)
	}
	if _, err := New(memfs.New(0), ls, Options{}); !errors.Is(err, ErrTooManyLayers) {
		t.Errorf("New: %v", err)
	}
}

func TestUnheldNodesAreCollected(t *testing.T) {
	var specs []string
	for i := range 200 {
		specs = append(specs, "d/f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26))
	}
	_, v := stack(t, Options{}, layer(t, specs...))
	for _, s := range specs {
		if _, err := v.Stat("/"+s, false); err != nil {
			t.Fatal(err)
		}
	}
	o := v.RootFS().(*FS)
	d, _ := o.Root().Lookup("d")
	db := baseOf(d)
	// Cleanups run on their own goroutine after a GC: on a loaded machine
	// that can take a while, so wait up to 5 s (this checks that the
	// nodes go, not how fast).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		o.mu.Lock()
		n := len(db.children)
		o.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d nodes of unheld names still cached", len(db.children))
}

// Guest threads change and read the same directories at once: nothing
// races (go test -race), and the tree ends as the last changes left it.
func TestConcurrentChanges(t *testing.T) {
	var specs []string
	for i := range 20 {
		specs = append(specs, "d/f"+string(rune('a'+i))+"=lower")
	}
	_, v := stack(t, Options{}, layer(t, append(specs, "e/")...))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := "/d/f" + string(rune('a'+i))
				switch (i + w) % 4 {
				case 0:
					if f, err := v.Open(name, unix.O_WRONLY|unix.O_APPEND, 0); err == nil {
						f.Write([]byte("w"))
						f.DecRef()
					}
				case 1:
					v.Stat(name, false)
				case 2:
					if f, err := v.Open("/d", unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
						f.Getdents(1 << 16)
						f.DecRef()
					}
				case 3:
					v.Rename(name, "/e/"+string(rune('a'+i))+string(rune('0'+w)))
				}
			}
		}()
	}
	wg.Wait()
	// Every lower file is still somewhere, exactly once.
	n := len(list(t, v, "/d")) + len(list(t, v, "/e"))
	if n != 20 {
		t.Errorf("%d files after the changes, want 20", n)
	}
}

// A full upper fails the changes that need a whiteout or a copy, with
// ENOSPC, and leaves the merged view as it was.
func TestFullUpper(t *testing.T) {
	low := layer(t, "f=x", "d/g=y", "e/")
	o, err := New(memfs.New(4096), []vfs.FileSystem{low}, Options{}) // room for the root only
	must(t, "New", err)
	v := vfs.New(o)
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"unlink", func() error { return v.Unlink("/f") }},
		{"rmdir", func() error { return v.Rmdir("/e") }},
		{"rename", func() error { return v.Rename("/f", "/f2") }},
		{"chmod", func() error { return v.Chmod("/d/g", 0o600, true) }},
		{"create", func() error { _, err := v.Open("/n", unix.O_WRONLY|unix.O_CREAT, 0o644); return err }},
	} {
		wantErrno(t, tc.name, tc.op(), unix.ENOSPC)
	}
	wantList(t, v, "/", "d", "e", "f")
	wantList(t, v, "/d", "g")
	if st, _ := v.Stat("/d/g", false); st.Mode&0o777 != 0o644 {
		t.Errorf("mode %#o", st.Mode)
	}
}

// A rename over a directory that holds whiteouts fails on a full upper
// without changing anything, and works once there is room.
func TestRenameOverWhiteoutsFull(t *testing.T) {
	low := layer(t, "dd/f=f")
	upper := memfs.New(64 << 10)
	o, err := New(upper, []vfs.FileSystem{low}, Options{})
	must(t, "New", err)
	v := vfs.New(o)
	must(t, "mkdir", v.Mkdir("/x", 0o755))
	writeFile(t, v, "/x/in", "i")
	must(t, "unlink", v.Unlink("/dd/f"))
	f, err := v.Open("/fill", unix.O_WRONLY|unix.O_CREAT, 0o644)
	must(t, "fill", err)
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.DecRef()
	// The last bytes: an attribute exactly as large as what is left.
	if rem := int64(64<<10) - upper.Used() - memfs.XattrCost - int64(len("user.p")); rem >= 0 {
		_, err := v.XattrAt(vfs.Loc{}, "/fill", false, vfs.XattrOp{Kind: vfs.XattrSet, Name: "user.p", Value: make([]byte, rem)})
		must(t, "fill the last bytes", err)
	}
	wantErrno(t, "rename on a full upper", v.Rename("/x", "/dd"), unix.ENOSPC)
	wantList(t, v, "/dd")
	wantList(t, v, "/x", "in")
	must(t, "make room", v.Unlink("/fill"))
	must(t, "rename", v.Rename("/x", "/dd"))
	wantList(t, v, "/dd", "in")
	wantList(t, v, "/", "dd")
}

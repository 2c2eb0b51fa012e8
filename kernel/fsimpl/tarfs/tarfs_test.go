package tarfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// ent is one tar entry for mkTar; body is a regular file's content.
type ent struct {
	tar.Header
	body string
}

func reg(name, body string) ent {
	return ent{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}, body}
}

func dir(name string, mode int64) ent {
	return ent{tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: time.Unix(1600000000, 0)}, ""}
}

func symlink(name, target string) ent {
	return ent{tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}, ""}
}

func hardlink(name, target string) ent {
	return ent{tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}, ""}
}

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := e.Header
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("WriteHeader %q: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatalf("write %q: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newFS(t testing.TB, data []byte) *FS {
	t.Helper()
	fs, err := New(bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Every index build makes passes the checks of a cached one, and
	// comes back from the cache format unchanged.
	if err := fs.idx.check(fs.size); err != nil {
		t.Fatalf("built index fails its check: %v", err)
	}
	back, err := decodeIndex(encodeIndex(fs.idx, "sha256:k", fs.size), "sha256:k", fs.size)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !sameIndex(back, fs.idx) {
		t.Fatalf("index changed through the cache format")
	}
	return fs
}

func sameIndex(a, b *index) bool {
	return slices.Equal(a.inodes, b.inodes) && slices.Equal(a.dirents, b.dirents) && a.strs == b.strs && a.xattrs == b.xattrs
}

// walk resolves a clean relative path with Lookup, following nothing.
func walk(fs *FS, p string) (vfs.Node, error) {
	var n vfs.Node = fs.Root()
	if p == "" {
		return n, nil
	}
	for _, c := range strings.Split(p, "/") {
		d, ok := n.(vfs.DirNode)
		if !ok {
			return nil, unix.ENOTDIR
		}
		var err error
		if n, err = d.Lookup(c); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func mustStat(t *testing.T, fs *FS, p string) vfs.Stat {
	t.Helper()
	n, err := walk(fs, p)
	if err != nil {
		t.Fatalf("walk %q: %v", p, err)
	}
	st, err := n.Stat()
	if err != nil {
		t.Fatalf("stat %q: %v", p, err)
	}
	return st
}

func content(t *testing.T, fs *FS, p string) string {
	t.Helper()
	n, err := walk(fs, p)
	if err != nil {
		t.Fatalf("walk %q: %v", p, err)
	}
	f, ok := n.(vfs.OpenableNode)
	if !ok {
		t.Fatalf("%q is not openable (%T)", p, n)
	}
	ops, err := f.Open(unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open %q: %v", p, err)
	}
	defer ops.Close()
	b, err := io.ReadAll(io.NewSectionReader(ops, 0, 1<<40))
	if err != nil {
		t.Fatalf("read %q: %v", p, err)
	}
	return string(b)
}

func names(t *testing.T, fs *FS, p string) string {
	t.Helper()
	n, err := walk(fs, p)
	if err != nil {
		t.Fatalf("walk %q: %v", p, err)
	}
	es, err := n.(vfs.DirNode).ReadDir()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return strings.Join(out, " ")
}

func TestTree(t *testing.T) {
	dev := ent{tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}, ""}
	blk := ent{tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8, Devminor: 0, Gid: 6}, ""}
	fifo := ent{tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o600}, ""}
	owned := reg("home/u/.profile", "PATH=/bin\n")
	owned.Uid, owned.Gid, owned.Mode = 1000, 100, 0o4755
	owned.ModTime = time.Unix(1234567890, 123456789)
	owned.Format = tar.FormatPAX // keeps the nanoseconds
	data := mkTar(t,
		dir("./", 0o700),
		dir("etc/", 0o755),
		reg("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
		reg("usr/lib/libc.so.6", "ELF..."), // usr, usr/lib implied
		symlink("lib", "usr/lib"),
		symlink("etc/abs", "/usr/lib/libc.so.6"),
		hardlink("usr/lib/libc-2.36.so", "usr/lib/libc.so.6"),
		hardlink("./etc/libc", "/usr/lib/libc.so.6"), // leading / and ./ dropped
		dev, blk, fifo, owned,
		reg("etc/.wh.shadow", ""),
		reg("etc/.wh..wh..opq", ""),
		reg("empty", ""),
	)
	fs := newFS(t, data)
	root := mustStat(t, fs, "")
	if root.Mode != unix.S_IFDIR|0o700 || root.Ino != 1 || root.Nlink != 2+5 /* dev etc home run usr */ {
		t.Errorf("root: mode %o ino %d nlink %d", root.Mode, root.Ino, root.Nlink)
	}
	if got, want := names(t, fs, ""), "dev empty etc home lib run usr"; got != want {
		t.Errorf("root entries %q, want %q", got, want)
	}
	if got, want := names(t, fs, "etc"), ".wh..wh..opq .wh.shadow abs libc passwd"; got != want {
		t.Errorf("etc entries %q, want %q", got, want)
	}
	for _, c := range []struct {
		path  string
		mode  uint32
		nlink uint64
		size  int64
		uid   uint32
		gid   uint32
		rdev  uint64
	}{
		{"etc", unix.S_IFDIR | 0o755, 2, 4096, 0, 0, 0},
		{"usr", unix.S_IFDIR | 0o755, 3, 4096, 0, 0, 0}, // implied
		{"usr/lib/libc.so.6", unix.S_IFREG | 0o644, 3, 6, 0, 0, 0},
		{"etc/libc", unix.S_IFREG | 0o644, 3, 6, 0, 0, 0},
		{"lib", unix.S_IFLNK | 0o777, 1, 7, 0, 0, 0},
		{"etc/abs", unix.S_IFLNK | 0o777, 1, 18, 0, 0, 0},
		{"dev/null", unix.S_IFCHR | 0o666, 1, 0, 0, 0, unix.Mkdev(1, 3)},
		{"dev/sda", unix.S_IFBLK | 0o660, 1, 0, 0, 6, unix.Mkdev(8, 0)},
		{"run/fifo", unix.S_IFIFO | 0o600, 1, 0, 0, 0, 0},
		{"home/u/.profile", unix.S_IFREG | 0o4755, 1, 10, 1000, 100, 0},
		{"empty", unix.S_IFREG | 0o644, 1, 0, 0, 0, 0},
	} {
		st := mustStat(t, fs, c.path)
		if st.Mode != c.mode || st.Nlink != c.nlink || st.Size != c.size || st.Uid != c.uid || st.Gid != c.gid || st.Rdev != c.rdev {
			t.Errorf("%s: mode %o nlink %d size %d owner %d:%d rdev %#x; want %o %d %d %d:%d %#x",
				c.path, st.Mode, st.Nlink, st.Size, st.Uid, st.Gid, st.Rdev, c.mode, c.nlink, c.size, c.uid, c.gid, c.rdev)
		}
		if st.Dev != root.Dev {
			t.Errorf("%s: dev %#x, root's %#x", c.path, st.Dev, root.Dev)
		}
	}
	if a, b := mustStat(t, fs, "usr/lib/libc.so.6"), mustStat(t, fs, "usr/lib/libc-2.36.so"); a.Ino != b.Ino {
		t.Errorf("hard links: ino %d and %d", a.Ino, b.Ino)
	}
	if a, b := mustStat(t, fs, "etc/passwd"), mustStat(t, fs, "empty"); a.Ino == b.Ino {
		t.Errorf("distinct files share ino %d", a.Ino)
	}
	if st := mustStat(t, fs, "home/u/.profile"); st.Mtime != (unix.Timespec{Sec: 1234567890, Nsec: 123456789}) {
		t.Errorf("mtime %v", st.Mtime)
	}
	if st := mustStat(t, fs, "usr"); st.Mtime.Sec != 0 {
		t.Errorf("implied dir mtime %v", st.Mtime)
	}
	if got := content(t, fs, "etc/libc"); got != "ELF..." {
		t.Errorf("hard link content %q", got)
	}
	if got := content(t, fs, "empty"); got != "" {
		t.Errorf("empty content %q", got)
	}
	for p, want := range map[string]string{"lib": "usr/lib", "etc/abs": "/usr/lib/libc.so.6"} {
		n, _ := walk(fs, p)
		if got, err := n.(vfs.SymlinkNode).Readlink(); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v", p, got, err)
		}
	}
	// ReadDir's Ino and Type agree with Stat.
	n, _ := walk(fs, "dev")
	es, _ := n.(vfs.DirNode).ReadDir()
	for _, e := range es {
		st := mustStat(t, fs, "dev/"+e.Name)
		if e.Ino != st.Ino || e.Type != vfs.DTFromMode(st.Mode) {
			t.Errorf("dirent %s: ino %d type %d; stat ino %d mode %o", e.Name, e.Ino, e.Type, st.Ino, st.Mode)
		}
	}
	for _, p := range []string{"nope", "etc/nope", "etc/passwd/x"} {
		if _, err := walk(fs, p); err != unix.ENOENT && err != unix.ENOTDIR {
			t.Errorf("walk %s: %v", p, err)
		}
	}
}

// TestStableIno: the same tar gives the same numbers (what a cached
// index must reproduce, and what tools comparing st_ino rely on).
func TestStableIno(t *testing.T) {
	data := mkTar(t, reg("b", "1"), reg("a/x", "2"), dir("c", 0o755), reg("c/y", "3"))
	a, b := newFS(t, data), newFS(t, data)
	for _, p := range []string{"a", "a/x", "b", "c", "c/y"} {
		if x, y := mustStat(t, a, p), mustStat(t, b, p); x.Ino != y.Ino {
			t.Errorf("%s: ino %d then %d", p, x.Ino, y.Ino)
		}
	}
	if a.Root().(*Dir).fs.dev == b.Root().(*Dir).fs.dev {
		t.Error("two instances share a Dev")
	}
}

func TestReplace(t *testing.T) {
	d2 := dir("d", 0o700)
	d2.Uid = 5
	data := mkTar(t,
		reg("f", "old content"),
		reg("f", "new"),
		dir("d", 0o755), reg("d/kept", "k"),
		d2, // merges: metadata replaced, children kept
		dir("gone", 0o755), reg("gone/x", "x"), hardlink("keep-x", "gone/x"),
		reg("gone", "now a file"), // replaces the dir and its subtree
		reg("todir", "file"), dir("todir", 0o750), reg("todir/y", "y"),
		reg("l", "target"), hardlink("l2", "l"), reg("l", "replaced"), // l2 keeps the old inode
		symlink("s", "a"), symlink("s", "b"),
	)
	fs := newFS(t, data)
	if got := content(t, fs, "f"); got != "new" {
		t.Errorf("f = %q", got)
	}
	if st := mustStat(t, fs, "d"); st.Mode != unix.S_IFDIR|0o700 || st.Uid != 5 {
		t.Errorf("merged dir: mode %o uid %d", st.Mode, st.Uid)
	}
	if got := content(t, fs, "d/kept"); got != "k" {
		t.Errorf("d/kept = %q", got)
	}
	if got := content(t, fs, "gone"); got != "now a file" {
		t.Errorf("gone = %q", got)
	}
	if got := content(t, fs, "keep-x"); got != "x" {
		t.Errorf("keep-x = %q", got)
	}
	if st := mustStat(t, fs, "keep-x"); st.Nlink != 1 {
		t.Errorf("keep-x nlink %d (its other name was replaced)", st.Nlink)
	}
	if st := mustStat(t, fs, "todir"); st.Mode != unix.S_IFDIR|0o750 {
		t.Errorf("todir mode %o", st.Mode)
	}
	if got := content(t, fs, "l"); got != "replaced" {
		t.Errorf("l = %q", got)
	}
	if got := content(t, fs, "l2"); got != "target" {
		t.Errorf("l2 = %q", got)
	}
	if a, b := mustStat(t, fs, "l"), mustStat(t, fs, "l2"); a.Ino == b.Ino || a.Nlink != 1 || b.Nlink != 1 {
		t.Errorf("l, l2: ino %d %d nlink %d %d", a.Ino, b.Ino, a.Nlink, b.Nlink)
	}
	n, _ := walk(fs, "s")
	if got, _ := n.(vfs.SymlinkNode).Readlink(); got != "b" {
		t.Errorf("s -> %q", got)
	}
	if got, want := names(t, fs, ""), "d f gone keep-x l l2 s todir"; got != want {
		t.Errorf("root %q, want %q", got, want)
	}
	// The replaced subtree's inodes are gone from the index too.
	// root d d/kept f gone keep-x l l2 s todir todir/y
	if got, want := fs.Inodes(), 11; got != want {
		t.Errorf("%d inodes, want %d", got, want)
	}
}

func TestLongNames(t *testing.T) {
	long := strings.Repeat("d", 120) + "/" + strings.Repeat("f", 150)
	target := "/" + strings.Repeat("t", 200)
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		t.Run(format.String(), func(t *testing.T) {
			f := reg(long, "long")
			f.Format = format
			l := symlink("sym", target)
			l.Format = format
			h := hardlink("hl", long)
			h.Format = format
			fs := newFS(t, mkTar(t, f, l, h))
			if got := content(t, fs, long); got != "long" {
				t.Errorf("content %q", got)
			}
			if got := content(t, fs, "hl"); got != "long" {
				t.Errorf("hard link content %q", got)
			}
			n, _ := walk(fs, "sym")
			if got, _ := n.(vfs.SymlinkNode).Readlink(); got != target {
				t.Errorf("long target %q", got)
			}
		})
	}
}

// TestReadAt: reads stay within the entry (never the next entry's bytes
// or the tar's padding), at every offset and size.
func TestReadAt(t *testing.T) {
	body := "0123456789abcdefghij"
	fs := newFS(t, mkTar(t, reg("a", body), reg("b", "NEXT-ENTRY")))
	n, _ := walk(fs, "a")
	ops, err := n.(vfs.OpenableNode).Open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off <= int64(len(body))+3; off++ {
		for size := 0; size <= len(body)+5; size++ {
			buf := make([]byte, size)
			got, err := ops.ReadAt(buf, off)
			want := ""
			if off < int64(len(body)) {
				want = body[off:min(int(off)+size, len(body))]
			}
			if string(buf[:got]) != want {
				t.Fatalf("ReadAt(%d, %d) = %q, want %q", size, off, buf[:got], want)
			}
			if got < size && err != io.EOF {
				t.Fatalf("ReadAt(%d, %d): short read with %v", size, off, err)
			}
		}
	}
	if _, err := ops.ReadAt(make([]byte, 1), -1); err != unix.EINVAL {
		t.Errorf("negative offset: %v", err)
	}
}

// TestConcurrentReads: readers share the tar with no offset of their own.
func TestConcurrentReads(t *testing.T) {
	var ents []ent
	bodies := map[string]string{}
	for i := range 16 {
		name := fmt.Sprintf("f%02d", i)
		bodies[name] = strings.Repeat(string(rune('a'+i)), 5000+i*100)
		ents = append(ents, reg(name, bodies[name]))
	}
	path := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(path, mkTar(t, ents...), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("f%02d", (g+i)%16)
				n, err := walk(fs, name)
				if err != nil {
					errs <- err
					return
				}
				ops, _ := n.(vfs.OpenableNode).Open(unix.O_RDONLY)
				off := int64(i * 37 % 4000)
				buf := make([]byte, 777)
				k, err := ops.ReadAt(buf, off)
				if err != nil || string(buf[:k]) != bodies[name][off:off+777] {
					errs <- fmt.Errorf("%s at %d: %d bytes, %v", name, off, k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestXattrs(t *testing.T) {
	f := reg("bin/ping", "x")
	f.PAXRecords = map[string]string{
		"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00",
		"SCHILY.xattr.user.mime":           "text/plain",
		"comment":                          "not an attribute",
	}
	fs := newFS(t, mkTar(t, f, reg("plain", "")))
	n, _ := walk(fs, "bin/ping")
	x := n.(vfs.Xattrer)
	names, err := x.ListXattr()
	if err != nil || strings.Join(names, ",") != "security.capability,user.mime" {
		t.Errorf("ListXattr = %q, %v", names, err)
	}
	if v, err := x.GetXattr("user.mime"); err != nil || string(v) != "text/plain" {
		t.Errorf("GetXattr = %q, %v", v, err)
	}
	if v, err := x.GetXattr("security.capability"); err != nil || string(v) != f.PAXRecords["SCHILY.xattr.security.capability"] {
		t.Errorf("GetXattr capability = %q, %v", v, err)
	}
	if _, err := x.GetXattr("user.none"); err != unix.ENODATA {
		t.Errorf("missing attribute: %v", err)
	}
	if err := x.SetXattr("user.a", nil, 0); err != unix.EROFS {
		t.Errorf("SetXattr: %v", err)
	}
	p, _ := walk(fs, "plain")
	if names, _ := p.(vfs.Xattrer).ListXattr(); len(names) != 0 {
		t.Errorf("plain file lists %q", names)
	}
}

func TestErrors(t *testing.T) {
	good := mkTar(t, reg("a", strings.Repeat("x", 3000)), reg("b", "y"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	garbage := bytes.Repeat([]byte("not a tar header "), 64)
	// archive/tar writes no sparse files: made by hand, a PAX 0.1 one
	// (the map in the header) and an old GNU one.
	paxSparse := slices.Concat(paxHeader("GNU.sparse.numblocks=1", "GNU.sparse.map=0,4", "GNU.sparse.realsize=100"),
		rawHeader("sparse", tar.TypeReg, 4), make([]byte, 512), make([]byte, 1024))
	gnuSparse := rawHeader("sparse", tar.TypeGNUSparse, 0)
	copy(gnuSparse[257:], "ustar  \x00")     // the GNU magic
	copy(gnuSparse[483:], "00000000144\x00") // realsize 100
	fixSum(gnuSparse)
	gnuSparse = slices.Concat(gnuSparse, make([]byte, 1024))
	for _, c := range []struct {
		name string
		data []byte
		want error
		text string // in the one-line message
	}{
		{"dotdot", mkTar(t, reg("../evil", "x")), ErrEscape, `"../evil"`},
		{"dotdot-deep", mkTar(t, reg("a/b/../../../evil", "x")), ErrEscape, "evil"},
		{"link-outside", mkTar(t, hardlink("x", "../../etc/passwd")), ErrEscape, `"../../etc/passwd"`},
		{"link-missing", mkTar(t, hardlink("x", "nowhere")), ErrEscape, `"nowhere"`},
		{"link-later", mkTar(t, hardlink("x", "y"), reg("y", "")), ErrEscape, `"y"`},
		{"link-dir", mkTar(t, dir("d", 0o755), hardlink("x", "d")), ErrCorrupt, `"x"`},
		{"under-file", mkTar(t, reg("f", ""), reg("f/x", "")), ErrCorrupt, `"f/x"`},
		{"under-symlink", mkTar(t, symlink("s", "/etc"), reg("s/passwd", "")), ErrCorrupt, `"s/passwd"`},
		{"root-file", mkTar(t, reg(".", "")), ErrCorrupt, `"."`},
		{"long-component", mkTar(t, ent{tar.Header{Typeflag: tar.TypeReg, Name: strings.Repeat("n", 256), Format: tar.FormatPAX}, ""}), ErrCorrupt, "255"},
		{"truncated-data", good[:1024], ErrCorrupt, `"a"`},
		{"truncated-header", good[:512+3072+100], ErrCorrupt, "truncated"},
		{"garbage", garbage, ErrCorrupt, "first header"},
		{"gzip", gz.Bytes(), ErrCorrupt, "gzip"},
		{"sparse-pax", paxSparse, ErrUnsupported, `"sparse"`},
		{"sparse-gnu", gnuSparse, ErrUnsupported, `"sparse"`},
		{"bad-type", slices.Concat(rawHeader("vol", 'V', 0), make([]byte, 1024)), ErrUnsupported, `"vol"`},
		{"empty-symlink", mkTar(t, symlink("s", "")), ErrCorrupt, `"s"`},
		{"long-name", mkTar(t, ent{tar.Header{Typeflag: tar.TypeReg, Name: strings.Repeat("a/", 2048) + "f", Format: tar.FormatPAX}, ""}), ErrUnsupported, "4095"},
		{"implied-dirs", impliedBomb(t), ErrUnsupported, "implied directories"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(bytes.NewReader(c.data), int64(len(c.data)), Options{})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.text) {
				t.Errorf("message %q: want one line with %q", msg, c.text)
			}
		})
	}
}

// impliedBomb is a small tar whose names imply many directories: 100
// entries of about 5 KB each naming 2,000 new ones.
func impliedBomb(t *testing.T) []byte {
	var ents []ent
	for i := range 100 {
		ents = append(ents, ent{tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%d/", i) + strings.Repeat("a/", 2000) + "f", Format: tar.FormatPAX}, ""})
	}
	return mkTar(t, ents...)
}

// rawHeader is a ustar header block made by hand, for what archive/tar
// will not write.
func rawHeader(name string, typ byte, size int) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	fixSum(b)
	return b
}

// fixSum sets a header block's checksum.
func fixSum(b []byte) {
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
}

// paxHeader is a PAX extended header (type x) holding the records, padded.
func paxHeader(recs ...string) []byte {
	var body []byte
	for _, r := range recs {
		n := len(r) + 3
		for len(fmt.Sprintf("%d %s\n", n, r)) != n {
			n++
		}
		body = append(body, fmt.Sprintf("%d %s\n", n, r)...)
	}
	out := append(rawHeader("PaxHeader", tar.TypeXHeader, len(body)), body...)
	return append(out, make([]byte, (512-len(body)%512)%512)...)
}

// TestEmpty: an empty layer (no bytes, or only the end marker) is an
// empty root.
func TestEmpty(t *testing.T) {
	for _, data := range [][]byte{nil, mkTar(t)} {
		fs := newFS(t, data)
		if got := names(t, fs, ""); got != "" {
			t.Errorf("entries %q", got)
		}
	}
}

// TestVFS mounts a tarfs and checks what the guest sees through the VFS:
// reads, EROFS for every change, ENXIO for devices and FIFOs, statfs.
func TestVFS(t *testing.T) {
	dev := ent{tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}, ""}
	fifo := ent{tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o666}, ""}
	w := reg("writable", "data")
	w.Mode = 0o666
	fs := newFS(t, mkTar(t, reg("etc/os-release", "ID=test\n"), symlink("etc/link", "/etc/os-release"), dev, fifo, w))
	v := vfs.New(memfs.New(0))
	if err := v.Mkdir("/img", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := v.Mount("/img", fs); err != nil {
		t.Fatal(err)
	}
	f, err := v.Open("/img/etc/link", unix.O_RDONLY, 0)
	if err == nil {
		// An absolute target resolves in the guest's root, not the
		// image's: /etc/os-release of the memfs root does not exist.
		f.DecRef()
		t.Error("absolute symlink resolved inside the mount")
	}
	f, err = v.Open("/img/etc/os-release", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	f.DecRef()
	if string(buf[:n]) != "ID=test\n" {
		t.Errorf("read %q", buf[:n])
	}
	for _, c := range []struct {
		what string
		err  error
		want unix.Errno
	}{
		{"open O_RDWR", openErr(v, "/img/writable", unix.O_RDWR), unix.EROFS},
		{"open O_TRUNC", openErr(v, "/img/writable", unix.O_RDONLY|unix.O_TRUNC), unix.EROFS},
		{"create", openErr(v, "/img/new", unix.O_RDWR|unix.O_CREAT), unix.EROFS},
		{"open char dev", openErr(v, "/img/dev/null", unix.O_RDONLY), unix.ENXIO},
		{"open fifo", openErr(v, "/img/fifo", unix.O_RDONLY|unix.O_NONBLOCK), unix.ENXIO},
	} {
		if vfs.ErrnoOf(c.err) != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.err, c.want)
		}
	}
	sf, err := v.StatFSAt(vfs.Loc{}, "/img/etc")
	if err != nil || sf.Type != Magic || sf.Flags&unix.ST_RDONLY == 0 || sf.Files != uint64(fs.Inodes()) {
		t.Errorf("statfs %+v, %v", sf, err)
	}
}

func openErr(v *vfs.VFS, p string, flags int) error {
	f, err := v.Open(p, flags, 0o644)
	if err == nil {
		f.DecRef()
	}
	return err
}

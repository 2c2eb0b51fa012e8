package tarfs

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

const testKey = "sha256:0123456789abcdef"

// sampleTar has one of everything the index holds.
func sampleTar(t testing.TB) []byte {
	x := reg("etc/ping", "pong")
	x.PAXRecords = map[string]string{"SCHILY.xattr.user.a": "1", "SCHILY.xattr.user.b": "22"}
	return mkTar(t, dir("etc", 0o755), reg("etc/passwd", "root:x:0:0\n"), x,
		symlink("bin", "usr/bin"), reg("usr/bin/sh", "#!"), hardlink("usr/bin/dash", "usr/bin/sh"),
		ent{tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}, ""},
		ent{tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600}, ""},
		reg("a/b/c/d/e", "deep"))
}

func writeTar(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, path string, opts Options) *FS {
	t.Helper()
	fs, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestCache(t *testing.T) {
	tarPath := writeTar(t, sampleTar(t))
	dir := t.TempDir()
	opts := Options{IndexDir: dir, Key: testKey}
	first := open(t, tarPath, opts)
	if first.Cached() {
		t.Fatal("first open used a cache")
	}
	second := open(t, tarPath, opts)
	if !second.Cached() {
		t.Fatal("second open did not use the cache")
	}
	if !sameIndex(first.idx, second.idx) {
		t.Error("cached index differs from the built one")
	}
	if got := content(t, second, "usr/bin/dash"); got != "#!" {
		t.Errorf("read through the cached index: %q", got)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 || files[0].Name() != "sha256-0123456789abcdef.tarfs-index" {
		t.Errorf("cache dir holds %v", files)
	}
	// No key: nothing is cached.
	nokey := t.TempDir()
	open(t, tarPath, Options{IndexDir: nokey})
	if files, _ := os.ReadDir(nokey); len(files) != 0 {
		t.Errorf("cached without a key: %v", files)
	}
	// An unwritable cache dir is no error.
	fs, err := Open(tarPath, Options{IndexDir: filepath.Join(dir, "missing"), Key: testKey})
	if err != nil {
		t.Errorf("unwritable cache: %v", err)
	} else {
		fs.Close()
	}
}

// TestCacheNotAFile: a FIFO or a symlink where the index should be is
// ignored (and replaced), without blocking.
func TestCacheNotAFile(t *testing.T) {
	tarPath := writeTar(t, sampleTar(t))
	for _, kind := range []string{"fifo", "symlink"} {
		dir := t.TempDir()
		p := cachePath(dir, testKey)
		var err error
		if kind == "fifo" {
			err = unix.Mkfifo(p, 0o600)
		} else {
			// A valid index of this very tar, but behind a link.
			other := filepath.Join(t.TempDir(), "index")
			open(t, tarPath, Options{IndexDir: filepath.Dir(other), Key: testKey})
			if err = os.Rename(cachePath(filepath.Dir(other), testKey), other); err == nil {
				err = os.Symlink(other, p)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if open(t, tarPath, Options{IndexDir: dir, Key: testKey}).Cached() {
			t.Errorf("%s: used", kind)
		}
		if !open(t, tarPath, Options{IndexDir: dir, Key: testKey}).Cached() {
			t.Errorf("%s: not replaced by a good index", kind)
		}
	}
	// A FIFO given as the tar is an error, at once.
	fifo := filepath.Join(t.TempDir(), "fifo.tar")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fifo, Options{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo as the tar: %v", err)
	}
}

func TestBadKey(t *testing.T) {
	tarPath := writeTar(t, sampleTar(t))
	for _, key := range []string{"../../etc/x", "sha256:a/b", ".hidden", "sha256:\x00", "sp ace"} {
		if _, err := Open(tarPath, Options{IndexDir: t.TempDir(), Key: key}); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
}

// TestCacheRejected damages the cached index in every way the loader
// checks, including lies under a valid checksum: each open must rebuild
// (not Cached), serve the tar's real tree, and rewrite a good cache.
func TestCacheRejected(t *testing.T) {
	data := sampleTar(t)
	built := newFS(t, data)
	good := encodeIndex(built.idx, testKey, int64(len(data)))
	resign := func(b []byte) []byte {
		sum := sha256.Sum256(b[:len(b)-sha256.Size])
		return append(b[:len(b)-sha256.Size:len(b)-sha256.Size], sum[:]...)
	}
	lie := func(f func(x *index)) []byte {
		x, err := decodeIndex(good, testKey, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		f(x)
		return encodeIndex(x, testKey, int64(len(data)))
	}
	ino := func(x *index, p string) *inode {
		n, err := walk(&FS{idx: x}, p)
		if err != nil {
			t.Fatalf("walk %s: %v", p, err)
		}
		switch n := n.(type) {
		case *File:
			return n.ino()
		case *Dir:
			return n.ino()
		case *Symlink:
			return n.ino()
		}
		return n.(*Special).ino()
	}
	for _, c := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"flipped", func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }()},
		{"version", resign(func() []byte { b := bytes.Clone(good); b[8] = 9; return b }())},
		{"other-key", encodeIndex(built.idx, "sha256:other", int64(len(data)))},
		{"other-size", encodeIndex(built.idx, testKey, int64(len(data))+512)},
		{"data-past-end", lie(func(x *index) { ino(x, "etc/passwd").off = int64(len(data)) - 2 })},
		{"negative-off", lie(func(x *index) { ino(x, "etc/passwd").off = -1 })},
		{"symlink-outside", lie(func(x *index) { ino(x, "bin").off = int64(len(x.strs)) })},
		{"dir-range", lie(func(x *index) { ino(x, "etc").size = int64(len(x.dirents)) })},
		{"dir-cycle", lie(func(x *index) { x.dirents[len(x.dirents)-1].ino = 0 })},
		{"dir-twice", lie(func(x *index) {
			d, _ := walk(&FS{idx: x}, "etc")
			x.dirents[len(x.dirents)-1].ino = d.(*Dir).i
		})},
		{"unsorted", lie(func(x *index) { x.dirents[0], x.dirents[1] = x.dirents[1], x.dirents[0] })},
		{"bad-name", lie(func(x *index) { x.dirents[0].len = 0 })},
		{"ino-range", lie(func(x *index) { x.dirents[0].ino = uint32(len(x.inodes)) })},
		{"nlink", lie(func(x *index) { ino(x, "usr/bin/sh").nlink = 1 })},
		{"type", lie(func(x *index) { ino(x, "etc/passwd").mode = 0o170644 })},
		{"xattr-range", lie(func(x *index) { ino(x, "etc/ping").xlen++ })},
		{"xattr-order", lie(func(x *index) {
			x.xattrs = "\x01b\x01\x00\x00\x00b\x01a\x01\x00\x00\x00a"
			in := ino(x, "etc/ping")
			in.xoff, in.xlen = 0, uint32(len(x.xattrs))
		})},
		{"fifo-rdev", lie(func(x *index) { ino(x, "fifo").rdev = 1 })},
		{"root-file", lie(func(x *index) { x.inodes[0].mode = unix.S_IFREG | 0o644 })},
	} {
		t.Run(c.name, func(t *testing.T) {
			tarPath := writeTar(t, data)
			dir := t.TempDir()
			if err := os.WriteFile(cachePath(dir, testKey), c.file, 0o600); err != nil {
				t.Fatal(err)
			}
			opts := Options{IndexDir: dir, Key: testKey}
			fs := open(t, tarPath, opts)
			if fs.Cached() {
				t.Fatal("damaged cache used")
			}
			if !sameIndex(fs.idx, built.idx) {
				t.Fatal("rebuilt index differs")
			}
			if !open(t, tarPath, opts).Cached() {
				t.Error("cache not rewritten")
			}
		})
	}
}

// exercise walks everything an index serves, as a guest could, so a
// loaded index that slipped past the checks panics here.
func exercise(fs *FS) {
	queue := []*Dir{fs.Root().(*Dir)}
	for steps := 0; len(queue) > 0 && steps < 1<<16; steps++ {
		d := queue[0]
		queue = queue[1:]
		es, _ := d.ReadDir()
		for _, e := range es {
			n, err := d.Lookup(e.Name)
			if err != nil {
				continue
			}
			n.Stat()
			if x, ok := n.(vfs.Xattrer); ok {
				names, _ := x.ListXattr()
				for _, nm := range names {
					x.GetXattr(nm)
				}
			}
			switch n := n.(type) {
			case *Dir:
				queue = append(queue, n)
			case *Symlink:
				n.Readlink()
			case *File:
				ops, _ := n.Open(unix.O_RDONLY)
				buf := make([]byte, 64)
				ops.ReadAt(buf, 0)
				ops.ReadAt(buf, max(0, n.ino().size-10))
			}
		}
	}
}

// FuzzDecodeIndex feeds the loader arbitrary files (re-signed, so the
// mutations reach the checks past the checksum): it must never panic,
// and whatever it accepts must be safe to serve. Run it with
//
//	go test -run '^$' -fuzz FuzzDecodeIndex -fuzzminimizetime 20x ./kernel/fsimpl/tarfs/
//
// (minimizing the 5 KB seed with the default 60s stalls the engine).
func FuzzDecodeIndex(f *testing.F) {
	data := sampleTar(f)
	x, err := build(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		f.Fatal(err)
	}
	good := encodeIndex(x, testKey, int64(len(data)))
	f.Add(good)
	f.Add(good[:len(good)-40])
	f.Add([]byte(cacheMagic))
	empty, _ := build(bytes.NewReader(nil), 0)
	f.Add(encodeIndex(empty, testKey, int64(len(data))))
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.Clone(b) // the engine's input must not change
		if len(b) >= sha256.Size {
			sum := sha256.Sum256(b[:len(b)-sha256.Size])
			copy(b[len(b)-sha256.Size:], sum[:])
		}
		x, err := decodeIndex(b, testKey, int64(len(data)))
		if err != nil {
			if !errors.Is(err, errBadIndex) {
				t.Fatalf("error %v is not errBadIndex", err)
			}
			return
		}
		exercise(&FS{r: bytes.NewReader(data), size: int64(len(data)), idx: x})
	})
}

// FuzzEntries builds tars from lines "T name[|link]" (T: f file, d dir,
// l symlink, h hard link, p FIFO, c char device) and checks what New
// makes of any sequence of them: one of its three errors, or an index
// that passes every check a cached index must pass (a tree, sorted
// names, right link counts, data within the tar) and serves safely.
func FuzzEntries(f *testing.F) {
	f.Add("d a\nf a/x\nh b|a/x\nl c|a\nf a/x\nd a\n")
	f.Add("f x/y/z\nd x\nf x\nh y|x\nf ../e\n")
	f.Add("f a\nh a|a\nl ./b|/abs\np a/b\nc dev\nd .\n")
	f.Fuzz(func(t *testing.T, script string) {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for line := range strings.SplitSeq(script, "\n") {
			if len(line) < 3 || line[1] != ' ' {
				continue
			}
			name, link, _ := strings.Cut(line[2:], "|")
			h := &tar.Header{Name: name, Linkname: link, Mode: 0o644, Format: tar.FormatPAX}
			body := ""
			switch line[0] {
			case 'f':
				h.Typeflag, body = tar.TypeReg, name
			case 'd':
				h.Typeflag = tar.TypeDir
			case 'l':
				h.Typeflag = tar.TypeSymlink
			case 'h':
				h.Typeflag = tar.TypeLink
			case 'p':
				h.Typeflag = tar.TypeFifo
			case 'c':
				h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, 1, 3
			default:
				continue
			}
			h.Size = int64(len(body))
			if tw.WriteHeader(h) != nil {
				return // archive/tar refused it: nothing to test
			}
			tw.Write([]byte(body))
		}
		if tw.Close() != nil {
			return
		}
		data := b.Bytes()
		fs, err := New(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrEscape) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v is none of tarfs's", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		if err := fs.idx.check(fs.size); err != nil {
			t.Fatalf("built index fails the checks: %v", err)
		}
		exercise(fs)
	})
}

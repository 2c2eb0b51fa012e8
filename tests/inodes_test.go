package tests

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// The inode tests: the guest never sees a host inode number, yet (st_dev,
// st_ino) behave as on Linux for every tool that compares them.

// inodeDirs makes the two host directories testdata/inodes.c expects: A
// with files a and b, a-link (a hard link to a) and sub/; B with c.
func inodeDirs(t *testing.T) (a, b string) {
	t.Helper()
	a, b = t.TempDir(), t.TempDir()
	for _, f := range []struct{ path, data string }{{"a", "aaaa"}, {"b", "bb"}, {"sub/s", "s"}} {
		p := filepath.Join(a, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(a, "a"), filepath.Join(a, "a-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "c"), []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	return a, b
}

const inodesWant = `stat, lstat, fstat, newfstatat and statx agree: yes
the same numbers again: yes
hard link is the same file: yes
distinct files differ: yes
files of one mount share st_dev: yes
the other mount's file is not the same: yes, nor its root: yes
d_ino == st_ino in A: yes
entries listed in A: 5
d_ino == st_ino in B: yes
mapped file in /proc/self/maps with its st_dev and st_ino: yes
TMP: APIs agree: yes, hard link same: yes, distinct files differ: yes
TMP: a renamed file keeps its number: yes
`

// rawLine is one "RAW" line of testdata/inodes.c: a path's (dev, ino), or
// (path "maps") an inode number shown in /proc/self/maps.
type rawLine struct {
	path     string
	dev, ino uint64
}

// splitRaw separates the RAW lines from the rest of the output.
func splitRaw(t *testing.T, out []byte) (rest []byte, raw []rawLine) {
	t.Helper()
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "RAW ") {
			b.WriteString(line + "\n")
			continue
		}
		f := strings.Fields(line)
		var r rawLine
		var err error
		switch {
		case len(f) == 3 && f[1] == "maps":
			r.path = "maps"
			r.ino, err = strconv.ParseUint(f[2], 10, 64)
		case len(f) == 4:
			r.path = f[1]
			if r.dev, err = strconv.ParseUint(f[2], 10, 64); err == nil {
				r.ino, err = strconv.ParseUint(f[3], 10, 64)
			}
		default:
			t.Fatalf("bad RAW line %q", line)
		}
		if err != nil {
			t.Fatalf("bad RAW line %q: %v", line, err)
		}
		raw = append(raw, r)
	}
	return b.Bytes(), raw
}

// hostInodes returns the inode numbers of everything below the roots.
func hostInodes(t *testing.T, roots ...string) map[uint64]string {
	t.Helper()
	inos := map[uint64]string{}
	for _, root := range roots {
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			inos[fi.Sys().(*syscall.Stat_t).Ino] = p
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return inos
}

func lstatHost(t *testing.T, path string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestInodes runs testdata/inodes.c natively and under litebox on two host
// mounts and /tmp, then checks the guest's raw numbers against the host's
// stat of the same files.
func TestInodes(t *testing.T) {
	v := staticVariant
	bin := program(t, "inodes", v)
	a, b := inodeDirs(t)
	native := runNative(t, "", nil, nil, bin, a, b, t.TempDir())
	nativeOut, _ := splitRaw(t, native.Stdout)
	if native.ExitCode != 0 || string(nativeOut) != inodesWant {
		t.Fatalf("native run: exit %d\n%s", native.ExitCode, lineDiff([]byte(inodesWant), nativeOut))
	}

	g := harness.Guest{Mounts: []string{workMount(v), a + ":/a", b + ":/b"}}
	got := runGuest(t, g, nil, "/work/inodes", "/a", "/b", "/tmp")
	checkExitedNormally(t, got)
	gotOut, raw := splitRaw(t, got.Stdout)
	checkResult(t, harness.Result{ExitCode: got.ExitCode, Stdout: gotOut, Stderr: got.Stderr},
		harness.Result{Stdout: []byte(inodesWant)}, true)

	// No host inode number of the mounted files (or of the program, which
	// /proc/self/maps shows) appears anywhere in the guest's output.
	host := hostInodes(t, a, b, bin)
	devs := map[string]uint64{}
	for _, r := range raw {
		if p, ok := host[r.ino]; ok {
			t.Errorf("guest %s shows inode %d, the host's number of %s", r.path, r.ino, p)
		}
		if r.path == "maps" {
			continue
		}
		mount, rest, _ := strings.Cut(strings.TrimPrefix(r.path, "/"), "/")
		var hostPath string
		switch mount {
		case "a":
			hostPath = filepath.Join(a, rest)
		case "b":
			hostPath = filepath.Join(b, rest)
		case "tmp":
		default:
			t.Fatalf("unexpected RAW path %q", r.path)
		}
		if d, ok := devs[mount]; ok && d != r.dev {
			t.Errorf("%s: st_dev %d, other files of the mount have %d", r.path, r.dev, d)
		}
		devs[mount] = r.dev
		if hostPath != "" {
			hst := lstatHost(t, hostPath)
			if r.ino == hst.Ino || r.dev == hst.Dev {
				t.Errorf("%s: guest (dev %d, ino %d), host (dev %d, ino %d): host numbers leak",
					r.path, r.dev, r.ino, hst.Dev, hst.Ino)
			}
		}
	}
	// Each mount has its own st_dev, even where the host directories share
	// a file system.
	if len(devs) != 3 || devs["a"] == devs["b"] || devs["a"] == devs["tmp"] || devs["b"] == devs["tmp"] {
		t.Errorf("st_dev per mount: %v, want three distinct", devs)
	}
}

// TestInodeTools runs tools that compare (st_dev, st_ino) on a host mount:
// find -samefile/-inum, du (counts a hard-linked file once), cp -a and tar
// (keep hard links), python's os.path.samefile.
func TestInodeTools(t *testing.T) {
	needBusybox(t)
	a, _ := inodeDirs(t)
	script := `cd "$1" || exit 1
echo "find -samefile a: $(find . -samefile ./a | sort | tr '\n' ' ')"
echo "find -inum: $(find . -inum "$(stat -c %i a)" | sort | tr '\n' ' ')"
echo "du -a lists a hard-linked file once: $(du -a . | grep -c '/a')"
cp -a . "$2/copy"
[ "$(stat -c %i "$2/copy/a")" = "$(stat -c %i "$2/copy/a-link")" ] && echo "cp -a kept the hard link"
[ "$(stat -c %i "$2/copy/a")" != "$(stat -c %i "$2/copy/b")" ] && echo "cp -a: distinct files stay distinct"
tar cf "$2/x.tar" . && mkdir "$2/x" && tar xf "$2/x.tar" -C "$2/x"
[ "$(stat -c %i "$2/x/a")" = "$(stat -c %i "$2/x/a-link")" ] && echo "tar kept the hard link"
[ "$(stat -c %h "$2/x/a")" = 2 ] && echo "tar: link count 2"
`
	want := `find -samefile a: ./a ./a-link 
find -inum: ./a ./a-link 
du -a lists a hard-linked file once: 1
cp -a kept the hard link
cp -a: distinct files stay distinct
tar kept the hard link
tar: link count 2
`
	args := []string{"sh", "-c", script, "sh"}
	native := runNative(t, "", nil, nil, append([]string{busyboxPath}, append(args, a, t.TempDir())...)...)
	checkResult(t, native, harness.Result{Stdout: []byte(want)}, true)
	g := harness.Guest{Mounts: []string{a + ":/a"}}
	got := runGuest(t, g, nil, busyboxPath, append(args, "/a", "/tmp")...)
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)

	if _, err := os.Stat(pythonPath); err != nil {
		skipOrFail(t, "python3 is needed at %s: %v", pythonPath, err)
	}
	py := `import os, sys
d = sys.argv[1]
j = lambda n: os.path.join(d, n)
print(os.path.samefile(j("a"), j("a-link")), os.path.samefile(j("a"), j("b")), os.path.samefile(d, j(".")))
st = os.stat(j("a"))
print(os.stat(j("a-link")).st_ino == st.st_ino, os.lstat(j("a")) == os.stat(j("a")))
`
	native = runNative(t, "", nil, nil, pythonPath, "-c", py, a)
	checkResult(t, native, harness.Result{Stdout: []byte("True False True\nTrue True\n")}, true)
	got = runGuest(t, g, nil, pythonPath, "-c", py, "/a")
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
}

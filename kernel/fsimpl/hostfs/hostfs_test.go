package hostfs_test

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

const secret = "TOP SECRET"

func wantErrno(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	var got unix.Errno
	if err != nil && !errors.As(err, &got) {
		t.Fatalf("%s: error %v is not an errno", what, err)
	}
	if got != want {
		t.Fatalf("%s: got errno %v (%d), want %v (%d)", what, got, got, want, want)
	}
}

func wantErrnoIn(t *testing.T, what string, err error, want ...unix.Errno) {
	t.Helper()
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	t.Fatalf("%s: got %v, want one of %v", what, err, want)
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// hostLayout builds, under a temp dir:
//
//	outside/secret.txt        outside/inner/file.txt    (never reachable)
//	root/hello.txt            root/dir/sub/deep.txt     root/shadow (0640)
//	root/ssh/id_rsa           root/empty/               root/sticky/ (1777)
//	root/etc_link -> /etc     root/up -> ../../         root/dir/up -> ../..
//	root/up_secret -> ../outside/secret.txt
//	root/abs_secret -> <abs>/outside/secret.txt
//	root/abs_dir -> <abs>/outside
//	root/dotdot_chain -> dir/../../outside
//	root/proc_root -> /proc/self/root
//	root/to_shadow -> shadow  root/loop -> loop
//
// and returns the absolute paths of the base and of root.
func hostLayout(t *testing.T) (base, root string) {
	t.Helper()
	base = t.TempDir()
	root = filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{
		outside, filepath.Join(outside, "inner"), root,
		filepath.Join(root, "dir/sub"), filepath.Join(root, "ssh"), filepath.Join(root, "empty"),
	} {
		must(t, "mkdir", os.MkdirAll(d, 0o755))
	}
	files := map[string]string{
		"outside/secret.txt":     secret,
		"outside/inner/file.txt": secret,
		"root/hello.txt":         "hello",
		"root/dir/sub/deep.txt":  "deep",
		"root/shadow":            "root:hash",
		"root/ssh/id_rsa":        "key",
	}
	for name, content := range files {
		must(t, "write", os.WriteFile(filepath.Join(base, name), []byte(content), 0o644))
	}
	must(t, "chmod", os.Chmod(filepath.Join(root, "shadow"), 0o640))
	links := map[string]string{
		"etc_link":     "/etc",
		"up":           "../../",
		"dir/up":       "../..",
		"up_secret":    "../outside/secret.txt",
		"abs_secret":   filepath.Join(outside, "secret.txt"),
		"abs_dir":      outside,
		"dotdot_chain": "dir/../../outside",
		"proc_root":    "/proc/self/root",
		"to_shadow":    "shadow",
		"loop":         "loop",
	}
	for name, target := range links {
		must(t, "symlink", os.Symlink(target, filepath.Join(root, name)))
	}
	return base, root
}

func newFS(t *testing.T, dir string, opts hostfs.Options) *hostfs.FS {
	t.Helper()
	fs, err := hostfs.New(dir, opts)
	must(t, "hostfs.New", err)
	t.Cleanup(func() { fs.Close() })
	return fs
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
		if err != nil {
			return sb.String(), err
		}
		if n == 0 {
			return sb.String(), nil
		}
		sb.Write(buf[:n])
	}
}

func writeFile(t *testing.T, v *vfs.VFS, path, content string) {
	t.Helper()
	f, err := v.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	must(t, "create "+path, err)
	defer f.DecRef()
	_, err = f.Write([]byte(content))
	must(t, "write "+path, err)
}

// hostSnapshot describes every entry under dir: type, mode, size, mtime,
// content and link target, to prove that nothing changed.
func hostSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			desc += " " + string(data)
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = desc
		return nil
	})
	must(t, "snapshot", err)
	return out
}

func diffSnapshots(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("host changed: %s: %q -> %q", k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("host changed: new entry %s: %q", k, v)
		}
	}
}

// TestEscapeViaMount mounts the host dir at /mnt inside a memfs guest root
// and tries every trick to reach base/outside or the host's /etc.
func TestEscapeViaMount(t *testing.T) {
	_, root := hostLayout(t)
	v := vfs.New(memfs.New(0))
	must(t, "mkdir", v.Mkdir("/mnt", 0o755))
	must(t, "mkdir", v.Mkdir("/etc", 0o755))
	writeFile(t, v, "/etc/passwd", "guest passwd")
	must(t, "mount", v.Mount("/mnt", newFS(t, root, hostfs.Options{ReadOnly: true, Hide: []string{"shadow", "/ssh"}})))

	hostPasswd, _ := os.ReadFile("/etc/passwd")
	tests := []struct {
		path      string
		canonical string     // expected Realpath, if err == 0
		err       unix.Errno // expected Realpath error
	}{
		{path: "/mnt/etc_link/passwd", canonical: "/etc/passwd"},
		{path: "/mnt/up", canonical: "/"},
		{path: "/mnt/up/mnt/hello.txt", canonical: "/mnt/hello.txt"},
		{path: "/mnt/dir/up/etc/passwd", canonical: "/etc/passwd"},
		{path: "/mnt/..", canonical: "/"},
		{path: "/mnt/../../../etc/passwd", canonical: "/etc/passwd"},
		{path: "/mnt/dir/sub/../../../mnt", canonical: "/mnt"},
		{path: "/mnt/up_secret", err: unix.ENOENT},
		{path: "/mnt/abs_secret", err: unix.ENOENT},
		{path: "/mnt/abs_dir/secret.txt", err: unix.ENOENT},
		{path: "/mnt/dotdot_chain/secret.txt", err: unix.ENOENT},
		{path: "/mnt/../outside/secret.txt", err: unix.ENOENT},
		{path: "/mnt/proc_root/etc/passwd", err: unix.ENOENT},
		{path: "/mnt/shadow", err: unix.ENOENT},
		{path: "/mnt/to_shadow", err: unix.ENOENT},
		{path: "/mnt/dir/../shadow", err: unix.ENOENT},
		{path: "/mnt/ssh/id_rsa", err: unix.ENOENT},
		{path: "/mnt/ssh", err: unix.ENOENT},
		{path: "/mnt/loop", err: unix.ELOOP},
	}
	for _, tc := range tests {
		got, err := v.Realpath(tc.path)
		wantErrno(t, "Realpath "+tc.path, err, tc.err)
		if got != tc.canonical {
			t.Errorf("Realpath(%q) = %q, want %q", tc.path, got, tc.canonical)
		}
		content, _ := readFile(v, tc.path)
		if strings.Contains(content, secret) || len(hostPasswd) > 0 && content == string(hostPasswd) {
			t.Fatalf("%s leaked host content %q", tc.path, content)
		}
	}
	if got, _ := readFile(v, "/mnt/etc_link/passwd"); got != "guest passwd" {
		t.Errorf("/mnt/etc_link/passwd read %q, want the guest's file", got)
	}
	if got, _ := readFile(v, "/mnt/dir/sub/deep.txt"); got != "deep" {
		t.Errorf("deep.txt read %q", got)
	}

	f, err := v.Open("/mnt", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "open /mnt", err)
	ents, _ := f.Getdents(0)
	f.DecRef()
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	want := ". .. abs_dir abs_secret dir dotdot_chain empty etc_link hello.txt loop proc_root to_shadow up up_secret"
	if got := strings.Join(sorted(names), " "); got != want {
		t.Errorf("listing:\n got %s\nwant %s", got, want)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestEscapeAsRoot serves the host dir as the guest's "/": ".." at the
// root stays there.
func TestEscapeAsRoot(t *testing.T) {
	base, root := hostLayout(t)
	v := vfs.New(newFS(t, root, hostfs.Options{ReadOnly: true}))
	tests := []struct {
		path, canonical string
		err             unix.Errno
	}{
		{path: "/..", canonical: "/"},
		{path: "/../../..", canonical: "/"},
		{path: "/up", canonical: "/"},
		{path: "/dir/up/hello.txt", canonical: "/hello.txt"},
		{path: "/../root/hello.txt", err: unix.ENOENT},
		{path: "/../outside/secret.txt", err: unix.ENOENT},
		{path: "/up_secret", err: unix.ENOENT},
		{path: "/abs_secret", err: unix.ENOENT},
		{path: "/dotdot_chain", err: unix.ENOENT},
		{path: "/etc_link/passwd", err: unix.ENOENT},
		{path: base + "/outside/secret.txt", err: unix.ENOENT},
	}
	for _, tc := range tests {
		got, err := v.Realpath(tc.path)
		wantErrno(t, "Realpath "+tc.path, err, tc.err)
		if got != tc.canonical {
			t.Errorf("Realpath(%q) = %q, want %q", tc.path, got, tc.canonical)
		}
	}
	if got, _ := readFile(v, "/dir/up/hello.txt"); got != "hello" {
		t.Errorf("read %q", got)
	}
}

// TestNodeLevelContainment calls the hostfs nodes directly, bypassing the
// VFS: names with "/" or dots are refused, so no path can be smuggled.
func TestNodeLevelContainment(t *testing.T) {
	base, root := hostLayout(t)
	fs := newFS(t, root, hostfs.Options{})
	r := fs.Root()
	before := hostSnapshot(t, base)
	bad := []string{"..", ".", "", "../outside", "/etc", "dir/../../outside", "a\x00b", strings.Repeat("x", 256)}
	for _, name := range bad {
		want := unix.EINVAL
		if len(name) > 255 {
			want = unix.ENAMETOOLONG
		}
		_, err := r.Lookup(name)
		wantErrno(t, fmt.Sprintf("Lookup(%q)", name), err, want)
		_, err = r.Create(name, 0o644)
		wantErrno(t, fmt.Sprintf("Create(%q)", name), err, want)
		wantErrno(t, fmt.Sprintf("Mkdir(%q)", name), r.Mkdir(name, 0o755), want)
		wantErrno(t, fmt.Sprintf("Symlink(%q)", name), r.Symlink("x", name), want)
		wantErrno(t, fmt.Sprintf("Unlink(%q)", name), r.Unlink(name), want)
		wantErrno(t, fmt.Sprintf("Rename(%q)", name), r.Rename("hello.txt", r, name), want)
	}
	diffSnapshots(t, before, hostSnapshot(t, base))

	// Symlinks come back as SymlinkNodes with their verbatim target; they
	// are not directories, so nothing can be looked up through them.
	n, err := r.Lookup("abs_dir")
	must(t, "lookup abs_dir", err)
	if _, ok := n.(vfs.DirNode); ok {
		t.Fatal("symlink node is a DirNode")
	}
	if target, _ := n.(vfs.SymlinkNode).Readlink(); target != filepath.Join(base, "outside") {
		t.Errorf("Readlink = %q", target)
	}
	if _, ok := n.(vfs.OpenableNode); ok {
		t.Fatal("symlink node is openable")
	}
}

// TestHostSymlinkRace swaps a directory for a symlink on the host after
// the guest looked it up: the stale nodes must fail rather than follow.
func TestHostSymlinkRace(t *testing.T) {
	base, root := hostLayout(t)
	must(t, "mkdir", os.MkdirAll(filepath.Join(root, "race/inner"), 0o755))
	must(t, "write", os.WriteFile(filepath.Join(root, "race/inner/file.txt"), []byte("benign"), 0o644))
	fs := newFS(t, root, hostfs.Options{})
	dirNode, err := fs.Root().Lookup("race")
	must(t, "lookup race", err)
	inner, err := dirNode.(vfs.DirNode).Lookup("inner")
	must(t, "lookup inner", err)
	file, err := inner.(vfs.DirNode).Lookup("file.txt")
	must(t, "lookup file", err)

	must(t, "rename", os.Rename(filepath.Join(root, "race"), filepath.Join(root, "race_old")))
	must(t, "symlink", os.Symlink(filepath.Join(base, "outside"), filepath.Join(root, "race")))

	_, err = file.Stat()
	wantErrno(t, "stat through swapped dir", err, unix.ELOOP)
	_, err = file.(vfs.OpenableNode).Open(unix.O_RDONLY)
	wantErrno(t, "open through swapped dir", err, unix.ELOOP)
	// Opening the swapped-in symlink as a directory fails with ENOTDIR
	// (O_PATH|O_NOFOLLOW yields the link itself) or ELOOP.
	_, err = dirNode.(vfs.DirNode).Lookup("inner")
	wantErrnoIn(t, "lookup in swapped dir", err, unix.ENOTDIR, unix.ELOOP)
	_, err = dirNode.(vfs.DirNode).ReadDir()
	wantErrnoIn(t, "readdir of swapped dir", err, unix.ENOTDIR, unix.ELOOP)
	_, err = dirNode.(vfs.DirNode).Create("planted", 0o644)
	wantErrnoIn(t, "create in swapped dir", err, unix.ENOTDIR, unix.ELOOP)
	wantErrno(t, "chmod through swapped dir", file.(vfs.SetAttrer).Chmod(0o777), unix.ELOOP)
	if _, err := os.Stat(filepath.Join(base, "outside/planted")); err == nil {
		t.Fatal("file planted outside the root")
	}
	if fi, _ := os.Stat(filepath.Join(base, "outside/inner/file.txt")); fi.Mode().Perm() != 0o644 {
		t.Fatal("outside file mode changed")
	}

	// A symlinked file swapped in place of a regular file is not followed.
	must(t, "remove", os.Remove(filepath.Join(root, "hello.txt")))
	must(t, "symlink", os.Symlink(filepath.Join(base, "outside/secret.txt"), filepath.Join(root, "hello.txt")))
	n, err := fs.Root().Lookup("hello.txt")
	must(t, "lookup", err)
	if _, ok := n.(vfs.OpenableNode); ok {
		t.Fatal("a host symlink was returned as an openable file")
	}
}

// TestReadOnly checks every mutation through the VFS and directly on the
// nodes, and that the host is left exactly as it was.
func TestReadOnly(t *testing.T) {
	base, root := hostLayout(t)
	fs := newFS(t, root, hostfs.Options{ReadOnly: true})
	v := vfs.New(memfs.New(0))
	must(t, "mkdir", v.Mkdir("/mnt", 0o755))
	must(t, "mount", v.Mount("/mnt", fs))
	before := hostSnapshot(t, base)

	open := func(path string, flags int) func() error {
		return func() error {
			f, err := v.Open(path, flags, 0o644)
			if err == nil {
				f.DecRef()
			}
			return err
		}
	}
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	r := fs.Root()
	hello, err := r.Lookup("hello.txt")
	must(t, "lookup", err)
	roOps, err := hello.(vfs.OpenableNode).Open(unix.O_RDONLY)
	must(t, "open ro", err)
	defer roOps.Close()
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"open O_WRONLY", open("/mnt/hello.txt", unix.O_WRONLY), unix.EROFS},
		{"open O_RDWR", open("/mnt/hello.txt", unix.O_RDWR), unix.EROFS},
		{"open O_TRUNC", open("/mnt/hello.txt", unix.O_RDONLY|unix.O_TRUNC), unix.EROFS},
		{"open O_CREAT", open("/mnt/new", unix.O_CREAT|unix.O_WRONLY), unix.EROFS},
		{"open O_APPEND", open("/mnt/hello.txt", unix.O_WRONLY|unix.O_APPEND), unix.EROFS},
		{"mkdir", func() error { return v.Mkdir("/mnt/d", 0o755) }, unix.EROFS},
		{"unlink", func() error { return v.Unlink("/mnt/hello.txt") }, unix.EROFS},
		{"unlink symlink", func() error { return v.Unlink("/mnt/etc_link") }, unix.EROFS},
		{"rmdir", func() error { return v.Rmdir("/mnt/empty") }, unix.EROFS},
		{"rename", func() error { return v.Rename("/mnt/hello.txt", "/mnt/bye.txt") }, unix.EROFS},
		{"symlink", func() error { return v.Symlink("/etc", "/mnt/l") }, unix.EROFS},
		{"link", func() error { return v.Link("/mnt/hello.txt", "/mnt/h2", false) }, unix.EROFS},
		{"chmod", func() error { return v.Chmod("/mnt/hello.txt", 0o777, true) }, unix.EROFS},
		{"utimes", func() error { return v.Utimes("/mnt/hello.txt", now, now, true) }, unix.EROFS},
		{"truncate", func() error { return v.Truncate("/mnt/hello.txt", 0) }, unix.EROFS},
		{"access W_OK", func() error { return v.Access("/mnt/hello.txt", unix.W_OK, true) }, unix.EROFS},
		{"node create", func() error { _, err := r.Create("new", 0o644); return err }, unix.EROFS},
		{"node mkdir", func() error { return r.Mkdir("d", 0o755) }, unix.EROFS},
		{"node unlink", func() error { return r.Unlink("hello.txt") }, unix.EROFS},
		{"node rmdir", func() error { return r.Rmdir("empty") }, unix.EROFS},
		{"node rename", func() error { return r.Rename("hello.txt", r, "x") }, unix.EROFS},
		{"node symlink", func() error { return r.Symlink("/", "x") }, unix.EROFS},
		{"node link", func() error { return r.(vfs.Linker).Link(hello, "x") }, unix.EROFS},
		{"node chmod", func() error { return hello.(vfs.SetAttrer).Chmod(0o777) }, unix.EROFS},
		{"node utimes", func() error { return hello.(vfs.SetAttrer).Utimes(now, now) }, unix.EROFS},
		{"node open rdwr", func() error { _, err := hello.(vfs.OpenableNode).Open(unix.O_RDWR); return err }, unix.EROFS},
		{"ops write", func() error { _, err := roOps.WriteAt([]byte("x"), 0); return err }, unix.EROFS},
		{"ops truncate", func() error { return roOps.Truncate(0) }, unix.EROFS},
		{"read", func() error { _, err := readFile(v, "/mnt/hello.txt"); return err }, 0},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	diffSnapshots(t, before, hostSnapshot(t, base))
}

func TestReadWrite(t *testing.T) {
	base, root := hostLayout(t)
	old := unix.Umask(0o077) // must be undone by hostfs
	defer unix.Umask(old)
	fs := newFS(t, root, hostfs.Options{OwnerAsGuest: true, Hide: []string{"shadow"}})
	v := vfs.New(fs)
	host := func(rel string) string { return filepath.Join(root, rel) }

	f, err := v.Open("/new.txt", unix.O_CREAT|unix.O_EXCL|unix.O_RDWR, 0o664)
	must(t, "create", err)
	f.Write([]byte("written by guest"))
	if data, _ := os.ReadFile(host("new.txt")); string(data) != "written by guest" {
		t.Errorf("host content %q", data)
	}
	if fi, _ := os.Stat(host("new.txt")); fi.Mode().Perm() != 0o664 {
		t.Errorf("created mode %v, want 0664 regardless of the host umask", fi.Mode())
	}
	must(t, "unlink open file", v.Unlink("/new.txt"))
	if st, err := f.Stat(); err != nil || st.Nlink != 0 || st.Size != 16 {
		t.Errorf("fstat after unlink: %+v %v", st, err)
	}
	f.DecRef()

	must(t, "mkdir", v.Mkdir("/newdir", 0o777))
	if fi, _ := os.Stat(host("newdir")); !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Errorf("mkdir mode %v", fi.Mode())
	}
	must(t, "symlink", v.Symlink("/etc/passwd", "/newdir/pw"))
	if target, _ := os.Readlink(host("newdir/pw")); target != "/etc/passwd" {
		t.Errorf("host symlink target %q", target)
	}
	// The link resolves in the guest tree, where /etc does not exist.
	_, err = readFile(v, "/newdir/pw")
	wantErrno(t, "read guest-made link to /etc/passwd", err, unix.ENOENT)

	writeFile(t, v, "/newdir/a", "A")
	before, _ := v.Stat("/newdir/a", false)
	must(t, "rename", v.Rename("/newdir/a", "/dir/b"))
	if data, _ := os.ReadFile(host("dir/b")); string(data) != "A" {
		t.Errorf("renamed file %q", data)
	}
	must(t, "link", v.Link("/dir/b", "/dir/c", false))
	if st, _ := v.Stat("/dir/c", false); st.Nlink != 2 {
		t.Errorf("nlink %d", st.Nlink)
	}
	must(t, "truncate", v.Truncate("/dir/b", 0))
	must(t, "chmod", v.Chmod("/dir/b", 0o600, true))
	must(t, "utimes", v.Utimes("/dir/b", unix.Timespec{Sec: 10}, unix.Timespec{Sec: 20}, true))
	var hst unix.Stat_t
	must(t, "lstat", unix.Lstat(host("dir/b"), &hst))
	if hst.Size != 0 || hst.Mode&0o7777 != 0o600 || hst.Mtim.Sec != 20 || hst.Atim.Sec != 10 {
		t.Errorf("host stat after truncate/chmod/utimes: %+v", hst)
	}
	st, _ := v.Stat("/dir/b", false)
	if st.Size != 0 || st.Mode != hst.Mode || st.Uid != vfs.GuestUID {
		t.Errorf("guest stat %+v vs host %+v", st, hst)
	}
	// One file keeps one number: across a rename and under a hard link.
	if cst, _ := v.Stat("/dir/c", false); st.Ino != before.Ino || cst.Ino != st.Ino || st.Dev != cst.Dev {
		t.Errorf("inode numbers: before the rename %d, after %d, hard link %d", before.Ino, st.Ino, cst.Ino)
	}

	// O_APPEND without an atomic host append falls back to stat+pwrite.
	a, _ := v.Open("/dir/b", unix.O_WRONLY|unix.O_APPEND, 0)
	a.Write([]byte("12"))
	a.Write([]byte("34"))
	a.DecRef()
	if data, _ := os.ReadFile(host("dir/b")); string(data) != "1234" {
		t.Errorf("append %q", data)
	}

	other := newFS(t, root, hostfs.Options{})
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"rmdir non-empty", func() error { return v.Rmdir("/dir") }, unix.ENOTEMPTY},
		{"rename dir into itself", func() error { return v.Rename("/dir", "/dir/sub/x") }, unix.EINVAL},
		{"rename to other instance", func() error {
			d, _ := other.Root().Lookup("dir")
			return fs.Root().Rename("hello.txt", d.(vfs.DirNode), "x")
		}, unix.EXDEV},
		{"create hidden", func() error { _, err := v.Open("/shadow", unix.O_CREAT|unix.O_WRONLY, 0o644); return err }, unix.EACCES},
		{"rename onto hidden", func() error { return v.Rename("/hello.txt", "/shadow") }, unix.EACCES},
		{"unlink hidden", func() error { return v.Unlink("/shadow") }, unix.ENOENT},
		{"mkdir existing", func() error { return v.Mkdir("/dir", 0o755) }, unix.EEXIST},
		{"chmod symlink itself", func() error { return v.Chmod("/up", 0o700, false) }, unix.EOPNOTSUPP},
		{"rmdir empty", func() error { return v.Rmdir("/empty") }, 0},
		{"unlink", func() error { return v.Unlink("/dir/c") }, 0},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	if data, _ := os.ReadFile(host("shadow")); string(data) != "root:hash" {
		t.Error("hidden file was touched")
	}
	if _, err := os.Stat(host("empty")); !os.IsNotExist(err) {
		t.Error("rmdir did not reach the host")
	}
	_ = base
}

func TestSpecialFiles(t *testing.T) {
	_, root := hostLayout(t)
	must(t, "mkfifo", unix.Mkfifo(filepath.Join(root, "fifo"), 0o666))
	must(t, "chmod", os.Chmod(filepath.Join(root, "fifo"), 0o666))
	v := vfs.New(newFS(t, root, hostfs.Options{}))
	st, err := v.Stat("/fifo", false)
	must(t, "stat fifo", err)
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo mode %o", st.Mode)
	}
	// Must fail at once, not block waiting for a writer.
	for _, flags := range []int{unix.O_RDONLY, unix.O_WRONLY} {
		_, err = v.Open("/fifo", flags, 0)
		wantErrno(t, "open fifo", err, unix.ENXIO)
	}
}

// TestHostPermissions relies on the host files being owned by someone
// other than the guest uid (the tests normally run as root).
func TestHostPermissions(t *testing.T) {
	if os.Geteuid() == vfs.GuestUID {
		t.Skip("host user has the guest uid")
	}
	_, root := hostLayout(t)
	sticky := filepath.Join(root, "sticky")
	must(t, "mkdir", os.Mkdir(sticky, 0o755))
	must(t, "chmod", unix.Chmod(sticky, 0o1777))
	for _, p := range []string{filepath.Join(sticky, "theirs"), filepath.Join(root, "shared")} {
		must(t, "write", os.WriteFile(p, nil, 0o666))
		must(t, "chmod", os.Chmod(p, 0o666)) // whatever the umask
	}
	v := vfs.New(newFS(t, root, hostfs.Options{}))

	open := func(path string, flags int) func() error {
		return func() error {
			f, err := v.Open(path, flags, 0o644)
			if err == nil {
				f.DecRef()
			}
			return err
		}
	}
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	tests := []struct {
		name string
		op   func() error
		want unix.Errno
	}{
		{"read 0644 foreign", open("/hello.txt", unix.O_RDONLY), 0},
		{"write 0644 foreign", open("/hello.txt", unix.O_WRONLY), unix.EACCES},
		{"read 0640 foreign", open("/shadow", unix.O_RDONLY), unix.EACCES},
		{"create in 0755 foreign dir", open("/dir/new", unix.O_CREAT|unix.O_WRONLY), unix.EACCES},
		{"chmod foreign", func() error { return v.Chmod("/hello.txt", 0o777, true) }, unix.EPERM},
		{"utimes explicit foreign", func() error {
			return v.Utimes("/shared", unix.Timespec{Sec: 1}, unix.Timespec{Sec: 1}, true)
		}, unix.EPERM},
		{"utimes now foreign 0644", func() error { return v.Utimes("/hello.txt", now, now, true) }, unix.EACCES},
		{"utimes now foreign 0666", func() error { return v.Utimes("/shared", now, now, true) }, 0},
		{"create in sticky", open("/sticky/mine", unix.O_CREAT|unix.O_WRONLY), 0},
		{"unlink foreign in sticky", func() error { return v.Unlink("/sticky/theirs") }, unix.EPERM},
		{"rename foreign in sticky", func() error { return v.Rename("/sticky/theirs", "/sticky/x") }, unix.EPERM},
		{"write foreign 0666 in sticky", open("/sticky/theirs", unix.O_WRONLY), 0},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	// The file the guest created is the host user's, hence foreign to the
	// guest without OwnerAsGuest: this is why that option exists.
	wantErrno(t, "unlink own-but-unmapped in sticky", v.Unlink("/sticky/mine"), unix.EPERM)
	v2 := vfs.New(newFS(t, root, hostfs.Options{OwnerAsGuest: true}))
	wantErrno(t, "unlink mapped in sticky", v2.Unlink("/sticky/mine"), 0)
}

func TestStatNumbers(t *testing.T) {
	_, root := hostLayout(t)
	a := vfs.New(newFS(t, root, hostfs.Options{ReadOnly: true}))
	b := vfs.New(newFS(t, root, hostfs.Options{ReadOnly: true}))
	var hst unix.Stat_t
	must(t, "lstat", unix.Lstat(filepath.Join(root, "hello.txt"), &hst))
	sa, _ := a.Stat("/hello.txt", true)
	sa2, _ := a.Stat("/hello.txt", true)
	sb, _ := b.Stat("/hello.txt", true)
	if sa.Dev != sa2.Dev || sa.Ino != sa2.Ino || sa.Dev == sb.Dev || sa.Size != 5 ||
		sa.Uid != hst.Uid || sa.Mode != hst.Mode || sa.Mtime != hst.Mtim {
		t.Errorf("stat: %+v / %+v, host %+v", sa, sb, hst)
	}
	// The host's inode number never shows; each mount numbers on its own.
	if sa.Ino == hst.Ino || sb.Ino == hst.Ino || sa.Ino == sb.Ino || sa.Ino == 0 {
		t.Errorf("inode numbers: mount a %d, mount b %d, host %d", sa.Ino, sb.Ino, hst.Ino)
	}
	if root, _ := a.Stat("/", true); root.Dev != sa.Dev {
		t.Error("files of one host fs have different Devs")
	}
	lst, _ := a.Stat("/up", false)
	if lst.Mode&unix.S_IFMT != unix.S_IFLNK || lst.Size != int64(len("../../")) {
		t.Errorf("lstat of link %+v", lst)
	}
}

// TestInodeNumbering checks the guest's inode numbers of a mount against
// the host's: one-to-one (hard links share one, distinct files never do),
// the same in stat and in directory listings, stable, and never the
// host's own.
func TestInodeNumbering(t *testing.T) {
	_, root := hostLayout(t)
	must(t, "link", os.Link(filepath.Join(root, "hello.txt"), filepath.Join(root, "dir", "hello-link")))
	fs := newFS(t, root, hostfs.Options{ReadOnly: true})
	v := vfs.New(fs)
	paths := []string{"/", "/hello.txt", "/dir", "/dir/sub", "/dir/sub/deep.txt", "/dir/hello-link", "/empty",
		"/up", "/loop", "/shadow"}
	guest := map[string]vfs.Stat{}
	byIno := map[uint64]string{}
	for _, p := range paths {
		st, err := v.Stat(p, false)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		var hst unix.Stat_t
		must(t, "lstat", unix.Lstat(filepath.Join(root, p), &hst))
		if st.Ino == hst.Ino {
			t.Errorf("%s: the guest sees the host inode number %d", p, hst.Ino)
		}
		if again, _ := v.Stat(p, false); again.Ino != st.Ino || again.Dev != st.Dev {
			t.Errorf("%s: (dev, ino) changed between two stats", p)
		}
		guest[p] = st
		if other, dup := byIno[st.Ino]; dup && hst.Ino != mustLstatIno(t, filepath.Join(root, other)) {
			t.Errorf("%s and %s are different host files with the same guest number %d", p, other, st.Ino)
		}
		byIno[st.Ino] = p
	}
	if guest["/hello.txt"].Ino != guest["/dir/hello-link"].Ino {
		t.Errorf("hard links: %d and %d", guest["/hello.txt"].Ino, guest["/dir/hello-link"].Ino)
	}
	// Directory listings give the numbers stat gives.
	for dir, names := range map[string][]string{"/": {"hello.txt", "dir", "empty", "up", "loop"}, "/dir": {"sub", "hello-link"}} {
		f, err := v.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		must(t, "getdents", f.GetdentsFunc(func(e vfs.DirEntry, _ int64) bool { got[e.Name] = e.Ino; return true }))
		f.DecRef()
		for _, n := range names {
			p := filepath.Join(dir, n)
			if got[n] != guest[p].Ino {
				t.Errorf("%s: d_ino %d, st_ino %d", p, got[n], guest[p].Ino)
			}
		}
		if got["."] != guest[dir].Ino {
			t.Errorf("%s: d_ino of . %d, st_ino %d", dir, got["."], guest[dir].Ino)
		}
	}
	if got := guest["/dir"].Ino; got == guest["/dir/sub"].Ino {
		t.Error("two directories share a number")
	}
}

func mustLstatIno(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	must(t, "lstat", unix.Lstat(path, &st))
	return st.Ino
}

func countFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	return len(ents)
}

func TestNoFdLeaks(t *testing.T) {
	_, root := hostLayout(t)
	fs := newFS(t, root, hostfs.Options{Hide: []string{"ssh"}})
	v := vfs.New(fs)
	before := countFds(t)
	var open []*vfs.File
	for range 50 {
		v.Stat("/dir/sub/deep.txt", true)
		v.Stat("/up/dir/up/loop", true)
		v.Readlink("/etc_link")
		v.Access("/hello.txt", unix.R_OK, true)
		d, _ := v.Open("/dir", unix.O_RDONLY, 0)
		d.Getdents(0)
		d.DecRef()
		f, _ := v.Open("/hello.txt", unix.O_RDONLY, 0)
		open = append(open, f)
		v.Open("/nope", unix.O_RDONLY, 0)
		v.Mkdir("/tmpdir", 0o755)
		v.Rename("/tmpdir", "/tmpdir2")
		v.Rmdir("/tmpdir2")
	}
	// Only the open files hold host fds.
	if got := countFds(t) - before; got != len(open) {
		t.Errorf("%d extra fds with %d files open", got, len(open))
	}
	for _, f := range open {
		f.DecRef()
	}
	if got := countFds(t); got != before {
		t.Errorf("fds: %d before, %d after", before, got)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := hostfs.New(missing, hostfs.Options{})
	if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing dir: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	_, err = hostfs.New(file, hostfs.Options{})
	if !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("regular file as root: %v", err)
	}
	fs, err := hostfs.New(dir, hostfs.Options{ReadOnly: true})
	must(t, "New", err)
	defer fs.Close()
	if fs.Name() != "hostfs" || !fs.ReadOnly() || fs.HostDir() != dir {
		t.Error("FS metadata")
	}
}

// TestHostMountPoints needs mount(2) (root); it checks the Dev mapping for
// a second host file system below the root and the NoXDev option.
func TestHostMountPoints(t *testing.T) {
	_, root := hostLayout(t)
	mnt := filepath.Join(root, "mnt")
	must(t, "mkdir", os.Mkdir(mnt, 0o755))
	if err := unix.Mount("none", mnt, "tmpfs", 0, "mode=0755"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	must(t, "write", os.WriteFile(filepath.Join(mnt, "f"), []byte("on tmpfs"), 0o644))

	v := vfs.New(newFS(t, root, hostfs.Options{ReadOnly: true}))
	if got, err := readFile(v, "/mnt/f"); got != "on tmpfs" || err != nil {
		t.Fatalf("read across host mount: %q %v", got, err)
	}
	rootSt, _ := v.Stat("/", true)
	mntSt, _ := v.Stat("/mnt", true)
	fSt, _ := v.Stat("/mnt/f", true)
	if mntSt.Dev == rootSt.Dev || fSt.Dev != mntSt.Dev {
		t.Errorf("devs: root %d mnt %d f %d", rootSt.Dev, mntSt.Dev, fSt.Dev)
	}

	nox := vfs.New(newFS(t, root, hostfs.Options{ReadOnly: true, NoXDev: true}))
	_, err := nox.Stat("/mnt/f", true)
	wantErrno(t, "NoXDev crossing", err, unix.EACCES)
	if got, _ := readFile(nox, "/hello.txt"); got != "hello" {
		t.Errorf("NoXDev same-fs read %q", got)
	}
}

// TestClosedFileNeverReachesAnother: an open host file whose descriptor
// was closed (a guest thread racing close against read) answers EBADF; it
// must never use the host fd number again, which the next open reuses for
// another file (perhaps another sandbox's).
func TestClosedFileNeverReachesAnother(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"a": "file a", "b": "secret b"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := newFS(t, dir, hostfs.Options{})
	open := func(name string) vfs.FileOps {
		n, err := fs.Root().Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		ops, err := n.(vfs.OpenableNode).Open(unix.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		return ops
	}
	a := open("a")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := open("b") // takes the host fd number a had
	defer b.Close()
	buf := make([]byte, 16)
	if n, err := a.ReadAt(buf, 0); err != unix.EBADF {
		t.Fatalf("read of a closed file: %d bytes %q, %v; want EBADF", n, buf[:max(n, 0)], err)
	}
	if err := a.Sync(); err != unix.EBADF {
		t.Errorf("fsync of a closed file: %v, want EBADF", err)
	}
	if err := a.Close(); err != unix.EBADF {
		t.Errorf("second close: %v, want EBADF", err)
	}
}

// TestFDBudget: open host files hold host descriptors of litebox; past
// the sandbox's budget an open fails with ENFILE, and a close gives the
// descriptor back.
func TestFDBudget(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	budget := &hostfs.FDBudget{Max: 2}
	fs := newFS(t, dir, hostfs.Options{FDs: budget})
	n, err := fs.Root().Lookup("f")
	if err != nil {
		t.Fatal(err)
	}
	open := func() (vfs.FileOps, error) { return n.(vfs.OpenableNode).Open(unix.O_RDONLY) }
	a, err1 := open()
	b, err2 := open()
	if err1 != nil || err2 != nil {
		t.Fatalf("opens within the budget: %v, %v", err1, err2)
	}
	if _, err := open(); err != unix.ENFILE {
		t.Fatalf("open past the budget: %v, want ENFILE", err)
	}
	if budget.Used() != 2 {
		t.Errorf("used %d, want 2", budget.Used())
	}
	a.Close()
	c, err := open()
	if err != nil {
		t.Fatalf("open after a close: %v", err)
	}
	b.Close()
	c.Close()
	if budget.Used() != 0 {
		t.Errorf("used %d after closing everything, want 0", budget.Used())
	}
	// A failed open gives its descriptor back too.
	if _, err := fs.Root().Lookup("missing"); err == nil {
		t.Fatal("lookup of a missing file succeeded")
	}
}

// TestDentriesHoldNoHostFDs: open directories and working directories on
// a host mount are dentries holding hostfs nodes, which are names below
// the root, not host descriptors: holding many costs no part of the fd
// budget. A rename through the VFS gives the held dentries (and those
// below them) the nodes of their new names, so walks from them keep
// working, still confined to the root.
func TestDentriesHoldNoHostFDs(t *testing.T) {
	root := t.TempDir()
	budget := &hostfs.FDBudget{Max: 4}
	v := vfs.New(newFS(t, root, hostfs.Options{FDs: budget, OwnerAsGuest: true}))
	var held []*vfs.File
	for i := range 20 {
		dir := fmt.Sprintf("/d%d/sub", i)
		must(t, "mkdir", v.Mkdir(fmt.Sprintf("/d%d", i), 0o755))
		must(t, "mkdir", v.Mkdir(dir, 0o755))
		f, err := v.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, "open "+dir, err)
		held = append(held, f)
		d, err := v.Chdir(vfs.Loc{}, dir)
		must(t, "chdir "+dir, err)
		defer d.DecRef()
	}
	if used := budget.Used(); used != 0 {
		t.Fatalf("20 open directories and 20 working directories hold %d host fds", used)
	}
	must(t, "rename", v.Rename("/d0", "/moved"))
	f := held[0]
	if got := f.Path(); got != "/moved/sub" {
		t.Errorf("Path after rename = %q", got)
	}
	nf, err := v.OpenAt(vfs.Loc{Dir: f.Dentry()}, "x", unix.O_CREAT|unix.O_WRONLY, 0o644)
	must(t, "create from the renamed directory", err)
	must(t, "close", nf.DecRef())
	if _, err := os.Stat(filepath.Join(root, "moved", "sub", "x")); err != nil {
		t.Errorf("file not created in the renamed host directory: %v", err)
	}
	ents, err := f.Getdents(0)
	must(t, "getdents of the renamed directory", err)
	if len(ents) != 3 || ents[2].Name != "x" {
		t.Errorf("getdents = %v, want ., .., x", ents)
	}
	up, err := v.OpenAt(vfs.Loc{Dir: f.Dentry()}, "../../..", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "open ../../..", err)
	if got := up.Path(); got != "/" {
		t.Errorf(".. past the root is %q, want /", got)
	}
	must(t, "close", up.DecRef())
	for _, f := range held {
		must(t, "close", f.DecRef())
	}
}

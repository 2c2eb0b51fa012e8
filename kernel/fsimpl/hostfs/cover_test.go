package hostfs_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestCover: a covered name is the covering node for lookups and
// listings, and behaves as a mount point for the calls that would remove,
// replace or recreate it; the host's own file there is never touched.
func TestCover(t *testing.T) {
	dir := t.TempDir()
	root, other := filepath.Join(dir, "root"), filepath.Join(dir, "other")
	for _, d := range []string{root + "/etc", root + "/var/lib", other} {
		must(t, "mkdir", os.MkdirAll(d, 0o755))
	}
	must(t, "write", os.WriteFile(root+"/etc/hosts", []byte("rootfs's own\n"), 0o644))
	must(t, "write", os.WriteFile(root+"/etc/passwd", []byte("root:x:0:0::/:/bin/sh\n"), 0o644))
	must(t, "write", os.WriteFile(other+"/hosts", []byte("the engine's\n"), 0o644))

	src := newFS(t, other, hostfs.Options{})
	node, err := src.Root().Lookup("hosts")
	must(t, "lookup source", err)
	fs := newFS(t, root, hostfs.Options{OwnerAsGuest: true})
	fs.Cover("/etc", map[string]vfs.Node{"hosts": node, "hostname": node})
	v := vfs.New(fs)

	if got, err := readFile(v, "/etc/hosts"); err != nil || got != "the engine's\n" {
		t.Errorf("/etc/hosts reads %q (%v), want the covering file's", got, err)
	}
	if got, err := readFile(v, "/etc/passwd"); err != nil || got != "root:x:0:0::/:/bin/sh\n" {
		t.Errorf("/etc/passwd reads %q (%v), want the rootfs's", got, err)
	}
	etc, err := fs.Root().Lookup("etc")
	must(t, "lookup /etc", err)
	ents, err := etc.(vfs.DirNode).ReadDir()
	must(t, "readdir", err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	if want := []string{"hostname", "hosts", "passwd"}; !slices.Equal(names, want) {
		t.Errorf("/etc lists %v, want %v", names, want)
	}

	for _, c := range []struct {
		what string
		err  error
		want unix.Errno
	}{
		{"unlink", v.Unlink("/etc/hosts"), unix.EBUSY},
		{"rename from", v.Rename("/etc/hosts", "/etc/h2"), unix.EBUSY},
		{"rename onto", v.Rename("/etc/passwd", "/etc/hostname"), unix.EBUSY},
		{"rename the directory above", v.Rename("/etc", "/etc2"), unix.EBUSY},
		{"rmdir the directory above", v.Rmdir("/etc"), unix.EBUSY},
		{"mkdir", v.Mkdir("/etc/hostname", 0o755), unix.EEXIST},
		{"symlink", v.Symlink("x", "/etc/hostname"), unix.EEXIST},
		{"link", v.Link("/etc/passwd", "/etc/hostname", false), unix.EEXIST},
	} {
		wantErrno(t, c.what, c.err, c.want)
	}
	if data, _ := os.ReadFile(root + "/etc/hosts"); string(data) != "rootfs's own\n" {
		t.Errorf("the host file under the cover changed: %q", data)
	}
	if _, err := os.Lstat(root + "/etc/hostname"); !os.IsNotExist(err) {
		t.Errorf("a covered name was made on the host: %v", err)
	}
	// Elsewhere the file system is as writable as ever.
	must(t, "rename elsewhere", v.Rename("/var/lib", "/var/lib2"))
}

// TestHostModeDropsSetID: litebox never leaves a set-id executable in a
// host directory, whatever mode the guest asks for (it may be the host's
// root); a directory's set-group-ID stays.
func TestHostModeDropsSetID(t *testing.T) {
	root := t.TempDir()
	must(t, "write", os.WriteFile(root+"/su", []byte("#!/bin/sh\n"), 0o755))
	must(t, "chmod", unix.Chmod(root+"/su", 0o4755))
	fs := newFS(t, root, hostfs.Options{OwnerAsGuest: true})
	v := vfs.New(fs)
	hostPerm := func(name string) uint32 {
		t.Helper()
		var st unix.Stat_t
		must(t, "stat "+name, unix.Lstat(filepath.Join(root, name), &st))
		return st.Mode & 0o7777
	}

	f, err := v.Open("/new", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o6755)
	must(t, "create", err)
	f.DecRef()
	must(t, "mkdir", v.Mkdir("/dir", 0o2775))
	must(t, "create", func() error {
		f, err := v.Open("/gid", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o2644)
		if err == nil {
			f.DecRef()
		}
		return err
	}())
	must(t, "chmod", v.Chmod("/dir", 0o3775, true))
	for _, c := range []struct {
		name string
		mode uint32
		want uint32
	}{
		{"new", 0o4755, 0o755},
		{"new", 0o2711, 0o711},
		{"new", 0o6700, 0o2700}, // set-gid without group exec: no set-id executable
		{"gid", 0o2644, 0o2644}, // not executable: no set-id executable
	} {
		must(t, "chmod", v.Chmod("/"+c.name, c.mode, true))
		if got := hostPerm(c.name); got != c.want {
			t.Errorf("chmod %s %#o: host mode %#o, want %#o", c.name, c.mode, got, c.want)
		}
	}
	if got := hostPerm("dir"); got != 0o3775 {
		t.Errorf("directory mode %#o, want 0o3775 (no set-id bits dropped from a directory)", got)
	}
	// The host's own set-uid file keeps its bit until the guest opens it
	// for writing.
	f, err = v.Open("/su", unix.O_RDONLY, 0)
	must(t, "open su", err)
	f.DecRef()
	if got := hostPerm("su"); got != 0o4755 {
		t.Errorf("su after a read-only open: %#o, want 0o4755", got)
	}
	f, err = v.Open("/su", unix.O_WRONLY, 0)
	must(t, "open su for writing", err)
	f.DecRef()
	if got := hostPerm("su"); got != 0o755 {
		t.Errorf("su after an open for writing: %#o, want 0o755", got)
	}
}

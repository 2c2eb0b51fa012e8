package hostfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestGuestIDs: in a tree of guest ids (a bundle's rootfs) the host owners
// are the guest's ids, what a guest makes is its own on the host too, and
// chown reaches the host as the VFS allows it. Needs the host's root.
func TestGuestIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: litebox chowns host files for the guest")
	}
	root := t.TempDir()
	must(t, "mkdir", os.Mkdir(root+"/home", 0o755))
	must(t, "chown", os.Chown(root+"/home", 1000, 1000))
	must(t, "write", os.WriteFile(root+"/secret", []byte("x"), 0o600))
	must(t, "chown", os.Chown(root+"/secret", 1000, 1000))
	fs := newFS(t, root, hostfs.Options{GuestIDs: true})
	v := vfs.New(fs)
	user := cred.New(1000, 1000, nil)
	guestRoot := cred.New(0, 0, nil)
	hostOwner := func(name string) (uint32, uint32) {
		t.Helper()
		var st unix.Stat_t
		must(t, "stat "+name, unix.Lstat(filepath.Join(root, name), &st))
		return st.Uid, st.Gid
	}

	st, err := v.Stat("/home", false)
	must(t, "stat", err)
	if st.Uid != 1000 || st.Gid != 1000 || st.Host {
		t.Errorf("/home: uid %d gid %d host %v, want the guest's 1000:1000", st.Uid, st.Gid, st.Host)
	}
	at := vfs.Loc{Cred: user}
	f, err := v.OpenAt(at, "/home/mine", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o600)
	must(t, "create as 1000", err)
	f.DecRef()
	must(t, "mkdir as 1000", v.MkdirAt(at, "/home/dir", 0o700))
	must(t, "symlink as 1000", v.SymlinkAt("mine", at, "/home/link"))
	for _, name := range []string{"home/mine", "home/dir", "home/link"} {
		if uid, gid := hostOwner(name); uid != 1000 || gid != 1000 {
			t.Errorf("%s: host owner %d:%d, want the guest's 1000:1000", name, uid, gid)
		}
	}
	// The guest's own file stays its own: it may open it again.
	f, err = v.OpenAt(at, "/home/mine", unix.O_WRONLY, 0)
	must(t, "reopen as 1000", err)
	f.DecRef()
	// chown: the guest root may (CAP_CHOWN), the user may not give away.
	wantErrno(t, "chown by 1000", v.ChownAt(at, "/home/mine", 0, 0, false), unix.EPERM)
	must(t, "chown by root", v.ChownAt(vfs.Loc{Cred: guestRoot}, "/home/mine", 2000, 2001, false))
	if uid, gid := hostOwner("home/mine"); uid != 2000 || gid != 2001 {
		t.Errorf("after chown: host owner %d:%d, want 2000:2001", uid, gid)
	}
	// The guest root reads another id's 0600 file through CAP_DAC_OVERRIDE,
	// as in a runc container.
	f, err = v.OpenAt(vfs.Loc{Cred: guestRoot}, "/secret", unix.O_RDONLY, 0)
	must(t, "root reads 1000's 0600 file", err)
	f.DecRef()
	_, err = v.OpenAt(vfs.Loc{Cred: cred.New(1001, 1001, nil)}, "/secret", unix.O_RDONLY, 0)
	wantErrno(t, "1001 reads 1000's 0600 file", err, unix.EACCES)
}

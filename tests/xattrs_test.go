package tests

// Extended attributes (testdata/xattrs.c) on the guest's /tmp (memfs) as
// an unprivileged user, compared with the same user natively (the host's
// /tmp, ext4 or tmpfs): namespaces, flags, sizes, permissions, devices,
// /proc and pipes.

import (
	"os"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

func TestXattrs(t *testing.T) {
	bin := program(t, "xattrs", staticVariant)
	if os.Geteuid() == 0 {
		checkResult(t, runNativeAsUser(t, bin, 1234, "@TMP@"), harness.Result{Stdout: []byte(xattrsWant)}, true)
	}
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--user", "1234:1234"}}
	got := runGuest(t, g, nil, "/work/xattrs", "/tmp")
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(xattrsWant)}, true)
}

// TestXattrsHostfs: a host directory keeps no extended attributes of the
// guest's: EOPNOTSUPP, and an empty list.
func TestXattrsHostfs(t *testing.T) {
	needProgram(t, pythonPath)
	g := harness.Guest{Mounts: []string{t.TempDir() + ":/data:rw"}}
	got := runGuest(t, g, nil, pythonPath, "-c", `import os
open("/data/f", "w").close()
for call in (lambda: os.setxattr("/data/f", "user.a", b"1"), lambda: os.getxattr("/data/f", "user.a")):
    try:
        call()
    except OSError as e:
        print(e.errno == 95)
print(os.listxattr("/data/f"))
`)
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte("True\nTrue\n[]\n")}, true)
}

const xattrsWant = `get unset: ENODATA
list empty: 0
set user.a: 0
set CREATE existing: EEXIST
set REPLACE missing: ENODATA
set REPLACE existing: 0
get size 0: 6
get size 2: ERANGE
get: 6 "world!"
set empty value: 0
get empty value: 0
list size 0: 18
list size 3: ERANGE
list: 18 user.a user.empty
set on a dir: 0
get through the symlink: 6
lset on the symlink: EPERM
lget on the symlink: ENODATA
llist on the symlink: 0
set on a FIFO: EPERM
get on a FIFO: ENODATA
set trusted.x: EPERM
get trusted.x: ENODATA
set security.x: EPERM
get security.x: ENODATA
remove security.x: EPERM
set foo.bar: EOPNOTSUPP
get foo.bar: EOPNOTSUPP
set "user.": EINVAL
set "": ERANGE
set a 256-byte name: ERANGE
set a 255-byte name: 0
get a 256-byte name: ERANGE
set 65537 bytes: E2BIG
set bad flags: EINVAL
set missing file: ENOENT
set missing file, bad flags: EINVAL
remove user.a: 0
remove it again: ENODATA
remove through the symlink, l: EPERM
fset on an O_RDONLY fd: 0
fget: 1
flist: 275
fremove: 0
fget on O_PATH: EBADF
fset on a bad fd: EBADF
fset on a pipe: EPERM
fget on a pipe: ENODATA
flist on a pipe: 0
set without write permission: EACCES
get without read permission: EACCES
list without permission: 267
/dev/null set: EPERM
/dev/null get: ENODATA
/proc/self/status get: EOPNOTSUPP
/proc/self/status list: 0
100 more on the dir: 0 failed, list 1197
`

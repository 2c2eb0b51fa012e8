package tests

// inotify(7) and dnotify (F_NOTIFY) in the guest (testdata/inotify.c,
// testdata/python/inotify_ctypes.py): the events our VFS reports for what
// the guest does, compared with a native run on the host's /tmp.

import (
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

var inotifyCases = []modeCase{
	{name: "events", prog: "inotify", args: []string{"events", "@TMP@"}, want: inotifyEventsWant},
	{name: "flags", prog: "inotify", args: []string{"flags", "@TMP@"}, want: inotifyFlagsWant},
	{name: "openunlink", prog: "inotify", args: []string{"openunlink", "@TMP@"}, want: inotifyOpenUnlinkWant},
	{name: "overflow", prog: "inotify", args: []string{"overflow", "@TMP@"}, want: inotifyOverflowWant},
	{name: "dnotify", prog: "inotify", args: []string{"dnotify", "@TMP@"}, want: inotifyDnotifyWant},
}

func TestInotify(t *testing.T) { runModeCases(t, inotifyCases) }

// TestInotifyHostfsMount: a :rw host directory is watched like /tmp, for
// what the guest does through it (renames, removals, an unlinked file
// still open: its inode is followed through the open file, not its name).
func TestInotifyHostfsMount(t *testing.T) {
	program(t, "inotify", staticVariant)
	g := harness.Guest{Mounts: []string{workMount(staticVariant), t.TempDir() + ":/data:rw"}}
	got := runGuest(t, g, nil, "/work/inotify", "openunlink", "/data")
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(inotifyOpenUnlinkWant)}, true)
}

// TestInotifyPython: Python's ctypes calling inotify_init1, add_watch and
// rm_watch, with select, natively and in the guest.
func TestInotifyPython(t *testing.T) {
	needProgram(t, pythonPath)
	pyDir := filepath.Join(moduleRoot, "testdata", "python")
	native := runNative(t, "", nil, nil, pythonPath, filepath.Join(pyDir, "inotify_ctypes.py"), t.TempDir())
	checkResult(t, native, harness.Result{Stdout: []byte(inotifyPythonWant)}, true)
	g := harness.Guest{Mounts: []string{pyDir + ":" + pyGuestDir + ":ro"}}
	got := runGuest(t, g, nil, pythonPath, pyGuestDir+"/inotify_ctypes.py", "/tmp")
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
}

const inotifyEventsWant = `init1: ok cloexec 1 nonblock 1
read empty: EAGAIN
poll empty: 0
watch dir: 1
poll: 1 revents 1
epoll: 1
FIONREAD: 96
read into 8 bytes: EINVAL
read into 16 bytes: EINVAL
-- create, write twice, close
wd=1 CREATE file (len 16)
wd=1 OPEN file (len 16)
wd=1 MODIFY file (len 16)
wd=1 CLOSE_WRITE file (len 16)
-- open, read, close
wd=1 OPEN file (len 16)
wd=1 ACCESS file (len 16)
wd=1 CLOSE_NOWRITE file (len 16)
watch file: 2
dir again: 1
-- chmod, truncate, O_TRUNC, ftruncate, fchmod
wd=1 ATTRIB file (len 16)
wd=2 ATTRIB
wd=1 MODIFY file (len 16)
wd=2 MODIFY
wd=1 OPEN file (len 16)
wd=2 OPEN
wd=1 MODIFY file (len 16)
wd=2 MODIFY
wd=1 MODIFY file (len 16)
wd=2 MODIFY
wd=1 ATTRIB file (len 16)
wd=2 ATTRIB
wd=1 CLOSE_WRITE file (len 16)
wd=2 CLOSE_WRITE
-- mkdir, rename out, rename in, link, symlink
wd=1 CREATE ISDIR sub (len 16)
wd=1 MOVED_FROM cookie file (len 16)
wd=2 MOVE_SELF
wd=1 MOVED_TO cookie renamed (len 16)
wd=2 MOVE_SELF
wd=2 ATTRIB
wd=1 CREATE hard (len 16)
wd=1 CREATE sym (len 16)
-- unlink hard link, symlink, last name
wd=2 ATTRIB
wd=1 DELETE hard (len 16)
wd=1 DELETE sym (len 16)
wd=2 ATTRIB
wd=2 DELETE_SELF
wd=2 IGNORED
wd=1 DELETE renamed (len 16)
-- readdir, rmdir
wd=1 OPEN ISDIR
wd=1 ACCESS ISDIR
wd=1 CLOSE_NOWRITE ISDIR
wd=1 DELETE ISDIR sub (len 16)
rm_watch: 0
rm_watch again: EINVAL
-- rm_watch
wd=1 IGNORED
`

const inotifyFlagsWant = `init1 bad flags: EINVAL
mask 0: EINVAL
MASK_ADD|MASK_CREATE: EINVAL
bad fd: EBADF
not inotify: EINVAL
missing: ENOENT
ONLYDIR on a file: ENOTDIR
file 1, symlink followed 1, symlink itself 2
MASK_CREATE on a watched file: EEXIST
ONLYDIR on a dir: 3
-- mask replaced: ATTRIB only
wd=1 ATTRIB
-- MASK_ADD: OPEN and ATTRIB
wd=1 OPEN
wd=1 ATTRIB
oneshot wd 3
-- ONESHOT: one event, then IGNORED
wd=3 CREATE a (len 16)
wd=3 IGNORED
rm_watch bad wd: EINVAL
rm_watch not inotify: EINVAL
rm_watch oneshot's: EINVAL
new wd after removals: 4
-- EXCL_UNLINK after unlink
-- without EXCL_UNLINK
wd=1 MODIFY a (len 16)
`

const inotifyOpenUnlinkWant = `-- unlinked while open
wd=2 ATTRIB
wd=1 DELETE f (len 16)
-- written and closed
wd=1 MODIFY f (len 16)
wd=2 MODIFY
wd=1 CLOSE_WRITE f (len 16)
wd=2 CLOSE_WRITE
wd=2 DELETE_SELF
wd=2 IGNORED
-- rename of a watched dir
wd=1 CREATE ISDIR d (len 16)
wd=1 MOVED_FROM ISDIR cookie d (len 16)
wd=1 MOVED_TO ISDIR cookie=prev e (len 16)
wd=3 MOVE_SELF
-- rename over a watched file
wd=1 CREATE g (len 16)
wd=1 OPEN g (len 16)
wd=1 CLOSE_WRITE g (len 16)
wd=1 CREATE h (len 16)
wd=1 OPEN h (len 16)
wd=1 CLOSE_WRITE h (len 16)
wd=1 MOVED_FROM cookie h (len 16)
wd=1 MOVED_TO cookie=prev g (len 16)
wd=4 ATTRIB
wd=4 DELETE_SELF
wd=4 IGNORED
-- rmdir of a watched dir
wd=3 DELETE_SELF
wd=3 IGNORED
wd=1 DELETE ISDIR e (len 16)
wds 3 4
`

const inotifyOverflowWant = `events 16385, overflows 1, last wd -1, FIONREAD 524304
-- after reading
wd=1 CREATE after (len 16)
`

const inotifyDnotifyWant = `F_NOTIFY DN_MULTISHOT (64-bit flag): 0
F_NOTIFY DN_CREATE|DN_MULTISHOT: 0
SIGIO after a create: yes
SIGIO after another create: yes
F_NOTIFY DN_DELETE added: 0
SIGIO after a delete: yes
F_NOTIFY 0 (off): 0
F_NOTIFY DN_ATTRIB one shot: 0
SIGIO after a chmod: yes
F_NOTIFY DN_RENAME again: 0
SIGIO after a rename: yes
F_NOTIFY on a file: ENOTDIR
F_NOTIFY bad fd: EBADF
`

const inotifyPythonWant = `wd 1
select ready True
1 CREATE a.txt
1 OPEN a.txt
1 MODIFY a.txt
1 CLOSE_WRITE a.txt
1 MOVED_FROM a.txt
1 MOVED_TO b.txt
1 DELETE b.txt
one cookie True
rm 0 again -1 True
`

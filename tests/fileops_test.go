package tests

// The file operations of issue 11 (testdata/fileops.c), natively and in
// the sandbox: reopening pipes through /proc/self/fd and /dev/fd (what
// bash's process substitution and `cat /dev/stdin` rely on), and FIFOs in
// the guest's /tmp with Linux's open rules.

import (
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

var fileopsCases = []modeCase{
	{name: "reopen", prog: "fileops", args: []string{"reopen", "@TMP@"}, want: reopenWant},
	{name: "fifo", prog: "fileops", args: []string{"fifo", "@TMP@"}, want: fifoWant},
	{name: "statfs", prog: "fileops", args: []string{"statfs", "@TMP@"}, want: statfsWant},
	{name: "closerange", prog: "fileops", args: []string{"closerange", "@TMP@"}, want: closerangeWant},
	{name: "pipesz", prog: "fileops", args: []string{"pipesz", "@TMP@"}, want: pipeszWant},
	{name: "copy", prog: "fileops", args: []string{"copy", "@TMP@"}, want: copyWant},
}

const copyWant = `sendfile at 2: 5, offset now 7, src pos 10
dst: 5 "23456"
sendfile from the position: 3, src pos 10
dst: 8 "23456789"
sendfile to a pipe: 4
pipe: read 4 "0123"
sendfile from a pipe with an offset: ESPIPE
sendfile negative offset: EINVAL
sendfile to O_RDONLY: EBADF
sendfile to O_APPEND: EINVAL
sendfile bad fd: EBADF
copy_file_range: 6, offsets 6 6
copy: 6 "012345"
copy_file_range from the positions: 2
copy: 6 "892345"
copy_file_range past EOF: 0
copy_file_range flags: EINVAL
copy_file_range pipe: EINVAL
copy_file_range dir: EISDIR
copy_file_range to O_RDONLY: EBADF
copy_file_range to O_APPEND: EBADF
copy_file_range overlapping: EINVAL
copy_file_range same file apart: 4
fallocate 0: ok
size 10000
fallocate KEEP_SIZE: ok
size 10000
fallocate len 0: EINVAL
fallocate off -1: EINVAL
fallocate O_RDONLY: EBADF
fallocate pipe: ESPIPE
fallocate bad mode: EOPNOTSUPP
fallocate bad fd: EBADF
preadv2 at 4: 6 "456789"
preadv2 at -1: 6 "123456", pos 7
preadv2 at -2: EINVAL
preadv2 bad flags: EOPNOTSUPP
preadv2 RWF_HIPRI: 3
pwritev2 at 0 RWF_DSYNC: 2
pwritev2 RWF_APPEND: 2
copy: 8 "AB2345AB"
pwritev2 bad flags: EOPNOTSUPP
preadv2 RWF_NOWAIT on an empty pipe: EAGAIN
F_GET_SEALS of a pipe: EINVAL
memfd_create: ok cloexec cloexec
memfd link: /memfd:litebox (deleted)
memfd write: 6
memfd seals: 0
memfd add seals: ok
memfd seals: 0x6
memfd grow: EPERM
memfd shrink: EPERM
memfd overwrite: 1
memfd append: EPERM
memfd reopen: ok regular
memfd: read 6 "Sealed"
memfd add seal on O_RDONLY: EPERM
memfd add seal write: ok
memfd write sealed: EPERM
memfd add after F_SEAL_SEAL: EPERM
memfd without sealing: 1 EPERM
memfd long name: EINVAL
memfd bad flags: EINVAL
`

const pipeszWant = `F_GETPIPE_SZ: 65536
F_SETPIPE_SZ 100000: 131072
F_GETPIPE_SZ at the other end: 131072
F_SETPIPE_SZ 0: 4096
write 4097: 4096
write 1 more: EAGAIN
F_SETPIPE_SZ 8192: 8192
write 4096 more: 4096
F_SETPIPE_SZ below what is buffered: EBUSY
F_SETPIPE_SZ -1: EINVAL
F_GETPIPE_SZ on a file: EBADF
F_SETPIPE_SZ on a file: EBADF
`

const statfsWant = `statfs /proc: type 0x9fa0 bsize 4096 namelen 255 frsize 4096 blocks consistent valid yes
/proc blocks 0 files 0
statfs /proc/self/fd: type 0x9fa0 bsize 4096 namelen 255 frsize 4096 blocks consistent valid yes
fstatfs pipe: type 0x50495045 bsize 4096 namelen 255 frsize 4096 blocks consistent valid yes
fstatfs socket: type 0x534f434b bsize 4096 namelen 255 frsize 4096 blocks consistent valid yes
statfs DIR: ok blocks consistent
statfs missing: ENOENT
statfs empty: ENOENT
fstatfs bad fd: EBADF
statfs bad buffer: EFAULT
fstatfs bad buffer: EFAULT
fstatfs O_PATH: type 0x9fa0 bsize 4096 namelen 255 frsize 4096 blocks consistent valid yes
sync: ok
syncfs: ok
syncfs bad fd: EBADF
`

const closerangeWant = `close_range 11-13: ok
close_range 15-16 CLOEXEC: ok
fd 10: open
fd 11: closed
fd 12: closed
fd 13: closed
fd 14: open
fd 15: cloexec
fd 16: cloexec
close_range first > last: EINVAL
close_range bad flags: EINVAL
close_range nothing open: ok
close_range to ~0: ok
fd 10: open
fd 11: closed
fd 12: closed
fd 13: closed
fd 14: closed
fd 15: closed
fd 16: closed
`

const reopenWant = `open /proc/self/fd/R: ok fifo O_RDONLY
open /dev/fd/W: ok fifo O_WRONLY
write reopened: 3
reopened read end: read 3 "abc"
original read end: read 1 "x"
poll reopened: 1 revents 0x1
after poll: read 1 "p"
open read end O_RDWR: ok O_RDWR
write O_RDWR: 1
O_RDWR data at the read end: read 1 "y"
open write end O_RDONLY: ok O_RDONLY
read end made from the write end: read 1 "z"
open O_NONBLOCK: ok O_RDONLY|O_NONBLOCK
empty O_NONBLOCK: read EAGAIN
O_DIRECTORY: ENOTDIR
trailing slash: ENOTDIR
readlink is pipe:[...]: yes
stat /dev/fd/R is the pipe: yes
every write end closed: read 0 ""
open closed fd: ENOENT
open socket: ENXIO
stat socket: socket
open eventfd: ENXIO
open unlinked file: ok regular
unlinked file: read 4 "data"
`

const fifoWant = `mkfifo: ok
mkfifo again: EEXIST
stat: fifo mode 644 size 0
O_WRONLY|O_NONBLOCK without reader: ENXIO
O_RDONLY|O_NONBLOCK: ok O_RDONLY|O_NONBLOCK
no writer yet: read 0 ""
O_WRONLY|O_NONBLOCK with reader: ok O_WRONLY
fstat is the node: yes
reader: read 5 "hello"
writer gone: read 0 ""
blocking O_RDONLY: ok
rendezvous read: "from the child"
blocking O_WRONLY: ok
child reader: read 12 "to the child"
O_RDWR: ok O_RDWR
data after the last close: read EAGAIN
interrupted O_RDONLY: EINTR after 1 alarm(s)
interrupted O_WRONLY: EINTR
O_WRONLY|O_NONBLOCK after: ENXIO
unlink: ok
`

func TestFileops(t *testing.T) { runModeCases(t, fileopsCases) }

// TestMknodDevices: device nodes need CAP_MKNOD, which the guest never
// has (natively the tests may run as root, so the expectation is Linux's
// answer to an unprivileged caller, not the native run's).
func TestMknodDevices(t *testing.T) {
	bin := program(t, "fileops", staticVariant)
	_ = bin
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
	got := runGuest(t, g, nil, "/work/fileops", "mknod", "/tmp")
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(`mknod fifo: ok
fifo mode: 640
mknod regular: ok
regular: yes size 0
mknod typeless: ok
mknod exists: EEXIST
mknod bad type: EINVAL
mknodat missing dir: ENOENT
mknod chr: EPERM
mknod blk: EPERM
`)}, true)
}

// TestMkfifoHostfs: FIFOs are not made in host directories, even :rw ones
// (docs/SECURITY.md, "FIFOs"): EPERM, where /tmp works.
func TestMkfifoHostfs(t *testing.T) {
	program(t, "fileops", staticVariant)
	g := harness.Guest{Mounts: []string{workMount(staticVariant), t.TempDir() + ":/data:rw"}}
	for dir, want := range map[string]string{"/data": "mkfifo: EPERM\n", "/tmp": "mkfifo: ok\n", "/usr": "mkfifo: EROFS\n"} {
		got := runGuest(t, g, nil, "/work/fileops", "mkfifo-at", dir)
		checkExitedNormally(t, got)
		checkResult(t, got, harness.Result{Stdout: []byte(want)}, true)
	}
}

// bashProcSubst: bash's <(...) hands the command /dev/fd/63, a pipe.
var bashProcSubst = []shellCase{
	{name: "process-substitution", args: []string{"-c", `diff <(echo a) <(echo a) && echo same; cat <(echo hi); diff <(echo a) <(echo b); echo "diff: $?"; while read l; do echo "got $l"; done < <(printf '1\n2\n')`},
		want: "same\nhi\n1c1\n< a\n---\n> b\ndiff: 1\ngot 1\ngot 2\n"},
	{name: "cat-dev-stdin", args: []string{"-c", `echo x | cat /dev/stdin; echo y | cat /proc/self/fd/0; echo z | cat /dev/fd/0; echo w | (exec 3<&0; cat /dev/fd/3)`},
		want: "x\ny\nz\nw\n"},
	{name: "dev-stdout", args: []string{"-c", `echo out > /dev/stdout; echo err > /dev/stderr; echo piped > /dev/stdout | cat`},
		want: "out\npiped\n"},
}

func TestBashProcessSubstitution(t *testing.T) { runShellCases(t, "/bin/bash", bashProcSubst) }

// TestCatDevStdin: the sandbox's own standard input (a kernel pipe fed
// from the host) opened again by path.
func TestCatDevStdin(t *testing.T) {
	in := []byte("from the host\n")
	native := runNative(t, "", nil, in, "/bin/cat", "/dev/stdin")
	checkResult(t, native, harness.Result{Stdout: in}, true)
	got := runGuest(t, harness.Guest{}, in, "/bin/cat", "/dev/stdin")
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
}

// TestDiskUsageTmp: statvfs of /tmp reports the --tmpfs-size budget and
// what the guest stored in it (Python's shutil.disk_usage; the host's /tmp
// is another file system, so this is checked against the budget).
func TestDiskUsageTmp(t *testing.T) {
	const script = `import shutil
a = shutil.disk_usage("/tmp")
open("/tmp/f", "wb").write(b"x" * (1 << 20))
b = shutil.disk_usage("/tmp")
print(64 << 20 <= a.total < 65 << 20, a.free - b.free >= 1 << 20, b.used - a.used >= 1 << 20, a.total == a.used + a.free)
`
	needProgram(t, "/usr/bin/python3")
	got := runGuest(t, harness.Guest{Flags: []string{"--tmpfs-size", "64M"}}, nil, "/usr/bin/python3", "-c", script)
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte("True True True True\n")}, true)
}

package tests

// TestDentries: a working directory, a directory descriptor and an open
// file hold the directory itself, not its path (testdata/dentry.c). After
// `mkdir a; cd a; mv ../a ../b; touch x` the file is b/x; a dirfd opened
// before a rename creates in the new place, and ".." from it is its new
// parent; /proc/self/fd and /proc/self/cwd show the paths they have now
// ("(deleted)" once removed); getcwd of a removed directory is ENOENT; a
// rename of another process's cwd across mounts is EXDEV. Compared with
// the native run, which is held to the expected text, in the guest's /tmp
// (memfs) and in a writable host directory (hostfs, whose nodes are
// paths on the host).

import (
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

var dentryCases = []modeCase{
	{name: "cwd-renamed", prog: "dentry", args: []string{"cwd", "@TMP@"}, want: `touch x: ok
b/x: exists
a/x: ENOENT
a: ENOENT
after rename getcwd: b
/proc/self/cwd: b
touch y: ok
c/sub/y: exists
after parent rename getcwd: c/sub
after chdir .. getcwd: c
`},
	{name: "dirfd-renamed", prog: "dentry", args: []string{"dirfd", "@TMP@"}, want: `openat y: ok
b/y: exists
a/y: ENOENT
mkdirat sub: ok
b/sub: exists
dirfd link: b
fstatat y: ok
renameat y z: ok
b/z: exists
`},
	{name: "fd-link", prog: "dentry", args: []string{"fdlink", "@TMP@"}, want: `before: a/f
after dir rename: b/f
after file rename: b/g
after unlink: b/g (deleted)
write after unlink: 4
`},
	{name: "cwd-removed", prog: "dentry", args: []string{"removed", "@TMP@"}, want: `before getcwd: a
after rmdir getcwd: ENOENT
/proc/self/cwd: a (deleted)
create in removed cwd: ENOENT
mkdir in removed cwd: ENOENT
after mkdir of the same name getcwd: ENOENT
create in removed cwd again: ENOENT
a/x: ENOENT
after chdir .. getcwd: .
after rename over it getcwd: ENOENT
/proc/self/cwd: a (deleted)
`},
	{name: "cwd-exdev", prog: "dentry", args: []string{"exdev", "@TMP@"}, want: `rename a b: ok
rename b to /proc: EXDEV
rename b to /dev: EXDEV
child getcwd: b
child touch x: ok
child status: 0
b/x: exists
a: ENOENT
`},
	{name: "dirfd-dotdot", prog: "dentry", args: []string{"dotdot", "@TMP@"}, want: `dirfd .. is q: same
.. link: q
openat ../c/new: ok
q/c/new: exists
openat ../n: ok
q/n: exists
dirfd .. is r: same
.. link: r
fstatat ../../q/n: ok
`},
	{name: "fchdir-renamed", prog: "dentry", args: []string{"fchdir", "@TMP@"}, want: `after fchdir getcwd: b
touch x: ok
b/x: exists
/proc/self/cwd: b
`},
}

func TestDentries(t *testing.T) { runModeCases(t, dentryCases) }

// TestDentriesHostfs runs the same cases in a writable host directory.
func TestDentriesHostfs(t *testing.T) {
	for _, tc := range dentryCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, tc.prog, staticVariant)
			want := harness.Result{Stdout: []byte(tc.want)}
			native := runNative(t, "", nil, nil, append([]string{bin}, substTmp(tc.args, t.TempDir())...)...)
			checkResult(t, native, want, true)
			g := harness.Guest{Mounts: []string{workMount(staticVariant), t.TempDir() + ":/data:rw"}}
			got := runGuest(t, g, nil, "/work/"+tc.prog, substTmp(tc.args, "/data")...)
			checkExitedNormally(t, got)
			checkResult(t, got, native, true)
		})
	}
}

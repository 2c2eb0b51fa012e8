package tests

// Who owns the files a guest did not open by name (testdata/owners.c):
// pipes and sockets belong to their creator's fs ids, as natively, under
// any --user; the
// sandbox's own stdio belongs to the guest's user, so /proc/self/fd/0
// reopens under --user too.

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

func TestAnonFileOwners(t *testing.T) {
	bin := program(t, "owners", staticVariant)
	if os.Geteuid() == 0 {
		native := runNativeAsUser(t, bin, 1234)
		checkResult(t, native, harness.Result{Stdout: []byte(ownersWant)}, true)
	}
	for _, user := range []string{"1234:1234", ""} { // (as root, "the caller" and "root" are one)
		t.Run("user="+user, func(t *testing.T) {
			g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
			if user != "" {
				g.Flags = []string{"--user", user}
			}
			got := runGuest(t, g, nil, "/work/owners")
			checkExitedNormally(t, got)
			checkResult(t, got, harness.Result{Stdout: []byte(ownersWant)}, true)
		})
	}
}

// TestStdioOwner: the sandbox's stdin and stdout belong to the --user,
// so reopening them by path works for it.
func TestStdioOwner(t *testing.T) {
	for _, user := range []string{"0", "1234:1234"} {
		t.Run(user, func(t *testing.T) {
			g := harness.Guest{Flags: []string{"--user", user}}
			got := runGuest(t, g, []byte("from the host\n"), "/bin/sh", "-c",
				`cat /proc/self/fd/0; stat -L -c '%u:%g' /proc/self/fd/0 /proc/self/fd/1; echo out > /dev/stdout`)
			checkExitedNormally(t, got)
			id := user
			if user == "0" {
				id = "0:0"
			}
			checkResult(t, got, harness.Result{Stdout: []byte("from the host\n" + id + "\n" + id + "\nout\n")}, true)
		})
	}
}

// runNativeAsUser runs the guest program bin natively as uid:uid (no
// groups), from a copy that user can reach, with args in which "@TMP@"
// stands for an empty directory the user owns; the caller is root.
func runNativeAsUser(t *testing.T, bin string, uid uint32, args ...string) harness.Result {
	t.Helper()
	dir, err := os.MkdirTemp("", "litebox-asuser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, filepath.Base(bin))
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(work, int(uid), int(uid)); err != nil {
		t.Fatal(err)
	}
	native := harness.Run(harness.Cmd{Argv: append([]string{exe}, substTmp(args, work)...), Env: harness.MinimalEnv(), Dir: "/",
		Cred: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}})
	if native.Err != nil {
		t.Fatal(native.Err)
	}
	return native
}

const ownersWant = `pipe: owned by the caller, mode 10600
socket: owned by the caller, mode 140777
reopen the pipe: ok
reopen its read end: ok
`

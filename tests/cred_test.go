package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// credProgram copies testdata/cred.c's binary into a directory every user
// may read and write (the test directories are root's, mode 0700), for
// native runs as another user, and returns its path there.
func credProgram(t *testing.T) (prog, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "the native runs switch users with setpriv, which needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		skipOrFail(t, "setpriv (util-linux) is needed for the native runs: %v", err)
	}
	built := program(t, "cred", staticVariant)
	dir, err := os.MkdirTemp("", "litebox-cred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	prog = filepath.Join(dir, "cred")
	if err := os.WriteFile(prog, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, dir
}

// TestCredentials runs testdata/cred.c natively as a user (setpriv, no
// supplementary groups) and in the sandbox as the same user (--user, or the
// default user 1000:1000 without the flag): every identity call, errno,
// file owner, permission check and exec result must match. The root case
// runs natively with no_new_privs, as the guest always has it.
func TestCredentials(t *testing.T) {
	prog, dir := credProgram(t)
	for _, tc := range []struct {
		name   string
		native []string // setpriv options
		flags  []string // litebox run flags
		mode   string
	}{
		{"default-user", []string{"--reuid=1000", "--regid=1000", "--clear-groups"}, nil, "unpriv"},
		{"nobody", []string{"--reuid=65534", "--regid=65534", "--clear-groups"}, []string{"--user", "65534:65534"}, "unpriv"},
		{"root", []string{"--nnp", "--clear-groups"}, []string{"--user", "0"}, "root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append([]string{"setpriv"}, tc.native...)
			argv = append(argv, prog, tc.mode, filepath.Join(dir, tc.name))
			want := runNative(t, dir, nil, nil, argv...)
			if want.ExitCode != 0 {
				t.Fatalf("native run failed: %s", want)
			}
			g := harness.Guest{Mounts: []string{dir + ":/work"}, Flags: tc.flags}
			got := runGuest(t, g, nil, "/work/cred", tc.mode, "/tmp/"+tc.name)
			if got.ExitCode != 0 || !bytes.Equal(got.Stdout, want.Stdout) {
				t.Errorf("guest differs from native\nguest: %s\nnative stdout:\n%s\nguest stdout:\n%s", got, want.Stdout,
					got.Stdout)
			}
		})
	}
}

// TestGuestRootIsNoHostRoot: `--user 0` is root to litebox's kernel only.
// A host file in a --mount owned by another host user, mode 0600, and that
// user's 0755 directory stay closed to the guest's root, although litebox
// (root on this host) could read and write them: the guest's capabilities
// never apply to host files and its uid 0 is not the host's.
func TestGuestRootIsNoHostRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "the test needs files of another host user, which only root can make")
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	sub := filepath.Join(dir, "theirs")
	writeFile(t, secret, "host secret\n")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{secret, sub} {
		if err := os.Chown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	g := harness.Guest{Mounts: []string{dir + ":/data:rw"}, Flags: []string{"--user", "0"}}
	const script = `id -u; cat /data/secret; echo cat=$?; touch /data/theirs/x; echo touch=$?; ` +
		`chown 0 /data/secret; echo chown=$?; chmod 644 /data/secret; echo chmod=$?; touch /tmp/mine && chown 7:7 /tmp/mine && stat -c %u:%g /tmp/mine`
	got := runGuest(t, g, nil, "/bin/sh", "-c", script)
	const want = "0\ncat=1\ntouch=1\nchown=1\nchmod=1\n7:7\n"
	if string(got.Stdout) != want {
		t.Errorf("guest root on host files:\n%s\nwant stdout %q", got, want)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "host secret\n" {
		t.Errorf("the host file changed: %q, %v", b, err)
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the host file's mode changed: %v, %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(sub, "x")); !os.IsNotExist(err) {
		t.Errorf("the guest created a file in the host user's directory: %v", err)
	}
}

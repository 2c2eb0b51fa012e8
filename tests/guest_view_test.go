package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// listing is the output listdir prints for a directory with these entries.
func listing(names ...string) string {
	all := append([]string{".", ".."}, names...)
	slices.Sort(all)
	return strings.Join(all, "\n") + "\n"
}

// runListdir lists dir in the guest with the static listdir program; extra
// mounts are added to the /work mount that makes listdir visible.
func runListdir(t *testing.T, dir string, mounts ...string) harness.Result {
	t.Helper()
	program(t, "listdir", staticVariant)
	g := harness.Guest{Mounts: append([]string{workMount(staticVariant)}, mounts...)}
	return runGuest(t, g, nil, "/work/listdir", dir)
}

// TestGuestFileSystemView checks the exact top-level view the contract
// promises: host /usr /bin /sbin /lib /lib64 /etc (those that exist on the
// host), litebox's own /dev, /proc and /tmp, plus mount points; an empty
// /tmp; and exactly the five device nodes in /dev plus the
// stdin, stdout, stderr and fd links into /proc/self/fd, and the shm mount.
func TestGuestFileSystemView(t *testing.T) {
	var root []string
	for _, d := range []string{"usr", "bin", "sbin", "lib", "lib64", "etc"} {
		if _, err := os.Stat("/" + d); err == nil {
			root = append(root, d)
		}
	}
	root = append(root, "dev", "proc", "tmp", "work")

	cases := []struct {
		dir  string
		want string
	}{
		{"/", listing(root...)},
		// ".." of a mount point and of the root is the guest root, never the
		// host directory above the mounted one.
		{"/work/..", listing(root...)},
		{"/work/../..", listing(root...)},
		{"/..", listing(root...)},
		{"/dev", listing("fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero")},
		{"/tmp", listing()},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			got := runListdir(t, tc.dir)
			checkResult(t, got, harness.Result{Stdout: []byte(tc.want)}, true)
		})
	}
}

// TestGuestTmpIsPrivate checks that the guest's /tmp is in memory: a file
// written there does not appear in host /tmp, and a second guest does not
// see it.
func TestGuestTmpIsPrivate(t *testing.T) {
	program(t, "writefile", staticVariant)
	name := "litebox-private-" + filepath.Base(t.TempDir())
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
	got := runGuest(t, g, nil, "/work/writefile", "/tmp/"+name, "guest data")
	checkResult(t, got, harness.Result{Stdout: []byte("OK\n")}, true)

	if _, err := os.Lstat(filepath.Join("/tmp", name)); err == nil {
		os.Remove(filepath.Join("/tmp", name))
		t.Errorf("guest write to /tmp/%s landed in host /tmp", name)
	}
	again := runListdir(t, "/tmp")
	checkResult(t, again, harness.Result{Stdout: []byte(listing())}, true)
}

// TestGuestEnvironment checks that the guest gets exactly the minimal
// environment plus -e variables, and nothing from litebox's own environment
// (runLitebox always sets LITEBOX_TEST_HOST_ONLY for litebox itself).
func TestGuestEnvironment(t *testing.T) {
	needBusybox(t)
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"default", nil, []string{"HOME=/tmp", "PATH=/usr/local/bin:/usr/bin:/bin"}},
		{"extra", []string{"A=1", "B=two words"}, []string{"A=1", "B=two words", "HOME=/tmp", "PATH=/usr/local/bin:/usr/bin:/bin"}},
		{"override", []string{"HOME=/home/x", "PATH=/bin"}, []string{"HOME=/home/x", "PATH=/bin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := runGuest(t, harness.Guest{Env: tc.env}, nil, busyboxPath, "env")
			if got.ExitCode != 0 || len(got.Stderr) != 0 {
				t.Fatalf("env failed:\n%s", got)
			}
			if lines := harness.SortedLines(got.Stdout); !slices.Equal(lines, tc.want) {
				t.Errorf("guest environment = %q, want %q", lines, tc.want)
			}
		})
	}
}

// TestGuestCwd checks the guest's working directory: "/" by default, the
// --cwd directory otherwise, and relative paths resolve against it.
func TestGuestCwd(t *testing.T) {
	needBusybox(t)
	data := busyboxFixture(t)
	cases := []struct {
		name string
		cwd  string
		args []string
		want string
	}{
		{"default", "", []string{"pwd"}, "/\n"},
		{"tmp", "/tmp", []string{"pwd"}, "/tmp\n"},
		{"mount", "/data", []string{"pwd"}, "/data\n"},
		{"relative-open", "/data", []string{"cat", "f.txt"}, bbData},
		{"dotdot", "/data", []string{"cat", "../data/f.txt"}, bbData},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := harness.Guest{Mounts: []string{data + ":/data"}, Cwd: tc.cwd}
			got := runGuest(t, g, nil, busyboxPath, tc.args...)
			checkResult(t, got, harness.Result{Stdout: []byte(tc.want)}, true)
		})
	}
}

// TestSecretsHidden checks that the guest cannot read the host's password
// hashes or SSH host keys through the read-only /etc view, while ordinary
// files there stay readable (so a broken /etc would not pass the test).
func TestSecretsHidden(t *testing.T) {
	needBusybox(t)
	secrets := []string{"/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"}
	keys, _ := filepath.Glob("/etc/ssh/ssh_host_*_key")
	secrets = append(secrets, keys...)
	for _, path := range secrets {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			got := runGuest(t, harness.Guest{}, nil, busyboxPath, "cat", path)
			if got.ExitCode != 1 || len(got.Stdout) != 0 {
				t.Errorf("guest `cat %s` must fail with status 1 and print nothing:\n%s", path, got)
			}
		})
	}

	t.Run("listing", func(t *testing.T) {
		t.Parallel()
		got := runListdir(t, "/etc")
		if got.ExitCode != 0 {
			t.Fatalf("listdir /etc failed:\n%s", got)
		}
		names := strings.Split(string(got.Stdout), "\n")
		for _, hidden := range []string{"shadow", "gshadow", "shadow-", "gshadow-"} {
			if slices.Contains(names, hidden) {
				t.Errorf("/etc listing in the guest contains %q", hidden)
			}
		}
		if !slices.Contains(names, "passwd") {
			t.Errorf("/etc listing in the guest lacks passwd:\n%s", got.Stdout)
		}
	})

	t.Run("passwd-readable", func(t *testing.T) {
		t.Parallel()
		want, err := os.ReadFile("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		got := runGuest(t, harness.Guest{}, nil, busyboxPath, "cat", "/etc/passwd")
		checkResult(t, got, harness.Result{Stdout: want}, true)
	})
}

// TestSymlinkEscape checks that symlinks and ".." inside a mounted host
// directory are resolved in the guest's namespace: none of them may reach a
// host file outside the mounted directory.
func TestSymlinkEscape(t *testing.T) {
	needBusybox(t)
	base := t.TempDir()
	secretContent := "TOP SECRET " + filepath.Base(base) + "\n"
	secret := filepath.Join(base, "secret.txt")
	writeFile(t, secret, secretContent)
	mnt := filepath.Join(base, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mnt, "inside.txt"), "inside\n")

	// The guest must not be able to reach the secret's host path by
	// accident: /tmp is private, but make sure the path is not under a
	// directory the guest sees from the host.
	for _, visible := range []string{"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/"} {
		if strings.HasPrefix(secret, visible) {
			t.Skipf("temporary directory %s is inside guest-visible %s; set TMPDIR", base, visible)
		}
	}
	climb := strings.Repeat("../", strings.Count(mnt, "/")+3)
	links := map[string]string{
		"abs":      secret,                                  // absolute host path
		"rel":      "../secret.txt",                         // relative, out of the mount
		"climb":    climb + strings.TrimPrefix(secret, "/"), // up to / and down again
		"dir":      "..",                                    // directory link to the parent
		"inner":    "inside.txt",                            // control: stays inside
		"innerabs": "/data/inside.txt",                      // control: guest-absolute, inside
		"chain":    "abs",                                   // link to a link
		"hostproc": "/proc/1/root" + secret,                 // via the host's /proc
		"selfroot": "/proc/self/root" + secret,              // via the guest's /proc
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(mnt, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Make sure the escapes would work on the host, so the test is meaningful.
	for _, name := range []string{"abs", "rel", "climb", "chain"} {
		if b, err := os.ReadFile(filepath.Join(mnt, name)); err != nil || string(b) != secretContent {
			t.Fatalf("host check: reading %s via %s: %q, %v", secret, name, b, err)
		}
	}

	g := harness.Guest{Mounts: []string{mnt + ":/data"}}
	for _, path := range []string{
		"/data/abs", "/data/rel", "/data/climb", "/data/dir/secret.txt", "/data/chain",
		"/data/hostproc", "/data/selfroot", "/data/../secret.txt", "/data/../../secret.txt",
		"/data/" + climb + strings.TrimPrefix(secret, "/"), secret,
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			got := runGuest(t, g, nil, busyboxPath, "cat", path)
			if bytes.Contains(got.Stdout, []byte("TOP SECRET")) || bytes.Contains(got.Stderr, []byte("TOP SECRET")) {
				t.Fatalf("guest read the host secret through %s", path)
			}
			if got.ExitCode != 1 || len(got.Stdout) != 0 {
				t.Errorf("guest `cat %s` must fail with status 1:\n%s", path, got)
			}
		})
	}
	for _, path := range []string{"/data/inner", "/data/innerabs"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			got := runGuest(t, g, nil, busyboxPath, "cat", path)
			checkResult(t, got, harness.Result{Stdout: []byte("inside\n")}, true)
		})
	}
}

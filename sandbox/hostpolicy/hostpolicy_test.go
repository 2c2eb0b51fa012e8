package hostpolicy

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestInstall runs itself in a child process (a filter cannot be removed),
// installs the allowlist there and checks that listed syscalls work and
// others fail with EPERM.
func TestInstall(t *testing.T) {
	if os.Getenv("HOSTPOLICY_CHILD") == "1" {
		if err := Install(); err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			name string
			err  func() error
			want error
		}{
			{"socket", func() error { _, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); return err }, unix.EPERM},
			{"execve", func() error { return unix.Exec("/bin/true", []string{"true"}, nil) }, unix.EPERM},
			{"mount", func() error { return unix.Mount("none", "/tmp", "tmpfs", 0, "") }, unix.EPERM},
			{"memfd_create", func() error { _, err := unix.MemfdCreate("x", 0); return err }, unix.EPERM},
			{"openat2 allowed", func() error {
				fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH})
				if err == nil {
					unix.Close(fd)
				}
				return err
			}, nil},
			{"getpid allowed", func() error { unix.Getpid(); return nil }, nil},
		}
		for _, c := range checks {
			if err := c.err(); err != c.want {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		status, _ := os.ReadFile("/proc/self/status")
		if !strings.Contains(string(status), "Seccomp:\t2") {
			t.Errorf("process not in seccomp filter mode:\n%s", status)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstall$", "-test.v")
	cmd.Env = append(os.Environ(), "HOSTPOLICY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestInstall") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestAllowlistHasNoDuplicates(t *testing.T) {
	seen := map[uint32]string{}
	for _, s := range Allowed {
		if prev, ok := seen[s.Nr]; ok {
			t.Errorf("syscall %d listed as %s and %s", s.Nr, prev, s.Name)
		}
		seen[s.Nr] = s.Name
	}
	if _, err := filter(); err != nil {
		t.Fatal(err)
	}
}

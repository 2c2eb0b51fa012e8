package sandbox_test

import (
	"io"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/sandbox"
)

// TestNameFilesFollowHostname: the guest's /etc/hostname and /etc/hosts
// name the sandbox's configured hostname, and /etc/resolv.conf no
// nameserver without a network.
func TestNameFilesFollowHostname(t *testing.T) {
	sb, err := sandbox.New(sandbox.Config{Hostname: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	read := func(path string) string {
		f, err := sb.FS().Open(path, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer f.DecRef()
		b, err := io.ReadAll(io.NewSectionReader(readerAt{f.Pread}, 0, 1<<16))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return string(b)
	}
	if got := read("/etc/hostname"); got != "web1\n" {
		t.Errorf("/etc/hostname %q", got)
	}
	if got := read("/etc/hosts"); !strings.Contains(got, "127.0.1.1\tweb1\n") || !strings.Contains(got, "127.0.0.1\tlocalhost\n") {
		t.Errorf("/etc/hosts %q", got)
	}
	if got := read("/etc/resolv.conf"); strings.Contains(got, "nameserver") {
		t.Errorf("/etc/resolv.conf names a server without a network: %q", got)
	}
}

type readerAt struct {
	f func([]byte, int64) (int, error)
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f(p, off)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}

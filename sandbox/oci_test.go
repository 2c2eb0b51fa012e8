package sandbox_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/sandbox"
)

// TestTmpfsMounts checks the tmpfs mounts of Config.Mounts: their mode,
// their own size limit, read-only ones.
func TestTmpfsMounts(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{Mounts: []sandbox.Mount{
		{GuestPath: "/run/a", Tmpfs: &sandbox.Tmpfs{Size: 64 << 10, Mode: 0o700}},
		{GuestPath: "/run/b", Tmpfs: &sandbox.Tmpfs{}},
		{GuestPath: "/ro", Tmpfs: &sandbox.Tmpfs{ReadOnly: true, Mode: 0o555}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs := s.FS()
	for _, tt := range []struct {
		path string
		mode uint32
	}{{"/run/a", 0o700}, {"/run/b", 0o1777}, {"/ro", 0o555}} {
		st, err := fs.Stat(tt.path, true)
		if err != nil {
			t.Fatalf("stat %s: %v", tt.path, err)
		}
		if st.Mode&0o7777 != tt.mode || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Errorf("%s: mode %#o, want dir %#o", tt.path, st.Mode, tt.mode)
		}
	}
	if err := fs.Mkdir("/ro/x", 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir in a read-only tmpfs: %v, want EROFS", err)
	}
	// /run/a holds 64 KiB: a larger file does not fit.
	f, err := fs.Open("/run/a/big", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	// As a full Linux tmpfs: a short write, then ENOSPC.
	n, err := f.Write(make([]byte, 128<<10))
	if err != nil || n >= 64<<10 || n == 0 {
		t.Errorf("writing 128 KiB in a 64 KiB tmpfs: %d, %v; want a short write", n, err)
	}
	if _, err := f.Write(make([]byte, 64<<10)); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("writing past a full tmpfs: %v, want ENOSPC", err)
	}
}

func TestTmpfsBadMode(t *testing.T) {
	_, err := sandbox.New(sandbox.Config{Mounts: []sandbox.Mount{{GuestPath: "/x", Tmpfs: &sandbox.Tmpfs{Mode: 0o10000}}}})
	if err == nil || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("err = %v", err)
	}
}

// TestUnappliedAudited checks that every unapplied setting is an audit
// event.
func TestUnappliedAudited(t *testing.T) {
	var audit bytes.Buffer
	s, err := sandbox.New(sandbox.Config{Audit: &audit, Unapplied: []sandbox.Unapplied{
		{Field: "linux.seccomp", Value: "SCMP_ACT_ERRNO", Reason: "not needed"},
		{Field: "mounts[4]", Value: "mqueue /dev/mqueue", Reason: "none"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	out := audit.String()
	for _, want := range []string{`"msg":"unapplied_setting"`, `"field":"linux.seccomp"`, `"value":"mqueue /dev/mqueue"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %s:\n%s", want, out)
		}
	}
}

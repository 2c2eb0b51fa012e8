package sandbox

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func TestGuestLoopbackNameservers(t *testing.T) {
	tests := []struct {
		name, conf string // conf "": no file
		want       string
	}{
		{"no resolv.conf: glibc's default", "", "[127.0.0.1]"},
		{"systemd-resolved stub", "nameserver 127.0.0.53\noptions edns0\n", "[127.0.0.53]"},
		{"remote server only", "nameserver 10.255.255.53\n", "[]"},
		{"mixed", "# c\nsearch x\nnameserver ::1\nnameserver 8.8.8.8\nnameserver 127.0.0.53\nnameserver ::1\n", "[::1 127.0.0.53]"},
		{"no nameserver line", "search example.com\n", "[127.0.0.1]"},
		{"garbage", "nameserver not-an-ip\n", "[127.0.0.1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.New(memfs.New(0))
			if err := fs.Mkdir("/etc", 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.conf != "" {
				f, err := fs.Open("/etc/resolv.conf", unix.O_CREAT|unix.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write([]byte(tc.conf)); err != nil {
					t.Fatal(err)
				}
				f.DecRef()
			}
			got := guestLoopbackNameservers(fs)
			if s := fmt.Sprint(got); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
			if slices.ContainsFunc(got, func(a netip.Addr) bool { return !a.IsLoopback() }) {
				t.Errorf("non-loopback address in %v", got)
			}
		})
	}
}

package sandbox_test

import (
	"strings"
	"testing"

	"github.com/litebox-go/litebox/sandbox"
)

// TestMountOrderAndLabels: a sandbox's own mounts are made in the engines'
// order (/proc, /dev, /dev/pts, /dev/shm, /tmp) before its Mounts, which
// the mount table lists as made; labels rename a mount's type and source,
// and a label naming a path, or no mount, is refused.
func TestMountOrderAndLabels(t *testing.T) {
	sb, err := sandbox.New(sandbox.Config{
		Mounts:      []sandbox.Mount{{GuestPath: "/run", Tmpfs: &sandbox.Tmpfs{}}},
		MountLabels: []sandbox.MountLabel{{GuestPath: "/dev/", Type: "tmpfs", Source: "tmpfs"}, {GuestPath: "/dev/shm", Source: "shm"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var got []string
	for _, m := range sb.FS().Mounts() {
		switch m.Path {
		case "/proc", "/dev", "/dev/pts", "/dev/shm", "/tmp", "/run":
			got = append(got, m.Source+" "+m.Path+" "+m.Type)
		}
	}
	want := "proc /proc proc,tmpfs /dev tmpfs,devpts /dev/pts devpts,shm /dev/shm tmpfs,tmpfs /tmp tmpfs,tmpfs /run tmpfs"
	if strings.Join(got, ",") != want {
		t.Errorf("mounts %q\nwant %q", strings.Join(got, ","), want)
	}
	for _, tt := range []struct {
		label sandbox.MountLabel
		want  string
	}{
		{sandbox.MountLabel{GuestPath: "/dev", Source: "/dev/sda1"}, "no / or NUL"},
		{sandbox.MountLabel{GuestPath: "/dev", Type: strings.Repeat("x", 256)}, "at most 255 bytes"},
		{sandbox.MountLabel{GuestPath: "/nowhere", Source: "x"}, "no such file"},
	} {
		sb, err := sandbox.New(sandbox.Config{MountLabels: []sandbox.MountLabel{tt.label}})
		if err == nil {
			sb.Close()
			t.Errorf("label %+v accepted", tt.label)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("label %+v: %v, want %q", tt.label, err, tt.want)
		}
	}
}

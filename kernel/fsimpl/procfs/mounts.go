package procfs

import (
	"strings"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// mounts is /proc/<pid>/mounts (and, through /proc/mounts -> self/mounts,
// /etc/mtab on hosts that link it there): the sandbox's mount table in
// fstab format, "SOURCE TARGET TYPE OPTIONS 0 0". df(1) and getmntent(3)
// read it to find the file system of a path, and fail without it. Every
// process of a sandbox shares one mount namespace, so all see the same
// table. The source names the file system type, never a host path or
// device (a --mount does not tell the guest where it comes from); the
// implicit directories the VFS makes for mount points are not mounts and
// are left out.
func mounts(v *vfs.VFS) []byte {
	var b strings.Builder
	for _, m := range v.Mounts() {
		name := m.FS.Name()
		if name == "skeleton" {
			continue
		}
		opts := "rw"
		if m.FS.ReadOnly() {
			opts = "ro"
		}
		for _, field := range []string{name, mountEscape(m.Path), name, opts + ",relatime"} {
			b.WriteString(field)
			b.WriteByte(' ')
		}
		b.WriteString("0 0\n")
	}
	return []byte(b.String())
}

// mountEscape escapes what would split a field, as Linux's mangle(): space,
// tab, newline and backslash become octal escapes.
func mountEscape(s string) string {
	return strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(s)
}

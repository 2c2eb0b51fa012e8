package procfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

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

// firstMountID is the id of the root mount in mountinfo; its parent is
// one less, which names no listed mount (as Linux shows a namespace's root
// mount, whose parent is outside the namespace).
const firstMountID = 21

// mountinfo is /proc/<pid>/mountinfo: the mounts of mounts(), in
// proc(5)'s format, "ID PARENT MAJOR:MINOR ROOT TARGET OPTIONS - TYPE
// SOURCE SUPEROPTIONS", the form libmount, findmnt and the OCI
// runtime-tools read. Ids are positions in the table (which does not
// change once the sandbox runs); a mount's parent is the nearest mount
// above its target; the device is the st_dev of the mount's root, as
// stat(2) shows it.
func mountinfo(v *vfs.VFS) []byte {
	type entry struct {
		id   int
		path string
	}
	var b strings.Builder
	var listed []entry
	for _, m := range v.Mounts() {
		name := m.FS.Name()
		if name == "skeleton" {
			continue
		}
		id := firstMountID + len(listed)
		parent := firstMountID - 1
		for _, e := range listed { // parents come first: the longest prefix wins
			if e.path == "/" || strings.HasPrefix(m.Path, e.path+"/") {
				parent = e.id
			}
		}
		listed = append(listed, entry{id, m.Path})
		var dev uint64
		if st, err := m.FS.Root().Stat(); err == nil {
			dev = st.Dev
		}
		opts := "rw"
		if m.FS.ReadOnly() {
			opts = "ro"
		}
		fmt.Fprintf(&b, "%d %d %d:%d / %s %s,relatime - %s %s %s\n", id, parent,
			unix.Major(dev), unix.Minor(dev), mountEscape(m.Path), opts, name, name, opts)
	}
	return []byte(b.String())
}

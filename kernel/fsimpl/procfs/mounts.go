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
		if m.FS.Name() == "skeleton" {
			continue
		}
		opts := "rw"
		if m.FS.ReadOnly() {
			opts = "ro"
		}
		for _, field := range []string{mountEscape(m.Source), mountEscape(m.Path), mountEscape(m.Type), opts + ",relatime"} {
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
// runtime-tools read, in mount order as Linux lists them. Ids are
// positions in the table (which does not change once the sandbox runs); a
// mount's parent is the mount its mount point is on (the nearest listed
// one: a skeleton is none); the device is the st_dev of the mount's root,
// as stat(2) shows it.
func mountinfo(v *vfs.VFS) []byte {
	var b strings.Builder
	all := v.Mounts()
	ids := make([]int, len(all)) // 0: not listed
	next := firstMountID
	for i, m := range all {
		if m.FS.Name() == "skeleton" {
			continue
		}
		ids[i] = next
		next++
		parent := firstMountID - 1
		for p := m.Parent; p >= 0; p = all[p].Parent {
			if ids[p] != 0 {
				parent = ids[p]
				break
			}
		}
		var dev uint64
		if st, err := m.FS.Root().Stat(); err == nil {
			dev = st.Dev
		}
		opts := "rw"
		if m.FS.ReadOnly() {
			opts = "ro"
		}
		fmt.Fprintf(&b, "%d %d %d:%d / %s %s,relatime - %s %s %s\n", ids[i], parent,
			unix.Major(dev), unix.Minor(dev), mountEscape(m.Path), opts, mountEscape(m.Type), mountEscape(m.Source), opts)
	}
	return []byte(b.String())
}

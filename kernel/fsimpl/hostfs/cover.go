package hostfs

import (
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Covers: some names of this file system's directories are other nodes,
// whatever the host directory has there. They are the file mounts of a
// writable host root (an OCI bundle's rootfs): the engine's /etc/hosts,
// /etc/resolv.conf or /run/.containerenv over the rootfs's own, as runc
// bind-mounts them. The VFS mounts directories only, so the file system
// that holds the name serves the covering node instead (the overlay of an
// image root does the same, overlay.FS.Cover).
//
// A covered name behaves as a mount point does on Linux: it cannot be
// removed or renamed over (EBUSY), nor created again (EEXIST); a
// directory above covered names cannot be renamed (EBUSY), since the
// covers are kept by path.

// Cover makes each name of files, in the directory dir (a clean guest
// path relative to the root, "/" for the root itself), the given node.
// Call it before the file system is shared: covers are read without a
// lock afterwards.
func (fs *FS) Cover(dir string, files map[string]vfs.Node) {
	rel := strings.TrimPrefix(path.Clean("/"+dir), "/")
	if rel == "" {
		rel = "."
	}
	if fs.covers == nil {
		fs.covers = map[string]map[string]vfs.Node{}
	}
	m := fs.covers[rel]
	if m == nil {
		m = map[string]vfs.Node{}
		fs.covers[rel] = m
	}
	for name, n := range files {
		m[name] = n
	}
}

// covered returns the node covering name in the directory rel, if any.
func (fs *FS) covered(rel, name string) (vfs.Node, bool) {
	if len(fs.covers) == 0 {
		return nil, false
	}
	n, ok := fs.covers[rel][name]
	return n, ok
}

// holdsCovers reports whether rel is a directory with covered names
// below it (or in it).
func (fs *FS) holdsCovers(rel string) bool {
	for dir := range fs.covers {
		if dir == rel || strings.HasPrefix(dir, rel+"/") {
			return true
		}
	}
	return false
}

// withCovers replaces or adds the covered names of the directory rel in
// a listing.
func (fs *FS) withCovers(rel string, ents []vfs.DirEntry) []vfs.DirEntry {
	files := fs.covers[rel]
	if len(files) == 0 {
		return ents
	}
	ents = slices.DeleteFunc(ents, func(e vfs.DirEntry) bool { _, ok := files[e.Name]; return ok })
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		e := vfs.DirEntry{Name: name, Type: unix.DT_REG}
		if st, err := files[name].Stat(); err == nil {
			e.Ino, e.Type = st.Ino, vfs.DTFromMode(st.Mode)
		}
		ents = append(ents, e)
	}
	return ents
}

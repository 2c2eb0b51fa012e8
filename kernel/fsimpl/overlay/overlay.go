// Package overlay stacks read-only file systems (a container image's
// layers) under a writable memfs, as Linux's overlayfs does: the guest sees
// one merged tree, every change goes to the upper memfs, and the layers are
// never modified, so each sandbox starts from the same image and throws
// its changes away with its upper.
//
// Semantics (Documentation/filesystems/overlayfs.rst, with the OCI image
// layer format for the lower layers):
//
//   - A name is looked up in the upper first, then in the lower layers from
//     the top. A non-directory hides everything of that name below it;
//     directories of the same name merge (upper first), down to a layer
//     whose directory is opaque.
//   - In a lower layer, the OCI whiteout ".wh.NAME" hides NAME of the
//     layers below, and ".wh..wh..opq" makes its directory opaque (the
//     layers below contribute nothing to it). Names starting with ".wh."
//     of lower layers are never shown.
//   - In the upper, a removed lower name is an internal whiteout marker (a
//     symlink whose target holds a NUL byte, which no guest can make) and
//     an opaque directory carries an internal extended attribute; neither
//     is ever shown to the guest, and the guest can neither read nor set
//     the trusted.overlay.* attributes.
//   - Copy-up: the first change to a lower entry (open for writing,
//     truncate, chmod, chown, utimes, setxattr, hard link, rename) copies
//     it into the upper, its parents first: mode, owner, times, extended
//     attributes and for a regular file its bytes (holes stay holes), all
//     charged to the upper memfs (ENOSPC when it is full). A directory's
//     copy-up copies the directory only. Lower files with several hard
//     links stay linked: the copy-up of one link links the later ones to
//     the same upper file (Linux's index feature).
//   - Rename of a directory that has lower content (or came from a lower
//     layer) fails with EXDEV, as Linux's overlayfs without redirect_dir:
//     mv(1) and the like fall back to copying. Other renames work, leaving
//     a whiteout at the old name when a lower entry was there.
//   - st_dev is one per overlay; st_ino is the lower entry's (made unique
//     per layer by its layer index in the top byte) and stays the same
//     across copy-up, because the copied-up file records its origin.
//     readdir's d_ino agrees with st_ino. A merged directory reports
//     st_nlink 1 (as Linux), which tells find(1) not to count
//     subdirectories.
//
// Nodes: the VFS caches dentries and compares nodes, so each name has one
// node object (a *base) for as long as anything holds it; a copy-up sets
// the node's upper in place. Nodes nothing holds are collected (the
// children maps hold weak pointers), so the overlay itself holds no more
// than the guest's open files and dentries, which the VFS charges.
//
// Locking: FS.mu guards the tree (children, parent, name, dead and the
// copy-up of every node); a lookup of a live name takes it for reading,
// everything else for writing. The upper memfs and the layers have their
// own locks, always taken after it, and FS.linkMu (links.go) is taken
// last. Copy-up copies a file's bytes under FS.mu, so a large copy-up
// holds up the overlay's other calls meanwhile. Stat and the I/O of open
// files take no overlay lock (but linkMu, for a file with several links).
package overlay

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Magic is f_type of an overlay (OVERLAYFS_SUPER_MAGIC).
const Magic = 0x794c7630

// maxLayers bounds the lower layers: the layer index fills the top byte of
// st_ino (0 is the upper).
const maxLayers = 254

// Options configure an overlay.
type Options struct {
	// ReadOnly makes every change fail with EROFS (litebox run
	// --read-only): the guest sees the layers as they are.
	ReadOnly bool
}

// FS is one overlay instance.
type FS struct {
	upper  *memfs.FS
	lowers []vfs.FileSystem
	ro     bool
	dev    uint64

	mu   sync.RWMutex
	root *base
	// linkMu guards links, which follows the lower files with several
	// hard links whose names the guest changed, by origin inode number
	// (links.go). It grows with copy-ups and whiteouts only, which the
	// upper memfs charges.
	linkMu sync.Mutex
	links  map[uint64]*linkCount
	// covers are synthesized nodes shown over names of directories
	// (Cover), keyed by the directory's path.
	covers map[string]map[string]vfs.Node
	tmpSeq uint64
}

// ErrTooManyLayers is returned by New for more than 254 lower layers.
var ErrTooManyLayers = errors.New("overlay: too many layers")

// New stacks lowers (top first, read-only: nothing is ever written to
// them) under upper, which receives every change. upper should be empty
// and used by nothing else; its root takes the attributes of the top
// layer's root.
func New(upper *memfs.FS, lowers []vfs.FileSystem, opts Options) (*FS, error) {
	if upper == nil {
		return nil, errors.New("overlay: no upper file system")
	}
	if len(lowers) > maxLayers {
		return nil, fmt.Errorf("%w: %d (at most %d)", ErrTooManyLayers, len(lowers), maxLayers)
	}
	fs := &FS{upper: upper, lowers: lowers, ro: opts.ReadOnly, dev: vfs.NewDev(), links: map[uint64]*linkCount{}}
	ur := upper.Root()
	root := &base{fs: fs, kind: unix.S_IFDIR}
	root.setUpper(ur)
	for i, l := range lowers {
		if l == nil {
			return nil, fmt.Errorf("overlay: layer %d is nil", i)
		}
		d := l.Root()
		if root.lower == nil {
			root.lower, root.layer = d, i+1
		}
		root.dirs = append(root.dirs, layerDir{layer: i + 1, dir: d})
		if lowerOpaque(d) {
			break
		}
	}
	if root.lower != nil {
		st, err := root.lower.Stat()
		if err != nil {
			return nil, fmt.Errorf("overlay: stat of the top layer's root: %w", err)
		}
		// The upper root stands for the image's root: its attributes,
		// and its inode number (the origin), are the image's.
		root.ino = tagIno(root.layer, st.Ino)
		if err := copyAttrs(ur, root.lower, &st, root.ino); err != nil {
			return nil, fmt.Errorf("overlay: root attributes: %w", err)
		}
		root.origin = true
	} else {
		st, err := ur.Stat()
		if err != nil {
			return nil, err
		}
		root.ino = tagIno(0, st.Ino)
	}
	fs.root = root
	return fs, nil
}

// Root returns the merged root directory.
func (fs *FS) Root() vfs.DirNode { return fs.root.node().(vfs.DirNode) }

// ReadOnly reports whether changes are refused (Options.ReadOnly).
func (fs *FS) ReadOnly() bool { return fs.ro }

// Name is "overlay", as Linux's mount table shows it.
func (fs *FS) Name() string { return "overlay" }

// StatFS reports the upper's usage (what the guest may still write), with
// overlayfs's magic.
func (fs *FS) StatFS() (vfs.StatFS, error) {
	st, err := fs.upper.StatFS()
	st.Type = Magic
	return st, err
}

// NodeCost is what a live node of the overlay holds of the heap (its
// base, weak handle, cleanup and cache entry), which the VFS charges with
// each dentry (vfs.NodeCoster); TestNodeCostCoversHeap measures it.
func (fs *FS) NodeCost() int64 { return nodeCost }

// nodeCost: see NodeCost.
const nodeCost = 384

// NewUnlinked makes a file linked nowhere in the upper (memfd_create): the
// kernel makes those in the root file system, whose limits they share.
func (fs *FS) NewUnlinked(sealing bool) (vfs.Node, vfs.FileOps, error) {
	return fs.upper.NewUnlinked(sealing)
}

// Upper returns the upper file system (for tests and usage reports).
func (fs *FS) Upper() *memfs.FS { return fs.upper }

// Cover shows files over names of the directory dir (an absolute path of
// the merged tree, "/etc"): the sandbox's synthesized /etc/hosts,
// /etc/hostname and /etc/resolv.conf. A covered name is looked up and
// listed as the covering node, whatever the layers have there; it cannot
// be removed, renamed or replaced (EBUSY, as a bind mount). Call it before
// the overlay is used.
func (fs *FS) Cover(dir string, files map[string]vfs.Node) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.covers == nil {
		fs.covers = map[string]map[string]vfs.Node{}
	}
	fs.covers[dir] = files
	// A live node of the directory takes them now; later ones when
	// they are made (coverDir).
	b := fs.root
	for _, c := range strings.Split(dir, "/") {
		if c == "" {
			continue
		}
		if b = b.cached(c); b == nil {
			return
		}
	}
	if b.kind == unix.S_IFDIR {
		b.covers = files
	}
}

// tagIno makes an inode number of layer (0: the upper) unique in the
// overlay: the layer index goes into the top byte, as Linux's xino.
// Layers whose own numbers use the top byte (rare: 64-bit host inode
// numbers) could collide; none of litebox's file systems numbers that
// high but hostfs's permuted host numbers of 2^32 and more.
func tagIno(layer int, ino uint64) uint64 {
	return ino&(1<<56-1) | uint64(layer)<<56
}

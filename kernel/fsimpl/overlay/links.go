package overlay

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Hard links of the layers. A lower file with several names stays one
// file when the guest changes it: its first copy-up records the upper
// file (Linux's index), the copy-up of another of its names links that
// name to it, and a name looked up again is linked at once. Its link
// count counts its names that are still the lower file's plus the upper
// file's links, so removing one name of it shows, as on one file system.

// linkCount follows one lower file with several hard links.
type linkCount struct {
	lower uint64   // its link count in the layer
	gone  uint64   // of its lower names, those copied up or removed
	upper vfs.Node // its upper file, once one name was copied up
}

// linkOf returns the record of origin o (a lower file of nlink links),
// making it; fs.linkMu held.
func (fs *FS) linkOf(o, nlink uint64) *linkCount {
	lc := fs.links[o]
	if lc == nil {
		lc = &linkCount{lower: nlink}
		fs.links[o] = lc
	}
	return lc
}

// indexed returns the upper file of origin o if it still has a name.
func (fs *FS) indexed(o uint64) vfs.Node {
	fs.linkMu.Lock()
	defer fs.linkMu.Unlock()
	if len(fs.links) == 0 {
		return nil
	}
	if lc := fs.links[o]; lc != nil && lc.upper != nil && linked(lc.upper) {
		return lc.upper
	}
	return nil
}

// lowerNameGone records that a name of the lower-only file b is no
// longer its (a whiteout or a rename replaced it); fs.mu held.
func (fs *FS) lowerNameGone(b *base) {
	if b.kind != unix.S_IFREG || b.upper() != nil || b.lower == nil {
		return
	}
	st, err := b.lower.Stat()
	if err != nil || st.Nlink < 2 {
		return
	}
	fs.linkMu.Lock()
	fs.linkOf(b.ino, st.Nlink).gone++
	fs.linkMu.Unlock()
}

// copiedUp records that a name of a lower file of nlink links now is the
// upper file n; fs.mu held.
func (fs *FS) copiedUp(o, nlink uint64, n vfs.Node) {
	fs.linkMu.Lock()
	lc := fs.linkOf(o, nlink)
	lc.gone++
	if lc.upper == nil || !linked(lc.upper) {
		lc.upper = n
	}
	fs.linkMu.Unlock()
}

// fixNlink corrects the link count of a regular file of origin b.ino
// whose lower file has several links (st is b's real entry's).
func (fs *FS) fixNlink(b *base, st *vfs.Stat) {
	fs.linkMu.Lock()
	defer fs.linkMu.Unlock()
	lc := fs.links[b.ino]
	if lc == nil {
		return
	}
	rest := lc.lower - min(lc.gone, lc.lower)
	if b.upper() != nil {
		st.Nlink += rest
		return
	}
	st.Nlink = rest
	if lc.upper != nil {
		if ust, err := lc.upper.Stat(); err == nil {
			st.Nlink += ust.Nlink
		}
	}
}

// linked reports whether an upper file still has a name.
func linked(n vfs.Node) bool {
	st, err := n.Stat()
	return err == nil && st.Nlink > 0
}

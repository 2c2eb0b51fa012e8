package tarfs

import (
	"archive/tar"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// The index is a few flat slices and two strings, no per-file maps or
// pointers: for a layer of 10k files it is well under a megabyte, and
// the garbage collector has nothing to trace in it (figures in
// docs/ARCHITECTURE.md).
//
// Inode 0 is the root; inode i has inode number i+1. A directory's
// entries are one run of dirents, sorted by name (Lookup is a binary
// search); names and symlink targets are substrings of strs; extended
// attributes are records in xattrs.
type index struct {
	inodes  []inode
	dirents []dirent
	strs    string
	xattrs  string
}

// inode is one file, directory, link or device. off and size mean:
// regular file: the data's offset in the tar and its length; symlink: the
// target's offset in strs and its length; directory: its first dirent
// and the number of entries; others: nothing (0).
type inode struct {
	off, size  int64
	mtime      int64
	rdev       uint64
	mode       uint32 // S_IFMT | 07777
	uid, gid   uint32
	nlink      uint32
	mtimeNsec  uint32
	xoff, xlen uint32 // the inode's records in xattrs
}

// dirent is one name of a directory: name strs[off:off+len], inode ino.
type dirent struct {
	off, len uint32
	ino      uint32
}

func (e *dirent) name(strs string) string { return strs[e.off : e.off+e.len] }

// bytes is the memory the index holds.
func (x *index) bytes() int {
	return len(x.inodes)*int(unsafe.Sizeof(inode{})) + len(x.dirents)*int(unsafe.Sizeof(dirent{})) +
		len(x.strs) + len(x.xattrs)
}

// An xattr record in index.xattrs: u8 name length, name, u32 value
// length (little endian), value. An inode's records are sorted by name.

// eachXattr calls fn with the inode's attributes in order until it
// returns false. Malformed records end the walk (loaded indexes are
// checked, so that does not happen).
func (x *index) eachXattr(in *inode, fn func(name, value string) bool) {
	if in.xlen == 0 || uint64(in.xoff)+uint64(in.xlen) > uint64(len(x.xattrs)) {
		return
	}
	b := x.xattrs[in.xoff : in.xoff+in.xlen]
	for len(b) > 0 {
		nl := int(b[0])
		if len(b) < 1+nl+4 {
			return
		}
		name := b[1 : 1+nl]
		vl := binary.LittleEndian.Uint32([]byte(b[1+nl : 1+nl+4]))
		b = b[1+nl+4:]
		if uint64(vl) > uint64(len(b)) {
			return
		}
		if !fn(name, b[:vl]) {
			return
		}
		b = b[vl:]
	}
}

// appendXattr appends one record.
func appendXattr(b []byte, name, value string) []byte {
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

// bnode is a node while the index is built: a tree of pointers, dropped
// once flattened into the index.
type bnode struct {
	mode, uid, gid uint32
	mtime          int64
	mtimeNsec      uint32
	rdev           uint64
	off, size      int64  // a regular file's data
	target         string // a symlink's
	xattrs         []byte // records, sorted by name
	kids           map[string]*bnode
	idx            int // in the index; -1 until placed
}

// nodeBudget is how many nodes (entries and implied directories) a tar
// of size bytes may make: 8 per 512-byte block, far more than real
// layers (about one per block), so that building the index of a hostile
// tar takes memory linear in its size (at most about 6 times it).
func nodeBudget(size int64) int64 { return size/64 + 1<<16 }

func newDir(mode uint32) *bnode {
	return &bnode{mode: unix.S_IFDIR | mode, kids: map[string]*bnode{}, idx: -1}
}

// build reads every header of the tar (not the data) and makes the index.
func build(r io.ReaderAt, size int64) (*index, error) {
	pr := &posReader{r: r, size: size, buf: make([]byte, 16<<10)}
	tr := tar.NewReader(pr)
	root := newDir(0o755)
	budget := nodeBudget(size)
	last := "" // for errors after an entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, corruptAfter(pr, last, err)
		}
		if err := add(root, hdr, pr.pos, size, &budget); err != nil {
			return nil, err
		}
		last = hdr.Name
	}
	return flatten(root)
}

// corruptAfter describes a header error in one line.
func corruptAfter(pr *posReader, last string, err error) error {
	where := "at the first header"
	if last != "" {
		where = fmt.Sprintf("after entry %q", last)
	}
	hint := ""
	if last == "" && pr.compressed() != "" {
		hint = fmt.Sprintf(" (%s data: decompress the layer first)", pr.compressed())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("tarfs: %w: truncated %s%s", ErrCorrupt, where, hint)
	}
	return fmt.Errorf("tarfs: %w: %s: %v%s", ErrCorrupt, where, err, hint)
}

// entryErr is the one-line error of an entry.
func entryErr(kind error, name, format string, args ...any) error {
	return fmt.Errorf("tarfs: %w: entry %q: %s", kind, name, fmt.Sprintf(format, args...))
}

// splitPath turns a tar name into clean components: a leading "/" and
// "." are dropped (as tar extracts), ".." goes up and must not leave the
// root.
func splitPath(name string) ([]string, error) {
	var out []string
	for c := range strings.SplitSeq(name, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(out) == 0 {
				return nil, entryErr(ErrEscape, name, "\"..\" leaves the root")
			}
			out = out[:len(out)-1]
			continue
		}
		if len(c) > vfs.NameMax {
			return nil, entryErr(ErrCorrupt, name, "a name component is longer than %d bytes", vfs.NameMax)
		}
		if strings.IndexByte(c, 0) >= 0 {
			return nil, entryErr(ErrCorrupt, name, "NUL in the name")
		}
		out = append(out, c)
	}
	return out, nil
}

// add applies one header to the tree, as extracting it would. dataOff is
// where the entry's data starts in the tar.
func add(root *bnode, hdr *tar.Header, dataOff, tarSize int64, budget *int64) error {
	name := hdr.Name
	if len(name) > vfs.PathMax || len(hdr.Linkname) > vfs.PathMax {
		return entryErr(ErrUnsupported, name[:min(len(name), 64)]+"...", "a name longer than %d bytes", vfs.PathMax)
	}
	// Every entry makes at most one node besides the directories its
	// path implies; those are what a hostile tar could multiply (a PAX
	// name of 4 KiB implies 2,000), so they are bounded by the tar's size.
	if *budget--; *budget < 0 {
		return entryErr(ErrUnsupported, name, "more entries and implied directories than a tar of this size can hold")
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX defaults for later entries: archive/tar applies none, nor do we
	case tar.TypeGNUSparse:
		return entryErr(ErrUnsupported, name, "sparse files are not served")
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return entryErr(ErrUnsupported, name, "sparse files are not served")
		}
	}
	comps, err := splitPath(name)
	if err != nil {
		return err
	}
	n, err := newNode(hdr, dataOff, tarSize)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeLink {
		tcomps, err := splitPath(hdr.Linkname)
		if err != nil {
			return entryErr(ErrEscape, name, "hard link target %q leaves the root", hdr.Linkname)
		}
		t, err := lookup(root, tcomps)
		if err != nil || t == nil {
			return entryErr(ErrEscape, name, "hard link target %q is not an earlier entry", hdr.Linkname)
		}
		if t.kids != nil {
			return entryErr(ErrCorrupt, name, "hard link to the directory %q", hdr.Linkname)
		}
		n = t
	}
	if len(comps) == 0 {
		// The root itself ("./"): only a directory can be it.
		if n.kids == nil {
			return entryErr(ErrCorrupt, name, "the root is not a directory")
		}
		root.setMeta(n)
		return nil
	}
	parent := root
	for _, c := range comps[:len(comps)-1] {
		k := parent.kids[c]
		switch {
		case k == nil:
			if *budget--; *budget < 0 {
				return entryErr(ErrUnsupported, name, "more entries and implied directories than a tar of this size can hold")
			}
			k = newDir(0o755) // implied by the path
			parent.kids[c] = k
		case k.kids == nil:
			return entryErr(ErrCorrupt, name, "%q is not a directory", c)
		}
		parent = k
	}
	base := comps[len(comps)-1]
	if old := parent.kids[base]; old != nil && old.kids != nil && n.kids != nil {
		old.setMeta(n) // directories merge
		return nil
	}
	parent.kids[base] = n // replaces an earlier entry, and its subtree
	return nil
}

// setMeta gives directory d the metadata of directory n.
func (d *bnode) setMeta(n *bnode) {
	d.mode, d.uid, d.gid, d.mtime, d.mtimeNsec, d.xattrs = n.mode, n.uid, n.gid, n.mtime, n.mtimeNsec, n.xattrs
}

// lookup finds comps below root without creating anything (nil, nil:
// missing).
func lookup(root *bnode, comps []string) (*bnode, error) {
	n := root
	for _, c := range comps {
		if n.kids == nil {
			return nil, nil
		}
		if n = n.kids[c]; n == nil {
			return nil, nil
		}
	}
	return n, nil
}

// newNode makes the node a header describes (for a hard link: a
// placeholder, replaced by its target).
func newNode(hdr *tar.Header, dataOff, tarSize int64) (*bnode, error) {
	name := hdr.Name
	if hdr.Uid < 0 || hdr.Uid > math.MaxUint32 || hdr.Gid < 0 || hdr.Gid > math.MaxUint32 {
		return nil, entryErr(ErrCorrupt, name, "owner %d:%d out of range", hdr.Uid, hdr.Gid)
	}
	n := &bnode{
		mode: uint32(hdr.Mode & 0o7777), uid: uint32(hdr.Uid), gid: uint32(hdr.Gid),
		mtime: hdr.ModTime.Unix(), mtimeNsec: uint32(hdr.ModTime.Nanosecond()), idx: -1,
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont:
		if hdr.Size < 0 || dataOff > tarSize || hdr.Size > tarSize-dataOff {
			return nil, entryErr(ErrCorrupt, name, "%d bytes of data past the end of the tar", hdr.Size)
		}
		n.mode |= unix.S_IFREG
		n.off, n.size = dataOff, hdr.Size
	case tar.TypeDir:
		n.mode |= unix.S_IFDIR
		n.kids = map[string]*bnode{}
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return nil, entryErr(ErrCorrupt, name, "empty symlink target")
		}
		if len(hdr.Linkname) > vfs.PathMax {
			return nil, entryErr(ErrCorrupt, name, "symlink target longer than %d bytes", vfs.PathMax)
		}
		n.mode |= unix.S_IFLNK
		n.target = hdr.Linkname
	case tar.TypeLink:
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if hdr.Devmajor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor < 0 || hdr.Devminor > math.MaxUint32 {
			return nil, entryErr(ErrCorrupt, name, "device %d:%d out of range", hdr.Devmajor, hdr.Devminor)
		}
		switch hdr.Typeflag {
		case tar.TypeChar:
			n.mode |= unix.S_IFCHR
		case tar.TypeBlock:
			n.mode |= unix.S_IFBLK
		default:
			n.mode |= unix.S_IFIFO
		}
		if hdr.Typeflag != tar.TypeFifo {
			n.rdev = unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		}
	default:
		return nil, entryErr(ErrUnsupported, name, "entry type %q", hdr.Typeflag)
	}
	n.xattrs = xattrsOf(hdr)
	return n, nil
}

// xattrsOf collects the PAX SCHILY.xattr.* records as sorted records.
// Attributes Linux could not hold (names over 255 bytes, values over
// 64 KiB, more names than a listxattr can return) are left out, with a
// log line.
func xattrsOf(hdr *tar.Header) []byte {
	var names []string
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	var out []byte
	listed := 0
	for _, k := range names {
		name, val := strings.TrimPrefix(k, "SCHILY.xattr."), hdr.PAXRecords[k]
		if name == "" || len(name) > vfs.XattrNameMax || len(val) > vfs.XattrSizeMax || listed+len(name)+1 > vfs.XattrListMax {
			slog.Warn("tarfs: extended attribute left out", "entry", hdr.Name, "name", name, "size", len(val))
			continue
		}
		listed += len(name) + 1
		out = appendXattr(out, name, val)
	}
	return out
}

// flatten numbers the tree's inodes breadth first (each directory's
// entries by name), so the numbering, and thus st_ino, depends only on
// the tar, and lays the index out. Replaced entries are not reached and
// vanish.
func flatten(root *bnode) (*index, error) {
	x := &index{}
	var strs strings.Builder
	var xattrs []byte
	var refs []uint32 // names per inode
	addStr := func(s string) (uint32, error) {
		if strs.Len()+len(s) > math.MaxUint32 {
			return 0, fmt.Errorf("tarfs: %w: more than 4 GiB of names", ErrUnsupported)
		}
		off := uint32(strs.Len())
		strs.WriteString(s)
		return off, nil
	}
	place := func(n *bnode) error {
		if len(x.inodes) >= math.MaxUint32-1 {
			return fmt.Errorf("tarfs: %w: too many entries", ErrUnsupported)
		}
		n.idx = len(x.inodes)
		in := inode{mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, mtimeNsec: n.mtimeNsec, rdev: n.rdev}
		switch n.mode & unix.S_IFMT {
		case unix.S_IFREG:
			in.off, in.size = n.off, n.size
		case unix.S_IFLNK:
			off, err := addStr(n.target)
			if err != nil {
				return err
			}
			in.off, in.size = int64(off), int64(len(n.target))
		}
		if len(n.xattrs) > 0 {
			if len(xattrs)+len(n.xattrs) > math.MaxUint32 {
				return fmt.Errorf("tarfs: %w: more than 4 GiB of extended attributes", ErrUnsupported)
			}
			in.xoff, in.xlen = uint32(len(xattrs)), uint32(len(n.xattrs))
			xattrs = append(xattrs, n.xattrs...)
		}
		x.inodes = append(x.inodes, in)
		refs = append(refs, 0)
		return nil
	}
	if err := place(root); err != nil {
		return nil, err
	}
	queue := []*bnode{root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		names := make([]string, 0, len(d.kids))
		for name := range d.kids {
			names = append(names, name)
		}
		sort.Strings(names)
		first := len(x.dirents)
		subdirs := 0
		for _, name := range names {
			k := d.kids[name]
			if k.idx < 0 {
				if err := place(k); err != nil {
					return nil, err
				}
				if k.kids != nil {
					queue = append(queue, k)
				}
			}
			if k.kids != nil {
				subdirs++
			}
			off, err := addStr(name)
			if err != nil {
				return nil, err
			}
			if len(x.dirents) >= math.MaxUint32 {
				return nil, fmt.Errorf("tarfs: %w: too many entries", ErrUnsupported)
			}
			x.dirents = append(x.dirents, dirent{off: off, len: uint32(len(name)), ino: uint32(k.idx)})
			refs[k.idx]++
		}
		in := &x.inodes[d.idx]
		in.off, in.size = int64(first), int64(len(names))
		in.nlink = uint32(2 + subdirs)
	}
	for i := range x.inodes {
		if x.inodes[i].mode&unix.S_IFMT != unix.S_IFDIR {
			x.inodes[i].nlink = refs[i]
		}
	}
	x.strs = strs.String()
	x.xattrs = string(xattrs)
	x.inodes = x.inodes[:len(x.inodes):len(x.inodes)]
	x.dirents = x.dirents[:len(x.dirents):len(x.dirents)]
	return x, nil
}

// posReader reads the tar sequentially for archive/tar and knows where
// it is: after Next, pos is where the entry's data starts. It buffers
// (headers are 512-byte reads) and seeks without reading (archive/tar
// skips data by seeking), so building the index reads little more than
// the headers. ReadAt is used throughout: no shared file offset.
type posReader struct {
	r      io.ReaderAt
	size   int64
	pos    int64
	buf    []byte
	bstart int64 // the tar offset of buf[0]
	blen   int   // valid bytes in buf
	want   int   // bytes the next fill reads
	head   [4]byte
	headOK bool
}

func (p *posReader) Read(b []byte) (int, error) {
	if p.pos >= p.size {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	if p.pos < p.bstart || p.pos >= p.bstart+int64(p.blen) {
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b, p.buf[p.pos-p.bstart:p.blen])
	p.pos += int64(n)
	return n, nil
}

// fill reads the buffer at pos: after a seek (archive/tar skipping an
// entry's data) only the end of the data, the padding and the next
// header (1 KiB), then twice as much at each sequential fill, so a run
// of headers takes few reads and skipped data is not read.
func (p *posReader) fill() error {
	if p.pos != p.bstart+int64(p.blen) || p.want == 0 {
		p.want = 1024
	} else {
		p.want = min(2*p.want, len(p.buf))
	}
	want := min(int64(p.want), p.size-p.pos)
	n, err := p.r.ReadAt(p.buf[:want], p.pos)
	p.bstart, p.blen = p.pos, n
	if p.pos == 0 && n >= len(p.head) {
		copy(p.head[:], p.buf)
		p.headOK = true
	}
	if n > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF // shorter than its size
	}
	return err
}

func (p *posReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += p.pos
	case io.SeekEnd:
		off += p.size
	default:
		return 0, errors.New("tarfs: bad whence")
	}
	if off < 0 {
		return 0, errors.New("tarfs: negative position")
	}
	p.pos = off
	return off, nil
}

// compressed names the compression the tar's first bytes show, if any.
func (p *posReader) compressed() string {
	switch {
	case !p.headOK:
		return ""
	case p.head[0] == 0x1f && p.head[1] == 0x8b:
		return "gzip"
	case p.head == [4]byte{0x28, 0xb5, 0x2f, 0xfd}:
		return "zstd"
	case p.head[0] == 'B' && p.head[1] == 'Z' && p.head[2] == 'h':
		return "bzip2"
	case p.head == [4]byte{0xfd, '7', 'z', 'X'}:
		return "xz"
	}
	return ""
}

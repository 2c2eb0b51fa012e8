package tarfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// The cached index is the index's slices written out as they are, little
// endian, after a header and followed by a SHA-256 of everything before
// it:
//
//	magic "LBTARIDX", u32 version, u32 0, u64 tar size,
//	u32 key length, key,
//	u32 inodes, u32 dirents, u32 strs length, u32 xattrs length,
//	inodes (inodeSize bytes each), dirents (direntSize each), strs, xattrs,
//	sha256.
//
// The checksum only catches a torn or damaged file cheaply. What keeps
// litebox safe is decodeIndex's validation: every offset and length is
// within the tar, the strings or the dirents, names are valid and sorted,
// the directories form a tree reachable from the root, link counts are
// what the entries say. A file that fails anything is ignored and the
// index rebuilt from the tar (and the file replaced).
const (
	cacheMagic   = "LBTARIDX"
	cacheVersion = 1
	inodeSize    = 64
	direntSize   = 12
	headerFixed  = 8 + 4 + 4 + 8 + 4
	countsSize   = 4 * 4
)

// cachePath names key's index in dir: "sha256:ab..." -> "sha256-ab....tarfs-index".
func cachePath(dir, key string) string {
	return filepath.Join(dir, strings.ReplaceAll(key, ":", "-")+".tarfs-index")
}

// loadIndex returns the cached index of key if it fits a tar of size
// bytes, else nil (missing, stale or damaged: the caller rebuilds).
func loadIndex(dir, key string, size int64) *index {
	p := cachePath(dir, key)
	// Only a regular file of ours: no link followed, no FIFO waited on.
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			slog.Debug("tarfs: cached index unreadable, rebuilding", "path", p, "err", err)
		}
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxCacheSize(size, len(key)) {
		slog.Debug("tarfs: cached index not a plausible file, rebuilding", "path", p)
		return nil
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		slog.Debug("tarfs: cached index unreadable, rebuilding", "path", p, "err", err)
		return nil
	}
	x, err := decodeIndex(b, key, size)
	if err != nil {
		slog.Debug("tarfs: cached index rejected, rebuilding", "path", p, "err", err)
		return nil
	}
	return x
}

// maxCacheSize bounds the index file of a tar of size bytes: every inode,
// dirent and string byte comes from at least one byte of a name in the
// tar (a component and its "/"), so each count is at most the tar's size.
func maxCacheSize(size int64, keyLen int) int64 {
	size = min(size, 1<<40) // no overflow below
	return headerFixed + int64(keyLen) + countsSize + size*(inodeSize+direntSize+2) + inodeSize + sha256.Size
}

// storeIndex writes x as key's index in dir, atomically (a temporary file
// renamed over the name), best effort: a failure is logged, the index in
// memory serves anyway. There is no fsync: a file torn by a crash fails
// its checksum and is rebuilt.
func storeIndex(dir, key string, size int64, x *index) {
	b := encodeIndex(x, key, size)
	tmp, err := os.CreateTemp(dir, ".tarfs-index-*")
	if err != nil {
		slog.Warn("tarfs: cannot cache the index", "dir", dir, "err", err)
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), cachePath(dir, key))
	}
	if werr != nil {
		os.Remove(tmp.Name())
		slog.Warn("tarfs: cannot cache the index", "dir", dir, "err", werr)
	}
}

// encodeIndex lays x out in the cache format.
func encodeIndex(x *index, key string, size int64) []byte {
	le := binary.LittleEndian
	n := headerFixed + len(key) + countsSize + len(x.inodes)*inodeSize + len(x.dirents)*direntSize +
		len(x.strs) + len(x.xattrs) + sha256.Size
	b := make([]byte, 0, n)
	b = append(b, cacheMagic...)
	b = le.AppendUint32(b, cacheVersion)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, uint64(size))
	b = le.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	b = le.AppendUint32(b, uint32(len(x.inodes)))
	b = le.AppendUint32(b, uint32(len(x.dirents)))
	b = le.AppendUint32(b, uint32(len(x.strs)))
	b = le.AppendUint32(b, uint32(len(x.xattrs)))
	for i := range x.inodes {
		in := &x.inodes[i]
		b = le.AppendUint64(b, uint64(in.off))
		b = le.AppendUint64(b, uint64(in.size))
		b = le.AppendUint64(b, uint64(in.mtime))
		b = le.AppendUint64(b, in.rdev)
		b = le.AppendUint32(b, in.mode)
		b = le.AppendUint32(b, in.uid)
		b = le.AppendUint32(b, in.gid)
		b = le.AppendUint32(b, in.nlink)
		b = le.AppendUint32(b, in.mtimeNsec)
		b = le.AppendUint32(b, in.xoff)
		b = le.AppendUint32(b, in.xlen)
		b = le.AppendUint32(b, 0)
	}
	for _, e := range x.dirents {
		b = le.AppendUint32(b, e.off)
		b = le.AppendUint32(b, e.len)
		b = le.AppendUint32(b, e.ino)
	}
	b = append(b, x.strs...)
	b = append(b, x.xattrs...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// errBadIndex is what decodeIndex's checks return (never shown to users:
// a bad cache is rebuilt).
var errBadIndex = errors.New("bad cached index")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadIndex, fmt.Sprintf(format, args...))
}

// decodeIndex parses and checks a cached index for key and a tar of
// tarSize bytes. Nothing in b is trusted: an index it returns is one
// build could have made, as far as memory safety and the tree's shape go.
func decodeIndex(b []byte, key string, tarSize int64) (*index, error) {
	le := binary.LittleEndian
	if len(b) < headerFixed+countsSize+sha256.Size {
		return nil, bad("short")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, bad("checksum")
	}
	if string(body[:8]) != cacheMagic || le.Uint32(body[8:]) != cacheVersion || le.Uint32(body[12:]) != 0 {
		return nil, bad("magic or version")
	}
	if tarSize < 0 || le.Uint64(body[16:]) != uint64(tarSize) {
		return nil, bad("tar size")
	}
	kl := int(le.Uint32(body[24:]))
	p := body[headerFixed:]
	if kl != len(key) || len(p) < kl+countsSize || string(p[:kl]) != key {
		return nil, bad("key")
	}
	p = p[kl:]
	ni, nd := uint64(le.Uint32(p)), uint64(le.Uint32(p[4:]))
	ns, nx := uint64(le.Uint32(p[8:])), uint64(le.Uint32(p[12:]))
	p = p[countsSize:]
	if ni == 0 || ni*inodeSize+nd*direntSize+ns+nx != uint64(len(p)) {
		return nil, bad("sizes")
	}
	x := &index{inodes: make([]inode, ni), dirents: make([]dirent, nd)}
	for i := range x.inodes {
		r := p[i*inodeSize:]
		x.inodes[i] = inode{
			off: int64(le.Uint64(r)), size: int64(le.Uint64(r[8:])), mtime: int64(le.Uint64(r[16:])),
			rdev: le.Uint64(r[24:]), mode: le.Uint32(r[32:]), uid: le.Uint32(r[36:]), gid: le.Uint32(r[40:]),
			nlink: le.Uint32(r[44:]), mtimeNsec: le.Uint32(r[48:]), xoff: le.Uint32(r[52:]), xlen: le.Uint32(r[56:]),
		}
		if le.Uint32(r[60:]) != 0 {
			return nil, bad("inode %d padding", i)
		}
	}
	p = p[ni*inodeSize:]
	for i := range x.dirents {
		r := p[i*direntSize:]
		x.dirents[i] = dirent{off: le.Uint32(r), len: le.Uint32(r[4:]), ino: le.Uint32(r[8:])}
	}
	p = p[nd*direntSize:]
	x.strs = string(p[:ns])
	x.xattrs = string(p[ns:])
	if err := x.check(tarSize); err != nil {
		return nil, err
	}
	return x, nil
}

// check validates every field of an index against itself and the tar.
func (x *index) check(tarSize int64) error {
	ni, nd := int64(len(x.inodes)), int64(len(x.dirents))
	if x.inodes[0].mode&unix.S_IFMT != unix.S_IFDIR {
		return bad("root not a directory")
	}
	for i := range x.inodes {
		in := &x.inodes[i]
		if in.mode&^uint32(unix.S_IFMT|0o7777) != 0 || in.mtimeNsec >= 1e9 {
			return bad("inode %d mode or time", i)
		}
		switch in.mode & unix.S_IFMT {
		case unix.S_IFREG:
			if in.off < 0 || in.size < 0 || in.off > tarSize || in.size > tarSize-in.off {
				return bad("inode %d data outside the tar", i)
			}
		case unix.S_IFLNK:
			if in.off < 0 || in.size < 1 || in.size > vfs.PathMax || in.off > int64(len(x.strs))-in.size {
				return bad("inode %d target", i)
			}
		case unix.S_IFDIR:
			if in.off < 0 || in.size < 0 || in.off > nd || in.size > nd-in.off {
				return bad("inode %d entries", i)
			}
		case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
			if in.off != 0 || in.size != 0 {
				return bad("inode %d device", i)
			}
		default:
			return bad("inode %d type", i)
		}
		if in.mode&unix.S_IFMT == unix.S_IFIFO && in.rdev != 0 || in.mode&unix.S_IFMT != unix.S_IFCHR &&
			in.mode&unix.S_IFMT != unix.S_IFBLK && in.rdev != 0 {
			return bad("inode %d rdev", i)
		}
		if err := x.checkXattrs(in); err != nil {
			return bad("inode %d: %v", i, err)
		}
	}
	for i, e := range x.dirents {
		if uint64(e.off)+uint64(e.len) > uint64(len(x.strs)) {
			return bad("dirent %d name", i)
		}
		if vfs.ValidName(e.name(x.strs)) != nil || int64(e.ino) >= ni || e.ino == 0 {
			return bad("dirent %d", i)
		}
	}
	// The shape: every dirent in exactly one directory, names sorted
	// within each, every directory but the root named exactly once and
	// reachable from the root (so a tree: no cycles, no shared
	// subdirectories), every inode named, link counts right.
	owned := make([]bool, nd)
	refs := make([]uint32, ni)
	subdirs := make([]uint32, ni)
	for i := range x.inodes {
		in := &x.inodes[i]
		if in.mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		prev := ""
		for j := in.off; j < in.off+in.size; j++ {
			if owned[j] {
				return bad("dirent %d in two directories", j)
			}
			owned[j] = true
			e := &x.dirents[j]
			name := e.name(x.strs)
			if j > in.off && name <= prev {
				return bad("directory %d not sorted", i)
			}
			prev = name
			refs[e.ino]++
			if x.inodes[e.ino].mode&unix.S_IFMT == unix.S_IFDIR {
				subdirs[i]++
			}
		}
	}
	for j := range owned {
		if !owned[j] {
			return bad("dirent %d in no directory", j)
		}
	}
	dirs := 0
	for i := range x.inodes {
		in := &x.inodes[i]
		isDir := in.mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case i == 0 && refs[0] != 0:
			return bad("root named")
		case i > 0 && refs[i] == 0:
			return bad("inode %d unnamed", i)
		case isDir && i > 0 && refs[i] != 1:
			return bad("directory %d named %d times", i, refs[i])
		case isDir && in.nlink != 2+subdirs[i], !isDir && in.nlink != refs[i]:
			return bad("inode %d link count", i)
		}
		if isDir {
			dirs++
		}
	}
	seen := 0
	queue := []uint32{0}
	for len(queue) > 0 {
		d := &x.inodes[queue[0]]
		queue = queue[1:]
		seen++
		if seen > dirs {
			return bad("directory cycle")
		}
		for _, e := range x.dirents[d.off : d.off+d.size] {
			if x.inodes[e.ino].mode&unix.S_IFMT == unix.S_IFDIR {
				queue = append(queue, e.ino)
			}
		}
	}
	if seen != dirs {
		return bad("directories unreachable from the root")
	}
	return nil
}

// checkXattrs checks that the inode's records are well formed, within
// Linux's limits and sorted by name.
func (x *index) checkXattrs(in *inode) error {
	if uint64(in.xoff)+uint64(in.xlen) > uint64(len(x.xattrs)) {
		return errors.New("xattrs outside")
	}
	b := x.xattrs[in.xoff : in.xoff+in.xlen]
	prev := ""
	listed := 0
	for first := true; len(b) > 0; first = false {
		nl := int(b[0])
		if nl == 0 || len(b) < 1+nl+4 {
			return errors.New("xattr record")
		}
		name := b[1 : 1+nl]
		vl := binary.LittleEndian.Uint32([]byte(b[1+nl : 1+nl+4]))
		b = b[1+nl+4:]
		if vl > vfs.XattrSizeMax || uint64(vl) > uint64(len(b)) || (!first && name <= prev) {
			return errors.New("xattr value or order")
		}
		if listed += nl + 1; listed > vfs.XattrListMax {
			return errors.New("xattr names")
		}
		prev = name
		b = b[vl:]
	}
	return nil
}

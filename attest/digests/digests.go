// Package digests remembers the SHA-256 of file versions, so that verified
// execution hashes a library once per version of the file, not once per
// mapping, sandbox or run.
//
// A version is a page-cache key (pagecache.Key without its Size): for a
// host file its device, inode, size, mtime and ctime; for an image layer's
// file its layer digest and path. A Store keeps them in memory for the
// process and, for host files, in a file shared by the user's litebox
// processes on this boot (Open), so a second `litebox run --verify` of the
// same program hashes nothing.
//
// What makes a remembered digest true is the caller's rule, not this
// package's: a digest may only be added for a version whose bytes can no
// longer change under the same key (pagecache.Stable), hashed from bytes
// read after that. The store's file is trusted
// as litebox's own state: it is used only when it and its directory belong
// to the effective user and nobody else may write them; whoever can write
// it as that user could as well ptrace litebox itself.
package digests

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/pagecache"
)

// Digest is a SHA-256.
type Digest = [32]byte

// MaxMemory bounds the versions a Store keeps in memory; past it the map
// starts over (hashing again costs only time).
const MaxMemory = 1 << 14

// MaxRecords bounds the store's file (about 5 MB); a file that reached it
// is started afresh by the next Open.
const MaxRecords = 1 << 16

// Store is a set of remembered digests. The zero value is not usable; a
// nil *Store remembers nothing. It is safe for concurrent use.
type Store struct {
	mu  sync.Mutex
	mem map[pagecache.Key]Digest

	file    *os.File // the shared record file; nil: memory only
	records int      // in the file
}

// NewMemory returns a Store that keeps digests in memory only.
func NewMemory() *Store { return &Store{mem: map[pagecache.Key]Digest{}} }

// version is k as a version of the whole file: a mapping's key names how
// many bytes it shows, a digest is of the whole file.
func version(k pagecache.Key) pagecache.Key {
	k.Size = k.FileSize
	return k
}

// Lookup returns the digest remembered for k's version.
func (s *Store) Lookup(k pagecache.Key) (Digest, bool) {
	if s == nil {
		return Digest{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.mem[version(k)]
	return d, ok
}

// Add remembers d as the digest of k's version, in the file too for a host
// file. The caller has checked pagecache.Stable.
func (s *Store) Add(k pagecache.Key, d Digest) {
	if s == nil {
		return
	}
	k = version(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.mem[k]; ok && old == d {
		return
	}
	if len(s.mem) >= MaxMemory {
		clear(s.mem)
	}
	s.mem[k] = d
	if s.file != nil && k.Src == "" && s.records < MaxRecords {
		if err := s.append(k, d); err == nil {
			s.records++
		}
	}
}

// Close closes the store's file.
func (s *Store) Close() error {
	if s == nil || s.file == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.file.Close()
	s.file = nil
	return err
}

// The record file: a header naming the format and the boot it belongs to
// (device numbers, and so keys, are only meaningful within one boot), then
// fixed-size records appended with one write each (O_APPEND), so that
// concurrent litebox processes never interleave parts of two.
const (
	magic      = "litebox-digests-1 "
	headerSize = 64
	recordSize = 80 // 5 × 8 key bytes, 32 digest, 4 CRC, 4 padding
	fileName   = "digests-1"
)

// DefaultDir is where Open keeps the store when LITEBOX_DIGESTS does not
// name a directory: the user's cache directory.
func DefaultDir() (string, error) {
	if d := os.Getenv("LITEBOX_DIGESTS"); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "litebox"), nil
}

var process struct {
	once sync.Once
	s    *Store
}

// Process returns the store every sandbox of this litebox process shares:
// backed by the file in DefaultDir when it can be used (LITEBOX_DIGESTS=off
// keeps it in memory), else in memory only. A store file that cannot be
// trusted or read is not an error: hashing again costs only time.
func Process() *Store {
	process.once.Do(func() {
		dir, err := DefaultDir()
		if err == nil && dir != "off" {
			if s, err := Open(dir); err == nil {
				process.s = s
				return
			}
		}
		process.s = NewMemory()
	})
	return process.s
}

// Open returns a Store backed by the record file in dir (made if needed,
// mode 0700), loading the digests it holds. Open is called before the
// sandbox starts: afterwards litebox's own seccomp policy allows it only
// the write(2) of a record to the file it has open.
func Open(dir string) (*Store, error) {
	boot, err := bootID()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("digests: %w", err)
	}
	if err := trusted(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fileName)
	s := &Store{mem: map[pagecache.Key]Digest{}}
	for try := 0; ; try++ {
		f, err := openRecords(path)
		if err != nil {
			return nil, err
		}
		if s.load(f, header(boot)) || try > 0 {
			s.file = f
			return s, nil
		}
		// Another boot's file, malformed or full: a fresh one is put
		// in its place, whole (rename), so that a process appending to
		// the old one meanwhile only loses its records.
		f.Close()
		if err := fresh(dir, path, header(boot)); err != nil {
			return nil, err
		}
	}
}

func openRecords(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("digests: opening %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("digests: %w", err)
	}
	if err := owned(path, &st, unix.S_IFREG); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// load reads f's records into s; false if f is not a file of this boot
// with room for more.
func (s *Store) load(f *os.File, header []byte) bool {
	st, err := f.Stat()
	if err != nil || st.Size() < headerSize || st.Size() >= headerSize+MaxRecords*recordSize {
		return false
	}
	buf := make([]byte, st.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, st.Size()), buf); err != nil || !bytes.Equal(buf[:headerSize], header) {
		return false
	}
	for rec := buf[headerSize:]; len(rec) >= recordSize; rec = rec[recordSize:] {
		k, d, ok := decode(rec[:recordSize])
		if !ok {
			continue // a torn record (a crash mid-write) is skipped
		}
		s.mem[k] = d
		s.records++
	}
	return true
}

// fresh replaces path with a file holding only header.
func fresh(dir, path string, header []byte) error {
	tmp, err := os.CreateTemp(dir, fileName+".*")
	if err != nil {
		return fmt.Errorf("digests: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(header); err != nil {
		tmp.Close()
		return fmt.Errorf("digests: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("digests: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("digests: %w", err)
	}
	return nil
}

// append writes one record: one write(2) on an O_APPEND file, which the
// host places whole at the end even when other processes append too.
func (s *Store) append(k pagecache.Key, d Digest) error {
	_, err := s.file.Write(encode(k, d))
	return err
}

func header(boot string) []byte {
	h := make([]byte, headerSize)
	copy(h, magic+boot)
	h[headerSize-1] = '\n'
	return h
}

func encode(k pagecache.Key, d Digest) []byte {
	r := make([]byte, recordSize)
	binary.LittleEndian.PutUint64(r[0:], k.Dev)
	binary.LittleEndian.PutUint64(r[8:], k.Ino)
	binary.LittleEndian.PutUint64(r[16:], uint64(k.FileSize))
	binary.LittleEndian.PutUint64(r[24:], uint64(k.Mtime))
	binary.LittleEndian.PutUint64(r[32:], uint64(k.Ctime))
	copy(r[40:72], d[:])
	binary.LittleEndian.PutUint32(r[72:], crc32.ChecksumIEEE(r[:72]))
	return r
}

func decode(r []byte) (pagecache.Key, Digest, bool) {
	if binary.LittleEndian.Uint32(r[72:]) != crc32.ChecksumIEEE(r[:72]) {
		return pagecache.Key{}, Digest{}, false
	}
	k := pagecache.Key{Dev: binary.LittleEndian.Uint64(r[0:]), Ino: binary.LittleEndian.Uint64(r[8:]),
		FileSize: int64(binary.LittleEndian.Uint64(r[16:])), Mtime: int64(binary.LittleEndian.Uint64(r[24:])),
		Ctime: int64(binary.LittleEndian.Uint64(r[32:]))}
	k.Size = k.FileSize
	var d Digest
	copy(d[:], r[40:72])
	return k, d, true
}

// trusted checks that the directory path is the effective user's and
// writable by nobody else, and not a symbolic link.
func trusted(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("digests: %w", err)
	}
	return owned(path, &st, unix.S_IFDIR)
}

// owned checks that st, of path, is of type typ, the effective user's and
// writable by nobody else.
func owned(path string, st *unix.Stat_t, typ uint32) error {
	switch {
	case st.Mode&unix.S_IFMT != typ:
		return fmt.Errorf("digests: %s is not a %s", path, map[bool]string{true: "directory", false: "regular file"}[typ == unix.S_IFDIR])
	case st.Uid != uint32(os.Geteuid()):
		return fmt.Errorf("digests: %s belongs to uid %d, not to this user", path, st.Uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("digests: %s may be written by others (mode %o)", path, st.Mode&0o777)
	}
	return nil
}

// bootID names this boot of the host.
func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("digests: boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" || len(id) > headerSize-len(magic)-1 {
		return "", errors.New("digests: malformed boot id")
	}
	return id, nil
}

package mm

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/pagecache"
)

// ExecCheck decides whether memory may become executable: verified
// execution (kernel/verify) refuses file contents its manifest does not
// list, and with --no-exec-anon anonymous executable memory. The kernel
// sets it on every address space (SetExecCheck); mm asks it whenever a
// mapping gets PROT_EXEC, at mmap and at mprotect, in the same places as
// the noexec mounts' VMA.NoExec, and again when a private executable
// mapping's pages are read from its file once more (MADV_DONTNEED,
// mremap growing it). An error refuses the change; it should wrap the
// errno the guest gets (EACCES).
type ExecCheck interface {
	CheckExec(x ExecMapping) error
	CheckAnonExec(op string) error
}

// ExecMapping is a file mapping about to become executable.
type ExecMapping struct {
	// File is the open file mapped (VMA.Hold); nil for litebox's own
	// images (the vDSO), which no guest file backs.
	File FileRef
	// Name is the file's guest path (FileInfo.Path).
	Name string
	// Op is what asks: "mmap", "mprotect", "madvise" or "mremap".
	Op string
	// Sum returns the SHA-256 and length of the file content exactly as
	// the mapping shows it: the whole file, read once into the buffer the
	// mapping is then filled from (or, for pages that exist already,
	// with those pages in place of the file's bytes at their offset). A
	// check that does not call it (it knows the content by the file's
	// identity) has the mapping filled from the file as without a check.
	Sum func() (sum [32]byte, size int64, err error)
	// Written is set when the mapping's pages exist already and differ
	// from the file's bytes (the guest wrote them): nothing remembered of
	// the file stands for them, Sum must be asked.
	Written bool
	// Shared is set for a MAP_SHARED mapping of a writable file, whose
	// pages any writer of the file may change after any check; Sum
	// hashes them as they are now.
	Shared bool
	// Writable is set for a private mapping that is to be writable and
	// executable at once: the guest may write into it what then runs.
	Writable bool
	// Key, when Keyed, is the version of the file the mapping shows: it
	// maps a page-cache entry of that key, whose bytes Sum hashes. A
	// checker may answer from a digest it remembers for that version.
	Key   pagecache.Key
	Keyed bool
}

// SetExecCheck makes c decide which mappings may become executable in
// this address space and its forks; nil: all may.
func (m *MM) SetExecCheck(c ExecCheck) { m.mu.Lock(); m.exec = c; m.mu.Unlock() }

// Limited is a Backing that shows only a prefix of a longer file (the
// loader's ELF segment, zero past p_filesz): Whole returns the file and
// the offset where the prefix ends, so that the whole file can be hashed.
type Limited interface {
	Backing
	Whole() (Backing, int64)
}

// snapshot is a file's whole content read once: what an executable
// mapping is checked against and then filled from, so that a file that
// changes after the check (a :rw mount, a race with another writer)
// cannot slip other bytes into the mapping. The buffer is charged to the
// sandbox's memory budget while it exists.
//
// This is the one place that reads the file for a checked mapping: when
// the page cache keeps files' contents, it becomes that cache entry.
type snapshot struct {
	buf     []byte
	limit   int64 // the Backing's view ends here (Limited), else len(buf)
	charged uint64
	budget  *Budget
}

// sizer is a Backing that knows its file's size, so that a snapshot is
// read into one buffer of the right size.
type sizer interface {
	Size() (int64, error)
}

// takeSnapshot reads all of src's file. The buffer is charged to the
// budget before it is allocated, so a guest mapping a huge file
// executable gets ENOMEM, not litebox an allocation it cannot afford.
func (m *MM) takeSnapshot(src Backing) (*snapshot, error) {
	s := &snapshot{budget: m.budget, limit: -1}
	if l, ok := src.(Limited); ok {
		src, s.limit = l.Whole()
	}
	size := int64(64 << 10)
	if z, ok := src.(sizer); ok {
		if n, err := z.Size(); err == nil && n >= 0 && n < MaxAddr {
			size = n + 1 // one more byte: a file that grew is seen to
		}
	}
	for {
		if len(s.buf) == cap(s.buf) {
			grow := uint64(max(int64(len(s.buf)), size))
			if err := m.budget.Charge(grow); err != nil {
				s.release()
				return nil, err
			}
			s.charged += grow
			s.buf = append(s.buf, make([]byte, grow)...)[:len(s.buf)]
		}
		n, err := src.ReadAt(s.buf[len(s.buf):cap(s.buf)], int64(len(s.buf)))
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil && !errors.Is(err, io.EOF) {
			s.release()
			return nil, fmt.Errorf("mm: reading the file to check: %w", err)
		}
		if n == 0 || err != nil {
			break
		}
	}
	if s.limit < 0 || s.limit > int64(len(s.buf)) {
		s.limit = int64(len(s.buf))
	}
	return s, nil
}

func (s *snapshot) release() {
	s.budget.Uncharge(s.charged)
	s.buf, s.charged = nil, 0
}

// ReadAt serves the mapping's fill from the snapshot, as the Backing it
// stands for would (io.EOF at the end of its view).
func (s *snapshot) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.limit {
		return 0, io.EOF
	}
	n := copy(p, s.buf[off:s.limit])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *snapshot) sum() ([32]byte, int64, error) {
	return sha256.Sum256(s.buf), int64(len(s.buf)), nil
}

// checkMmap checks a new mapping v that is to be executable and returns
// the VMA to populate it with (v, or v filled from the checked snapshot)
// and the release of what it holds.
func (m *MM) checkMmap(v VMA) (VMA, func(), error) {
	if m.exec == nil || v.Prot&unix.PROT_EXEC == 0 {
		return v, func() {}, nil
	}
	if v.File == nil {
		return v, func() {}, m.exec.CheckAnonExec("mmap")
	}
	if v.Cache != nil {
		return v, func() {}, m.checkCached(v)
	}
	src, done, err := m.execSource(v, "mmap")
	if err != nil {
		return v, nil, err
	}
	fill := v
	fill.File = src
	return fill, done, nil
}

// checkCached checks a private mapping that shows a page-cache entry:
// what runs is the entry's bytes, filled once and never changed, so those
// are what is hashed (with, for a loader segment whose entry ends before
// its file, the rest of the file, which the manifest's digest also covers
// but no mapping shows), and a checker that remembers the digest of the
// entry's version need not hash at all.
func (m *MM) checkCached(v VMA) error {
	e := v.Cache
	sum := func() ([32]byte, int64, error) {
		h := sha256.New()
		if err := e.WriteContent(h, v.File); err != nil {
			return [32]byte{}, 0, fmt.Errorf("mm: reading the file to check: %w", err)
		}
		n := e.Key().Size
		if l, ok := v.File.(Limited); ok && n < e.Key().FileSize {
			whole, _ := l.Whole()
			rest, err := io.Copy(h, io.NewSectionReader(whole, n, e.Key().FileSize+1-n))
			if err != nil {
				return [32]byte{}, 0, fmt.Errorf("mm: reading the file to check: %w", err)
			}
			n += rest
		}
		var s [32]byte
		h.Sum(s[:0])
		return s, n, nil
	}
	return m.exec.CheckExec(ExecMapping{File: v.Hold, Name: v.Info.Path, Op: "mmap", Sum: sum,
		Writable: v.Prot&unix.PROT_WRITE != 0, Key: e.Key(), Keyed: true})
}

// execSource checks a private file mapping v that is about to be filled
// from its file with PROT_EXEC, and returns the Backing to fill it from
// (the snapshot that was checked) and its release. With no check, or for
// a mapping that will not be executable, it is v.File itself.
func (m *MM) execSource(v VMA, op string) (Backing, func(), error) {
	if m.exec == nil || v.Prot&unix.PROT_EXEC == 0 || v.File == nil {
		return v.File, func() {}, nil
	}
	if v.Pages != nil {
		return v.File, func() {}, m.checkShared(v, op)
	}
	// The snapshot is taken when the check asks for the sum: a checker
	// that knows the file's content by its identity (a file of a
	// read-only mount hashed before) does not, and the mapping is then
	// filled from the file as without a check.
	var snap *snapshot
	var snapErr error
	sum := func() ([32]byte, int64, error) {
		if snap == nil && snapErr == nil {
			snap, snapErr = m.takeSnapshot(v.File)
		}
		if snapErr != nil {
			return [32]byte{}, 0, snapErr
		}
		return snap.sum()
	}
	x := ExecMapping{File: v.Hold, Name: v.Info.Path, Op: op, Sum: sum, Writable: v.Prot&unix.PROT_WRITE != 0}
	if err := m.exec.CheckExec(x); err != nil {
		if snap != nil {
			snap.release()
		}
		return nil, nil, err
	}
	if snap == nil {
		return v.File, func() {}, nil
	}
	return snap, snap.release, nil
}

// checkShared checks a MAP_SHARED mapping of a file's own pages that is
// about to be executable: its pages are hashed as they are now.
func (m *MM) checkShared(v VMA, op string) error {
	sum := func() ([32]byte, int64, error) {
		s, err := m.takeSnapshot(v.File)
		if err != nil {
			return [32]byte{}, 0, err
		}
		defer s.release()
		return s.sum()
	}
	return m.exec.CheckExec(ExecMapping{File: v.Hold, Name: v.Info.Path, Op: op, Sum: sum, Shared: true})
}

// checkProtect checks the VMAs of [addr, end) that mprotect is about to
// make executable (prot has PROT_EXEC), or writable while executable:
// anonymous memory is CheckAnonExec's; a private file mapping's pages
// exist already, so what is checked is the file with those pages in place
// of its bytes, exactly what would run.
func (m *MM) checkProtect(addr, end uint64, prot int) error {
	if m.exec == nil {
		return nil
	}
	for _, v := range m.vmas {
		s, e := max(v.Start, addr), min(v.End, end)
		gainsExec := v.Prot&unix.PROT_EXEC == 0
		gainsWrite := prot&unix.PROT_WRITE != 0 && v.Prot&unix.PROT_WRITE == 0
		if s >= e || !gainsExec && !(gainsWrite && v.File != nil) {
			continue
		}
		switch {
		case v.File == nil:
			if err := m.exec.CheckAnonExec("mprotect"); err != nil {
				return err
			}
		case v.Pages != nil:
			if err := m.checkShared(v, "mprotect"); err != nil {
				return err
			}
		default:
			if err := m.checkPages(v, s, e, prot&unix.PROT_WRITE != 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPages checks the private file pages [s, e) of v against its file:
// the snapshot of the file with the pages' bytes laid over it at their
// offset (bytes past the file's end are the zero tail of the last page,
// beyond what a hash of the file covers, and must be zero).
func (m *MM) checkPages(v VMA, s, e uint64, writable bool) error {
	snap, err := m.takeSnapshot(v.File)
	if err != nil {
		return err
	}
	defer snap.release()
	if err := m.budget.Charge(e - s); err != nil {
		return err
	}
	defer m.budget.Uncharge(e - s)
	pages := make([]byte, e-s)
	if v.Prot&unix.PROT_READ == 0 {
		// The host reads a guest's pages only where it may read them.
		if err := m.as.Protect(s, e-s, v.Prot|unix.PROT_READ); err != nil {
			return fmt.Errorf("mm: protect to check: %w", err)
		}
		defer func() { _ = m.as.Protect(s, e-s, v.Prot) }()
	}
	if _, err := m.as.CopyIn(s, pages); err != nil {
		return fmt.Errorf("mm: reading the pages to check: %w", err)
	}
	off := int64(v.Offset + (s - v.Start))
	written := false
	for i := range pages {
		at := off + int64(i)
		want := byte(0)
		if at < snap.limit {
			want = snap.buf[at]
		}
		if pages[i] == want {
			continue
		}
		written = true
		if at >= snap.limit {
			// A byte past the file's view is not the file's at all.
			return m.exec.CheckExec(ExecMapping{File: v.Hold, Name: v.Info.Path, Op: "mprotect", Written: true,
				Writable: writable, Sum: func() ([32]byte, int64, error) { return sha256.Sum256(pages), int64(len(pages)), nil }})
		}
		snap.buf[at] = pages[i]
	}
	return m.exec.CheckExec(ExecMapping{File: v.Hold, Name: v.Info.Path, Op: "mprotect", Written: written,
		Writable: writable, Sum: snap.sum})
}

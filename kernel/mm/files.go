package mm

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform/pagecache"
)

// FileRef is the open file a private file mapping reads from. Its bytes are
// copied in when the mapping is made, but read again later (a page dropped
// by MADV_DONTNEED, a mapping grown by mremap), so the address space keeps a
// reference for as long as any of its VMAs maps the file, as a Linux VMA
// holds its vm_file: the file outlives a descriptor closed after mmap, and
// is closed when the last mapping goes, never before (a closed host fd
// number could be reused by an unrelated file) and never after (an
// address space that is gone must not keep host fds open).
type FileRef interface {
	IncRef()
	DecRef() error
}

// DefaultMaxFiles is the sandbox-wide cap on files held open by mappings
// when a Budget does not set one: every distinct open file holds a host fd
// of litebox, whose own descriptor limit is shared by all sandboxes.
const DefaultMaxFiles = 8192

// hold makes the address space keep r open while a VMA maps it. The
// sandbox's budget bounds the distinct files held (ENFILE beyond, as Linux
// gives for a full system-wide file table).
func (m *MM) hold(r FileRef) error {
	if r == nil {
		return nil
	}
	if _, ok := m.held[r]; ok {
		return nil
	}
	if err := m.budget.holdFile(r); err != nil {
		return err
	}
	r.IncRef()
	m.held.add(r)
	return nil
}

// dropUnmapped drops the references to files, and to page-cache entries,
// no VMA maps any more. Called, deferred, by every operation that may
// remove VMAs.
func (m *MM) dropUnmapped() {
	if len(m.held) == 0 && len(m.cached) == 0 {
		return
	}
	files := make(map[FileRef]struct{}, len(m.held))
	entries := make(map[*pagecache.Entry]struct{}, len(m.cached))
	for _, v := range m.vmas {
		if v.Hold != nil {
			files[v.Hold] = struct{}{}
		}
		if v.Cache != nil {
			entries[v.Cache] = struct{}{}
		}
	}
	m.cached.sweep(entries, (*pagecache.Entry).Release)
	m.held.sweep(files, m.dropFile)
}

// dropFile gives back the address space's reference to r.
func (m *MM) dropFile(r FileRef) {
	m.budget.dropFile(r)
	_ = r.DecRef()
}

// dropAll drops every file and entry reference (the address space is
// gone).
func (m *MM) dropAll() {
	m.cached.releaseAll((*pagecache.Entry).Release)
	m.held.releaseAll(m.dropFile)
}

// HeldFiles is how many distinct open files the address space keeps open.
func (m *MM) HeldFiles() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}

// holdFile counts one more address space holding r; a file no address
// space held yet must fit under the cap.
func (b *Budget) holdFile(r FileRef) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.files[r] == 0 {
		limit := b.MaxFiles
		if limit == 0 {
			limit = DefaultMaxFiles
		}
		if len(b.files) >= limit {
			return unix.ENFILE
		}
	}
	if b.files == nil {
		b.files = map[FileRef]int{}
	}
	b.files[r]++
	return nil
}

func (b *Budget) dropFile(r FileRef) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.files[r]--; b.files[r] <= 0 {
		delete(b.files, r)
	}
}

// HeldFiles is how many distinct open files the sandbox's mappings keep
// open.
func (b *Budget) HeldFiles() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.files)
}

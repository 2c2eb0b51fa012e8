package memfs

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/platform"
)

// Shared file mappings. A page of a file that is mapped MAP_SHARED moves
// out of litebox's heap into a memory file (platform.Memory, pages the
// platform can map into any stub): the file's page map then points into
// that memory, so read(2), write(2) and every mapping of the page, in any
// process, use the same bytes. A page stays there (and charged) for the
// file's life: truncating the file zeroes it but keeps it, so mappings
// made before a truncation see the file again once it grows back, and a
// page never moves while a stub may map it.

// sharedLoc is where a page of a file lives in a memory file.
type sharedLoc struct {
	mem platform.Memory
	off uint64
}

// SharePages implements mm.SharedFile: it returns where the file's pages
// covering [off, off+length) live in memory files, moving pages there
// (alloc makes the memory) and filling holes with charged zero pages, or,
// unless holes, leaving them holes (runs without memory). The runs stop at
// the end of the file (rounded up to a page): what lies beyond is not the
// file's.
func (f *File) SharePages(off, length uint64, holes bool, alloc func(length uint64) (platform.Memory, error)) ([]mm.MemRun, error) {
	if off%pageSize != 0 || length%pageSize != 0 {
		return nil, unix.EINVAL
	}
	if off >= MaxFileSize || length > MaxFileSize {
		return nil, nil // past any file's end
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	first := int64(off / pageSize)
	end := min(first+int64(length/pageSize), (f.size+pageSize-1)/pageSize)
	if first >= end {
		return nil, nil
	}
	if f.pages == nil {
		f.pages = map[int64]*page{}
	}
	var missing, fresh int64
	for idx := first; idx < end; idx++ {
		if _, ok := f.shared[idx]; !ok {
			switch {
			case f.pages[idx] != nil:
				missing++
			case holes:
				missing++
				fresh++
			}
		}
	}
	if missing > 0 {
		if f.fs.reserve(fresh*PageCost) != nil {
			return nil, unix.ENOMEM
		}
		mem, err := alloc(uint64(missing) * pageSize)
		if err != nil {
			f.fs.reserve(-fresh * PageCost)
			return nil, err
		}
		if f.shared == nil {
			f.shared = map[int64]sharedLoc{}
		}
		b, at := mem.Bytes(), uint64(0)
		for idx := first; idx < end; idx++ {
			if _, ok := f.shared[idx]; ok || !holes && f.pages[idx] == nil {
				continue
			}
			pg := (*page)(b[at : at+pageSize])
			if old := f.pages[idx]; old != nil {
				*pg = *old
			}
			f.pages[idx] = pg
			f.shared[idx] = sharedLoc{mem, at}
			at += pageSize
		}
	}
	var runs []mm.MemRun
	for idx := first; idx < end; idx++ {
		loc, ok := f.shared[idx]
		if !ok { // a hole left alone
			if n := len(runs); n > 0 && runs[n-1].Mem == nil {
				runs[n-1].Len += pageSize
			} else {
				runs = append(runs, mm.MemRun{Len: pageSize})
			}
			continue
		}
		if f.pages[idx] == nil {
			f.pages[idx] = f.sharedPageLocked(idx) // not reached: growth revives kept pages
		}
		if n := len(runs); n > 0 && runs[n-1].Mem == loc.mem && runs[n-1].Off+runs[n-1].Len == loc.off {
			runs[n-1].Len += pageSize
			continue
		}
		runs = append(runs, mm.MemRun{Mem: loc.mem, Off: loc.off, Len: pageSize})
	}
	return runs, nil
}

// Object implements mm.SharedFile: the file itself names its pages (for
// shared futexes).
func (f *File) Object() any { return f }

func (f *File) pageAt(loc sharedLoc) *page {
	return (*page)(loc.mem.Bytes()[loc.off : loc.off+pageSize])
}

// sharedPageLocked returns the memory-file page kept for idx, zeroed (a
// stale mapping may have stored into it while it was past the end), or
// nil; f.mu must be held.
func (f *File) sharedPageLocked(idx int64) *page {
	loc, ok := f.shared[idx]
	if !ok {
		return nil
	}
	pg := f.pageAt(loc)
	*pg = page{}
	f.kept--
	return pg
}

// reviveLocked puts the pages kept past the old end back into the page
// map once the file has grown over them, zeroed: the file reads zeros
// there, and mappings made before see the file again; f.mu must be held.
func (f *File) reviveLocked() {
	if f.kept == 0 {
		return
	}
	end := (f.size + pageSize - 1) / pageSize
	for idx := range f.shared {
		if idx < end && f.pages[idx] == nil {
			f.pages[idx] = f.sharedPageLocked(idx)
		}
	}
}

// clearTailLocked zeroes the last page past the end of the file before
// the file grows: a mapping may have stored there, and growing must show
// zeros (a heap page is zero there already); f.mu must be held.
func (f *File) clearTailLocked() {
	if len(f.shared) == 0 || f.size%pageSize == 0 {
		return
	}
	if pg := f.pages[f.size/pageSize]; pg != nil {
		clear(pg[f.size%pageSize:])
	}
}

// releaseSharedLocked gives back the memory files of a released file and
// returns how many pages were kept only there (not in the page map); f.mu
// must be held.
func (f *File) releaseSharedLocked() int64 {
	var kept int64
	mems := map[platform.Memory]bool{}
	for idx, loc := range f.shared {
		if f.pages[idx] == nil {
			kept++
		}
		mems[loc.mem] = true
	}
	for mem := range mems {
		mem.Free(0, uint64(len(mem.Bytes())))
	}
	f.shared = nil
	f.kept = 0
	return kept
}

package linux

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform/pagecache"
)

func sysBrk(t *kernel.Task, a args) (uint64, error) { return t.Proc.MM.Brk(a[0]), nil }

func sysMunmap(t *kernel.Task, a args) (uint64, error) { return 0, t.Proc.MM.Munmap(a[0], a[1]) }

func sysMprotect(t *kernel.Task, a args) (uint64, error) {
	prot := int(a[2]) &^ (unix.PROT_GROWSDOWN | unix.PROT_GROWSUP)
	return 0, t.Proc.MM.Mprotect(a[0], a[1], prot)
}

func sysMadvise(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.MM.Madvise(a[0], a[1], int(int32(a[2])))
}

// mapFlagsKnown are the mmap flags the kernel honours or may safely treat
// as hints (they change performance, not semantics, for our memory).
const mapFlagsKnown = unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_SHARED_VALIDATE | unix.MAP_FIXED |
	unix.MAP_ANONYMOUS | unix.MAP_GROWSDOWN | unix.MAP_DENYWRITE | unix.MAP_EXECUTABLE |
	unix.MAP_LOCKED | unix.MAP_NORESERVE | unix.MAP_POPULATE | unix.MAP_NONBLOCK |
	unix.MAP_STACK | unix.MAP_FIXED_NOREPLACE

// sharedOpener is an open file whose MAP_SHARED mappings map a page cache
// (hostfs files on read-write mounts); nil when there is none.
type sharedOpener interface {
	SharedPages() (mm.SharedFile, error)
}

// fileBacking reads a mapped file through its open file description.
type fileBacking struct{ f *vfs.File }

func (b fileBacking) ReadAt(p []byte, off int64) (int, error) { return b.f.Pread(p, off) }

// CacheKey lets a private mapping of the file come from the page cache
// (mm.Cacheable).
func (b fileBacking) CacheKey() (pagecache.Key, bool) { return b.f.CacheKey() }

// Size lets mm read an executable mapping's file for its check in one
// buffer of the right size.
func (b fileBacking) Size() (int64, error) {
	st, err := b.f.Stat()
	return st.Size, err
}

func sysMmap(t *kernel.Task, a args) (uint64, error) {
	addr, length, prot, flags, fd, off := a[0], a[1], int(a[2]), int(a[3]), fdArg(a[4]), a[5]
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC) != 0 {
		return 0, unix.EINVAL
	}
	typ := flags & (unix.MAP_SHARED | unix.MAP_PRIVATE)
	if typ == 0 {
		return 0, unix.EINVAL
	}
	if flags&^mapFlagsKnown != 0 {
		if flags&unix.MAP_SHARED_VALIDATE == unix.MAP_SHARED_VALIDATE {
			return 0, unix.EOPNOTSUPP
		}
		// MAP_32BIT, MAP_HUGETLB, MAP_SYNC...: not served, and never faked.
		return 0, unix.EINVAL
	}
	req := mm.MapRequest{
		Addr: addr, Length: length, Prot: prot,
		Fixed:     flags&unix.MAP_FIXED != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0,
		Shared:    typ&unix.MAP_SHARED != 0,
	}
	if flags&unix.MAP_ANONYMOUS == 0 {
		f, err := t.Proc.FDs.Get(fd)
		if err != nil {
			return 0, err
		}
		fl := f.Flags()
		if fl&unix.O_PATH != 0 {
			return 0, unix.EBADF
		}
		if fl&unix.O_ACCMODE == unix.O_WRONLY {
			return 0, unix.EACCES
		}
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return 0, unix.ENODEV
		}
		if req.Shared && prot&unix.PROT_WRITE != 0 && fl&unix.O_ACCMODE != unix.O_RDWR {
			return 0, unix.EACCES
		}
		if d := f.Dentry(); d != nil && d.NoExec() {
			// A noexec mount's file (vfs.NoExecer), as Linux's do_mmap.
			if prot&unix.PROT_EXEC != 0 {
				return 0, unix.EPERM
			}
			req.NoExec = true
		}
		pages, mappable := f.Node().(mm.SharedFile)
		if so, ok := f.Ops().(sharedOpener); req.Shared && !mappable && ok {
			// A host file on a read-write mount: its page cache, written
			// back to the host file (hostfs/mapped.go, docs/SECURITY.md).
			sf, err := so.SharedPages()
			if err != nil {
				return 0, err
			}
			pages, mappable = sf, sf != nil
		}
		if req.Shared && prot&unix.PROT_WRITE != 0 && !mappable {
			// A read-only mount's file cannot be open O_RDWR; anything
			// else here is a file system without shared pages.
			t.Proc.Kernel().Unsupported("mmap(MAP_SHARED|PROT_WRITE) of a file without shared pages", unix.SYS_MMAP, t.Proc.PID)
			return 0, unix.ENODEV
		}
		req.File = fileBacking{f}
		// The mapping keeps the file open after the guest closes fd (its
		// pages may be read again), and only as long as it exists.
		req.Hold = f
		req.Info = mm.FileInfo{Path: f.Path(), Dev: st.Dev, Ino: st.Ino}
		req.Offset = off
		if req.Shared && mappable {
			// The file's own pages: stores reach the file and every other
			// mapping of it at once.
			req.Pages = pages
			req.NoWrite = fl&unix.O_ACCMODE != unix.O_RDWR
		} else if req.Shared {
			// A read-only mount's file: nothing can change it, so a
			// private copy is the same, but it may not become writable
			// unless open for writing (VM_MAYWRITE, as shared).
			req.Shared = false
			req.NoWrite = fl&unix.O_ACCMODE != unix.O_RDWR
		}
	}
	// Shared anonymous memory is pool memory, shared with forks.
	return t.Proc.MM.Mmap(req)
}

func sysMsync(t *kernel.Task, a args) (uint64, error) {
	return 0, t.Proc.MM.Msync(a[0], a[1], int(int32(a[2])))
}

func sysMremap(t *kernel.Task, a args) (uint64, error) {
	flags := int(a[3])
	if flags&^(unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED) != 0 {
		return 0, unix.EINVAL
	}
	return t.Proc.MM.Mremap(a[0], a[1], a[2], flags&unix.MREMAP_MAYMOVE != 0, flags&unix.MREMAP_FIXED != 0, a[4])
}

package hostfs

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// The lookup cache (Options.Cache): what a lookup or a stat of a read-only
// mount found, kept so that the same walk again costs no host syscall. A
// cold lookup is three host calls (openat2 of the directory, fstatat,
// close) and a stat three more; python3's start-up makes some hundred of
// them, each under every walk of a path (/usr/lib/python3.11/...).
//
// Only a read-only mount is cached: nothing changes through it, and its
// directory is one the host does not change while the sandbox runs (the
// default view's system directories, a read-only --mount, an image's
// --rootfs directory, a read-only bundle root). A host change made anyway
// (a package upgrade under a long-running sandbox) is seen by the guest
// when the entry is dropped, as with gVisor's cached gofer mounts: file
// contents are always read from the host, only names and metadata may be
// old. Negative entries (ENOENT) are kept too: a PATH or sys.path search
// is mostly misses.
//
// The cache is bounded (maxCached entries per mount, a fixed cost a
// guest cannot grow): when full, one entry is dropped for each added.

// maxCached bounds a mount's cached entries: about 1 MiB at most (the
// name, a vfs.Stat and the map's own cost each).
const maxCached = 4096

type lookupCache struct {
	mu      sync.Mutex
	entries map[string]cachedStat
}

// cachedStat is a stat result: st, or err (ENOENT) for a name that does
// not exist.
type cachedStat struct {
	st  vfs.Stat
	err error
}

func (c *lookupCache) get(rel string) (cachedStat, bool) {
	if c == nil {
		return cachedStat{}, false
	}
	c.mu.Lock()
	e, ok := c.entries[rel]
	c.mu.Unlock()
	return e, ok
}

// put keeps the result of a host stat of rel: a stat or ENOENT (other
// errors, EACCES of a host permission or a transient one, are not kept).
func (c *lookupCache) put(rel string, st vfs.Stat, err error) {
	if c == nil || (err != nil && err != unix.ENOENT) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedStat{}
	}
	if _, ok := c.entries[rel]; !ok && len(c.entries) >= maxCached {
		for k := range c.entries { // an arbitrary one
			delete(c.entries, k)
			break
		}
	}
	c.entries[rel] = cachedStat{st: st, err: err}
}

// len is the number of entries (tests).
func (c *lookupCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

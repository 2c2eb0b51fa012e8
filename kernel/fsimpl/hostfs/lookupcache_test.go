package hostfs_test

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestLookupCache: a read-only mount with Cache answers a repeated lookup
// or stat from what it found the first time, misses included; the
// cache's size is bounded; a writable mount cannot cache.
func TestLookupCache(t *testing.T) {
	root := t.TempDir()
	must(t, "mkdir", os.MkdirAll(root+"/lib/python", 0o755))
	must(t, "write", os.WriteFile(root+"/lib/python/os.py", []byte("x"), 0o644))
	fs := newFS(t, root, hostfs.Options{ReadOnly: true, Cache: true})
	v := vfs.New(fs)
	st1, err := v.Stat("/lib/python/os.py", false)
	must(t, "stat", err)
	_, err = v.Stat("/lib/python/missing.py", false)
	wantErrno(t, "stat of a missing name", err, unix.ENOENT)

	// The host changes the directory: the cached mount still answers as
	// before (a cached read-only mount is one the host leaves alone).
	must(t, "write", os.WriteFile(root+"/lib/python/missing.py", []byte("new"), 0o644))
	must(t, "append", os.WriteFile(root+"/lib/python/os.py", []byte("longer"), 0o644))
	_, err = v.Stat("/lib/python/missing.py", false)
	wantErrno(t, "cached miss", err, unix.ENOENT)
	st2, err := v.Stat("/lib/python/os.py", false)
	must(t, "stat again", err)
	if st2.Size != st1.Size || st2.Ino != st1.Ino {
		t.Errorf("cached stat changed: %+v then %+v", st1, st2)
	}
	// Contents are always the host's.
	if got, err := readFile(v, "/lib/python/os.py"); err != nil || got != "longer" {
		t.Errorf("read %q (%v), want the host's current content", got, err)
	}

	// Bounded: many distinct misses never grow it past its cap.
	for i := range 10000 {
		v.Stat(fmt.Sprintf("/lib/python/m%d.py", i), false)
	}
	if n := hostfs.CachedEntries(fs); n > hostfs.MaxCached {
		t.Errorf("%d cached entries, want at most %d", n, hostfs.MaxCached)
	}
	// An uncached mount sees the host's change at once.
	fresh := vfs.New(newFS(t, root, hostfs.Options{ReadOnly: true}))
	if _, err := fresh.Stat("/lib/python/missing.py", false); err != nil {
		t.Errorf("uncached mount: %v", err)
	}
	if _, err := hostfs.New(root, hostfs.Options{Cache: true}); err == nil {
		t.Error("a writable mount with Cache was accepted")
	}
}

// Package verify is verified execution's decision in the kernel: a Policy
// built from a manifest that was verified against a trusted key (package
// attest/manifest) says whether a file may run. The kernel asks it for
// every execve target, ELF interpreter, #! script and its interpreter,
// and mm for every file mapping about to become executable (mm.ExecCheck);
// a file whose content is not the manifest's entry for its canonical guest
// path, or that is not listed, is refused with EACCES and an exec_denied
// audit event naming the path, the expected and the actual SHA-256.
//
// A Policy without a manifest refuses nothing (but anonymous executable
// memory with NoExecAnon): it only remembers the files mapped executable,
// with their digests, for the run's record (--record without --verify).
//
// Digests are remembered per file version, the page cache's key (for a
// host file its device, inode, size, mtime and ctime), in a digests.Store
// shared by the process's sandboxes and, for host files, by the user's
// litebox processes: only for files that have a key (read-only mounts,
// which nothing in the sandbox can change; image layers), and only when
// hashed from bytes read once the version's bytes were fixed
// (pagecache.Stable). A file the guest could write
// is hashed at every check, from the bytes the mapping is filled from (mm's
// snapshot, or the page-cache entry the mapping shows).
package verify

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/attest/digests"
	"github.com/litebox-go/litebox/attest/manifest"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/platform/pagecache"
)

// MaxMapped bounds the distinct (path, digest) pairs a Policy remembers
// for the record; beyond it they are only counted (Dropped).
const MaxMapped = 1 << 16

// Event is the audit event of a refusal.
const Event = "exec_denied"

// Options configure a Policy.
type Options struct {
	// Manifest lists what may run; nil: nothing is refused for its
	// content (only NoExecAnon applies).
	Manifest *manifest.Manifest
	// Load, if set instead of Manifest, returns it: the first check calls
	// it once and waits, so that verifying a large signed manifest
	// overlaps the sandbox's start-up while nothing runs before it has
	// verified. An error refuses every check with EACCES (nothing of the
	// guest runs); whoever gave Load reports the error.
	Load func() (*manifest.Manifest, error)
	// NoExecAnon refuses anonymous executable memory (W^X): mmap or
	// mprotect with PROT_EXEC of memory no file backs, and of memory that
	// is writable at once (a private file mapping with PROT_WRITE too, a
	// shared mapping of a writable file, which another mapping of the
	// same pages may write: the double mapping JITs and libffi use).
	NoExecAnon bool
	// Record remembers the files mapped executable (Mapped), hashing
	// them also when nothing is enforced.
	Record bool
	// Audit receives the refusals; nil: none are written.
	Audit func(event string, attrs ...slog.Attr)
	// Digests remembers the digests of file versions across checks (and,
	// shared, across sandboxes and runs); nil: a store of this policy's
	// own, in memory.
	Digests *digests.Store
}

// Policy decides what may run in one sandbox. It is safe for concurrent
// use by every task of the sandbox.
type Policy struct {
	// m is the manifest once loaded (manifest()); enforcing whether
	// there is or will be one.
	m          *manifest.Manifest
	load       func() (*manifest.Manifest, error)
	loadOnce   sync.Once
	loadErr    error
	enforcing  bool
	record     bool
	noExecAnon bool
	audit      func(event string, attrs ...slog.Attr)
	digests    *digests.Store

	mu      sync.Mutex
	mapped  map[Mapped]struct{}
	dropped int
}

type digest struct {
	sum  manifest.Digest
	size int64
}

// Mapped is one file that was mapped executable, as the record lists it.
type Mapped struct {
	Path   string
	SHA256 manifest.Digest
	Size   int64
}

// New returns a Policy.
func New(o Options) *Policy {
	d := o.Digests
	if d == nil {
		d = digests.NewMemory()
	}
	return &Policy{m: o.Manifest, load: o.Load, enforcing: o.Manifest != nil || o.Load != nil,
		record: o.Record, noExecAnon: o.NoExecAnon, audit: o.Audit, digests: d,
		mapped: make(map[Mapped]struct{})}
}

// Enforcing reports whether the policy refuses files (it has a manifest).
func (p *Policy) Enforcing() bool { return p != nil && p.enforcing }

// manifest returns the manifest, loading it on first use (Options.Load).
func (p *Policy) manifest() (*manifest.Manifest, error) {
	p.loadOnce.Do(func() {
		if p.load != nil {
			p.m, p.loadErr = p.load()
			if p.loadErr == nil && p.m == nil {
				p.loadErr = errors.New("verify: no manifest")
			}
		}
	})
	return p.m, p.loadErr
}

// Manifest returns the manifest the policy enforces (waiting for it to
// load), or nil.
func (p *Policy) Manifest() (*manifest.Manifest, error) {
	if !p.Enforcing() {
		return nil, nil
	}
	return p.manifest()
}

// Check is one question to the policy.
type Check struct {
	// File is the open file that is to run; nil for litebox's own images
	// (the vDSO), which are not checked unless Written.
	File *vfs.File
	// Name is the file's guest path as the mapping names it; the policy
	// looks up File's canonical path now (vfs.File.Path) when File is set.
	Name string
	// Op is what asks: "exec", "elf_interpreter", "script",
	// "script_interpreter" (execve), "mmap", "mprotect", "madvise",
	// "mremap" (mm).
	Op string
	// Sum returns the SHA-256 and size of the content that is to run.
	Sum func() (manifest.Digest, int64, error)
	// Key, when Keyed, is the version of File whose bytes are to run (the
	// page-cache entry a mapping shows); else the policy asks File for
	// its current one (vfs.File.CacheKey). A file without one is hashed
	// at every check.
	Key   pagecache.Key
	Keyed bool
	// Fresh forbids a remembered digest: the content is not the file's
	// as it is (pages the guest wrote), or may change after the check
	// (the shared pages of a writable file).
	Fresh bool
	// Refuse, under a manifest or NoExecAnon, refuses whatever the
	// content, for this reason ("writable and executable", "a shared
	// mapping of a writable file"): the memory is writable and
	// executable at once (W^X), so what runs need not be what was checked.
	Refuse string
	// Map records the file, once allowed, as mapped executable.
	Map bool
}

// DeniedError is a refusal; it wraps EACCES, the guest's errno.
type DeniedError struct {
	Path, Op, Reason string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("verified execution: %s (%s): %s", e.Path, e.Op, e.Reason)
}

func (e *DeniedError) Unwrap() error { return unix.EACCES }

// Check decides c: nil to allow, a *DeniedError (EACCES) to refuse, or
// the error of Sum (ENOMEM, EIO: the content could not be read).
func (p *Policy) Check(c Check) error {
	m, err := p.manifest()
	if err != nil {
		return &DeniedError{Path: c.Name, Op: c.Op, Reason: "the manifest did not verify"}
	}
	name := c.Name
	if c.File != nil {
		name = c.File.Path()
	} else if !c.Fresh {
		return nil // litebox's own image, as litebox made it
	}
	if m == nil && !p.record {
		// Nothing to compare or remember: only W^X can refuse, and
		// needs no digest.
		if c.Refuse != "" && p.noExecAnon {
			return p.deny(c, name, c.Refuse, digest{}, nil)
		}
		return nil
	}
	sum, err := p.sum(c)
	if err != nil {
		return err
	}
	if c.Refuse != "" && (m != nil || p.noExecAnon) {
		// Memory that is writable, here or through another mapping of
		// the same pages, and executable: W^X.
		return p.deny(c, name, c.Refuse, sum, nil)
	}
	if m != nil {
		if err := m.Check(name, sum.sum, sum.size); err != nil {
			return p.deny(c, name, p.reason(name, err), sum, err)
		}
	}
	if c.Map && c.File != nil && p.record {
		p.remember(Mapped{Path: name, SHA256: sum.sum, Size: sum.size})
	}
	return nil
}

// sum returns c's content digest: remembered for the file's version when
// it may be, else from c.Sum (and then remembered if the version's bytes
// are fixed and were the version's all along).
func (p *Policy) sum(c Check) (digest, error) {
	key, keyed := c.Key, c.Keyed
	if c.File == nil || c.Fresh {
		keyed = false
	} else if !keyed {
		key, keyed = c.File.CacheKey()
	}
	if keyed {
		if d, ok := p.digests.Lookup(key); ok {
			return digest{sum: manifest.Digest(d), size: key.FileSize}, nil
		}
	}
	start := time.Now()
	s, n, err := c.Sum()
	if err != nil {
		return digest{}, err
	}
	d := digest{sum: s, size: n}
	if keyed && n == key.FileSize && pagecache.Stable(key, start) {
		// The file is still the version hashed: no write changed it
		// meanwhile (which would have changed its key), so the digest
		// stands for that version wherever it is mapped from.
		if now, ok := c.File.CacheKey(); ok && sameVersion(now, key) {
			p.digests.Add(key, digests.Digest(s))
		}
	}
	return d, nil
}

// sameVersion reports whether a and b name one version of one file (the
// bytes a mapping shows, Size, aside).
func sameVersion(a, b pagecache.Key) bool {
	a.Size, b.Size = 0, 0
	return a == b
}

// reason is the audit event's reason for the refusal err of m.Check.
func (p *Policy) reason(name string, err error) string {
	var mm *manifest.MismatchError
	switch {
	case errors.As(err, &mm) && mm.WantSize != mm.Size:
		return "size differs from the manifest"
	case errors.As(err, &mm):
		return "sha256 differs from the manifest"
	}
	if e, ok := p.lookup(name); ok && !e.Executable() {
		return "listed as data, not for execution"
	}
	return "not in the manifest"
}

func (p *Policy) deny(c Check, name, why string, got digest, err error) error {
	if p.audit != nil {
		attrs := []slog.Attr{slog.String("op", c.Op), slog.String("path", name), slog.String("reason", why)}
		var mm *manifest.MismatchError
		if errors.As(err, &mm) {
			attrs = append(attrs, slog.String("expected_sha256", mm.Want.String()), slog.Int64("expected_size", mm.WantSize))
		} else if e, ok := p.lookup(name); ok {
			attrs = append(attrs, slog.String("expected_sha256", e.SHA256.String()), slog.Int64("expected_size", e.Size))
		} else {
			attrs = append(attrs, slog.String("expected_sha256", ""))
		}
		attrs = append(attrs, slog.String("actual_sha256", got.sum.String()), slog.Int64("actual_size", got.size))
		p.audit(Event, attrs...)
	}
	return &DeniedError{Path: name, Op: c.Op, Reason: why}
}

// lookup is the manifest's entry of name, if there is a manifest.
func (p *Policy) lookup(name string) (manifest.Entry, bool) {
	m, err := p.manifest()
	if m == nil || err != nil {
		return manifest.Entry{}, false
	}
	return m.Lookup(name)
}

// CheckAnon decides whether anonymous memory may become executable (op:
// "mmap" or "mprotect"): refused with NoExecAnon.
func (p *Policy) CheckAnon(op string) error {
	if !p.noExecAnon {
		return nil
	}
	if p.audit != nil {
		p.audit(Event, slog.String("op", op), slog.String("path", ""), slog.String("reason", "anonymous executable memory (--no-exec-anon)"))
	}
	return &DeniedError{Path: "anonymous memory", Op: op, Reason: "anonymous executable memory (--no-exec-anon)"}
}

func (p *Policy) remember(m Mapped) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.mapped[m]; ok {
		return
	}
	if len(p.mapped) >= MaxMapped {
		p.dropped++
		return
	}
	p.mapped[m] = struct{}{}
}

// Mapped returns the files mapped executable so far, sorted by path then
// digest, and how many more were not remembered (past MaxMapped).
func (p *Policy) Mapped() ([]Mapped, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Mapped, 0, len(p.mapped))
	for m := range p.mapped {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Mapped) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.SHA256.String(), b.SHA256.String())
	})
	return out, p.dropped
}

// Package manifest is the manifest of verified execution: the files a
// sandbox may run, by guest path, each with the SHA-256 and size of its
// content and what kind of file it is. An operator makes one from the
// tree a sandbox will see (Create), signs it (Sign, a DSSE envelope over
// the manifest's canonical bytes) and gives litebox the signed manifest
// and the public key it trusts; litebox's kernel then checks every file
// it is asked to execute or map executable against it (Lookup, Check).
//
// # Format
//
// A manifest is one JSON object (Parse shows the limits):
//
//	{
//	  "created": "2026-12-02T17:00:00Z",
//	  "entries": {
//	    "/usr/bin/python3.12": {"kind": "executable", "sha256": "<64 hex>", "size": 6632200},
//	    "/usr/lib/x86_64-linux-gnu/libc.so.6": {"kind": "library", "sha256": "...", "size": 2125328}
//	  },
//	  "source": {"type": "dirs", "paths": ["/usr", "/bin", "/sbin", "/lib", "/lib64"]},
//	  "version": 1
//	}
//
// Entries are keyed by canonical guest path: absolute, clean, with no
// symbolic link in it (the path the kernel's realpath gives), so a file
// reached through /bin -> usr/bin is listed once, as /usr/bin/NAME.
//
// # Canonical bytes
//
// What is signed is the manifest's canonical encoding (Canonical): JSON
// with the keys of every object sorted by their UTF-8 bytes, no
// whitespace, strings escaped only where JSON requires it (", \ and the
// control characters below U+0020, as \b \t \n \f \r or \u00xx), other
// characters as their UTF-8 bytes, empty optional fields omitted. A signed
// manifest whose payload is not exactly its own canonical encoding is
// refused, so one manifest has one signed form.
package manifest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Version is the manifest format's version.
const Version = 1

// Limits on hostile manifests (see Parse).
const (
	// MaxSize bounds a manifest's JSON: the largest payload a DSSE
	// envelope (64 MiB of base64) carries.
	MaxSize = 48 << 20
	// MaxEntries bounds a manifest's entries.
	MaxEntries = 1 << 20
	// maxPath is Linux's PATH_MAX less its NUL; maxName is NAME_MAX.
	maxPath = 4095
	maxName = 255
	// maxRef bounds the source's ref and each of its paths.
	maxRef = 4096
	// maxSourcePaths bounds the source's paths and data lists.
	maxSourcePaths = 1024
)

// Digest is a SHA-256.
type Digest [32]byte

// String returns d in lowercase hex, as the manifest writes it.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// ParseDigest reads 64 lowercase hex digits.
func ParseDigest(s string) (Digest, error) {
	if len(s) != 64 {
		return Digest{}, fmt.Errorf("%d characters, want 64 lowercase hex digits", len(s))
	}
	d, ok := digestOf64([]byte(s))
	if !ok {
		return Digest{}, errors.New("not 64 lowercase hex digits")
	}
	return d, nil
}

// digestOf64 decodes 64 lowercase hex digits without allocating.
func digestOf64(s []byte) (Digest, bool) {
	var d Digest
	if len(s) != 64 {
		return d, false
	}
	for i := range d {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		if hi|lo < 0 {
			return Digest{}, false
		}
		d[i] = byte(hi<<4 | lo)
	}
	return d, true
}

// hexVal maps a lowercase hex digit to its value, anything else to -1.
var hexVal = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c-'a') + 10
	}
	return t
}()

// Kind is what an entry is, as Create found it. It is informative: the
// kernel compares contents, never kinds, except that a KindData entry is
// not approved for execution (see Entry.Executable).
type Kind string

// The kinds.
const (
	// KindExecutable is an ELF executable (ET_EXEC, or ET_DYN that is not
	// named like a shared library and has an exec bit), or any other
	// file with an exec bit that is not a script.
	KindExecutable Kind = "executable"
	// KindLibrary is an ELF shared object (ET_DYN named *.so or *.so.*,
	// or without an exec bit): what ld.so and dlopen map.
	KindLibrary Kind = "library"
	// KindScript is a file starting with "#!".
	KindScript Kind = "script"
	// KindData is a file listed because the operator named it as
	// verified data.
	KindData Kind = "data"
)

func (k Kind) valid() bool {
	switch k {
	case KindExecutable, KindLibrary, KindScript, KindData:
		return true
	}
	return false
}

// Entry is one listed file.
type Entry struct {
	SHA256 Digest
	Size   int64
	Kind   Kind
}

// Executable reports whether the entry approves its file for execution
// (execve, an interpreter, a mapping with PROT_EXEC): every kind but data.
func (e Entry) Executable() bool { return e.Kind != KindData }

// Source says what a manifest was made from (informative: it is signed
// with the rest, but the kernel checks only the entries).
type Source struct {
	// Type is "image" (Ref is the image reference, Digest its manifest
	// digest), "rootfs" (Ref is the host path) or "dirs" (host
	// directories at their own paths, the default view's by default).
	Type string
	Ref  string
	// Digest is "sha256:<hex>" of the image, when there is one.
	Digest string
	// Paths are the guest directories walked; Data the paths given as
	// verified data.
	Paths []string
	Data  []string
}

// The source types.
const (
	SourceImage  = "image"
	SourceRootfs = "rootfs"
	SourceDirs   = "dirs"
)

// Manifest is a parsed manifest. Entries must not be changed once the
// manifest is shared (Lookup takes no lock).
type Manifest struct {
	Version int
	// Created is when Create made it, in UTC, to the second.
	Created time.Time
	Source  Source
	// Entries are the listed files by canonical guest path.
	Entries map[string]Entry
}

// Lookup returns the entry of the canonical guest path p.
func (m *Manifest) Lookup(p string) (Entry, bool) {
	e, ok := m.Entries[p]
	return e, ok
}

// ErrNotListed is the error of Check for a path the manifest lacks.
var ErrNotListed = errors.New("not in the manifest")

// MismatchError is Check's error for a listed file whose content is not
// the listed one: what an audit event reports.
type MismatchError struct {
	Path           string
	Want, Got      Digest
	WantSize, Size int64
}

func (e *MismatchError) Error() string {
	if e.WantSize != e.Size {
		return fmt.Sprintf("%s: %d bytes, the manifest lists %d", e.Path, e.Size, e.WantSize)
	}
	return fmt.Sprintf("%s: sha256 %s, the manifest lists %s", e.Path, e.Got, e.Want)
}

// Check reports whether the file at canonical guest path p, whose content
// has digest sum and size bytes, is approved for execution: nil, an
// error wrapping ErrNotListed (also for a data entry), or a
// *MismatchError.
func (m *Manifest) Check(p string, sum Digest, size int64) error {
	e, ok := m.Entries[p]
	if !ok {
		return fmt.Errorf("%s: %w", p, ErrNotListed)
	}
	if !e.Executable() {
		return fmt.Errorf("%s: listed as data, not for execution: %w", p, ErrNotListed)
	}
	if e.Size != size || e.SHA256 != sum {
		return &MismatchError{Path: p, Want: e.SHA256, Got: sum, WantSize: e.Size, Size: size}
	}
	return nil
}

// Counts returns the number of entries of each kind.
func (m *Manifest) Counts() map[Kind]int {
	c := make(map[Kind]int, 4)
	for _, e := range m.Entries {
		c[e.Kind]++
	}
	return c
}

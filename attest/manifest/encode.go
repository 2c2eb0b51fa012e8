package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// timeFormat is how created is written: RFC 3339 in UTC, to the second.
const timeFormat = "2006-01-02T15:04:05Z"

// Canonical returns the canonical encoding of m (see the package
// comment): the bytes Sign signs. It checks m as Parse would, so that
// nothing is signed that a verifier would refuse.
func (m *Manifest) Canonical() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(`{"created":`)
	writeString(&b, m.Created.UTC().Format(timeFormat))
	b.WriteString(`,"entries":{`)
	paths := make([]string, 0, len(m.Entries))
	for p := range m.Entries {
		paths = append(paths, p)
	}
	slices.Sort(paths) // Go compares strings by their bytes
	for i, p := range paths {
		if i > 0 {
			b.WriteByte(',')
		}
		e := m.Entries[p]
		writeString(&b, p)
		b.WriteString(`:{"kind":`)
		writeString(&b, string(e.Kind))
		b.WriteString(`,"sha256":"`)
		b.WriteString(e.SHA256.String())
		b.WriteString(`","size":`)
		b.WriteString(strconv.FormatInt(e.Size, 10))
		b.WriteByte('}')
	}
	b.WriteString(`},"source":{`)
	s := m.Source
	first := true
	field := func(name string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeString(&b, name)
		b.WriteByte(':')
	}
	list := func(name string, l []string) {
		if len(l) == 0 {
			return
		}
		field(name)
		b.WriteByte('[')
		for i, v := range l {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(&b, v)
		}
		b.WriteByte(']')
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			writeString(&b, v)
		}
	}
	// In key order: data, digest, paths, ref, type.
	list("data", s.Data)
	str("digest", s.Digest)
	list("paths", s.Paths)
	str("ref", s.Ref)
	str("type", s.Type)
	b.WriteString(`},"version":`)
	b.WriteString(strconv.Itoa(m.Version))
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeString writes s as a JSON string, escaping only what JSON
// requires. s is valid UTF-8 (validate checked).
func writeString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// Indented returns the canonical encoding indented for people to read, as
// `manifest create` writes it; Parse reads either form, and Sign signs
// the canonical one.
func (m *Manifest) Indented() ([]byte, error) {
	c, err := m.Canonical()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, c, "", "  "); err != nil {
		return nil, errors.Join(errors.New("manifest: indenting"), err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// validate checks m as Parse checks a parsed one.
func (m *Manifest) validate() error {
	if m.Version != Version {
		return fmt.Errorf("version %d, this litebox reads version %d", m.Version, Version)
	}
	if m.Created.IsZero() {
		return errors.New("no creation time")
	}
	if y := m.Created.UTC().Year(); y < 1970 || y > 9999 {
		return fmt.Errorf("creation time %d is out of range", y)
	}
	if err := m.Source.validate(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if len(m.Entries) > MaxEntries {
		return fmt.Errorf("more than %d entries", MaxEntries)
	}
	for p, e := range m.Entries {
		if err := CheckPath(p); err != nil {
			return fmt.Errorf("entry %q: %w", clip(p), err)
		}
		if !e.Kind.valid() {
			return fmt.Errorf("entry %q: kind %q, want executable, library, script or data", clip(p), clip(string(e.Kind)))
		}
		if e.Size < 0 {
			return fmt.Errorf("entry %q: negative size", clip(p))
		}
	}
	return nil
}

func (s *Source) validate() error {
	switch s.Type {
	case SourceImage, SourceRootfs, SourceDirs:
	case "":
		return errors.New("no type")
	default:
		return fmt.Errorf("type %q, want image, rootfs or dirs", clip(s.Type))
	}
	if len(s.Ref) > maxRef {
		return fmt.Errorf("ref longer than %d bytes", maxRef)
	}
	if err := checkText(s.Ref); err != nil {
		return fmt.Errorf("ref: %w", err)
	}
	if s.Digest != "" {
		const prefix = "sha256:"
		if len(s.Digest) <= len(prefix) || s.Digest[:len(prefix)] != prefix {
			return errors.New(`digest: want "sha256:" and 64 hex digits`)
		}
		if _, err := ParseDigest(s.Digest[len(prefix):]); err != nil {
			return fmt.Errorf("digest: %w", err)
		}
	}
	for _, l := range []struct {
		name  string
		paths []string
	}{{"paths", s.Paths}, {"data", s.Data}} {
		if len(l.paths) > maxSourcePaths {
			return fmt.Errorf("%s: more than %d", l.name, maxSourcePaths)
		}
		for _, p := range l.paths {
			if p == "/" {
				continue // walking the whole tree
			}
			if err := CheckPath(p); err != nil {
				return fmt.Errorf("%s: %q: %w", l.name, clip(p), err)
			}
		}
	}
	return nil
}

// checkText refuses what would not survive a JSON round trip unchanged.
func checkText(s string) error {
	for _, r := range s {
		if r == 0xfffd {
			return errors.New("not valid UTF-8, or contains U+FFFD")
		}
	}
	return nil
}

package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/litebox-go/litebox/attest/internal/strictjson"
)

func clip(s string) string { return strictjson.Clip(s) }

// Parse reads a manifest, canonical or indented, strictly: at most
// MaxSize bytes of UTF-8 JSON, exact field names, no unknown or duplicate
// fields (in particular no path listed twice), no nulls; version 1; every
// path as CheckPath wants, every sha256 64 lowercase hex digits, every
// size a non-negative integer, every kind one of the four, at most
// MaxEntries entries. Errors are one line starting "manifest:".
func Parse(data []byte) (*Manifest, error) {
	m, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

func parse(data []byte) (*Manifest, error) {
	if m, ok := parseCanonical(data); ok {
		return m, nil
	}
	return parseStrict(data)
}

// parseStrict parses any manifest Parse accepts, and says what is wrong
// with one it does not.
func parseStrict(data []byte) (*Manifest, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	if err := strictjson.Valid(data); err != nil {
		return nil, err
	}
	fields := []string{"created", "entries", "source", "version"}
	top, err := strictjson.Object(data, fields, fields)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	v, err := strictjson.Int(top["version"])
	if err != nil {
		return nil, fmt.Errorf("version: %w", err)
	}
	if v != Version {
		return nil, fmt.Errorf("version %d, this litebox reads version %d", v, Version)
	}
	m.Version = int(v)
	created, err := strictjson.String(top["created"])
	if err != nil {
		return nil, fmt.Errorf("created: %w", err)
	}
	if m.Created, err = time.Parse(time.RFC3339, created); err != nil {
		return nil, fmt.Errorf("created: %q is not an RFC 3339 time", clip(created))
	}
	m.Created = m.Created.UTC()
	if err := parseSource(top["source"], &m.Source); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	entries, err := strictjson.Object(top["entries"], nil, nil)
	if err != nil {
		return nil, fmt.Errorf("entries: %w", err)
	}
	if len(entries) > MaxEntries {
		return nil, fmt.Errorf("more than %d entries", MaxEntries)
	}
	m.Entries = make(map[string]Entry, len(entries))
	// In path order, so that the error of a manifest is always the same.
	for _, p := range slices.Sorted(maps.Keys(entries)) {
		raw := entries[p]
		if err := CheckPath(p); err != nil {
			return nil, fmt.Errorf("entry %q: %w", clip(p), err)
		}
		e, err := parseEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", clip(p), err)
		}
		m.Entries[p] = e
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func parseEntry(raw json.RawMessage) (Entry, error) {
	fields := []string{"kind", "sha256", "size"}
	f, err := strictjson.Object(raw, fields, fields)
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	kind, err := strictjson.String(f["kind"])
	if err != nil {
		return Entry{}, fmt.Errorf("kind: %w", err)
	}
	if e.Kind = Kind(kind); !e.Kind.valid() {
		return Entry{}, fmt.Errorf("kind %q, want executable, library, script or data", clip(kind))
	}
	sum, err := strictjson.String(f["sha256"])
	if err != nil {
		return Entry{}, fmt.Errorf("sha256: %w", err)
	}
	if e.SHA256, err = ParseDigest(sum); err != nil {
		return Entry{}, fmt.Errorf("sha256: %w", err)
	}
	if e.Size, err = strictjson.Int(f["size"]); err != nil {
		return Entry{}, fmt.Errorf("size: %w", err)
	}
	if e.Size < 0 {
		return Entry{}, errors.New("negative size")
	}
	return e, nil
}

func parseSource(raw json.RawMessage, s *Source) error {
	f, err := strictjson.Object(raw, []string{"data", "digest", "paths", "ref", "type"}, []string{"type"})
	if err != nil {
		return err
	}
	if s.Type, err = strictjson.String(f["type"]); err != nil {
		return fmt.Errorf("type: %w", err)
	}
	for name, dst := range map[string]*string{"ref": &s.Ref, "digest": &s.Digest} {
		if raw, ok := f[name]; ok {
			if *dst, err = strictjson.String(raw); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	for name, dst := range map[string]*[]string{"paths": &s.Paths, "data": &s.Data} {
		raw, ok := f[name]
		if !ok {
			continue
		}
		list, err := strictjson.Array(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(list) > maxSourcePaths {
			return fmt.Errorf("%s: more than %d", name, maxSourcePaths)
		}
		for _, r := range list {
			p, err := strictjson.String(r)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			*dst = append(*dst, p)
		}
	}
	return s.validate()
}

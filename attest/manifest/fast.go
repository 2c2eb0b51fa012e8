package manifest

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// The fast path of parsing: a recognizer of the canonical form only. The
// strict parser (strictjson: every object split into members by
// json.Decoder tokens) takes about 25 us an entry, 120 ms for a host's
// 5,000 files: too slow for the start of every verified run. A signed
// manifest is canonical, and the canonical form is one fixed layout:
// fields in order, keys sorted, no whitespace, one way to escape each
// character. parseCanonical reads exactly that layout and nothing else
// (anything else, valid or not, is left to the strict parser, which says
// what is wrong), then validate checks the values as for any manifest.
// FuzzParse checks that what it accepts is its own canonical encoding.

// scanner reads canonical JSON from b.
type scanner struct {
	b   []byte
	off int
	ok  bool
}

// lit consumes s, or fails.
func (s *scanner) lit(lit string) {
	if !s.ok || len(s.b)-s.off < len(lit) || string(s.b[s.off:s.off+len(lit)]) != lit {
		s.ok = false
		return
	}
	s.off += len(lit)
}

// peek reports whether the next bytes are lit (and consumes them).
func (s *scanner) peek(lit string) bool {
	if !s.ok || len(s.b)-s.off < len(lit) || string(s.b[s.off:s.off+len(lit)]) != lit {
		return false
	}
	s.off += len(lit)
	return true
}

// str reads a string as writeString writes it.
func (s *scanner) str() string {
	s.lit(`"`)
	if !s.ok {
		return ""
	}
	start := s.off
	// The common case: no escape; the bytes are the string.
	for i := s.off; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.off = i + 1
			return string(s.b[start:i])
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			s.ok = false
			return ""
		}
	}
	s.ok = false
	return ""
}

// escaped reads the rest of a string with escapes, from start (after the
// opening quote).
func (s *scanner) escaped(start int) string {
	out := make([]byte, 0, 64)
	for i := start; i < len(s.b); i++ {
		c := s.b[i]
		switch {
		case c == '"':
			s.off = i + 1
			return string(out)
		case c < 0x20:
			s.ok = false
			return ""
		case c != '\\':
			out = append(out, c)
			continue
		}
		if i+1 >= len(s.b) {
			break
		}
		i++
		switch e := s.b[i]; e {
		case '"', '\\':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'f':
			out = append(out, '\f')
		case 'r':
			out = append(out, '\r')
		case 'u':
			// Only \u00XX (lowercase hex) of a control character without a
			// short form.
			if i+4 >= len(s.b) || s.b[i+1] != '0' || s.b[i+2] != '0' {
				s.ok = false
				return ""
			}
			hi, lo := unhex(s.b[i+3]), unhex(s.b[i+4])
			v := hi<<4 | lo
			if hi < 0 || lo < 0 || v >= 0x20 || v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r' {
				s.ok = false
				return ""
			}
			out = append(out, byte(v))
			i += 4
		default:
			s.ok = false
			return ""
		}
	}
	s.ok = false
	return ""
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// uint reads a non-negative integer as strconv writes it: "0" or no
// leading zero, at most 18 digits (no overflow).
func (s *scanner) uint() int64 {
	if !s.ok {
		return 0
	}
	start := s.off
	var v int64
	for s.off < len(s.b) && s.b[s.off] >= '0' && s.b[s.off] <= '9' {
		v = v*10 + int64(s.b[s.off]-'0')
		s.off++
	}
	n := s.off - start
	if n == 0 || n > 18 || (n > 1 && s.b[start] == '0') {
		s.ok = false
	}
	return v
}

// list reads `["a","b"]` (not empty: canonical omits an empty list).
func (s *scanner) list() []string {
	s.lit(`[`)
	var out []string
	for s.ok {
		out = append(out, s.str())
		if s.peek(`]`) {
			return out
		}
		s.lit(`,`)
	}
	return nil
}

// parseCanonical decodes data if it is a valid manifest in canonical form;
// ok is false for anything else.
func parseCanonical(data []byte) (m *Manifest, ok bool) {
	if len(data) > MaxSize || !utf8.Valid(data) {
		return nil, false
	}
	s := &scanner{b: data, ok: true}
	// Every entry closes one object: sizing the map from the count of
	// '}' (a byte count, vectorized; a path holding one only makes it
	// larger) saves rehashing it a dozen times on the way to thousands.
	m = &Manifest{Entries: make(map[string]Entry, bytes.Count(data, []byte{'}'}))}
	s.lit(`{"created":`)
	created := s.str()
	s.lit(`,"entries":{`)
	prev, first := "", true
	for s.ok && !s.peek(`}`) {
		if !first {
			s.lit(`,`)
		}
		p := s.str()
		// Sorted, hence no duplicates.
		if !first && p <= prev {
			return nil, false
		}
		prev, first = p, false
		s.lit(`:{"kind":`)
		kind := s.str()
		s.lit(`,"sha256":"`)
		if !s.ok || len(data)-s.off < 64 {
			return nil, false
		}
		sum, ok := digestOf64(data[s.off : s.off+64])
		if !ok {
			return nil, false
		}
		s.off += 64
		s.lit(`","size":`)
		size := s.uint()
		s.lit(`}`)
		if !s.ok || len(m.Entries) >= MaxEntries {
			return nil, false
		}
		m.Entries[p] = Entry{SHA256: sum, Size: size, Kind: Kind(kind)}
	}
	s.lit(`,"source":{`)
	// The fields in key order, each optional, commas between.
	sep := false
	field := func(name string) bool {
		lead := `"` + name + `":`
		if sep {
			lead = `,` + lead
		}
		if s.peek(lead) {
			sep = true
			return true
		}
		return false
	}
	if field("data") {
		m.Source.Data = s.list()
	}
	if field("digest") {
		if m.Source.Digest = s.str(); m.Source.Digest == "" {
			return nil, false
		}
	}
	if field("paths") {
		m.Source.Paths = s.list()
	}
	if field("ref") {
		if m.Source.Ref = s.str(); m.Source.Ref == "" {
			return nil, false
		}
	}
	if field("type") {
		m.Source.Type = s.str()
	}
	s.lit(`},"version":`)
	m.Version = int(s.uint())
	s.lit(`}`)
	if !s.ok || s.off != len(data) {
		return nil, false
	}
	t, err := time.Parse(timeFormat, created)
	if err != nil || t.Format(timeFormat) != created {
		return nil, false
	}
	m.Created = t.UTC()
	if m.validate() != nil {
		return nil, false
	}
	return m, true
}

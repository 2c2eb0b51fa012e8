// Package strictjson decodes hostile JSON strictly, for the signed
// documents of attest: encoding/json alone accepts duplicate object keys
// (the last wins, so two readers may disagree on what was signed), keys
// in any letter case and null for any value. Here an object is split into
// its members with exact, unique keys (Object), and each member is
// decoded with the typed helpers, which refuse null and the wrong JSON
// type, so every document has one meaning.
package strictjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Valid reports an error unless data is valid UTF-8: encoding/json would
// silently replace bad bytes with U+FFFD, making two different inputs one.
func Valid(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	return nil
}

// maxDepth bounds the nesting of arrays and objects in a value.
const maxDepth = 64

// Object returns the members of the JSON object data by key. A duplicate
// key, trailing data or a value that is not an object is an error; so is
// a key not in allowed, unless allowed is nil (a map whose keys are data,
// such as paths). The members of required must be present. Each member's
// value is checked to be valid JSON (nested at most 64 deep), not decoded:
// the caller decodes it with Object, Array, String or Int.
//
// It splits the object itself rather than with json.Decoder tokens, which
// cost about 5 us a member and were most of the time of verifying a
// large manifest.
func Object(data []byte, allowed, required []string) (map[string]json.RawMessage, error) {
	i := skipWS(data, 0)
	if i >= len(data) {
		return nil, errors.New("bad JSON: unexpected end")
	}
	if data[i] != '{' {
		if _, err := value(data, i); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s, want an object", kind(data[i:]))
	}
	out := make(map[string]json.RawMessage)
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return nil, badAt(i, "want a string key")
			}
			end, err := str(data, i)
			if err != nil {
				return nil, err
			}
			key, err := String(data[i:end])
			if err != nil {
				return nil, err
			}
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("duplicate key %q", clip(key))
			}
			if allowed != nil && !slices.Contains(allowed, key) {
				return nil, fmt.Errorf("unknown field %q", clip(key))
			}
			i = skipWS(data, end)
			if i >= len(data) || data[i] != ':' {
				return nil, badAt(i, "want ':'")
			}
			i = skipWS(data, i+1)
			end, err = value(data, i)
			if err != nil {
				return nil, err
			}
			out[key] = json.RawMessage(data[i:end])
			i = skipWS(data, end)
			if i < len(data) && data[i] == ',' {
				i = skipWS(data, i+1)
				continue
			}
			if i < len(data) && data[i] == '}' {
				i++
				break
			}
			return nil, badAt(i, "want ',' or '}'")
		}
	}
	if skipWS(data, i) != len(data) {
		return nil, errors.New("data after the JSON object")
	}
	for _, k := range required {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("missing field %q", k)
		}
	}
	return out, nil
}

func badAt(i int, what string) error {
	return fmt.Errorf("bad JSON at byte %d: %s", i, what)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// str returns the end of the JSON string starting at b[i] (a quote),
// checking its escapes and that it has no control character.
func str(b []byte, i int) (int, error) {
	start := i
	for i++; i < len(b); i++ {
		i += special(b[i:])
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, badAt(i, "control character in a string")
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, badAt(start, "unterminated string")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || unhex(b[i+1])|unhex(b[i+2])|unhex(b[i+3])|unhex(b[i+4]) < 0 {
					return 0, badAt(i, "bad \\u escape")
				}
				i += 4
			default:
				return 0, badAt(i, "bad escape")
			}
		}
	}
	return 0, badAt(start, "unterminated string")
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		return 0
	}
	return -1
}

// value returns the end of the JSON value starting at b[i], checking it:
// strings by str, arrays and objects by bracket matching (strings inside
// skipped by str) and then json.Valid, scalars by json.Valid.
func value(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("bad JSON: unexpected end")
	}
	switch b[i] {
	case '"':
		return str(b, i)
	case '{', '[':
		start, depth := i, 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, err := str(b, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				if depth++; depth > maxDepth {
					return 0, fmt.Errorf("bad JSON: nested deeper than %d", maxDepth)
				}
			case '}', ']':
				if depth--; depth == 0 {
					if !json.Valid(b[start : i+1]) {
						return 0, badAt(start, "invalid value")
					}
					return i + 1, nil
				}
			}
		}
		return 0, errors.New("bad JSON: unexpected end")
	}
	start := i
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	if !json.Valid(b[start:i]) {
		return 0, badAt(start, "invalid value")
	}
	return i, nil
}

// Array returns the elements of the JSON array data.
func Array(data []byte) ([]json.RawMessage, error) {
	if kind(data) != "array" {
		return nil, fmt.Errorf("%s, want an array", kind(data))
	}
	var out []json.RawMessage
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, syntaxErr(err)
	}
	return out, nil
}

// String decodes a JSON string (not null).
func String(data []byte) (string, error) {
	if kind(data) != "string" {
		return "", fmt.Errorf("%s, want a string", kind(data))
	}
	// A string without escapes is its bytes (a large base64 payload: no
	// second decoding pass). Object's decoder has checked the syntax;
	// a control character would be invalid JSON, so it is refused here.
	if n := len(data); n >= 2 && data[0] == '"' && data[n-1] == '"' && plain(data[1:n-1]) {
		return string(data[1 : n-1]), nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return "", syntaxErr(err)
	}
	return s, nil
}

// plain reports whether b has no backslash, quote or control character.
func plain(b []byte) bool { return special(b) == len(b) }

// special returns the index of the first quote, backslash or control
// character of b, or len(b). It tests eight bytes at a time (a string of
// a megabyte of base64 is the common case): a word has a byte below n
// when (x - n*ones) &^ x & highs is not zero, and a byte equal to c when
// x^(c*ones) has a zero byte.
func special(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^('"'*ones), x^('\\'*ones)
		if ((x-0x20*ones)&^x|(q-ones)&^q|(bs-ones)&^bs)&highs != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' {
			return i
		}
	}
	return len(b)
}

// Int decodes a JSON integer (not null, no fraction or exponent) that
// fits an int64.
func Int(data []byte) (int64, error) {
	if kind(data) != "number" {
		return 0, fmt.Errorf("%s, want an integer", kind(data))
	}
	var n int64
	if err := json.Unmarshal(data, &n); err != nil {
		return 0, fmt.Errorf("%s is not an integer", clip(string(data)))
	}
	return n, nil
}

// kind names the JSON type of data by its first byte.
func kind(data []byte) string {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 {
		return "empty value"
	}
	switch c := data[0]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 'n':
		return "null"
	case c == 't' || c == 'f':
		return "boolean"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	}
	return "not JSON"
}

// syntaxErr makes a decoding error one short line.
func syntaxErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("bad JSON at byte %d: %v", se.Offset, se)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("bad JSON: unexpected end")
	}
	return fmt.Errorf("bad JSON: %v", err)
}

// clip shortens a hostile string for an error message, and quotes its
// control characters (the caller uses %q).
func clip(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "..."
	}
	return s
}

// Clip is clip for callers: a hostile string cut for a one-line error
// (print it with %q, which quotes its control characters).
func Clip(s string) string { return clip(s) }

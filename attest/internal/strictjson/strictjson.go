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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
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

// Object returns the members of the JSON object data by key. A duplicate
// key, trailing data or a value that is not an object is an error; so is
// a key not in allowed, unless allowed is nil (a map whose keys are data,
// such as paths). The members of required must be present.
func Object(data []byte, allowed, required []string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s, want an object", kind(data))
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxErr(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("duplicate key %q", clip(key))
		}
		if allowed != nil && !slices.Contains(allowed, key) {
			return nil, fmt.Errorf("unknown field %q", clip(key))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxErr(err)
		}
		out[key] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, syntaxErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	for _, k := range required {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("missing field %q", k)
		}
	}
	return out, nil
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
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return "", syntaxErr(err)
	}
	return s, nil
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

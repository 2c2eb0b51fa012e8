package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestObject(t *testing.T) {
	m, err := Object([]byte(" {\"a\" : [1, {\"x\":\"}\"}] ,\"b\":\"q\\\"\", \"c\":-1.5e3 , \"d\":null}\n"), nil, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": `[1, {"x":"}"}]`, "b": `"q\""`, "c": `-1.5e3`, "d": `null`}
	if len(m) != len(want) {
		t.Fatalf("members %v", m)
	}
	for k, v := range want {
		if string(m[k]) != v {
			t.Errorf("%s = %s, want %s", k, m[k], v)
		}
	}
	if s, err := String(m["b"]); err != nil || s != `q"` {
		t.Errorf("String = %q, %v", s, err)
	}
	if _, err := String(m["d"]); err == nil {
		t.Error("String accepted null")
	}
	if n, err := Int([]byte("42")); err != nil || n != 42 {
		t.Errorf("Int = %d, %v", n, err)
	}
	if _, err := Int(m["c"]); err == nil {
		t.Error("Int accepted a float")
	}
}

// TestObjectRefuses checks Object against encoding/json's own validity:
// whatever json.Valid refuses, Object refuses.
func TestObjectRefuses(t *testing.T) {
	tests := []struct{ data, want string }{
		{``, "unexpected end"},
		{`{`, "want a string key"},
		{`{"a"}`, "want ':'"},
		{`{"a":}`, "invalid value"},
		{`{"a":1 "b":2}`, "want ',' or '}'"},
		{`{"a":1,}`, "want a string key"},
		{`{"a":01}`, "invalid value"},
		{`{"a":tru}`, "invalid value"},
		{`{"a":[1,]}`, "invalid value"},
		{`{"a":[}`, "invalid value"},
		{"{\"a\":\"\x01\"}", "control character"},
		{`{"a":"\q"}`, "bad escape"},
		{`{"a":"\u12"}`, `bad \u escape`},
		{`{"a":"x`, "unterminated"},
		{`{"a":1}}`, "data after"},
		{`{"a":1,"a":2}`, `duplicate key "a"`},
		{`{"a":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`, "nested deeper"},
		{`"s"`, "want an object"},
		{`{"b":1}`, `missing field "a"`},
	}
	for _, tt := range tests {
		_, err := Object([]byte(tt.data), nil, []string{"a"})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Object(%q): %v, want %q", tt.data, err, tt.want)
		}
	}
	if _, err := Object([]byte(`{"a":1,"z":2}`), []string{"a"}, nil); err == nil || !strings.Contains(err.Error(), `unknown field "z"`) {
		t.Errorf("allowed: %v", err)
	}
}

func FuzzObject(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c"}],"d":"\u00e9"}`))
	f.Add([]byte(`{"a":"\\","a":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Object(data, nil, nil)
		if err != nil {
			return
		}
		// What Object accepts is one valid JSON object with those members.
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var std map[string]json.RawMessage
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("encoding/json refuses %q: %v", data, err)
		}
		if len(std) != len(m) {
			t.Fatalf("%d members, encoding/json finds %d", len(m), len(std))
		}
	})
}

func TestSpecial(t *testing.T) {
	for n := 0; n < 40; n++ {
		base := []byte(strings.Repeat("a", n))
		if got := special(base); got != n {
			t.Fatalf("special(%d plain) = %d", n, got)
		}
		for i := 0; i < n; i++ {
			for _, c := range []byte{'"', '\\', 0, 0x1f} {
				b := append([]byte{}, base...)
				b[i] = c
				if got := special(b); got != i {
					t.Fatalf("special with %q at %d of %d = %d", c, i, n, got)
				}
			}
			// Bytes that look alike in a word are not special.
			for _, c := range []byte{0x20, 0x7f, 0x80, 0xff, '#', '[', ']', 0xa2, 0xdc} {
				b := append([]byte{}, base...)
				b[i] = c
				if got := special(b); got != n {
					t.Fatalf("special with %#x at %d of %d = %d", c, i, n, got)
				}
			}
		}
	}
}

package record

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/litebox-go/litebox/attest/dsse"
)

func sample(t *testing.T) *Statement {
	t.Helper()
	st, err := New(Run{Command: []string{"/usr/bin/python3", "-c", "pass"}, Platform: "systrap",
		StartTime: time.Unix(1, 5), EndTime: time.Unix(2, 0), ExitStatus: 0,
		Executables: []File{{Path: "/usr/bin/python3.11", SHA256: "ab", Size: 3}},
		AuditEvents: map[string]int64{"sandbox_exit": 1}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSignVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	st := sample(t)
	signed, err := Sign(st, priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(signed, pub)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject[0].Name != "/usr/bin/python3.11" || got.Predicate.Command[2] != "pass" {
		t.Errorf("verified %+v", got)
	}
	// A statement re-signed by its own key but not in litebox's form.
	resign := func(payload []byte, typ string) []byte {
		env, err := dsse.Sign(typ, payload, priv)
		if err != nil {
			t.Fatal(err)
		}
		b, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	enc, _ := st.Encode()
	var env map[string]any
	json.Unmarshal(signed, &env)
	changed := bytes.Replace(enc, []byte(`"pass"`), []byte(`"p4ss"`), 1)
	env["payload"] = base64.StdEncoding.EncodeToString(changed)
	tampered, _ := json.Marshal(env)
	tests := []struct {
		name      string
		data      []byte
		pub       ed25519.PublicKey
		signature bool // a *dsse.SignatureError, else ErrMalformed
	}{
		{"payload changed", tampered, pub, true},
		{"other key", signed, otherPub, true},
		{"not an envelope", enc, pub, false},
		{"wrong payload type", resign(enc, "application/vnd.litebox.manifest.v1+json"), pub, false},
		{"duplicate key", resign(bytes.Replace(enc, []byte(`{"_type"`), []byte(`{"_type":"x","_type"`), 1), PayloadType), pub, false},
		{"unknown field", resign(bytes.Replace(enc, []byte(`{"_type"`), []byte(`{"extra":1,"_type"`), 1), PayloadType), pub, false},
		{"null", resign(bytes.Replace(enc, []byte(`"auditEvents":{"sandbox_exit":1}`), []byte(`"auditEvents":null`), 1), PayloadType), pub, false},
		{"other predicate", resign(bytes.Replace(enc, []byte(PredicateType), []byte("https://example.com/x"), 1), PayloadType), pub, false},
	}
	_ = otherPriv
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.data, tc.pub)
			var se *dsse.SignatureError
			if tc.signature && !errors.As(err, &se) {
				t.Errorf("err %v, want a SignatureError", err)
			}
			if !tc.signature && !errors.Is(err, ErrMalformed) {
				t.Errorf("err %v, want ErrMalformed", err)
			}
		})
	}
}

func TestNoExecutables(t *testing.T) {
	st, err := New(Run{Command: []string{"/w/prog"}, ExitStatus: 126})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Subject) != 1 || st.Subject[0].Name != "command" || len(st.Subject[0].Digest["sha256"]) != 64 {
		t.Errorf("subjects %+v", st.Subject)
	}
	enc, _ := st.Encode()
	if _, err := Parse(enc); err != nil {
		t.Errorf("Parse(Encode()): %v", err)
	}
}

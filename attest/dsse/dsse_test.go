package dsse

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/attest/keys"
)

const testType = "application/vnd.litebox.test+json"

func newKey(t testing.TB) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// TestPAE checks the encoding against the example of the DSSE protocol.
func TestPAE(t *testing.T) {
	tests := []struct {
		typ, body, want string
	}{
		{"http://example.com/HelloWorld", "hello world", "DSSEv1 29 http://example.com/HelloWorld 11 hello world"},
		{"t", "", "DSSEv1 1 t 0 "},
		{"a b", "x y z", "DSSEv1 3 a b 5 x y z"},
	}
	for _, tt := range tests {
		if got := string(PAE(tt.typ, []byte(tt.body))); got != tt.want {
			t.Errorf("PAE(%q, %q) = %q, want %q", tt.typ, tt.body, got, tt.want)
		}
	}
}

// TestOpenSSLSignature checks a signature openssl makes over our PAE
// verifies here, so the signed bytes are DSSE's and not our own idea.
func TestOpenSSLSignature(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	key, msg, sig := filepath.Join(dir, "k.pem"), filepath.Join(dir, "pae"), filepath.Join(dir, "sig")
	payload := []byte(`{"hello":"world"}`)
	if err := os.WriteFile(msg, PAE(testType, payload), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ed25519", "-out", key},
		{"pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", msg, "-out", sig},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	priv, err := keys.ReadPrivate(key)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := os.ReadFile(sig)
	env := &Envelope{PayloadType: testType, Payload: payload,
		Signatures: []Signature{{KeyID: keys.KeyID(keys.Public(priv)), Sig: s}}}
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(data, testType, keys.Public(priv)); err != nil {
		t.Fatalf("openssl's signature refused: %v", err)
	}
	// ed25519 is deterministic: our signature is openssl's.
	ours, err := Sign(testType, payload, priv)
	if err != nil {
		t.Fatal(err)
	}
	if string(ours.Signatures[0].Sig) != string(s) {
		t.Fatal("our signature differs from openssl's over the same PAE")
	}
}

func TestRoundTrip(t *testing.T) {
	priv, pub := newKey(t)
	env, err := Sign(testType, []byte("payload bytes"), priv)
	if err != nil {
		t.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(data, testType, pub)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "payload bytes" {
		t.Fatalf("payload %q", got)
	}
	// A second signer is ignored by a verifier trusting the first, and
	// accepted by one trusting the second.
	priv2, pub2 := newKey(t)
	if err := env.AddSignature(priv2); err != nil {
		t.Fatal(err)
	}
	data, _ = env.Marshal()
	for _, k := range []ed25519.PublicKey{pub, pub2} {
		if _, err := Open(data, testType, k); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTamper changes each part of a signed envelope and checks Verify
// refuses it, with a one-line error saying why.
func TestTamper(t *testing.T) {
	priv, pub := newKey(t)
	_, other := newKey(t)
	sign := func() *Envelope {
		e, err := Sign(testType, []byte(`{"a":1}`), priv)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name   string
		change func(e *Envelope)
		trust  ed25519.PublicKey
		typ    string
		want   string
	}{
		{"payload", func(e *Envelope) { e.Payload[1] ^= 1 }, pub, testType, "does not verify"},
		{"payload appended", func(e *Envelope) { e.Payload = append(e.Payload, ' ') }, pub, testType, "does not verify"},
		{"signature", func(e *Envelope) { e.Signatures[0].Sig[3] ^= 0x80 }, pub, testType, "does not verify"},
		{"type in envelope", func(e *Envelope) { e.PayloadType = "application/other" }, pub, testType, "payload type"},
		{"type signed, other expected", func(e *Envelope) {}, pub, "application/other", "payload type"},
		// The signature is valid over PAE, but the envelope says another
		// type: re-labelling is caught by the signature, not only the
		// type check.
		{"type relabelled", func(e *Envelope) { e.PayloadType = testType + "x" }, pub, testType + "x", "does not verify"},
		{"keyid", func(e *Envelope) { e.Signatures[0].KeyID = strings.Repeat("0", 64) }, pub, testType, "not signed by the trusted key"},
		{"keyid empty", func(e *Envelope) { e.Signatures[0].KeyID = "" }, pub, testType, "not signed by the trusted key"},
		{"unsigned", func(e *Envelope) { e.Signatures = nil }, pub, testType, "not signed"},
		{"wrong key", func(e *Envelope) {}, other, testType, "not signed by the trusted key"},
		{"wrong key, its keyid", func(e *Envelope) { e.Signatures[0].KeyID = keys.KeyID(other) }, other, testType, "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sign()
			tt.change(e)
			// Through the wire form, as a verifier gets it.
			data, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(data, tt.typ, tt.trust)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error not one line: %q", err)
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString(make([]byte, 64))
	good := `{"payload":"e30=","payloadType":"t","signatures":[{"keyid":"k","sig":"` + sig + `"}]}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("good envelope refused: %v", err)
	}
	tests := []struct {
		name, data, want string
	}{
		{"empty", ``, "bad JSON"},
		{"null", `null`, "want an object"},
		{"array", `[]`, "want an object"},
		{"trailing", good + `{}`, "data after"},
		{"unknown field", `{"payload":"","payloadType":"t","signatures":[],"x":1}`, `unknown field "x"`},
		{"other case", `{"Payload":"","payloadType":"t","signatures":[]}`, `unknown field "Payload"`},
		{"duplicate payload", `{"payload":"e30=","payload":"","payloadType":"t","signatures":[]}`, `duplicate key "payload"`},
		{"duplicate in signature", `{"payload":"","payloadType":"t","signatures":[{"sig":"` + sig + `","sig":"` + sig + `"}]}`, "duplicate key"},
		{"missing signatures", `{"payload":"","payloadType":"t"}`, `missing field "signatures"`},
		{"null payload", `{"payload":null,"payloadType":"t","signatures":[]}`, "want a string"},
		{"number type", `{"payload":"","payloadType":1,"signatures":[]}`, "want a string"},
		{"empty type", `{"payload":"","payloadType":"","signatures":[]}`, "empty payloadType"},
		{"control in type", `{"payload":"","payloadType":"a\nb","signatures":[]}`, "printable"},
		{"bad base64", `{"payload":"@@@","payloadType":"t","signatures":[]}`, "not base64"},
		{"signatures object", `{"payload":"","payloadType":"t","signatures":{}}`, "want an array"},
		{"short sig", `{"payload":"","payloadType":"t","signatures":[{"sig":"AAAA"}]}`, "3 bytes"},
		{"sig missing", `{"payload":"","payloadType":"t","signatures":[{"keyid":"k"}]}`, `missing field "sig"`},
		{"invalid utf-8", "{\"payload\":\"\",\"payloadType\":\"t\xff\",\"signatures\":[]}", "UTF-8"},
		{"too many", `{"payload":"","payloadType":"t","signatures":[` + strings.Repeat(`{"sig":"`+sig+`"},`, MaxSignatures) + `{"sig":"` + sig + `"}]}`, "more than 16"},
		{"deep", `{"payload":` + strings.Repeat("[", 20000), "bad JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "envelope: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: not one line starting envelope:", err)
			}
		})
	}
}

// TestBase64Variants: DSSE allows standard or URL-safe base64, padded or
// not; all decode to the same payload.
func TestBase64Variants(t *testing.T) {
	priv, pub := newKey(t)
	payload := []byte{0xfb, 0xff, 0xfe, 'x'} // has + and / in standard base64
	e, err := Sign(testType, payload, priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		w := map[string]any{
			"payload":     enc.EncodeToString(payload),
			"payloadType": testType,
			"signatures":  []map[string]string{{"keyid": keys.KeyID(pub), "sig": enc.EncodeToString(e.Signatures[0].Sig)}},
		}
		data, _ := json.Marshal(w)
		if got, err := Open(data, testType, pub); err != nil || string(got) != string(payload) {
			t.Fatalf("%v: %q, %v", enc, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	priv, pub := newKey(f)
	e, _ := Sign(testType, []byte(`{"x":1}`), priv)
	good, _ := e.Marshal()
	f.Add(good)
	f.Add([]byte(`{"payload":"","payloadType":"t","signatures":[]}`))
	f.Add([]byte(`{"payload":"e30=","payload":"","payloadType":"t","signatures":[{"sig":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		// What parses re-marshals and parses to the same envelope.
		out, err := env.Marshal()
		if err != nil {
			t.Fatalf("marshal of a parsed envelope: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if string(again.Payload) != string(env.Payload) || again.PayloadType != env.PayloadType || len(again.Signatures) != len(env.Signatures) {
			t.Fatal("round trip changed the envelope")
		}
		// Verify never panics; it succeeds only for the real signature.
		if p, err := env.Verify(testType, pub); err == nil && string(p) != `{"x":1}` {
			t.Fatalf("forged payload %q verified", p)
		}
	})
}

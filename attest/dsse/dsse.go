// Package dsse signs and verifies DSSE envelopes (Dead Simple Signing
// Envelope, protocol v1, github.com/secure-systems-lab/dsse) with ed25519
// keys: the form of litebox's signed manifests and run records.
//
// A signature is over PAE(payloadType, payload), never over the payload
// alone, so a payload cannot be passed off as one of another type. The
// envelope is JSON:
//
//	{"payload":"<base64>","payloadType":"<type>","signatures":[{"keyid":"<id>","sig":"<base64>"}]}
//
// Each signature's keyid is keys.KeyID of the signer's public key (hex
// SHA-256 of its PKIX DER). Verify accepts an envelope only if one of its
// signatures carries the trusted key's id and verifies under that key;
// signatures by other keys are ignored (an envelope may carry several).
package dsse

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/litebox-go/litebox/attest/internal/strictjson"
	"github.com/litebox-go/litebox/attest/keys"
)

// Limits on hostile envelopes.
const (
	// MaxEnvelope bounds an envelope's JSON: a manifest of a large image
	// (some 100,000 files of ~150 bytes each) fits well below it.
	MaxEnvelope = 64 << 20
	// MaxSignatures bounds the signatures of one envelope.
	MaxSignatures = 16
	// maxTypeLen bounds payloadType (a media type or URI).
	maxTypeLen = 256
	// maxKeyIDLen bounds a keyid (ours are 64 hex digits).
	maxKeyIDLen = 256
)

// Envelope is a DSSE envelope, decoded: Payload holds the raw bytes.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Signature is one signature of an envelope.
type Signature struct {
	KeyID string
	Sig   []byte
}

// PAE is DSSE's pre-authentication encoding of a payload, the bytes that
// are signed: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in
// ASCII decimal.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, len("DSSEv1")+len(payloadType)+len(payload)+48)
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// Sign returns an envelope of payload signed by priv.
func Sign(payloadType string, payload []byte, priv ed25519.PrivateKey) (*Envelope, error) {
	if err := checkType(payloadType); err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("dsse: not an ed25519 private key")
	}
	e := &Envelope{PayloadType: payloadType, Payload: payload}
	if err := e.AddSignature(priv); err != nil {
		return nil, err
	}
	return e, nil
}

// AddSignature signs e with priv, after its existing signatures.
func (e *Envelope) AddSignature(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return errors.New("dsse: not an ed25519 private key")
	}
	if len(e.Signatures) >= MaxSignatures {
		return fmt.Errorf("dsse: more than %d signatures", MaxSignatures)
	}
	sig := ed25519.Sign(priv, PAE(e.PayloadType, e.Payload))
	e.Signatures = append(e.Signatures, Signature{KeyID: keys.KeyID(keys.Public(priv)), Sig: sig})
	return nil
}

// Verify checks that e is of payloadType and signed by pub: one of its
// signatures has pub's key id and verifies. It returns the payload.
func (e *Envelope) Verify(payloadType string, pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("dsse: not an ed25519 public key")
	}
	if e.PayloadType != payloadType {
		return nil, fmt.Errorf("envelope: payload type %q, want %q", strictjson.Clip(e.PayloadType), payloadType)
	}
	if len(e.Signatures) == 0 {
		return nil, &SignatureError{"envelope: not signed"}
	}
	id := keys.KeyID(pub)
	found := false
	msg := PAE(e.PayloadType, e.Payload)
	for _, s := range e.Signatures {
		if s.KeyID != id {
			continue
		}
		found = true
		if ed25519.Verify(pub, msg, s.Sig) {
			return e.Payload, nil
		}
	}
	if found {
		return nil, &SignatureError{fmt.Sprintf("envelope: the signature of key %s does not verify (payload or signature changed)", short(id))}
	}
	return nil, &SignatureError{fmt.Sprintf("envelope: not signed by the trusted key %s", short(id))}
}

// SignatureError is Verify's error for a well-formed envelope of the
// right payload type that the trusted key did not sign (no signature of
// its key id verifies): a verifier's "bad signature", as opposed to
// input that is not an envelope at all.
type SignatureError struct{ msg string }

func (e *SignatureError) Error() string { return e.msg }

// short abbreviates a key id for messages, as git abbreviates commits.
func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// wire is the JSON form of an envelope.
type wire struct {
	Payload     string    `json:"payload"`
	PayloadType string    `json:"payloadType"`
	Signatures  []wireSig `json:"signatures"`
}

type wireSig struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Marshal returns e as JSON, with standard padded base64, and a newline.
func (e *Envelope) Marshal() ([]byte, error) {
	if err := checkType(e.PayloadType); err != nil {
		return nil, err
	}
	w := wire{
		Payload:     base64.StdEncoding.EncodeToString(e.Payload),
		PayloadType: e.PayloadType,
		Signatures:  make([]wireSig, len(e.Signatures)),
	}
	for i, s := range e.Signatures {
		w.Signatures[i] = wireSig{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)}
	}
	out, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Parse decodes an envelope strictly: exact field names, no unknown or
// duplicate fields, base64 (standard or URL-safe, padded or not) that
// decodes, at most MaxSignatures signatures of ed25519's size. Errors are
// one line starting "envelope:". It does not verify (see Verify).
func Parse(data []byte) (*Envelope, error) {
	e, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return e, nil
}

func parse(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelope {
		return nil, fmt.Errorf("larger than %d bytes", MaxEnvelope)
	}
	if err := strictjson.Valid(data); err != nil {
		return nil, err
	}
	top, err := strictjson.Object(data, []string{"payload", "payloadType", "signatures"}, []string{"payload", "payloadType", "signatures"})
	if err != nil {
		return nil, err
	}
	var e Envelope
	if e.PayloadType, err = strictjson.String(top["payloadType"]); err != nil {
		return nil, fmt.Errorf("payloadType: %w", err)
	}
	if err := checkType(e.PayloadType); err != nil {
		return nil, err
	}
	p, err := strictjson.String(top["payload"])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if e.Payload, err = decode64(p); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	sigs, err := strictjson.Array(top["signatures"])
	if err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	if len(sigs) > MaxSignatures {
		return nil, fmt.Errorf("more than %d signatures", MaxSignatures)
	}
	for i, raw := range sigs {
		s, err := parseSig(raw)
		if err != nil {
			return nil, fmt.Errorf("signature %d: %w", i, err)
		}
		e.Signatures = append(e.Signatures, s)
	}
	return &e, nil
}

func parseSig(raw json.RawMessage) (Signature, error) {
	m, err := strictjson.Object(raw, []string{"keyid", "sig"}, []string{"sig"})
	if err != nil {
		return Signature{}, err
	}
	var s Signature
	if k, ok := m["keyid"]; ok {
		if s.KeyID, err = strictjson.String(k); err != nil {
			return Signature{}, fmt.Errorf("keyid: %w", err)
		}
		if len(s.KeyID) > maxKeyIDLen {
			return Signature{}, fmt.Errorf("keyid longer than %d bytes", maxKeyIDLen)
		}
	}
	sig, err := strictjson.String(m["sig"])
	if err != nil {
		return Signature{}, fmt.Errorf("sig: %w", err)
	}
	if s.Sig, err = decode64(sig); err != nil {
		return Signature{}, fmt.Errorf("sig: %w", err)
	}
	if len(s.Sig) != ed25519.SignatureSize {
		return Signature{}, fmt.Errorf("sig: %d bytes, an ed25519 signature has %d", len(s.Sig), ed25519.SignatureSize)
	}
	return s, nil
}

// decode64 accepts the encodings DSSE allows: standard or URL-safe
// base64, padded or not.
func decode64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func checkType(t string) error {
	if t == "" {
		return errors.New("empty payloadType")
	}
	if len(t) > maxTypeLen {
		return fmt.Errorf("payloadType longer than %d bytes", maxTypeLen)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 0x20 || c > 0x7e {
			return errors.New("payloadType has a character that is not printable ASCII")
		}
	}
	return nil
}

// Open parses data as an envelope and verifies it (Parse, then Verify):
// the payload of a valid envelope of payloadType signed by pub.
func Open(data []byte, payloadType string, pub ed25519.PublicKey) ([]byte, error) {
	e, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return e.Verify(payloadType, pub)
}

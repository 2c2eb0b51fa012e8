package manifest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/litebox-go/litebox/attest/dsse"
	"github.com/litebox-go/litebox/attest/internal/hostfile"
	"github.com/litebox-go/litebox/attest/keys"
)

// PayloadType is the DSSE payload type of a signed manifest: a verifier
// expecting a manifest refuses any other signed document (a run record).
const PayloadType = "application/vnd.litebox.manifest.v1+json"

// Digest returns the SHA-256 of m's canonical encoding: the manifest's
// identity, for a run record.
func (m *Manifest) Digest() (Digest, error) {
	c, err := m.Canonical()
	if err != nil {
		return Digest{}, err
	}
	return sha256.Sum256(c), nil
}

// Sign returns a DSSE envelope (JSON) of m's canonical encoding signed
// with priv.
func Sign(m *Manifest, priv ed25519.PrivateKey) ([]byte, error) {
	c, err := m.Canonical()
	if err != nil {
		return nil, err
	}
	env, err := dsse.Sign(PayloadType, c, priv)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// ErrUnsigned is Verify's error for a manifest that is not in an
// envelope at all.
var ErrUnsigned = errors.New("manifest: not signed (litebox manifest sign --key KEY FILE)")

// Verify reads a signed manifest, the DSSE envelope Sign writes, and
// returns the manifest if the envelope is signed by pub, is of
// PayloadType, and its payload is a valid manifest in canonical form.
// Errors are one line; an unsigned manifest (one Parse would accept) is
// ErrUnsigned.
func Verify(data []byte, pub ed25519.PublicKey) (*Manifest, error) {
	env, err := dsse.Parse(data)
	if err != nil {
		if _, perr := Parse(data); perr == nil {
			return nil, ErrUnsigned
		}
		return nil, err
	}
	payload, err := env.Verify(PayloadType, pub)
	if err != nil {
		return nil, err
	}
	if m, ok := parseCanonical(payload); ok {
		return m, nil
	}
	// Not a canonical manifest: the strict parser says what is wrong.
	if _, err := Parse(payload); err != nil {
		return nil, fmt.Errorf("signed %w", err)
	}
	return nil, errors.New("manifest: the signed payload is not in canonical form")
}

// ReadVerified reads the signed manifest file path and verifies it
// against the public key file trust (PKIX PEM): what `litebox run
// --verify PATH --trust TRUST` and `litebox manifest verify` do before
// anything runs. Errors are one line naming the file at fault.
func ReadVerified(path, trust string) (*Manifest, error) {
	pub, err := keys.ReadPublic(trust)
	if err != nil {
		return nil, fmt.Errorf("--trust: %w", err)
	}
	data, err := hostfile.Read(path, dsse.MaxEnvelope)
	if err != nil {
		return nil, err
	}
	m, err := Verify(data, pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ReadUnsigned reads the unsigned manifest file path (at most MaxSize
// bytes), for signing: a signed one is refused as such. Errors are one
// line naming the file.
func ReadUnsigned(path string) (*Manifest, error) {
	data, err := hostfile.Read(path, MaxSize)
	if err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		if _, derr := dsse.Parse(data); derr == nil {
			return nil, fmt.Errorf("%s: already signed (sign the unsigned manifest)", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

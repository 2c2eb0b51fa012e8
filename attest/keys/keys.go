// Package keys reads and writes the ed25519 keys of verified execution as
// PEM, in the forms openssl uses, so that
//
//	openssl genpkey -algorithm ed25519 -out key.pem
//	openssl pkey -in key.pem -pubout -out key.pub
//
// make a key pair litebox accepts: a private key is PKCS#8 ("PRIVATE
// KEY"), a public key PKIX ("PUBLIC KEY"). Only ed25519 is accepted; an
// encrypted private key or another algorithm is refused with one line.
//
// A key's id (KeyID) is the lowercase hex SHA-256 of its public key's
// PKIX DER encoding: the same for a private key and its public key, and
// what `openssl pkey -pubin -outform DER | sha256sum` prints.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/litebox-go/litebox/attest/internal/hostfile"
)

// maxKeyFile bounds what is read of a key file: an ed25519 PEM is about
// 120 bytes; anything far larger is not a key.
const maxKeyFile = 64 << 10

const (
	privateType = "PRIVATE KEY"
	publicType  = "PUBLIC KEY"
)

// ParsePrivate returns the ed25519 private key of a PKCS#8 PEM block
// ("PRIVATE KEY"). Text before the block is allowed (openssl may write
// explanatory text); a second PEM block, or anything but whitespace after
// the first, is refused, so a file cannot hold two keys.
func ParsePrivate(data []byte) (ed25519.PrivateKey, error) {
	der, err := onePEM(data, privateType)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: not PKCS#8: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %T, want ed25519 (openssl genpkey -algorithm ed25519)", k)
	}
	return priv, nil
}

// ParsePublic returns the ed25519 public key of a PKIX PEM block
// ("PUBLIC KEY").
func ParsePublic(data []byte) (ed25519.PublicKey, error) {
	der, err := onePEM(data, publicType)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key: not PKIX: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key: %T, want ed25519", k)
	}
	return pub, nil
}

// onePEM returns the DER of the only PEM block of data, which must be of
// type want.
func onePEM(data []byte, want string) ([]byte, error) {
	what := "public key"
	if want == privateType {
		what = "private key"
	}
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM block", what)
	}
	if b.Type != want {
		if b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, fmt.Errorf("%s: encrypted keys are not supported (openssl pkey -in KEY -out PLAIN)", what)
		}
		return nil, fmt.Errorf("%s: PEM block %q, want %q", what, b.Type, want)
	}
	if len(b.Headers) != 0 {
		return nil, fmt.Errorf("%s: PEM headers are not supported", what)
	}
	if len(trimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s: data after the PEM block", what)
	}
	return b.Bytes, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// ReadPrivate reads the private key file path (see ParsePrivate).
func ReadPrivate(path string) (ed25519.PrivateKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ReadPublic reads the public key file path (see ParsePublic).
func ReadPublic(path string) (ed25519.PublicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePublic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func readKeyFile(path string) ([]byte, error) {
	data, err := hostfile.Read(path, maxKeyFile)
	if errors.Is(err, hostfile.ErrTooLarge) {
		return nil, fmt.Errorf("%w: not a key", err)
	}
	return data, err
}

// KeyID returns the id of pub: the lowercase hex SHA-256 of its PKIX DER.
// It returns "" for a key of the wrong length (which no parser here
// returns).
func KeyID(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Public returns the public half of priv.
func Public(priv ed25519.PrivateKey) ed25519.PublicKey {
	return priv.Public().(ed25519.PublicKey)
}

// Generate makes a new key pair (from crypto/rand) and returns it as PEM:
// for tests and for callers that cannot run openssl.
func Generate() (privPEM, pubPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if privPEM, err = EncodePrivate(priv); err != nil {
		return nil, nil, err
	}
	if pubPEM, err = EncodePublic(pub); err != nil {
		return nil, nil, err
	}
	return privPEM, pubPEM, nil
}

// EncodePrivate returns priv as PKCS#8 PEM.
func EncodePrivate(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("private key: not an ed25519 key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateType, Bytes: der}), nil
}

// EncodePublic returns pub as PKIX PEM.
func EncodePublic(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("public key: not an ed25519 key")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicType, Bytes: der}), nil
}

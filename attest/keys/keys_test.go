package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// openssl runs openssl with args, skipping the test when it is missing.
func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	out, err := exec.Command("openssl", args...).Output()
	if err != nil {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// TestOpenSSLKeys loads a pair made by openssl, checks the two halves
// match (a signature made with one verifies with the other), and that
// KeyID is the SHA-256 of the DER openssl writes for the public key.
func TestOpenSSLKeys(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub")
	openssl(t, "genpkey", "-algorithm", "ed25519", "-out", priv)
	openssl(t, "pkey", "-in", priv, "-pubout", "-out", pub)
	der := openssl(t, "pkey", "-pubin", "-in", pub, "-outform", "DER")

	sk, err := ReadPrivate(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ReadPublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Public(sk), pk) {
		t.Fatal("the public key openssl derived differs from the private key's")
	}
	msg := []byte("hello")
	if !ed25519.Verify(pk, msg, ed25519.Sign(sk, msg)) {
		t.Fatal("signature does not verify")
	}
	sum := sha256.Sum256(der)
	if got, want := KeyID(pk), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("KeyID = %s, want %s (sha256 of openssl's DER)", got, want)
	}
	if KeyID(Public(sk)) != KeyID(pk) {
		t.Fatal("key ids of the two halves differ")
	}

	// And openssl reads ours: it derives the same public key from the
	// PKCS#8 we write.
	ourPriv, ourPub, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "ours.pem")
	if err := os.WriteFile(p, ourPriv, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := openssl(t, "pkey", "-in", p, "-pubout"); !bytes.Equal(got, ourPub) {
		t.Fatalf("openssl derives\n%s\nfrom our key, we wrote\n%s", got, ourPub)
	}
}

func TestParseRefuses(t *testing.T) {
	priv, pub, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	// An RSA key, from openssl when it is there.
	var rsaPriv, rsaPub []byte
	if _, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		p := filepath.Join(dir, "rsa.pem")
		openssl(t, "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024", "-out", p)
		rsaPriv, _ = os.ReadFile(p)
		rsaPub = openssl(t, "pkey", "-in", p, "-pubout")
	}
	tests := []struct {
		name    string
		data    []byte
		private bool
		want    string
	}{
		{"empty private", nil, true, "no PEM block"},
		{"empty public", nil, false, "no PEM block"},
		{"public as private", pub, true, `"PUBLIC KEY", want "PRIVATE KEY"`},
		{"private as public", priv, false, `"PRIVATE KEY", want "PUBLIC KEY"`},
		{"two keys", append(append([]byte{}, priv...), priv...), true, "data after the PEM block"},
		{"encrypted", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), true, "encrypted keys are not supported"},
		{"garbage DER private", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), true, "not PKCS#8"},
		{"garbage DER public", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), false, "not PKIX"},
		{"rsa private", rsaPriv, true, "want ed25519"},
		{"rsa public", rsaPub, false, "want ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == nil && strings.HasPrefix(tt.name, "rsa") {
				t.Skip("openssl not installed")
			}
			var err error
			if tt.private {
				_, err = ParsePrivate(tt.data)
			} else {
				_, err = ParsePublic(tt.data)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestReadTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, maxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPublic(p); err == nil || !strings.Contains(err.Error(), "not a key") {
		t.Fatalf("error %v", err)
	}
}

func TestEncodeBadKey(t *testing.T) {
	if _, err := EncodePrivate(ed25519.PrivateKey{1, 2}); err == nil {
		t.Fatal("short private key encoded")
	}
	if _, err := EncodePublic(ed25519.PublicKey{1, 2}); err == nil {
		t.Fatal("short public key encoded")
	}
	if KeyID(ed25519.PublicKey{1}) != "" {
		t.Fatal("KeyID of a short key")
	}
}

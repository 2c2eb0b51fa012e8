package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func hashOf(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func TestRead(t *testing.T) {
	data := []byte(`{"schemaVersion":2}`)
	h := hashOf(data)
	big := bytes.Repeat([]byte("x"), MaxMeta+1)
	for _, tc := range []struct {
		name string
		data []byte
		size int64
		want v1.Hash
		err  string
	}{
		{"ok", data, int64(len(data)), h, ""},
		{"size unknown", data, -1, h, ""},
		{"other content", []byte("{}"), -1, h, "digest mismatch"},
		{"size differs", data, 3, h, "the descriptor says 3"},
		{"descriptor too big", data, MaxMeta + 1, h, "more than the"},
		{"content too big", big, -1, hashOf(big), "more than"},
		{"sha512", data, -1, v1.Hash{Algorithm: "sha512", Hex: strings.Repeat("a", 128)}, "only sha256"},
		{"short hex", data, -1, v1.Hash{Algorithm: "sha256", Hex: "abc"}, "only sha256"},
		{"path in hex", data, -1, v1.Hash{Algorithm: "sha256", Hex: "../../" + strings.Repeat("a", 58)}, "bad digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tc.data), tc.size, tc.want, "manifest")
			if tc.err == "" {
				if err != nil || !bytes.Equal(got, tc.data) {
					t.Fatalf("Read = %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Read: %v, want %q", err, tc.err)
			}
			if tc.err == "digest mismatch" && !errors.Is(err, ErrDigest) {
				t.Errorf("%v does not wrap ErrDigest", err)
			}
		})
	}
}

func TestReadLayout(t *testing.T) {
	dir := t.TempDir()
	data := []byte("config")
	h := hashOf(data)
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
	os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), data, 0o644)
	if got, err := ReadLayout(dir, h, int64(len(data)), "config"); err != nil || string(got) != "config" {
		t.Fatalf("ReadLayout = %q, %v", got, err)
	}
	other := hashOf([]byte("other"))
	if _, err := ReadLayout(dir, other, -1, "config"); err == nil || !strings.Contains(err.Error(), "config "+other.String()+": missing blob") {
		t.Errorf("missing blob: %v", err)
	}
	if _, err := ReadIndex(dir); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("no index.json: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
	if idx, err := ReadIndex(dir); err != nil || len(idx.Manifests) != 0 {
		t.Errorf("ReadIndex = %+v, %v", idx, err)
	}
}

package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/litebox-go/litebox/attest/keys"
	"github.com/litebox-go/litebox/attest/manifest"
)

// keyPair makes an ed25519 key pair with openssl (as an operator would),
// or litebox's own generator when openssl is missing.
func keyPair(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	priv, pub = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub")
	if _, err := exec.LookPath("openssl"); err == nil {
		for _, args := range [][]string{
			{"genpkey", "-algorithm", "ed25519", "-out", priv},
			{"pkey", "-in", priv, "-pubout", "-out", pub},
		} {
			if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, out)
			}
		}
		return priv, pub
	}
	sk, pk, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(priv, sk, 0o600)
	os.WriteFile(pub, pk, 0o644)
	return priv, pub
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// oneLineError checks a failure is exit 125 with one "litebox:" line
// containing want, and no Go panic.
func oneLineError(t *testing.T, code int, stderr, want string) {
	t.Helper()
	if code != exitUsage {
		t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, stderr)
	}
	if !strings.HasPrefix(stderr, "litebox: ") || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "goroutine") {
		t.Errorf("stderr %q: want one line starting litebox:", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

// TestManifestCLI makes a manifest of a host directory, signs it with an
// openssl key and verifies it; then every bad input is exit 125 and one
// line.
func TestManifestCLI(t *testing.T) {
	trueELF, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	script := []byte("#!/bin/sh\necho hi\n")
	conf := []byte("x = 1\n")
	files := map[string]struct {
		body []byte
		mode os.FileMode
	}{
		"bin/tool":     {trueELF, 0o755},
		"bin/hello":    {script, 0o755},
		"share/readme": {[]byte("text"), 0o644},
		"conf/app":     {conf, 0o644},
	}
	for name, f := range files {
		p := filepath.Join(tree, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, f.body, f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
	}
	os.Symlink("tool", filepath.Join(tree, "bin/alias"))
	os.Symlink("loop", filepath.Join(tree, "bin/loop"))
	priv, pub := keyPair(t, dir, "key")
	_, otherPub := keyPair(t, dir, "other")
	unsigned := filepath.Join(dir, "m.json")
	signed := filepath.Join(dir, "m.signed.json")

	code, out, errs := runCLI(t, "manifest", "create", "-q", filepath.Join(tree, "bin"), filepath.Join(tree, "share"),
		"--data", filepath.Join(tree, "conf/app"), "-o", unsigned)
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("create: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	data, err := os.ReadFile(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"bin/tool":  {sha256Hex(trueELF), "executable"},
		"bin/hello": {sha256Hex(script), "script"},
		"conf/app":  {sha256Hex(conf), "data"},
	}
	for name, w := range want {
		e, ok := m.Lookup(filepath.Join(tree, name))
		if !ok || e.SHA256.String() != w[0] || string(e.Kind) != w[1] {
			t.Errorf("%s: %+v %v, want %v", name, e, ok, w)
		}
	}
	if len(m.Entries) != len(want) {
		t.Errorf("%d entries, want %d: %v", len(m.Entries), len(want), m.Entries)
	}

	if code, out, errs = runCLI(t, "manifest", "sign", "--key", priv, unsigned, "-o", signed); code != 0 || out != "" || errs != "" {
		t.Fatalf("sign: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = runCLI(t, "manifest", "verify", "--trust", pub, signed)
	if code != 0 || errs != "" || !strings.Contains(out, "verified") || !strings.Contains(out, "3 entries (1 executable, 0 library, 1 script, 1 data)") || strings.Count(out, "\n") != 1 {
		t.Fatalf("verify: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// sign to stdout is the same envelope (ed25519 is deterministic).
	code, out, _ = runCLI(t, "manifest", "sign", "--key", priv, unsigned)
	if s, _ := os.ReadFile(signed); code != 0 || out != string(s) {
		t.Fatalf("sign to stdout: exit %d, differs from -o", code)
	}

	// HOST:GUEST puts a directory where run --mount would.
	bound := filepath.Join(dir, "bound.json")
	code, _, errs = runCLI(t, "manifest", "create", "-q", tree+":/app", "--data", "/app/conf/app", "-o", bound)
	if code != 0 || errs != "" {
		t.Fatalf("create HOST:GUEST: exit %d, stderr %q", code, errs)
	}
	b, _ := os.ReadFile(bound)
	bm, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if e, ok := bm.Lookup("/app/" + name); !ok || e.SHA256.String() != w[0] {
			t.Errorf("/app/%s: %+v %v", name, e, ok)
		}
	}
	if len(bm.Entries) != len(want) || len(bm.Source.Paths) != 1 || bm.Source.Paths[0] != "/app" {
		t.Errorf("entries %v, source %+v", bm.Entries, bm.Source)
	}

	// Bad inputs.
	var env map[string]any
	s, _ := os.ReadFile(signed)
	json.Unmarshal(s, &env)
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	tamper := func(name string, change func(map[string]any)) string {
		e := map[string]any{}
		json.Unmarshal(s, &e)
		change(e)
		b, _ := json.Marshal(e)
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	oneByte := tamper("byte.json", func(e map[string]any) {
		p := []byte(strings.Replace(string(payload), sha256Hex(script), sha256Hex(conf), 1))
		e["payload"] = base64.StdEncoding.EncodeToString(p)
	})
	otherType := tamper("type.json", func(e map[string]any) { e["payloadType"] = "application/vnd.in-toto+json" })
	noSigs := tamper("nosig.json", func(e map[string]any) { e["signatures"] = []any{} })
	extra := tamper("extra.json", func(e map[string]any) { e["extra"] = 1 })
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{\"payload\": "), 0o644)
	badManifest := filepath.Join(dir, "bad.json")
	os.WriteFile(badManifest, []byte(strings.Replace(string(data), `"version": 1`, `"version": 1, "version": 2`, 1)), 0o644)

	tests := []struct {
		name string
		args []string
		want string
		code int // 0: exitUsage
	}{
		{"wrong key", []string{"manifest", "verify", "--trust", otherPub, signed}, "not signed by the trusted key", exitUnverified},
		{"payload changed", []string{"manifest", "verify", "--trust", pub, oneByte}, "does not verify", exitUnverified},
		{"payload type", []string{"manifest", "verify", "--trust", pub, otherType}, "payload type", 0},
		{"no signatures", []string{"manifest", "verify", "--trust", pub, noSigs}, "not signed", exitUnverified},
		{"unknown field", []string{"manifest", "verify", "--trust", pub, extra}, `unknown field "extra"`, 0},
		{"unsigned", []string{"manifest", "verify", "--trust", pub, unsigned}, "not signed (litebox manifest sign", 0},
		{"malformed", []string{"manifest", "verify", "--trust", pub, garbage}, "bad JSON", 0},
		{"missing file", []string{"manifest", "verify", "--trust", pub, filepath.Join(dir, "nope")}, "no such file", 0},
		{"private key as trust", []string{"manifest", "verify", "--trust", priv, signed}, "--trust", 0},
		{"no trust", []string{"manifest", "verify", signed}, `"trust" not set`, 0},
		{"sign duplicate field", []string{"manifest", "sign", "--key", priv, badManifest}, `duplicate key "version"`, 0},
		{"sign signed", []string{"manifest", "sign", "--key", priv, signed}, "already signed", 0},
		{"sign public key", []string{"manifest", "sign", "--key", pub, unsigned}, "--key", 0},
		{"sign missing key", []string{"manifest", "sign", "--key", filepath.Join(dir, "nokey"), unsigned}, "no such file", 0},
		{"create two sources", []string{"manifest", "create", "--rootfs", tree, tree}, "not both", 0},
		{"create bind to root", []string{"manifest", "create", tree + ":/"}, "must be absolute and not /", 0},
		{"create bind of a file", []string{"manifest", "create", filepath.Join(tree, "conf/app") + ":/x"}, "not a directory", 0},
		{"create bind missing data", []string{"manifest", "create", tree + ":/app", "--data", "/app/none"}, "/app/none", 0},
		{"create host root", []string{"manifest", "create", "/"}, "name its directories", 0},
		{"create missing dir", []string{"manifest", "create", filepath.Join(dir, "nodir")}, "no such file", 0},
		{"create file as dir", []string{"manifest", "create", filepath.Join(tree, "conf/app")}, "not a directory", 0},
		{"create missing data", []string{"manifest", "create", tree, "--data", filepath.Join(tree, "nodata")}, "--data", 0},
		{"create relative data", []string{"manifest", "create", tree, "--data", "conf/app"}, "not an absolute path", 0},
		{"create unwritable output", []string{"manifest", "create", "-q", filepath.Join(tree, "conf"), "-o", filepath.Join(dir, "no/such/dir/m.json")}, "no such file", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tt.args...)
			if tt.code != 0 {
				if code != tt.code {
					t.Errorf("exit %d, want %d", code, tt.code)
				}
				code = exitUsage // the rest of the contract is the same
			}
			oneLineError(t, code, errs, tt.want)
		})
	}
}

// TestManifestCLIImage lists an image (an OCI layout): its whole tree,
// with the image's digest as the source.
func TestManifestCLIImage(t *testing.T) {
	t.Setenv("LITEBOX_STORE", filepath.Join(t.TempDir(), "store"))
	trueELF, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	layer := tarBytes(t,
		entry{name: "bin/", typ: '5'},
		entry{name: "bin/prog", body: string(trueELF)}, // 0644 in the tar: an ELF all the same
		entry{name: "bin/run.sh", body: "#!/bin/sh\n"},
		entry{name: "bin/link", typ: '2', link: "/bin/prog"},
		entry{name: "etc/", typ: '5'},
		entry{name: "etc/conf", body: "c"},
	)
	img := imageOf(t, "amd64", v1.Config{Cmd: []string{"/bin/prog"}}, layerOf(t, gzipBytes(layer)))
	digest, _ := img.Digest()
	dir := layoutOf(t, img, "v1")
	out := filepath.Join(t.TempDir(), "m.json")
	code, _, errs := runCLI(t, "manifest", "create", "-q", "--image", "oci:"+dir+":v1", "--data", "/etc/conf", "-o", out)
	if code != 0 || errs != "" {
		t.Fatalf("create: exit %d, stderr %q", code, errs)
	}
	data, _ := os.ReadFile(out)
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Source.Type != "image" || m.Source.Digest != digest.String() {
		t.Errorf("source %+v, want the image's digest %s", m.Source, digest)
	}
	want := map[string]string{"/bin/prog": sha256Hex(trueELF), "/bin/run.sh": sha256Hex([]byte("#!/bin/sh\n")), "/etc/conf": sha256Hex([]byte("c"))}
	if len(m.Entries) != len(want) {
		t.Errorf("entries %v, want %v", m.Entries, want)
	}
	for p, sum := range want {
		if e, ok := m.Lookup(p); !ok || e.SHA256.String() != sum {
			t.Errorf("%s: %+v, %v", p, e, ok)
		}
	}
}

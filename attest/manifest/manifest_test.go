package manifest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litebox-go/litebox/attest/dsse"
	"github.com/litebox-go/litebox/attest/keys"
	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func digestOf(s string) Digest { return sha256.Sum256([]byte(s)) }

func sample() *Manifest {
	return &Manifest{
		Version: Version,
		Created: time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC),
		Source:  Source{Type: SourceImage, Ref: "oci:/tmp/img:latest", Digest: "sha256:" + digestOf("img").String()},
		Entries: map[string]Entry{
			"/usr/bin/python3":    {SHA256: digestOf("py"), Size: 2, Kind: KindExecutable},
			"/lib/libc.so.6":      {SHA256: digestOf("libc"), Size: 4, Kind: KindLibrary},
			"/usr/bin/say \"hi\"": {SHA256: digestOf("sh"), Size: 0, Kind: KindScript},
			"/etc/tab\there":      {SHA256: digestOf("d"), Size: 1, Kind: KindData},
			"/opt/é":              {SHA256: digestOf("e"), Size: 9, Kind: KindData},
		},
	}
}

// TestCanonicalStable pins the canonical bytes of a manifest: if this
// changes, every signed manifest in the field stops verifying.
func TestCanonicalStable(t *testing.T) {
	m := &Manifest{
		Version: 1,
		Created: time.Date(2026, 12, 2, 18, 0, 0, 0, time.FixedZone("x", 3600)),
		Source:  Source{Type: SourceDirs, Paths: []string{"/usr", "/bin"}, Data: []string{"/etc/x"}},
		Entries: map[string]Entry{
			"/usr/bin/b":   {SHA256: Digest{0xab}, Size: 7, Kind: KindExecutable},
			"/usr/bin/a\n": {SHA256: Digest{1}, Size: 0, Kind: KindScript},
		},
	}
	z := strings.Repeat("0", 62)
	want := `{"created":"2026-12-02T17:00:00Z","entries":{"/usr/bin/a\n":{"kind":"script","sha256":"01` + z +
		`","size":0},"/usr/bin/b":{"kind":"executable","sha256":"ab` + z + `","size":7}},` +
		`"source":{"data":["/etc/x"],"paths":["/usr","/bin"],"type":"dirs"},"version":1}`
	got, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("canonical\n%s\nwant\n%s", got, want)
	}
	// encoding/json reads it as the same document.
	var any map[string]any
	if err := json.Unmarshal(got, &any); err != nil {
		t.Fatal(err)
	}
}

// TestRoundTrip: canonical and indented forms parse back to the same
// manifest, whose canonical bytes are the same.
func TestRoundTrip(t *testing.T) {
	m := sample()
	c, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	ind, err := m.Indented()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := parseCanonical(c); !ok {
		t.Fatal("the fast path refuses canonical bytes")
	}
	if _, ok := parseCanonical(ind); ok {
		t.Fatal("the fast path accepts indented bytes")
	}
	for _, data := range [][]byte{c, ind} {
		m2, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := m2.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if string(c2) != string(c) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", c, c2)
		}
		if e, ok := m2.Lookup("/lib/libc.so.6"); !ok || e != m.Entries["/lib/libc.so.6"] {
			t.Fatalf("Lookup = %v, %v", e, ok)
		}
	}
}

func TestCheck(t *testing.T) {
	m := sample()
	py := m.Entries["/usr/bin/python3"]
	tests := []struct {
		name string
		path string
		sum  Digest
		size int64
		want string // "" for nil
	}{
		{"match", "/usr/bin/python3", py.SHA256, py.Size, ""},
		{"other content", "/usr/bin/python3", digestOf("px"), py.Size, "sha256 "},
		{"other size", "/usr/bin/python3", py.SHA256, 3, "3 bytes, the manifest lists 2"},
		{"not listed", "/usr/bin/perl", py.SHA256, 2, "not in the manifest"},
		{"not canonical", "/usr/bin/../bin/python3", py.SHA256, 2, "not in the manifest"},
		{"data", "/etc/tab\there", digestOf("d"), 1, "listed as data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Check(tt.path, tt.sum, tt.size)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			var mm *MismatchError
			if errors.As(err, &mm) != !errors.Is(err, ErrNotListed) {
				t.Fatalf("error %v is neither a mismatch nor not-listed", err)
			}
			if mm != nil && (mm.Path != tt.path || mm.Want != py.SHA256 || mm.Got != tt.sum) {
				t.Fatalf("mismatch %+v", mm)
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	h := digestOf("x").String()
	entry := `{"kind":"executable","sha256":"` + h + `","size":1}`
	doc := func(entries string) string {
		return `{"created":"2026-12-02T17:00:00Z","entries":{` + entries + `},"source":{"type":"dirs"},"version":1}`
	}
	if _, err := Parse([]byte(doc(`"/bin/sh":` + entry))); err != nil {
		t.Fatalf("good manifest refused: %v", err)
	}
	tests := []struct {
		name, data, want string
	}{
		{"empty", ``, "bad JSON"},
		{"not an object", `[1]`, "want an object"},
		{"unknown field", `{"created":"2026-12-02T17:00:00Z","entries":{},"source":{"type":"dirs"},"version":1,"extra":0}`, `unknown field "extra"`},
		{"field case", `{"Created":"2026-12-02T17:00:00Z","entries":{},"source":{"type":"dirs"},"version":1}`, `unknown field "Created"`},
		{"missing entries", `{"created":"2026-12-02T17:00:00Z","source":{"type":"dirs"},"version":1}`, `missing field "entries"`},
		{"version 2", strings.Replace(doc(""), `"version":1`, `"version":2`, 1), "version 2"},
		{"version float", strings.Replace(doc(""), `"version":1`, `"version":1.0`, 1), "not an integer"},
		{"bad time", strings.Replace(doc(""), `2026-12-02T17:00:00Z`, `yesterday`, 1), "RFC 3339"},
		{"bad source type", strings.Replace(doc(""), `"dirs"`, `"usb"`, 1), `type "usb"`},
		{"bad digest", strings.Replace(doc(""), `{"type":"dirs"}`, `{"digest":"md5:00","type":"image"}`, 1), "digest"},
		{"duplicate path", doc(`"/bin/sh":` + entry + `,"/bin/sh":` + entry), `duplicate key "/bin/sh"`},
		{"duplicate field", doc(`"/bin/sh":{"kind":"data","kind":"executable","sha256":"` + h + `","size":1}`), `duplicate key "kind"`},
		{"relative path", doc(`"bin/sh":` + entry), "not an absolute path"},
		{"unclean path", doc(`"/bin/../sh":` + entry), "not a clean path"},
		{"double slash", doc(`"/bin//sh":` + entry), "not a clean path"},
		{"trailing slash", doc(`"/bin/":` + entry), "not a clean path"},
		{"root", doc(`"/":` + entry), "root is not a file"},
		{"NUL", doc(`"/bin/a\u0000":` + entry), "NUL"},
		{"lone surrogate", doc(`"/bin/\ud800":` + entry), "U+FFFD"},
		{"invalid UTF-8", doc("\"/bin/\xff\":" + entry), "UTF-8"},
		{"long name", doc(`"/` + strings.Repeat("a", 256) + `":` + entry), "component longer"},
		{"short hash", doc(`"/bin/sh":{"kind":"executable","sha256":"abc","size":1}`), "3 characters"},
		{"upper hash", doc(`"/bin/sh":{"kind":"executable","sha256":"` + strings.ToUpper(h) + `","size":1}`), "lowercase hex"},
		{"null hash", doc(`"/bin/sh":{"kind":"executable","sha256":null,"size":1}`), "want a string"},
		{"negative size", doc(`"/bin/sh":{"kind":"executable","sha256":"` + h + `","size":-1}`), "negative size"},
		{"huge size", doc(`"/bin/sh":{"kind":"executable","sha256":"` + h + `","size":1e30}`), "not an integer"},
		{"string size", doc(`"/bin/sh":{"kind":"executable","sha256":"` + h + `","size":"1"}`), "want an integer"},
		{"bad kind", doc(`"/bin/sh":{"kind":"kernel","sha256":"` + h + `","size":1}`), `kind "kernel"`},
		{"missing size", doc(`"/bin/sh":{"kind":"data","sha256":"` + h + `"}`), `missing field "size"`},
		{"entries array", strings.Replace(doc(""), `"entries":{}`, `"entries":[]`, 1), "want an object"},
		{"trailing", doc("") + "x", "data after"},
		{"too large", `{"x":"` + strings.Repeat("a", MaxSize) + `"}`, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "manifest: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: not one line starting manifest:", err)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	m := sample()
	signed, err := Sign(m, priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(signed, pub)
	if err != nil {
		t.Fatal(err)
	}
	if d1, _ := got.Digest(); d1 != mustDigest(t, m) {
		t.Fatal("verified manifest differs")
	}
	env, err := dsse.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	// resign re-signs a changed payload with a key, as an attacker with
	// that key would.
	resign := func(payloadType string, payload []byte, k ed25519.PrivateKey) []byte {
		e, err := dsse.Sign(payloadType, payload, k)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.Marshal()
		return b
	}
	indented, _ := m.Indented()
	tampered := strings.Replace(string(env.Payload), digestOf("libc").String(), digestOf("evil").String(), 1)
	// The signature kept, the payload swapped.
	swapped := strings.Replace(string(signed), base64.StdEncoding.EncodeToString(env.Payload), base64.StdEncoding.EncodeToString([]byte(tampered)), 1)
	canon, _ := m.Canonical()
	tests := []struct {
		name string
		data []byte
		key  ed25519.PublicKey
		want string
	}{
		{"wrong key", signed, otherPub, "not signed by the trusted key"},
		{"payload swapped", []byte(swapped), pub, "does not verify"},
		{"signed by another key", resign(PayloadType, []byte(tampered), otherPriv), pub, "not signed by the trusted key"},
		{"other type", resign("application/vnd.litebox.record+json", canon, priv), pub, "payload type"},
		{"not canonical", resign(PayloadType, indented, priv), pub, "not in canonical form"},
		{"signed garbage", resign(PayloadType, []byte("{}"), priv), pub, "signed manifest:"},
		{"unsigned", canon, pub, "not signed"},
		{"unsigned indented", indented, pub, "not signed"},
		{"garbage", []byte("hello"), pub, "envelope:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.data, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("not one line: %q", err)
			}
		})
	}
	if _, err := Verify(canon, pub); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: %v, want ErrUnsigned", err)
	}
}

func mustDigest(t *testing.T, m *Manifest) Digest {
	t.Helper()
	d, err := m.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCanonicalRefusesInvalid(t *testing.T) {
	for name, change := range map[string]func(m *Manifest){
		"bad path":    func(m *Manifest) { m.Entries["rel"] = Entry{Kind: KindData} },
		"bad kind":    func(m *Manifest) { m.Entries["/x"] = Entry{Kind: "other"} },
		"no source":   func(m *Manifest) { m.Source = Source{} },
		"no time":     func(m *Manifest) { m.Created = time.Time{} },
		"version":     func(m *Manifest) { m.Version = 0 },
		"negative":    func(m *Manifest) { m.Entries["/x"] = Entry{Kind: KindData, Size: -1} },
		"bad ref":     func(m *Manifest) { m.Source.Ref = "a\xffb" },
		"source path": func(m *Manifest) { m.Source.Paths = []string{"usr"} },
	} {
		m := sample()
		change(m)
		if _, err := m.Canonical(); err == nil {
			t.Errorf("%s: canonical of an invalid manifest", name)
		}
	}
}

// newVFS is the host directory dir as a read-only tree, read as root (the
// host still checks its own permissions).
func newVFS(t *testing.T, dir string) *vfs.VFS {
	t.Helper()
	hfs, err := hostfs.New(dir, hostfs.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hfs.Close() })
	fs := vfs.New(hfs)
	fs.SetCred(cred.New(0, 0, nil))
	return fs
}

func write(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func TestCreate(t *testing.T) {
	trueELF, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true:", err)
	}
	libc, err := os.ReadFile("/usr/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		t.Skip("no libc.so.6:", err)
	}
	libm, err := os.ReadFile("/usr/lib/x86_64-linux-gnu/libm.so.6") // no PT_INTERP
	if err != nil {
		t.Skip("no libm.so.6:", err)
	}
	dir := t.TempDir()
	script := []byte("#!/bin/sh\necho hi\n")
	data := []byte("key = value\n")
	write(t, dir+"/usr/bin/true", trueELF, 0o755)
	write(t, dir+"/usr/bin/true-noexec", trueELF, 0o644) // a PIE: has an interpreter
	write(t, dir+"/usr/lib/libc.so.6", libc, 0o755)
	write(t, dir+"/usr/lib/plugin", libm, 0o644)    // ET_DYN, no interpreter, no exec bit
	write(t, dir+"/usr/lib/libc-copy", libc, 0o644) // ET_DYN with an interpreter: executable
	write(t, dir+"/usr/bin/hello", script, 0o644)   // a script without exec bit
	write(t, dir+"/usr/bin/run", []byte("echo no shebang\n"), 0o755)
	write(t, dir+"/usr/share/doc.txt", []byte("not code"), 0o644)
	write(t, dir+"/usr/share/fake.elf", []byte("\x7fELF garbage"), 0o644)
	write(t, dir+"/etc/app.conf", data, 0o644)
	write(t, dir+"/etc/other.conf", data, 0o644)
	write(t, dir+"/opt/tool", script, 0o755) // outside the roots, reached by a link
	for link, target := range map[string]string{
		"/usr/bin/python": "true",                    // relative, to a listed file
		"/usr/bin/tool":   "/opt/tool",               // absolute: resolved in the tree, not the host
		"/usr/bin/loop1":  "loop2",                   // a loop
		"/usr/bin/loop2":  "loop1",                   //
		"/usr/bin/gone":   "/nowhere",                // dangling
		"/usr/bin/escape": "../../../../../bin/true", // ".." stops at the tree's root
		"/usr/lib64":      "lib",                     // a link to a directory: not walked
	} {
		if err := os.Symlink(target, dir+link); err != nil {
			t.Fatal(err)
		}
	}
	write(t, dir+"/usr/bin/unreadable", trueELF, 0o000)
	write(t, dir+"/usr/bin/bad\xffname", script, 0o755) // not UTF-8: cannot be a manifest path
	var warned []string
	var last Progress
	m, err := Create(newVFS(t, dir), Options{
		Roots:    []string{"/usr"},
		Data:     []string{"/etc/app.conf", "/usr/share/doc.txt"},
		Source:   Source{Type: SourceRootfs, Ref: dir},
		Progress: func(p Progress) { last = p },
		Warn:     func(p string, err error) { warned = append(warned, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) Digest { return sha256.Sum256(b) }
	want := map[string]Entry{
		"/usr/bin/true":        {sum(trueELF), int64(len(trueELF)), KindExecutable},
		"/usr/bin/true-noexec": {sum(trueELF), int64(len(trueELF)), KindExecutable},
		"/usr/lib/libc.so.6":   {sum(libc), int64(len(libc)), KindLibrary},
		"/usr/lib/plugin":      {sum(libm), int64(len(libm)), KindLibrary},
		"/usr/lib/libc-copy":   {sum(libc), int64(len(libc)), KindExecutable},
		"/usr/bin/hello":       {sum(script), int64(len(script)), KindScript},
		"/usr/bin/run":         {sum([]byte("echo no shebang\n")), 16, KindExecutable},
		"/usr/share/fake.elf":  {sum([]byte("\x7fELF garbage")), 12, KindLibrary},
		"/opt/tool":            {sum(script), int64(len(script)), KindScript},
		"/etc/app.conf":        {sum(data), int64(len(data)), KindData},
		"/usr/share/doc.txt":   {sum([]byte("not code")), 8, KindData},
	}
	// Even as the host's root: hostfs applies a host file's bits to
	// litebox, whose guest root is not the host's.
	if len(warned) != 2 || warned[0] != "/usr/bin/bad\xffname" || warned[1] != "/usr/bin/unreadable" {
		t.Errorf("warnings %q, want the unreadable file and the name that is not UTF-8", warned)
	}
	for p, e := range want {
		if got, ok := m.Lookup(p); !ok || got != e {
			t.Errorf("%s: %+v, %v; want %+v", p, got, ok, e)
		}
	}
	for p := range m.Entries {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected entry %s", p)
		}
	}
	if !last.Done || last.Listed != len(m.Entries) || last.Files < len(m.Entries) {
		t.Errorf("last progress %+v", last)
	}
	if got := m.Source.Paths; len(got) != 1 || got[0] != "/usr" {
		t.Errorf("source paths %q", got)
	}
	// What Create makes signs and verifies.
	pub, priv, _ := ed25519.GenerateKey(nil)
	signed, err := Sign(m, priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(signed, pub); err != nil {
		t.Fatal(err)
	}

	// A missing data path is an error; so is a missing root.
	if _, err := Create(newVFS(t, dir), Options{Data: []string{"/etc/missing"}, Source: Source{Type: SourceDirs}}); err == nil || !strings.Contains(err.Error(), "/etc/missing") {
		t.Errorf("missing data path: %v", err)
	}
	if _, err := Create(newVFS(t, dir), Options{Roots: []string{"/srv"}, Source: Source{Type: SourceDirs}}); err == nil {
		t.Error("missing root: no error")
	}
}

// TestCreateWholeTree walks "/" of a tree whose only content is a
// directory loop through symbolic links: it ends, with nothing listed.
func TestCreateLoop(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/a/b", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", dir+"/a/b/up"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", dir+"/a/root"); err != nil {
		t.Fatal(err)
	}
	m, err := Create(newVFS(t, dir), Options{Source: Source{Type: SourceRootfs, Ref: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 0 {
		t.Fatalf("entries %v", m.Entries)
	}
}

func FuzzParse(f *testing.F) {
	c, _ := sample().Canonical()
	ind, _ := sample().Indented()
	f.Add(c)
	f.Add(ind)
	stable := &Manifest{Version: 1, Created: time.Unix(0, 0), Source: Source{Type: SourceDirs, Paths: []string{"/a"}, Data: []string{"/b"}, Ref: "r"},
		Entries: map[string]Entry{"/x\u0001\"y": {Kind: KindScript}, "/z": {Kind: KindData, Size: 10}}}
	sc, _ := stable.Canonical()
	f.Add(sc)
	f.Add([]byte(`{"created":"2026-12-02T17:00:00Z","entries":{"/a":{"kind":"data","sha256":"` + digestOf("").String() + `","size":0}},"source":{"type":"dirs"},"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		// The fast path accepts only canonical bytes, and agrees with the
		// strict parser on them.
		if fm, ok := parseCanonical(data); ok {
			c, err := fm.Canonical()
			if err != nil || string(c) != string(data) {
				t.Fatalf("fast path accepted non-canonical input %q (canonical %q, %v)", data, c, err)
			}
			sm, err := parseStrict(data)
			if err != nil {
				t.Fatalf("fast path accepted what the strict parser refuses: %v", err)
			}
			if sc, _ := sm.Canonical(); string(sc) != string(c) {
				t.Fatal("fast and strict parsers disagree")
			}
		}
		// Whatever parses has canonical bytes, which parse to themselves.
		c, err := m.Canonical()
		if err != nil {
			t.Fatalf("canonical of a parsed manifest: %v", err)
		}
		m2, err := Parse(c)
		if err != nil {
			t.Fatalf("canonical bytes do not parse: %v\n%s", err, c)
		}
		c2, _ := m2.Canonical()
		if string(c2) != string(c) {
			t.Fatalf("canonical not stable:\n%s\n%s", c, c2)
		}
	})
}

func TestReadVerified(t *testing.T) {
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(nil)
	pubPEM, _ := keys.EncodePublic(pub)
	signed, err := Sign(sample(), priv)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir+"/m", signed, 0o644)
	write(t, dir+"/k", pubPEM, 0o644)
	if _, err := ReadVerified(dir+"/m", dir+"/k"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ m, k, want string }{
		{dir + "/none", dir + "/k", "no such file"},
		{dir + "/m", dir + "/none", "--trust"},
		{dir + "/k", dir + "/k", dir + "/k: envelope:"},
	} {
		if _, err := ReadVerified(tt.m, tt.k); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadVerified(%s, %s): %v, want %q", tt.m, tt.k, err, tt.want)
		}
	}
}

// TestKernelFlow is what --verify does for a file the guest maps: open
// it, resolve its canonical path, hash it and Check. A one-byte change
// after the manifest was made is a MismatchError naming the file; a file
// reached through a link is checked at its canonical path.
func TestKernelFlow(t *testing.T) {
	lib, err := os.ReadFile("/usr/lib/x86_64-linux-gnu/libm.so.6")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	write(t, dir+"/lib/libm.so.6", lib, 0o644)
	if err := os.Symlink("libm.so.6", dir+"/lib/libm.so"); err != nil {
		t.Fatal(err)
	}
	fs := newVFS(t, dir)
	m, err := Create(fs, Options{Source: Source{Type: SourceRootfs, Ref: dir}})
	if err != nil {
		t.Fatal(err)
	}
	check := func() error {
		real, err := fs.Realpath("/lib/libm.so")
		if err != nil {
			t.Fatal(err)
		}
		f, err := fs.Open(real, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.DecRef()
		if f.Path() != "/lib/libm.so.6" {
			t.Fatalf("File.Path %q", f.Path())
		}
		sum, size, err := HashFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return m.Check(f.Path(), sum, size)
	}
	if err := check(); err != nil {
		t.Fatalf("unchanged file: %v", err)
	}
	lib[len(lib)/2] ^= 1
	write(t, dir+"/lib/libm.so.6", lib, 0o644)
	err = check()
	var mm *MismatchError
	if !errors.As(err, &mm) || mm.Path != "/lib/libm.so.6" || mm.Got != sha256.Sum256(lib) || mm.Size != mm.WantSize {
		t.Fatalf("changed file: %v", err)
	}
}

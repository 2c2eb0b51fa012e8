package tests

// Verified execution (issue 17): litebox run --verify MANIFEST --trust KEY
// runs only what a signed manifest lists. The manifests here are made by
// `litebox manifest create` from copies of exactly the files python3
// needs, listed at the guest paths where the guest sees the host's own
// (HOST:GUEST), so each test makes its manifest in a fraction of a second.

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

const (
	pythonReal = "/usr/bin/python3.11"
	hostLibDir = "/usr/lib/x86_64-linux-gnu"
	dynloadDir = "/usr/lib/python3.11/lib-dynload"
)

// verifyTree is a copy of what python3 needs to run, as manifest create
// and --mount take it, and a key pair.
type verifyTree struct {
	dir      string
	bin      string // copies of pythonReal (and dash): listed as /usr/bin
	lib      string // copies of python's libraries (and their links): hostLibDir
	dynload  string // copies of some C extensions: dynloadDir
	key, pub string
}

// lddRe matches a library line of ldd's output: "name => /path (0x...)"
// or the interpreter's "/path (0x...)".
var lddRe = regexp.MustCompile(`(?m)^\s*(?:(\S+) => )?(/\S+) \(0x`)

// newVerifyTree copies pythonReal, dash, the libraries ldd names for them
// (with the links ld.so opens them by) and the extensions in dynload
// into a temporary tree, and makes a key pair with openssl.
func newVerifyTree(t *testing.T, dynload ...string) *verifyTree {
	t.Helper()
	for _, p := range []string{pythonReal, "/usr/bin/dash", dynloadDir} {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "verified execution tests need %s: %v", p, err)
		}
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		skipOrFail(t, "openssl is needed to make the keys: %v", err)
	}
	d := t.TempDir()
	v := &verifyTree{dir: d, bin: filepath.Join(d, "bin"), lib: filepath.Join(d, "lib"), dynload: filepath.Join(d, "dynload")}
	for _, dir := range []string{v.bin, v.lib, v.dynload} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	libs := map[string]bool{}
	for _, prog := range append([]string{pythonReal, "/usr/bin/dash"}, prefixAll(dynloadDir+"/", dynload)...) {
		out, err := exec.Command("ldd", prog).Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", prog, err)
		}
		for _, m := range lddRe.FindAllStringSubmatch(string(out), -1) {
			libs[m[2]] = true
		}
	}
	for lib := range libs {
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(real) != hostLibDir {
			t.Fatalf("%s is %s, not in %s: the tree would not hold it", lib, real, hostLibDir)
		}
		copyFile(t, real, filepath.Join(v.lib, filepath.Base(real)))
		if base := filepath.Base(lib); base != filepath.Base(real) {
			if err := os.Symlink(filepath.Base(real), filepath.Join(v.lib, base)); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
	}
	copyFile(t, pythonReal, filepath.Join(v.bin, filepath.Base(pythonReal)))
	copyFile(t, "/usr/bin/dash", filepath.Join(v.bin, "dash"))
	for _, ext := range dynload {
		copyFile(t, filepath.Join(dynloadDir, ext), filepath.Join(v.dynload, ext))
	}
	v.key, v.pub = filepath.Join(d, "key.pem"), filepath.Join(d, "key.pub")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ed25519", "-out", v.key},
		{"pkey", "-in", v.key, "-pubout", "-out", v.pub},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	return v
}

func prefixAll(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// manifest makes and signs the manifest of the tree, plus extra
// HOST:GUEST directories, and returns the signed file.
func (v *verifyTree) manifest(t *testing.T, extra ...string) string {
	t.Helper()
	unsigned, signed := filepath.Join(v.dir, "m.json"), filepath.Join(v.dir, "m.signed.json")
	args := append([]string{"manifest", "create", "-q", "-o", unsigned,
		v.bin + ":/usr/bin", v.lib + ":" + hostLibDir, v.dynload + ":" + dynloadDir}, extra...)
	res := runLitebox(t, nil, args...)
	if res.ExitCode != 0 {
		t.Fatalf("manifest create: exit %d: %s", res.ExitCode, res.Stderr)
	}
	res = runLitebox(t, nil, "manifest", "sign", "--key", v.key, "-o", signed, unsigned)
	if res.ExitCode != 0 {
		t.Fatalf("manifest sign: exit %d: %s", res.ExitCode, res.Stderr)
	}
	return signed
}

// verifiedGuest runs with --verify signed --trust v.pub and an audit log.
func (v *verifyTree) guest(t *testing.T, signed string, flags ...string) (harness.Guest, string) {
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	return harness.Guest{Flags: append([]string{"--audit", audit, "--verify", signed, "--trust", v.pub}, flags...)}, audit
}

// denials returns the exec_denied events of an audit log.
func denials(t *testing.T, audit string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range readAudit(t, audit) {
		if ev["msg"] == "exec_denied" {
			out = append(out, ev)
		}
	}
	return out
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

const pythonProbe = `import sys; print("python", sys.version_info[:2], sys.argv[1:])`

// TestVerifyPython: python3 runs under a manifest listing exactly the
// files it maps executable, with the output it has natively, and nothing
// is refused.
func TestVerifyPython(t *testing.T) {
	v := newVerifyTree(t)
	signed := v.manifest(t)
	g, audit := v.guest(t, signed)
	want := runNative(t, "", nil, nil, "/usr/bin/python3", "-c", pythonProbe, "a b")
	got := runGuest(t, g, nil, "/usr/bin/python3", "-c", pythonProbe, "a b")
	checkResult(t, got, want, true)
	if d := denials(t, audit); len(d) != 0 {
		t.Errorf("refusals in a run the manifest allows: %v", d)
	}
}

// TestVerifyTamperedLibrary: one byte changed in a copy of libz that the
// guest sees at its listed path makes ld.so fail to map it (EACCES), and
// the audit event names the file with the listed and the actual digest.
func TestVerifyTamperedLibrary(t *testing.T) {
	v := newVerifyTree(t)
	signed := v.manifest(t)
	real, err := filepath.EvalSymlinks(filepath.Join(v.lib, "libz.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	before := fileSHA256(t, real)
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(real, data, 0o644); err != nil {
		t.Fatal(err)
	}
	after := fileSHA256(t, real)
	g, audit := v.guest(t, signed)
	g.Mounts = []string{v.lib + ":" + hostLibDir}
	got := runGuest(t, g, nil, "/usr/bin/python3", "-c", "pass")
	// ld.so's own words for a segment mmap refused with EACCES.
	wantErr := "/usr/bin/python3: error while loading shared libraries: libz.so.1: failed to map segment from shared object\n"
	if got.ExitCode != 127 || string(got.Stderr) != wantErr || len(got.Stdout) != 0 {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 127 and %q", got.ExitCode, got.Stdout, got.Stderr, wantErr)
	}
	guestPath := hostLibDir + "/" + filepath.Base(real)
	var found bool
	for _, ev := range denials(t, audit) {
		if ev["path"] != guestPath {
			t.Errorf("refused %v, want only %s", ev, guestPath)
			continue
		}
		found = true
		if ev["op"] != "mmap" || ev["expected_sha256"] != before || ev["actual_sha256"] != after ||
			ev["reason"] != "sha256 differs from the manifest" {
			t.Errorf("audit event %v: want op mmap, expected %s, actual %s", ev, before, after)
		}
	}
	if !found {
		t.Errorf("no exec_denied event names %s", guestPath)
	}
}

// TestVerifyUnlistedProgram: a program the manifest lacks is refused at
// execve: the shell prints what it prints natively for EACCES and exits
// 126, and litebox itself refuses it as its first program (126).
func TestVerifyUnlistedProgram(t *testing.T) {
	v := newVerifyTree(t)
	signed := v.manifest(t)
	dir := t.TempDir()
	copyFile(t, "/usr/bin/dash", filepath.Join(dir, "prog"))
	g, audit := v.guest(t, signed)
	g.Mounts = []string{dir + ":/w"}
	// Natively the same words come from a file without an exec bit
	// (EACCES, for root too).
	nat := t.TempDir()
	copyFile(t, "/usr/bin/dash", filepath.Join(nat, "prog"))
	if err := os.Chmod(filepath.Join(nat, "prog"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "/w/prog -c 'echo ran'; echo status $?"
	want := runNative(t, "", nil, nil, "/usr/bin/dash", "-c", strings.ReplaceAll(script, "/w/", nat+"/"))
	want.Stderr = []byte(strings.ReplaceAll(string(want.Stderr), nat+"/", "/w/"))
	got := runGuest(t, g, nil, "/usr/bin/dash", "-c", script)
	checkResult(t, got, want, true)
	if string(got.Stdout) != "status 126\n" {
		t.Errorf("stdout %q, want status 126", got.Stdout)
	}
	ev := denials(t, audit)
	if len(ev) != 1 || ev[0]["path"] != "/w/prog" || ev[0]["op"] != "exec" || ev[0]["reason"] != "not in the manifest" ||
		ev[0]["actual_sha256"] != fileSHA256(t, "/usr/bin/dash") {
		t.Errorf("audit events %v: want one exec_denied of /w/prog, not in the manifest", ev)
	}
	res := runGuest(t, g, nil, "/w/prog", "-c", "echo ran")
	checkOneLineError(t, res, 126)
}

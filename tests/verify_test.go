package tests

// Verified execution (issue 17): litebox run --verify MANIFEST --trust KEY
// runs only what a signed manifest lists. The manifests here are made by
// `litebox manifest create` from copies of exactly the files python3
// needs, listed at the guest paths where the guest sees the host's own
// (HOST:GUEST), so each test makes its manifest in a fraction of a second.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/attest/digests"
	"github.com/litebox-go/litebox/platform/pagecache"
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

// work copies the guest program name (static) into the tree's work
// directory, which the manifest lists as /work when given as extra
// v.work()+":/work", and which the guest sees there.
func (v *verifyTree) work(t *testing.T, names ...string) string {
	t.Helper()
	dir := filepath.Join(v.dir, "work")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		copyFile(t, program(t, n, staticVariant), filepath.Join(dir, n))
	}
	return dir
}

// TestVerifySwappedFile: a listed file on a :rw mount rewritten in place
// (same inode and size) between its check and its mapping. The check
// hashes the bytes the mapping shows: pages mapped with other bytes and
// made executable after the file became the listed one are refused (B),
// a file changed after a mapping was made leaves that mapping's checked
// bytes and refuses the next mapping (C), and pages that show the listed
// bytes may become executable whatever the file holds since (A).
func TestVerifySwappedFile(t *testing.T) {
	v := newVerifyTree(t)
	work := v.work(t, "verify_swap")
	rw := t.TempDir()
	real, err := filepath.EvalSymlinks(filepath.Join(v.lib, "libz.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, real, filepath.Join(rw, "t.so"))
	signed := v.manifest(t, work+":/work", rw+":/rw")
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x80
	if err := os.WriteFile(filepath.Join(rw, "evil.so"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	g, audit := v.guest(t, signed)
	g.Mounts = []string{work + ":/work", rw + ":/rw:rw"}
	got := runGuest(t, g, nil, "/work/verify_swap", "/rw")
	want := "A: mprotect 0\nA: pages good\nB: mprotect EACCES\nC: mmap ok\nC: mmap again EACCES\nC: first pages good\n"
	checkResult(t, got, harness.Result{Stdout: []byte(want)}, true)
	// Natively (and in litebox without --verify) every call succeeds.
	calls := regexp.MustCompile(`(?m)^.*pages.*\n`)
	native := runNative(t, "", nil, nil, program(t, "verify_swap", staticVariant), rw)
	plain := runGuest(t, harness.Guest{Mounts: g.Mounts}, nil, "/work/verify_swap", "/rw")
	wantCalls := "A: mprotect 0\nB: mprotect 0\nC: mmap ok\nC: mmap again ok\n"
	for name, r := range map[string]harness.Result{"native": native, "litebox without --verify": plain} {
		if s := calls.ReplaceAllString(string(r.Stdout), ""); s != wantCalls || r.ExitCode != 0 {
			t.Errorf("%s: exit %d, calls %q, want %q", name, r.ExitCode, s, wantCalls)
		}
	}
	var ops []string
	for _, ev := range denials(t, audit) {
		if ev["path"] != "/rw/t.so" || ev["expected_sha256"] != fileSHA256(t, real) {
			t.Errorf("event %v: want /rw/t.so, expected %s", ev, fileSHA256(t, real))
		}
		if ev["actual_sha256"] != fileSHA256(t, filepath.Join(rw, "evil.so")) {
			t.Errorf("event %v: actual_sha256 is not the changed bytes'", ev)
		}
		ops = append(ops, ev["op"].(string))
	}
	if strings.Join(ops, ",") != "mprotect,mmap" {
		t.Errorf("refusals by %v, want mprotect (B), mmap (C)", ops)
	}
}

// TestVerifyNoExecAnon: --no-exec-anon refuses anonymous executable
// memory, as a JIT makes it, with EACCES and an audit event; natively (and
// without the flag) every call succeeds. libffi's closures (ctypes
// callbacks), which fall back to a shared double mapping of a file, fail
// too: writable and executable memory is refused whatever backs it.
func TestVerifyNoExecAnon(t *testing.T) {
	program(t, "verify_anon", staticVariant)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--no-exec-anon", "--audit", audit}}
	native := runNative(t, "", nil, nil, program(t, "verify_anon", staticVariant))
	plain := runGuest(t, harness.Guest{Mounts: g.Mounts}, nil, "/work/verify_anon")
	checkResult(t, plain, native, true)
	got := runGuest(t, g, nil, "/work/verify_anon")
	want := strings.NewReplacer("mmap rwx: ok", "mmap rwx: EACCES", "mmap shared rx: ok", "mmap shared rx: EACCES",
		"mprotect rx: 0", "mprotect rx: EACCES").Replace(string(native.Stdout))
	checkResult(t, got, harness.Result{Stdout: []byte(want)}, true)
	var ops []string
	for _, ev := range denials(t, audit) {
		for n := auditCount(t, ev); n > 0; n-- {
			ops = append(ops, ev["op"].(string))
		}
		if ev["reason"] != "anonymous executable memory (--no-exec-anon)" {
			t.Errorf("event %v", ev)
		}
	}
	if len(ops) != 3 {
		t.Errorf("refusals %v, want mmap, mmap, mprotect", ops)
	}

	ctypes := `import ctypes
try:
    print(ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 7)())
except MemoryError:
    print("MemoryError")`
	if res := runGuest(t, harness.Guest{}, nil, "/usr/bin/python3", "-c", ctypes); string(res.Stdout) != "7\n" {
		t.Fatalf("ctypes callback without --no-exec-anon: %s", res)
	}
	res := runGuest(t, harness.Guest{Flags: []string{"--no-exec-anon"}}, nil, "/usr/bin/python3", "-c", ctypes)
	checkResult(t, res, harness.Result{Stdout: []byte("MemoryError\n")}, true)
}

// TestVerifyScripts: a #! script is checked at execve, and so is the
// interpreter its #! line names: a listed script runs, an unlisted one or
// one whose interpreter is unlisted is refused with EACCES, which the
// shell reports as natively (126).
func TestVerifyScripts(t *testing.T) {
	v := newVerifyTree(t)
	w := filepath.Join(v.dir, "scripts")
	if err := os.Mkdir(w, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(w, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("listed.sh", "#!/bin/sh\necho listed ran\n")
	write("bash.sh", "#!/bin/bash\necho bash ran\n") // /usr/bin/bash is not listed
	signed := v.manifest(t, w+":/w")
	write("unlisted.sh", "#!/bin/sh\necho unlisted ran\n")
	g, audit := v.guest(t, signed)
	g.Mounts = []string{w + ":/w"}
	script := "/w/listed.sh; echo status $?; /w/unlisted.sh; echo status $?; /w/bash.sh; echo status $?"
	got := runGuest(t, g, nil, "/bin/sh", "-c", script)
	// Natively, EACCES for the same files: no exec bit.
	nat := t.TempDir()
	for _, n := range []string{"listed.sh", "unlisted.sh", "bash.sh"} {
		copyFile(t, filepath.Join(w, n), filepath.Join(nat, n))
	}
	for _, n := range []string{"unlisted.sh", "bash.sh"} {
		if err := os.Chmod(filepath.Join(nat, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := runNative(t, "", nil, nil, "/bin/sh", "-c", strings.ReplaceAll(script, "/w/", nat+"/"))
	want.Stderr = []byte(strings.ReplaceAll(string(want.Stderr), nat+"/", "/w/"))
	checkResult(t, got, want, true)
	if string(got.Stdout) != "listed ran\nstatus 0\nstatus 126\nstatus 126\n" {
		t.Errorf("stdout %q", got.Stdout)
	}
	var seen []string
	for _, ev := range denials(t, audit) {
		seen = append(seen, ev["op"].(string)+" "+ev["path"].(string))
	}
	if strings.Join(seen, ",") != "script /w/unlisted.sh,script_interpreter /usr/bin/bash" {
		t.Errorf("refusals %v", seen)
	}
}

// TestVerifyDlopen: Python's import of a C extension the manifest does
// not list fails with ImportError (dlopen's mmap refused), while a listed
// one loads.
func TestVerifyDlopen(t *testing.T) {
	const listed, unlisted = "_json.cpython-311-x86_64-linux-gnu.so", "_queue.cpython-311-x86_64-linux-gnu.so"
	v := newVerifyTree(t, listed)
	signed := v.manifest(t)
	g, audit := v.guest(t, signed)
	prog := `import _json
print("_json", _json.__file__)
try:
    import _queue
    print("_queue loaded")
except ImportError as e:
    print("ImportError", e)`
	got := runGuest(t, g, nil, "/usr/bin/python3", "-c", prog)
	want := "_json " + dynloadDir + "/" + listed + "\nImportError " + dynloadDir + "/" + unlisted +
		": failed to map segment from shared object\n"
	checkResult(t, got, harness.Result{Stdout: []byte(want)}, true)
	native := runNative(t, "", nil, nil, "/usr/bin/python3", "-c", prog)
	if !strings.HasSuffix(string(native.Stdout), "_queue loaded\n") {
		t.Errorf("natively: %s", native.Stdout)
	}
	ev := denials(t, audit)
	if len(ev) != 1 || ev[0]["path"] != dynloadDir+"/"+unlisted || ev[0]["reason"] != "not in the manifest" {
		t.Errorf("refusals %v, want one of %s", ev, unlisted)
	}
}

// TestVerifyBadManifest: a manifest that is malformed, unsigned, signed
// by another key or whose payload was changed, and missing or mismatched
// flags, are one litebox: line and exit 125, and nothing runs (the guest
// would create a file in a :rw mount).
func TestVerifyBadManifest(t *testing.T) {
	v := newVerifyTree(t)
	signed := v.manifest(t)
	other := newVerifyTree(t)
	out := t.TempDir()
	d := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := os.ReadFile(filepath.Join(v.dir, "m.json"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := tamperPayload(t, env)
	cases := []struct {
		name  string
		flags []string
		want  string
	}{
		{"malformed", []string{"--verify", write("bad.json", []byte("{not json")), "--trust", v.pub}, "bad.json"},
		{"unsigned", []string{"--verify", write("unsigned.json", unsigned), "--trust", v.pub}, "not signed"},
		{"other key", []string{"--verify", signed, "--trust", other.pub}, "m.signed.json"},
		{"payload changed", []string{"--verify", write("tampered.json", tampered), "--trust", v.pub}, "tampered.json"},
		{"no trust", []string{"--verify", signed}, "--verify needs --trust"},
		{"trust alone", []string{"--trust", v.pub}, "--trust needs --verify"},
		{"missing manifest", []string{"--verify", filepath.Join(d, "none.json"), "--trust", v.pub}, "none.json"},
		{"key not a key", []string{"--verify", signed, "--trust", signed}, "--trust"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := harness.Guest{Mounts: []string{out + ":/out:rw"}, Flags: tc.flags}
			res := runGuest(t, g, nil, "/bin/sh", "-c", "echo ran > /out/"+tc.name)
			checkOneLineError(t, res, 125)
			if !strings.Contains(string(res.Stderr), tc.want) {
				t.Errorf("stderr %q does not name %q", res.Stderr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(out, tc.name)); err == nil {
				t.Errorf("the guest ran")
			}
		})
	}
}

// tamperPayload returns the DSSE envelope env with one character of its
// payload changed (the first hex digit of a digest) and its signatures
// kept: signed bytes that are not the ones signed.
func tamperPayload(t *testing.T, env []byte) []byte {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(e["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(payload, []byte(`"sha256"`))
	if i < 0 {
		i = bytes.Index(payload, []byte(`sha256`))
	}
	if i < 0 {
		t.Fatalf("no digest in the payload %s", payload)
	}
	j := i + bytes.IndexAny(payload[i:], "0123456789abcdef")
	if payload[j] == '0' {
		payload[j] = '1'
	} else {
		payload[j] = '0'
	}
	e["payload"] = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mapsProbe prints, at its end, the files /proc/self/maps shows mapped
// executable (r-x file entries; [vdso] is litebox's, not a file).
const mapsProbe = `import _json
paths = set()
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split()
        if len(parts) >= 6 and "x" in parts[1] and parts[5].startswith("/"):
            paths.add(parts[5])
print("\n".join(sorted(paths)))`

// readRecord verifies a record with litebox record verify and returns
// its statement's predicate, decoded from the envelope.
func readRecord(t *testing.T, path, pub string) (summary string, pred map[string]any) {
	t.Helper()
	res := runLitebox(t, nil, "record", "verify", "--trust", pub, path)
	if res.ExitCode != 0 {
		t.Fatalf("record verify: exit %d: %s", res.ExitCode, res.Stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ Payload string }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	if st["_type"] != "https://in-toto.io/Statement/v1" {
		t.Errorf("_type %v", st["_type"])
	}
	return string(res.Stdout), st["predicate"].(map[string]any)
}

// TestVerifyRecord: --record writes a signed in-toto statement of the
// run whose executables are exactly the files the guest's own
// /proc/self/maps shows mapped executable at its end, each with the
// SHA-256 of the host file; the run's facts are in it; a changed record
// or another key fails record verify with 1, a file that is no record
// with 125. It works without --verify too (nothing is then refused).
func TestVerifyRecord(t *testing.T) {
	v := newVerifyTree(t, "_json.cpython-311-x86_64-linux-gnu.so")
	signed := v.manifest(t)
	for _, enforce := range []bool{true, false} {
		rec := filepath.Join(t.TempDir(), "run.json")
		g := harness.Guest{Flags: []string{"--record", rec, "--record-key", v.key, "--memory", "2G"}}
		if enforce {
			g.Flags = append(g.Flags, "--verify", signed, "--trust", v.pub)
		}
		got := runGuest(t, g, nil, "/usr/bin/python3", "-c", mapsProbe)
		if got.ExitCode != 0 {
			t.Fatalf("exit %d: %s", got.ExitCode, got.Stderr)
		}
		summary, pred := readRecord(t, rec, v.pub)
		var paths []string
		for _, e := range pred["executables"].([]any) {
			f := e.(map[string]any)
			p := f["path"].(string)
			paths = append(paths, p)
			if f["sha256"] != fileSHA256(t, p) {
				t.Errorf("%s: sha256 %v, the host file's is %s", p, f["sha256"], fileSHA256(t, p))
			}
		}
		if want := strings.TrimSuffix(string(got.Stdout), "\n"); strings.Join(paths, "\n") != want {
			t.Errorf("enforce=%v: the record lists\n%s\nthe guest's maps show\n%s", enforce, strings.Join(paths, "\n"), want)
		}
		cmd := pred["command"].([]any)
		if len(cmd) != 3 || cmd[0] != "/usr/bin/python3" || cmd[2] != mapsProbe || pred["exitStatus"] != float64(0) {
			t.Errorf("command %v, exit %v", cmd, pred["exitStatus"])
		}
		limits := pred["limits"].(map[string]any)
		if limits["memoryBytes"] != float64(2<<30) || pred["network"].(map[string]any)["mode"] != "none" {
			t.Errorf("limits %v network %v", limits, pred["network"])
		}
		if _, ok := pred["manifest"]; ok != enforce {
			t.Errorf("enforce=%v: manifest %v", enforce, pred["manifest"])
		}
		if u := pred["usage"].(map[string]any); u["cpuNanos"].(float64) <= 0 || u["peakMemoryBytes"].(float64) <= 0 {
			t.Errorf("usage %v", u)
		}
		if ev := pred["auditEvents"].(map[string]any); ev["sandbox_exit"] != float64(1) || ev["command_exit"] != float64(1) {
			t.Errorf("audit events %v", ev)
		}
		if !strings.Contains(summary, "verified: signed by key") || !strings.Contains(summary, "/usr/bin/python3.11") {
			t.Errorf("summary %q", summary)
		}
		if !enforce {
			continue
		}
		// Tampering.
		data, err := os.ReadFile(rec)
		if err != nil {
			t.Fatal(err)
		}
		d := t.TempDir()
		tampered := filepath.Join(d, "tampered.json")
		os.WriteFile(tampered, tamperPayload(t, data), 0o644)
		garbage := filepath.Join(d, "garbage.json")
		os.WriteFile(garbage, data[:len(data)/2], 0o644)
		other := newVerifyTree(t)
		for _, tc := range []struct {
			name, file, pub string
			code            int
		}{
			{"payload changed", tampered, v.pub, 1},
			{"other key", rec, other.pub, 1},
			{"truncated", garbage, v.pub, 125},
			{"a manifest", signed, v.pub, 125},
		} {
			res := runLitebox(t, nil, "record", "verify", "--trust", tc.pub, tc.file)
			if res.ExitCode != tc.code || len(res.Stdout) != 0 || !strings.HasPrefix(string(res.Stderr), "litebox: ") ||
				strings.Count(string(res.Stderr), "\n") != 1 {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d and one litebox: line", tc.name, res.ExitCode, res.Stdout, res.Stderr, tc.code)
			}
		}
	}
}

// TestVerifyRecordRefused: the record of a refused run has litebox's exit
// status and counts the refusals; a bad --record-key is a usage error
// before anything runs, and leaves no record.
func TestVerifyRecordRefused(t *testing.T) {
	v := newVerifyTree(t)
	signed := v.manifest(t)
	dir := t.TempDir()
	copyFile(t, "/usr/bin/dash", filepath.Join(dir, "prog"))
	rec := filepath.Join(t.TempDir(), "run.json")
	g := harness.Guest{Mounts: []string{dir + ":/w"}, Flags: []string{"--record", rec, "--record-key", v.key, "--verify", signed, "--trust", v.pub}}
	res := runGuest(t, g, nil, "/usr/bin/dash", "-c", "/w/prog -c true; exit 3")
	if res.ExitCode != 3 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	_, pred := readRecord(t, rec, v.pub)
	if pred["exitStatus"] != float64(3) || pred["auditEvents"].(map[string]any)["exec_denied"] != float64(1) {
		t.Errorf("exit %v, audit events %v", pred["exitStatus"], pred["auditEvents"])
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	g.Flags = []string{"--record", bad, "--record-key", v.pub}
	res = runGuest(t, g, nil, "/usr/bin/dash", "-c", "true")
	checkOneLineError(t, res, 125)
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("a run refused for its flags left a record")
	}
}

// hostVersion is the page-cache key of the host file path, as hostfs
// names it on a read-only mount.
func hostVersion(t *testing.T, path string) pagecache.Key {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return pagecache.Key{Dev: st.Dev, Ino: st.Ino, FileSize: st.Size, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}

// TestVerifyRemembersDigests: a run under --verify leaves the digests of
// the host files it mapped in the store named by LITEBOX_DIGESTS (equal
// to the files' own SHA-256), a later run takes them from there without
// hashing (a record planted with another digest for libz makes ld.so's
// mapping of it refused, and the audit event reports the planted digest),
// and a store others may write is not used. Not parallel: it sets the
// environment litebox runs with.
func TestVerifyRemembersDigests(t *testing.T) {
	v := newVerifyTree(t)
	signed := v.manifest(t)
	store := filepath.Join(t.TempDir(), "digests")
	t.Setenv("LITEBOX_DIGESTS", store)
	want := runNative(t, "", nil, nil, "/usr/bin/python3", "-c", pythonProbe, "x")
	g, audit := v.guest(t, signed)
	checkResult(t, runGuest(t, g, nil, "/usr/bin/python3", "-c", pythonProbe, "x"), want, true)

	libz, err := filepath.EvalSymlinks(hostLibDir + "/libz.so.1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := digests.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pythonReal, libz} {
		d, ok := s.Lookup(hostVersion(t, p))
		if !ok || hex.EncodeToString(d[:]) != fileSHA256(t, p) {
			t.Errorf("store's digest of %s = %x, %v; want its SHA-256 %s", p, d, ok, fileSHA256(t, p))
		}
	}
	planted := digests.Digest{0xba, 0xd0}
	s.Add(hostVersion(t, libz), planted)
	s.Close()

	got := runGuest(t, g, nil, "/usr/bin/python3", "-c", "pass")
	wantErr := "/usr/bin/python3: error while loading shared libraries: libz.so.1: failed to map segment from shared object\n"
	if got.ExitCode != 127 || string(got.Stderr) != wantErr {
		t.Errorf("with a planted digest: exit %d, stderr %q; want 127 and %q", got.ExitCode, got.Stderr, wantErr)
	}
	var found bool
	for _, ev := range denials(t, audit) {
		found = found || ev["actual_sha256"] == hex.EncodeToString(planted[:])
	}
	if !found {
		t.Errorf("no refusal reports the planted digest: %v", denials(t, audit))
	}

	// A store anyone may write is ignored: the files are hashed again.
	if err := os.Chmod(store, 0o777); err != nil {
		t.Fatal(err)
	}
	checkResult(t, runGuest(t, g, nil, "/usr/bin/python3", "-c", pythonProbe, "x"), want, true)
}

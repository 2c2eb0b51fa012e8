package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// needTools skips (or fails, in CI) unless every path exists on the host,
// whose /usr the guest sees read-only.
func needTools(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "%s is needed: %v", p, err)
		}
	}
}

// compareShell runs script with sh natively and in the sandbox (with the
// given mounts and environment each) and requires the same exit code and
// output.
func compareShell(t *testing.T, script string, nativeEnv []string, g harness.Guest) {
	t.Helper()
	want := runNative(t, "", nativeEnv, nil, "/bin/sh", "-c", script)
	if want.ExitCode != 0 {
		t.Fatalf("native run failed: %s", want)
	}
	got := runGuest(t, g, nil, "/bin/sh", "-c", script)
	if got.ExitCode != want.ExitCode || !bytes.Equal(got.Stdout, want.Stdout) {
		t.Errorf("guest differs from native\nnative: %s\nguest: %s", want, got)
	}
}

// TestMakeGCC builds testdata/makeproj with make -j2 and gcc, the host's
// (on the guest's read-only /usr), in /tmp: make's children use the
// identity calls (getresuid and friends), which were ENOSYS once.
func TestMakeGCC(t *testing.T) {
	needTools(t, "/usr/bin/make", "/usr/bin/gcc")
	src := filepath.Join(moduleRoot, "testdata", "makeproj")
	const script = `cp -r "$SRC" "$BUILD" && cd "$BUILD" && make -s -j2 && make -s check && make -s clean && ls`
	build := filepath.Join(t.TempDir(), "build")
	compareShell(t, script, []string{"SRC=" + src, "BUILD=" + build}, harness.Guest{
		Mounts: []string{src + ":/src"},
		Env:    []string{"SRC=/src", "BUILD=/tmp/build"},
	})
}

// TestRubySubprocess runs Ruby's backticks and system(), which Ruby
// serves with identity calls before it forks.
func TestRubySubprocess(t *testing.T) {
	needTools(t, "/usr/bin/ruby")
	const script = `/usr/bin/ruby -e 'puts ` + "`echo hi`" + `; system("true"); p $?.exitstatus; system("exit 3"); p $?.exitstatus; puts Process.uid == Process.euid'`
	compareShell(t, script, nil, harness.Guest{})
}

// TestPselectMask: pselect6 honours its signal mask (testdata/pselect_mask.c),
// which make -j waits for its children with.
func TestPselectMask(t *testing.T) {
	prog := program(t, "pselect_mask", staticVariant)
	want := runNative(t, "", nil, nil, prog)
	got := runGuest(t, harness.Guest{Mounts: []string{workMount(staticVariant)}}, nil, "/work/pselect_mask")
	if got.ExitCode != want.ExitCode || !bytes.Equal(got.Stdout, want.Stdout) {
		t.Errorf("guest differs from native\nnative: %s\nguest: %s", want, got)
	}
}

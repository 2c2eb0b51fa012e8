package tests

import (
	"bytes"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestUTSNames runs testdata/uts.c: sethostname and setdomainname fail
// with EPERM for the default user, as natively for uid 1000 (the
// capability check comes before the length check); the guest's root
// (--user 0) renames the sandbox as root renames its own UTS namespace
// natively (unshare --uts, so the host keeps its names): same errnos,
// same names in uname afterwards.
func TestUTSNames(t *testing.T) {
	t.Parallel()
	built := program(t, "uts", staticVariant)
	prog, dir := unprivCopy(t, built, "uts")
	for _, tc := range []struct {
		name   string
		native []string
		flags  []string
	}{
		{"unpriv", asUser, nil},
		{"root", []string{"unshare", "--uts", "setpriv", "--nnp", "--clear-groups"}, []string{"--user", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append(append([]string{}, tc.native...), prog, tc.name)
			want := runNative(t, dir, nil, nil, argv...)
			if want.ExitCode != 0 {
				t.Fatalf("native run failed: %s", want)
			}
			g := harness.Guest{Mounts: []string{dir + ":/work"}, Flags: tc.flags}
			got := runGuest(t, g, nil, "/work/uts", tc.name)
			if got.ExitCode != 0 || !bytes.Equal(got.Stdout, want.Stdout) {
				t.Errorf("guest differs from native\nguest: %s\nnative stdout:\n%s\nguest stdout:\n%s", got, want.Stdout, got.Stdout)
			}
		})
	}
}

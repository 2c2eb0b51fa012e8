package tests

// RLIMIT_NPROC (testdata/nproc.c): fork, vfork, posix_spawn and
// pthread_create fail with EAGAIN past the real user's limit, as natively
// for an unprivileged user with no other process (uid 1234 natively, the
// sandbox's user in the guest).

import (
	"os"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

func TestRlimitNproc(t *testing.T) {
	bin := program(t, "nproc", staticVariant)
	if os.Geteuid() == 0 {
		checkResult(t, runNativeAsUser(t, bin, 1234), harness.Result{Stdout: []byte(nprocWant)}, true)
	}
	for _, flags := range [][]string{nil, {"--user", "1234:1234"}} {
		g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: flags}
		got := runGuest(t, g, nil, "/work/nproc")
		checkExitedNormally(t, got)
		checkResult(t, got, harness.Result{Stdout: []byte(nprocWant)}, true)
	}
}

const nprocWant = `limit 0: fork EAGAIN
limit 0: vfork EAGAIN
limit 0: posix_spawn EAGAIN
limit 0: pthread_create EAGAIN
limit 2: first fork ok
limit 2: second fork while it runs EAGAIN
limit 2: pthread_create while it runs EAGAIN
limit 2: fork after it was reaped ok
limit 2: pthread_create after ok
restored: fork ok
`

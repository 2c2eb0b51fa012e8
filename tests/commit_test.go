package tests

import (
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// Commit accounting (issue 11): --memory charges writable private memory,
// as Linux's overcommit accounting, not PROT_NONE reservations.

const commitReserveWant = `reserve 64 GiB: ok
commit 16 MiB: 0
child: exit 0
parent still: x
decommit: 0
recommit: 0
munmap: 0
`

// TestCommitReserveFork runs testdata/commit_reserve.c natively and under
// --memory 256M: a 64 GiB PROT_NONE reservation, 16 MiB of it committed,
// then fork, all within the budget.
func TestCommitReserveFork(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "commit_reserve", v)
			want := harness.Result{Stdout: []byte(commitReserveWant)}
			t.Run("native", func(t *testing.T) {
				checkResult(t, runNative(t, "", nil, nil, bin), want, true)
			})
			t.Run("litebox", func(t *testing.T) {
				got := runGuest(t, harness.Guest{Mounts: []string{workMount(v)}, Flags: []string{"--memory", "256M"}}, nil, "/work/commit_reserve")
				checkExitedNormally(t, got)
				checkResult(t, got, want, true)
			})
		})
	}
}

// TestCommitOverBudget: making 512 MiB of the reservation writable under
// --memory 256M fails with ENOMEM, as mprotect does on Linux under
// vm.overcommit_memory=2, and leaves the range as it was. A native host
// with the default heuristic overcommit allows it (checked, so the
// difference is the budget's, not the program's).
func TestCommitOverBudget(t *testing.T) {
	bin := program(t, "commit_reserve", staticVariant)
	native := runNative(t, "", nil, nil, bin, "512")
	if !strings.Contains(string(native.Stdout), "commit 512 MiB more: 0\n") || native.ExitCode != 0 {
		t.Fatalf("native run did not commit 512 MiB:\n%s", native)
	}
	got := runGuest(t, harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--memory", "256M"}}, nil, "/work/commit_reserve", "512")
	checkExitedNormally(t, got)
	want := strings.Replace(commitReserveWant, "munmap: 0\n", "commit 512 MiB more: ENOMEM\ncommit 1 MiB more: 0\nmunmap: 0\n", 1)
	checkResult(t, got, harness.Result{Stdout: []byte(want)}, true)
}

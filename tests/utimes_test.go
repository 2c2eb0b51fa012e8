package tests

import (
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestLegacyUtimes compares testdata/utimes.c (utime, utimes, futimesat)
// with a native run: exact times, NULL as now, dirfd-relative and
// dirfd-itself futimesat, EINVAL, ENOENT, EFAULT, EBADF.
func TestLegacyUtimes(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "utimes", v)
			want := runNative(t, "", nil, nil, bin)
			checkExitedNormally(t, want)
			got := runGuest(t, harness.Guest{Mounts: []string{workMount(v)}}, nil, "/work/utimes")
			checkExitedNormally(t, got)
			checkResult(t, got, want, true)
		})
	}
}

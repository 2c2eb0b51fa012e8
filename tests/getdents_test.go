package tests

import (
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestLegacyGetdents: testdata/getdents.c reads one directory with the
// legacy getdents(2) and with getdents64(2) (old static binaries, such as
// the busybox 1.28 of the OCI runtime-tools' rootfs, call the former),
// compared with the same program run natively.
func TestLegacyGetdents(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "getdents", v)
			want := runNative(t, "", nil, nil, bin)
			checkExitedNormally(t, want)
			got := runGuest(t, harness.Guest{Mounts: []string{workMount(v)}}, nil, "/work/getdents")
			checkExitedNormally(t, got)
			checkResult(t, got, want, true)
		})
	}
}

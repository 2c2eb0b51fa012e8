package tests

import (
	"os"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/compat"
	"github.com/litebox-go/litebox/tests/harness"
)

// compatSubset are CPython regression-test modules that give exactly the
// native counts under both platforms today and take seconds (at most 30 s
// for the native and the sandboxed run together at a load of 10 on 2 cores): the fast part of
// `make compat` (tools/compat, docs/compatibility.md), run by `make test` so
// that a regression in what they exercise (select/poll, pipes and signals,
// shared file mappings, clocks and timers, rlimits and rusage) is caught.
// test_shutil, test_tempfile, test_tarfile, test_io and test_threading
// match too but take 10 s to a minute each in the sandbox;
// add a module here once a fix makes it match (see docs/compatibility.md).
var compatSubset = []string{"test_select", "test_poll", "test_resource", "test_mmap", "test_time"}

// TestCompatSubset runs each module of compatSubset natively and under
// litebox (LITEBOX_PLATFORM, default auto) and requires the same regrtest
// verdict, the same unittest counts and the same outcome for every case.
func TestCompatSubset(t *testing.T) {
	if err := compat.HaveTestsuite(); err != nil {
		skipOrFail(t, "%v", err)
	}
	// Not t.TempDir: the native run may drop to the guest's uid, which
	// must be able to reach its directory.
	out, err := os.MkdirTemp("", "litebox-compat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	if err := os.Chmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	platform := os.Getenv(harness.PlatformEnv)
	if platform == "" {
		platform = "auto"
	}
	for _, module := range compatSubset {
		t.Run(module, func(t *testing.T) {
			r := &compat.Runner{Litebox: litebox(t), OutDir: out, Timeout: 3 * time.Minute,
				NativeCred: compat.DefaultNativeCred(), TraceTest: t.Name()}
			rep := compat.NewReport([]string{module}, []string{compat.NativeConfig, platform})
			for _, c := range rep.Configs {
				mr, err := r.Run(module, c)
				if err != nil {
					t.Fatalf("%s %s: %v", module, c, err)
				}
				rep.Add(mr)
			}
			native, guest := rep.Results[module][compat.NativeConfig], rep.Results[module][platform]
			if native.Outcome != "SUCCESS" || native.Counts.Run == 0 {
				t.Fatalf("native %s: outcome %s, counts %s: the baseline itself is broken\n%s",
					module, native.Outcome, native.Counts, native.Tail)
			}
			if !rep.Same(module, platform) {
				t.Errorf("litebox (%s): outcome %s, counts %s; native: outcome %s, counts %s\n%s",
					platform, guest.Outcome, guest.Counts, native.Outcome, native.Counts, guest.Tail)
			}
			for _, cd := range rep.Diff(module).Cases {
				t.Errorf("%s: native %s, litebox %s", cd.Case, cd.Native, cd.Got[platform])
			}
		})
	}
}

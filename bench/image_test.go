package bench

import (
	"testing"
	"time"
)

// eachImageSystem runs bench per system that has an image column.
func eachImageSystem(b *testing.B, bench func(b *testing.B, e *Env, s *System)) {
	eachSystem(b, func(b *testing.B, e *Env, s *System) {
		if why := e.ImageUnavailable(s); why != "" {
			b.Skipf("%s: %s", s.Name, why)
		}
		if _, err := e.image(); err != nil {
			b.Fatal(err)
		}
		bench(b, e, s)
	})
}

// BenchmarkImagePythonStartup measures one `python3 -c pass` from the
// Debian image (ns/op), the layers already cached: compare with
// BenchmarkPythonStartup, the host's python3 (issue 13's goal: within 1.2×).
func BenchmarkImagePythonStartup(b *testing.B) {
	eachImageSystem(b, func(b *testing.B, e *Env, s *System) {
		for b.Loop() {
			if _, err := e.ImagePythonStartup(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkImageFirstStart measures the first start of the image with a
// fresh store (first-ns) and the second (second-ns); ns/op is both.
func BenchmarkImageFirstStart(b *testing.B) {
	eachImageSystem(b, func(b *testing.B, e *Env, s *System) {
		var first, second time.Duration
		n := 0
		for b.Loop() {
			f, s2, err := e.ImageStarts(s)
			if err != nil {
				b.Fatal(err)
			}
			first += time.Duration(f.Ns)
			second += time.Duration(s2.Ns)
			n++
		}
		b.ReportMetric(float64(first.Nanoseconds())/float64(n), "first-ns")
		b.ReportMetric(float64(second.Nanoseconds())/float64(n), "second-ns")
	})
}

// BenchmarkImageMemory runs ImageSandboxes sandboxes at once on the image
// and reports the memory of one: litebox's RSS and the PSS of its whole
// process tree, in MB (10^6 bytes).
func BenchmarkImageMemory(b *testing.B) {
	eachImageSystem(b, func(b *testing.B, e *Env, s *System) {
		var m Memory
		for b.Loop() {
			var err error
			if m, err = e.ImageMemory(s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(m.LiteboxRSS/1e6, "litebox-RSS-MB/sandbox")
		b.ReportMetric(m.PSS/1e6, "PSS-MB/sandbox")
	})
}

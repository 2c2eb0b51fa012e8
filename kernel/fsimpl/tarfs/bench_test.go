package tarfs

import (
	"archive/tar"
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// benchTar writes a layer like a real one: 10,000 files of 0-20 KB
// (about 100 MB) in 100 directories, with their directory entries.
func benchTar(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "layer.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(w)
	chunk := make([]byte, 20000)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	mt := time.Unix(1700000000, 0)
	for d := range 100 {
		dir := fmt.Sprintf("usr/lib/python3/pkg%03d/", d)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mt}); err != nil {
			b.Fatal(err)
		}
		for i := range 100 {
			size := (d*100 + i) * 7919 % 20001
			h := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%smodule_%03d.py", dir, i), Mode: 0o644, Size: int64(size), ModTime: mt}
			if err := tw.WriteHeader(h); err != nil {
				b.Fatal(err)
			}
			if _, err := tw.Write(chunk[:size]); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// retained is the heap an open file system keeps.
func retained(b *testing.B, open func() *FS) (*FS, uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fs := open()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return fs, after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
}

func reportTar(b *testing.B, path string, fs *FS, heap uint64) {
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size())/1e6, "tar-MB")
	b.ReportMetric(float64(fs.Inodes()), "inodes")
	b.ReportMetric(float64(fs.IndexBytes()), "index-B")
	b.ReportMetric(float64(heap), "heap-B")
}

// BenchmarkIndexBuild: opening a layer the first time (every header read).
func BenchmarkIndexBuild(b *testing.B) {
	path := benchTar(b)
	fs, heap := retained(b, func() *FS {
		fs, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		return fs
	})
	fs.Close()
	for b.Loop() {
		fs, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		fs.Close()
	}
	reportTar(b, path, fs, heap) // after the loop, which drops metrics
}

// BenchmarkOpenCached: opening it again with the index cached (loaded and
// checked in full).
func BenchmarkOpenCached(b *testing.B) {
	path := benchTar(b)
	opts := Options{IndexDir: b.TempDir(), Key: "sha256:bench"}
	first, err := Open(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	first.Close()
	fs, heap := retained(b, func() *FS {
		fs, err := Open(path, opts)
		if err != nil || !fs.Cached() {
			b.Fatalf("cached open: %v", err)
		}
		return fs
	})
	fs.Close()
	for b.Loop() {
		fs, err := Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		fs.Close()
	}
	reportTar(b, path, fs, heap)
	st, _ := os.Stat(cachePath(opts.IndexDir, opts.Key))
	b.ReportMetric(float64(st.Size()), "cache-file-B")
}

// BenchmarkRealLayer measures a layer of your own:
// LITEBOX_TARFS_BENCH_TAR=layer.tar go test -run '^$' -bench RealLayer ./kernel/fsimpl/tarfs/
func BenchmarkRealLayer(b *testing.B) {
	path := os.Getenv("LITEBOX_TARFS_BENCH_TAR")
	if path == "" {
		b.Skip("LITEBOX_TARFS_BENCH_TAR not set")
	}
	opts := Options{IndexDir: b.TempDir(), Key: "sha256:real"}
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "build", true: "cached"}[cached], func(b *testing.B) {
			o := Options{}
			if cached {
				o = opts
				fs, err := Open(path, o) // writes the cache
				if err != nil {
					b.Fatal(err)
				}
				fs.Close()
			}
			fs, heap := retained(b, func() *FS {
				fs, err := Open(path, o)
				if err != nil || fs.Cached() != cached {
					b.Fatalf("open: %v", err)
				}
				return fs
			})
			fs.Close()
			for b.Loop() {
				fs, err := Open(path, o)
				if err != nil {
					b.Fatal(err)
				}
				fs.Close()
			}
			reportTar(b, path, fs, heap)
		})
	}
}

package image

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/litebox-go/litebox/image/store"
)

// benchImage is a layout with one gzip layer of n files of size bytes
// (text-like, so it compresses as real layers do).
func benchImage(b *testing.B, n, size int) string {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"lib", "usr", "share", "python", "data", "config", "the", "and", "init", "module"}
	files := map[string]string{}
	for i := range n {
		buf := make([]byte, 0, size)
		for len(buf) < size {
			buf = append(buf, words[r.IntN(len(words))]...)
			buf = append(buf, ' ')
		}
		files[fmt.Sprintf("usr/lib/d%d/f%d", i%50, i)] = string(buf[:size])
	}
	return writeLayout(b, map[string]v1.Image{"": testImage(b, "amd64", v1.Config{}, gzLayer(b, files))})
}

// Opening an image the first time (decompress, verify, index) and again
// (all cached): go test -bench Open -run XXX ./image/
func BenchmarkOpen(b *testing.B) {
	dir := benchImage(b, 2000, 16<<10) // 2000 files, 32 MB uncompressed
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			s, err := store.Open(filepath.Join(b.TempDir(), "store"))
			if err != nil {
				b.Fatal(err)
			}
			open := func(s *store.Store) {
				im, err := openLayout(dir, "", "bench", Options{Store: s})
				if err != nil {
					b.Fatal(err)
				}
				im.Close()
			}
			if warm {
				open(s)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !warm {
					b.StopTimer()
					s, err = store.Open(filepath.Join(b.TempDir(), fmt.Sprint("store", i)))
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				open(s)
			}
		})
	}
}

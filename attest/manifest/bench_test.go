package manifest

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"
)

// BenchmarkVerify is the start-up cost of --verify for a manifest of n
// entries (a Debian host's /usr has about 5,000; a large image 100,000).
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{5000, 100000} {
		m := &Manifest{Version: Version, Created: time.Unix(1e9, 0), Source: Source{Type: SourceDirs}, Entries: map[string]Entry{}}
		for i := range n {
			p := fmt.Sprintf("/usr/lib/x86_64-linux-gnu/pkg%d/libexample-%d.so.1", i%97, i)
			m.Entries[p] = Entry{SHA256: digestOf(p), Size: int64(i), Kind: KindLibrary}
		}
		pub, priv, _ := ed25519.GenerateKey(nil)
		signed, err := Sign(m, priv)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(len(signed)))
			for b.Loop() {
				if _, err := Verify(signed, pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyHost(b *testing.B) {
	m := &Manifest{Version: Version, Created: time.Unix(1e9, 0), Source: Source{Type: SourceDirs}, Entries: map[string]Entry{}}
	for i := range 5000 {
		p := fmt.Sprintf("/usr/lib/x86_64-linux-gnu/pkg%d/libexample-%d.so.1", i%97, i)
		m.Entries[p] = Entry{SHA256: digestOf(p), Size: int64(i), Kind: KindLibrary}
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	signed, _ := Sign(m, priv)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(signed, pub); err != nil {
			b.Fatal(err)
		}
	}
}

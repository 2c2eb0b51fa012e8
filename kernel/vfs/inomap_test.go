package vfs

import (
	"bytes"
	"testing"
)

func testInoMap(t *testing.T, seed byte) *InoMap {
	t.Helper()
	m, err := newInoMapKey(bytes.Repeat([]byte{seed}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The Feistel network is a bijection for any half width: checked
// exhaustively over 16-bit numbers.
func TestInoMapPermuteIsBijection(t *testing.T) {
	m := testInoMap(t, 1)
	seen := make([]bool, 1<<16)
	fixed := 0
	for x := range uint64(1 << 16) {
		v := m.permute(x, 8)
		if v >= 1<<16 {
			t.Fatalf("permute(%#x) = %#x, outside the domain", x, v)
		}
		if seen[v] {
			t.Fatalf("permute(%#x) = %#x, already the image of another number", x, v)
		}
		seen[v] = true
		if v == x {
			fixed++
		}
	}
	if fixed > 16 { // a random permutation has about one fixed point
		t.Errorf("%d fixed points: not a scrambling permutation", fixed)
	}
}

func TestInoMap(t *testing.T) {
	m := testInoMap(t, 2)
	if m.Map(0) != 0 {
		t.Errorf("Map(0) = %d", m.Map(0))
	}
	cases := []struct {
		name     string
		start, n uint64
		lo, hi   uint64 // images must lie in [lo, hi]
	}{
		{"small numbers", 1, 50000, 1, 1<<32 - 1},
		{"top of the 32-bit range", 1<<32 - 20000, 20000, 1, 1<<32 - 1},
		{"64-bit numbers", 1 << 32, 20000, 1 << 32, ^uint64(0)},
		{"overlayfs-style high bits", 1<<63 | 12345, 20000, 1 << 32, ^uint64(0)},
		{"top of the 64-bit range", ^uint64(0) - 20000, 20001, 1 << 32, ^uint64(0)},
	}
	images := map[uint64]uint64{}
	for _, c := range cases {
		same := 0
		for x := c.start; x-c.start < c.n && x >= c.start; x++ {
			v := m.Map(x)
			if v < c.lo || v > c.hi {
				t.Fatalf("%s: Map(%#x) = %#x, outside [%#x, %#x]", c.name, x, v, c.lo, c.hi)
			}
			if prev, dup := images[v]; dup {
				t.Fatalf("%s: Map(%#x) = Map(%#x) = %#x", c.name, x, prev, v)
			}
			images[v] = x
			if v == x {
				same++
			}
			if m.Map(x) != v {
				t.Fatalf("%s: Map(%#x) is not stable", c.name, x)
			}
		}
		if same > 2 {
			t.Errorf("%s: %d numbers map to themselves", c.name, same)
		}
	}
	// Another mount (another key) numbers the same files differently.
	other := testInoMap(t, 3)
	differ := 0
	for x := uint64(1); x <= 1000; x++ {
		if other.Map(x) != m.Map(x) {
			differ++
		}
	}
	if differ < 990 {
		t.Errorf("two keys agree on %d of 1000 numbers", 1000-differ)
	}
}

func TestNewInoMapKeysDiffer(t *testing.T) {
	a, err := NewInoMap()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewInoMap()
	if err != nil {
		t.Fatal(err)
	}
	if a.Map(12345) == b.Map(12345) && a.Map(54321) == b.Map(54321) {
		t.Error("two fresh maps agree: the key is not random")
	}
}

func BenchmarkInoMap(b *testing.B) {
	m, err := NewInoMap()
	if err != nil {
		b.Fatal(err)
	}
	var sink uint64
	for i := range b.N {
		sink += m.Map(uint64(i) + 1)
	}
	_ = sink
}

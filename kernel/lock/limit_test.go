package lock

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLockLimit: a call that would hold more than MaxLocks locks, or whose
// locks Charge refuses, fails with ENOLCK and changes nothing, splitting
// unlocks included; releasing gives the charge back.
func TestLockLimit(t *testing.T) {
	a, b := &proc{"A"}, &proc{"B"}
	var charged int64
	refuse := false
	m := Manager{MaxLocks: 3, Charge: func(n int64) error {
		if n > 0 && refuse {
			return errors.New("no memory")
		}
		charged += n
		return nil
	}}
	steps := []struct {
		name string
		o    *proc
		l    Lock
		want error
		held int
	}{
		{"first", a, lk(wr, 0, 0), nil, 1},
		{"second", a, lk(wr, 10, 19), nil, 2},
		{"merging needs no new record", a, lk(wr, 1, 5), nil, 2},
		{"third, other owner", b, lk(rd, 100, 200), nil, 3},
		{"fourth", a, lk(wr, 50, 50), unix.ENOLCK, 3},
		{"unlock splitting a lock in two", a, lk(un, 12, 13), unix.ENOLCK, 3},
		{"unlock of a whole lock", b, lk(un, 0, ToEOF), nil, 2},
		{"now the split fits", a, lk(un, 12, 13), nil, 3},
	}
	for _, s := range steps {
		if err := m.Set(kA, s.o, 1, s.l, false, context.Background()); err != s.want {
			t.Fatalf("%s: Set = %v, want %v", s.name, err, s.want)
		}
		if m.Held() != s.held || charged != int64(s.held)*LockCost {
			t.Fatalf("%s: held %d charged %d, want %d locks", s.name, m.Held(), charged, s.held)
		}
	}
	if got := held(&m, kA, a); !slices.Equal(got, []Lock{lk(wr, 0, 5), lk(wr, 10, 11), lk(wr, 14, 19)}) {
		t.Fatalf("A holds %v", got)
	}
	if err := m.Flock(kB, b, unix.LOCK_EX, context.Background()); err != unix.ENOLCK {
		t.Fatalf("flock past the limit = %v, want ENOLCK", err)
	}
	m.ReleaseAll(a)
	refuse = true
	if err := m.Set(kA, b, 2, lk(rd, 0, 0), false, context.Background()); err != unix.ENOLCK {
		t.Fatalf("Set refused by Charge = %v, want ENOLCK", err)
	}
	if err := m.Flock(kB, b, unix.LOCK_SH, context.Background()); err != unix.ENOLCK {
		t.Fatalf("Flock refused by Charge = %v, want ENOLCK", err)
	}
	if m.Held() != 0 || charged != 0 || !m.Empty() || len(m.byOwner) != 0 {
		t.Fatalf("after releasing everything: held %d charged %d empty %v byOwner %v", m.Held(), charged, m.Empty(), m.byOwner)
	}
}

// model is a reference for the fcntl lock semantics over bytes 0..size-1:
// the lock type each owner holds on each byte, plus one (F_RDLCK is 0), or
// 0 for none.
type model map[*proc][]int16

const modelSize = 48

func (md model) set(o *proc, l Lock) error {
	end := min(l.End, modelSize-1)
	if l.Type != un {
		for p, cells := range md {
			if p == o {
				continue
			}
			for i := l.Start; i <= end; i++ {
				if cells[i] != 0 && conflicts(cells[i]-1, l.Type) {
					return unix.EAGAIN
				}
			}
		}
	}
	cells := md[o]
	for i := l.Start; i <= end; i++ {
		cells[i] = 0
		if l.Type != un {
			cells[i] = l.Type + 1
		}
	}
	return nil
}

// ranges turns o's bytes into maximal same-type runs, as Set coalesces
// them; a run reaching the last byte is a lock to EOF.
func (md model) ranges(o *proc) []Lock {
	var out []Lock
	cells := md[o]
	for i := 0; i < modelSize; {
		if cells[i] == 0 {
			i++
			continue
		}
		j := i
		for j+1 < modelSize && cells[j+1] == cells[i] {
			j++
		}
		end := int64(j)
		if j == modelSize-1 {
			end = ToEOF
		}
		out = append(out, lk(cells[i]-1, int64(i), end))
		i = j + 1
	}
	return out
}

// TestAgainstModel runs random lock and unlock requests of three owners
// against the byte model: every result, every owner's (coalesced) locks
// and every F_GETLK answer must match, and the count of held records must
// be what the model's runs add up to.
func TestAgainstModel(t *testing.T) {
	owners := []*proc{{"A"}, {"B"}, {"C"}}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var m Manager
		md := model{}
		for _, o := range owners {
			md[o] = make([]int16, modelSize)
		}
		for step := range 400 {
			o := owners[rng.IntN(len(owners))]
			start := int64(rng.IntN(modelSize - 1))
			end := start + int64(rng.IntN(8))
			if rng.IntN(8) == 0 || end >= modelSize-1 {
				end = ToEOF
			}
			typ := []int16{rd, wr, un, un}[rng.IntN(4)]
			if rng.IntN(2) == 0 && typ == un {
				typ = rd
			}
			l := lk(typ, start, end)
			want := md.set(o, l)
			if got := m.Set(kA, o, 1, l, false, context.Background()); got != want {
				t.Fatalf("seed %d step %d: %v Set(%v) = %v, want %v", seed, step, o, l, got, want)
			}
			total := 0
			for _, p := range owners {
				got, exp := held(&m, kA, p), md.ranges(p)
				if !slices.Equal(got, exp) {
					t.Fatalf("seed %d step %d after %v Set(%v): %v holds %v, want %v", seed, step, o, l, p, got, exp)
				}
				total += len(exp)
			}
			if m.Held() != total {
				t.Fatalf("seed %d step %d: Held() = %d, want %d", seed, step, m.Held(), total)
			}
			q := lk([]int16{rd, wr}[rng.IntN(2)], start, end)
			c := m.Test(kA, o, q)
			conflicting := md.set(o, lk(q.Type, q.Start, q.End)) != nil
			if conflicting != (c.Type != un) {
				t.Fatalf("seed %d step %d: Test(%v) = %v, conflict in the model %v", seed, step, q, c, conflicting)
			}
			// md.set above only tested when it conflicted; undo otherwise.
			if !conflicting {
				md[o] = modelCells(m.files[kA], o)
			}
		}
	}
}

// modelCells rebuilds o's byte model from the manager's records.
func modelCells(f *file, o *proc) []int16 {
	cells := make([]int16, modelSize)
	if f == nil {
		return cells
	}
	for _, r := range f.posix.all() {
		if r.owner != o {
			continue
		}
		for i := r.Start; i <= min(r.End, modelSize-1); i++ {
			cells[i] = r.Type + 1
		}
	}
	return cells
}

// TestLockCostCoversHeap: LockCost is at least what a held lock takes on
// the heap, so that the charge bounds the memory and not only the count.
func TestLockCostCoversHeap(t *testing.T) {
	const n = 5000
	var m Manager
	owners := make([]*proc, 50)
	for i := range owners {
		owners[i] = &proc{"p"}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		// Many owners on many files, so the per-owner and per-file maps count.
		o := owners[i%len(owners)]
		k := Key{Dev: 1, Ino: uint64(i % 100)}
		if err := m.Set(k, o, 1, lk(rd, int64(2*i), int64(2*i)), false, context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per lock, %d charged", per, LockCost)
	if per > LockCost {
		t.Errorf("a lock takes %d bytes of heap but is charged %d", per, LockCost)
	}
	if m.Held() != n {
		t.Fatalf("held %d", m.Held())
	}
	runtime.KeepAlive(&m)
}

package mm_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
)

// nopMapper is a platform address space that keeps nothing, for address
// ranges far larger than fakeMapper can simulate page by page.
type nopMapper struct{}

func (nopMapper) Map(uint64, uint64, int) error              { return nil }
func (nopMapper) MapShared(uint64, uint64, int) error        { return nil }
func (nopMapper) Unmap(uint64, uint64) error                 { return nil }
func (nopMapper) Protect(uint64, uint64, int) error          { return nil }
func (nopMapper) Remap(uint64, uint64, uint64, uint64) error { return nil }
func (nopMapper) Discard(uint64, uint64) error               { return nil }
func (nopMapper) CopyIn(_ uint64, dst []byte) (int, error)   { return len(dst), nil }
func (nopMapper) CopyOut(_ uint64, src []byte) (int, error)  { return len(src), nil }

// TestCommitCharges checks which mappings are charged to the budget
// (Linux's commit accounting, see VMA.commits) and that munmap and
// mprotect give the charge back.
func TestCommitCharges(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, m *mm.MM)
		want uint64 // budget used afterwards
	}{
		{"private anonymous PROT_NONE is free", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Length: 8 * P, Prot: nop})
		}, 0},
		{"private anonymous read-only is free", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Length: 8 * P, Prot: ro})
		}, 0},
		{"private anonymous writable is charged", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Length: 8 * P, Prot: rw})
		}, 8 * P},
		{"shared anonymous is charged whatever its protection", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Length: 8 * P, Prot: nop, Shared: true})
		}, 8 * P},
		{"private file copies are charged, even read-only", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Length: 2 * P, Prot: ro, File: file(make([]byte, 2*P))})
		}, 2 * P},
		{"mprotect to writable charges the part made writable", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: 8 * P, Prot: nop, Fixed: true})
			wantErrno(t, m.Mprotect(A+2*P, 3*P, rw), 0)
		}, 3 * P},
		{"mprotect back releases", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: 8 * P, Prot: rw, Fixed: true})
			wantErrno(t, m.Mprotect(A, 5*P, nop), 0)
		}, 3 * P},
		{"mprotect between writable protections changes nothing", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: 4 * P, Prot: rw, Fixed: true})
			wantErrno(t, m.Mprotect(A, 4*P, rw|unix.PROT_EXEC), 0)
		}, 4 * P},
		{"munmap releases", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: 4 * P, Prot: rw, Fixed: true})
			wantErrno(t, m.Munmap(A+P, 2*P), 0)
		}, 2 * P},
		{"MAP_FIXED over a reservation charges the writable part", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: 8 * P, Prot: nop, Fixed: true})
			mustMmap(t, m, mm.MapRequest{Addr: A + P, Length: 2 * P, Prot: rw, Fixed: true})
		}, 2 * P},
		{"mremap of a reservation stays free", func(t *testing.T, m *mm.MM) {
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: nop, Fixed: true})
			if _, err := m.Mremap(A, 2*P, 6*P, true, false, 0); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"heap is charged", func(t *testing.T, m *mm.MM) {
			m.SetBrkStart(A)
			m.Brk(A + 3*P)
		}, 3 * P},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM()
			b := mm.NewBudget(1 << 30)
			m.SetBudget(b)
			tt.run(t, m)
			if got := b.Used(); got != tt.want {
				t.Errorf("budget used %#x, want %#x", got, tt.want)
			}
			checkMirror(t, m, f)
			m.Release()
			if got := b.Used(); got != 0 {
				t.Errorf("after Release the budget holds %#x", got)
			}
		})
	}
}

// TestReserveCommitFork is CPython's pattern: a huge PROT_NONE
// reservation, a part committed with mprotect, then fork. Only the
// committed part counts, in both processes.
func TestReserveCommitFork(t *testing.T) {
	const budget = 256 << 20
	b := mm.NewBudget(budget)
	m := mm.New(nopMapper{}, nil, top)
	m.SetBudget(b)
	base := mustMmap(t, m, mm.MapRequest{Length: 64 << 30, Prot: nop, Shared: false})
	wantErrno(t, m.Mprotect(base, 16<<20, rw), 0)
	if got := b.Used(); got != 16<<20 {
		t.Fatalf("used %#x after committing 16 MiB", got)
	}
	wantErrno(t, m.CanFork(), 0)
	c := m.Fork(nopMapper{})
	if got := b.Used(); got != 32<<20 {
		t.Fatalf("used %#x after fork, want 32 MiB", got)
	}
	// Committing past the budget fails and changes nothing.
	wantErrno(t, c.Mprotect(base+(16<<20), budget, rw), unix.ENOMEM)
	for _, v := range c.VMAs() {
		if v.Start >= base+(16<<20) && v.Prot != nop {
			t.Errorf("refused mprotect changed %#x-%#x to %d", v.Start, v.End, v.Prot)
		}
	}
	if got := b.Used(); got != 32<<20 {
		t.Fatalf("used %#x after the refused mprotect", got)
	}
	c.Release()
	m.Release()
	if got := b.Used(); got != 0 {
		t.Fatalf("used %#x after both released", got)
	}
}

// TestMaxMapCount checks the VMA limit: mmap, mprotect and munmap that
// would pass it fail with ENOMEM, and adjacent anonymous mappings that
// Linux would have merged do not count twice.
func TestMaxMapCount(t *testing.T) {
	defer mm.SetMaxMapCount(8)()
	m := mm.New(nopMapper{}, nil, top)
	// Alternating protections never merge.
	var n int
	for ; n < 20; n++ {
		prot := ro
		if n%2 == 1 {
			prot = rw
		}
		if _, err := m.Mmap(mm.MapRequest{Addr: A + uint64(n)*P, Length: P, Prot: prot, Fixed: true}); err != nil {
			wantErrno(t, err, unix.ENOMEM)
			break
		}
	}
	if got := len(m.VMAs()); got > 8 || n != 8 {
		t.Fatalf("%d mmaps succeeded, %d VMAs, want 8", n, got)
	}
	wantErrno(t, m.Munmap(A+P, P), 0) // removing one splits nothing
	big := mustMmap(t, m, mm.MapRequest{Addr: A + 64*P, Length: 4 * P, Prot: rw, Fixed: true})
	wantErrno(t, m.Mprotect(big+P, P, ro), unix.ENOMEM)
	wantErrno(t, m.Munmap(big+P, P), unix.ENOMEM)
	if got := len(m.VMAs()); got != 8 {
		t.Fatalf("%d VMAs after refused splits", got)
	}
	// Identical adjacent anonymous mappings merge instead of failing.
	m2 := mm.New(nopMapper{}, nil, top)
	for i := 0; i < 20; i++ {
		if _, err := m2.Mmap(mm.MapRequest{Addr: A + uint64(i)*P, Length: P, Prot: rw, Fixed: true}); err != nil {
			t.Fatalf("mmap %d of adjacent identical pages: %v", i, err)
		}
	}
}

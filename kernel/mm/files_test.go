package mm_test

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
)

// refFile is an open file with a reference count, as a vfs.File: it starts
// with the opener's reference and counts what mappings add and drop.
type refFile struct {
	refs   int
	closed bool
}

func (r *refFile) IncRef() { r.refs++ }
func (r *refFile) DecRef() error {
	r.refs--
	if r.refs == 0 {
		r.closed = true
	}
	if r.refs < 0 {
		return errors.New("more DecRefs than references")
	}
	return nil
}

func newRef() *refFile { return &refFile{refs: 1} }

// closeOpener drops the opener's reference, as a guest close(fd) after
// mmap, or the loader once it has mapped the program.
func (r *refFile) closeOpener(t *testing.T) {
	t.Helper()
	if err := r.DecRef(); err != nil {
		t.Fatal(err)
	}
}

func mapHeld(t *testing.T, m *mm.MM, addr, length uint64, r *refFile) {
	t.Helper()
	mustMmap(t, m, mm.MapRequest{Addr: addr, Length: length, Prot: ro, Fixed: true,
		File: file(pattern(int(length), 1)), Hold: r})
}

func wantRefs(t *testing.T, what string, r *refFile, refs int) {
	t.Helper()
	if r.refs != refs {
		t.Errorf("%s: %d references, want %d", what, r.refs, refs)
	}
	if r.closed != (refs == 0) {
		t.Errorf("%s: closed = %v with %d references", what, r.closed, r.refs)
	}
}

// A mapping keeps its file open past the descriptor's close, and exactly
// until the last VMA mapping it goes: partial unmaps, replacement by
// another mapping, mremap moves.
func TestMappingHoldsItsFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, m *mm.MM, r *refFile)
	}{
		{"munmap in pieces", func(t *testing.T, m *mm.MM, r *refFile) {
			mapHeld(t, m, A, 4*P, r)
			r.closeOpener(t)
			wantRefs(t, "after close(fd)", r, 1)
			if err := m.Munmap(A+P, P); err != nil { // split in two
				t.Fatal(err)
			}
			wantRefs(t, "after unmapping the middle", r, 1)
			if err := m.Munmap(A, P); err != nil {
				t.Fatal(err)
			}
			wantRefs(t, "one piece left", r, 1)
			if err := m.Munmap(A+2*P, 2*P); err != nil {
				t.Fatal(err)
			}
			wantRefs(t, "all unmapped", r, 0)
		}},
		{"two mappings of one file", func(t *testing.T, m *mm.MM, r *refFile) {
			mapHeld(t, m, A, P, r)
			mapHeld(t, m, A+8*P, P, r)
			wantRefs(t, "two mappings", r, 2) // opener + one for the address space
			r.closeOpener(t)
			if err := m.Munmap(A, P); err != nil {
				t.Fatal(err)
			}
			wantRefs(t, "one mapping left", r, 1)
			if err := m.Munmap(A+8*P, P); err != nil {
				t.Fatal(err)
			}
			wantRefs(t, "none left", r, 0)
		}},
		{"replaced by MAP_FIXED", func(t *testing.T, m *mm.MM, r *refFile) {
			mapHeld(t, m, A, 2*P, r)
			r.closeOpener(t)
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: rw, Fixed: true})
			wantRefs(t, "replaced by anonymous memory", r, 0)
		}},
		{"mremap moves it", func(t *testing.T, m *mm.MM, r *refFile) {
			mapHeld(t, m, A, 2*P, r)
			r.closeOpener(t)
			dst, err := m.Mremap(A, 2*P, 2*P, true, true, A+64*P)
			if err != nil || dst != A+64*P {
				t.Fatalf("mremap = %#x, %v", dst, err)
			}
			wantRefs(t, "moved", r, 1)
			if _, err := m.Mremap(dst, 2*P, P, false, false, 0); err != nil {
				t.Fatal(err)
			}
			wantRefs(t, "shrunk", r, 1)
			if err := m.Munmap(dst, P); err != nil {
				t.Fatal(err)
			}
			wantRefs(t, "unmapped", r, 0)
		}},
		{"released with the address space", func(t *testing.T, m *mm.MM, r *refFile) {
			mapHeld(t, m, A, P, r)
			r.closeOpener(t)
			m.Release()
			wantRefs(t, "released", r, 0)
		}},
		{"a failed mapping holds nothing", func(t *testing.T, m *mm.MM, r *refFile) {
			_, err := m.Mmap(mm.MapRequest{Addr: A, Length: P, Prot: ro, Fixed: true, File: failingFile{}, Hold: r})
			if err == nil {
				t.Fatal("mapping a failing file succeeded")
			}
			wantRefs(t, "after the failure", r, 1)
			r.closeOpener(t)
			wantRefs(t, "closed", r, 0)
		}},
		{"an anonymous request holds nothing", func(t *testing.T, m *mm.MM, r *refFile) {
			mustMmap(t, m, mm.MapRequest{Addr: A, Length: P, Prot: rw, Fixed: true, Hold: r})
			wantRefs(t, "anonymous", r, 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newMM()
			m.SetBudget(mm.NewBudget(0))
			tc.run(t, m, newRef())
		})
	}
}

// A fork's copy maps the same files and holds them on its own.
func TestForkHoldsTheFiles(t *testing.T) {
	b := mm.NewBudget(0)
	parent, _ := newMM()
	parent.SetBudget(b)
	r := newRef()
	mapHeld(t, parent, A, P, r)
	r.closeOpener(t)
	child := parent.Fork(newFakeMapper())
	wantRefs(t, "after fork", r, 2)
	if b.HeldFiles() != 1 || child.HeldFiles() != 1 {
		t.Errorf("held files: sandbox %d, child %d; want 1 and 1", b.HeldFiles(), child.HeldFiles())
	}
	parent.Release()
	wantRefs(t, "parent gone", r, 1)
	child.Release()
	wantRefs(t, "both gone", r, 0)
	if b.HeldFiles() != 0 {
		t.Errorf("sandbox still counts %d held files", b.HeldFiles())
	}
}

// The sandbox-wide cap on held files: a new file beyond it gives ENFILE,
// another mapping of a file already held does not count, and room comes
// back when a file is no longer mapped.
func TestHeldFilesCap(t *testing.T) {
	b := mm.NewBudget(0)
	b.MaxFiles = 2
	m1, _ := newMM()
	m1.SetBudget(b)
	m2, _ := newMM()
	m2.SetBudget(b)
	r1, r2, r3 := newRef(), newRef(), newRef()
	mapHeld(t, m1, A, P, r1)
	mapHeld(t, m2, A, P, r2)
	_, err := m1.Mmap(mm.MapRequest{Addr: A + 4*P, Length: P, Prot: ro, Fixed: true, File: file(pattern(P, 2)), Hold: r3})
	wantErrno(t, err, unix.ENFILE)
	wantRefs(t, "refused file", r3, 1)
	mapHeld(t, m2, A+4*P, P, r1) // held already, by the other address space
	if b.HeldFiles() != 2 {
		t.Errorf("sandbox holds %d files, want 2", b.HeldFiles())
	}
	if err := m2.Munmap(A, P); err != nil {
		t.Fatal(err)
	}
	mapHeld(t, m1, A+4*P, P, r3)
	wantRefs(t, "r2 after its only mapping went", r2, 1)
	wantRefs(t, "r3 mapped once room was back", r3, 2)
}

package mm_test

import (
	"crypto/sha256"
	"io"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
)

// approver is an mm.ExecCheck that allows exactly the content good (as
// a manifest listing one file would) and records what it was asked.
type approver struct {
	good    [32]byte
	anonErr error
	asked   []mm.ExecMapping
	sums    [][32]byte
}

func (a *approver) CheckExec(x mm.ExecMapping) error {
	a.asked = append(a.asked, x)
	s, _, err := x.Sum()
	if err != nil {
		return err
	}
	a.sums = append(a.sums, s)
	if s != a.good || x.Shared || x.Writable {
		return unix.EACCES
	}
	return nil
}

func (a *approver) CheckAnonExec(string) error { return a.anonErr }

// swapping is a file whose content becomes other after the first read
// of the whole file: a writer racing the check.
type swapping struct {
	now, other []byte
	reads      int
}

func (s *swapping) ReadAt(p []byte, off int64) (int, error) {
	data := s.now
	if off == 0 {
		s.reads++
		if s.reads > 1 {
			s.now = s.other
			data = s.now
		}
	}
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestExecCheckMmap(t *testing.T) {
	good := pattern(3*P+100, 1)
	bad := append([]byte(nil), good...)
	bad[P+5] ^= 1
	tests := []struct {
		name    string
		data    []byte
		prot    int
		wantErr bool
		asked   bool
	}{
		{"listed content, executable", good, rx, false, true},
		{"changed content, executable", bad, rx, true, true},
		{"changed content, not executable", bad, ro, false, false},
		{"listed content, writable and executable", good, rx | unix.PROT_WRITE, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, f := newMM()
			a := &approver{good: sha256.Sum256(good)}
			m.SetExecCheck(a)
			// The mapping starts at page 1: the whole file is what is hashed.
			_, err := m.Mmap(mm.MapRequest{Addr: A, Length: 2 * P, Prot: tc.prot, Fixed: true, File: file(tc.data), Offset: P,
				Info: mm.FileInfo{Path: "/lib/x.so"}})
			if tc.wantErr {
				wantErrno(t, err, unix.EACCES)
				if len(m.VMAs()) != 0 {
					t.Errorf("a refused mmap left %v", layout(m))
				}
			} else if err != nil {
				t.Fatalf("Mmap: %v", err)
			} else {
				wantBytes(t, "mapping", f.peek(t, A, 2*P), tc.data[P:3*P])
			}
			if got := len(a.asked) > 0; got != tc.asked {
				t.Fatalf("asked %v, want %v", a.asked, tc.asked)
			}
			if tc.asked && (a.asked[0].Name != "/lib/x.so" || a.asked[0].Op != "mmap") {
				t.Errorf("asked %+v", a.asked[0])
			}
		})
	}
}

// TestExecCheckMmapRace: the mapping shows the bytes that were checked,
// even when the file changes right after they were read.
func TestExecCheckMmapRace(t *testing.T) {
	good := pattern(2*P, 3)
	evil := pattern(2*P, 9)
	m, f := newMM()
	a := &approver{good: sha256.Sum256(good)}
	m.SetExecCheck(a)
	src := &swapping{now: good, other: evil}
	mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: rx, Fixed: true, File: src})
	wantBytes(t, "mapping", f.peek(t, A, 2*P), good)
	// MADV_DONTNEED reads the file again: checked again, and refused.
	wantErrno(t, m.Madvise(A, P, unix.MADV_DONTNEED), unix.EACCES)
	if len(a.sums) != 2 || a.sums[1] != sha256.Sum256(evil) {
		t.Errorf("sums %x, want the second to be of the changed file", a.sums)
	}
}

// TestExecCheckMprotect: mprotect adding PROT_EXEC checks what the pages
// show: the file's bytes as mapped, or, once written, the file with the
// written pages in place.
func TestExecCheckMprotect(t *testing.T) {
	good := pattern(2*P, 5)
	t.Run("unchanged pages", func(t *testing.T) {
		m, _ := newMM()
		a := &approver{good: sha256.Sum256(good)}
		m.SetExecCheck(a)
		mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: ro, Fixed: true, File: file(good)})
		if err := m.Mprotect(A, 2*P, rx); err != nil {
			t.Fatalf("Mprotect: %v", err)
		}
		if len(a.asked) != 1 || a.asked[0].Written || a.asked[0].Op != "mprotect" {
			t.Errorf("asked %+v", a.asked)
		}
	})
	t.Run("written pages", func(t *testing.T) {
		m, f := newMM()
		a := &approver{good: sha256.Sum256(good)}
		m.SetExecCheck(a)
		mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: rw, Fixed: true, File: file(good)})
		f.poke(t, A+P+1, []byte{0xcc})
		wantErrno(t, m.Mprotect(A, 2*P, rx), unix.EACCES)
		written := append([]byte(nil), good...)
		written[P+1] = 0xcc
		if len(a.asked) != 1 || !a.asked[0].Written || a.sums[0] != sha256.Sum256(written) {
			t.Errorf("asked %+v sums %x: want Written, the sum of the file with the written byte", a.asked, a.sums)
		}
		if v := m.VMAs(); len(v) != 1 || v[0].Prot != rw {
			t.Errorf("a refused mprotect changed %v", layout(m))
		}
	})
	t.Run("file replaced after mapping", func(t *testing.T) {
		// Mapped while it held other bytes, then the file became the
		// listed one: the pages still show the old bytes.
		evil := pattern(2*P, 7)
		m, _ := newMM()
		a := &approver{good: sha256.Sum256(good)}
		m.SetExecCheck(a)
		src := &swapping{now: evil, other: good}
		mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: ro, Fixed: true, File: src})
		wantErrno(t, m.Mprotect(A, 2*P, rx), unix.EACCES)
		if len(a.asked) != 1 || !a.asked[0].Written {
			t.Errorf("asked %+v: want the pages seen as not the file's", a.asked)
		}
	})
	t.Run("adding write to an executable mapping", func(t *testing.T) {
		m, _ := newMM()
		a := &approver{good: sha256.Sum256(good)}
		m.SetExecCheck(a)
		mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: rx, Fixed: true, File: file(good)})
		wantErrno(t, m.Mprotect(A, P, rx|unix.PROT_WRITE), unix.EACCES)
		if n := len(a.asked); n != 2 || !a.asked[1].Writable {
			t.Errorf("asked %+v: want a second question, Writable", a.asked)
		}
		if err := m.Mprotect(A, P, ro); err != nil {
			t.Errorf("dropping PROT_EXEC: %v", err)
		}
	})
}

func TestExecCheckAnon(t *testing.T) {
	m, _ := newMM()
	a := &approver{anonErr: unix.EACCES}
	m.SetExecCheck(a)
	_, err := m.Mmap(mm.MapRequest{Length: P, Prot: rx | unix.PROT_WRITE})
	wantErrno(t, err, unix.EACCES)
	addr := mustMmap(t, m, mm.MapRequest{Length: P, Prot: rw})
	wantErrno(t, m.Mprotect(addr, P, rx), unix.EACCES)
	a.anonErr = nil
	if err := m.Mprotect(addr, P, rx); err != nil {
		t.Errorf("allowed: %v", err)
	}
	// A fork asks the same check.
	c := m.Fork(newFakeMapper())
	a.anonErr = unix.EACCES
	if _, err := c.Mmap(mm.MapRequest{Length: P, Prot: rx}); err == nil {
		t.Error("the fork's mapping was not checked")
	}
}

// TestExecCheckBudget: the snapshot of a file is charged to the memory
// budget while it exists: a file too large for it is ENOMEM.
func TestExecCheckBudget(t *testing.T) {
	big := pattern(8*P, 2)
	m, _ := newMM()
	b := mm.NewBudget(4 * P)
	m.SetBudget(b)
	m.SetExecCheck(&approver{good: sha256.Sum256(big)})
	_, err := m.Mmap(mm.MapRequest{Addr: A, Length: P, Prot: rx, Fixed: true, File: file(big)})
	wantErrno(t, err, unix.ENOMEM)
	if b.Kernel() != 0 {
		t.Errorf("%d bytes still charged after the refusal", b.Kernel())
	}
}

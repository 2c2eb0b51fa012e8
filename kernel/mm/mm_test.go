package mm_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
)

const (
	P   = mm.PageSize
	top = 0x7fe000000000 // the sandbox's mmap area top
	A   = 0x10000000     // a quiet place for fixed mappings in most tests

	rw  = unix.PROT_READ | unix.PROT_WRITE
	ro  = unix.PROT_READ
	rx  = unix.PROT_READ | unix.PROT_EXEC
	nop = unix.PROT_NONE
)

// fakePage is one page of simulated guest memory.
type fakePage struct {
	data [P]byte
	prot int
	// shared, if set, holds the bytes instead of data: a page of a memory
	// file (MapMemory), seen by every mapping of it.
	shared *[P]byte
}

// bytes returns the page's contents.
func (pg *fakePage) bytes() []byte {
	if pg.shared != nil {
		return pg.shared[:]
	}
	return pg.data[:]
}

// fakeMapper simulates a platform address space page by page, with the
// same rules the ptrace platform gets from the host kernel: Map creates
// zeroed pages, Remap moves pages and zero-extends, copies fault on
// unmapped pages and honour protections. Tests check both what mm
// records and what the guest would see.
type fakeMapper struct {
	pages map[uint64]*fakePage
	// mapErr, if set, is returned by the next Map.
	mapErr error
}

func newFakeMapper() *fakeMapper { return &fakeMapper{pages: map[uint64]*fakePage{}} }

// maxFakeLen bounds a single request: a runaway length from an mm bug must
// fail the test, not exhaust the machine's memory.
const maxFakeLen = 1 << 30

// errBadRange is what the fake returns for a range the platform would
// refuse. It is deliberately not an errno: mm must never send such a
// range, and a test expecting an errno must not pass by accident.
var errBadRange = errors.New("fake platform: bad range")

// check validates a range the way the platform does before touching the
// host: page aligned, non-empty and inside the guest address space.
func (f *fakeMapper) check(addr, length uint64) error {
	if addr%P != 0 || length%P != 0 || length == 0 || addr < mm.MinAddr ||
		addr+length < addr || addr+length > mm.MaxAddr || length > maxFakeLen {
		return fmt.Errorf("%w: %#x+%#x", errBadRange, addr, length)
	}
	return nil
}

// allMapped reports whether every page of [addr, addr+length) exists.
func (f *fakeMapper) allMapped(addr, length uint64) bool {
	for a := addr; a < addr+length; a += P {
		if f.pages[a] == nil {
			return false
		}
	}
	return true
}

// MapShared maps like Map: the fake has no fork, so sharing cannot show.
func (f *fakeMapper) MapShared(addr, length uint64, prot int) error { return f.Map(addr, length, prot) }

func (f *fakeMapper) Map(addr, length uint64, prot int) error {
	if err := f.mapErr; err != nil {
		f.mapErr = nil
		return err
	}
	if err := f.check(addr, length); err != nil {
		return err
	}
	for a := addr; a < addr+length; a += P {
		f.pages[a] = &fakePage{prot: prot}
	}
	return nil
}

func (f *fakeMapper) Unmap(addr, length uint64) error {
	if err := f.check(addr, length); err != nil {
		return err
	}
	for a := addr; a < addr+length; a += P {
		delete(f.pages, a)
	}
	return nil
}

func (f *fakeMapper) Protect(addr, length uint64, prot int) error {
	if err := f.check(addr, length); err != nil {
		return err
	}
	if !f.allMapped(addr, length) {
		return unix.ENOMEM // as mprotect(2) on a hole
	}
	for a := addr; a < addr+length; a += P {
		f.pages[a].prot = prot
	}
	return nil
}

// Remap behaves like mremap(MREMAP_MAYMOVE|MREMAP_FIXED): the old range
// must be mapped, must not overlap the new one, and whatever was at the
// destination is replaced. Growth is zero-filled with the old protection.
func (f *fakeMapper) Remap(oldAddr, oldLen, newAddr, newLen uint64) error {
	if err := f.check(oldAddr, oldLen); err != nil {
		return err
	}
	if err := f.check(newAddr, newLen); err != nil {
		return err
	}
	if oldAddr < newAddr+newLen && newAddr < oldAddr+oldLen {
		return unix.EINVAL
	}
	if !f.allMapped(oldAddr, oldLen) {
		return unix.EFAULT
	}
	moved := make([]*fakePage, 0, oldLen/P)
	for a := oldAddr; a < oldAddr+oldLen; a += P {
		moved = append(moved, f.pages[a])
		delete(f.pages, a)
	}
	prot := moved[len(moved)-1].prot
	for i, a := 0, newAddr; a < newAddr+newLen; i, a = i+1, a+P {
		if i < len(moved) {
			f.pages[a] = moved[i]
		} else {
			f.pages[a] = &fakePage{prot: prot}
		}
	}
	return nil
}

func (f *fakeMapper) Discard(addr, length uint64) error {
	if err := f.check(addr, length); err != nil {
		return err
	}
	if !f.allMapped(addr, length) {
		return unix.ENOMEM
	}
	for a := addr; a < addr+length; a += P {
		if f.pages[a].shared == nil { // MADV_DONTNEED keeps shared pages' contents
			f.pages[a].data = [P]byte{}
		}
	}
	return nil
}

// copy moves bytes page by page and stops with EFAULT at the first page
// that is missing or lacks need, reporting the bytes moved before it.
func (f *fakeMapper) copy(addr uint64, buf []byte, need int, out bool) (int, error) {
	done := 0
	for done < len(buf) {
		at := addr + uint64(done)
		pg := f.pages[at&^(P-1)]
		if pg == nil || pg.prot&need == 0 {
			return done, unix.EFAULT
		}
		off := at % P
		var n int
		if out {
			n = copy(pg.bytes()[off:], buf[done:])
		} else {
			n = copy(buf[done:], pg.bytes()[off:])
		}
		done += n
	}
	return done, nil
}

func (f *fakeMapper) CopyIn(addr uint64, dst []byte) (int, error) {
	return f.copy(addr, dst, unix.PROT_READ, false)
}

func (f *fakeMapper) CopyOut(addr uint64, src []byte) (int, error) {
	return f.copy(addr, src, unix.PROT_WRITE, true)
}

// peek reads guest memory regardless of protection, as a debugger would.
func (f *fakeMapper) peek(t *testing.T, addr uint64, n int) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	for a := addr; len(out) < n; a = (a &^ (P - 1)) + P {
		pg := f.pages[a&^(P-1)]
		if pg == nil {
			t.Fatalf("peek %#x: page %#x is not mapped", addr, a&^(P-1))
		}
		out = append(out, pg.bytes()[a%P:min(P, a%P+uint64(n-len(out)))]...)
	}
	return out
}

// poke writes guest memory regardless of protection.
func (f *fakeMapper) poke(t *testing.T, addr uint64, b []byte) {
	t.Helper()
	for len(b) > 0 {
		pg := f.pages[addr&^(P-1)]
		if pg == nil {
			t.Fatalf("poke %#x: not mapped", addr)
		}
		n := copy(pg.bytes()[addr%P:], b)
		b, addr = b[n:], addr+uint64(n)
	}
}

// pattern returns n bytes that differ between pages and between seeds, so
// a misplaced page is noticed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i/P)*31 + byte(i)*7 + seed
	}
	return b
}

// neg returns 2**64 - x: a length that wraps the address space around.
func neg(x uint64) uint64 { return -x }

func zeros(n int) []byte { return make([]byte, n) }

func permString(prot int) string {
	b := []byte("---")
	if prot&unix.PROT_READ != 0 {
		b[0] = 'r'
	}
	if prot&unix.PROT_WRITE != 0 {
		b[1] = 'w'
	}
	if prot&unix.PROT_EXEC != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// layout renders the VMA list compactly: "start-end perms[ @offset][ name]",
// with the offset shown for file mappings only.
func layout(m *mm.MM) []string {
	var out []string
	for _, v := range m.VMAs() {
		s := fmt.Sprintf("%x-%x %s", v.Start, v.End, permString(v.Prot))
		if v.File != nil {
			s += fmt.Sprintf(" @%x", v.Offset)
		}
		if v.Name != "" {
			s += " " + v.Name
		}
		out = append(out, s)
	}
	return out
}

func span(start, end uint64, prot int, extra ...string) string {
	s := fmt.Sprintf("%x-%x %s", start, end, permString(prot))
	for _, e := range extra {
		s += " " + e
	}
	return s
}

func wantLayout(t *testing.T, m *mm.MM, want ...string) {
	t.Helper()
	if got := layout(m); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("VMAs:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// checkMirror verifies the invariant mm exists to keep: the platform holds
// exactly the pages of the recorded VMAs, each with its VMA's protection,
// and Mapped counts them.
func checkMirror(t *testing.T, m *mm.MM, f *fakeMapper) {
	t.Helper()
	var total, prevEnd uint64
	for _, v := range m.VMAs() {
		if v.Start%P != 0 || v.End%P != 0 || v.Start >= v.End || v.Start < prevEnd {
			t.Errorf("bad VMA list: %#x-%#x after %#x", v.Start, v.End, prevEnd)
		}
		prevEnd = v.End
		total += v.End - v.Start
		for a := v.Start; a < v.End; a += P {
			switch pg := f.pages[a]; {
			case pg == nil:
				t.Errorf("page %#x of VMA %#x-%#x is not mapped on the platform", a, v.Start, v.End)
			case pg.prot != v.Prot:
				t.Errorf("page %#x has protection %s, VMA says %s", a, permString(pg.prot), permString(v.Prot))
			}
		}
	}
	if uint64(len(f.pages))*P != total {
		t.Errorf("platform holds %d pages, VMAs cover %d", len(f.pages), total/P)
	}
	if got := m.Mapped(); got != total {
		t.Errorf("Mapped() = %#x, VMAs cover %#x", got, total)
	}
}

// wantErrno fails unless err carries exactly want (0 meaning success).
func wantErrno(t *testing.T, err error, want unix.Errno) {
	t.Helper()
	var got unix.Errno
	if err != nil && !errors.As(err, &got) {
		t.Fatalf("error %v is not an errno, want %v", err, want)
	}
	if got != want {
		t.Fatalf("got errno %v (%d), want %v (%d)", got, int(got), want, int(want))
	}
}

func wantBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s: contents differ at byte %#x (len %d, want %d)", what, i, len(got), len(want))
	}
}

func newMM(reserved ...mm.Range) (*mm.MM, *fakeMapper) {
	f := newFakeMapper()
	return mm.New(f, reserved, top), f
}

func mustMmap(t *testing.T, m *mm.MM, r mm.MapRequest) uint64 {
	t.Helper()
	addr, err := m.Mmap(r)
	if err != nil {
		t.Fatalf("Mmap(%+v): %v", r, err)
	}
	return addr
}

// mapFixed maps anonymous memory at addr and fills it with pattern(seed).
func mapFixed(t *testing.T, m *mm.MM, f *fakeMapper, addr, length uint64, prot int, seed byte) {
	t.Helper()
	mustMmap(t, m, mm.MapRequest{Addr: addr, Length: length, Prot: prot, Fixed: true})
	f.poke(t, addr, pattern(int(length), seed))
}

// file is a Backing over a byte slice with io.ReaderAt's EOF convention.
func file(data []byte) mm.Backing { return bytes.NewReader(data) }

// failingFile is a Backing whose reads fail, as a host I/O error would.
type failingFile struct{}

func (failingFile) ReadAt([]byte, int64) (int, error) { return 0, unix.EIO }

func TestMmapAnonymous(t *testing.T) {
	tests := []struct {
		name     string
		reserved []mm.Range
		setup    func(t *testing.T, m *mm.MM, f *fakeMapper)
		req      mm.MapRequest
		want     uint64
		wantLen  uint64
	}{
		{name: "no hint takes the top of the mmap area",
			req: mm.MapRequest{Length: 2 * P, Prot: rw}, want: top - 2*P, wantLen: 2 * P},
		{name: "length rounds up to whole pages",
			req: mm.MapRequest{Length: 1, Prot: rw}, want: top - P, wantLen: P},
		{name: "free hint is honoured",
			req: mm.MapRequest{Addr: A, Length: P, Prot: ro}, want: A, wantLen: P},
		{name: "unaligned hint rounds down",
			req: mm.MapRequest{Addr: A + 123, Length: P, Prot: rw}, want: A, wantLen: P},
		{name: "hint overlapping a mapping falls back to top-down",
			setup: func(t *testing.T, m *mm.MM, f *fakeMapper) { mapFixed(t, m, f, A+P, P, rw, 1) },
			req:   mm.MapRequest{Addr: A, Length: 2 * P, Prot: rw}, want: top - 2*P, wantLen: 2 * P},
		{name: "hint over a reserved range falls back to top-down",
			reserved: []mm.Range{{Start: A, End: A + 16*P}},
			req:      mm.MapRequest{Addr: A + P, Length: P, Prot: rw}, want: top - P, wantLen: P},
		{name: "hint below MinAddr is ignored",
			req: mm.MapRequest{Addr: 0x1000, Length: P, Prot: rw}, want: top - P, wantLen: P},
		{name: "hint running past MaxAddr is ignored",
			req: mm.MapRequest{Addr: mm.MaxAddr - P, Length: 2 * P, Prot: rw}, want: top - 2*P, wantLen: 2 * P},
		{name: "second mapping goes below the first",
			setup: func(t *testing.T, m *mm.MM, f *fakeMapper) {
				mustMmap(t, m, mm.MapRequest{Length: 3 * P, Prot: rw})
			},
			req: mm.MapRequest{Length: P, Prot: rx}, want: top - 4*P, wantLen: P},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM(tt.reserved...)
			if tt.setup != nil {
				tt.setup(t, m, f)
			}
			got := mustMmap(t, m, tt.req)
			if got != tt.want {
				t.Fatalf("Mmap = %#x, want %#x", got, tt.want)
			}
			// Fresh anonymous memory reads as zeroes with the asked protection.
			wantBytes(t, "new mapping", f.peek(t, got, int(tt.wantLen)), zeros(int(tt.wantLen)))
			for _, v := range m.VMAs() {
				if v.Start == got && (v.End != got+tt.wantLen || v.Prot != tt.req.Prot || v.File != nil) {
					t.Errorf("VMA %s, want %s", span(v.Start, v.End, v.Prot), span(got, got+tt.wantLen, tt.req.Prot))
				}
			}
			checkMirror(t, m, f)
		})
	}
}

func TestMmapErrors(t *testing.T) {
	reserved := mm.Range{Start: A + 8*P, End: A + 10*P}
	tests := []struct {
		name string
		req  mm.MapRequest
		want unix.Errno
	}{
		{"zero length", mm.MapRequest{Length: 0, Prot: rw}, unix.EINVAL},
		{"unaligned offset", mm.MapRequest{Length: P, Prot: ro, File: file(nil), Offset: 100}, unix.EINVAL},
		{"length overflows when rounded", mm.MapRequest{Length: ^uint64(0), Prot: rw}, unix.ENOMEM},
		{"length beyond the address space", mm.MapRequest{Length: mm.MaxAddr + P, Prot: rw}, unix.ENOMEM},
		{"offset plus length overflows", mm.MapRequest{Length: 2 * P, Prot: ro, File: file(nil), Offset: ^uint64(0) &^ (P - 1)}, unix.EOVERFLOW},
		{"fixed unaligned address", mm.MapRequest{Addr: A + 1, Length: P, Prot: rw, Fixed: true}, unix.EINVAL},
		{"fixed below MinAddr", mm.MapRequest{Addr: mm.MinAddr - P, Length: P, Prot: rw, Fixed: true}, unix.ENOMEM},
		{"fixed at page zero", mm.MapRequest{Addr: 0, Length: P, Prot: rw, Fixed: true}, unix.ENOMEM},
		{"fixed past MaxAddr", mm.MapRequest{Addr: mm.MaxAddr - P, Length: 2 * P, Prot: rw, Fixed: true}, unix.ENOMEM},
		{"fixed wrapping around", mm.MapRequest{Addr: ^uint64(0) &^ (P - 1), Length: 2 * P, Prot: rw, Fixed: true}, unix.ENOMEM},
		// The platform's own code must never be replaced, even with MAP_FIXED.
		{"fixed over a reserved range", mm.MapRequest{Addr: A + 9*P, Length: P, Prot: rw, Fixed: true}, unix.ENOMEM},
		{"fixed touching a reserved range", mm.MapRequest{Addr: A + 7*P, Length: 2 * P, Prot: rw, Fixed: true}, unix.ENOMEM},
		{"noreplace over a reserved range", mm.MapRequest{Addr: A + 8*P, Length: P, Prot: rw, NoReplace: true}, unix.ENOMEM},
		{"noreplace over a mapping", mm.MapRequest{Addr: A + P, Length: P, Prot: rw, NoReplace: true}, unix.EEXIST},
		{"noreplace overlapping a mapping's end", mm.MapRequest{Addr: A + 3*P, Length: 2 * P, Prot: rw, NoReplace: true}, unix.EEXIST},
		{"noreplace with fixed", mm.MapRequest{Addr: A, Length: P, Prot: rw, Fixed: true, NoReplace: true}, unix.EEXIST},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM(reserved)
			mapFixed(t, m, f, A, 4*P, rw, 1)
			_, err := m.Mmap(tt.req)
			wantErrno(t, err, tt.want)
			// A failed mmap leaves everything as it was.
			wantLayout(t, m, span(A, A+4*P, rw))
			wantBytes(t, "existing mapping", f.peek(t, A, 4*P), pattern(4*P, 1))
			checkMirror(t, m, f)
		})
	}
}

func TestMmapFixedReplaces(t *testing.T) {
	tests := []struct {
		name       string
		addr, len  uint64
		noReplace  bool
		wantLayout []string
	}{
		{name: "middle page splits the mapping", addr: A + P, len: P, wantLayout: []string{
			span(A, A+P, rw), span(A+P, A+2*P, ro), span(A+2*P, A+4*P, rw), span(A+5*P, A+6*P, rx)}},
		{name: "head", addr: A, len: 2 * P, wantLayout: []string{
			span(A, A+2*P, ro), span(A+2*P, A+4*P, rw), span(A+5*P, A+6*P, rx)}},
		{name: "exactly one mapping", addr: A + 5*P, len: P, wantLayout: []string{
			span(A, A+4*P, rw), span(A+5*P, A+6*P, ro)}},
		{name: "across two mappings and the hole between", addr: A + 3*P, len: 3 * P, wantLayout: []string{
			span(A, A+3*P, rw), span(A+3*P, A+6*P, ro)}},
		{name: "tail and beyond", addr: A + 5*P, len: 4 * P, wantLayout: []string{
			span(A, A+4*P, rw), span(A+5*P, A+9*P, ro)}},
		{name: "noreplace into the hole", addr: A + 4*P, len: P, noReplace: true, wantLayout: []string{
			span(A, A+4*P, rw), span(A+4*P, A+5*P, ro), span(A+5*P, A+6*P, rx)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM()
			mapFixed(t, m, f, A, 4*P, rw, 1)
			mapFixed(t, m, f, A+5*P, P, rx, 2)
			before := map[uint64][]byte{}
			for a := range f.pages {
				before[a] = f.peek(t, a, P)
			}
			got := mustMmap(t, m, mm.MapRequest{Addr: tt.addr, Length: tt.len, Prot: ro,
				Fixed: !tt.noReplace, NoReplace: tt.noReplace})
			if got != tt.addr {
				t.Fatalf("Mmap = %#x, want %#x", got, tt.addr)
			}
			wantLayout(t, m, tt.wantLayout...)
			checkMirror(t, m, f)
			// The new range is fresh zeroes; every other page kept its bytes.
			for a := range f.pages {
				want := before[a]
				if a >= tt.addr && a < tt.addr+tt.len {
					want = zeros(P)
				}
				wantBytes(t, fmt.Sprintf("page %#x", a), f.peek(t, a, P), want)
			}
		})
	}
}

func TestMmapFile(t *testing.T) {
	data := pattern(2*P+100, 9) // the last page is partial
	info := mm.FileInfo{Path: "/lib/x.so", Dev: unix.Mkdev(8, 1), Ino: 42}
	tests := []struct {
		name   string
		length uint64
		offset uint64
		prot   int
		want   []byte // the mapping's contents
	}{
		{name: "whole file, partial last page zero-filled", length: 3 * P, prot: ro,
			want: append(append([]byte(nil), data...), zeros(P-100)...)},
		{name: "length rounds up and the tail is zero", length: 2*P + 1, prot: rw,
			want: append(append([]byte(nil), data...), zeros(P-100)...)},
		{name: "offset one page in", length: 2 * P, offset: P, prot: rx,
			want: append(append([]byte(nil), data[P:]...), zeros(P-100)...)},
		{name: "pages beyond the end of file are zero", length: 4 * P, prot: ro,
			want: append(append([]byte(nil), data...), zeros(2*P-100)...)},
		{name: "offset past the end of file", length: P, offset: 8 * P, prot: ro, want: zeros(P)},
		{name: "first page only", length: P, prot: ro, want: data[:P]},
		// PROT_NONE still has the file's bytes, ready for a later mprotect.
		{name: "no access", length: P, prot: nop, want: data[:P]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM()
			addr := mustMmap(t, m, mm.MapRequest{Length: tt.length, Prot: tt.prot, File: file(data),
				Info: info, Offset: tt.offset})
			wantBytes(t, "mapping", f.peek(t, addr, len(tt.want)), tt.want)
			// Filling needed write access; the pages must end up with the
			// requested protection all the same (checkMirror compares).
			wantLayout(t, m, span(addr, addr+uint64(len(tt.want)), tt.prot, fmt.Sprintf("@%x", tt.offset)))
			checkMirror(t, m, f)
			if tt.prot&unix.PROT_WRITE == 0 {
				if _, err := f.CopyOut(addr, []byte{1}); !errors.Is(err, unix.EFAULT) {
					t.Errorf("write to a read-only file mapping: %v, want EFAULT", err)
				}
			}
		})
	}

	t.Run("read error unmaps", func(t *testing.T) {
		m, f := newMM()
		_, err := m.Mmap(mm.MapRequest{Length: P, Prot: ro, File: failingFile{}})
		if !errors.Is(err, unix.EIO) {
			t.Fatalf("Mmap of an unreadable file: %v, want EIO", err)
		}
		wantLayout(t, m)
		checkMirror(t, m, f)
	})
	t.Run("platform map error", func(t *testing.T) {
		m, f := newMM()
		f.mapErr = unix.ENOMEM
		_, err := m.Mmap(mm.MapRequest{Length: P, Prot: rw})
		if !errors.Is(err, unix.ENOMEM) {
			t.Fatalf("Mmap with a failing platform: %v, want ENOMEM", err)
		}
		wantLayout(t, m)
		checkMirror(t, m, f)
	})
}

func TestMunmap(t *testing.T) {
	fileData := pattern(3*P, 5)
	tests := []struct {
		name       string
		addr, len  uint64
		wantErr    unix.Errno
		wantLayout []string
	}{
		{name: "head", addr: A, len: P, wantLayout: []string{
			span(A+P, A+2*P, rw), span(A+3*P, A+6*P, ro, "@0")}},
		{name: "tail", addr: A + P, len: P, wantLayout: []string{
			span(A, A+P, rw), span(A+3*P, A+6*P, ro, "@0")}},
		{name: "middle splits and keeps file offsets", addr: A + 4*P, len: P, wantLayout: []string{
			span(A, A+2*P, rw), span(A+3*P, A+4*P, ro, "@0"), span(A+5*P, A+6*P, ro, "@2000")}},
		{name: "length rounds up", addr: A, len: 1, wantLayout: []string{
			span(A+P, A+2*P, rw), span(A+3*P, A+6*P, ro, "@0")}},
		// Linux unmaps what is mapped in the range and ignores the holes.
		{name: "across a hole", addr: A + P, len: 3 * P, wantLayout: []string{
			span(A, A+P, rw), span(A+4*P, A+6*P, ro, "@1000")}},
		{name: "only a hole", addr: A + 2*P, len: P, wantLayout: []string{
			span(A, A+2*P, rw), span(A+3*P, A+6*P, ro, "@0")}},
		{name: "nothing mapped there", addr: 0x50000000, len: 16 * P, wantLayout: []string{
			span(A, A+2*P, rw), span(A+3*P, A+6*P, ro, "@0")}},
		{name: "everything", addr: A - P, len: 8 * P},
		{name: "unaligned address", addr: A + 1, len: P, wantErr: unix.EINVAL},
		{name: "zero length", addr: A, len: 0, wantErr: unix.EINVAL},
		{name: "past MaxAddr", addr: mm.MaxAddr - P, len: 2 * P, wantErr: unix.EINVAL},
		// A length that wraps around must not be mistaken for an empty range.
		{name: "length wraps", addr: A, len: ^uint64(0), wantErr: unix.EINVAL},
		{name: "length wraps to the start", addr: A, len: neg(A), wantErr: unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM()
			mapFixed(t, m, f, A, 2*P, rw, 1)
			mustMmap(t, m, mm.MapRequest{Addr: A + 3*P, Length: 3 * P, Prot: ro, Fixed: true, File: file(fileData)})
			before := layout(m)
			err := m.Munmap(tt.addr, tt.len)
			wantErrno(t, err, tt.wantErr)
			if tt.wantErr != 0 {
				wantLayout(t, m, before...)
			} else {
				wantLayout(t, m, tt.wantLayout...)
			}
			checkMirror(t, m, f)
			// Surviving pages keep their contents.
			for _, v := range m.VMAs() {
				want := fileData[v.Offset : v.Offset+(v.End-v.Start)]
				if v.File == nil {
					want = pattern(2*P, 1)[v.Start-A : v.End-A]
				}
				wantBytes(t, span(v.Start, v.End, v.Prot), f.peek(t, v.Start, int(v.End-v.Start)), want)
			}
		})
	}
}

func TestMprotect(t *testing.T) {
	tests := []struct {
		name       string
		addr, len  uint64
		prot       int
		wantErr    unix.Errno
		wantLayout []string
	}{
		{name: "middle splits in three", addr: A + P, len: P, prot: ro, wantLayout: []string{
			span(A, A+P, rw), span(A+P, A+2*P, ro), span(A+2*P, A+4*P, rw), span(A+5*P, A+6*P, ro)}},
		{name: "whole mapping", addr: A, len: 4 * P, prot: rx, wantLayout: []string{
			span(A, A+4*P, rx), span(A+5*P, A+6*P, ro)}},
		{name: "length rounds up", addr: A + 3*P, len: 1, prot: nop, wantLayout: []string{
			span(A, A+3*P, rw), span(A+3*P, A+4*P, nop), span(A+5*P, A+6*P, ro)}},
		{name: "zero length is a no-op", addr: A, len: 0, prot: ro, wantLayout: []string{
			span(A, A+4*P, rw), span(A+5*P, A+6*P, ro)}},
		{name: "zero length on a hole is a no-op", addr: A + 4*P, len: 0, prot: ro, wantLayout: []string{
			span(A, A+4*P, rw), span(A+5*P, A+6*P, ro)}},
		// Linux requires the whole range to be mapped and changes nothing
		// otherwise.
		{name: "range with a hole", addr: A + 3*P, len: 3 * P, prot: ro, wantErr: unix.ENOMEM},
		{name: "unmapped range", addr: A + 4*P, len: P, prot: ro, wantErr: unix.ENOMEM},
		{name: "running off the end", addr: A + 5*P, len: 2 * P, prot: rw, wantErr: unix.ENOMEM},
		{name: "unaligned address", addr: A + 1, len: P, prot: ro, wantErr: unix.EINVAL},
		{name: "unknown protection bits", addr: A, len: P, prot: unix.PROT_READ | 0x10, wantErr: unix.EINVAL},
		// Rounding a huge length up wraps to zero; that is not an empty range.
		{name: "length wraps", addr: A, len: ^uint64(0), prot: ro, wantErr: unix.ENOMEM},
		{name: "end wraps to the start", addr: A, len: neg(A), prot: ro, wantErr: unix.ENOMEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM()
			mapFixed(t, m, f, A, 4*P, rw, 1)
			mapFixed(t, m, f, A+5*P, P, ro, 2)
			before := layout(m)
			err := m.Mprotect(tt.addr, tt.len, tt.prot)
			wantErrno(t, err, tt.wantErr)
			if tt.wantErr != 0 {
				wantLayout(t, m, before...)
			} else {
				wantLayout(t, m, tt.wantLayout...)
			}
			checkMirror(t, m, f)
			// Protection changes never touch contents.
			wantBytes(t, "first mapping", f.peek(t, A, 4*P), pattern(4*P, 1))
			wantBytes(t, "second mapping", f.peek(t, A+5*P, P), pattern(P, 2))
		})
	}

	t.Run("read-only pages refuse writes", func(t *testing.T) {
		m, f := newMM()
		mapFixed(t, m, f, A, 2*P, rw, 1)
		if err := m.Mprotect(A+P, P, ro); err != nil {
			t.Fatal(err)
		}
		if n, err := f.CopyOut(A+P-2, []byte{1, 2, 3, 4}); n != 2 || !errors.Is(err, unix.EFAULT) {
			t.Errorf("write across into a read-only page = %d, %v; want 2, EFAULT", n, err)
		}
	})
}

func TestMadvise(t *testing.T) {
	fileData := pattern(P+100, 7)
	fileWant := append(append([]byte(nil), fileData...), zeros(P-100)...)
	// Layout: anonymous rw at A..A+2P, a private file mapping right after
	// it at fileAt..fileAt+2P (its second page partial), then nothing.
	const fileAt = A + 2*P
	tests := []struct {
		name      string
		addr, len uint64
		advice    int
		fileProt  int // protection of the file mapping
		wantErr   unix.Errno
		// want maps page addresses to their expected contents afterwards;
		// pages not listed keep what setup wrote.
		want map[uint64][]byte
	}{
		{name: "DONTNEED zeroes anonymous memory", addr: A, len: 2 * P, advice: unix.MADV_DONTNEED,
			want: map[uint64][]byte{A: zeros(P), A + P: zeros(P)}},
		{name: "DONTNEED on part of a mapping", addr: A + P, len: 1, advice: unix.MADV_DONTNEED,
			want: map[uint64][]byte{A + P: zeros(P)}},
		{name: "FREE zeroes anonymous memory", addr: A, len: P, advice: unix.MADV_FREE,
			want: map[uint64][]byte{A: zeros(P)}},
		// A dropped private file page reads back from the file, not as zeroes.
		{name: "DONTNEED restores a private file mapping", addr: fileAt, len: 2 * P, advice: unix.MADV_DONTNEED,
			fileProt: rw, want: map[uint64][]byte{fileAt: fileWant[:P], fileAt + P: fileWant[P:]}},
		{name: "DONTNEED restores a read-only file mapping", addr: fileAt + P, len: P, advice: unix.MADV_DONTNEED,
			fileProt: ro, want: map[uint64][]byte{fileAt + P: fileWant[P:]}},
		{name: "DONTNEED restores a no-access file mapping", addr: fileAt, len: P, advice: unix.MADV_DONTNEED,
			fileProt: nop, want: map[uint64][]byte{fileAt: fileWant[:P]}},
		{name: "DONTNEED across anonymous and file mappings", addr: A + P, len: 2 * P, advice: unix.MADV_DONTNEED,
			fileProt: rx, want: map[uint64][]byte{A + P: zeros(P), fileAt: fileWant[:P]}},
		{name: "WILLNEED is a hint", addr: A, len: 4 * P, advice: unix.MADV_WILLNEED},
		{name: "hint on a hole", addr: A + 4*P, len: P, advice: unix.MADV_WILLNEED, wantErr: unix.ENOMEM},
		{name: "DONTNEED running into a hole", addr: A + 3*P, len: 2 * P, advice: unix.MADV_DONTNEED, wantErr: unix.ENOMEM},
		{name: "DONTNEED below everything", addr: A - 2*P, len: P, advice: unix.MADV_DONTNEED, wantErr: unix.ENOMEM},
		{name: "unknown advice", addr: A, len: P, advice: 999, wantErr: unix.EINVAL},
		{name: "unaligned address", addr: A + 1, len: P, advice: unix.MADV_DONTNEED, wantErr: unix.EINVAL},
		// Linux returns 0 for an empty range before looking at the mappings.
		{name: "zero length on a hole", addr: A - 2*P, len: 0, advice: unix.MADV_DONTNEED},
		{name: "zero length on a mapping", addr: A, len: 0, advice: unix.MADV_DONTNEED},
		// Rounding a huge length up wraps to zero; Linux says EINVAL.
		{name: "length wraps", addr: A, len: ^uint64(0), advice: unix.MADV_DONTNEED, wantErr: unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM()
			mapFixed(t, m, f, A, 2*P, rw, 1)
			mustMmap(t, m, mm.MapRequest{Addr: fileAt, Length: 2 * P, Prot: tt.fileProt, Fixed: true, File: file(fileData)})
			// The guest scribbled over its private copy of the file.
			f.poke(t, fileAt, pattern(2*P, 3))
			before := layout(m)

			err := m.Madvise(tt.addr, tt.len, tt.advice)
			wantErrno(t, err, tt.wantErr)
			wantLayout(t, m, before...) // advice never changes the mappings
			checkMirror(t, m, f)
			for _, pg := range []uint64{A, A + P, fileAt, fileAt + P} {
				want, ok := tt.want[pg]
				if !ok {
					if pg < fileAt {
						want = pattern(2*P, 1)[pg-A : pg-A+P]
					} else {
						want = pattern(2*P, 3)[pg-fileAt : pg-fileAt+P]
					}
				}
				wantBytes(t, fmt.Sprintf("page %#x", pg), f.peek(t, pg, P), want)
			}
		})
	}
}

func TestMremap(t *testing.T) {
	fileData := pattern(5*P+100, 4)
	type call struct {
		old, oldLen, newLen uint64
		mayMove, fixed      bool
		newAddr             uint64
	}
	tests := []struct {
		name     string
		reserved []mm.Range
		// setup maps A..A+2P (anonymous rw, pattern 1) unless file is set,
		// in which case A..A+2P maps fileData from offset P read-only.
		file    bool
		blocker bool // map B = A+2P..A+3P (rw, pattern 2) so [A, A+2P) cannot grow
		call    call
		want    uint64
		wantErr unix.Errno
		// wantLayout and wantData (page contents from the returned address)
		// describe the result on success.
		wantLayout []string
		wantData   []byte
	}{
		{name: "shrink", call: call{old: A, oldLen: 2 * P, newLen: P}, want: A,
			wantLayout: []string{span(A, A+P, rw)}, wantData: pattern(P, 1)},
		{name: "shrink rounds lengths up", call: call{old: A, oldLen: 2*P - 5, newLen: P - 5}, want: A,
			wantLayout: []string{span(A, A+P, rw)}, wantData: pattern(P, 1)},
		{name: "same size", call: call{old: A, oldLen: 2 * P, newLen: 2 * P}, want: A,
			wantLayout: []string{span(A, A+2*P, rw)}, wantData: pattern(2*P, 1)},
		{name: "grow in place", call: call{old: A, oldLen: 2 * P, newLen: 4 * P}, want: A,
			wantLayout: []string{span(A, A+4*P, rw)},
			wantData:   append(pattern(2*P, 1), zeros(2*P)...)},
		{name: "grow in place ignores MAYMOVE", call: call{old: A, oldLen: 2 * P, newLen: 3 * P, mayMove: true}, want: A,
			wantLayout: []string{span(A, A+3*P, rw)},
			wantData:   append(pattern(2*P, 1), zeros(P)...)},
		{name: "grow in place refills a file mapping", file: true, call: call{old: A, oldLen: 2 * P, newLen: 5 * P}, want: A,
			wantLayout: []string{span(A, A+5*P, ro, "@1000")},
			wantData:   append(append([]byte(nil), fileData[P:]...), zeros(P-100)...)},
		{name: "grow blocked without MAYMOVE", blocker: true, call: call{old: A, oldLen: 2 * P, newLen: 3 * P},
			wantErr: unix.ENOMEM},
		{name: "grow by moving", blocker: true, call: call{old: A, oldLen: 2 * P, newLen: 3 * P, mayMove: true},
			want:       top - 3*P,
			wantLayout: []string{span(A+2*P, A+3*P, rw), span(top-3*P, top, rw)},
			wantData:   append(pattern(2*P, 1), zeros(P)...)},
		// The moved mapping grows with the file's bytes, not the zero pages
		// the platform added, and keeps its read-only protection.
		{name: "grow by moving refills a file mapping", file: true, blocker: true,
			call:       call{old: A, oldLen: 2 * P, newLen: 5 * P, mayMove: true},
			want:       top - 5*P,
			wantLayout: []string{span(A+2*P, A+3*P, rw), span(top-5*P, top, ro, "@1000")},
			wantData:   append(append([]byte(nil), fileData[P:]...), zeros(P-100)...)},
		{name: "move part of a mapping", call: call{old: A, oldLen: P, newLen: 2 * P, mayMove: true},
			want:       top - 2*P,
			wantLayout: []string{span(A+P, A+2*P, rw), span(top-2*P, top, rw)},
			wantData:   append(pattern(P, 1), zeros(P)...)},
		{name: "fixed move", call: call{old: A, oldLen: 2 * P, newLen: 2 * P, mayMove: true, fixed: true, newAddr: A + 16*P},
			want:       A + 16*P,
			wantLayout: []string{span(A+16*P, A+18*P, rw)},
			wantData:   pattern(2*P, 1)},
		{name: "fixed move replaces what is there", blocker: true,
			call:       call{old: A, oldLen: P, newLen: 2 * P, mayMove: true, fixed: true, newAddr: A + 2*P},
			want:       A + 2*P,
			wantLayout: []string{span(A+P, A+2*P, rw), span(A+2*P, A+4*P, rw)},
			wantData:   append(pattern(P, 1), zeros(P)...)},
		{name: "fixed move can shrink", file: true,
			call:       call{old: A, oldLen: 2 * P, newLen: P, mayMove: true, fixed: true, newAddr: A + 16*P},
			want:       A + 16*P,
			wantLayout: []string{span(A+16*P, A+17*P, ro, "@1000")},
			wantData:   fileData[P : 2*P]},
		{name: "fixed without MAYMOVE", call: call{old: A, oldLen: P, newLen: P, fixed: true, newAddr: A + 16*P},
			wantErr: unix.EINVAL},
		{name: "fixed overlapping the old range", call: call{old: A, oldLen: 2 * P, newLen: 2 * P, mayMove: true, fixed: true, newAddr: A + P},
			wantErr: unix.EINVAL},
		{name: "fixed unaligned", call: call{old: A, oldLen: P, newLen: P, mayMove: true, fixed: true, newAddr: A + 16*P + 1},
			wantErr: unix.EINVAL},
		{name: "fixed below MinAddr", call: call{old: A, oldLen: P, newLen: P, mayMove: true, fixed: true, newAddr: 0},
			wantErr: unix.EINVAL},
		{name: "fixed onto a reserved range", reserved: []mm.Range{{Start: A + 16*P, End: A + 17*P}},
			call:    call{old: A, oldLen: P, newLen: 2 * P, mayMove: true, fixed: true, newAddr: A + 15*P},
			wantErr: unix.EINVAL},
		{name: "fixed destination wraps around", call: call{old: A, oldLen: P, newLen: 2 * P, mayMove: true, fixed: true, newAddr: neg(P)},
			wantErr: unix.EINVAL},
		{name: "range spanning two mappings", blocker: true, call: call{old: A + P, oldLen: 2 * P, newLen: 4 * P, mayMove: true},
			wantErr: unix.EFAULT},
		{name: "range past the mapping's end", call: call{old: A, oldLen: 3 * P, newLen: 4 * P, mayMove: true},
			wantErr: unix.EFAULT},
		{name: "unmapped address", call: call{old: A + 8*P, oldLen: P, newLen: 2 * P, mayMove: true},
			wantErr: unix.EFAULT},
		{name: "old range wraps around", call: call{old: A, oldLen: neg(A) + P, newLen: P},
			wantErr: unix.EFAULT},
		{name: "unaligned address", call: call{old: A + 1, oldLen: P, newLen: P}, wantErr: unix.EINVAL},
		{name: "zero new length", call: call{old: A, oldLen: P, newLen: 0}, wantErr: unix.EINVAL},
		// Rounding up wraps to zero: that is no request to unmap everything.
		{name: "new length wraps to zero", call: call{old: A, oldLen: 2 * P, newLen: ^uint64(0)}, wantErr: unix.EINVAL},
		{name: "zero old length", call: call{old: A, oldLen: 0, newLen: P, mayMove: true}, wantErr: unix.EINVAL},
		{name: "new length beyond the address space", call: call{old: A, oldLen: 2 * P, newLen: neg(A) &^ (P - 1)},
			wantErr: unix.ENOMEM},
		{name: "new length beyond the address space, may move", call: call{old: A, oldLen: 2 * P, newLen: neg(A) &^ (P - 1), mayMove: true},
			wantErr: unix.ENOMEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM(tt.reserved...)
			if tt.file {
				mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: ro, Fixed: true, File: file(fileData), Offset: P})
			} else {
				mapFixed(t, m, f, A, 2*P, rw, 1)
			}
			if tt.blocker {
				mapFixed(t, m, f, A+2*P, P, rw, 2)
			}
			before := layout(m)
			c := tt.call
			got, err := m.Mremap(c.old, c.oldLen, c.newLen, c.mayMove, c.fixed, c.newAddr)
			wantErrno(t, err, tt.wantErr)
			checkMirror(t, m, f)
			if tt.wantErr != 0 {
				wantLayout(t, m, before...)
				return
			}
			if got != tt.want {
				t.Fatalf("Mremap = %#x, want %#x", got, tt.want)
			}
			wantLayout(t, m, tt.wantLayout...)
			wantBytes(t, "remapped", f.peek(t, got, len(tt.wantData)), tt.wantData)
			// The blocking neighbour is untouched unless a fixed move landed on it.
			if tt.blocker && !(c.fixed && c.newAddr <= A+2*P && A+2*P < c.newAddr+c.newLen) {
				wantBytes(t, "neighbour", f.peek(t, A+2*P, P), pattern(P, 2))
			}
		})
	}
}

// TestMremapRealloc follows glibc's realloc of a large chunk: grow in place
// while possible, then move. The mapping grown in place must still be one
// VMA, or the final move fails with EFAULT where Linux succeeds.
func TestMremapRealloc(t *testing.T) {
	m, f := newMM()
	mapFixed(t, m, f, A, P, rw, 1)
	for n := uint64(2); n <= 3; n++ {
		got, err := m.Mremap(A, (n-1)*P, n*P, true, false, 0)
		if err != nil || got != A {
			t.Fatalf("grow to %d pages = %#x, %v; want %#x in place", n, got, err, A)
		}
	}
	wantLayout(t, m, span(A, A+3*P, rw))
	mapFixed(t, m, f, A+3*P, P, ro, 2) // something lands right after it
	got, err := m.Mremap(A, 3*P, 6*P, true, false, 0)
	if err != nil {
		t.Fatalf("moving grow: %v", err)
	}
	wantLayout(t, m, span(A+3*P, A+4*P, ro), span(got, got+6*P, rw))
	wantBytes(t, "moved", f.peek(t, got, P), pattern(P, 1))
	checkMirror(t, m, f)
}

func TestBrk(t *testing.T) {
	const start = A + P // SetBrkStart(A+100) rounds up to here
	heap := func(end uint64) string { return span(start, end, rw, "[heap]") }
	type step struct {
		arg        uint64
		want       uint64
		wantLayout []string
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, m *mm.MM, f *fakeMapper)
		steps []step
	}{
		{name: "query", steps: []step{{0, start, nil}}},
		{name: "grow, grow again as one VMA, shrink", steps: []step{
			{start + 10, start + 10, []string{heap(start + P)}},
			{start + P, start + P, []string{heap(start + P)}},
			{start + 3*P, start + 3*P, []string{heap(start + 3*P)}},
			{start + P + 1, start + P + 1, []string{heap(start + 2*P)}},
			{start, start, nil},
		}},
		{name: "below the start is refused", steps: []step{
			{start + P, start + P, []string{heap(start + P)}},
			{start - 1, start + P, []string{heap(start + P)}},
			{A, start + P, []string{heap(start + P)}},
		}},
		{name: "beyond MaxAddr is refused", steps: []step{
			{mm.MaxAddr + 1, start, nil},
		}},
		{name: "a mapping in the way stops growth",
			setup: func(t *testing.T, m *mm.MM, f *fakeMapper) { mapFixed(t, m, f, start+2*P, P, ro, 1) },
			steps: []step{
				{start + P, start + P, []string{heap(start + P), span(start+2*P, start+3*P, ro)}},
				{start + 3*P, start + P, []string{heap(start + P), span(start+2*P, start+3*P, ro)}},
			}},
		{name: "a reserved range stops growth", steps: []step{{start + 20*P, start, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM(mm.Range{Start: start + 10*P, End: start + 11*P})
			m.SetBrkStart(A + 100)
			if tt.setup != nil {
				tt.setup(t, m, f)
			}
			for i, s := range tt.steps {
				if got := m.Brk(s.arg); got != s.want {
					t.Fatalf("step %d: Brk(%#x) = %#x, want %#x", i, s.arg, got, s.want)
				}
				wantLayout(t, m, s.wantLayout...)
				checkMirror(t, m, f)
			}
		})
	}

	t.Run("regrown heap is zero", func(t *testing.T) {
		m, f := newMM()
		m.SetBrkStart(start)
		m.Brk(start + 2*P)
		f.poke(t, start, pattern(2*P, 1))
		m.Brk(start)
		m.Brk(start + 2*P)
		wantBytes(t, "heap", f.peek(t, start, 2*P), zeros(2*P))
	})
}

func TestSetLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit uint64
		// run performs the operations and returns the errno of the last one.
		run        func(t *testing.T, m *mm.MM, f *fakeMapper) error
		wantErr    unix.Errno
		wantMapped uint64
	}{
		{name: "within the limit", limit: 4 * P, wantMapped: 4 * P,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				mustMmap(t, m, mm.MapRequest{Length: 3 * P, Prot: rw})
				_, err := m.Mmap(mm.MapRequest{Length: P, Prot: rw})
				return err
			}},
		{name: "mmap over the limit", limit: 4 * P, wantErr: unix.ENOMEM, wantMapped: 3 * P,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				mustMmap(t, m, mm.MapRequest{Length: 3 * P, Prot: rw})
				_, err := m.Mmap(mm.MapRequest{Length: 2 * P, Prot: rw})
				return err
			}},
		// Replacing memory with MAP_FIXED only costs the difference.
		{name: "fixed replacement counts the net growth", limit: 4 * P, wantMapped: 4 * P,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				mustMmap(t, m, mm.MapRequest{Addr: A, Length: 3 * P, Prot: rw, Fixed: true})
				_, err := m.Mmap(mm.MapRequest{Addr: A + P, Length: 3 * P, Prot: ro, Fixed: true})
				return err
			}},
		{name: "brk over the limit leaves the break", limit: 2 * P, wantErr: unix.ENOMEM, wantMapped: 2 * P,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				m.SetBrkStart(A)
				if m.Brk(A+2*P) != A+2*P {
					t.Fatal("brk within the limit failed")
				}
				if m.Brk(A+3*P) != A+2*P {
					t.Error("brk past the limit moved the break")
				}
				return unix.ENOMEM
			}},
		{name: "mremap growing in place over the limit", limit: 3 * P, wantErr: unix.ENOMEM, wantMapped: 2 * P,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				mustMmap(t, m, mm.MapRequest{Addr: A, Length: 2 * P, Prot: rw, Fixed: true})
				_, err := m.Mremap(A, 2*P, 4*P, true, false, 0)
				return err
			}},
		// Moving to grow must be charged in full: the neighbour that forces
		// the move stays mapped.
		{name: "mremap growing by moving over the limit", limit: 3 * P, wantErr: unix.ENOMEM, wantMapped: 3 * P,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				mustMmap(t, m, mm.MapRequest{Addr: A, Length: P, Prot: rw, Fixed: true})
				mustMmap(t, m, mm.MapRequest{Addr: A + P, Length: 2 * P, Prot: ro, Fixed: true})
				_, err := m.Mremap(A, P, 2*P, true, false, 0)
				return err
			}},
		// A fixed move frees what was at the destination.
		{name: "mremap fixed onto a mapping counts what it replaces", limit: 3 * P, wantMapped: 2 * P,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				mustMmap(t, m, mm.MapRequest{Addr: A, Length: P, Prot: rw, Fixed: true})
				mustMmap(t, m, mm.MapRequest{Addr: A + 4*P, Length: 2 * P, Prot: rw, Fixed: true})
				_, err := m.Mremap(A, P, 2*P, true, true, A+4*P)
				return err
			}},
		{name: "zero lifts the limit", limit: 0, wantMapped: 1 << 20,
			run: func(t *testing.T, m *mm.MM, f *fakeMapper) error {
				_, err := m.Mmap(mm.MapRequest{Length: 1 << 20, Prot: rw})
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newMM()
			m.SetLimit(tt.limit)
			wantErrno(t, tt.run(t, m, f), tt.wantErr)
			if got := m.Mapped(); got != tt.wantMapped {
				t.Errorf("Mapped() = %#x, want %#x", got, tt.wantMapped)
			}
			checkMirror(t, m, f)
		})
	}
}

// TestFindFree checks top-down placement of mappings without a usable hint.
func TestFindFree(t *testing.T) {
	const T = 0x20000000 // a low mmap top keeps the layouts readable
	type r = mm.Range
	tests := []struct {
		name     string
		top      uint64
		vmas     []r
		reserved []r
		length   uint64
		want     uint64
		wantErr  unix.Errno
	}{
		{name: "empty", length: 2 * P, want: T - 2*P},
		{name: "below a mapping at the top", vmas: []r{{T - 2*P, T}}, length: P, want: T - 3*P},
		{name: "skips a gap that is too small",
			vmas: []r{{T - P, T}, {T - 3*P, T - 2*P}}, length: 2 * P, want: T - 5*P},
		{name: "takes a gap that fits exactly",
			vmas: []r{{T - P, T}, {T - 4*P, T - 3*P}}, length: 2 * P, want: T - 3*P},
		{name: "takes the highest gap that fits",
			vmas: []r{{T - P, T}, {T - 5*P, T - 4*P}, {T - 9*P, T - 8*P}}, length: 2 * P, want: T - 3*P},
		{name: "mappings above the top do not count",
			vmas: []r{{T, T + P}, {T + 2*P, T + 4*P}}, length: P, want: T - P},
		{name: "a mapping straddling the top",
			vmas: []r{{T - P, T + P}}, length: P, want: T - 2*P},
		{name: "reserved at the top", reserved: []r{{T - 4*P, T}}, length: P, want: T - 5*P},
		// A reserved range nested in another must not open a gap inside it.
		{name: "nested reserved ranges",
			reserved: []r{{T - 8*P, T - P}, {T - 4*P, T - 3*P}}, length: 2 * P, want: T - 10*P},
		{name: "overlapping reserved ranges",
			reserved: []r{{T - 8*P, T - 3*P}, {T - 5*P, T - 2*P}}, length: 3 * P, want: T - 11*P},
		{name: "only the bottom is free", top: mm.MinAddr + 3*P,
			vmas: []r{{mm.MinAddr + P, mm.MinAddr + 3*P}}, length: P, want: mm.MinAddr},
		{name: "nothing fits", top: mm.MinAddr + 3*P,
			vmas: []r{{mm.MinAddr + P, mm.MinAddr + 2*P}}, length: 2 * P, wantErr: unix.ENOMEM},
		{name: "longer than the area", top: mm.MinAddr + 3*P, length: 4 * P, wantErr: unix.ENOMEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.top == 0 {
				tt.top = T
			}
			f := newFakeMapper()
			m := mm.New(f, tt.reserved, tt.top)
			for _, v := range tt.vmas {
				mustMmap(t, m, mm.MapRequest{Addr: v.Start, Length: v.End - v.Start, Prot: rw, Fixed: true})
			}
			got, err := m.Mmap(mm.MapRequest{Length: tt.length, Prot: rw})
			wantErrno(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Errorf("Mmap = %#x, want %#x", got, tt.want)
			}
			for _, res := range tt.reserved {
				if err == nil && got < res.End && got+tt.length > res.Start {
					t.Errorf("mapping %#x-%#x overlaps reserved %#x-%#x", got, got+tt.length, res.Start, res.End)
				}
			}
			checkMirror(t, m, f)
		})
	}
}

func TestMaps(t *testing.T) {
	m, f := newMM()
	prog := pattern(P, 1)
	mustMmap(t, m, mm.MapRequest{Addr: 0x400000, Length: P, Prot: rx, Fixed: true, File: file(prog),
		Info: mm.FileInfo{Path: "/prog", Dev: unix.Mkdev(8, 1), Ino: 1234}})
	mustMmap(t, m, mm.MapRequest{Addr: 0x401000, Length: P, Prot: rw, Fixed: true, File: file(pattern(3*P, 2)),
		Offset: 2 * P, Info: mm.FileInfo{Path: "/prog", Dev: unix.Mkdev(8, 1), Ino: 1234}})
	m.SetBrkStart(0x403000)
	m.Brk(0x405000)
	mustMmap(t, m, mm.MapRequest{Addr: 0x7f0000000000, Length: 2 * P, Prot: nop, Fixed: true})
	mustMmap(t, m, mm.MapRequest{Addr: 0x7f0000002000, Length: P, Prot: ro, Fixed: true, Shared: true})
	// Device numbers with a minor above 255 use the split encoding.
	mustMmap(t, m, mm.MapRequest{Addr: 0x7f0000004000, Length: P, Prot: ro, Fixed: true, File: file(nil),
		Info: mm.FileInfo{Path: "/data/big file", Dev: unix.Mkdev(0x103, 0x1a5), Ino: 18446744073709551615}})
	mustMmap(t, m, mm.MapRequest{Addr: 0x7ffffffde000, Length: 0x21000, Prot: rw, Fixed: true, Name: "[stack]"})

	// Lines as Linux's show_map_vma writes them: the header ends with a
	// space, and a name, if any, starts in column 73.
	want := []string{
		"00400000-00401000 r-xp 00000000 08:01 1234                               /prog",
		"00401000-00402000 rw-p 00002000 08:01 1234                               /prog",
		"00403000-00405000 rw-p 00000000 00:00 0                                  [heap]",
		"7f0000000000-7f0000002000 ---p 00000000 00:00 0 ",
		"7f0000002000-7f0000003000 r--s 00000000 00:00 0 ",
		"7f0000004000-7f0000005000 r--p 00000000 103:1a5 18446744073709551615     /data/big file",
		"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]",
	}
	got := strings.Split(strings.TrimSuffix(m.Maps(), "\n"), "\n")
	if !strings.HasSuffix(m.Maps(), "\n") {
		t.Error("Maps() does not end with a newline")
	}
	if len(got) != len(want) {
		t.Fatalf("Maps():\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	checkMirror(t, m, f)
}

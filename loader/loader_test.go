package loader

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
)

// fakeMapper accepts every mapping and records guest writes, so the loader
// can be exercised without a platform.
type fakeMapper struct {
	writes int
	last   []byte // the last write (the initial stack, after Load)
}

func (*fakeMapper) Map(addr, length uint64, prot int) error             { return nil }
func (*fakeMapper) MapShared(addr, length uint64, prot int) error       { return nil }
func (*fakeMapper) Unmap(addr, length uint64) error                     { return nil }
func (*fakeMapper) Protect(addr, length uint64, prot int) error         { return nil }
func (*fakeMapper) Remap(oldAddr, oldLen, newAddr, newLen uint64) error { return nil }
func (*fakeMapper) Discard(addr, length uint64) error                   { return nil }
func (*fakeMapper) CopyIn(addr uint64, dst []byte) (int, error)         { return len(dst), nil }
func (f *fakeMapper) CopyOut(addr uint64, src []byte) (int, error) {
	f.writes++
	f.last = append(f.last[:0], src...)
	return len(src), nil
}

type memFile []byte

func (m memFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (m memFile) Size() (int64, error) { return int64(len(m)), nil }
func (m memFile) Info() mm.FileInfo    { return mm.FileInfo{Path: "/prog"} }
func (m memFile) Ref() mm.FileRef      { return nil }
func (m memFile) Close() error         { return nil }

// minimalELF builds a valid static x86-64 executable: one PT_LOAD holding
// the headers and an entry point just after them.
func minimalELF(typ uint16, machine uint16, class byte) []byte {
	le := binary.LittleEndian
	img := make([]byte, 0x200)
	copy(img, []byte{0x7f, 'E', 'L', 'F', class, 1, 1})
	le.PutUint16(img[16:], typ)
	le.PutUint16(img[18:], machine)
	le.PutUint32(img[20:], 1)
	base := uint64(0x400000)
	if typ == 3 {
		base = 0
	}
	le.PutUint64(img[24:], base+0x100) // entry
	le.PutUint64(img[32:], 64)         // phoff
	le.PutUint16(img[52:], 64)
	le.PutUint16(img[54:], 56)
	le.PutUint16(img[56:], 1)
	ph := img[64:]
	le.PutUint32(ph[0:], 1)
	le.PutUint32(ph[4:], 5)
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], 0x200)
	le.PutUint64(ph[40:], 0x3000) // with .bss
	le.PutUint64(ph[48:], 0x1000)
	img[0x100] = 0xcc
	return img
}

func load(img []byte) (Image, error) {
	m := mm.New(&fakeMapper{}, nil, 0x7fe000000000)
	open := func(string) (File, error) { return memFile(img), nil }
	return Load(m, open, "/prog", []string{"prog", "arg"}, []string{"A=b"}, Hardware{}, Layout{})
}

func TestLoadErrors(t *testing.T) {
	valid := minimalELF(2, 62, 2)
	truncated := valid[:100]
	badPhdr := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint64(badPhdr[64+32:], 0x10000) // filesz beyond the file
	for _, tc := range []struct {
		name string
		img  []byte
		want error
	}{
		{"static exec", valid, nil},
		{"static pie", minimalELF(3, 62, 2), nil},
		{"text file", []byte("#!/bin/sh\necho hi\n"), ErrNotELF},
		{"empty", nil, ErrNotELF},
		{"aarch64", minimalELF(2, 183, 2), ErrArch},
		{"32-bit", minimalELF(2, 3, 1), ErrArch},
		{"relocatable", minimalELF(1, 62, 2), ErrNotELF},
		{"truncated", truncated, ErrMalformed},
		{"segment beyond file", badPhdr, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.img)
			if tc.want == nil && err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Load err = %v, want %v", err, tc.want)
			}
			if tc.want != nil && !errors.Is(err, unix.ENOEXEC) {
				t.Fatalf("Load err = %v does not wrap ENOEXEC", err)
			}
		})
	}
}

func TestLoadLayout(t *testing.T) {
	img, err := load(minimalELF(2, 62, 2))
	if err != nil {
		t.Fatal(err)
	}
	if img.Entry != 0x400100 {
		t.Errorf("entry = %#x, want 0x400100", img.Entry)
	}
	if img.BrkStart != 0x403000 {
		t.Errorf("brk start = %#x, want 0x403000 (end of .bss)", img.BrkStart)
	}
	if img.Stack%16 != 0 || img.Stack >= defaultStackTop || img.Stack < defaultStackTop-stackSize {
		t.Errorf("stack pointer %#x not 16-byte aligned inside the stack", img.Stack)
	}
	pie, err := load(minimalELF(3, 62, 2))
	if err != nil {
		t.Fatal(err)
	}
	if pie.Entry != defaultDynBase+0x100 {
		t.Errorf("PIE entry = %#x, want %#x", pie.Entry, uint64(defaultDynBase+0x100))
	}
}

// auxv returns the auxiliary vector of an initial stack as written.
func auxv(stack []byte) [][2]uint64 {
	le := binary.LittleEndian
	word := func(i int) uint64 { return le.Uint64(stack[8*i:]) }
	i := 1 + int(word(0)) + 1 // argc, argv, NULL
	for word(i) != 0 {        // envp
		i++
	}
	var out [][2]uint64
	for i++; ; i += 2 {
		out = append(out, [2]uint64{word(i), word(i + 1)})
		if word(i) == atNull {
			return out
		}
	}
}

// The vDSO's address is AT_SYSINFO_EHDR, the first auxv entry as on
// Linux; without one there is no such entry.
func TestLoadSysInfoEHDR(t *testing.T) {
	for _, tc := range []struct {
		ehdr uint64
		want bool
	}{{0x7fdfffffe000, true}, {0, false}} {
		f := &fakeMapper{}
		m := mm.New(f, nil, 0x7fe000000000)
		open := func(string) (File, error) { return memFile(minimalELF(2, 62, 2)), nil }
		if _, err := Load(m, open, "/prog", []string{"prog"}, nil, Hardware{}, Layout{SysInfoEHDR: tc.ehdr}); err != nil {
			t.Fatal(err)
		}
		aux := auxv(f.last)
		n := 0
		for _, kv := range aux {
			if kv[0] == atSysinfoEHDR {
				n++
			}
		}
		if tc.want && (aux[0] != [2]uint64{atSysinfoEHDR, tc.ehdr} || n != 1) {
			t.Errorf("SysInfoEHDR %#x: auxv %v, want it first and once", tc.ehdr, aux)
		}
		if !tc.want && n != 0 {
			t.Errorf("no vDSO: auxv %v has AT_SYSINFO_EHDR", aux)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to the loader: it must return an error or
// an image, never panic or hang.
func FuzzLoad(f *testing.F) {
	f.Add(minimalELF(2, 62, 2))
	f.Add(minimalELF(3, 62, 2))
	f.Add(minimalELF(2, 183, 2))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = load(data)
	})
}

// countedFile is a program file with a reference count, as the sandbox's
// open files have: the opener's reference plus one per address space that
// maps it.
type countedFile struct {
	memFile
	refs int
}

func (c *countedFile) Ref() mm.FileRef { return c }
func (c *countedFile) IncRef()         { c.refs++ }
func (c *countedFile) DecRef() error   { c.refs--; return nil }
func (c *countedFile) Close() error    { return c.DecRef() }

// withInterp returns a copy of a minimalELF image with a PT_INTERP naming
// path.
func withInterp(img []byte, path string) []byte {
	le := binary.LittleEndian
	out := append([]byte(nil), img...)
	le.PutUint16(out[56:], 2)
	ph := out[64+56:]
	le.PutUint32(ph[0:], 3) // PT_INTERP
	le.PutUint32(ph[4:], 4)
	le.PutUint64(ph[8:], 0x180)
	le.PutUint64(ph[16:], 0x400180)
	le.PutUint64(ph[32:], uint64(len(path)+1))
	le.PutUint64(ph[40:], uint64(len(path)+1))
	copy(out[0x180:], path+"\x00")
	return out
}

// Load closes every file it opened, whatever the outcome; what stays open
// is what the new address space maps, until it is released. (A leak here
// cost two host fds per execve, ENOEXEC included.)
func TestLoadClosesItsFiles(t *testing.T) {
	exe := minimalELF(2, 62, 2)
	interp := minimalELF(3, 62, 2)
	for _, tc := range []struct {
		name     string
		files    map[string][]byte // what open finds
		wantErr  bool
		wantHeld int // files the address space keeps open after Load
	}{
		{"static", map[string][]byte{"/prog": exe}, false, 1},
		{"with interpreter", map[string][]byte{"/prog": withInterp(exe, "/ld.so"), "/ld.so": interp}, false, 2},
		{"not ELF (ENOEXEC)", map[string][]byte{"/prog": []byte("just text\n")}, true, 0},
		{"missing interpreter", map[string][]byte{"/prog": withInterp(exe, "/ld.so")}, true, 1},
		{"interpreter not ELF", map[string][]byte{"/prog": withInterp(exe, "/ld.so"), "/ld.so": []byte("text")}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opened []*countedFile
			open := func(p string) (File, error) {
				data, ok := tc.files[p]
				if !ok {
					return nil, unix.ENOENT
				}
				f := &countedFile{memFile: memFile(data), refs: 1}
				opened = append(opened, f)
				return f, nil
			}
			m := mm.New(&fakeMapper{}, nil, 0x7fe000000000)
			_, err := Load(m, open, "/prog", []string{"prog"}, nil, Hardware{}, Layout{})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Load: %v, want error %v", err, tc.wantErr)
			}
			held := 0
			for _, f := range opened {
				if f.refs < 0 || f.refs > 1 {
					t.Fatalf("file with %d references after Load", f.refs)
				}
				held += f.refs
			}
			if held != tc.wantHeld || m.HeldFiles() != tc.wantHeld {
				t.Errorf("after Load %d files open (%d held by the address space), want %d", held, m.HeldFiles(), tc.wantHeld)
			}
			m.Release()
			for _, f := range opened {
				if f.refs != 0 {
					t.Errorf("a file still has %d references after the address space was released", f.refs)
				}
			}
		})
	}
}
